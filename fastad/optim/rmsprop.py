"""RMSprop with torch.optim's single-tensor update, in numpy."""
import numpy as np

from fastad._tensor import zeros_like
from fastad.optim.optimizer import (_ElementwiseOptimizer, _check, _check_lr, _lerp_,
                                    _step_tensor, _to_scalar)

__all__ = ["RMSprop"]


class RMSprop(_ElementwiseOptimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        _check_lr(lr)
        _check("epsilon value", eps, 0.0 <= eps)
        _check("momentum value", momentum, 0.0 <= momentum)
        _check("weight_decay value", weight_decay, 0.0 <= weight_decay)
        _check("alpha value", alpha, 0.0 <= alpha)
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps,
                                      centered=centered, weight_decay=weight_decay,
                                      capturable=capturable, foreach=foreach, maximize=maximize,
                                      differentiable=differentiable))

    def _new_state(self, p, group):
        st = {"step": _step_tensor(), "square_avg": zeros_like(p)}
        if group["momentum"] > 0:
            st["momentum_buffer"] = zeros_like(p)
        if group["centered"]:
            st["grad_avg"] = zeros_like(p)
        return st

    def _update(self, group, x, g, s, c):
        lr, alpha, wd, momentum = (_to_scalar(group["lr"]), group["alpha"],
                                   group["weight_decay"], group["momentum"])
        if wd != 0:
            g = g + wd * x
        sq = s["square_avg"]
        sq *= alpha
        sq += (1 - alpha) * g * g
        if group["centered"]:
            _lerp_(s["grad_avg"], g, 1 - alpha)
            avg = np.sqrt(sq + -1 * s["grad_avg"] * s["grad_avg"])
        else:
            avg = np.sqrt(sq)
        avg += group["eps"]
        if momentum > 0:
            buf = s["momentum_buffer"]
            buf *= momentum
            buf += g / avg
            x += -lr * buf
        else:
            x += -lr * g / avg
