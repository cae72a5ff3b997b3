"""fastad.nn.functional: every function's value and gradient against PyTorch
(float64 to ~1e-12, float32 to float32 rounding), inputs spanning ordinary and
huge magnitudes, the numerical edges (saturation, log clamps, infinities) and
the errors PyTorch raises for bad arguments."""
import math
import warnings

import numpy as np
import pytest

import fastad
import fastad.nn.functional as F
from conftest import needs_torch, optional_torch

torch = optional_torch()
TF = torch.nn.functional if torch is not None else None

TOL = {"float64": 1e-12, "float32": 2e-6}


def both(a, dtype, requires_grad=True):
    return (fastad.tensor(a, dtype=getattr(fastad, dtype), requires_grad=requires_grad),
            torch.tensor(a, dtype=getattr(torch, dtype), requires_grad=requires_grad))


def same(ours, theirs, rtol, atol=None):
    if isinstance(ours, fastad.Tensor):
        assert ours.dtype == getattr(fastad, str(theirs.dtype).split(".")[1])
        assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(np.asarray(ours.detach().numpy(), dtype=np.float64),
                               theirs.detach().double().numpy(), rtol=rtol,
                               atol=rtol if atol is None else atol, equal_nan=True)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_saturating_functions_have_the_right_limits(dtype):
    a = [-1e4, -100.0, 100.0, 1e4]
    dt = getattr(fastad, dtype)
    x = fastad.tensor(a, dtype=dt, requires_grad=True)
    cases = {
        "sigmoid": ([0, 0, 1, 1], [0, 0, 0, 0]),
        "tanh": ([-1, -1, 1, 1], [0, 0, 0, 0]),
        "softplus": ([0, 0, 100, 1e4], [0, 0, 1, 1]),
        "logsigmoid": ([-1e4, -100, 0, 0], [1, 1, 0, 0]),
        "silu": ([0, 0, 100, 1e4], [0, 0, 1, 1]),
        "softsign": ([-1, -1, 1, 1], [0, 0, 0, 0]),
    }
    for name, (value, slope) in cases.items():
        y = getattr(F, name)(x)
        g, = fastad.autograd.grad(y.sum(), x)
        v, gv = y.detach().numpy(), g.numpy()
        assert np.isfinite(v).all() and np.isfinite(gv).all(), name
        np.testing.assert_allclose(v, value, rtol=1e-6, atol=1e-6 if name != "softsign" else 1e-2)
        np.testing.assert_allclose(gv, slope, atol=1e-6 if name != "softsign" else 1e-2)


def test_functional_sigmoid_runs_the_kernel_and_records_pytorch_names():
    x = fastad.tensor([[0.5, -1.0]], requires_grad=True)
    for fn, name in [(F.sigmoid, "SigmoidBackward0"), (F.tanh, "TanhBackward0"),
                     (F.relu, "ReluBackward0"), (F.elu, "EluBackward0"),
                     (F.leaky_relu, "LeakyReluBackward0"), (F.gelu, "GeluBackward0"),
                     (F.silu, "SiluBackward0"), (F.softplus, "SoftplusBackward0"),
                     (F.hardtanh, "HardtanhBackward0"), (F.mish, "MishBackward0")]:
        assert fn(x).grad_fn.name() == name


@needs_torch
def test_integer_relu_stays_integer():
    for fn in (F.relu, F.relu6, F.hardtanh):
        ours, theirs = fn(fastad.tensor([1, -2, 8])), fn.__name__
        assert ours.dtype == fastad.int64
        assert ours.tolist() == getattr(TF, theirs)(torch.tensor([1, -2, 8])).tolist()


@needs_torch
@pytest.mark.parametrize("name,kw", [("relu", {}), ("relu6", {}), ("leaky_relu", {}),
                                     ("elu", {"alpha": 0.3}), ("selu", {}), ("celu", {}),
                                     ("silu", {}), ("mish", {}), ("hardtanh", {}),
                                     ("hardsigmoid", {}), ("hardswish", {}),
                                     ("rrelu", {})])
