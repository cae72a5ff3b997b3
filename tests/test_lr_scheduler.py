"""fastad.optim.lr_scheduler against torch.optim.lr_scheduler: every scheduler's
lrs (and cycled momentums) over 100 steps equal to PyTorch's bit for bit, the
closed form of step(epoch), state_dict round trips, and PyTorch's errors."""
import io
import warnings

import numpy as np
import pytest

import fastad
from fastad.optim import lr_scheduler

torch = pytest.importorskip("torch")


def optimizer(lib, name="SGD", **kw):
    a = lib.zeros(2, requires_grad=True)
    b = lib.zeros(1, requires_grad=True)
    kw = {"momentum": 0.9, **kw} if name == "SGD" else kw
    return getattr(lib.optim, name)([{"params": [a]}, {"params": [b], "lr": 0.03}], lr=0.1, **kw)


class Decay:
    """A callable object: its __dict__ is what LambdaLR's state_dict keeps."""

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, epoch):
        return self.rate ** epoch


def build(lib, kind):
    """(optimizer, scheduler) of one kind; ChainedScheduler and SequentialLR
    combine others built on the same optimizer."""
    sched = lib.optim.lr_scheduler
    opt_name = "Adam" if kind.endswith("-adam") else "SGD"
    opt = optimizer(lib, opt_name)
    kind = kind.replace("-adam", "")
    make = {
        "StepLR": lambda: sched.StepLR(opt, step_size=7, gamma=0.5),
        "MultiStepLR": lambda: sched.MultiStepLR(opt, milestones=[10, 30, 30, 55], gamma=0.3),
        "ExponentialLR": lambda: sched.ExponentialLR(opt, gamma=0.97),
        "CosineAnnealingLR": lambda: sched.CosineAnnealingLR(opt, T_max=23, eta_min=0.001),
        "CosineAnnealingWarmRestarts": lambda: sched.CosineAnnealingWarmRestarts(
            opt, T_0=9, T_mult=2, eta_min=1e-4),
        "CosineAnnealingWarmRestarts1": lambda: sched.CosineAnnealingWarmRestarts(opt, T_0=13),
        "OneCycleLR": lambda: sched.OneCycleLR(opt, max_lr=[1.0, 0.3], total_steps=101),
        "OneCycleLR3": lambda: sched.OneCycleLR(opt, max_lr=0.5, epochs=10, steps_per_epoch=11,
                                                pct_start=0.25, anneal_strategy="linear",
                                                three_phase=True),
        "LinearLR": lambda: sched.LinearLR(opt, start_factor=0.25, end_factor=0.9,
                                           total_iters=17),
        "ConstantLR": lambda: sched.ConstantLR(opt, factor=0.4, total_iters=12),
        "PolynomialLR": lambda: sched.PolynomialLR(opt, total_iters=60, power=1.7),
        "LambdaLR": lambda: sched.LambdaLR(opt, [Decay(0.95), lambda e: 1 / (1 + e)]),
        "MultiplicativeLR": lambda: sched.MultiplicativeLR(opt, lambda e: 0.98),
        "CyclicLR": lambda: sched.CyclicLR(opt, base_lr=0.01, max_lr=[0.2, 0.1],
                                           step_size_up=9, step_size_down=5),
        "CyclicLR2": lambda: sched.CyclicLR(opt, base_lr=0.01, max_lr=0.2, step_size_up=6,
                                            mode="triangular2"),
        "CyclicLRexp": lambda: sched.CyclicLR(opt, base_lr=0.01, max_lr=0.2, step_size_up=8,
                                              mode="exp_range", gamma=0.99),
        "SequentialLR": lambda: sched.SequentialLR(
            opt, [sched.LinearLR(opt, start_factor=0.1, total_iters=10),
                  sched.CosineAnnealingLR(opt, T_max=40), sched.StepLR(opt, 5, 0.7)],
            milestones=[10, 50]),
        "ChainedScheduler": lambda: sched.ChainedScheduler(
            [sched.ConstantLR(opt, factor=0.5, total_iters=8),
             sched.ExponentialLR(opt, gamma=0.96)]),
    }[kind]
    return opt, make()


