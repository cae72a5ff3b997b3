"""Optimizer hooks (step, state_dict, load_state_dict; per optimizer and global)
called as torch.optim calls them: the same log of calls for the same program."""
import pytest

import fastad
from conftest import needs_torch, optional_torch


def _hook_log(lib):
    """Runs one program of hooks on lib; returns what the hooks saw, in order."""
    from importlib import import_module
    optimizer_module = import_module(lib.__name__ + ".optim.optimizer")
    log = []
    w = lib.tensor([1.0, -2.0], requires_grad=True)
    opt = lib.optim.SGD([w], lr=0.5, momentum=0.9)

    def closure():
        log.append("closure")
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    handles = [
        optimizer_module.register_optimizer_step_pre_hook(
            lambda o, a, k: log.append(("global pre", type(o).__name__, len(a), dict(k)))),
        optimizer_module.register_optimizer_step_post_hook(
            lambda o, a, k: log.append(("global post", len(a)))),
        opt.register_step_pre_hook(lambda o, a, k: log.append(("pre", len(a)))),
        opt.register_step_post_hook(lambda o, a, k: log.append(("post", len(a)))),
    ]
    # a pre hook may replace the arguments: here it hands step the closure
    swap = opt.register_step_pre_hook(lambda o, a, k: (a, {"closure": closure}))
    loss = opt.step()
    log.append(("loss", round(loss.item(), 6), [round(v, 6) for v in w.tolist()]))
    swap.remove()
    handles[0].remove()
    closure()
    opt.step()
    log.append(("w", [round(v, 6) for v in w.tolist()]))

    opt.register_state_dict_pre_hook(lambda o: log.append("sd pre"))
    opt.register_state_dict_pre_hook(lambda o: log.append("sd pre first"), prepend=True)

    def add_key(o, sd):
        log.append(("sd post", sorted(sd)))
        sd["extra"] = 1
    opt.register_state_dict_post_hook(add_key)
    opt.register_state_dict_post_hook(lambda o, sd: {**sd, "replaced": True})
    sd = opt.state_dict()
    log.append(("sd", sorted(sd)))

    def drop_extra(o, sd):
        log.append(("load pre", sorted(sd)))
        return {"state": sd["state"], "param_groups": sd["param_groups"]}
    opt.register_load_state_dict_pre_hook(drop_extra)
    opt.register_load_state_dict_post_hook(lambda o: log.append("load post"))
    opt.load_state_dict(sd)
    log.append(("caller's dict kept", sorted(sd)))
    for h in handles[1:]:
        h.remove()
    opt.step()
    return log


@needs_torch
def test_hooks_are_called_as_torch_calls_them():
    assert _hook_log(fastad) == _hook_log(optional_torch())


def test_step_hooks_run_once_and_are_removable():
    calls = []
    w = fastad.tensor([1.0], requires_grad=True)
    for opt in (fastad.optim.Adam([w]), fastad.optim.AdamW([w]), fastad.optim.LBFGS([w])):
        h = opt.register_step_pre_hook(lambda o, a, k: calls.append(type(o).__name__))
        w.grad = fastad.tensor([0.5])
        opt.step((lambda: (w * w).sum()) if isinstance(opt, fastad.optim.LBFGS) else None)
        h.remove()
        opt.step((lambda: (w * w).sum()) if isinstance(opt, fastad.optim.LBFGS) else None)
    assert calls == ["Adam", "AdamW", "LBFGS"]


def test_a_pre_hook_returning_something_else_raises():
    w = fastad.tensor([1.0], requires_grad=True)
    opt = fastad.optim.SGD([w], lr=0.1)
    opt.register_step_pre_hook(lambda o, a, k: "no")
    with pytest.raises(RuntimeError, match=r"must return None or a tuple of \(new_args, "):
        opt.step()


def test_hooks_reach_later_subclasses_and_run_once_per_step():
    from fastad.optim.optimizer import register_optimizer_step_post_hook
    calls = []
    handle = register_optimizer_step_post_hook(lambda o, a, k: calls.append(type(o).__name__))

    class Halved(fastad.optim.SGD):          # defined after the global hook
        def step(self, closure=None):
            for group in self.param_groups:
                group["lr"] /= 2
            return super().step(closure)

    w = fastad.tensor([1.0], requires_grad=True)
    opt = Halved([w], lr=1.0)
    w.grad = fastad.tensor([1.0])
    opt.step()
    handle.remove()
    opt.step()
    assert calls == ["Halved"] and w.item() == 1.0 - 0.5 - 0.25
