"""ASGD (averaged SGD) with torch.optim's single-tensor update, in numpy."""
import numpy as np

from fastad._tensor import zeros_like
from fastad.optim.optimizer import (_ElementwiseOptimizer, _check, _check_lr, _step_tensor,
                                    _to_scalar)

__all__ = ["ASGD"]


class ASGD(_ElementwiseOptimizer):
    # torch.optim computes each new eta and mu as a default-dtype (float32) tensor
    _scalars = ("step", "eta", "mu")

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                 foreach=None, maximize=False, differentiable=False, capturable=False):
        _check_lr(lr)
        _check("weight_decay value", weight_decay, 0.0 <= weight_decay)
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0,
                                      weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable,
                                      capturable=capturable))

    def _new_state(self, p, group):
        return {"step": _step_tensor(), "eta": _step_tensor(_to_scalar(group["lr"])),
                "mu": _step_tensor(1.0), "ax": zeros_like(p)}

    def _update(self, group, x, g, s, c):
        lr, lambd, wd, step = _to_scalar(group["lr"]), group["lambd"], group["weight_decay"], \
            c["step"]
        if wd != 0:
            g = g + wd * x
        eta = c["eta"]
        x *= 1 - lambd * eta
        x += -eta * g
        if c["mu"] != 1:
            s["ax"] += (x - s["ax"]) * c["mu"]
        else:
            s["ax"][...] = x
        c["eta"] = float(np.float32(lr / ((1 + lambd * lr * step) ** group["alpha"])))
        c["mu"] = float(np.float32(1 / max(1, step - group["t0"])))
