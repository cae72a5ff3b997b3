"""Kernel tests: values and gradients against torch (the oracle)."""
import numpy as np
import pytest

from fastad import _kernels as K, opdefs
from conftest import needs_torch, optional_torch, torch_oracle

torch = optional_torch()
F = torch.nn.functional if torch is not None else None

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-11, atol=1e-13)}


def close(a, b, dt, scale=1.0):
    tol = TOL[dt]
    np.testing.assert_allclose(a, b, rtol=tol["rtol"] * scale, atol=tol["atol"] * scale,
                               equal_nan=True)


def special_inputs(dt, n=2000, seed=0):
    rng = np.random.default_rng(seed)
    x = np.concatenate([
        rng.standard_normal(n) * 4,
        rng.uniform(-1e-3, 1e-3, 50),
        [0.0, -0.0, -3, 3, 6, -1, 1, 20, 0.625, -0.625, 100, -100, 1e4, -1e4, 88.5, -88.5,
         -104, 710, -745, np.inf, -np.inf, np.nan],
    ])
    return np.ascontiguousarray(x.astype(dt))


# (name, a, b) cases: every row at its defaults, plus non-default parameters
ACT_CASES = [(op.name, *([d for _, d in op.params] + [0.0, 0.0])[:2])
             for op in opdefs.UNARY if not op.noise]
ACT_CASES += [("hardtanh", -2.0, 3.0), ("leaky_relu", 0.2, 0.0), ("leaky_relu", -0.5, 0.0),
              ("elu", 0.5, 0.0), ("elu", -0.7, 0.0), ("celu", 2.0, 0.0), ("celu", -1.5, 0.0),
              ("softplus", 2.0, 5.0), ("softplus", 0.5, 1.0)]


def torch_act(name, x, gy, a, b):
    op = opdefs.UNARY_BY_NAME[name]
    xt = torch.tensor(x, requires_grad=True)
    yt = torch_oracle(op)(xt, **dict(zip(op.param_names, (a, b))))
    yt.backward(torch.tensor(gy))
    return yt.detach().numpy(), xt.grad.numpy()


def test_activation_table_format():
    assert set(K.ACTIVATIONS) == {op.name for op in opdefs.UNARY if not op.noise}
    for name, spec in K.ACTIVATIONS.items():
        assert spec["saves"] in ("x", "y", "xy", "")
        assert isinstance(spec["params"], tuple)
        for p in spec["params"]:
            assert isinstance(p[0], str) and isinstance(p[1], float)


@needs_torch
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("name,a,b", ACT_CASES)
def test_activation_vs_torch(name, a, b, dt):
    x = special_inputs(dt)
    if name == "elu" and a < 0 or name == "celu" and a < 0:
        x = x[np.abs(x) < 50]          # torch's own value for huge |x| is inf*0 noise
    if name in ("sinh", "cosh"):
        # near float64's overflow (|x| ~ 710) the value or gy * cosh(x) overflows at
        # different x for libm's and torch's formulas: compared below that
        x = x[~(np.abs(x) > 700) | np.isnan(x)]
    x = np.ascontiguousarray(x)
    gy = np.random.default_rng(1).standard_normal(x.size).astype(dt)
    y = np.empty_like(x)
    K.activation_forward(name, x, y, a, b)
    y_ref, gx_ref = torch_act(name, x, gy, a, b)
    if name == "gelu":
        # torch's float32 gelu(inf) is inf in its scalar tail and nan in its SIMD
        # body (which one a position gets depends on the CPU); the limit is inf
        y_ref = np.where(x == np.inf, np.inf, y_ref)
    close(y, y_ref, dt, 4)
    saves = K.ACTIVATIONS[name]["saves"]
    gx = np.full_like(x, 7.0)
    K.activation_backward(name, x if "x" in saves or name in ("elu", "celu") else None,
                          y if "y" in saves else None, gy, gx, a, b)
    keep = np.ones(x.size, bool)
    if name in ("relu6", "hardtanh", "elu", "selu", "celu", "hardswish"):
        # at NaN input torch's own backward differs between its SIMD body and scalar
        # tail (and between dtypes): gy, 0 or NaN; ours is checked in test_nan_backward
        keep = ~np.isnan(x)
    close(gx[keep], gx_ref[keep], dt, 20)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("name", ["elu", "selu", "celu"])
def test_elu_family_from_x_equals_from_y(name, dt):
    x = special_inputs(dt)[:2000]
    gy = np.random.default_rng(2).standard_normal(x.size).astype(dt)
    y = np.empty_like(x)
    K.activation_forward(name, x, y, 1.3)
    g1, g2 = np.empty_like(x), np.empty_like(x)
    K.activation_backward(name, None, y, gy, g1, 1.3)
    K.activation_backward(name, x, None, gy, g2, 1.3)
    close(g1, g2, dt, 50)


@pytest.mark.parametrize("dt", DTYPES)
def test_activation_in_place(dt):
    x = special_inputs(dt)
    ref = np.empty_like(x)
    K.activation_forward("sigmoid", x, ref)
    K.activation_forward("sigmoid", x, x)
    np.testing.assert_array_equal(x, ref)


@needs_torch
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softplus", "logsigmoid", "silu", "mish",
                                  "gelu_tanh", "exp"])
def test_stability_limits(name, dt):
    x = np.array([-1e4, -100, 100, 1e4], dtype=dt)
    a, b = (1.0, 20.0) if name == "softplus" else (0.0, 0.0)
    y = np.empty_like(x)
    K.activation_forward(name, x, y, a, b)
    y_ref, g_ref = torch_act(name, x, np.ones_like(x), a, b)
    if name != "exp":
        assert np.all(np.isfinite(y))
    close(y, y_ref, dt, 4)
    gx = np.empty_like(x)
    K.activation_backward(name, x, y, np.ones_like(x), gx, a, b)
    assert not np.any(np.isnan(gx))
    close(gx, g_ref, dt, 4)


def _ulps(got, ref, dt):
    """|got - ref| in units in the last place of ref (ref finite)."""
    return np.abs(got.astype(np.float64) - ref) / np.spacing(np.abs(ref).astype(dt)).astype(np.float64)


