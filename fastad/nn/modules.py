"""fastad.nn modules: Module, Parameter, Linear, containers, and one Module per
activation and loss of fastad.nn.functional (generated from two tables)."""
import math
from collections import OrderedDict, namedtuple
from types import MappingProxyType

from fastad._tensor import Tensor, empty, no_grad, tensor
from fastad._tensor import linear as _linear
from fastad.nn import functional as F
from fastad.nn import _hooks, init
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


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What load_state_dict returns, printed as PyTorch prints it."""
    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (f"_IncompatibleKeys(missing_keys={self.missing_keys}, "
                f"unexpected_keys={self.unexpected_keys})")

    __str__ = __repr__


_NO_HOOKS = MappingProxyType({})


class Module:
    """Base class of all modules: attributes that are Parameters or Modules are
    registered, as in PyTorch."""
    training = True
    # a module's own hook tables are made when a first hook is registered
    _forward_pre_hooks = _forward_hooks = _backward_hooks = _backward_pre_hooks = _NO_HOOKS

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

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

    def register_buffer(self, name, tensor_, persistent=True):
        self._buffers[name] = tensor_
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

    def forward(self, *args, **kwargs):
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
        return _hooks.register(self, "_backward_hooks", hook, prepend)

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

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix="", recurse=True):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mprefix, m in mods:
            for name, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield mprefix + ("." if mprefix else "") + name, p

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mprefix, m in mods:
            for name, b in m._buffers.items():
                if b is not None:
                    yield mprefix + ("." if mprefix else "") + name, b

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn):
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

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

    def to(self, *args, **kwargs):
        dtype = kwargs.get("dtype")
        for a in args:
            if not isinstance(a, str):
                dtype = a
        if dtype is not None:
            for p in self.parameters():
                p.data = p.data.to(dtype)
            for m in self.modules():    # floating buffers (running statistics) follow
                for name, b in m._buffers.items():
                    if b is not None and b.is_floating_point():
                        m._buffers[name] = b.to(dtype)
        return self

    def float(self):
        from fastad import float32
        return self.to(float32)

    def double(self):
        from fastad import float64
        return self.to(float64)

    # ---- state
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """Module by module, as PyTorch: each module's parameters, then its
        persistent buffers, then its children's entries."""
        out = OrderedDict() if destination is None else destination
        skip = self.__dict__.get("_non_persistent_buffers_set", ())
        for table in (self._parameters, {k: v for k, v in self._buffers.items() if k not in skip}):
            for name, t in table.items():
                if t is not None:
                    out[prefix + name] = t if keep_vars else t.detach()
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(out, prefix + name + ".", keep_vars)
        return out

    def load_state_dict(self, state_dict, strict=True):
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        for k, target in own.items():
            if k not in state_dict:
                continue
            src = state_dict[k]
            src = src if isinstance(src, Tensor) else tensor(src)
            if tuple(src.shape) != tuple(target.shape):
                errors.append(f"size mismatch for {k}: copying a param with shape {src.shape} from "
                              f"checkpoint, the shape in current model is {target.shape}.")
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        with no_grad():
            for k, target in own.items():
                if k in state_dict:
                    target.copy_(state_dict[k])
        return _IncompatibleKeys(missing, unexpected)

    # ---- printing
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {sub}")
        if not self._modules:
            return f"{type(self).__name__}({extra})"
        return type(self).__name__ + "(\n  " + "\n  ".join(lines) + "\n)"


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

    def __init__(self, *args, **kwargs):
        Module.__init__(self)
        values = dict(params)
        for p, v in zip(names, args):
            values[p] = v
        for k, v in kwargs.items():
            if k not in values:
                raise TypeError(f"{name}.__init__() got an unexpected keyword argument '{k}'")
            values[k] = v
        for p in names:
            object.__setattr__(self, p, values[p])

    def forward(self, input, *more):
        return fn(input, *more, **{p: getattr(self, p) for p in names})

    def extra_repr(self):
        # as PyTorch prints them: every hyper-parameter, inplace only when set; losses: nothing
        if not show:
            return ""
        return ", ".join(f"{p}={getattr(self, p)!r}" if isinstance(getattr(self, p), str)
                         else f"{p}={getattr(self, p)}" for p in names
                         if p != "inplace" or getattr(self, p))
    return type(name, (Module,), {"__init__": __init__, "forward": forward,
                                  "extra_repr": extra_repr, "__doc__": doc})


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

_LOSS_MODULES = {
    "MSELoss": (F.mse_loss, (("reduction", "mean"),)),
    "L1Loss": (F.l1_loss, (("reduction", "mean"),)),
    "SmoothL1Loss": (F.smooth_l1_loss, (("reduction", "mean"), ("beta", 1.0))),
    "HuberLoss": (F.huber_loss, (("reduction", "mean"), ("delta", 1.0))),
    "CrossEntropyLoss": (F.cross_entropy, (("weight", None), ("ignore_index", -100),
                                           ("reduction", "mean"), ("label_smoothing", 0.0))),
    "NLLLoss": (F.nll_loss, (("weight", None), ("ignore_index", -100), ("reduction", "mean"))),
    "BCELoss": (F.binary_cross_entropy, (("weight", None), ("reduction", "mean"))),
    "BCEWithLogitsLoss": (F.binary_cross_entropy_with_logits,
                          (("weight", None), ("reduction", "mean"), ("pos_weight", None))),
    "KLDivLoss": (F.kl_div, (("reduction", "mean"), ("log_target", False))),
}

for _name, (_fn, _params) in {**_ACTIVATION_MODULES, **_LOSS_MODULES}.items():
    if _fn is not None:
        globals()[_name] = _module(_name, _fn, _params, f"Module form of {_fn.__name__}.",
                                   show=_name not in _LOSS_MODULES)
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
