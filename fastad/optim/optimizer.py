"""The Optimizer base class: parameter groups, per-group options, zero_grad,
and state_dict/load_state_dict in torch.optim's layout.

State entries are fastad Tensors shaped like PyTorch's (a 0-d float32 'step',
buffers shaped like the parameter); updates run on their arrays in place
through _Flat views, never through the tape.
"""
import copy
import functools
from collections import OrderedDict, defaultdict
from itertools import chain

import numpy as np

from fastad._tensor import Tensor, _current_profiler, array_of, enable_grad, float32, tensor
from fastad.profiler import record_function
from fastad.utils.hooks import RemovableHandle

__all__ = ["Optimizer", "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook"]

_global_step_pre_hooks = OrderedDict()
_global_step_post_hooks = OrderedDict()


def _register(hooks, hook, prepend=False):
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


def register_optimizer_step_pre_hook(hook):
    """hook(optimizer, args, kwargs) -> None or (new_args, new_kwargs), before
    every optimizer's step."""
    _hook_every_step()
    return _register(_global_step_pre_hooks, hook)


def register_optimizer_step_post_hook(hook):
    """hook(optimizer, args, kwargs) -> None, after every optimizer's step."""
    _hook_every_step()
    return _register(_global_step_post_hooks, hook)


# Steps run bare until a step hook is registered or a profile starts (the
# wrapper costs 3% of a small Adam step); then the optimizer's classes get it,
# and once a global hook was registered, every optimizer class, present and future.
_every_step_hooked = False


def _hook_steps(classes):
    for c in classes:
        step = c.__dict__.get("step")
        if c is not Optimizer and step is not None and not getattr(step, "_hooked", False):
            c.step = _hooked(step)


def _hook_every_step():
    global _every_step_hooked
    _every_step_hooked = True
    _hook_steps(_subclasses(Optimizer))


def _subclasses(cls):
    return [s for c in cls.__subclasses__() for s in [c] + _subclasses(c)]


def _hooked(step):
    """step running the global and the optimizer's step hooks around it, as
    torch.optim's, once per call (a step calling its parent's runs them once)."""
    @functools.wraps(step)
    def wrapper(*args, **kwargs):
        self = args[0]      # the hooks see (self, ...) as args, as torch.optim's
        if self._in_hooked_step:
            return step(*args, **kwargs)
        self._in_hooked_step = True
        try:
            return _run_hooked(self, step, args, kwargs)
        finally:
            self._in_hooked_step = False
    wrapper._hooked = True
    return wrapper


def _runs_bare(opt):
    """Whether opt's hooked step would run only the step: no step hook to run, no profile."""
    return not (_global_step_pre_hooks or _global_step_post_hooks
                or opt._optimizer_step_pre_hooks or opt._optimizer_step_post_hooks
                or _current_profiler() is not None)


def _run_hooked(self, step, args, kwargs):
    for pre_hook in chain(_global_step_pre_hooks.values(),
                          self._optimizer_step_pre_hooks.values()):
        result = pre_hook(self, args, kwargs)
        if result is not None:
            if not (isinstance(result, tuple) and len(result) == 2):
                raise RuntimeError(f"{step} must return None or a tuple of (new_args, "
                                   f"new_kwargs), but got {result}.")
            args, kwargs = result
    if _current_profiler() is None:
        out = step(*args, **kwargs)
    else:       # PyTorch's range around a step, in a profile
        with record_function(f"Optimizer.step#{type(self).__name__}.step"):
            out = step(*args, **kwargs)
    for post_hook in chain(self._optimizer_step_post_hooks.values(),
                           _global_step_post_hooks.values()):
        post_hook(self, args, kwargs)
    return out


