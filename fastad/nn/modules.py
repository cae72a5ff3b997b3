"""fastad.nn modules: Module, Parameter, Linear, containers, and one Module per
activation and loss of fastad.nn.functional (generated from two tables)."""
import math
from collections import OrderedDict
from types import MappingProxyType
from typing import Any, TypeVar

from fastad._tensor import (Tensor, bfloat16, empty, empty_like, float16, float32, float64,
                            no_grad)
from fastad._tensor import dtype as _dtype
from fastad._tensor import linear as _linear
from fastad.nn import functional as F
from fastad.nn import _hooks, _state, init
from fastad import opdefs as _opdefs


__all__ = ["Parameter", "Module", "Linear", "Sequential", "ModuleList", "PReLU", "RReLU",
           "Identity", "Flatten"]


class Parameter(Tensor):
    """A tensor that a Module registers as a learnable parameter."""

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = empty(0)
        return Tensor._make_subclass(cls, data, requires_grad)

    def __init__(self, data=None, requires_grad=True):
        pass  # the storage was taken in __new__

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __reduce__(self):
        return (Parameter, (self.detach(), self.requires_grad))


_NO_HOOKS = MappingProxyType({})


class Module:
    """Base class of all modules: attributes that are Parameters or Modules are
    registered, as in PyTorch."""
    training = True
    dump_patches = False
    call_super_init = False
    # a module's own hook tables are made when a first hook is registered
    _forward_pre_hooks = _forward_hooks = _backward_hooks = _backward_pre_hooks = _NO_HOOKS
    _state_dict_hooks = _state_dict_pre_hooks = _NO_HOOKS
    _load_state_dict_pre_hooks = _load_state_dict_post_hooks = _NO_HOOKS
    # True once a full backward hook is registered, False once a legacy one is
    _is_full_backward_hook = None

    def __init__(self, *args, **kwargs):
        if not self.call_super_init and kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got an unexpected keyword argument "
                            f"'{next(iter(kwargs))}'")
        if not self.call_super_init and args:
            raise TypeError(f"{type(self).__name__}.__init__() takes 1 positional argument but "
                            f"{len(args) + 1} were given")
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        if self.call_super_init:
            super().__init__(*args, **kwargs)

    def __setattr__(self, name, value):
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError("cannot assign to a Module before Module.__init__() call")
        params, modules, buffers = d["_parameters"], d["_modules"], d["_buffers"]
        if isinstance(value, Parameter):
            d.pop(name, None)
            modules.pop(name, None)
            buffers.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            d.pop(name, None)
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                "(fastad.nn.Parameter or None expected)")
            params[name] = None
        elif name in buffers:
            buffers[name] = value
        elif name in modules and value is None:
            modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            if table in d and name in d[table]:
                return d[table][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for table in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(table, {}):
                del self.__dict__[table][name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                            "(fastad.nn.Parameter or None required)")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        self._buffers[name] = tensor
        if persistent:
            self.__dict__.get("_non_persistent_buffers_set", set()).discard(name)
        else:
            if "_non_persistent_buffers_set" not in self.__dict__:
                object.__setattr__(self, "_non_persistent_buffers_set", set())
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._modules[name] = module

    register_module = add_module

    def forward(self, *input):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  '"forward" function')

    def __call__(self, *args, **kwargs):
        if _hooks.hooked(self):
            return _hooks.call(self, args, kwargs)
        return self.forward(*args, **kwargs)

    # ---- hooks (fastad/nn/_hooks.py runs them)
    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        return _hooks.register(self, "_forward_pre_hooks", hook, prepend,
                               ("_forward_pre_hooks_with_kwargs",) if with_kwargs else ())

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False, always_call=False):
        flags = (("_forward_hooks_with_kwargs",) if with_kwargs else ()) + (
            ("_forward_hooks_always_called",) if always_call else ())
        return _hooks.register(self, "_forward_hooks", hook, prepend, flags)

    def register_full_backward_hook(self, hook, prepend=False):
        _hooks.backward_kind(self, full=True)
        return _hooks.register(self, "_backward_hooks", hook, prepend)

    def register_backward_hook(self, hook):
        """Deprecated in PyTorch for :meth:`register_full_backward_hook`.
        fastad runs it at the module's inputs as a full backward hook does,
        with None (not zeros) for inputs that need no gradient; see
        fastad/nn/_hooks.py for where that differs from PyTorch's hook on the
        output's last autograd node."""
        _hooks.backward_kind(self, full=False)
        return _hooks.register(self, "_backward_hooks", hook)

    def register_full_backward_pre_hook(self, hook, prepend=False):
        return _hooks.register(self, "_backward_pre_hooks", hook, prepend)

    # ---- traversal
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        memo = set() if memo is None else memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, prefix + ("." if prefix else "") + name,
                                           remove_duplicate)

    def modules(self, remove_duplicate=True):
        for _, m in self.named_modules(remove_duplicate=remove_duplicate):
            yield m

    def named_children(self):
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, table, prefix, recurse, remove_duplicate):
        """(dotted name, tensor) of every module's table (_parameters or
        _buffers), each tensor once unless remove_duplicate is False."""
        seen = set()
        mods = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse
                else [(prefix, self)])
        for mprefix, m in mods:
            for name, t in m.__dict__[table].items():
                if t is None or id(t) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(t))
                yield mprefix + ("." if mprefix else "") + name, t

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn):
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def get_submodule(self, target):
        """The submodule at the dotted path target ("" is the module itself)."""
        if target == "":
            return self
        mod = self
        for item in target.split("."):
            if not hasattr(mod, item):
                raise AttributeError(f"{type(mod).__name__} has no attribute `{item}`")
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return mod

    def set_submodule(self, target, module, strict=False):
        """Put module at the dotted path target, whose parent must exist (with
        strict, target itself must exist too)."""
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        parent_path, _, name = target.rpartition(".")
        if not isinstance(module, Module):
            raise ValueError(f"`module` is not an nn.Module, found {type(module)}")
        parent = self.get_submodule(parent_path)
        if strict and not hasattr(parent, name):
            raise AttributeError(f"{type(parent).__name__} has no attribute `{name}`")
        if hasattr(parent, name) and not isinstance(getattr(parent, name), Module):
            raise AttributeError(f"`{name}` is not an nn.Module")
        setattr(parent, name, module)

    def get_parameter(self, target):
        """The Parameter at the dotted path target."""
        mod, name = self._owner_of(target)
        if not isinstance(getattr(mod, name), Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return getattr(mod, name)

    def get_buffer(self, target):
        """The buffer at the dotted path target."""
        mod, name = self._owner_of(target)
        if name not in mod._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return getattr(mod, name)

    def _owner_of(self, target):
        """(module, attribute name) of the dotted path target, which must exist."""
        path, _, name = target.rpartition(".")
        mod = self.get_submodule(path)
        if not hasattr(mod, name):
            raise AttributeError(f"{type(mod).__name__} has no attribute `{name}`")
        return mod, name

    # ---- modes and gradients
    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def compile(self, *args, **kwargs):
        """torch.nn.Module.compile: this module's calls compiled in place, with
        fastad.compile's arguments (which today runs them eagerly)."""
        from fastad._compile import compile as _compile
        _compile(self.forward, *args, **kwargs)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()

    # ---- devices and dtypes: every parameter (in place, so optimisers keep
    # theirs), its gradient and every buffer converted by one function
    def _apply(self, fn, recurse=True):
        if recurse:
            for m in self.children():
                m._apply(fn)
        for p in self._parameters.values():
            if p is None:
                continue
            with no_grad():
                new = fn(p)
                grad = None if p.grad is None else fn(p.grad)
            p.data = new
            if grad is not None:
                p.grad.data = grad
        for name, b in self._buffers.items():
            if b is not None:
                self._buffers[name] = fn(b)
        return self

    def to(self, *args, **kwargs):
        """to(device=None, dtype=None, non_blocking=False), to(dtype,
        non_blocking=False), to(tensor, non_blocking=False): the floating
        parameters and buffers cast to dtype (others keep theirs); fastad has
        the CPU only, any other device raises what Tensor.to raises."""
        device, dtype, non_blocking = _to_args(*args, **kwargs)
        if dtype is not None:
            if not dtype.is_floating_point:
                raise TypeError("nn.Module.to only accepts floating point or complex dtypes, "
                                f"but got desired dtype={dtype}")
            self._check_grad_dtype(dtype)
        return self._apply(lambda t: t.to(device=device, non_blocking=non_blocking,
                                          dtype=dtype if t.is_floating_point() else None))

    def _check_grad_dtype(self, dtype):
        """Refuse, before anything is converted, a dtype that is not floating
        when parameters require gradients (PyTorch's error)."""
        names = [n for n, p in self.named_parameters() if p.requires_grad]
        if not names:
            return
        if not dtype.is_floating_point:     # PyTorch's error, raised there at the first one
            raise RuntimeError("data set to a tensor that requires gradients must be floating "
                               "point or complex dtype")

    def type(self, dst_type):
        """Every parameter and buffer (floating or not) cast to dst_type, a
        dtype or a legacy type name ('torch.DoubleTensor')."""
        self._check_grad_dtype(empty(0).type(dst_type).dtype)
        return self._apply(lambda t: t.type(dst_type))

    def float(self):
        return self.to(float32)

    def double(self):
        return self.to(float64)

    def half(self):
        """The floating parameters and buffers cast to float16 (its ops compute
        in float32 and round once, as PyTorch's CPU half kernels)."""
        return self.to(float16)

    def bfloat16(self):
        """As Tensor.to(fastad.bfloat16): fastad has no bfloat16 storage, so a
        module with floating parameters or buffers raises TypeError."""
        return self.to(bfloat16)

    def cpu(self):
        return self._apply(lambda t: t.cpu())

    def cuda(self, device=None):
        """As Tensor.cuda: fastad runs on the CPU only, so a module with
        parameters or buffers raises PyTorch's CPU-build error."""
        return self._apply(lambda t: t.cuda(device))

    def ipu(self, device=None):
        """As Tensor.to('ipu'): raises for a module with parameters or buffers."""
        return self._apply(lambda t: t.to("ipu"))

    def xpu(self, device=None):
        """As Tensor.to('xpu'): raises for a module with parameters or buffers."""
        return self._apply(lambda t: t.to("xpu"))

    def mtia(self, device=None):
        """As Tensor.to('mtia'): raises for a module with parameters or buffers."""
        return self._apply(lambda t: t.to("mtia"))

    def to_empty(self, *, device, recurse=True):
        """Parameters and buffers replaced by uninitialised ones of the same
        shape and dtype on device (the CPU)."""
        return self._apply(lambda t: empty_like(t, device=device), recurse=recurse)

    def share_memory(self):
        """``Tensor.share_memory_()`` on every parameter and buffer (fastad's
        memory stays where it is)."""
        return self._apply(lambda t: t.share_memory_())

    # ---- state (fastad/nn/_state.py)
    T_destination = TypeVar("T_destination", bound=dict[str, Any])
    _version = 1     # each module's entry in a state_dict's _metadata
    state_dict = _state.state_dict
    _save_to_state_dict = _state._save_to_state_dict
    load_state_dict = _state.load_state_dict
    _load_from_state_dict = _state._load_from_state_dict
    get_extra_state = _state.get_extra_state
    set_extra_state = _state.set_extra_state

    def register_state_dict_pre_hook(self, hook):
        """hook(module, prefix, keep_vars) -> None, run before this module's
        entries are added to a state_dict."""
        return _hooks.register(self, "_state_dict_pre_hooks", hook)

    def register_state_dict_post_hook(self, hook):
        """hook(module, state_dict, prefix, local_metadata) -> None, run after
        this module's subtree is in the state_dict (which it may change in place)."""
        return _hooks.register(self, "_state_dict_hooks", hook)

    def register_load_state_dict_pre_hook(self, hook):
        """hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs) -> None, run before this module's own
        entries are loaded (``strict`` is always True there: the keys are
        collected either way, as in PyTorch)."""
        return _hooks.register(self, "_load_state_dict_pre_hooks", hook)

    def register_load_state_dict_post_hook(self, hook):
        """hook(module, incompatible_keys) -> None, run after this module's
        subtree is loaded; it may change the key lists in place, which
        ``strict`` then judges."""
        return _hooks.register(self, "_load_state_dict_post_hooks", hook)

    # ---- printing
    def extra_repr(self):
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        lines = extra_lines + [f"({name}): " + repr(m).replace("\n", "\n  ")
                               for name, m in self._modules.items()]
        if len(extra_lines) == 1 and not self._modules:      # the one-liner of most modules
            return f"{type(self).__name__}({extra})"
        if not lines:
            return f"{type(self).__name__}()"
        return type(self).__name__ + "(\n  " + "\n  ".join(lines) + "\n)"


def _to_args(*args, **kwargs):
    """(device, dtype, non_blocking) from Module.to's three forms."""
    if args and isinstance(args[0], Tensor):
        return _to_form(args[0].device, args[0].dtype, *args[1:], **kwargs)
    if args and isinstance(args[0], _dtype):
        return _to_form(None, *args, **kwargs)
    return _to_form(*args, **kwargs)


def _to_form(device=None, dtype=None, non_blocking=False, copy=False, *, memory_format=None):
    return device, dtype, non_blocking


def _non_defaults(module, defaults):
    """", name=value" for each (name, default) whose value module has changed, as
    PyTorch's extra_repr prints options (None and bools compared by identity; a
    missing attribute counts as its default)."""
    out = ""
    for name, default in defaults:
        value = getattr(module, name, default)
        if (value is not default if default is None or isinstance(default, bool)
                else value != default):
            out += f", {name}={value}"
    return out


def _weight_and_bias(module, weight_shape, bias_shape, bias, dtype):
    """module.weight, then module.bias (or a None "bias" without bias), uninitialised:
    the parameters of Linear, Bilinear, the convolutions and the affine norms, in
    PyTorch's registration order (so reset_parameters draws in PyTorch's order)."""
    module.weight = Parameter(empty(weight_shape, dtype=dtype))
    if bias:
        module.bias = Parameter(empty(bias_shape, dtype=dtype))
    else:
        module.register_parameter("bias", None)


class Linear(Module):
    """y = x W^T + b, initialised as PyTorch does."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        _weight_and_bias(self, (out_features, in_features), out_features, bias, dtype)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class _Registry(Module):
    """A container's entries: one of its registries (_registry), filled by _put."""
    _registry = "_modules"

    def _entries(self):
        return self.__dict__[self._registry]

    def _put(self, name, value):
        self.add_module(name, value)


class _Container(_Registry):
    """What Sequential, ModuleList and ParameterList share: the entries in
    order, named by their index."""

    def __len__(self):
        return len(self._entries())

    def __iter__(self):
        return iter(self._entries().values())

    def __getitem__(self, idx):
        values = list(self._entries().values())
        return type(self)(values[idx]) if isinstance(idx, slice) else values[idx]

    def __setitem__(self, idx, value):
        self._put(list(self._entries())[idx], value)

    def append(self, value):
        self._put(str(len(self)), value)
        return self

    def extend(self, values):
        for v in values:
            self.append(v)
        return self


class Sequential(_Container):
    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, m in args[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), m)

    def forward(self, input):
        linear = None          # a Linear held back for the module after it
        for m in self._modules.values():
            if linear is not None:
                fused = _linear_then(linear, m, input)
                linear, input = None, (linear(input) if fused is None else fused)
                if fused is not None:
                    continue
            if type(m) is Linear and "forward" not in m.__dict__ and not _hooks.hooked(m):
                linear = m
            else:
                input = m(input)
        return input if linear is None else linear(input)

    def __getitem__(self, idx):
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            return Sequential(*mods[idx])
        return mods[idx]


