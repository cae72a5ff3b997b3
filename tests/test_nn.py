"""fastad.nn: Module machinery (registration, traversal, modes, state dicts and
their errors), Parameter, Linear's initialisation, containers, one Module per
activation and loss against PyTorch, custom Modules, and fastad.nn.init."""
import math
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import fastad
import fastad.nn as nn
import fastad.nn.functional as F

# ---------------------------------------------------------------- without PyTorch


def test_parameter_is_a_leaf_tensor_subclass():
    p = nn.Parameter(fastad.tensor([1.0, 2.0]))
    assert isinstance(p, fastad.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    assert repr(nn.Parameter(fastad.tensor(1.5), requires_grad=False)) == \
        "Parameter containing:\ntensor(1.5000)"
    assert type(p * 2) is fastad.Tensor and type(p.detach()) is fastad.Tensor
    (p * p).sum().backward()
    assert p.grad.tolist() == [2.0, 4.0]


class Swish(nn.Module):
    """x * sigmoid(x), written with fastad ops."""

    def forward(self, x):
        return x * fastad.sigmoid(x)


class MSEPlusMean(nn.Module):
    """A custom loss: MSE plus the mean prediction (a regulariser)."""

    def __init__(self, weight=0.1):
        super().__init__()
        self.weight = weight

    def forward(self, pred, target):
        return ((pred - target) ** 2).mean() + self.weight * pred.mean()


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = nn.Linear(3, 4)
        self.act = Swish()
        self.blocks = nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 2)])
        self.scale = nn.Parameter(fastad.tensor(2.0))
        self.note = "not registered"

    def forward(self, x):
        h = self.act(self.first(x))
        for b in self.blocks:
            h = b(h)
        return h * self.scale


def test_registration_traversal_and_modes():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "scale", "first.weight", "first.bias", "blocks.0.weight", "blocks.0.bias",
        "blocks.1.weight", "blocks.1.bias"]
    assert [type(m).__name__ for m in net.children()] == ["Linear", "Swish", "ModuleList"]
    assert [type(m).__name__ for m in net.modules()] == [
        "Net", "Linear", "Swish", "ModuleList", "Linear", "Linear"]
    assert net.note == "not registered" and "note" not in dict(net.named_parameters())
    assert len(list(net.parameters())) == 7
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    # a shared parameter is listed once
    seq = nn.Sequential(net.first, net.first)
    assert len(list(seq.parameters())) == 2
    # reassigning: a Tensor cannot replace a Parameter; None can; a Module replaces a Module
    with pytest.raises(TypeError, match="cannot assign"):
        net.scale = fastad.tensor(3.0)
    net.first = nn.Linear(3, 4, bias=False)
    assert "first.bias" not in dict(net.named_parameters())
    del net.scale
    assert "scale" not in dict(net.named_parameters())
    with pytest.raises(AttributeError, match="has no attribute 'scale'"):
        net.scale
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(fastad.ones(1))


def test_custom_module_and_loss_train_with_an_optimizer():
    fastad.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 16), Swish(), nn.Linear(16, 1))
    loss_fn = MSEPlusMean(weight=0.0)
    x = fastad.linspace(-2, 2, 64).reshape(64, 1)
    y = x ** 2
    opt = fastad.optim.Adam(model.parameters(), lr=0.02)
    first = None
    for _ in range(300):
        loss = loss_fn(model(x), y)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.02 * first
    assert loss.grad_fn.name() == "AddBackward0"


