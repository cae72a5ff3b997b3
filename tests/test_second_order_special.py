"""Second derivatives at the points random inputs miss: zeros of products, ties
of the order statistics, inputs on a kink or boundary of the piecewise ops, a
constant slice under std, a zero divisor.  PyTorch is the oracle (its first
derivative through both of fastad's paths and its second derivative, grad of a
random linear functional of the gradient, to 1e-10 in float64); gradgradcheck
runs where finite differences are valid there (the polynomials)."""
import numpy as np
import pytest

import fastad
from fastad.autograd import gradgradcheck

_R = np.random.default_rng(0)
_BASE = _R.uniform(0.5, 1.5, (3, 4)) * _R.choice([-1.0, 1.0], (3, 4))


def _zeros(*flat):
    """_BASE with exact zeros at the flat positions."""
    a = _BASE.copy()
    a.reshape(-1)[list(flat)] = 0.0
    return a


ONE = _zeros(1)                  # one zero in row 0
TWO = _zeros(4, 6)               # two in row 1
MIXED = _zeros(1, 4, 7, 8, 9, 11)   # one, two and three zeros in the rows
GRID = np.array([[-1.0, 0.0, 1.0, 0.0], [-3.0, 3.0, 0.5, 6.0], [1.5, -1.5, 2.0, 0.0]])
TIES = np.array([[0.5, 0.5, -1.0, 0.5], [2.0, -1.0, 2.0, -1.0], [1.0, 1.0, 1.0, 1.0]])


def _f(name):
    return lambda L, *xs, **kw: getattr(L.nn.functional, name)(*xs, **kw)


def _case(id, fn, *arrays, ggc=False):
    return pytest.param(fn, arrays, ggc, id=id)


CASES = [
    # products with zeros (PyTorch's prod_backward / cumprod_backward are exact there)
    *[_case(f"prod-{k}", lambda L, x: L.prod(x), a, ggc=True)
      for k, a in (("one", ONE), ("two", TWO), ("mixed", MIXED))],
    *[_case(f"prod_dim{d}-{k}", lambda L, x, d=d: x.prod(d), a, ggc=True)
      for d in (0, 1) for k, a in (("one", ONE), ("two", TWO), ("mixed", MIXED))],
    _case("prod_keepdim-mixed", lambda L, x: L.prod(x, -1, keepdim=True), MIXED, ggc=True),
    _case("prod_row-two", lambda L, x: L.prod(x[1]), TWO, ggc=True),
    *[_case(f"cumprod_dim{d}-{k}", lambda L, x, d=d: L.cumprod(x, d), a, ggc=True)
      for d in (0, 1, -1) for k, a in (("one", ONE), ("two", TWO), ("mixed", MIXED))],
    _case("cumprod_1d-mixed", lambda L, x: x.reshape(-1).cumprod(0), MIXED, ggc=True),
    _case("pow2_at_0", lambda L, x: x ** 2, GRID, ggc=True),
    _case("pow3_at_0", lambda L, x: x ** 3, GRID, ggc=True),
    # kinks: elu-like ops' second derivative is 0 at 0 (PyTorch's mask self < 0)
    *[_case(f"{name}-kinks", _f(name), GRID) for name in ("elu", "selu", "celu")],
    _case("elu_alpha", lambda L, x: L.nn.functional.elu(x, alpha=0.7), GRID),
    _case("celu_alpha", lambda L, x: L.nn.functional.celu(x, alpha=0.5), GRID),
    *[_case(f"{name}_-kinks", lambda L, x, n=name: getattr(L.nn.functional, n + "_")(x * 1.0),
            GRID) for name in ("elu", "selu", "celu")],
    _case("selu_0d", lambda L, x: L.selu(x), np.array(0.0)),
    _case("elu_0d", lambda L, x: L.nn.functional.elu(x, 0.7), np.array(0.0)),
    _case("softplus_threshold", lambda L, x: L.nn.functional.softplus(x, beta=2.0, threshold=3.0),
          np.array([1.5, 1.4, 1.6, -1.5])),
    *[_case(f"{name}-kinks", _f(name), GRID) for name in (
        "relu", "relu6", "hardtanh", "leaky_relu", "hardswish", "softshrink", "hardshrink")],
    _case("abs_sign-kinks", lambda L, x: x.abs() * x.sign() + x.abs() ** 2, GRID),
    _case("clamp-bounds", lambda L, x: L.clamp(x, -1.0, 1.0) ** 2, GRID),
    _case("maximum_minimum-ties", lambda L, x, y: L.maximum(x, y) ** 2 + L.minimum(x, y) ** 3,
          TIES, TIES.T.reshape(3, 4)),
    # losses on the edge of their quadratic part: PyTorch's second derivative is 0 there
    *[_case(f"{name}-edge", lambda L, x, y, n=name, kw=kw: getattr(L.nn.functional, n)(
        x, y, reduction="sum", **kw), GRID, GRID + np.array([1.0, -1.0, 0.5, 2.0]))
      for name, kw in (("smooth_l1_loss", {}), ("smooth_l1_loss", dict(beta=0.5)),
                       ("huber_loss", {}), ("huber_loss", dict(delta=2.0)))],
    # ties: the gradient's place (or even share) and its zero second derivative
    _case("amax_amin-ties", lambda L, x: L.amax(x, 1).sum() ** 2 + (x.amin(0) ** 2).sum(),
          TIES),
    _case("max_min-ties", lambda L, x: x.max() ** 2 * x.min(), TIES),
    _case("median-ties", lambda L, x: L.median(x) ** 2, TIES),
    _case("sort-ties", lambda L, x: L.sort(x, dim=1, stable=True)[0] ** 2, TIES),
    _case("cummax-ties", lambda L, x: L.cummax(x, 1)[0] ** 2, TIES),
    _case("norm_inf-ties", lambda L, x: L.linalg.vector_norm(x, float("inf"), 1) ** 2, TIES),
    # zeros of norms, a constant slice under std, a zero divisor
    _case("norm2-zero_row", lambda L, x: x.norm(dim=1) ** 2, np.vstack([np.zeros(4), GRID[1:]])),
    _case("norm1-zeros", lambda L, x: x.norm(p=1, dim=0) ** 2, GRID),
    _case("std-constant_row", lambda L, x: x.std(1) ** 2 + x.std(), TIES),
    _case("std_mean-constant", lambda L, x: L.std_mean(x, 1)[0] * 3, TIES),
    _case("remainder_fmod-zero_divisor", lambda L, x, y: L.remainder(x, y) * L.fmod(x, y),
          GRID, np.roll(GRID, 1)),
]


