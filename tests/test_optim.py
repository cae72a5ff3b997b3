"""fastad.optim: SGD, Adam and AdamW against torch.optim over hundreds of steps
(float64 to ~1e-10, float32 to float32 rounding), parameter groups, 0-d and
grad-less parameters, zero_grad, state_dict round trips, PyTorch's errors,
one compiled call per group per step, the Himmelblau loop's speed, and every
optimizer's state_dict through fastad.save/load."""
import time

import numpy as np
import pytest

import fastad
from fastad import _kernels
from fastad import optim
from conftest import plain_build


def problem(lib, dtype, seed=0):
    """Parameters (a matrix, a vector, a 0-d scalar) and a loss closure."""
    rng = np.random.default_rng(seed)
    dt = getattr(lib, dtype)
    w = lib.tensor(rng.standard_normal((4, 3)), dtype=dt, requires_grad=True)
    b = lib.tensor(rng.standard_normal(3), dtype=dt, requires_grad=True)
    s = lib.tensor(0.7, dtype=dt, requires_grad=True)
    x = lib.tensor(rng.standard_normal((8, 4)), dtype=dt)
    y = lib.tensor(rng.standard_normal((8, 3)), dtype=dt)

    def loss():
        return (((x @ w + b).tanh() * s - y) ** 2).mean() + 0.1 * s * s
    return (w, b, s), loss


def train(lib, opt_name, dtype, steps, groups=False, **kw):
    params, loss_fn = problem(lib, dtype)
    w, b, s = params
    if groups:
        spec = [{"params": [w, b]}, {"params": [s], "lr": kw.get("lr", 0.01) / 3}]
    else:
        spec = list(params)
    if lib is not fastad and opt_name in ("Adam", "AdamW"):
        kw = {**kw, "foreach": False}  # the single-tensor path: the same rounding as fastad's
    opt = getattr(lib.optim, opt_name)(spec, **kw)
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
    return [p.detach().numpy().copy() for p in params], opt


CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.001}),
    ("SGD", {"lr": 0.002, "momentum": 0.5, "maximize": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.005, "betas": (0.85, 0.99), "eps": 1e-6, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.01, "maximize": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.005, "weight_decay": 0.1, "betas": (0.85, 0.99)}),
]


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-10), ("float32", 1e-4)])
@pytest.mark.parametrize("groups", [False, True], ids=["one-group", "two-groups"])
@pytest.mark.parametrize("name,kw", CONFIGS, ids=[f"{n}{sorted(k.items())}" for n, k in CONFIGS])
def test_matches_torch_optim_over_many_steps(name, kw, groups, dtype, rtol):
    torch = pytest.importorskip("torch")
    steps = 300
    ours, _ = train(fastad, name, dtype, steps, groups, **kw)
    theirs, _ = train(torch, name, dtype, steps, groups, **kw)
    for a, b in zip(ours, theirs):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)


def test_state_dict_round_trip_continues_exactly():
    for name, kw in [("Adam", {"lr": 0.01}), ("SGD", {"lr": 0.05, "momentum": 0.9}),
                     ("AdamW", {"lr": 0.01})]:
        full, _ = train(fastad, name, "float64", 40, groups=True, **kw)
        params, loss_fn = problem(fastad, "float64")
        w, b, s = params

        def make():
            return getattr(optim, name)([{"params": [w, b]}, {"params": [s], "lr": kw["lr"] / 3}],
                                        **kw)
        opt = make()
        for k in range(40):
            if k == 25:
                sd = opt.state_dict()
                opt = make()
                opt.load_state_dict(sd)
            opt.zero_grad()
            loss_fn().backward()
            opt.step()
        for p, q in zip(params, full):
            np.testing.assert_array_equal(p.detach().numpy(), q)


