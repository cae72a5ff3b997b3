"""fastad.compile and Module.compile: torch.compile's signature and checks; a
function's first call is traced, later calls replay the trace.

What is traced.  The first call of a compiled function runs eagerly and
records, in order, each call it makes to the entry points the tracer follows:
the arithmetic operators (+ - * / ** and their reflected forms, with tensors
or Python numbers), the op table's elementwise ops (``x.tanh()``,
``fastad.exp(x)``, ``-x``, ``abs(x)``, ...), indexing (``x[0]``), the in-place
operators (``x -= y``, under ``no_grad`` or not), ``loss.backward()`` (without
``create_graph`` or ``inputs``), an optimizer's ``zero_grad()`` and
``step()`` and an LR scheduler's ``step()`` (called as the call calls them).  Each records its operands: a tensor by its slot (an argument, a
tensor the function reads from its closure or globals, or an earlier step's
result), anything else as a constant baked into the plan, as jax.jit bakes
closure constants; and the grad mode it ran in.  A later call with the same
guards replays the plan: the same entry points on this call's tensors, in the
same order, without the function's Python between them, except that each run
of two or more ops on 0-d tensors (and numbers) runs as one scalar block
(fastad._tensor's _Block): in C, with the operators' own formulas, pushing the
records the ops would push, and making tensors only of the results read after
the run or returned.  The values, the tape, ``.grad``, the parameters and the
optimizer's state are those the eager call leaves, bit for bit, because the
same code computes them.  The step() of SGD, Adam and AdamW replays as their
update kernels on the arrays (fastad._tensor's _OptimizerStep), or as eager's
step where that would differ; Optimizer.zero_grad() as the grads let go of
(_ZeroGrad).  docs/compile.rst says it for users.

Guards.  A plan is kept per key: the grad mode, default dtype and debug modes;
and for each argument and each value the function's code (or that of a helper
function defined beside it, sharing its globals) names from its closure and
globals, lists, tuples and string-keyed dicts walked: a tensor's shape, dtype,
requires_grad, type, whether it is a leaf and whether it is an earlier tensor
(aliasing), and for a captured tensor its identity; a Python number's type and
value (a float's bits); any other object's identity.  The key of the plan that
ran last is checked in place first (fastad._tensor._call).  Another key traces
again, up to ``recompile_limit`` (8, torch's default) plans per function; past
it, calls run eagerly with a warning once.

Fallback.  Anything the tracer does not follow ends the trace where it
happens, and the rest of that call runs eagerly, as will later calls with its
key (a warning once per function; ``fullgraph=True`` raises Unsupported when
the call returns): an exit to Python (``item()``, ``float()``, ``bool()``,
``tolist()``, ``numpy()``, printing a tensor), a tensor made or written in
place by an op it does not follow, reading or setting ``.grad`` or ``.data``,
changing ``requires_grad``, a tensor read through something other than the
arguments, the closure and the globals (an object's attribute), a result that
is not the arguments' or the steps' tensors, numbers and containers of them,
and a change of grad mode that outlives the call.  Python side effects of the
function (appending to a list, printing numbers) happen at the traced call
only, as under jax.jit.  A module (``compile(module)``) runs eagerly, wrapped
as PyTorch wraps it (its state_dict keys start with ``_orig_mod.``), and so
does a callable that is not a Python function."""
import functools
import gc
import threading
import types
import warnings

from fastad import _tensor as _T
from fastad._tensor import Tensor
from fastad.nn.modules import Module
from fastad.optim.adam import Adam, AdamW
from fastad.optim.lr_scheduler import LRScheduler
from fastad.optim.optimizer import Optimizer, _runs_bare, _subclasses
from fastad.optim.sgd import SGD

__all__ = ["compile"]

_MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")
# torch._dynamo.list_backends() and its debug backends
_BACKENDS = ("inductor", "cudagraphs", "openxla", "tvm", "eager", "aot_eager",
             "aot_eager_decomp_partition")
_RECOMPILE_LIMIT = 8        # torch._dynamo.config.recompile_limit
_EAGER = object()           # a key whose trace ended early
_TRACING = threading.Lock()  # one trace at a time: the optimizer methods are patched during it
_WRAPPERS = {}              # an optimizer's or scheduler's method -> its traced form (_patch_methods)
_LOWERED_STEPS = (SGD, Adam, AdamW)     # exact types: a subclass may change the update
_ZERO_GRAD = Optimizer.zero_grad


class InvalidBackend(RuntimeError):
    """torch._dynamo.exc.InvalidBackend."""


class Unsupported(RuntimeError):
    """torch._dynamo.exc.Unsupported: fullgraph=True and the trace ended early."""


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


def _traced_method(f):
    """An optimizer's or LR scheduler's method as one traced step (while a trace
    runs); Optimizer.zero_grad() and the step() of SGD, Adam and AdamW, called
    without arguments, as steps of the plan that run in C (_T._ZeroGrad,
    _T._OptimizerStep)."""
    @functools.wraps(f)
    def method(self, *args, **kwargs):
        if not _T._tracing():
            return f(self, *args, **kwargs)
        if f is _ZERO_GRAD and not args and not kwargs:
            return _T._trace_call(_T._ZeroGrad(self, f), "__call__", (), {})
        if f.__name__ == "step" and type(self) in _LOWERED_STEPS and not args and not kwargs:
            lowered = _T._OptimizerStep(self, getattr(f, "__wrapped__", f),
                                        type(self) is not SGD, _runs_bare)
            return _T._trace_call(lowered, "__call__", (), {})
        return _T._trace_call(self, f.__name__, args, kwargs)
    return method