def test_zero_grad():
    net = Net()
    net(fastad.randn(5, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and p.grad.abs().sum().item() == 0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_state_dict_round_trip_and_errors(tmp_path):
    net, other = Net(), Net()
    sd = net.state_dict()
    assert list(sd) == [n for n, _ in net.named_parameters()]
    assert all(not v.requires_grad and type(v) is fastad.Tensor for v in sd.values())
    assert repr(other.load_state_dict(sd)) == "<All keys matched successfully>"
    x = fastad.randn(4, 3)
    assert fastad.allclose(other(x), net(x))
    # through a file
    fastad.save(net.state_dict(), str(tmp_path / "net.pt"))
    third = Net()
    third.load_state_dict(fastad.load(str(tmp_path / "net.pt")))
    assert fastad.allclose(third(x), net(x))
    # strict errors, as PyTorch words them
    with pytest.raises(RuntimeError, match=r'Error\(s\) in loading state_dict for Net:\n\t'
                                           r'Missing key\(s\) in state_dict: "scale"'):
        Net().load_state_dict({k: v for k, v in sd.items() if k != "scale"})
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "extra"'):
        Net().load_state_dict({**sd, "extra": fastad.zeros(1)})
    with pytest.raises(RuntimeError, match=r"size mismatch for first.bias: copying a param with "
                                           r"shape torch.Size\(\[5\]\) from checkpoint, the shape "
                                           r"in current model is torch.Size\(\[4\]\)"):
        Net().load_state_dict({**sd, "first.bias": fastad.zeros(5)})
    keys = Net().load_state_dict({"scale": fastad.tensor(1.0), "x": fastad.ones(1)}, strict=False)
    assert keys.unexpected_keys == ["x"] and "first.weight" in keys.missing_keys
    assert repr(keys).startswith("_IncompatibleKeys(missing_keys=[")
    # loading copies values: later changes to the source do not leak in
    src = {k: v.clone() for k, v in sd.items()}
    fresh = Net()
    fresh.load_state_dict(src)
    src["scale"].fill_(100.0)
    assert fresh.scale.item() == sd["scale"].item()


def test_linear_default_initialisation():
    fastad.manual_seed(1)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)  # kaiming_uniform_(a=sqrt(5)) and the bias rule agree here
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    assert w.shape == (300, 400) and b.shape == (300,)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    assert np.abs(b).max() <= bound and abs(b.mean()) < 0.1 * bound
    assert lin.weight.dtype == fastad.float32
    assert nn.Linear(3, 2, dtype=fastad.float64).weight.dtype == fastad.float64
    assert repr(nn.Linear(3, 2, bias=False)) == "Linear(in_features=3, out_features=2, bias=False)"


def test_containers():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c and list(seq) == [a, b, c]
    assert isinstance(seq[1:], nn.Sequential) and list(seq[1:]) == [b, c]
    x = fastad.randn(4, 2)
    assert fastad.allclose(seq(x), c(b(a(x))))
    named = nn.Sequential(OrderedDict([("lin", a), ("act", b)]))
    assert [n for n, _ in named.named_parameters()] == ["lin.weight", "lin.bias"]
    ml = nn.ModuleList([a])
    ml.append(c)
    ml.extend([b])
    assert len(ml) == 3 and ml[1] is c and [n for n, _ in ml.named_parameters()][2] == "1.weight"
    assert repr(nn.Sequential(nn.Linear(3, 2), nn.ReLU())) == (
        "Sequential(\n  (0): Linear(in_features=3, out_features=2, bias=True)\n  (1): ReLU()\n)")


def test_init_functions():
    fastad.manual_seed(2)
    t = fastad.empty(200, 300)
    assert nn.init.zeros_(t) is t and t.abs().sum().item() == 0
    assert nn.init.ones_(t).mean().item() == 1.0
    assert nn.init.constant_(t, 0.5).max().item() == 0.5
    nn.init.uniform_(t, -2, 3)
    a = t.numpy()
    assert a.min() >= -2 and a.max() <= 3 and abs(a.mean() - 0.5) < 0.05
    nn.init.normal_(t, 1.0, 2.0)
    assert abs(t.numpy().mean() - 1) < 0.05 and abs(t.numpy().std() - 2) < 0.05
    fan_in, fan_out = 300, 200
    nn.init.xavier_uniform_(t, gain=2.0)
    bound = 2.0 * math.sqrt(6 / (fan_in + fan_out))
    assert np.abs(t.numpy()).max() <= bound and np.abs(t.numpy()).max() > 0.99 * bound
    nn.init.xavier_normal_(t)
    assert abs(t.numpy().std() / math.sqrt(2 / (fan_in + fan_out)) - 1) < 0.03
    nn.init.kaiming_uniform_(t, nonlinearity="relu")
    assert np.abs(t.numpy()).max() <= math.sqrt(2) * math.sqrt(3 / fan_in)
    nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
    assert abs(t.numpy().std() / (math.sqrt(2) / math.sqrt(fan_out)) - 1) < 0.03
    # on a parameter that requires grad: no graph, still a leaf
    p = nn.Parameter(fastad.empty(3, 4))
    nn.init.xavier_uniform_(p)
    assert p.is_leaf and p.grad_fn is None and p.requires_grad
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.kaiming_uniform_(fastad.empty(3))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        nn.init.kaiming_normal_(t, mode="fan_avg")
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        nn.init.calculate_gain("swish")


# ---------------------------------------------------------------- against PyTorch
def _torch():
    return pytest.importorskip("torch")


def test_calculate_gain_matches_pytorch():
    torch = _torch()
    for name, param in [("linear", None), ("sigmoid", None), ("tanh", None), ("relu", None),
                        ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None),
                        ("conv2d", None)]:
        assert nn.init.calculate_gain(name, param) == torch.nn.init.calculate_gain(name, param)