def test_inplace_activations(name, kw):
    a = np.random.default_rng(1).standard_normal((3, 5)) * 3
    x, xt = both(a, "float64")
    h, ht = x * 2, xt * 2
    out = getattr(F, name)(h, inplace=True, **kw)
    outt = getattr(TF, name)(ht, inplace=True, **kw)
    assert out is h
    same(h, ht, 1e-12)
    assert out.grad_fn.name() == outt.grad_fn.name()
    (out ** 2).sum().backward()
    (outt ** 2).sum().backward()
    same(x.grad, xt.grad, 1e-12)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        getattr(F, name)(fastad.ones(2, requires_grad=True), inplace=True)


@needs_torch
@pytest.mark.parametrize("dim", [0, 1, -1, 2])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_over_each_dim(fn, dim):
    a = np.random.default_rng(dim + 5).standard_normal((3, 4, 5)) * 50
    a[0, 0, 0], a[1, 1, 1] = 1e4, -1e4
    for dtype in ("float64", "float32"):
        x, xt = both(a, dtype)
        y, yt = getattr(F, fn)(x, dim=dim), getattr(TF, fn)(xt, dim=dim)
        same(y, yt, TOL[dtype], atol=1e-6 if dtype == "float32" else 1e-12)
        assert y.grad_fn.name() == yt.grad_fn.name()
        w = np.random.default_rng(0).standard_normal(a.shape)
        (y * fastad.tensor(w, dtype=y.dtype)).sum().backward()
        (yt * torch.tensor(w, dtype=yt.dtype)).sum().backward()
        same(x.grad, xt.grad, TOL[dtype] * 10, atol=1e-4 if dtype == "float32" else 1e-10)


@needs_torch
def test_softmax_dtype_argument_and_implicit_dim():
    x = fastad.tensor([[1.0, 2.0, 3.0]])
    assert F.softmax(x, dim=1, dtype=fastad.float64).dtype == fastad.float64
    assert F.log_softmax(x, 1, dtype=fastad.float64).dtype == fastad.float64
    with pytest.warns(UserWarning, match="Implicit dimension"):
        y = F.softmax(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same(y, TF.softmax(torch.tensor([[1.0, 2.0, 3.0]])), 1e-7)


@needs_torch
def test_softmax_with_infinities_is_nan_only_where_pytorch_is():
    a = [[-math.inf, 0.0, 1.0], [math.inf, 0.0, 1.0], [-math.inf, -math.inf, 0.0]]
    for fn in ("softmax", "log_softmax"):
        x, xt = both(a, "float64")
        same(getattr(F, fn)(x, 1), getattr(TF, fn)(xt, 1), 1e-12)


@needs_torch
def test_prelu_per_channel_and_shared():
    rng = np.random.default_rng(4)
    for shape, w in [((2, 3, 4, 5), rng.uniform(0, 0.5, 3)), ((6, 3), rng.uniform(0, 0.5, 3)),
                     ((4,), np.array([0.25])), ((2, 3, 4), np.array([0.1]))]:
        a = rng.standard_normal(shape)
        x, xt = both(a, "float64")
        wf, wt = both(w, "float64")
        y, yt = F.prelu(x, wf), TF.prelu(xt, wt)
        same(y, yt, 1e-12)
        assert y.grad_fn.name() == yt.grad_fn.name()
        g = rng.standard_normal(shape)
        (y * fastad.tensor(g, dtype=fastad.float64)).sum().backward()
        (yt * torch.tensor(g)).sum().backward()
        same(x.grad, xt.grad, 1e-12)
        same(wf.grad, wt.grad, 1e-12)
    with pytest.raises(RuntimeError, match="Mismatch of parameter numbers"):
        F.prelu(fastad.ones(2, 4), fastad.ones(3))


@needs_torch
def test_rrelu_samples_in_training_and_uses_the_mean_in_eval():
    a = np.random.default_rng(9).standard_normal((50, 40))
    x = fastad.tensor(a, dtype=fastad.float64, requires_grad=True)
    fastad.manual_seed(3)
    y = F.rrelu(x, 0.1, 0.3, training=True)
    assert y.grad_fn.name() == "RreluWithNoiseBackward0"
    slope = y.detach().numpy()[a < 0] / a[a < 0]
    assert slope.min() >= 0.1 and slope.max() <= 0.3 and slope.std() > 0.03
    np.testing.assert_array_equal(y.detach().numpy()[a >= 0], a[a >= 0])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[a < 0], slope)
    fastad.manual_seed(3)
    again = F.rrelu(fastad.tensor(a, dtype=fastad.float64), 0.1, 0.3, training=True)
    np.testing.assert_array_equal(again.numpy(), y.detach().numpy())
    xt = torch.tensor(a, requires_grad=True)
    ev, evt = F.rrelu(fastad.tensor(a, dtype=fastad.float64, requires_grad=True), 0.1, 0.3), \
        TF.rrelu(xt, 0.1, 0.3)
    same(ev, evt, 1e-15)
    assert ev.grad_fn.name() == evt.grad_fn.name()