@pytest.mark.parametrize("dt", DTYPES)
def test_log_and_log1p_are_within_two_ulp(dt):
    """The vectorised log (and log1p built on it) over the whole range, subnormals
    included, and their special values as IEEE gives them."""
    info = np.finfo(dt)
    rng = np.random.default_rng(13)
    x = np.concatenate([np.exp(rng.uniform(np.log(float(info.smallest_subnormal)),
                                           np.log(float(info.max)), 200000)),
                        1 + rng.uniform(-1e-3, 1e-3, 20000), rng.uniform(0, 4, 20000)]).astype(dt)
    y = np.empty_like(x)
    K.activation_forward("log", x, y)
    ref = np.log(x.astype(np.longdouble)).astype(np.float64)
    assert _ulps(y, ref, dt).max() <= 2
    special = np.array([0.0, -0.0, -1.0, -np.inf, np.inf, np.nan, 1.0], dt)
    with np.errstate(all="ignore"):
        K.activation_forward("log", special, special_out := np.empty_like(special))
        np.testing.assert_array_equal(special_out, np.log(special))
    # log1p through softplus: softplus(x) = max(x, 0) + log1p(exp(-|x|))
    x = np.concatenate([rng.uniform(-40, 40, 100000), rng.uniform(-1e-3, 1e-3, 1000)]).astype(dt)
    K.activation_forward("softplus", x, y[:x.size], 1.0, 1e9)
    xl = x.astype(np.longdouble)
    ref = (np.maximum(xl, 0) + np.log1p(np.exp(-np.abs(xl)))).astype(np.float64)
    assert _ulps(y[:x.size], ref, dt).max() <= 3


@pytest.mark.parametrize("dt", DTYPES)
def test_expm1_in_elu_is_within_two_ulp(dt):
    """elu(x) = expm1(x) for x <= 0 (alpha 1): the vectorised expm1 on both sides of
    its switch at ln2/2, tiny and subnormal inputs included."""
    rng = np.random.default_rng(8)
    x = np.concatenate([-np.abs(rng.standard_normal(200000) * 5),
                        -(10.0 ** rng.uniform(np.log10(float(np.finfo(dt).smallest_subnormal)) + 1,
                                              1.5, 50000)),
                        -0.34657359 + rng.uniform(-1e-3, 1e-3, 1000)]).astype(dt)
    y = np.empty_like(x)
    K.activation_forward("elu", x, y, 1.0)
    ref = np.expm1(x.astype(np.longdouble)).astype(np.float64)
    assert _ulps(y, ref, dt).max() <= 2
    special = np.array([0.0, -0.0, -np.inf, np.nan, -800.0], dt)
    out = np.empty_like(special)
    K.activation_forward("elu", special, out, 1.0)
    np.testing.assert_array_equal(out, [0.0, -0.0, -1.0, np.nan, -1.0])
    assert np.signbit(out[1])


@pytest.mark.parametrize("dt", DTYPES)
def test_sin_cos_are_within_two_ulp(dt):
    """The vectorised sin/cos (and, beyond their reduction's range, libm's) on
    inputs up to 1e8, both sides of the switch at 1e6, and IEEE special values;
    their backward is gy * cos(x) and -gy * sin(x)."""
    rng = np.random.default_rng(6)
    x = np.concatenate([rng.uniform(-10, 10, 100000), rng.uniform(-1e6, 1e6, 50000),
                        10.0 ** rng.uniform(-30, 6, 20000), rng.uniform(-1e8, 1e8, 1000),
                        1e6 + np.arange(-3, 4), -1e6 + np.arange(-3, 4)]).astype(dt)
    gy = rng.standard_normal(x.size).astype(dt)
    xl = x.astype(np.longdouble)
    for name, fn, dfn in (("sin", np.sin, np.cos), ("cos", np.cos, lambda v: -np.sin(v))):
        y, gx = np.empty_like(x), np.empty_like(x)
        K.activation_forward(name, x, y)
        K.activation_backward(name, x, y, gy, gx)
        ref = fn(xl).astype(np.float64)
        keep = np.abs(ref) > 1e-300
        assert _ulps(y[keep], ref[keep], dt).max() <= 2
        dref = (gy * dfn(xl)).astype(np.float64)
        keep = np.abs(dref) > 1e-300
        assert _ulps(gx[keep], dref[keep], dt).max() <= 3
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan], dt)
    for name, fn in (("sin", np.sin), ("cos", np.cos)):
        out = np.empty_like(special)
        K.activation_forward(name, special, out)
        with np.errstate(invalid="ignore"):
            np.testing.assert_array_equal(out, fn(special))
        assert np.array_equal(np.signbit(out[:2]), np.signbit(fn(special[:2])))


def test_float32_erf_in_gelu_is_within_two_ulp_of_one():
    """float32 GELU's erf (fitted polynomials, not libm): its error, read through
    gelu(x) = x/2 (1 + erf(x/sqrt 2)), stays within two float32 ulps of 1.0 (the
    spacing of erf's values there) plus the final product's own rounding."""
    import math
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.uniform(-9, 9, 200000), 10.0 ** rng.uniform(-30, 0.5, 20000),
                        -(10.0 ** rng.uniform(-30, 0.5, 20000))]).astype(np.float32)
    y = np.empty_like(x)
    K.activation_forward("gelu", x, y)
    ref = np.array([0.5 * v * (1 + math.erf(v * np.float32(0.70710678118654752)))
                    for v in x.astype(np.float64)])
    bound = 0.5 * np.abs(x) * 2 * np.spacing(np.float32(1)) + 2 * np.spacing(np.abs(ref).astype(np.float32))
    assert np.all(np.abs(y - ref) <= bound)


def test_float64_erf_in_gelu_is_within_two_ulp():
    """float64 GELU's erf (fitted polynomials, not libm), read through
    gelu(x) = x/2 (1 + erf(x/sqrt 2)) against libm's erf: within two ulps of erf
    plus the final product's own rounding, on both sides of the switch at
    |x/sqrt 2| = 1, up to where erf rounds to 1, and at IEEE special values."""
    import math
    rng = np.random.default_rng(3)
    c = 0.70710678118654752
    x = np.concatenate([rng.uniform(-9, 9, 100000), 10.0 ** rng.uniform(-300, 0.9, 20000),
                        -(10.0 ** rng.uniform(-300, 0.9, 20000)), np.linspace(0.9, 1.1, 4001) / c,
                        np.linspace(-6.2, -5.8, 2001) / c])
    y = np.empty_like(x)
    K.activation_forward("gelu", x, y)
    erf_ref = np.array([math.erf(v * c) for v in x])
    ref = 0.5 * x * (1 + erf_ref)
    bound = np.abs(x) * np.spacing(np.abs(erf_ref)) + 2 * np.spacing(np.abs(ref))
    assert np.all(np.abs(y - ref) <= bound)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-310, -1e-310])
    out = np.empty_like(special)
    K.activation_forward("gelu", special, out)
    np.testing.assert_array_equal(out, [0.0, -0.0, np.inf, np.nan, np.nan, 5e-311, -5e-311])
    assert np.signbit(out[1])


@pytest.mark.parametrize("dt", DTYPES)
def test_exp_tanh_accuracy_dense(dt):
    """The vectorised exp/tanh polynomials: dense sweep including the subnormal range."""
    lim = 88.0 if dt == np.float32 else 709.0
    x = np.linspace(-lim - 15, lim, 200001).astype(dt)
    y = np.empty_like(x)
    K.activation_forward("exp", x, y)
    close(y, np.exp(x.astype(np.float64)).astype(dt), dt, 3)
    x = np.linspace(-12, 12, 200001).astype(dt)
    K.activation_forward("tanh", x, y[:x.size])
    close(y[:x.size], np.tanh(x.astype(np.float64)).astype(dt), dt, 3)