class ModuleList(_Container):
    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)


# ---------------------------------------------------------------- generated modules
def _module(name, fn, params, doc, show=True):
    """A Module class whose forward is fn(input, *its hyper-parameters)."""
    names = [p for p, _ in params]
    # a loss's legacy size_average/reduce decide its reduction once, at
    # construction, as PyTorch's _Loss does; only the reduction is kept
    kept = [p for p in names if p not in ("size_average", "reduce")]

    def __init__(self, *args, **kwargs):
        Module.__init__(self)
        values = dict(params)
        if len(args) > len(names):
            raise TypeError(f"{name}.__init__() takes from 1 to {len(names) + 1} positional "
                            f"arguments but {len(args) + 1} were given")
        for p, v in zip(names, args):
            values[p] = v
        for k, v in kwargs.items():
            if k not in values:
                raise TypeError(f"{name}.__init__() got an unexpected keyword argument '{k}'")
            values[k] = v
        if values.get("size_average") is not None or values.get("reduce") is not None:
            values["reduction"] = F._reduction(values["size_average"], values["reduce"], "mean")
        for p in kept:
            object.__setattr__(self, p, values[p])

    def forward(self, input, *more):
        return fn(input, *more, **{p: getattr(self, p) for p in kept})

    def extra_repr(self):
        # as PyTorch prints them: every hyper-parameter, inplace only when set; losses: nothing
        if not show:
            return ""
        return ", ".join(f"{p}={getattr(self, p)!r}" if isinstance(getattr(self, p), str)
                         else f"{p}={getattr(self, p)}" for p in kept
                         if p != "inplace" or getattr(self, p))
    return type(name, (Module,), {"__init__": __init__, "forward": forward,
                                  "extra_repr": extra_repr, "__doc__": doc,
                                  "_hyper_parameters": tuple(names)})


