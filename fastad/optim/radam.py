"""RAdam with torch.optim's single-tensor update, in numpy."""
import numpy as np

from fastad._tensor import zeros_like
from fastad.optim.optimizer import (_ElementwiseOptimizer, _check, _check_betas, _check_lr,
                                    _decay_and_moments, _step_tensor, _to_scalar)

__all__ = ["RAdam"]


class RAdam(_ElementwiseOptimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        _check_lr(lr)
        _check("epsilon value", eps, 0.0 <= eps)
        _check_betas(betas)
        _check("weight_decay value", weight_decay, 0.0 <= weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      differentiable=differentiable))

    def _new_state(self, p, group):
        return {"step": _step_tensor(), "exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p)}

    def _update(self, group, x, g, s, c):
        lr, (beta1, beta2), step = _to_scalar(group["lr"]), group["betas"], c["step"]
        _decay_and_moments(group, x, g, s, lr)
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        corrected = s["exp_avg"] / bias_correction1
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            adaptive = (bias_correction2 ** 0.5) / (np.sqrt(s["exp_avg_sq"]) + group["eps"])
            x -= corrected * lr * adaptive * rect
        else:
            x -= corrected * lr