def test_state_dict_layout_matches_torch():
    torch = pytest.importorskip("torch")
    _, ours = train(fastad, "Adam", "float32", 3, groups=True, lr=0.01)
    _, theirs = train(torch, "Adam", "float32", 3, groups=True, lr=0.01)
    sd, sdt = ours.state_dict(), theirs.state_dict()
    assert sorted(sd["state"]) == sorted(sdt["state"]) == [0, 1, 2]
    for i in range(3):
        assert sorted(sd["state"][i]) == sorted(sdt["state"][i])
        assert sd["state"][i]["step"].item() == sdt["state"][i]["step"].item() == 3
        ref = sdt["state"][i]["exp_avg_sq"].numpy()
        # float32 gradients that nearly cancel (GEMM order differs) carry absolute error
        np.testing.assert_allclose(sd["state"][i]["exp_avg_sq"].numpy(), ref, rtol=1e-5,
                                   atol=1e-5 * np.abs(ref).max())
    strip = lambda g: {k: v for k, v in g.items() if k != "foreach"}  # noqa: E731
    assert [strip(g) for g in sd["param_groups"]] == [strip(g) for g in sdt["param_groups"]]
    assert repr(ours).replace("foreach: None", "foreach: False") == repr(theirs)


def test_zero_grad_and_grad_less_parameters():
    a = fastad.tensor([1.0, 2.0], requires_grad=True)
    b = fastad.tensor([3.0], requires_grad=True)
    opt = optim.SGD([a, b], lr=0.5, momentum=0.9)
    (a * a).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert a.grad.tolist() == [0.0, 0.0] and b.grad is None
    (a * a).sum().backward()
    opt.step()  # b has no grad: untouched, no state
    assert a.tolist() == [0.0, 0.0] and b.tolist() == [3.0]
    assert "momentum_buffer" not in opt.state.get(b, {})
    opt.zero_grad()
    assert a.grad is None


def test_learning_rate_changes_and_added_groups_take_effect():
    p = fastad.tensor([1.0], requires_grad=True)
    q = fastad.tensor([1.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    opt.add_param_group({"params": q, "lr": 1.0})
    (p + q).sum().backward()
    opt.param_groups[0]["lr"] = 0.5
    opt.step()
    assert p.item() == 0.5 and q.item() == 0.0
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [p]})


def test_replaced_storage_is_seen():
    p = fastad.tensor([1.0, 1.0], requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    (p * p).sum().backward()
    opt.step()
    p.data = fastad.tensor([5.0, 5.0])
    opt.step()
    assert np.all(p.detach().numpy() < 5.0) and np.all(p.detach().numpy() > 4.8)


def test_closure_runs_with_grad_enabled():
    p = fastad.tensor([2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss
    with fastad.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 4.0 and p.item() == 1.0


@pytest.mark.parametrize("make,exc,text", [
    (lambda p: optim.SGD(p, lr=-1), ValueError, "Invalid learning rate: -1"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-0.5), ValueError, "Invalid momentum value: -0.5"),
    (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1), ValueError, "Invalid weight_decay value: -1"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), ValueError,
     "Nesterov momentum requires a momentum and zero dampening"),
    (lambda p: optim.Adam(p, lr=-0.1), ValueError, "Invalid learning rate: -0.1"),
    (lambda p: optim.Adam(p, eps=-1e-8), ValueError, "Invalid epsilon value: -1e-08"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.9)), ValueError, "Invalid beta parameter at index 0: 1.0"),
    (lambda p: optim.AdamW(p, betas=(0.9, -0.1)), ValueError,
     "Invalid beta parameter at index 1: -0.1"),
    (lambda p: optim.AdamW(p, weight_decay=-0.5), ValueError, "Invalid weight_decay value: -0.5"),
    (lambda p: optim.SGD([], lr=0.1), ValueError, "empty parameter list"),
    (lambda p: optim.SGD(p[0], lr=0.1), TypeError, "iterable of Tensors or dicts"),
    (lambda p: optim.SGD([p[0] * 2], lr=0.1), ValueError, "can't optimize a non-leaf Tensor"),
])
def test_bad_hyper_parameters(make, exc, text):
    with pytest.raises(exc, match=text.replace("(", r"\(").replace(")", r"\)")):
        make([fastad.ones(2, requires_grad=True)])


