"""fastad.nn.functional, fastad.nn modules and fastad.optim against PyTorch:
values and gradients in float64 and float32, at ordinary and large magnitudes."""
import numpy as np
import pytest

import fastad
import fastad.nn as fnn
import fastad.nn.functional as FF

torch = pytest.importorskip("torch")
TF = torch.nn.functional

DTYPES = [("float64", 1e-10), ("float32", 2e-5)]


def pair(a, dtype):
    return (fastad.tensor(a, dtype=getattr(fastad, dtype), requires_grad=True),
            torch.tensor(a, dtype=getattr(torch, dtype), requires_grad=True))


def close(x, y, rtol):
    np.testing.assert_allclose(x.detach().numpy(), y.detach().numpy(), rtol=rtol,
                               atol=rtol * 10, equal_nan=True)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "hardtanh", "silu"])
def test_inplace_activation_matches_and_modifies_input(name):
    a = np.random.default_rng(0).standard_normal((3, 4))
    x, xt = pair(a, "float64")
    h, ht = x * 1.5, xt * 1.5
    out = getattr(FF, name)(h, inplace=True)
    outt = getattr(TF, name)(ht, inplace=True)
    assert out is h
    close(h, ht, 1e-12)
    (out * out).sum().backward()
    (outt * outt).sum().backward()
    close(x.grad, xt.grad, 1e-12)


LOSSES = {
    "mse_loss": {}, "l1_loss": {}, "smooth_l1_loss": {"beta": 0.5}, "huber_loss": {"delta": 0.7},
    "binary_cross_entropy_with_logits": {"pos_weight": "pw"}, "kl_div": {"log_target": False},
}


@pytest.mark.parametrize("dtype,rtol", DTYPES)
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "target without grad", "empty"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_pointwise_loss(name, reduction, layout, dtype, rtol):
    # contiguous same-shape operands take the compiled path (the sum reduced in the
    # kernel), a transposed target the general one: both must match PyTorch
    rng = np.random.default_rng(3)
    shape = (0, 3) if layout == "empty" else (4, 3)
    a = rng.standard_normal(shape) * 2
    b = rng.uniform(0.05, 0.95, shape[::-1] if layout == "transposed" else shape)
    x, xt = pair(a, dtype)
    tl, ttl = pair(b, dtype)
    if layout == "target without grad":
        tl.requires_grad_(False)
        ttl.requires_grad_(False)
    t, tt = (tl.t(), ttl.t()) if layout == "transposed" else (tl, ttl)
    kw = dict(LOSSES[name])
    kwt = dict(kw)
    if "pos_weight" in kw:
        kw["pos_weight"] = fastad.tensor([1.5, 0.5, 2.0], dtype=getattr(fastad, dtype))
        kwt["pos_weight"] = torch.tensor([1.5, 0.5, 2.0], dtype=getattr(torch, dtype))
    y = getattr(FF, name)(x, t, reduction=reduction, **kw)
    yt = getattr(TF, name)(xt, tt, reduction=reduction, **kwt)
    assert y.dtype is getattr(fastad, dtype) and tuple(y.shape) == tuple(yt.shape)
    assert y.grad_fn.name() == yt.grad_fn.name()
    close(y, yt, rtol)
    if layout == "empty" and reduction == "mean":
        return                       # nan: no gradient to compare
    y.sum().backward()
    yt.sum().backward()
    close(x.grad, xt.grad, rtol)
    if ttl.grad is not None:         # torch has no target grad for BCE with logits
        close(tl.grad, ttl.grad, rtol)
    else:
        assert tl.grad is None or name == "binary_cross_entropy_with_logits"


def test_binary_cross_entropy_clamps_log_and_weights():
    p = np.array([0.0, 1.0, 0.3, 0.9])
    tgt = np.array([1.0, 0.0, 0.0, 1.0])
    w = np.array([1.0, 2.0, 0.5, 1.0])
    x, xt = pair(p, "float64")
    y = FF.binary_cross_entropy(x, fastad.tensor(tgt, dtype=fastad.float64),
                                weight=fastad.tensor(w, dtype=fastad.float64))
    yt = TF.binary_cross_entropy(xt, torch.tensor(tgt), weight=torch.tensor(w))
    close(y, yt, 1e-12)
    assert np.isfinite(y.item())


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(5,), (6, 4), (3, 4, 2, 2)])
@pytest.mark.parametrize("opts", [{}, {"weight": True}, {"ignore_index": 1},
                                  {"label_smoothing": 0.2}, {"weight": True, "label_smoothing": 0.1}])