@pytest.mark.parametrize("dt", DTYPES)
def test_nan_propagates(dt):
    x = np.full(8, np.nan, dtype=dt)
    for name in K.ACTIVATIONS:
        if name == "sign":
            continue        # PyTorch's sign(NaN) is 0 (checked against torch in test_pointwise_math)
        a, b = ([p[1] for p in K.ACTIVATIONS[name]["params"]] + [0.0, 0.0])[:2]
        y = np.zeros_like(x)
        K.activation_forward(name, x, y, a, b)
        assert np.all(np.isnan(y)), name


@pytest.mark.parametrize("dt", DTYPES)
def test_nan_backward_is_deterministic(dt):
    """NaN inputs never crash and give the same gradient in every position."""
    x = np.full(37, np.nan, dtype=dt)
    gy = np.ones_like(x)
    for name in K.ACTIVATIONS:
        a, b = ([p[1] for p in K.ACTIVATIONS[name]["params"]] + [0.0, 0.0])[:2]
        y, gx = np.empty_like(x), np.empty_like(x)
        K.activation_forward(name, x, y, a, b)
        K.activation_backward(name, x, y, gy, gx, a, b)
        np.testing.assert_array_equal(gx, np.full_like(gx, gx[0]))


@needs_torch
@pytest.mark.parametrize("dt", DTYPES)
def test_rrelu_prelu(dt):
    rng = np.random.default_rng(3)
    x = special_inputs(dt)[:1500].copy()
    x[:10] = 0
    slopes = rng.uniform(0.1, 0.3, x.size).astype(dt)
    y = np.empty_like(x)
    K.rrelu_forward(x, slopes, y)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.where(xt > 0, xt, xt * torch.tensor(slopes))     # torch: noise = slope at x <= 0
    gy = rng.standard_normal(x.size).astype(dt)
    yt.backward(torch.tensor(gy))
    close(y, yt.detach().numpy(), dt)
    gx = np.empty_like(x)
    K.rrelu_backward(x, slopes, gy, gx)
    close(gx, xt.grad.numpy(), dt)

    for nw in (3, 1):
        x = rng.standard_normal((4, 3, 5)).astype(dt)
        x[0, 0, 0] = 0
        w = rng.uniform(-0.5, 0.5, nw).astype(dt)
        y = np.empty_like(x)
        K.prelu_forward(x, w, y, 5, 3)
        xt = torch.tensor(x, requires_grad=True)
        wt = torch.tensor(w, requires_grad=True)
        yt = F.prelu(xt, wt)
        gy = rng.standard_normal(x.shape).astype(dt)
        yt.backward(torch.tensor(gy))
        close(y, yt.detach().numpy(), dt)
        gx, gw = np.empty_like(x), np.empty_like(w)
        K.prelu_backward(x, w, gy, gx, gw, 5, 3)
        close(gx, xt.grad.numpy(), dt)
        close(gw, wt.grad.numpy(), dt, 10)


# ---------------------------------------------------------------------------
# softmax family
# ---------------------------------------------------------------------------
@needs_torch
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("cols", [19, 10, 1])      # under 16: rows a block at a time
def test_softmax_vs_torch(log, dt, cols):
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((37, cols)) * 10).astype(dt)
    x[0, cols // 2] = 1e4
    x[1] = -1e4
    x[2, :5] = -np.inf
    gy = rng.standard_normal(x.shape).astype(dt)
    xt = torch.tensor(x, requires_grad=True)
    yt = (F.log_softmax if log else F.softmax)(xt, dim=-1)
    yt.backward(torch.tensor(gy))
    y = np.empty_like(x)
    (K.log_softmax_forward if log else K.softmax_forward)(x, y)
    close(y, yt.detach().numpy(), dt, 10)
    gx = np.empty_like(x)
    (K.log_softmax_backward if log else K.softmax_backward)(y, gy, gx)
    close(gx, xt.grad.numpy(), dt, 10)


@needs_torch
@pytest.mark.parametrize("dt", DTYPES)
def test_softmax_all_neg_inf_row_is_nan(dt):
    x = np.full((2, 4), -np.inf, dtype=dt)
    x[1] = 0
    for fn, tfn in ((K.softmax_forward, F.softmax), (K.log_softmax_forward, F.log_softmax)):
        y = np.empty_like(x)
        fn(x, y)
        ref = tfn(torch.tensor(x), dim=-1).numpy()
        assert np.all(np.isnan(ref[0])) and np.all(np.isnan(y[0]))
        close(y[1], ref[1], dt)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("cols", [37, 101, 10, 3])
def test_softmax_row_with_a_nan_is_nan_wherever_the_nan_sits(dt, cols):
    # 37 columns: the short-row max loop; 101: vector body and tail of the vectorised
    # max; 10 and 3: rows under 16 columns, a block of rows at a time
    x = np.random.default_rng(5).standard_normal((cols, cols)).astype(dt)
    for i in range(cols):
        x[i, i] = np.nan
    x = np.vstack([x, np.zeros((1, cols), dt)])      # and one clean row
    for fn in (K.softmax_forward, K.log_softmax_forward):
        y = np.empty_like(x)
        fn(x, y)
        assert np.all(np.isnan(y[:cols])) and not np.any(np.isnan(y[cols]))


# ---------------------------------------------------------------------------
# cross entropy / nll
# ---------------------------------------------------------------------------
CE_CASES = [(w, ii, ls, red) for w in (False, True) for ii in (-100, 2) for ls in (0.0, 0.1)
            for red in ("mean", "sum", "none")]


def _ce_data(dt, N=23, C=7, seed=5):
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal((N, C)) * 3).astype(dt)
    logits[0, 0] = 80
    target = rng.integers(0, C, N).astype(np.int64)
    target[:3] = 2
    weight = rng.uniform(0.2, 2.0, C).astype(dt)
    return logits, target, weight


def _gout(red, N, dt, rng):
    if red == "none":
        return rng.standard_normal(N).astype(dt)
    return float(rng.uniform(0.5, 2))


@needs_torch
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("use_w,ignore,ls,red", CE_CASES)
def test_cross_entropy_vs_torch(use_w, ignore, ls, red, dt):
    logits, target, weight = _ce_data(dt)
    N, C = logits.shape
    w = weight if use_w else None
    lsm = np.empty_like(logits)
    out = K.cross_entropy_forward(logits, target, w, ignore, ls, red, lsm)
    xt = torch.tensor(logits, requires_grad=True)
    ref = F.cross_entropy(xt, torch.tensor(target), weight=None if w is None else torch.tensor(w),
                          ignore_index=ignore, label_smoothing=ls, reduction=red)
    gout = _gout(red, N, dt, np.random.default_rng(6))
    ref.backward(torch.tensor(gout, dtype=ref.dtype) if red == "none" else torch.tensor(gout, dtype=ref.dtype))
    if red == "none":
        assert isinstance(out, np.ndarray) and out.dtype == dt and out.shape == (N,)
    else:
        assert isinstance(out, float)
    close(np.asarray(out), ref.detach().numpy(), dt, 10)
    close(lsm, F.log_softmax(torch.tensor(logits), -1).numpy(), dt, 10)
    g = np.full_like(logits, 3.0)
    K.cross_entropy_backward(lsm, target, w, ignore, ls, red, gout, g)
    close(g, xt.grad.numpy(), dt, 20)