def _derivatives(lib, fn, arrays, create_graph):
    """(first derivative, second derivative) of fn's outputs at arrays against
    fixed random upstream gradients; the second is None without create_graph."""
    xs = [lib.tensor(a.copy(), dtype=lib.float64, requires_grad=True) for a in arrays]
    out = fn(lib, *xs)
    rng = np.random.default_rng(1)
    v = lib.tensor(rng.uniform(-1, 1, tuple(out.shape)), dtype=lib.float64)
    g = lib.autograd.grad(out, xs, v, create_graph=create_graph, allow_unused=True)
    first = [None if gk is None else gk.detach().numpy().copy() for gk in g]
    if not create_graph:
        return first, None
    total = sum(((gk * lib.tensor(rng.uniform(-1, 1, tuple(gk.shape)), dtype=lib.float64)).sum()
                 for gk in g if gk is not None and gk.requires_grad),
                lib.tensor(0.0, dtype=lib.float64))
    if not total.requires_grad:
        return first, [None] * len(xs)
    h = lib.autograd.grad(total, xs, allow_unused=True)
    return first, [None if hk is None else hk.detach().numpy().copy() for hk in h]


def _same(a, b, what):
    if a is None or b is None:      # unused and zero are the same derivative
        other = b if a is None else a
        assert other is None or np.allclose(other, 0, atol=1e-12), what
        return
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, equal_nan=True, err_msg=what)


@pytest.mark.parametrize("fn,arrays,ggc", CASES)
def test_second_derivative_matches_torch(fn, arrays, ggc):
    torch = pytest.importorskip("torch")
    t1, t2 = _derivatives(torch, fn, arrays, True)
    f1, f2 = _derivatives(fastad, fn, arrays, True)
    fast, _ = _derivatives(fastad, fn, arrays, False)
    for k in range(len(arrays)):
        _same(fast[k], t1[k], f"first derivative (fast path), input {k}")
        _same(f1[k], t1[k], f"first derivative (recorded path), input {k}")
        _same(f2[k], t2[k], f"second derivative, input {k}")


@pytest.mark.parametrize("fn,arrays", [pytest.param(*p.values[:2], id=p.id)
                                       for p in CASES if p.values[2]])
def test_gradgradcheck_at_zeros(fn, arrays):
    xs = [fastad.tensor(a, dtype=fastad.float64, requires_grad=True) for a in arrays]
    assert gradgradcheck(lambda *ts: fn(fastad, *ts), xs)


@pytest.mark.parametrize("fn", [lambda L, x: L.prod(x), lambda L, x: x.prod(1),
                                lambda L, x: L.cumprod(x, 1), lambda L, x: L.cumprod(x, 0)],
                         ids=["prod", "prod_dim", "cumprod_dim1", "cumprod_dim0"])
def test_third_derivative_of_products_at_two_zeros(fn):
    torch = pytest.importorskip("torch")

    def third(lib):
        x = lib.tensor(MIXED, dtype=lib.float64, requires_grad=True)
        rng = np.random.default_rng(3)
        y = fn(lib, x)
        (g,) = lib.autograd.grad(y, x, lib.tensor(rng.uniform(-1, 1, tuple(y.shape))),
                                 create_graph=True)
        (h,) = lib.autograd.grad((g * lib.tensor(rng.uniform(-1, 1, (3, 4)))).sum(), x,
                                 create_graph=True)
        (t,) = lib.autograd.grad((h * lib.tensor(rng.uniform(-1, 1, (3, 4)))).sum(), x)
        return t.detach().numpy()
    np.testing.assert_allclose(third(fastad), third(torch), rtol=1e-10, atol=1e-12)