ACT_MODULES = [
    ("Sigmoid", (), {}), ("Tanh", (), {}), ("ReLU", (), {}), ("ReLU6", (), {}),
    ("Hardtanh", (-2, 2), {}), ("LeakyReLU", (), {"negative_slope": 1e-2, "inplace": True}),
    ("PReLU", (), {"num_parameters": 1, "init": 0.25}), ("PReLU", (3,), {"init": 0.1}),
    ("RReLU", (0.1, 0.3), {}), ("ELU", (), {"alpha": 0.7}), ("SELU", (), {}), ("CELU", (1.5,), {}),
    ("GELU", (), {}), ("GELU", (), {"approximate": "tanh"}), ("SiLU", (), {}), ("Mish", (), {}),
    ("Softplus", (), {"beta": 2.0}), ("Softsign", (), {}), ("LogSigmoid", (), {}),
    ("Hardsigmoid", (), {}), ("Hardswish", (), {}), ("Softmax", (), {"dim": 1}),
    ("LogSoftmax", (1,), {}), ("Softmax", (0,), {}),
]


@pytest.mark.parametrize("name,args,kw", ACT_MODULES,
                         ids=[f"{n}{a}{sorted(k.items())}" for n, a, k in ACT_MODULES])
def test_activation_modules_match_pytorch(name, args, kw):
    torch = _torch()
    a = np.random.default_rng(6).standard_normal((4, 3)) * 4
    m, mt = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    m.double()
    mt.double()
    assert repr(m) == repr(mt)
    x = fastad.tensor(a, dtype=fastad.float64, requires_grad=True)
    xt = torch.tensor(a, requires_grad=True)
    h, ht = x * 1.0, xt * 1.0  # in-place modules must not hit the leaf
    m.eval()
    mt.eval()
    y, yt = m(h), mt(ht)
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    assert y.grad_fn.name() == yt.grad_fn.name()
    (y * y).sum().backward()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    if name == "PReLU":  # the learnable slope gets its gradient
        assert [n for n, _ in m.named_parameters()] == ["weight"]
        np.testing.assert_allclose(m.weight.grad.numpy(), mt.weight.grad.numpy(), rtol=1e-10)
        assert m.state_dict()["weight"].tolist() == mt.state_dict()["weight"].tolist()


def test_rrelu_module_is_random_only_in_training():
    a = -np.ones((20, 20))
    m = nn.RReLU(0.1, 0.3)
    y = m(fastad.tensor(a)).numpy()
    assert y.std() > 0.01 and -0.3 <= y.min() and y.max() <= -0.1
    m.eval()
    np.testing.assert_allclose(m(fastad.tensor(a)).numpy(), -0.2, rtol=1e-6)


LOSS_MODULES = [
    ("MSELoss", {}), ("MSELoss", {"reduction": "sum"}), ("L1Loss", {"reduction": "none"}),
    ("SmoothL1Loss", {"beta": 0.5}), ("HuberLoss", {"delta": 0.3}), ("BCELoss", {}),
    ("BCEWithLogitsLoss", {"pos_weight": [2.0, 1.0, 0.5]}), ("KLDivLoss", {"reduction": "batchmean"}),
    ("CrossEntropyLoss", {}), ("CrossEntropyLoss", {"label_smoothing": 0.1, "weight": [1, 2, .5]}),
    ("CrossEntropyLoss", {"ignore_index": 1, "reduction": "sum"}), ("NLLLoss", {}),
]