@needs_torch
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("use_w,ls,red", [(w, ls, r) for w in (False, True) for ls in (0.0, 0.2)
                                           for r in ("mean", "sum", "none")])
def test_cross_entropy_prob_targets(use_w, ls, red, dt):
    logits, _, weight = _ce_data(dt)
    N, C = logits.shape
    rng = np.random.default_rng(7)
    probs = rng.dirichlet(np.ones(C), N).astype(dt)
    w = weight if use_w else None
    lsm = np.empty_like(logits)
    out = K.cross_entropy_prob_forward(logits, probs, w, ls, red, lsm)
    xt = torch.tensor(logits, requires_grad=True)
    ref = F.cross_entropy(xt, torch.tensor(probs), weight=None if w is None else torch.tensor(w),
                          label_smoothing=ls, reduction=red)
    gout = _gout(red, N, dt, rng)
    ref.backward(torch.tensor(gout, dtype=ref.dtype))
    close(np.asarray(out), ref.detach().numpy(), dt, 10)
    g = np.empty_like(logits)
    K.cross_entropy_prob_backward(lsm, probs, w, ls, red, gout, g)
    close(g, xt.grad.numpy(), dt, 20)


@needs_torch
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("use_w,ignore,red", [(w, ii, r) for w in (False, True) for ii in (-100, 1)
                                               for r in ("mean", "sum", "none")])
def test_nll_loss_vs_torch(use_w, ignore, red, dt):
    logits, target, weight = _ce_data(dt)
    target[5] = 1
    logp = F.log_softmax(torch.tensor(logits), -1).numpy()
    w = weight if use_w else None
    out = K.nll_loss_forward(logp, target, w, ignore, red)
    lt = torch.tensor(logp, requires_grad=True)
    ref = F.nll_loss(lt, torch.tensor(target), weight=None if w is None else torch.tensor(w),
                     ignore_index=ignore, reduction=red)
    gout = _gout(red, logp.shape[0], dt, np.random.default_rng(8))
    ref.backward(torch.tensor(gout, dtype=ref.dtype))
    close(np.asarray(out), ref.detach().numpy(), dt, 10)
    g = np.full_like(logp, 5.0)
    K.nll_loss_backward(target, w, ignore, red, gout, g)
    close(g, lt.grad.numpy(), dt, 10)


@needs_torch
def test_all_ignored_mean_is_nan():
    logits, target, _ = _ce_data(np.float64)
    target[:] = -100
    lsm = np.empty_like(logits)
    out = K.cross_entropy_forward(logits, target, None, -100, 0.0, "mean", lsm)
    ref = F.cross_entropy(torch.tensor(logits), torch.tensor(target))
    assert np.isnan(out) and torch.isnan(ref)


@pytest.mark.parametrize("bad", [7, -1, 1000])
def test_out_of_range_target_raises(bad):
    logits, target, _ = _ce_data(np.float32)
    target[4] = bad
    lsm = np.empty_like(logits)
    with pytest.raises(IndexError, match=str(bad)):
        K.cross_entropy_forward(logits, target, None, -100, 0.0, "mean", lsm)
    with pytest.raises(IndexError, match=str(bad)):
        K.nll_loss_forward(lsm, target, None, -100, "sum")
    with pytest.raises(IndexError, match=str(bad)):
        K.cross_entropy_backward(lsm, target, None, -100, 0.0, "mean", 1.0, np.empty_like(lsm))


