"""NAdam with torch.optim's single-tensor update, in numpy."""
import numpy as np

from fastad._tensor import zeros_like
from fastad.optim.optimizer import (_ElementwiseOptimizer, _check, _check_betas, _check_lr,
                                    _decay_and_moments, _step_tensor, _to_scalar)

__all__ = ["NAdam"]


class NAdam(_ElementwiseOptimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        _check_lr(lr)
        _check("epsilon value", eps, 0.0 <= eps)
        _check_betas(betas)
        _check("weight_decay value", weight_decay, 0.0 <= weight_decay)
        _check("momentum_decay value", momentum_decay, 0.0 <= momentum_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable))

    def _new_state(self, p, group):
        return {"step": _step_tensor(), "mu_product": _step_tensor(1.0),
                "exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p)}

    def _update(self, group, x, g, s, c):
        lr, (beta1, beta2) = _to_scalar(group["lr"]), group["betas"]
        step, decay = c["step"], group["momentum_decay"]
        bias_correction2 = 1 - beta2 ** step
        g = _decay_and_moments(group, x, g, s, lr)
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * decay)))
        # mu_product is a 0-d tensor (float32, or the parameter's dtype once loaded from a
        # state_dict): the product is taken in its dtype, as torch.optim's in-place multiply
        s["mu_product"] *= mu
        mu_product = s["mu_product"].item()
        denom = np.sqrt(s["exp_avg_sq"] / bias_correction2)
        denom += group["eps"]
        x += (-lr * (1.0 - mu) / (1.0 - mu_product)) * g / denom
        x += ((-lr * mu_next) / (1.0 - mu_product * mu_next)) * s["exp_avg"] / denom
