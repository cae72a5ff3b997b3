"""Adadelta with torch.optim's single-tensor update, in numpy."""
import numpy as np

from fastad._tensor import zeros_like
from fastad.optim.optimizer import (_ElementwiseOptimizer, _check, _check_lr, _step_tensor,
                                    _to_scalar)

__all__ = ["Adadelta"]


class Adadelta(_ElementwiseOptimizer):
    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        _check_lr(lr)
        _check("rho value", rho, 0.0 <= rho <= 1.0)
        _check("epsilon value", eps, 0.0 <= eps)
        _check("weight_decay value", weight_decay, 0.0 <= weight_decay)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize, capturable=capturable, foreach=foreach,
                                      differentiable=differentiable))

    def _new_state(self, p, group):
        return {"step": _step_tensor(), "square_avg": zeros_like(p), "acc_delta": zeros_like(p)}

    def _update(self, group, x, g, s, c):
        lr, rho, eps = _to_scalar(group["lr"]), group["rho"], group["eps"]
        wd = group["weight_decay"]
        if wd != 0:
            g = g + wd * x
        sq, acc = s["square_avg"], s["acc_delta"]
        sq *= rho
        sq += (1 - rho) * g * g
        std = np.sqrt(sq + eps)
        delta = np.sqrt(acc + eps)
        delta /= std
        delta *= g
        acc *= rho
        acc += (1 - rho) * delta * delta
        x += -lr * delta