def _variants(table):
    """Module classes from name -> (base, functional): PyTorch's 1d/2d/... (and
    alpha) variants of one module, which differ only in the functional that the
    base's forward calls (its _fn)."""
    return {name: type(name, (base,), {"_fn": staticmethod(fn), "__module__": base.__module__})
            for name, (base, fn) in table.items()}


# Module name -> (functional, hyper-parameters with PyTorch's defaults, in order):
# the elementwise activations' rows of the op table, then the row ops.
_ACTIVATION_MODULES = {op.module: (getattr(F, op.name), op.module_params)
                       for op in _opdefs.UNARY if op.module}
_ACTIVATION_MODULES.update({
    "RReLU": (None, (("lower", 1.0 / 8), ("upper", 1.0 / 3), ("inplace", False))),
    "Softmax": (F.softmax, (("dim", None),)),
    "LogSoftmax": (F.log_softmax, (("dim", None),)),
})

_LEGACY = (("size_average", None), ("reduce", None), ("reduction", "mean"))
_LOSS_MODULES = {
    "MSELoss": (F.mse_loss, _LEGACY),
    "L1Loss": (F.l1_loss, _LEGACY),
    "SmoothL1Loss": (F.smooth_l1_loss, _LEGACY + (("beta", 1.0),)),
    "HuberLoss": (F.huber_loss, (("reduction", "mean"), ("delta", 1.0))),
    "CrossEntropyLoss": (F.cross_entropy, (("weight", None), ("size_average", None),
                                           ("ignore_index", -100), ("reduce", None),
                                           ("reduction", "mean"), ("label_smoothing", 0.0))),
    "NLLLoss": (F.nll_loss, (("weight", None), ("size_average", None), ("ignore_index", -100),
                             ("reduce", None), ("reduction", "mean"))),
    "BCELoss": (F.binary_cross_entropy, (("weight", None),) + _LEGACY),
    "BCEWithLogitsLoss": (F.binary_cross_entropy_with_logits,
                          (("weight", None),) + _LEGACY + (("pos_weight", None),)),
    "KLDivLoss": (F.kl_div, _LEGACY + (("log_target", False),)),
}