def test_validation_errors():
    x32 = np.zeros(10, np.float32)
    x64 = np.zeros(10, np.float64)
    with pytest.raises(TypeError, match="float64"):
        K.activation_forward("relu", x32, x64)
    with pytest.raises(TypeError):
        K.activation_forward("relu", np.zeros(10, np.int32), np.zeros(10, np.int32))
    with pytest.raises(ValueError, match="11"):
        K.activation_forward("relu", x32, np.zeros(11, np.float32))
    with pytest.raises(ValueError, match="contiguous"):
        K.activation_forward("relu", np.zeros(20, np.float32)[::2], x32)
    with pytest.raises(ValueError, match="nope"):
        K.activation_forward("nope", x32, x32)
    with pytest.raises(ValueError, match="needs y"):
        K.activation_backward("sigmoid", x32, None, x32, x32)
    with pytest.raises(ValueError, match="2-D"):
        K.softmax_forward(x32, x32)
    logits = np.zeros((4, 3), np.float32)
    with pytest.raises(TypeError, match="int64"):
        K.cross_entropy_forward(logits, np.zeros(4, np.int32), None, -100, 0.0, "mean", logits.copy())
    with pytest.raises(ValueError, match="reduction"):
        K.cross_entropy_forward(logits, np.zeros(4, np.int64), None, -100, 0.0, "avg", logits.copy())
    with pytest.raises(ValueError, match="weight"):
        K.cross_entropy_forward(logits, np.zeros(4, np.int64), np.ones(4, np.float32), -100, 0.0,
                                "mean", logits.copy())
    with pytest.raises(ValueError, match="entries"):
        K.sgd_step([x32], [], [None], 0.1, 0.0, 0.0, 0.0, False, True)
    with pytest.raises(ValueError, match="grads\\[0\\]"):
        K.adam_step([x32], [np.zeros(9, np.float32)], [x32.copy()], [x32.copy()],
                    1e-3, 0.9, 0.999, 1e-8, 0.0, False, 1)
    ro = np.zeros(10, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        K.activation_forward("relu", x32, ro)


# ---------------------------------------------------------------------------
# elementwise losses
# ---------------------------------------------------------------------------
def _torch_loss(name, x, t, a):
    if name == "mse":
        return F.mse_loss(x, t, reduction="none")
    if name == "l1":
        return F.l1_loss(x, t, reduction="none")
    if name == "smooth_l1":
        return F.smooth_l1_loss(x, t, reduction="none", beta=a)
    if name == "huber":
        return F.huber_loss(x, t, reduction="none", delta=a)
    if name == "binary_cross_entropy":
        return F.binary_cross_entropy(x, t, reduction="none")
    if name == "binary_cross_entropy_with_logits":
        return F.binary_cross_entropy_with_logits(x, t, reduction="none")
    if name == "kl_div":
        return F.kl_div(x, t, reduction="none", log_target=bool(a))


LOSS_CASES = [("mse", 0.0), ("l1", 0.0), ("smooth_l1", 1.0), ("smooth_l1", 0.5), ("smooth_l1", 0.0),
              ("huber", 1.0), ("huber", 2.5), ("binary_cross_entropy", 0.0),
              ("binary_cross_entropy_with_logits", 0.0), ("kl_div", 0.0), ("kl_div", 1.0)]


def _loss_inputs(name, a, dt, rng, n=3000):
    x = (rng.standard_normal(n) * 3).astype(dt)
    t = (rng.standard_normal(n) * 3).astype(dt)
    t[:20] = x[:20]                         # kinks: x == t
    t[20:40] = x[20:40] + dt(a)             # |x - t| == beta / delta
    if name == "binary_cross_entropy":
        x = rng.uniform(0.001, 0.999, n).astype(dt)
        x[:3] = [0.0, 1.0, 1e-30]
        t = rng.uniform(0, 1, n).astype(dt)
    if name == "binary_cross_entropy_with_logits":
        x[:4] = [100, -100, 1e4, -1e4]
        t = rng.uniform(0, 1, n).astype(dt)
    if name == "kl_div":
        x = -np.abs(x)
        t = rng.uniform(0, 1, n).astype(dt) if not a else -np.abs(t)
        if not a:
            t[:10] = 0
    return np.ascontiguousarray(x), np.ascontiguousarray(t)


@needs_torch
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("name,a", LOSS_CASES)
def test_loss_vs_torch(name, a, dt):
    rng = np.random.default_rng(9)
    x, t = _loss_inputs(name, a, dt, rng)
    g = rng.standard_normal(x.size).astype(dt)
    out = np.empty_like(x)
    K.loss_forward(name, x, t, out, a)
    xt = torch.tensor(x, requires_grad=True)
    tt = torch.tensor(t, requires_grad=True)
    ref = _torch_loss(name, xt, tt, a)
    ref.backward(torch.tensor(g))
    close(out, ref.detach().numpy(), dt, 10)
    gx, gt = np.empty_like(x), np.empty_like(x)
    K.loss_backward(name, x, t, g, gx, gt, a)
    close(gx, xt.grad.numpy(), dt, 10)
    keep = np.isfinite(tt.grad.numpy())
    close(gt[keep], tt.grad.numpy()[keep], dt, 10)
    gx2 = np.empty_like(x)
    K.loss_backward(name, x, t, g, gx2, None, a)
    np.testing.assert_array_equal(gx2, gx)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("n", [0, 1, 1023, 1025, 70001])
def test_loss_sum_in_the_kernel(n, dt, restore_threads):
    rng = np.random.default_rng(n)
    x, t = rng.standard_normal(n).astype(dt), rng.standard_normal(n).astype(dt)
    per_element = np.empty_like(x)
    for name, a in LOSS_CASES:
        K.loss_forward(name, x, t, per_element, a)
        K.set_num_threads(1)
        total = K.loss_forward(name, x, t, None, a)
        K.set_num_threads(2)
        assert K.loss_forward(name, x, t, None, a) == total or np.isnan(total)
        assert isinstance(total, float)
        np.testing.assert_allclose(total, per_element.astype(np.float64).sum(),
                                   rtol=1e-12, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("dt", DTYPES)
def test_bce_logits_pos_weight(dt):
    rng = np.random.default_rng(10)
    x = (rng.standard_normal((50, 4)) * 5).astype(dt)
    x[0] = [100, -100, 1e4, -1e4]
    t = rng.uniform(0, 1, (50, 4)).astype(dt)
    pw = rng.uniform(0.5, 3, 4).astype(dt)
    pwb = np.ascontiguousarray(np.broadcast_to(pw, x.shape))
    g = rng.standard_normal(x.shape).astype(dt)
    xt = torch.tensor(x, requires_grad=True)
    tt = torch.tensor(t, requires_grad=True)
    ref = F.binary_cross_entropy_with_logits(xt, tt, pos_weight=torch.tensor(pw), reduction="none")
    ref.backward(torch.tensor(g))
    out = np.empty_like(x)
    K.bce_logits_forward(x, t, pwb, out)
    close(out, ref.detach().numpy(), dt, 10)
    gx, gt = np.empty_like(x), np.empty_like(x)
    K.bce_logits_backward(x, t, pwb, g, gx, gt)
    close(gx, xt.grad.numpy(), dt, 10)
    close(gt, tt.grad.numpy(), dt, 10)


# ---------------------------------------------------------------------------
# optimisers
# ---------------------------------------------------------------------------
def _params(dt, seed=11):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dt) for s in (37, 1000, 5)]


def _grads(params, step, dt):
    rng = np.random.default_rng(1000 + step)
    return [(rng.standard_normal(p.size) * 0.1 + 0.05 * p).astype(dt) for p in params]


@needs_torch
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("mom,damp,wd,nest", [(0.0, 0.0, 0.0, False), (0.9, 0.0, 1e-2, False),
                                              (0.9, 0.1, 0.0, False), (0.8, 0.0, 1e-3, True)])
def test_sgd_matches_torch(mom, damp, wd, nest, dt):
    ps = _params(dt)
    tps = [torch.tensor(p.copy(), requires_grad=True) for p in ps]
    opt = torch.optim.SGD(tps, lr=0.05, momentum=mom, dampening=damp, weight_decay=wd,
                          nesterov=nest, foreach=False)
    bufs = [np.zeros_like(p) if mom else None for p in ps]
    for step in range(150):
        gs = _grads(ps, step, dt)
        for tp, g in zip(tps, gs):
            tp.grad = torch.tensor(g)
        opt.step()
        K.sgd_step(ps, gs, bufs, 0.05, mom, damp, wd, nest, step == 0)
    for p, tp in zip(ps, tps):
        close(p, tp.detach().numpy(), dt, 50 if dt == np.float32 else 100)


@needs_torch
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("wd,decoupled", [(0.0, False), (1e-2, False), (1e-2, True)])
def test_adam_matches_torch(wd, decoupled, dt):
    ps = _params(dt)
    tps = [torch.tensor(p.copy(), requires_grad=True) for p in ps]
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    opt = cls(tps, lr=1e-2, betas=(0.9, 0.99), eps=1e-8, weight_decay=wd, foreach=False)
    ms = [np.zeros_like(p) for p in ps]
    vs = [np.zeros_like(p) for p in ps]
    for step in range(1, 151):
        gs = _grads(ps, step, dt)
        for tp, g in zip(tps, gs):
            tp.grad = torch.tensor(g)
        opt.step()
        K.adam_step(ps, gs, ms, vs, 1e-2, 0.9, 0.99, 1e-8, wd, decoupled, step)
    for p, tp in zip(ps, tps):
        close(p, tp.detach().numpy(), dt, 100)