@needs_torch
@pytest.mark.parametrize("shape", [(5,), (4, 5), (2, 3, 5)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(shape, bias):
    rng = np.random.default_rng(len(shape))
    x, xt = both(rng.standard_normal(shape), "float64")
    w, wt = both(rng.standard_normal((3, 5)), "float64")
    b, bt = both(rng.standard_normal(3), "float64") if bias else (None, None)
    y, yt = F.linear(x, w, b), TF.linear(xt, wt, bt)
    same(y, yt, 1e-12)
    assert y.grad_fn.name() == yt.grad_fn.name()
    g = rng.standard_normal(tuple(yt.shape))
    (y * fastad.tensor(g, dtype=fastad.float64)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    for p, q in [(x, xt), (w, wt)] + ([(b, bt)] if bias else []):
        same(p.grad, q.grad, 1e-12)


def test_linear_errors():
    with pytest.raises(RuntimeError, match="2x4 and 5x3"):
        F.linear(fastad.ones(2, 4), fastad.ones(3, 5))
    with pytest.raises(RuntimeError, match="same dtype"):
        F.linear(fastad.ones(2, 5, dtype=fastad.float64), fastad.ones(3, 5))


# ---------------------------------------------------------------- losses
POINTWISE = {
    "mse_loss": {}, "l1_loss": {}, "smooth_l1_loss": {"beta": 0.5}, "smooth_l1_b0": {"beta": 0.0},
    "huber_loss": {"delta": 2.0}, "binary_cross_entropy": {}, "bce_weighted": {"weight": "w"},
    "binary_cross_entropy_with_logits": {}, "bce_logits_pw": {"pos_weight": "pw", "weight": "w"},
    "kl_div": {}, "kl_div_log": {"log_target": True},
}
ALIASES = {"smooth_l1_b0": "smooth_l1_loss", "bce_weighted": "binary_cross_entropy",
           "bce_logits_pw": "binary_cross_entropy_with_logits", "kl_div_log": "kl_div"}


def _loss_inputs(name, rng, shape, scale):
    fn = ALIASES.get(name, name)
    if fn == "binary_cross_entropy":
        a = rng.uniform(0.001, 0.999, shape)
        b = rng.uniform(0, 1, shape)
    elif fn == "kl_div":
        a = -rng.uniform(0.1, 3, shape)
        b = rng.uniform(0.01, 1, shape)
        if "log" in name:
            b = np.log(b)
    else:
        a, b = rng.standard_normal(shape) * scale, rng.standard_normal(shape) * scale
        if fn == "binary_cross_entropy_with_logits":
            b = rng.uniform(0, 1, shape)
    return a, b


@needs_torch
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", sorted(POINTWISE))
def test_pointwise_losses(name, reduction, dtype):
    fn = ALIASES.get(name, name)
    rng = np.random.default_rng(sum(map(ord, name)))
    shape = (4, 3)
    for scale in (1.0, 100.0, 1e4):
        a, b = _loss_inputs(name, rng, shape, scale)
        x, xt = both(a, dtype)
        t, tt = both(b, dtype, requires_grad=fn != "binary_cross_entropy_with_logits")
        kw, kwt = dict(POINTWISE[name]), dict(POINTWISE[name])
        for k, v in POINTWISE[name].items():
            if v in ("w", "pw"):
                arr = rng.uniform(0.5, 2, (3,))
                kw[k], kwt[k] = both(arr, dtype, requires_grad=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # kl_div's 'mean' warning
            y = getattr(F, fn)(x, t, reduction=reduction, **kw)
            yt = getattr(TF, fn)(xt, tt, reduction=reduction, **kwt)
        rtol = 1e-11 if dtype == "float64" else 1e-5
        same(y, yt, rtol, atol=rtol * max(1.0, abs(float(yt.detach().abs().max()))))
        assert y.grad_fn.name() == yt.grad_fn.name()
        g = rng.standard_normal(tuple(yt.shape))
        (y * fastad.tensor(g, dtype=y.dtype)).sum().backward()
        (yt * torch.tensor(g, dtype=yt.dtype)).sum().backward()
        same(x.grad, xt.grad, rtol, atol=rtol)
        if tt.requires_grad:
            same(t.grad, tt.grad, rtol, atol=rtol)
        if fn in ("binary_cross_entropy", "kl_div"):
            break  # their inputs are probabilities, not scaled


@needs_torch
def test_kl_div_batchmean():
    rng = np.random.default_rng(2)
    a, b = np.log(rng.dirichlet(np.ones(5), 4)), rng.dirichlet(np.ones(5), 4)
    x, xt = both(a, "float64")
    y, yt = F.kl_div(x, fastad.tensor(b), reduction="batchmean"), \
        TF.kl_div(xt, torch.tensor(b), reduction="batchmean")
    same(y, yt, 1e-12)
    y.backward()
    yt.backward()
    same(x.grad, xt.grad, 1e-12)


@needs_torch
def test_binary_cross_entropy_clamps_log_at_minus_100():
    for dtype in ("float64", "float32"):
        p = [0.0, 1.0, 0.0, 1.0, 0.5]
        t = [1.0, 0.0, 0.0, 1.0, 1.0]
        x, xt = both(p, dtype)
        y = F.binary_cross_entropy(x, fastad.tensor(t, dtype=x.dtype), reduction="none")
        yt = TF.binary_cross_entropy(xt, torch.tensor(t, dtype=xt.dtype), reduction="none")
        same(y, yt, 1e-6)
        assert y.tolist()[:4] == [100.0, 100.0, 0.0, 0.0]
        y.sum().backward()
        yt.sum().backward()
        same(x.grad, xt.grad, 1e-6)
        assert np.isfinite(x.grad.numpy()).all()


@needs_torch
def test_bce_with_logits_and_cross_entropy_have_no_nan_at_huge_logits():
    z = [-1e4, 1e4, -1e4, 1e4, 0.0]
    t = [1.0, 0.0, 0.0, 1.0, 0.5]
    x, xt = both(z, "float32")
    y = F.binary_cross_entropy_with_logits(x, fastad.tensor(t))
    yt = TF.binary_cross_entropy_with_logits(xt, torch.tensor(t))
    same(y, yt, 1e-6)
    y.backward()
    yt.backward()
    same(x.grad, xt.grad, 1e-6)
    logits = [[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [3.0, 1e4, -1e4]]
    x, xt = both(logits, "float32")
    y = F.cross_entropy(x, fastad.tensor([1, 2, 2]), label_smoothing=0.1)
    yt = TF.cross_entropy(xt, torch.tensor([1, 2, 2]), label_smoothing=0.1)
    same(y, yt, 1e-6)
    y.backward()
    yt.backward()
    same(x.grad, xt.grad, 1e-6)
    assert np.isfinite(x.grad.numpy()).all()


CE_OPTIONS = [{}, {"weight": True}, {"ignore_index": 2}, {"ignore_index": 2, "weight": True},
              {"label_smoothing": 0.15}, {"label_smoothing": 0.1, "weight": True},
              {"label_smoothing": 0.1, "weight": True, "ignore_index": 0}]


@needs_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(4,), (7, 4), (3, 4, 5), (2, 4, 3, 2)])
@pytest.mark.parametrize("opts", CE_OPTIONS, ids=[",".join(o) or "plain" for o in CE_OPTIONS])
def test_cross_entropy_class_indices(shape, reduction, opts):
    rng = np.random.default_rng(len(shape) * 7 + len(opts))
    a = rng.standard_normal(shape) * 4
    classes = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    tgt = rng.integers(0, classes, tshape)
    kw, kwt = {}, {}
    if opts.get("weight"):
        kw["weight"], kwt["weight"] = both(rng.uniform(0.2, 2.0, classes), "float64", False)
    for k in ("ignore_index", "label_smoothing"):
        if k in opts:
            kw[k] = kwt[k] = opts[k]
    x, xt = both(a, "float64")
    y = F.cross_entropy(x, fastad.tensor(tgt), reduction=reduction, **kw)
    yt = TF.cross_entropy(xt, torch.tensor(tgt), reduction=reduction, **kwt)
    same(y, yt, 1e-12)
    assert y.grad_fn.name() == yt.grad_fn.name()
    g = rng.standard_normal(tuple(yt.shape))
    (y * fastad.tensor(g, dtype=fastad.float64)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    same(x.grad, xt.grad, 1e-12)
    if "label_smoothing" not in opts:  # nll_loss over log_softmax is the same loss
        x2, xt2 = both(a, "float64")
        d = 0 if len(shape) == 1 else 1
        n = F.nll_loss(F.log_softmax(x2, d), fastad.tensor(tgt), reduction=reduction, **kw)
        nt = TF.nll_loss(TF.log_softmax(xt2, d), torch.tensor(tgt), reduction=reduction, **kwt)
        same(n, nt, 1e-12)
        assert n.grad_fn.name() == nt.grad_fn.name()
        (n * fastad.tensor(g, dtype=fastad.float64)).sum().backward()
        (nt * torch.tensor(g)).sum().backward()
        same(x2.grad, xt2.grad, 1e-12)


@needs_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(5, 4), (2, 4, 3)])
@pytest.mark.parametrize("opts", [{}, {"weight": True}, {"label_smoothing": 0.2, "weight": True}])
def test_cross_entropy_probability_targets(shape, reduction, opts):
    rng = np.random.default_rng(11)
    a = rng.standard_normal(shape) * 3
    p = np.moveaxis(rng.dirichlet(np.ones(shape[1]), (shape[0],) + shape[2:]), -1, 1)
    kw, kwt = {}, {}
    if opts.get("weight"):
        kw["weight"], kwt["weight"] = both(rng.uniform(0.2, 2.0, shape[1]), "float64", False)
    if "label_smoothing" in opts:
        kw["label_smoothing"] = kwt["label_smoothing"] = opts["label_smoothing"]
    x, xt = both(a, "float64")
    y = F.cross_entropy(x, fastad.tensor(p, dtype=fastad.float64), reduction=reduction, **kw)
    yt = TF.cross_entropy(xt, torch.tensor(p), reduction=reduction, **kwt)
    same(y, yt, 1e-12)
    (y * 1.5).sum().backward()
    (yt * 1.5).sum().backward()
    same(x.grad, xt.grad, 1e-12)


@needs_torch
def test_cross_entropy_float32_and_all_ignored():
    rng = np.random.default_rng(5)
    a, tgt = rng.standard_normal((64, 10)) * 10, rng.integers(0, 10, 64)
    x, xt = both(a, "float32")
    y, yt = F.cross_entropy(x, fastad.tensor(tgt)), TF.cross_entropy(xt, torch.tensor(tgt))
    same(y, yt, 1e-6)
    y.backward()
    yt.backward()
    same(x.grad, xt.grad, 1e-6, atol=1e-8)
    ign = F.cross_entropy(fastad.zeros(2, 3), fastad.tensor([-100, -100]))
    assert math.isnan(ign.item())  # 0 / 0, as PyTorch


# ---------------------------------------------------------------- bad arguments
@pytest.mark.parametrize("bad", [3, -1, 7, -101])
@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
def test_class_target_out_of_range_names_the_value(fn, bad):
    with pytest.raises(IndexError, match=f"Target {bad} is out of bounds"):
        getattr(F, fn)(fastad.zeros(3, 3), fastad.tensor([0, bad, 1]))
    with pytest.raises(IndexError, match=str(bad)):  # spatial targets too
        getattr(F, fn)(fastad.zeros(2, 3, 2), fastad.tensor([[0, 1], [2, bad]]))


def test_class_target_dtype_and_shape_errors():
    with pytest.raises(RuntimeError, match="expected target dtype to be Long"):
        F.nll_loss(fastad.zeros(2, 3), fastad.tensor([0.0, 1.0]))
    with pytest.raises(RuntimeError, match="expected target dtype to be Long"):
        F.cross_entropy(fastad.zeros(2, 3), fastad.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"Expected input batch_size \(2\) to match target "
                                         r"batch_size \(3\)"):
        F.cross_entropy(fastad.zeros(2, 3), fastad.tensor([0, 1, 1]))
    with pytest.raises(RuntimeError, match="weight tensor should be defined"):
        F.cross_entropy(fastad.zeros(2, 3), fastad.tensor([0, 1]), weight=fastad.ones(2))


LOSS_CALLS = {
    "mse_loss": lambda r: F.mse_loss(fastad.ones(2), fastad.ones(2), reduction=r),
    "l1_loss": lambda r: F.l1_loss(fastad.ones(2), fastad.ones(2), reduction=r),
    "smooth_l1_loss": lambda r: F.smooth_l1_loss(fastad.ones(2), fastad.ones(2), reduction=r),
    "huber_loss": lambda r: F.huber_loss(fastad.ones(2), fastad.ones(2), reduction=r),
    "binary_cross_entropy": lambda r: F.binary_cross_entropy(fastad.ones(2) / 2, fastad.ones(2),
                                                             reduction=r),
    "bce_with_logits": lambda r: F.binary_cross_entropy_with_logits(fastad.ones(2), fastad.ones(2),
                                                                    reduction=r),
    "kl_div": lambda r: F.kl_div(fastad.ones(2), fastad.ones(2), reduction=r),
    "cross_entropy": lambda r: F.cross_entropy(fastad.ones(2, 3), fastad.tensor([0, 1]),
                                               reduction=r),
    "nll_loss": lambda r: F.nll_loss(fastad.ones(2, 3), fastad.tensor([0, 1]), reduction=r),
}


@pytest.mark.parametrize("name", sorted(LOSS_CALLS))
def test_bad_reduction_is_a_value_error(name):
    with pytest.raises(ValueError, match="elementwise is not a valid value for reduction"):
        LOSS_CALLS[name]("elementwise")
    for r in ("mean", "sum", "none"):
        LOSS_CALLS[name](r)


def test_other_bad_arguments():
    with pytest.raises(RuntimeError, match="input should be between 0 and 1"):
        F.binary_cross_entropy(fastad.tensor([1.5]), fastad.tensor([1.0]))
    with pytest.raises(RuntimeError, match="target should be between 0 and 1"):
        F.binary_cross_entropy(fastad.tensor([0.5]), fastad.tensor([2.0]))
    with pytest.raises(ValueError, match="different to the input size"):
        F.binary_cross_entropy(fastad.tensor([0.5, 0.5]), fastad.tensor([[1.0, 0.0]]))
    with pytest.raises(RuntimeError, match="must match the size"):
        F.mse_loss(fastad.ones(2), fastad.ones(3))
    with pytest.warns(UserWarning, match="target size"):
        F.mse_loss(fastad.ones(2, 1), fastad.ones(3))
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        F.hardtanh(fastad.ones(2), 2.0, -2.0)
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(fastad.ones(2), approximate="fast")
    with pytest.raises(TypeError, match="must be Tensor"):
        F.relu(3.0)
