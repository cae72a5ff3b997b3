"""SGD: one compiled fastad._kernels.sgd_step call per group per step."""

from fastad import _kernels
from fastad._tensor import zeros_like
from fastad.optim.optimizer import Optimizer, _check, _check_fused, _check_lr, _closure, _to_scalar

__all__ = ["SGD"]


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 *, maximize=False, foreach=None, differentiable=False, fused=None):
        _check_lr(lr)
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
        _check_fused(fused, foreach, differentiable)

    def step(self, closure=None):
        # the update runs on the parameters' arrays: nothing here is recorded
        loss = _closure(closure)
        for group in self.param_groups:
            items = self._with_grads(group)
            if not items:
                continue
            momentum = group["momentum"]
            # torch.optim: a parameter's first step starts its momentum buffer at its grad
            fresh = [it for it in items
                     if momentum != 0 and "momentum_buffer" not in self.state.get(it[0], {})]
            for p, _, _ in fresh:
                self.state[p]["momentum_buffer"] = zeros_like(p)
            started = [it for it in items if not any(it is fr for fr in fresh)]
            for part, first in ((started, False), (fresh, True)):
                if part:
                    self._sgd(group, part, first)
        return loss

    def _sgd(self, group, part, first):
        momentum = group["momentum"]
        bufs, inline = self._flat_arrays([self.state[p]["momentum_buffer"] for p, _, _ in part]) \
            if momentum != 0 else (None, [])
        _kernels.sgd_step([f.array for _, f, _ in part], [g for _, _, g in part], bufs,
                          _to_scalar(group["lr"]), momentum, group["dampening"],
                          group["weight_decay"], group["nesterov"], first)
        for _, f, _ in part:
            f.write_back()
        for f in inline:
            f.write_back()