# ---------------------------------------------------------------------------
# threads: bitwise identical results at 1 and 2 threads above the threshold
# ---------------------------------------------------------------------------
@pytest.fixture
def restore_threads():
    # kernels split from 4096 elements on here: the default threshold (2^20)
    # would leave these tests' arrays serial at any thread count
    n = K.get_num_threads()
    old = K._set_parallel_threshold(4096)
    yield
    K._set_parallel_threshold(old)
    K.set_num_threads(n)


@pytest.mark.parametrize("dt", DTYPES)
def test_threads_bitwise_identical(dt, restore_threads):
    n = 6 * 16384 + 123                 # several of run_blocks' blocks per thread
    rng = np.random.default_rng(12)
    x = (rng.standard_normal(n) * 10).astype(dt)
    gy = rng.standard_normal(n).astype(dt)
    t = rng.uniform(0, 1, n).astype(dt)
    logits = rng.standard_normal((n // 50, 50)).astype(dt)
    target = rng.integers(0, 50, n // 50).astype(np.int64)

    def run():
        res = []
        for name in ("sigmoid", "tanh", "gelu", "mish", "softplus"):
            a, b = ([p[1] for p in K.ACTIVATIONS[name]["params"]] + [0.0, 0.0])[:2]
            y, gx = np.empty_like(x), np.empty_like(x)
            K.activation_forward(name, x, y, a, b)
            K.activation_backward(name, x, y, gy, gx, a, b)
            res += [y, gx]
        out = np.empty_like(x)
        K.loss_forward("binary_cross_entropy_with_logits", x, t, out)
        res.append(out)
        res.append(np.array([K.loss_forward("mse", x, t, None),       # summed in the kernel
                             K.bce_logits_forward(x, t, None, None)]))
        sm = np.empty_like(logits)
        K.softmax_forward(logits, sm)
        short = logits.reshape(-1, 10)         # short rows: a block of rows at a time
        short_sm, short_lsm = np.empty_like(short), np.empty_like(short)
        K.softmax_forward(short, short_sm)
        short_loss = K.cross_entropy_forward(short, target.repeat(5) % 10, None, -100, 0.0,
                                             "sum", short_lsm)
        res += [short_sm, short_lsm, np.array([short_loss])]
        lsm = np.empty_like(logits)
        loss = K.cross_entropy_forward(logits, target, None, -100, 0.1, "mean", lsm)
        g = np.empty_like(logits)
        K.cross_entropy_backward(lsm, target, None, -100, 0.1, "mean", 1.0, g)
        ps = [x.copy()]
        K.adam_step(ps, [gy], [np.zeros_like(x)], [np.zeros_like(x)], 1e-3, 0.9, 0.999, 1e-8,
                    0.01, True, 1)
        return res + [sm, lsm, g, np.array([loss]), ps[0]]

    K.set_num_threads(1)
    r1 = run()
    K.set_num_threads(2)
    r2 = run()
    for a, b in zip(r1, r2):
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))


def _misaligned(shape, dt, offset):
    """An uninitialised C-contiguous array starting `offset` elements into its buffer."""
    n = int(np.prod(shape))
    return np.empty(n + offset, dtype=dt)[offset:].reshape(shape)


def _run_every_kernel(dt, offset):
    """Outputs of the kernels that can write with non-temporal stores."""
    rng = np.random.default_rng(21)
    out = lambda shape: _misaligned(shape, dt, offset)
    res = []
    x = (rng.standard_normal(5003) * 4).astype(dt)
    gy = rng.standard_normal(x.size).astype(dt)
    for name, a, b in ACT_CASES:
        y, gx = out(x.shape), out(x.shape)
        K.activation_forward(name, x, y, a, b)
        K.activation_backward(name, x, y, gy, gx, a, b)
        res += [y, gx]
    for name, a in LOSS_CASES:
        lx, lt = _loss_inputs(name, a, dt, rng)
        o, gx, gt = out(lx.shape), out(lx.shape), out(lx.shape)
        K.loss_forward(name, lx, lt, o, a)
        K.loss_backward(name, lx, lt, gy[:lx.size], gx, gt, a)
        res += [o, gx, gt]
    # rows of 37 columns, and rows too long for one L1 buffer (4100 doubles > 32 KiB)
    for cols in (37, 4100):
        m = (rng.standard_normal((9, cols)) * 3).astype(dt)
        g = rng.standard_normal(m.shape).astype(dt)
        target = rng.integers(0, cols, 9).astype(np.int64)
        target[0] = -100
        sm, lsm, gsm, glsm, gce, gnll = (out(m.shape) for _ in range(6))
        K.softmax_forward(m, sm)
        K.softmax_backward(sm, g, gsm)
        K.log_softmax_forward(m, lsm)
        K.log_softmax_backward(lsm, g, glsm)
        ce_lsm = out(m.shape)
        loss = K.cross_entropy_forward(m, target, None, -100, 0.1, "none", ce_lsm)
        K.cross_entropy_backward(ce_lsm, target, None, -100, 0.1, "none", g[:, 0].copy(), gce)
        K.nll_loss_backward(target, None, -100, "mean", 1.0, gnll)
        res += [sm, lsm, gsm, glsm, ce_lsm, loss, gce, gnll]
    px = rng.standard_normal((4, 3, 50)).astype(dt)
    w = rng.uniform(-0.5, 0.5, 3).astype(dt)
    py, pgx, pgw = out(px.shape), out(px.shape), out(w.shape)
    K.prelu_forward(px, w, py, 50, 3)
    K.prelu_backward(px, w, rng.standard_normal(px.shape).astype(dt), pgx, pgw, 50, 3)
    return res + [py, pgx, pgw]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("offset", [0, 1])
def test_streamed_outputs_equal_cached_outputs(dt, threads, offset, restore_threads):
    # Large outputs are written through an L1 buffer with non-temporal stores;
    # a threshold of 0 sends every output that way (unaligned starts included).
    K.set_num_threads(threads)
    old_parallel = K._set_parallel_threshold(64)       # blocks on both threads
    old = K._set_stream_threshold(1 << 62)
    try:
        cached = _run_every_kernel(dt, offset)
        assert K._set_stream_threshold(0) == 1 << 62
        streamed = _run_every_kernel(dt, offset)
    finally:
        K._set_stream_threshold(old)
        K._set_parallel_threshold(old_parallel)
    assert old == K.STREAM_THRESHOLD
    for a, b in zip(cached, streamed):
        np.testing.assert_array_equal(np.asarray(a).view(np.uint8), np.asarray(b).view(np.uint8))


def test_thread_setter():
    n = K.get_num_threads()
    try:
        K.set_num_threads(3)
        assert K.get_num_threads() == 3
        with pytest.raises(ValueError):
            K.set_num_threads(0)
    finally:
        K.set_num_threads(n)


def test_large_outputs_are_recycled_without_sharing():
    K.empty_cache()
    big = np.ones((1 << 17) // 4, np.float32)            # 128 KiB: the pool's smallest size
    a = K.empty_like(big)
    assert a.shape == big.shape and a.dtype == big.dtype and a.flags.c_contiguous
    b = K.empty_like(big)
    assert a.ctypes.data != b.ctypes.data                # live arrays never share a block
    pa = a.ctypes.data
    del a
    assert K.pool_stats()[0] == big.nbytes
    reused_before = K.pool_stats()[1]
    c = K.empty_like(big)
    assert c.ctypes.data == pa and K.pool_stats()[1] == reused_before + 1
    c[:] = 3.0                                           # the block is fully writable
    small = K.empty_like(np.ones(10, np.float64))        # below the pool: numpy's own
    assert small.shape == (10,) and small.dtype == np.float64
    del b, c
    K.empty_cache()
    assert K.pool_stats()[0] == 0


def test_pool_holds_a_bounded_amount():
    K.empty_cache()
    arrays = [K.empty_like(np.empty((s << 20) // 8)) for s in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)]
    while arrays:                                        # ten blocks freed: the oldest leave
        arrays.pop(0)
    held, _ = K.pool_stats()
    assert held == (3 + 4 + 5 + 6 + 7 + 8 + 9 + 10) << 20     # 8 slots, newest kept
    huge = K.empty_like(np.empty((300 << 20) // 8))     # larger than the pool's 256 MiB cap
    del huge
    assert K.pool_stats()[0] == held
    K.empty_cache()


def test_activations_reuse_their_buffers_across_steps():
    import fastad
    K.empty_cache()
    x = fastad.randn(1 << 20, requires_grad=True)
    g = fastad.randn(1 << 20)
    reused = K.pool_stats()[1]
    for _ in range(3):
        y = fastad.sigmoid(x)
        y.backward(g)
        expected = g.numpy() * y.detach().numpy() * (1 - y.detach().numpy())
        np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-6, atol=1e-7)
        x.grad = None
        del y
    assert K.pool_stats()[1] >= reused + 4               # y and the gradient, steps 2 and 3
    K.empty_cache()


# ---------------------------------------------------------------------------
# x @ w.T + b through numpy's own OpenBLAS (one GEMM with beta = 1)
# ---------------------------------------------------------------------------
def test_numpy_gemm_is_found_where_numpy_ships_openblas():
    import fastad
    if fastad._numpy_blas_symbol("scipy_cblas_sgemm64_", "cblas_sgemm64_") is None:
        pytest.skip("this numpy does not bundle an ILP64 OpenBLAS")
    assert K.blas_available()


@pytest.fixture(params=[0, 1, 2], ids=["by-shape", "one-gemm", "x-transposed"])
def linear_variant(request):
    K._set_linear_variant(request.param)
    yield request.param
    K._set_linear_variant(0)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("m,k,n", [(5, 7, 3), (64, 784, 128), (1, 1, 1), (0, 4, 3), (4, 0, 3),
                                   (4, 3, 0), (8, 8, 8), (17, 9, 23), (9, 70, 64), (64, 64, 65)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_forward_matches_numpy(m, k, n, bias, dt, linear_variant):
    # x-transposed: the 8 x 8 transposes' tiles and their partial edges, both ways
    if not K.blas_available():
        pytest.skip("numpy's BLAS not found: linear_forward declines")
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    x, w = rng.standard_normal((m, k)).astype(dt), rng.standard_normal((n, k)).astype(dt)
    b = rng.standard_normal(n).astype(dt) if bias else None
    out = np.full((m, n), np.nan, dtype=dt)
    assert K.linear_forward(x, w, b, out) is True
    ref = x @ w.T + (b if bias else 0)
    close(out, ref, dt, 100)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("ta,tb", [(False, False), (False, True), (True, False), (True, True)])
@pytest.mark.parametrize("m,k,n", [(5, 7, 3), (1, 1, 1), (0, 4, 3), (4, 0, 3), (4, 3, 0),
                                   (33, 784, 65)])
def test_matmul_into_matches_numpy(m, k, n, ta, tb, dt):
    if not K.blas_available():
        pytest.skip("numpy's BLAS not found: matmul_into declines")
    rng = np.random.default_rng(m + 10 * k + 100 * n)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dt)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dt)
    out = np.full((m, n), np.nan, dtype=dt)
    assert K.matmul_into(a, b, out, ta, tb) is True
    close(out, (a.T if ta else a) @ (b.T if tb else b), dt, 100)


def test_matmul_into_gives_the_same_bits_at_one_and_two_threads(restore_threads):
    # (512, 784) x (784, 1024): column blocks, run in turn at 1 thread and shared at
    # 2 (OpenBLAS's Haswell kernels round a block differently from the one call,
    # so the blocks must not depend on the thread count)
    if not K.blas_available():
        pytest.skip("numpy's BLAS not found: matmul_into declines")
    import fastad
    rng = np.random.default_rng(3)
    a = rng.standard_normal((512, 784)).astype(np.float32)
    b = rng.standard_normal((1024, 784)).astype(np.float32)
    outs = []
    for threads in (1, 2):
        fastad.set_num_threads(threads)
        outs.append(np.empty((512, 1024), np.float32))
        K.matmul_into(a, b, outs[-1], False, True)
    np.testing.assert_array_equal(outs[0].view(np.uint8), outs[1].view(np.uint8))
    close(outs[0], a @ b.T, np.float32, 100)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("batch, d_in, d_out", [(512, 300, 1024), (256, 256, 256), (8, 30, 20)])
def test_matmul_pair_into_is_two_matmul_intos(dt, batch, d_in, d_out, restore_threads):
    """A linear layer's backward pair (g @ w, g.T @ x): at 2 threads both large
    GEMMs run at once (each whole on its thread), small ones one after the other;
    the same bits as matmul_into's at 1 thread either way."""
    if not K.blas_available():
        pytest.skip("numpy's BLAS not found: matmul_into declines")
    import fastad
    rng = np.random.default_rng(batch + d_in)
    g = rng.standard_normal((batch, d_out)).astype(dt)
    w = rng.standard_normal((d_out, d_in)).astype(dt)
    x = rng.standard_normal((batch, d_in)).astype(dt)
    fastad.set_num_threads(1)
    gx1, gw1 = np.empty((batch, d_in), dt), np.empty((d_out, d_in), dt)
    K.matmul_into(g, w, gx1)
    K.matmul_into(g, x, gw1, True, False)
    close(gx1, g @ w, dt, 100)
    close(gw1, g.T @ x, dt, 100)
    for threads in (1, 2):
        fastad.set_num_threads(threads)
        gx, gw = np.full_like(gx1, np.nan), np.full_like(gw1, np.nan)
        assert K.matmul_pair_into(g, w, gx, False, False, g, x, gw, True, False) is True
        np.testing.assert_array_equal(gx.view(np.uint8), gx1.view(np.uint8))
        np.testing.assert_array_equal(gw.view(np.uint8), gw1.view(np.uint8))


def test_matmul_pair_into_checks_both_products():
    if not K.blas_available():
        pytest.skip("numpy's BLAS not found: matmul_into declines")
    a, b, out = np.ones((4, 3), np.float32), np.ones((3, 2), np.float32), np.empty((4, 2), np.float32)
    with pytest.raises(ValueError, match="inner dimensions differ: 3 and 2"):
        K.matmul_pair_into(a, b, out, False, False, a, b, out, False, True)
    with pytest.raises(TypeError, match="float32"):
        K.matmul_pair_into(a, b, out, False, False, a.astype(np.float64), b, out, False, False)


def test_matmul_into_rejects_bad_arrays():
    if not K.blas_available():
        pytest.skip("numpy's BLAS not found: matmul_into declines")
    a, b = np.ones((4, 3), np.float32), np.ones((3, 2), np.float32)
    with pytest.raises(ValueError, match="inner dimensions"):
        K.matmul_into(a, np.ones((2, 2), np.float32), np.empty((4, 2), np.float32))
    with pytest.raises(ValueError, match=r"\(4, 2\)"):
        K.matmul_into(a, b, np.empty((4, 3), np.float32))
    with pytest.raises(TypeError, match="float64"):
        K.matmul_into(a, b.astype(np.float64), np.empty((4, 2), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        K.matmul_into(np.ones((3, 4), np.float32).T, b, np.empty((4, 2), np.float32))


def test_linear_forward_variant_is_validated():
    with pytest.raises(ValueError, match="3"):
        K._set_linear_variant(3)


def test_linear_forward_rejects_bad_arrays():
    if not K.blas_available():
        pytest.skip("numpy's BLAS not found: linear_forward declines")
    x, w, b = np.ones((4, 3), np.float32), np.ones((2, 3), np.float32), np.ones(2, np.float32)
    out = np.empty((4, 2), np.float32)
    with pytest.raises(ValueError, match="C-contiguous"):
        K.linear_forward(np.ones((3, 4), np.float32).T, w, b, out)
    with pytest.raises(TypeError, match="float64"):
        K.linear_forward(x, w.astype(np.float64), b, out)
    with pytest.raises(ValueError, match="columns"):
        K.linear_forward(x, np.ones((2, 5), np.float32), b, out)
    with pytest.raises(ValueError, match="writable"):
        K.linear_forward(x, w, b, np.empty((4, 3), np.float32))
    with pytest.raises(ValueError, match="elements"):
        K.linear_forward(x, w, np.ones(3, np.float32), out)


@needs_torch
@pytest.mark.parametrize("dt", DTYPES)
def test_linear_with_and_without_numpy_gemm_match_torch(dt):
    import fastad
    import fastad.nn.functional as FF
    rng = np.random.default_rng(17)
    a, wv, bv = (rng.standard_normal(s) for s in ((6, 5), (4, 5), (4,)))
    ref = F.linear(*(torch.tensor(v, dtype=getattr(torch, np.dtype(dt).name), requires_grad=True)
                     for v in (a, wv, bv)))
    ref.sum().backward()
    found = K.blas_available()
    results = []
    try:
        for use in ([True, False] if found else [False]):
            if not use:
                K._use_blas(0, 0)
            x, w, b = (fastad.tensor(v, dtype=getattr(fastad, np.dtype(dt).name), requires_grad=True)
                       for v in (a, wv, bv))
            y = FF.linear(x, w, b)
            y.sum().backward()
            results.append((y, x.grad, w.grad, b.grad))
    finally:
        fastad._use_numpy_gemm()
    assert K.blas_available() == found
    for y, gx, gw, gb in results:
        close(y.detach().numpy(), ref.detach().numpy(), dt, 10)
        assert y.grad_fn.name() == ref.grad_fn.name()
        close(gx.numpy(), torch.ones(6, 4, dtype=ref.dtype).mm(
            torch.tensor(wv, dtype=ref.dtype)).numpy(), dt, 10)
        close(gw.numpy(), np.ones((4, 6)) @ a, dt, 10)
        close(gb.numpy(), np.full(4, 6.0), dt)


# ---------------------------------------------------------------------------
# activation backward with the column sums (a fused Linear's bias gradient)
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("rows, cols", [(0, 5), (1, 7), (9, 70), (300, 333), (64, 1024)])
def test_activation_backward_colsum_is_numpys_column_sum(dt, rows, cols, restore_threads):
    rng = np.random.default_rng(rows + cols)
    x = rng.standard_normal((rows, cols)).astype(dt)
    gy = rng.standard_normal((rows, cols)).astype(dt)
    for name in ("relu", "sigmoid", "tanh", "hardtanh", "selu"):
        y = np.empty_like(x)
        K.activation_forward(name, x, y, -0.5, 0.7)
        plain = np.empty_like(x)
        K.activation_backward(name, None, y, gy, plain, -0.5, 0.7)
        sums = []
        for threads in (1, 2):
            K.set_num_threads(threads)
            gx = gy.copy()                                  # written in place
            colsum = np.full(cols, np.nan, dt)
            K.activation_backward(name, None, y, gx, gx, -0.5, 0.7, colsum)
            np.testing.assert_array_equal(gx, plain)
            np.testing.assert_array_equal(colsum, np.add.reduce(plain, 0))
            sums.append(colsum)
        np.testing.assert_array_equal(sums[0].view(np.uint8), sums[1].view(np.uint8))


def test_activation_backward_colsum_rejects_bad_sizes():
    y = np.ones((4, 6), np.float32)
    with pytest.raises(ValueError, match="24 elements are not rows of colsum's 5"):
        K.activation_backward("relu", None, y, y, y.copy(), colsum=np.empty(5, np.float32))
    with pytest.raises(ValueError, match="colsum must be 1-D"):
        K.activation_backward("relu", None, y, y, y.copy(), colsum=np.empty((2, 3), np.float32))
    with pytest.raises(TypeError, match="colsum has dtype float64"):
        K.activation_backward("relu", None, y, y, y.copy(), colsum=np.empty(6))
    with pytest.raises(TypeError, match="colsum must be a numpy.ndarray, got list"):
        K.activation_backward("relu", None, y, y, y.copy(), colsum=[0.0] * 6)
    frozen = np.zeros(6, np.float32)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="colsum is read-only"):
        K.activation_backward("relu", None, y, y, y.copy(), colsum=frozen)


@pytest.mark.parametrize("name", ["sin", "cos"])
def test_trig_backward_in_place_beyond_the_vector_range(name):
    """gx may be gy: elements past the vector code's range are recomputed with
    libm from gy after the vector pass, so gy must survive it (a fuzzed
    exp -> cos chain once got a zero gradient)."""
    x = np.array([2.5e20, 0.5, -3e19])
    g = np.array([1.5, -2.0, 0.25])
    want = g * (np.cos(x) if name == "sin" else -np.sin(x))
    gx = g.copy()
    K.activation_backward(name, x, None, gx, gx)
    np.testing.assert_allclose(gx, want, rtol=1e-15)