class _RequiredParameter:
    """The default of an option every group must give (torch.optim.optimizer.required)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


class _Flat:
    """A tensor's values as a flat writable array: its own buffer, or for a 0-d
    float tensor (kept inline by the engine) a 1-element scratch array that
    write_back() copies into it."""
    __slots__ = ("tensor", "array", "inline", "source")

    def __init__(self, t):
        self.tensor = t
        a = self.source = array_of(t)
        self.inline = a.ndim == 0
        self.array = a.reshape(1).copy() if self.inline else a.reshape(-1)
        if not self.inline and not np.shares_memory(self.array, a):
            raise RuntimeError("fastad.optim: parameters and state must be contiguous tensors")

    def refresh(self):
        if self.inline:
            self.array[0] = self.tensor.item()

    def write_back(self):
        if self.inline:
            self.tensor.data.fill_(float(self.array[0]))


def _to_scalar(x):
    """A Tensor option (torch.optim accepts a 1-element lr Tensor) as a Python number."""
    return x.item() if isinstance(x, Tensor) else x


def _check(what, value, ok):
    if not ok:
        raise ValueError(f"Invalid {what}: {value}")


def _check_lr(lr):
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    _check("learning rate", lr, 0.0 <= _to_scalar(lr))


def _check_betas(betas):
    for i in (0, 1):
        _check(f"beta parameter at index {i}", betas[i], 0.0 <= _to_scalar(betas[i]) < 1.0)


def _check_fused(fused, foreach, differentiable):
    """torch.optim's rules for fused=True (checked after the groups are built)."""
    if fused:
        if differentiable:
            raise RuntimeError("`fused` does not support `differentiable`")
        if foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def _closure(closure):
    if closure is None:
        return None
    with enable_grad():
        return closure()


def _step_tensor(value=0.0):
    """PyTorch keeps 'step' (and ASGD's eta/mu, NAdam's mu_product) as 0-d float32 tensors."""
    return tensor(float(value), dtype=float32)


def _decay_and_moments(group, x, g, s, lr):
    """The Adam family's first half, as torch.optim's single-tensor update:
    weight decay (decoupled: x shrinks; else added to g), then the two moments.
    Returns the gradient the moments saw."""
    beta1, beta2 = group["betas"]
    wd = group["weight_decay"]
    if wd != 0:
        if group["decoupled_weight_decay"]:
            x *= 1 - lr * wd
        else:
            g = g + wd * x
    _lerp_(s["exp_avg"], g, 1 - beta1)
    s["exp_avg_sq"] *= beta2
    s["exp_avg_sq"] += (1 - beta2) * g * g
    return g


def _lerp_(a, b, w):
    """a.lerp_(b, w) with PyTorch's CPU formula (the form depends on w)."""
    w = a.dtype.type(w)
    if w < 0.5:
        a += w * (b - a)
    else:
        a[...] = b - (b - a) * (1 - w)


