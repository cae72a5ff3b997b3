"""Adam and AdamW: one compiled fastad._kernels.adam_step call per group and
step count; amsgrad=True runs torch.optim's single-tensor update in numpy."""
import numpy as np

from fastad import _kernels
from fastad._tensor import Tensor, zeros_like
from fastad.optim.optimizer import (_ElementwiseOptimizer, _check, _check_betas, _check_fused,
                                    _check_lr, _decay_and_moments, _step_tensor, _to_scalar)

__all__ = ["Adam", "AdamW"]


class Adam(_ElementwiseOptimizer):
    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=None):
        if isinstance(lr, Tensor) and foreach and not capturable:
            raise ValueError("lr as a Tensor is not supported for capturable=False and "
                             "foreach=True")
        _check_lr(lr)
        _check("epsilon value", eps, eps >= 0)
        _check_betas(betas)
        _check("weight_decay value", weight_decay, weight_decay >= 0)
        if not (all(isinstance(b, float) for b in betas[:2])
                or all(isinstance(b, Tensor) for b in betas[:2])):
            raise ValueError("betas must be either both floats or both Tensors")
        if decoupled_weight_decay is None:
            decoupled_weight_decay = self._decoupled
        # the keys torch.optim keeps in each group (so printing and state_dicts match)
        super().__init__(params, dict(lr=lr, betas=tuple(map(_to_scalar, betas)), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable, fused=fused,
                                      decoupled_weight_decay=decoupled_weight_decay))
        _check_fused(fused, foreach, differentiable)

    def _new_state(self, p, group):
        st = {"step": _step_tensor(), "exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p)}
        if group["amsgrad"]:
            st["max_exp_avg_sq"] = zeros_like(p)
        return st

    def _step_group(self, group, items):
        # the update runs on the parameters' arrays: nothing here is recorded
        if group["amsgrad"]:
            return super()._step_group(group, items)
        by_step = {}
        for item, (st, step) in zip(items, self._advance_steps(group, items)):
            by_step.setdefault(int(step), []).append((item, st))
        beta1, beta2 = group["betas"]
        for step, part in by_step.items():
            bufs, inline = self._flat_arrays([st["exp_avg"] for _, st in part]
                                             + [st["exp_avg_sq"] for _, st in part])
            _kernels.adam_step([f.array for (_, f, _), _ in part], [g for (_, _, g), _ in part],
                               bufs[:len(part)], bufs[len(part):], _to_scalar(group["lr"]), beta1,
                               beta2, group["eps"], group["weight_decay"],
                               group["decoupled_weight_decay"], step)
            for (_, f, _), _ in part:
                f.write_back()
            for f in inline:
                f.write_back()

    def _update(self, group, x, g, s, c):
        lr, (beta1, beta2), step = _to_scalar(group["lr"]), group["betas"], c["step"]
        _decay_and_moments(group, x, g, s, lr)
        step_size = lr / (1 - beta1 ** step)
        np.maximum(s["max_exp_avg_sq"], s["exp_avg_sq"], out=s["max_exp_avg_sq"])
        denom = np.sqrt(s["max_exp_avg_sq"]) / (1 - beta2 ** step) ** 0.5 + group["eps"]
        x += -step_size * s["exp_avg"] / denom


class AdamW(Adam):
    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)