@pytest.mark.parametrize("dtype,rtol", DTYPES)
def test_cross_entropy_and_nll(shape, reduction, opts, dtype, rtol):
    # (6, 4) without weights takes the compiled path, the others the general one
    rng = np.random.default_rng(7)
    a = rng.standard_normal(shape) * 5
    classes = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    tgt = rng.integers(0, classes, tshape)
    kw, kwt = {}, {}
    if opts.get("weight"):
        w = rng.uniform(0.2, 2.0, classes)
        kw["weight"] = fastad.tensor(w, dtype=getattr(fastad, dtype))
        kwt["weight"] = torch.tensor(w, dtype=getattr(torch, dtype))
    for k in ("ignore_index", "label_smoothing"):
        if k in opts:
            kw[k] = kwt[k] = opts[k]
    x, xt = pair(a, dtype)
    y = FF.cross_entropy(x, fastad.tensor(tgt), reduction=reduction, **kw)
    yt = TF.cross_entropy(xt, torch.tensor(tgt), reduction=reduction, **kwt)
    assert y.dtype is getattr(fastad, dtype) and tuple(y.shape) == tuple(yt.shape)
    assert y.grad_fn.name() == yt.grad_fn.name()
    close(y, yt, rtol)
    y.sum().backward()
    yt.sum().backward()
    close(x.grad, xt.grad, rtol)
    if "label_smoothing" not in opts and dtype == "float64":
        x2, xt2 = pair(a, "float64")
        lp, lpt = FF.log_softmax(x2, dim=0 if len(shape) == 1 else 1), TF.log_softmax(
            xt2, dim=0 if len(shape) == 1 else 1)
        n = FF.nll_loss(lp, fastad.tensor(tgt), reduction=reduction, **kw)
        nt = TF.nll_loss(lpt, torch.tensor(tgt), reduction=reduction, **kwt)
        close(n, nt, 1e-10)
        n.sum().backward()
        nt.sum().backward()
        close(x2.grad, xt2.grad, 1e-10)


def test_cross_entropy_with_probabilities():
    rng = np.random.default_rng(2)
    a, p = rng.standard_normal((5, 4)), rng.dirichlet(np.ones(4), 5)
    x, xt = pair(a, "float64")
    y = FF.cross_entropy(x, fastad.tensor(p, dtype=fastad.float64), label_smoothing=0.1)
    yt = TF.cross_entropy(xt, torch.tensor(p), label_smoothing=0.1)
    close(y, yt, 1e-10)
    y.backward()
    yt.backward()
    close(x.grad, xt.grad, 1e-10)


def test_prelu_and_rrelu():
    a = np.random.default_rng(4).standard_normal((2, 3, 4))
    for w in (np.array([0.25]), np.array([0.1, 0.2, 0.3])):
        x, xt = pair(a, "float64")
        wf, wt = pair(w, "float64")
        y, yt = FF.prelu(x, wf), TF.prelu(xt, wt)
        close(y, yt, 1e-12)
        (y * y).sum().backward()
        (yt * yt).sum().backward()
        close(x.grad, xt.grad, 1e-12)
        close(wf.grad, wt.grad, 1e-12)
    x, xt = pair(a, "float64")
    close(FF.rrelu(x, 0.1, 0.3, training=False), TF.rrelu(xt, 0.1, 0.3, training=False), 1e-12)
    y = FF.rrelu(x, 0.1, 0.3, training=True)
    slope = (y.detach().numpy() / a)[a < 0]
    assert ((slope >= 0.1) & (slope <= 0.3)).all()
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[a < 0], slope)