KINDS = ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
         "CosineAnnealingWarmRestarts", "CosineAnnealingWarmRestarts1", "OneCycleLR",
         "OneCycleLR3", "OneCycleLR-adam", "LinearLR", "ConstantLR", "PolynomialLR", "LambdaLR",
         "MultiplicativeLR", "CyclicLR", "CyclicLR2", "CyclicLRexp", "CyclicLR-adam",
         "SequentialLR", "ChainedScheduler"]


def schedule(lib, kind, steps=100, reload_at=None):
    opt, sched = build(lib, kind)
    out = [(sched.get_last_lr(), [g.get("momentum", g.get("betas")) for g in opt.param_groups])]
    for k in range(steps):
        if k == reload_at:
            sd = sched.state_dict()
            _, sched = rebuild(lib, kind, opt)
            sched.load_state_dict(sd)
        opt.step()
        sched.step()
        out.append((sched.get_last_lr(), [g.get("momentum", g.get("betas"))
                                          for g in opt.param_groups]))
    return out


def rebuild(lib, kind, opt):
    """A scheduler of the same kind on an existing optimizer (resumed with last_epoch=0,
    which needs the optimizer's initial_lr, as after loading a checkpoint)."""
    fresh_opt, fresh = build(lib, kind)
    fresh.optimizer = opt
    for s in getattr(fresh, "_schedulers", []):
        s.optimizer = opt
    return fresh_opt, fresh


@pytest.mark.parametrize("kind", KINDS)
def test_lrs_over_100_steps_equal_torchs(kind):
    ours, theirs = schedule(fastad, kind), schedule(torch, kind)
    assert ours == theirs  # the same floats, to the last bit
    assert all(isinstance(lr, float) for lrs, _ in ours for lr in lrs)


@pytest.mark.parametrize("kind", ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
                                  "LinearLR", "ConstantLR", "PolynomialLR",
                                  "CosineAnnealingWarmRestarts"])
def test_closed_form_epochs_equal_torchs(kind):
    out = {}
    for lib in (fastad, torch):
        opt, sched = build(lib, kind)
        lrs = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for epoch in [3, 4, 10, 9, 31, 0, 57, 58, 99, 20]:
                opt.step()
                sched.step(epoch)
                lrs.append(sched.get_last_lr())
        out[lib] = lrs
    assert out[fastad] == out[torch]


@pytest.mark.parametrize("kind", ["StepLR", "CosineAnnealingLR", "LambdaLR", "OneCycleLR",
                                  "CyclicLR", "SequentialLR", "ChainedScheduler",
                                  "CosineAnnealingWarmRestarts"])
def test_state_dict_round_trip_continues_identically(kind):
    assert schedule(fastad, kind, 60, reload_at=25) == schedule(fastad, kind, 60)
    opt, sched = build(fastad, kind)
    _, theirs = build(torch, kind)
    assert sorted(sched.state_dict()) == sorted(theirs.state_dict())


def test_state_dict_saves_through_fastad_save():
    opt, sched = build(fastad, "LambdaLR")
    for _ in range(5):
        opt.step()
        sched.step()
    buf = io.BytesIO()
    fastad.save({"scheduler": sched.state_dict(), "optimizer": opt.state_dict()}, buf)
    buf.seek(0)
    loaded = fastad.load(buf)
    opt2, sched2 = build(fastad, "LambdaLR")
    opt2.load_state_dict(loaded["optimizer"])
    sched2.load_state_dict(loaded["scheduler"])
    assert sched2.last_epoch == 5 and sched2.lr_lambdas[0].rate == 0.95
    for _ in range(3):
        for o, s in ((opt, sched), (opt2, sched2)):
            o.step()
            s.step()
    assert sched2.get_last_lr() == sched.get_last_lr()


@pytest.mark.parametrize("mode,threshold_mode", [("min", "rel"), ("min", "abs"), ("max", "rel"),
                                                 ("max", "abs")])