def _patch_methods(objects):
    """The zero_grad and step of the optimizers and the step of the LR schedulers
    among objects (those of the call's environment) made traced steps, in their
    classes (an optimizer reached otherwise runs traced, and meets .grad);
    returns what to restore."""
    saved, done = [], set()
    for obj in objects:
        names = (("zero_grad", "step") if isinstance(obj, Optimizer)
                 else ("step",) if isinstance(obj, LRScheduler) else ())
        for cls in type(obj).__mro__ if names else ():
            for name in names:
                f = cls.__dict__.get(name)
                if f is not None and (cls, name) not in done:
                    done.add((cls, name))
                    saved.append((cls, name, f))
                    if f not in _WRAPPERS:
                        _WRAPPERS[f] = _traced_method(f)
                    setattr(cls, name, _WRAPPERS[f])
    return saved


def _template(out, slots):
    """How to rebuild the call's result from a replay's slots: ("t", slot),
    ("c", constant) or (list/tuple, [templates]); None if it holds something else."""
    if isinstance(out, Tensor):
        i = slots.get(id(out))
        return None if i is None else ("t", i)
    if type(out) in (int, float, bool, str) or out is None:
        return ("c", out)
    if type(out) in (list, tuple):
        parts = [_template(v, slots) for v in out]
        return None if None in parts else (type(out), parts)
    return None


def _slots(tpl):
    """The slots a result template reads."""
    kind, v = tpl
    if kind == "t":
        yield v
    elif kind != "c":
        for part in v:
            yield from _slots(part)


def _renumbered(tpl, slots):
    """A result template with its slots renumbered (slots: old -> new)."""
    kind, v = tpl
    if kind == "t":
        return kind, slots[v]
    if kind == "c":
        return tpl
    return kind, [_renumbered(part, slots) for part in v]


class _Compiled(_T._CompiledCall):
    """A compiled function: its plans by guard key (see the module's docstring).
    A call whose plan exists is _CompiledCall's, in C; this class handles the
    rest (_miss)."""

    def __init__(self, fn, fullgraph, limit):
        self._fn, self._fullgraph = fn, fullgraph
        self._limit = _RECOMPILE_LIMIT if limit is None else limit
        self._plans = {}
        self._last = [None, None]   # [key, plan] of the plan that ran last (_T._call's)
        self._warned = False
        functools.update_wrapper(self, fn)

    def __get__(self, obj, cls=None):
        return self if obj is None else types.MethodType(self, obj)

    def _miss(self, out, args, kwargs):
        """A call with no plan to replay: out is its _T._Miss, or the _T._TooBig
        its guards raised."""
        if isinstance(out, _T._TooBig):
            return self._eager(f"its environment is too big to guard: {out}", args, kwargs)
        if out.entry is _EAGER:
            return self._fn(*args, **kwargs)
        if len(self._plans) >= self._limit:
            return self._eager(f"recompile_limit ({self._limit}) reached", args, kwargs)
        return self._trace(out.key, out.tensors, out.objects, args, kwargs)

    def _eager(self, why, args, kwargs):
        self._warn(why)
        return self._fn(*args, **kwargs)

    def _warn(self, why):
        if not self._warned:
            self._warned = True
            warnings.warn(f"fastad.compile: {self._fn.__qualname__} runs eagerly: {why}",
                          stacklevel=4)

    def _trace(self, key, tensors, objects, args, kwargs):
        if not _TRACING.acquire(blocking=False):
            return self._fn(*args, **kwargs)    # another thread traces: this call runs eagerly
        trace = _T._Trace(tensors)
        collecting = gc.isenabled()
        try:
            saved = _patch_methods(objects)
            # the trace keeps every tensor and step it made: collections would
            # walk them all, again and again (a W1 trace took 11 eager calls)
            gc.disable()
            _T._trace_start(trace)
            try:
                out = self._fn(*args, **kwargs)
            finally:
                _T._trace_stop()
                if collecting:
                    gc.enable()
                for cls, name, f in saved:
                    setattr(cls, name, f)
        finally:
            _TRACING.release()
        why = trace.failed
        tpl = _template(out, trace.slots) if why is None else None
        if why is None and tpl is None:
            why = f"it returns {type(out).__name__} holding something other than its tensors"
        if why is None and _T._trace_state() != key[:3]:
            why = "it changes the grad mode, default dtype or debug mode"
        if why is None:
            steps, slots = _T._plan(trace.steps, len(tensors), set(_slots(tpl)), trace.keep)
            self._plans[key] = self._last[1] = (steps, _renumbered(tpl, slots))
            self._last[0] = key
            return out
        if self._fullgraph:
            raise Unsupported(f"fastad.compile(fullgraph=True): {self._fn.__qualname__}: {why}")
        self._plans[key] = _EAGER
        self._warn(why)
        return out


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None,
            options=None, name=None, disable=False, recompile_limit=None,
            isolate_recompiles=False, shapes_spec=None):
    """torch.compile: returns model (a function or a Module) ready to call; used
    as @compile or @compile(...) too.  See the module's docstring for what is
    traced, guarded and run eagerly."""
    _check(model, mode, options, backend)
    if model is None:
        return functools.partial(compile, fullgraph=fullgraph, dynamic=dynamic, backend=backend,
                                 mode=mode, options=options, name=name, disable=disable,
                                 recompile_limit=recompile_limit,
                                 isolate_recompiles=isolate_recompiles, shapes_spec=shapes_spec)
    if isinstance(model, Module):
        return OptimizedModule(model)
    if disable:
        return model
    if isinstance(model, types.FunctionType):
        return _Compiled(model, fullgraph, recompile_limit)

    @functools.wraps(model)
    def compiled(*args, **kwargs):      # a method, a callable object: run eagerly
        return model(*args, **kwargs)
    return compiled
