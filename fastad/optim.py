"""fastad.optim: SGD, Adam, AdamW with torch.optim's update rules.

A step updates every parameter of a group in one compiled call
(fastad._kernels.sgd_step / adam_step over lists of flat arrays).
"""
import numpy as np

from fastad import _kernels as K
from fastad._tensor import Tensor, array_of, enable_grad, tensor

__all__ = ["Optimizer", "SGD", "Adam", "AdamW"]


class _Flat:
    """A parameter's values as a flat writable array: its own buffer, or for a
    0-d parameter (kept inline by the engine) a 1-element scratch array that
    write_back() copies into it."""
    __slots__ = ("param", "array", "inline", "source")

    def __init__(self, p):
        self.param = p
        a = self.source = array_of(p)
        self.inline = a.ndim == 0
        self.array = a.reshape(1).copy() if self.inline else a.reshape(-1)
        if not self.inline and not np.shares_memory(self.array, a):
            raise RuntimeError("fastad.optim: parameters must be contiguous tensors")

    def refresh(self):
        if self.inline:
            self.array[0] = self.param.item()

    def write_back(self):
        if self.inline:
            self.param.data.fill_(float(self.array[0]))


class Optimizer:
    def __init__(self, params, defaults):
        self.defaults = defaults
        self.state = {}
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {params.type()}")
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)

    def add_param_group(self, group):
        group = dict(group)
        ps = group["params"]
        group["params"] = [ps] if isinstance(ps, Tensor) else list(ps)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        for k, v in self.defaults.items():
            group.setdefault(k, v)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad.zero_()

    def _flat(self, p):
        """The cached flat view of p, rebuilt when p's storage changed."""
        st = self.state.setdefault(p, {})
        f = st.get("_flat")
        if f is None or (not f.inline and f.source is not array_of(p)):
            f = st["_flat"] = _Flat(p)
        f.refresh()
        return f

    def _with_grads(self, group):
        """(param, flat values, flat grad) for the params of group that have a grad."""
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

    def state_dict(self):
        index = {}
        groups = []
        for group in self.param_groups:
            g = {k: v for k, v in group.items() if k != "params"}
            g["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                g["params"].append(index[id(p)])
            groups.append(g)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                shape = tuple(p.shape)  # kept flat here, shaped like the parameter there
                st = {k: (tensor(v.reshape(shape)) if isinstance(v, np.ndarray) else
                          tensor(float(v)) if k == "step" else v)
                      for k, v in self.state.get(p, {}).items() if not k.startswith("_")}
                if st:
                    state[index[id(p)]] = st
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        params = []
        for mine, theirs in zip(self.param_groups, groups):
            if len(mine["params"]) != len(theirs["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't "
                                 "match the size of optimizer's group")
            params.extend(zip(theirs["params"], mine["params"]))
            mine.update({k: v for k, v in theirs.items() if k != "params"})
        self.state = {}
        for idx, p in params:
            st = state_dict["state"].get(idx, state_dict["state"].get(str(idx)))
            if st:
                self.state[p] = {k: (int(v.item() if isinstance(v, Tensor) else v) if k == "step"
                                     else np.array(array_of(v), dtype=array_of(p).dtype).reshape(-1)
                                     if isinstance(v, Tensor) else v) for k, v in st.items()}

    def __repr__(self):
        out = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            out += f"\nParameter Group {i}\n"
            for k in sorted(k for k in group if k != "params"):
                out += f"    {k}: {group[k]}\n"
        return out + ")"


def _closure(closure):
    if closure is None:
        return None
    with enable_grad():
        return closure()


def _check(name, value, ok, what=None):
    if not ok:
        raise ValueError(f"Invalid {what or name}: {value}")


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 *, maximize=False, foreach=None, differentiable=False, fused=None):
        _check("learning rate", lr, lr >= 0)
        _check("momentum value", momentum, momentum >= 0)
        _check("weight_decay value", weight_decay, weight_decay >= 0)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        # foreach/differentiable/fused are accepted and kept (as torch.optim shows them);
        # fastad always runs its one compiled call per group
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize, foreach=foreach,
                                      differentiable=differentiable, fused=fused))

    def step(self, closure=None):
        # the update runs on the parameters' arrays: nothing here is recorded
        loss = _closure(closure)
        for group in self.param_groups:
            items = self._with_grads(group)
            if not items:
                continue
            momentum = group["momentum"]
            # torch.optim: a parameter's first step starts its momentum buffer at its grad
            fresh = [it for it in items if momentum != 0 and "momentum_buffer" not in self.state[it[0]]]
            for p, f, _ in fresh:
                self.state[p]["momentum_buffer"] = np.zeros_like(f.array)
            started = [it for it in items if not any(it is fr for fr in fresh)]
            for part, first in ((started, False), (fresh, True)):
                if part:
                    self._sgd(group, part, first)
            for _, f, _ in items:
                f.write_back()
        return loss


    def _sgd(self, group, part, first):
        momentum = group["momentum"]
        bufs = [self.state[p]["momentum_buffer"] for p, _, _ in part] if momentum != 0 else None
        K.sgd_step([f.array for _, f, _ in part], [g for _, _, g in part], bufs, group["lr"],
                   momentum, group["dampening"], group["weight_decay"], group["nesterov"], first)


class Adam(Optimizer):
    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=None):
        _check("learning rate", lr, lr >= 0)
        _check("epsilon value", eps, eps >= 0)
        _check("beta parameter at index 0", betas[0], 0.0 <= betas[0] < 1.0)
        _check("beta parameter at index 1", betas[1], 0.0 <= betas[1] < 1.0)
        _check("weight_decay value", weight_decay, weight_decay >= 0)
        if amsgrad:
            raise NotImplementedError("fastad: Adam(amsgrad=True) is not supported")
        if decoupled_weight_decay is None:
            decoupled_weight_decay = self._decoupled
        # the keys torch.optim keeps in each group (so printing and state_dicts match)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                                      capturable=capturable, differentiable=differentiable,
                                      fused=fused, decoupled_weight_decay=decoupled_weight_decay))

    def step(self, closure=None):
        # the update runs on the parameters' arrays: nothing here is recorded
        loss = _closure(closure)
        for group in self.param_groups:
            by_step = {}
            for p, f, g in self._with_grads(group):
                st = self.state[p]
                if "step" not in st:
                    st["step"] = 0
                    st["exp_avg"] = np.zeros_like(f.array)
                    st["exp_avg_sq"] = np.zeros_like(f.array)
                st["step"] += 1
                by_step.setdefault(st["step"], []).append((p, f, g))
            beta1, beta2 = group["betas"]
            for step, part in by_step.items():
                K.adam_step([f.array for _, f, _ in part], [g for _, _, g in part],
                            [self.state[p]["exp_avg"] for p, _, _ in part],
                            [self.state[p]["exp_avg_sq"] for p, _, _ in part],
                            group["lr"], beta1, beta2, group["eps"], group["weight_decay"],
                            group.get("decoupled_weight_decay", self._decoupled), step)
                for _, f, _ in part:
                    f.write_back()
        return loss


class AdamW(Adam):
    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)