def test_linear_and_mlp_match_torch():
    tm = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    fm = fnn.Sequential(fnn.Linear(5, 8), fnn.Tanh(), fnn.Linear(8, 3)).double()
    assert [n for n, _ in fm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    fm.load_state_dict({k: fastad.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    a = np.random.default_rng(5).standard_normal((7, 5))
    x, xt = pair(a, "float64")
    y, yt = fm(x), tm(xt)
    close(y, yt, 1e-12)
    y.pow(2).sum().backward()
    yt.pow(2).sum().backward()
    for p, q in zip(fm.parameters(), tm.parameters()):
        close(p.grad, q.grad, 1e-12)
    assert repr(fm) == repr(tm)


MODULES = ["Sigmoid", "Tanh", "ReLU", "ReLU6", "Hardtanh", "LeakyReLU", "ELU", "SELU", "CELU",
           "GELU", "SiLU", "Mish", "Softplus", "Softsign", "LogSigmoid", "Hardsigmoid", "Hardswish",
           "PReLU"]


@pytest.mark.parametrize("name", MODULES)
def test_activation_modules_with_default_arguments(name):
    a = np.random.default_rng(6).standard_normal((3, 4)) * 3
    x, xt = pair(a, "float64")
    m, mt = getattr(fnn, name)(), getattr(torch.nn, name)()
    if name == "PReLU":
        m.double()
        mt.double()
    close(m(x), mt(xt), 1e-12)
    assert repr(m) == repr(mt)


def test_module_registration_state_dict_and_errors():
    class Net(fnn.Module):
        def __init__(self):
            super().__init__()
            self.first = fnn.Linear(3, 4)
            self.blocks = fnn.ModuleList([fnn.Linear(4, 4), fnn.Linear(4, 2)])
            self.scale = fnn.Parameter(fastad.tensor(2.0))

        def forward(self, x):
            h = self.first(x) * self.sigmoid_act(self.first(x))
            for b in self.blocks:
                h = b(h)
            return h * self.scale

        @staticmethod
        def sigmoid_act(x):
            return fastad.sigmoid(x)
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "first.weight", "first.bias", "blocks.0.weight", "blocks.0.bias",
                     "blocks.1.weight", "blocks.1.bias"]
    sd = net.state_dict()
    with pytest.raises(RuntimeError, match="Missing key"):
        Net().load_state_dict({k: v for k, v in sd.items() if k != "scale"})
    with pytest.raises(RuntimeError, match="Unexpected key"):
        Net().load_state_dict({**sd, "extra": fastad.zeros(1)})
    with pytest.raises(RuntimeError, match="size mismatch"):
        Net().load_state_dict({**sd, "first.bias": fastad.zeros(5)})
    other = Net()
    other.load_state_dict(sd)
    x = fastad.randn(2, 3)
    assert fastad.allclose(other(x), net(x))
    net.eval()
    assert not net.blocks[0].training
    net.train()
    assert net.blocks[1].training
    net(x).sum().backward()
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    assert repr(net.scale).startswith("Parameter containing:")


def _train(lib, opt_name, dtype, steps=200, **kw):
    rng = np.random.default_rng(0)
    w0, b0, s0 = rng.standard_normal((4, 3)), rng.standard_normal(3), 0.7
    dt = getattr(lib, dtype)
    w = lib.tensor(w0, dtype=dt, requires_grad=True)
    b = lib.tensor(b0, dtype=dt, requires_grad=True)
    s = lib.tensor(s0, dtype=dt, requires_grad=True)
    x = lib.tensor(rng.standard_normal((6, 4)), dtype=dt)
    groups = [{"params": [w, b]}, {"params": [s], "lr": kw.get("lr", 0.01) / 2}]
    opt = getattr(lib.optim, opt_name)(groups, **kw)
    for _ in range(steps):
        opt.zero_grad()
        loss = ((x @ w + b).tanh() * s).pow(2).mean() + s * s
        loss.backward()
        opt.step()
    return [t.detach().numpy() for t in (w, b, s)]


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-10), ("float32", 1e-4)])
@pytest.mark.parametrize("opt,kw", [
    ("SGD", {"lr": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 1e-2}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 1e-2}),
    ("AdamW", {"lr": 0.01}),
])
def test_optimizers_match_torch(opt, kw, dtype, rtol):
    ours = _train(fastad, opt, dtype, **kw)
    if opt in ("Adam", "AdamW"):
        kw = {**kw, "foreach": False}
    theirs = _train(torch, opt, dtype, **kw)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)


def test_optimizer_state_dict_round_trip():
    full = _train(fastad, "Adam", "float64", steps=40, lr=0.01)
    rng = np.random.default_rng(0)
    # 20 steps, save, restore into a new optimizer, 20 more
    w = fastad.tensor(rng.standard_normal((4, 3)), dtype=fastad.float64, requires_grad=True)
    b = fastad.tensor(rng.standard_normal(3), dtype=fastad.float64, requires_grad=True)
    s = fastad.tensor(0.7, dtype=fastad.float64, requires_grad=True)
    x = fastad.tensor(rng.standard_normal((6, 4)), dtype=fastad.float64)
    groups = lambda: [{"params": [w, b]}, {"params": [s], "lr": 0.005}]  # noqa: E731
    opt = fastad.optim.Adam(groups(), lr=0.01)
    for k in range(40):
        if k == 20:
            state = opt.state_dict()
            opt = fastad.optim.Adam(groups(), lr=0.01)
            opt.load_state_dict(state)
        opt.zero_grad()
        loss = ((x @ w + b).tanh() * s).pow(2).mean() + s * s
        loss.backward()
        opt.step()
    for a, c in zip((w, b, s), full):
        np.testing.assert_allclose(a.detach().numpy(), c, rtol=1e-12)