class Optimizer:
    _in_hooked_step = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if _every_step_hooked:
            _hook_steps([cls])

    def __init__(self, params, defaults):
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        self._optimizer_state_dict_pre_hooks = OrderedDict()
        self._optimizer_state_dict_post_hooks = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks = OrderedDict()
        self._optimizer_load_state_dict_post_hooks = OrderedDict()
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        self._flats = {}
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {params.type()}")
        param_groups = list(params)
        if not param_groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def add_param_group(self, param_group):
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but "
                            "the ordering of tensors in sets will change between runs. Please use "
                            "a list instead.")
        else:
            params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        param_group["params"] = [p[1] if isinstance(p, tuple) else p for p in params]
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
            param_group["param_names"] = names
        for p in param_group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__module__}.{type(p).__name__}")
            if not self.defaults.get("differentiable", None) and not (
                    p.is_leaf or getattr(p, "retains_grad", False)):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required optimization "
                                 f"parameter {name}")
            param_group.setdefault(name, default)
        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {which} to the optimizer")
        if any(id(p) in seen for p in param_group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        if p.grad.requires_grad:
                            p.grad.detach_()
                        p.grad.zero_()

    def step(self, closure=None):
        raise NotImplementedError

    def register_step_pre_hook(self, hook):
        """hook(optimizer, args, kwargs) -> None or (new_args, new_kwargs), before step."""
        _hook_steps(type(self).__mro__)
        return _register(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook):
        """hook(optimizer, args, kwargs) -> None, after step."""
        _hook_steps(type(self).__mro__)
        return _register(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        """hook(optimizer) -> None, before state_dict."""
        return _register(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        """hook(optimizer, state_dict) -> state_dict or None, after state_dict."""
        return _register(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        """hook(optimizer, state_dict) -> state_dict or None, before load_state_dict."""
        return _register(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        """hook(optimizer) -> None, after load_state_dict."""
        return _register(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    def state_dict(self):
        for pre_hook in self._optimizer_state_dict_pre_hooks.values():
            pre_hook(self)
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {(index[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        state_dict = {"state": state, "param_groups": groups}
        for post_hook in self._optimizer_state_dict_post_hooks.values():
            result = post_hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    def load_state_dict(self, state_dict):
        state_dict = state_dict.copy()   # the hooks may change it; the caller's stays
        for pre_hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = pre_hook(self, state_dict)
            if result is not None:
                state_dict = result
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"])
               for g, s in zip(self.param_groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the "
                             "size of optimizer's group")
        id_map = {i: p for s, g in zip(saved_groups, self.param_groups)
                  for i, p in zip(s["params"], g["params"])}
        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                state[id_map[k]] = _cast(id_map[k], v)
            else:
                state[k] = v
        for group, saved in zip(self.param_groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
        self.state = state
        self.param_groups = saved_groups
        self._flats = {}
        for post_hook in self._optimizer_load_state_dict_post_hooks.values():
            post_hook(self)

    def __repr__(self):
        out = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            out += f"\nParameter Group {i}\n"
            for k in sorted(k for k in group if k != "params"):
                out += f"    {k}: {group[k]}\n"
        return out + ")"

    def _flat(self, t):
        """The cached flat view of tensor t (a parameter or a state buffer), rebuilt
        when t's storage changed; refreshed from t when t is 0-d."""
        f = self._flats.get(id(t))
        if f is None or f.tensor is not t or (not f.inline and f.source is not array_of(t)):
            f = self._flats[id(t)] = _Flat(t)
        f.refresh()
        return f

    def _flat_arrays(self, ts):
        """_flat for each of ts, in one pass: their flat arrays, and the _Flats of
        the 0-d ones, to write back after the update."""
        arrays, inline = [], []
        get = self._flats.get
        for t in ts:
            f = get(id(t))
            if f is None or f.tensor is not t or (not f.inline and f.source is not array_of(t)):
                f = self._flats[id(t)] = _Flat(t)
            if f.inline:
                f.refresh()
                inline.append(f)
            arrays.append(f.array)
        return arrays, inline

    def _advance_steps(self, group, items):
        """Counts a step for each parameter of items (creating its state at its
        first); returns (its state, its new count) for each.  'step' becomes a new
        0-d tensor: making one (step + 1) costs a small fraction of writing one in
        place (fill_)."""
        out = []
        for p, _, _ in items:
            st = self.state[p]
            if not st:
                st.update(self._new_state(p, group))
            step = st["step"] = st["step"] + 1
            out.append((st, step.item()))
        return out

    def _with_grads(self, group):
        """(param, flat values, flat grad) for the params of group that have a grad;
        the grad is negated under maximize and must be treated as read-only."""
        out = []
        maximize = group.get("maximize", False)
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            f = self._flat(p)
            ga = np.ascontiguousarray(array_of(g), dtype=f.array.dtype).reshape(-1)
            if maximize:
                ga = -ga
            out.append((p, f, ga))
        return out

    def _check_capturable(self, group):
        if group.get("capturable"):
            # fastad runs on the CPU, which torch.optim's capturable mode does not support
            raise AssertionError("If capturable=True, params and state_steps must be on "
                                 "supported devices: ['cuda', 'xpu', 'hpu', 'privateuseone'].")


def _cast(param, value, key=None):
    """A loaded state value with its tensors in the parameter's dtype ('step' kept as is)."""
    if isinstance(value, Tensor):
        if key != "step" and param.is_floating_point() and value.dtype != param.dtype:
            return value.to(dtype=param.dtype)
        return value
    if isinstance(value, dict):
        return {k: _cast(param, v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(param, v) for v in value)
    return value


class _ElementwiseOptimizer(Optimizer):
    """An optimizer whose update is whole-array numpy arithmetic on each parameter
    and its state buffers: subclasses give _new_state and _update."""
    # the 0-d float32 state entries, handed to _update as Python floats ('step' first)
    _scalars = ("step",)

    def step(self, closure=None):
        loss = _closure(closure)
        for group in self.param_groups:
            items = self._with_grads(group)
            if items:
                self._check_capturable(group)
                self._step_group(group, items)
        return loss

    def _step_group(self, group, items):
        for (p, f, g), (st, step) in zip(items, self._advance_steps(group, items)):
            scalars = {k: st[k].item() for k in self._scalars}
            scalars["step"] = step
            bufs = {k: self._flat(v) for k, v in st.items() if k not in self._scalars}
            self._update(group, f.array, g, {k: b.array for k, b in bufs.items()}, scalars)
            for k in self._scalars[1:]:
                st[k].fill_(scalars[k])
            f.write_back()
            for b in bufs.values():
                b.write_back()

    def _new_state(self, p, group):
        raise NotImplementedError

    def _update(self, group, x, g, bufs, scalars):
        raise NotImplementedError
