"""Adagrad with torch.optim's single-tensor update, in numpy."""
import numpy as np

from fastad._tensor import full_like
from fastad.optim.optimizer import (_ElementwiseOptimizer, _check, _check_fused, _check_lr,
                                    _step_tensor, _to_scalar)

__all__ = ["Adagrad"]


class Adagrad(_ElementwiseOptimizer):
    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_lr(lr)
        _check("lr_decay value", lr_decay, 0.0 <= lr_decay)
        _check("weight_decay value", weight_decay, 0.0 <= weight_decay)
        _check("initial_accumulator_value value", initial_accumulator_value,
               0.0 <= initial_accumulator_value)
        _check("epsilon value", eps, 0.0 <= eps)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      foreach=foreach, maximize=maximize,
                                      differentiable=differentiable, fused=fused))
        _check_fused(fused, foreach, differentiable)
        # torch.optim creates Adagrad's state for every parameter up front
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p].update(self._new_state(p, group, initial_accumulator_value))

    def _new_state(self, p, group, initial=None):
        # a parameter whose state was dropped restarts from the optimizer-wide default
        initial = self.defaults["initial_accumulator_value"] if initial is None else initial
        return {"step": _step_tensor(), "sum": full_like(p, initial)}

    def _update(self, group, x, g, s, c):
        lr, wd = _to_scalar(group["lr"]), group["weight_decay"]
        if wd != 0:
            g = g + wd * x
        clr = lr / (1 + (c["step"] - 1) * group["lr_decay"])
        s["sum"] += 1 * g * g
        std = np.sqrt(s["sum"]) + group["eps"]
        x += -clr * g / std