@pytest.mark.parametrize("name,kw", LOSS_MODULES, ids=[f"{n}{sorted(k)}" for n, k in LOSS_MODULES])
def test_loss_modules_match_pytorch(name, kw):
    torch = _torch()
    rng = np.random.default_rng(3)
    a = rng.standard_normal((5, 3))
    if name == "BCELoss":
        a = rng.uniform(0.01, 0.99, (5, 3))
    if name in ("NLLLoss", "KLDivLoss"):
        a = np.log(rng.dirichlet(np.ones(3), 5))
    if name in ("CrossEntropyLoss", "NLLLoss"):
        b_f, b_t = fastad.tensor(rng.integers(0, 3, 5)), None
        b_t = torch.tensor(b_f.numpy())
    else:
        b = rng.uniform(0, 1, (5, 3))
        b_f, b_t = fastad.tensor(b, dtype=fastad.float64), torch.tensor(b)
    kw_f = {k: fastad.tensor(v, dtype=fastad.float64) if isinstance(v, list) else v
            for k, v in kw.items()}
    kw_t = {k: torch.tensor(v, dtype=torch.float64) if isinstance(v, list) else v
            for k, v in kw.items()}
    m, mt = getattr(nn, name)(**kw_f), getattr(torch.nn, name)(**kw_t)
    assert repr(m) == repr(mt)
    x = fastad.tensor(a, dtype=fastad.float64, requires_grad=True)
    xt = torch.tensor(a, requires_grad=True)
    y, yt = m(x, b_f), mt(xt, b_t)
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-12)
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-14)
    if "reduction" not in kw:
        with pytest.raises(ValueError, match="avg is not a valid value for reduction"):
            getattr(nn, name)(reduction="avg")(x, b_f)


