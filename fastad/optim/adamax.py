"""Adamax with torch.optim's single-tensor update, in numpy."""
import numpy as np

from fastad._tensor import zeros_like
from fastad.optim.optimizer import (_ElementwiseOptimizer, _check, _check_betas, _check_lr, _lerp_,
                                    _step_tensor, _to_scalar)

__all__ = ["Adamax"]


class Adamax(_ElementwiseOptimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        _check_lr(lr)
        _check("epsilon value", eps, 0.0 <= eps)
        _check_betas(betas)
        _check("weight_decay value", weight_decay, 0.0 <= weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize,
                                      differentiable=differentiable, capturable=capturable))

    def _new_state(self, p, group):
        return {"step": _step_tensor(), "exp_avg": zeros_like(p), "exp_inf": zeros_like(p)}

    def _update(self, group, x, g, s, c):
        lr, (beta1, beta2), wd = _to_scalar(group["lr"]), group["betas"], group["weight_decay"]
        if wd != 0:
            g = g + wd * x
        _lerp_(s["exp_avg"], g, 1 - beta1)
        s["exp_inf"] *= beta2
        np.maximum(s["exp_inf"], np.abs(g) + group["eps"], out=s["exp_inf"])
        clr = lr / (1 - beta1 ** c["step"])
        x += -clr * s["exp_avg"] / s["exp_inf"]
