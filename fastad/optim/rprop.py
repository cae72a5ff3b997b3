"""Rprop with torch.optim's single-tensor update, in numpy."""
import numpy as np

from fastad._tensor import full_like, zeros_like
from fastad.optim.optimizer import _ElementwiseOptimizer, _check_lr, _step_tensor, _to_scalar

__all__ = ["Rprop"]


class Rprop(_ElementwiseOptimizer):
    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        super().__init__(params, dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable,
                                      capturable=capturable))

    def _new_state(self, p, group):
        return {"step": _step_tensor(), "prev": zeros_like(p),
                "step_size": full_like(p, _to_scalar(group["lr"]))}

    def _update(self, group, x, g, s, c):
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        prod = g * s["prev"]
        falling = prod < 0
        factor = np.ones_like(g)
        factor[prod > 0] = etaplus
        factor[falling] = etaminus
        step_size = s["step_size"]
        step_size *= factor
        np.clip(step_size, step_size_min, step_size_max, out=step_size)
        # where the gradient changed sign, the step is skipped and prev forgets it
        g = np.where(falling, 0, g).astype(g.dtype, copy=False)
        x += -1 * np.sign(g) * step_size
        s["prev"][...] = g