def test_mlp_and_custom_modules_match_pytorch_after_training():
    torch = _torch()

    def build(lib):
        class TSwish(lib.nn.Module):
            def forward(self, x):
                return x * lib.sigmoid(x)

        class TLoss(lib.nn.Module):
            def forward(self, p, t):
                return ((p - t) ** 2).mean() + 0.01 * p.mean()
        return lib.nn.Sequential(lib.nn.Linear(3, 8), TSwish(), lib.nn.Linear(8, 8),
                                 lib.nn.Tanh(), lib.nn.Linear(8, 1)).double(), TLoss()

    fm, floss = build(fastad)
    tm, tloss = build(torch)
    assert [n for n, _ in fm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    fm.load_state_dict({k: fastad.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((32, 3)), rng.standard_normal((32, 1))
    fo = fastad.optim.SGD(fm.parameters(), lr=0.05, momentum=0.9)
    to = torch.optim.SGD(tm.parameters(), lr=0.05, momentum=0.9)
    for _ in range(50):
        for model, loss_fn, opt, lib in ((fm, floss, fo, fastad), (tm, tloss, to, torch)):
            loss = loss_fn(model(lib.tensor(X)), lib.tensor(Y))
            opt.zero_grad()
            loss.backward()
            opt.step()
    for (n, p), (_, q) in zip(fm.named_parameters(), tm.named_parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=n)


def test_softmax_module_without_dim_warns_like_pytorch():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nn.Softmax()(fastad.ones(2, 3))
    assert any("Implicit dimension" in str(w.message) for w in caught)


def test_functional_and_module_agree():
    x = fastad.randn(3, 4)
    assert fastad.allclose(nn.GELU("tanh")(x), F.gelu(x, approximate="tanh"))
    assert fastad.allclose(nn.Hardtanh(-2, 2)(x * 3), F.hardtanh(x * 3, -2, 2))
    assert fastad.allclose(nn.LogSoftmax(dim=1)(x), F.log_softmax(x, dim=1))


def test_flatten():
    f = nn.Flatten()
    assert repr(f) == "Flatten(start_dim=1, end_dim=-1)"
    assert tuple(f(fastad.ones(2, 3, 4)).shape) == (2, 12)


# ---------------------------------------------------------------- Linear + activation, fused
def _layers(act, bias, dtype):
    fastad.manual_seed(4)
    return [nn.Linear(37, 70, bias=bias).to(dtype), act, nn.Linear(70, 65).to(dtype), act,
            nn.Linear(65, 3, bias=bias).to(dtype)]


@pytest.mark.parametrize("dtype", [fastad.float32, fastad.float64])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("act", [nn.ReLU(), nn.ReLU6(), nn.Sigmoid(), nn.Tanh(), nn.SELU(),
                                 nn.Hardtanh(-0.3, 0.6)], ids=repr)
def test_sequential_fuses_linear_and_activation_into_the_same_results(act, bias, dtype,
                                                                       monkeypatch):
    """nn.Sequential runs each Linear and the activation after it as one node;
    values, gradients and grad_fn names are those of the layers run one by one,
    bit for bit, and the fused node's backward writes into the gradient it owns."""
    import fastad.nn.modules as M
    fused_calls, allocations = [], []
    real_rows, real_empty_like = M._linear, fastad._kernels.empty_like
    monkeypatch.setattr(M, "_linear", lambda *a: fused_calls.append(a[3]) or real_rows(*a))
    layers = _layers(act, bias, dtype)
    x = fastad.randn(9, 37, dtype=dtype)
    out = nn.Sequential(*layers)(x)
    assert fused_calls == [M._fusion(act)[0]] * 2
    monkeypatch.setattr(fastad._kernels, "empty_like",
                        lambda a: allocations.append(a.shape) or real_empty_like(a))
    (out * out).sum().backward()
    assert allocations == []          # both fused backwards wrote into their gradients
    grads = [p.grad.numpy().copy() for layer in layers for p in layer.parameters()]
    for layer in layers:
        layer.zero_grad()
    h = x
    for layer in layers:
        h = layer(h)
    (h * h).sum().backward()
    np.testing.assert_array_equal(out.detach().numpy(), h.detach().numpy())
    fused = real_rows(x, layers[0].weight, layers[0].bias, *M._fusion(act))
    assert fused.grad_fn.name() == act(layers[0](x)).grad_fn.name()
    for g, layer_grad in zip(grads, [p.grad.numpy() for layer in layers
                                      for p in layer.parameters()]):
        np.testing.assert_array_equal(g, layer_grad)


def test_sequential_runs_unfusable_pairs_one_by_one():
    x3 = fastad.randn(2, 4, 37)
    layers = _layers(nn.ReLU(), True, fastad.float32)
    h = x3
    for layer in layers:
        h = layer(h)
    # a 3-D input runs fused over its rows: the same values as layer by layer
    np.testing.assert_array_equal(nn.Sequential(*layers)(x3).detach().numpy(),
                                  h.detach().numpy())

    class Doubled(nn.ReLU):              # a subclass keeps its own forward
        def forward(self, input):
            return 2 * F.relu(input)
    lin = nn.Linear(3, 2)
    x = fastad.randn(5, 3)
    np.testing.assert_allclose(nn.Sequential(lin, Doubled())(x).detach().numpy(),
                               2 * np.maximum(lin(x).detach().numpy(), 0), rtol=1e-6)
    act = nn.Tanh()
    act.forward = lambda input: input + 1  # so does an instance
    np.testing.assert_allclose(nn.Sequential(lin, act)(x).detach().numpy(),
                               lin(x).detach().numpy() + 1, rtol=1e-6)
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        nn.Sequential(lin, nn.Hardtanh(1.0, -1.0))(x)
    with pytest.raises(RuntimeError, match="mat1 and mat2 must have the same dtype"):
        nn.Sequential(lin, nn.ReLU())(x.double())
    with pytest.raises(ValueError, match="cannot fuse 'gelu'"):
        fastad._tensor.linear(x, lin.weight, lin.bias, "gelu")


@pytest.mark.parametrize("sizes", [(5, 0, 2), (0, 4, 2)])
def test_layers_without_elements_run_as_in_pytorch(sizes):
    """Linear(0, n) and Linear(n, 0): kaiming initialisation of an empty weight is
    a no-op with PyTorch's warning; a fused Sequential runs forward and backward."""
    torch = _torch()
    a, h, b = sizes
    outs = []
    for lib in (fastad, torch):
        with pytest.warns(UserWarning, match="zero-element tensors is a no-op"):
            model = lib.nn.Sequential(lib.nn.Linear(a, h), lib.nn.ReLU(), lib.nn.Linear(h, b))
        x = lib.ones(3, a)
        out = model(x)
        out.sum().backward()
        outs.append([tuple(out.shape)] + [(tuple(p.grad.shape), float(p.grad.abs().sum()))
                                          for p in model.parameters()])
    assert outs[0] == outs[1]
