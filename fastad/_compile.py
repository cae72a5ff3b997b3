"""fastad.compile and Module.compile with torch.compile's signature and checks,
so that programs written for PyTorch 2 run unchanged.

What it does today: the function (or module) runs eagerly, as torch.compile's
"eager" backend runs it; the arguments are checked as PyTorch checks them, and
a module comes back wrapped as PyTorch wraps it (its state_dict keys start
with ``_orig_mod.``).  Tracing a step once and replaying it in C is issue 19's
work, not built yet."""
import functools

from fastad.nn.modules import Module

__all__ = ["compile"]

_MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")
# torch._dynamo.list_backends() and its debug backends
_BACKENDS = ("inductor", "cudagraphs", "openxla", "tvm", "eager", "aot_eager",
             "aot_eager_decomp_partition")


class InvalidBackend(RuntimeError):
    """torch._dynamo.exc.InvalidBackend."""


def _check(model, mode, options, backend):
    if model is not None and not callable(model):
        raise AssertionError(f"A callable function is expected, but {type(model)} is provided.")
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be specified "
                           "at the same time.")
    if mode is not None and mode not in _MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: {', '.join(_MODES)}")
    if isinstance(backend, str) and backend not in _BACKENDS:
        raise InvalidBackend(f"Invalid backend: '{backend}', see `torch._dynamo.list_backends()` "
                             "for available backends.")
    if backend is not None and not isinstance(backend, str) and not callable(backend):
        raise InvalidBackend(f"Invalid backend: {backend!r}")


class OptimizedModule(Module):
    """What compile(module) returns, as PyTorch's: the module as its
    submodule ``_orig_mod``, called through."""

    def __init__(self, mod):
        super().__init__()
        self._orig_mod = mod

    def forward(self, *args, **kwargs):
        return self._orig_mod(*args, **kwargs)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["_orig_mod"], name)

    @property
    def training(self):
        return self._modules["_orig_mod"].training if "_orig_mod" in self._modules else True

    @training.setter
    def training(self, value):
        if "_orig_mod" in self.__dict__.get("_modules", {}):
            self._modules["_orig_mod"].training = value


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None,
            options=None, name=None, disable=False, recompile_limit=None,
            isolate_recompiles=False, shapes_spec=None):
    """torch.compile: returns model (a function or a Module) ready to call; used
    as @compile or @compile(...) too.  See the module's docstring for what
    runs."""
    _check(model, mode, options, backend)
    if model is None:
        return functools.partial(compile, fullgraph=fullgraph, dynamic=dynamic, backend=backend,
                                 mode=mode, options=options, name=name, disable=disable,
                                 recompile_limit=recompile_limit,
                                 isolate_recompiles=isolate_recompiles, shapes_spec=shapes_spec)
    if isinstance(model, Module):
        return OptimizedModule(model)

    @functools.wraps(model)
    def compiled(*args, **kwargs):
        return model(*args, **kwargs)
    return compiled