def _weighted(cls):
    """cls with its class weights (weight, pos_weight) registered as buffers, as
    PyTorch's _WeightedLoss and BCEWithLogitsLoss do (so they are in the
    state_dict and follow .to())."""
    weights = [p for p in ("weight", "pos_weight") if p in cls._hyper_parameters]
    if not weights:
        return cls

    def __init__(self, *args, **kwargs):
        cls.__init__(self, *args, **kwargs)
        for p in weights:
            self.register_buffer(p, self.__dict__.pop(p))
    return type(cls.__name__, (cls,), {"__init__": __init__, "__doc__": cls.__doc__})


for _name, (_fn, _params) in {**_ACTIVATION_MODULES, **_LOSS_MODULES}.items():
    if _fn is not None:
        globals()[_name] = _weighted(_module(_name, _fn, _params,
                                             f"Module form of {_fn.__name__}.",
                                             show=_name not in _LOSS_MODULES))
        __all__.append(_name)


class RReLU(_module("RReLU", None, _ACTIVATION_MODULES["RReLU"][1], "")):
    """Randomized leaky ReLU: random slopes in training mode, their mean in eval mode."""

    def forward(self, input):
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)


class PReLU(Module):
    """Leaky ReLU with a learnable slope (one, or one per channel)."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(empty(num_parameters, dtype=dtype).fill_(init))

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class Identity(Module):
    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Flatten(Module):
    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


# Activations that nn.Sequential runs fused into the Linear before them: one node
# whose activation works in place (fastad._tensor.linear; the values and
# gradients are the unfused ones).  Only kernels whose backward reads their output.
# Module class -> (kernel name, its parameter names, the row's checks compiled)
_FUSED_AFTER_LINEAR = {
    globals()[op.module]: (op.name, op.param_names,
                           tuple(compile(cond, op.name, "eval") for cond, _, _ in op.checks))
    for op in _opdefs.UNARY if op.fuse}


def _fusion(m):
    """(kernel name, a, b) for m fused after a Linear, or None (m's own forward
    must run: a subclass's, an instance override's, one with hooks, or one whose
    arguments its checks refuse)."""
    spec = _FUSED_AFTER_LINEAR.get(type(m))
    if spec is None or "forward" in m.__dict__ or _hooks.hooked(m):
        return None
    name, params, checks = spec
    values = {p: getattr(m, p) for p in params}
    if any(eval(c, {}, values) for c in checks):
        return None
    args = tuple(float(values[p]) for p in params)
    return (name,) + args + (0.0,) * (2 - len(args))


def _linear_then(linear, m, input):
    """m(linear(input)) as one fused node, or None where that is not possible."""
    spec = _fusion(m)
    operands = None if spec is None else F._linear_operands(input, linear.weight, linear.bias)
    if operands is None:
        return None
    return _linear(*operands, *spec)