def test_reduce_lr_on_plateau_equals_torchs(mode, threshold_mode):
    rng = np.random.default_rng(3)
    metrics = np.cumsum(rng.standard_normal(100)) * 0.1 + np.linspace(1, 0, 100)
    out = {}
    for lib in (fastad, torch):
        opt = optimizer(lib)
        sched = lib.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode=mode, factor=0.5, patience=3, threshold=0.01, threshold_mode=threshold_mode,
            cooldown=2, min_lr=[0.001, 0.002])
        lrs = []
        for m in metrics:
            sched.step(m)
            lrs.append(sched.get_last_lr())
        out[lib] = lrs, sched.num_bad_epochs, sched.best, sorted(sched.state_dict())
    assert out[fastad] == out[torch]
    assert len({tuple(lrs) for lrs in out[fastad][0]}) > 2  # the lrs were reduced, twice or more


def errors(make):
    with pytest.raises(Exception) as theirs:
        make(torch)
    with pytest.raises(type(theirs.value)) as ours:
        make(fastad)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("make", [
    lambda lib: lib.optim.lr_scheduler.StepLR(object(), 3),
    lambda lib: lib.optim.lr_scheduler.StepLR(optimizer(lib), 3, last_epoch=4),
    lambda lib: lib.optim.lr_scheduler.ConstantLR(optimizer(lib), factor=1.5),
    lambda lib: lib.optim.lr_scheduler.LinearLR(optimizer(lib), start_factor=0),
    lambda lib: lib.optim.lr_scheduler.LinearLR(optimizer(lib), end_factor=2),
    lambda lib: lib.optim.lr_scheduler.LambdaLR(optimizer(lib), [lambda e: 1.0]),
    lambda lib: lib.optim.lr_scheduler.MultiplicativeLR(optimizer(lib), 0.9),
    lambda lib: lib.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer(lib), T_0=0),
    lambda lib: lib.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer(lib), 5, T_mult=0),
    lambda lib: lib.optim.lr_scheduler.OneCycleLR(optimizer(lib), 0.1),
    lambda lib: lib.optim.lr_scheduler.OneCycleLR(optimizer(lib), 0.1, total_steps=0),
    lambda lib: lib.optim.lr_scheduler.OneCycleLR(optimizer(lib), 0.1, 10, pct_start=1.5),
    lambda lib: lib.optim.lr_scheduler.OneCycleLR(optimizer(lib), 0.1, 10, anneal_strategy="x"),
    lambda lib: lib.optim.lr_scheduler.OneCycleLR(optimizer(lib, "Adagrad"), 0.1, 10),
    lambda lib: lib.optim.lr_scheduler.OneCycleLR(optimizer(lib), [0.1], 10),
    lambda lib: lib.optim.lr_scheduler.CyclicLR(optimizer(lib), 0.01, 0.1, mode="bad"),
    lambda lib: lib.optim.lr_scheduler.ReduceLROnPlateau(optimizer(lib), factor=1.0),
    lambda lib: lib.optim.lr_scheduler.ReduceLROnPlateau(optimizer(lib), mode="middle"),
    lambda lib: lib.optim.lr_scheduler.ReduceLROnPlateau(optimizer(lib), threshold_mode="x"),
    lambda lib: lib.optim.lr_scheduler.ReduceLROnPlateau(optimizer(lib), min_lr=[0.1]),
    lambda lib: lib.optim.lr_scheduler.SequentialLR(optimizer(lib), [], []),
    lambda lib: lib.optim.lr_scheduler.ChainedScheduler([]),
])
def test_bad_arguments_raise_torchs_errors(make):
    errors(make)


def test_one_cycle_past_its_end_and_order_warnings():
    def past_end(lib):
        opt = optimizer(lib)
        sched = lib.optim.lr_scheduler.OneCycleLR(opt, 0.1, total_steps=3)
        for _ in range(4):
            opt.step()
            sched.step()
    errors(past_end)
    opt = optimizer(fastad)
    sched = lr_scheduler.StepLR(opt, 3)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        sched.get_lr()


def test_a_step_hook_registered_after_the_scheduler_runs():
    """The scheduler's wrapper of optimizer.step calls the class's step as it is
    at the call, so hooks registered after the scheduler was made still run."""
    x = fastad.tensor([1.0], requires_grad=True)
    opt = fastad.optim.SGD([x], lr=0.1)
    fastad.optim.lr_scheduler.StepLR(opt, step_size=1)
    calls = []
    handle = opt.register_step_pre_hook(lambda *a: calls.append(1))
    try:
        x.sum().backward()
        opt.step()
    finally:
        handle.remove()
    assert calls == [1]