def test_one_kernel_call_per_group_per_step(monkeypatch):
    calls = {"adam_step": 0, "sgd_step": 0}
    for name in calls:
        real = getattr(_kernels, name)

        def counting(*args, _real=real, _name=name):
            calls[_name] += 1
            return _real(*args)
        monkeypatch.setattr(_kernels, name, counting)
    params = [fastad.randn(5, 3, requires_grad=True) for _ in range(20)] + \
        [fastad.tensor(1.0, requires_grad=True)]
    for name, opt in (("adam_step", optim.Adam(params, lr=0.01)),
                      ("sgd_step", optim.SGD(params, lr=0.01, momentum=0.9))):
        for _ in range(5):
            opt.zero_grad()
            sum((p * p).sum() for p in params).backward()
            opt.step()
        # SGD's first step initialises the momentum buffers: one extra call at most
        assert calls[name] <= 6, calls


@pytest.fixture(scope="module")
def himmelblau_adam():
    """(x, f(x), the optimizer's CPU time) after 20,000 Adam steps from (0, 0)."""
    x = fastad.tensor([0.0, 0.0], requires_grad=True)
    opt = optim.Adam([x], lr=1e-2)
    spent = 0.0
    for _ in range(20000):
        f = (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2
        opt.zero_grad()
        f.backward()
        # this thread's CPU time: wall time on a shared machine measures the load
        t = time.thread_time()
        opt.step()
        spent += time.thread_time() - t
    f = (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2
    return x, f, spent


def test_himmelblau_reaches_3_2(himmelblau_adam):
    x, f, _ = himmelblau_adam
    assert abs(x[0].item() - 3) < 1e-4 and abs(x[1].item() - 2) < 1e-4 and f.item() < 1e-8


@plain_build
def test_himmelblau_adam_steps_are_cheap(himmelblau_adam):
    spent = himmelblau_adam[2]
    assert spent < 0.5, f"optimizer CPU time {spent:.3f} s for 20,000 steps"


@pytest.mark.parametrize("name,kw", [
    ("SGD", {"lr": 0.05, "momentum": 0.9}), ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("AdamW", {"lr": 0.01}), ("RMSprop", {"momentum": 0.9, "centered": True}),
    ("Adagrad", {}), ("Adadelta", {}), ("Adamax", {}), ("NAdam", {}), ("RAdam", {}),
    ("ASGD", {}), ("Rprop", {}), ("LBFGS", {"history_size": 3, "max_iter": 4}),
])
def test_every_optimizer_state_dict_survives_save_and_load(name, kw, tmp_path):
    params, loss_fn = problem(fastad, "float32")
    opt = getattr(optim, name)(params, **kw)

    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss
    for _ in range(4):
        opt.step(closure)
    sd = opt.state_dict()
    fastad.save(sd, str(tmp_path / "opt.pt"))
    loaded = fastad.load(str(tmp_path / "opt.pt"))

    def same(a, b):
        if isinstance(a, fastad.Tensor):
            assert isinstance(b, fastad.Tensor) and a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a.numpy(), b.numpy())
        elif isinstance(a, dict):
            assert list(a) == list(b)
            for k in a:
                same(a[k], b[k])
        elif isinstance(a, (list, tuple)):
            assert type(a) is type(b) and len(a) == len(b)
            for x, y in zip(a, b):
                same(x, y)
        else:
            assert a == b and type(a) is type(b), (a, b)
    same(sd, loaded)
    assert sd["state"] and all(isinstance(v, fastad.Tensor) or k in ("func_evals", "n_iter",
                                                                      "prev_loss", "old_dirs",
                                                                      "old_stps", "ro", "al",
                                                                      "H_diag", "t")
                               for st in sd["state"].values() for k, v in st.items())
