"""Reductions, order statistics, counts and comparisons (issue 14, point 5)
against PyTorch: values, dtypes, shapes, grad_fn names and gradients over
empty, 0-d and negative-dim cases; PyTorch's keyword aliases and errors."""
import numpy as np
import pytest

import fastad
from conftest import assert_same, check_case, needs_torch, optional_torch

torch = optional_torch()
R = np.random.default_rng(1)


def r(*shape):
    return R.standard_normal(shape)


def distinct(*shape):
    n = int(np.prod(shape))
    return (R.permutation(n).reshape(shape) - n / 2) / 4.0


def zeros_in(*shape):
    a = r(*shape)
    a[0, 0] = a[1, 0] = a[1, -1] = 0.0      # one zero in row 0, two in row 1
    return a


def vals(t):
    return t[0]


CASES = {
    "prod": (lambda lib, a: lib.prod(a), [r(3, 4)]),
    "prod_dim": (lambda lib, a: a.prod(-1, keepdim=True), [r(3, 4)]),
    "prod_zeros": (lambda lib, a: a.prod(1), [zeros_in(3, 4)]),
    "prod_zeros_all": (lambda lib, a: a.prod(), [zeros_in(2, 2)]),
    "prod_empty": (lambda lib, a: a.prod(0), [r(0, 3)]),
    "var": (lambda lib, a: a.var(), [r(3, 4)]),
    "var_dims": (lambda lib, a: lib.var(a, (0, -1), keepdim=True, correction=0), [r(2, 3, 2)]),
    "var_unbiased": (lambda lib, a: a.var(1, False), [r(3, 4)]),
    "std": (lambda lib, a: lib.std(a, dim=0), [r(3, 4)]),
    "std_flag": (lambda lib, a: a.std(False), [r(5)]),
    "amax": (lambda lib, a: lib.amax(a, (0, 2)), [distinct(2, 3, 2)]),
    "amin_ties": (lambda lib, a: a.amin(1), [np.array([[1.0, 1.0, 2.0], [0.0, 3.0, 0.0]])]),
    "amax_empty": (lambda lib, a: a.amax(1), [r(0, 3)]),
    "logsumexp": (lambda lib, a: lib.logsumexp(a, 1), [r(3, 4)]),
    "logsumexp_inf": (lambda lib, a: a.logsumexp(-1),
                      [np.array([[-np.inf, 0.0], [-np.inf, -np.inf]])]),
    "cumsum": (lambda lib, a: lib.cumsum(a, -1), [r(3, 4)]),
    "cumprod": (lambda lib, a: a.cumprod(1), [r(3, 4)]),
    "cumprod_zeros": (lambda lib, a: a.cumprod(1), [zeros_in(2, 5)]),
    "cummax": (lambda lib, a: vals(lib.cummax(a, 0)), [r(4, 3)]),
    "cummin": (lambda lib, a: vals(a.cummin(-1)), [r(4, 3)]),
    "norm": (lambda lib, a: a.norm(), [r(3, 4)]),
    "norm_p1_dim": (lambda lib, a: lib.norm(a, 1, 1), [r(3, 4)]),
    "norm_inf": (lambda lib, a: a.norm(float("inf"), dim=0, keepdim=True), [distinct(3, 4)]),
    "norm_p3": (lambda lib, a: a.norm(p=3, dim=(0, 1)), [r(3, 4)]),
    "dist": (lambda lib, a, b: lib.dist(a, b), [r(3, 4), r(4)]),
    "dist_p1": (lambda lib, a, b: a.dist(b, 1), [r(3, 4), r(3, 4)]),
    "nansum": (lambda lib, a: a.nansum(1), [np.array([[1.0, np.nan], [2.0, 3.0]])]),
    "nanmean": (lambda lib, a: lib.nanmean(a, 0), [np.array([[1.0, np.nan], [2.0, 3.0]])]),
    "sort": (lambda lib, a: vals(a.sort(-1)), [distinct(3, 4)]),
    "sort_desc": (lambda lib, a: vals(lib.sort(a, 0, descending=True)), [distinct(3, 4)]),
    "topk": (lambda lib, a: vals(a.topk(2)), [distinct(3, 4)]),
    "topk_smallest": (lambda lib, a: vals(lib.topk(a, 2, dim=0, largest=False)), [distinct(3, 4)]),
    "kthvalue": (lambda lib, a: vals(a.kthvalue(2, 0)), [distinct(3, 4)]),
    "median": (lambda lib, a: lib.median(a), [distinct(3, 4)]),
    "median_dim": (lambda lib, a: vals(a.median(-1, keepdim=True)), [distinct(3, 4)]),
    "mode": (lambda lib, a: vals(a.mode(1)), [distinct(3, 4)]),
    "max_empty_dim": (lambda lib, a: vals(a.max(dim=1)), [r(0, 3)]),
    "sum_keepdims_alias": (lambda lib, a: a.sum(1, keepdims=True), [r(3, 4)]),
    "sum_axis_alias": (lambda lib, a: lib.sum(a, axis=0), [r(3, 4)]),
    "mean_axis_tuple": (lambda lib, a: a.mean(axis=(0, -1), keepdims=True), [r(2, 3, 2)]),
    "max_axis_alias": (lambda lib, a: vals(a.max(axis=1, keepdims=True)), [distinct(3, 4)]),
}


@needs_torch
@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("name", list(CASES))
def test_against_torch(name, dt):
    check_case(CASES[name], dt)


# composed differently in PyTorch (another grad_fn): values and gradients only
OTHER_NODES = {
    "var_mean": (lambda lib, a: lib.stack(lib.var_mean(a, 1)), [r(3, 4)]),
    "std_mean": (lambda lib, a: lib.stack(lib.std_mean(a, correction=2)), [r(5)]),
    "quantile": (lambda lib, a: lib.quantile(a, 0.3), [distinct(3, 4)]),
    "quantile_q_dim": (lambda lib, a: a.quantile(lib.tensor([0.0, 0.25, 1.0], dtype=a.dtype), dim=-1,
                                                 keepdim=True), [distinct(3, 4)]),
    "quantile_interp": (lambda lib, a: lib.stack([
        lib.quantile(a, 0.4, 0, interpolation=k) for k in
        ("linear", "lower", "higher", "midpoint", "nearest")]), [distinct(6, 2)]),
    "quantile_nan": (lambda lib, a: a.quantile(0.5, 1), [np.array([[1.0, np.nan, 0.0],
                                                                   [2.0, 1.0, 0.0]])]),
}


@needs_torch
@pytest.mark.parametrize("name", list(OTHER_NODES))
def test_values_and_gradients(name):
    check_case(OTHER_NODES[name], check_grad_fn=False)


@needs_torch
def test_indices_and_int_results_match_torch():
    a = distinct(3, 4)
    ties = np.array([[1.0, 2, 2, 3, 3, 0], [5, 5, 1, 1, 7, 7]])
    nan = np.array([[1.0, np.nan, np.nan], [3.0, 2.0, 1.0]])
    ints = np.array([[3, 0, 2], [1, 1, 0]])
    for f, x in [
        (lambda lib, t: t.sort(1)[1], a), (lambda lib, t: lib.sort(t, 0, True)[1], a),
        (lambda lib, t: t.argsort(), a), (lambda lib, t: lib.argsort(t, 0, descending=True), a),
        (lambda lib, t: t.sort(stable=True, descending=True)[1], ties),
        (lambda lib, t: t.topk(3, 0)[1], a), (lambda lib, t: t.kthvalue(1)[1], a),
        (lambda lib, t: t.median(1)[1], a), (lambda lib, t: t.median(1), nan),
        (lambda lib, t: t.mode(1), ties), (lambda lib, t: t.cummax(1), ties),
        (lambda lib, t: t.cummin(0)[1], nan), (lambda lib, t: lib.sort(t, 1), nan),
        (lambda lib, t: t.prod(), ints), (lambda lib, t: lib.cumsum(t, 1), ints),
        (lambda lib, t: t.cumprod(0), ints), (lambda lib, t: lib.cumsum(t > 1, 1), ints),
        (lambda lib, t: lib.count_nonzero(t, (0, 1)), ints),
        (lambda lib, t: t.count_nonzero(0), ints),
        (lambda lib, t: t.all(), ints), (lambda lib, t: lib.any(t, 1, keepdim=True), ints),
        (lambda lib, t: t.all(dim=(0, 1)), ints), (lambda lib, t: t.argmax(axis=1), a),
        (lambda lib, t: t.nansum(), ints), (lambda lib, t: t.logsumexp(0), ints),
        (lambda lib, t: lib.zeros(0, 3).argmax(1), a),
        (lambda lib, t: lib.zeros(0, 3).max(1)[1], a),
        (lambda lib, t: lib.zeros(0).sort()[1], a),
        (lambda lib, t: lib.zeros(0, 2).cummax(0)[1], a),
    ]:
        fo, to = f(fastad, fastad.tensor(x)), f(torch, torch.tensor(x))
        if isinstance(to, tuple):
            for p, q in zip(fo, to):
                assert_same(p, q)
        else:
            assert_same(fo, to)


@needs_torch
def test_counting():
    x = np.array([[2.0, 1.0, 2.0], [0.5, 1.0, 3.5]], dtype=np.float32)
    ints = np.array([1, 3, 1, 0, 3, 3])
    w = np.array([0.5, 1.0, 2.0, 0.0, 1.0, 1.5], dtype=np.float32)
    for f, a in [
        (lambda lib, t: lib.unique(t), x),
        (lambda lib, t: t.unique(return_inverse=True, return_counts=True), x),
        (lambda lib, t: lib.unique(t, dim=1, return_inverse=True), ints.reshape(2, 3)),
        (lambda lib, t: lib.histc(t, 4), x), (lambda lib, t: t.histc(3, min=1, max=3), x),
        (lambda lib, t: lib.histc(t[0, :1], 4), x),
        (lambda lib, t: lib.histogram(t, 4), x),
        (lambda lib, t: t.histogram(lib.tensor([0.0, 1.0, 2.5, 4.0]), density=True), x),
        (lambda lib, t: lib.histogram(t, 2, range=(0.0, 2.0), weight=t), x),
        (lambda lib, t: lib.bincount(t), ints), (lambda lib, t: t.bincount(minlength=7), ints),
        (lambda lib, t: lib.bincount(t, lib.tensor(w)), ints),
    ]:
        fo, to = f(fastad, fastad.tensor(a)), f(torch, torch.tensor(a))
        for p, q in zip(fo, to) if isinstance(to, tuple) else [(fo, to)]:
            assert_same(p, q)


@needs_torch
def test_comparisons():
    a = np.array([[1.0, np.nan, np.inf], [-np.inf, 2.0, 1.0 + 1e-9]])
    b = np.array([1.0, np.nan, 2.0])
    for name in ("eq", "ne", "lt", "le", "gt", "ge", "greater", "less_equal", "not_equal"):
        for f in (lambda lib, x, y: getattr(lib, name)(x, y),
                  lambda lib, x, y: getattr(x, name)(y),
                  lambda lib, x, y: getattr(lib, name)(x, 1.0)):
            assert_same(f(fastad, fastad.tensor(a), fastad.tensor(b)),
                        f(torch, torch.tensor(a), torch.tensor(b)))
    for name in ("isnan", "isinf", "isfinite", "isposinf", "isneginf"):
        for arr in (a, np.array(3.0), np.array([1, 2]), np.zeros((0, 2))):
            assert_same(getattr(fastad, name)(fastad.tensor(arr)),
                        getattr(torch, name)(torch.tensor(arr)))
            assert_same(getattr(fastad.tensor(arr), name)(), getattr(torch.tensor(arr), name)())
    for kw in ({}, {"equal_nan": True}, {"rtol": 0, "atol": 1e-12}):
        assert_same(fastad.isclose(fastad.tensor(a), fastad.tensor(b), **kw),
                    torch.isclose(torch.tensor(a), torch.tensor(b), **kw))


@needs_torch
@pytest.mark.parametrize("fn", [
    lambda lib: lib.zeros(0).argmax(),
    lambda lib: lib.zeros(0, 3).argmax(0),
    lambda lib: lib.zeros(0, 3).max(0),
    lambda lib: lib.zeros(0, 3).max(),
    lambda lib: lib.zeros(0, 3).amax(),
    lambda lib: lib.zeros(0, 3).amax(0),
    lambda lib: lib.zeros(0, 3).median(0),
    lambda lib: lib.zeros(0).kthvalue(1),
    lambda lib: lib.tensor([1.0, 2.0]).kthvalue(3),
    lambda lib: lib.tensor([1.0, 2.0]).topk(3),
    lambda lib: lib.zeros(0, 3).mode(0),
    lambda lib: lib.tensor([1, 2]).var(),
    lambda lib: lib.tensor([1, 2]).norm(),
    lambda lib: lib.tensor([1, 2]).quantile(0.5),
    lambda lib: lib.tensor([1.0, 2.0]).quantile(1.5),
    lambda lib: lib.zeros(0).quantile(0.5),
    lambda lib: lib.zeros(3, dtype=lib.float64).quantile(lib.tensor([0.5])),
    lambda lib: lib.zeros(3).quantile(0.5, interpolation="cubic"),
    lambda lib: lib.tensor([1, 2]).nanmean(),
    lambda lib: lib.bincount(lib.tensor([-1])),
    lambda lib: lib.zeros(0).norm(p=float("inf")),
    lambda lib: lib.isclose(lib.tensor([1.0]), lib.tensor([1])),
    lambda lib: lib.tensor([1.0]).var(0, True, correction=1),
    lambda lib: lib.zeros(2).sum(2),
])
def test_errors_are_pytorchs(fn):
    with pytest.raises(Exception) as want:
        fn(torch)
    with pytest.raises(want.type):
        fn(fastad)


@needs_torch
def test_empty_and_zero_d_reductions():
    for f in (lambda lib, t: t.prod(), lambda lib, t: lib.logsumexp(t, 0),
              lambda lib, t: t.nansum(), lambda lib, t: t.cumsum(0), lambda lib, t: t.median(),
              lambda lib, t: t.all(), lambda lib, t: t.any(), lambda lib, t: t.norm(),
              lambda lib, t: t.count_nonzero()):
        for a in (np.zeros(0, np.float32), np.array(2.5, np.float32)):
            assert_same(f(fastad, fastad.tensor(a)), f(torch, torch.tensor(a)))


def _topk_rows():
    rng = np.random.default_rng(3)
    ties = rng.integers(0, 4, (3, 70)).astype(float)
    nans = rng.standard_normal((2, 50))
    nans[rng.random((2, 50)) < 0.2] = np.nan
    return [rng.standard_normal((4, 20)), ties, nans, rng.standard_normal((2, 300)),
            np.sort(rng.standard_normal(200)), rng.integers(-5, 5, (6, 9))]


@needs_torch
@pytest.mark.parametrize("a", _topk_rows())
@pytest.mark.parametrize("largest", [True, False])
def test_topk_unsorted_returns_pytorchs_order(a, largest):
    # PyTorch's CPU kernel leaves std::nth_element's (or partial_sort's) order,
    # ties and NaNs included; fastad runs the same steps
    n = a.shape[-1]
    for k in sorted({0, 1, 2, 3, n // 64, n // 3, n // 2, n - 1, n}):
        check_case((lambda lib, t: lib.topk(t, k, largest=largest, sorted=False).indices, [a]))
        check_case((lambda lib, t: t.topk(k, 0, largest, False).indices, [a.T]))
    check_case((lambda lib, t: t.topk(n // 2 + 1, sorted=False).values, [a]))


@needs_torch
@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_topk_unsorted_gradient(dt):
    # gradients reach the picked positions, in PyTorch's order
    check_case((lambda lib, t: lib.topk(t, 5, dim=0, sorted=False).values, [r(7, 3)]), dt)
    check_case((lambda lib, t: t.topk(4, largest=False, sorted=False)[0], [r(2, 6)]), dt)


@needs_torch
@pytest.mark.parametrize("a", [np.array([3, 1, 2, 3, 1, 5, 0, 2, 7, 7, -1]),
                               np.random.default_rng(4).integers(0, 50, 5000),
                               np.random.default_rng(5).integers(0, 3, (8, 2)).astype(np.float32),
                               np.array([True, False, True]),
                               np.array([2.0, np.nan, 1.0, np.nan, 0.0])])
@pytest.mark.parametrize("kw", [{}, dict(return_inverse=True, return_counts=True), dict(dim=0)])
def test_unique_unsorted_is_sorted_as_pytorchs_on_cpu(a, kw):
    # PyTorch 2.13's CPU unique sorts whatever sorted= says; NaNs stay apart
    fo = fastad.unique(fastad.tensor(a), sorted=False, **kw)
    to = torch.unique(torch.tensor(a), sorted=False, **kw)
    for p, q in zip(fo, to) if isinstance(to, tuple) else [(fo, to)]:
        assert_same(p, q)


@needs_torch
def test_max_and_min_over_a_dim_are_torch_return_types():
    """The DQN tutorial prints q.max(1): PyTorch's named tuple and its repr."""
    x = [[1.0, 5.0], [4.0, 2.0]]
    for name in ("max", "min"):
        got = getattr(fastad.tensor(x), name)(1)
        want = getattr(torch.tensor(x), name)(1)
        assert type(got).__name__ == type(want).__name__ == name
        assert repr(got) == repr(want)
        assert got.values is got[0] and got.indices is got[1]
        values, indices = got
        assert_same(values, want.values)
        assert_same(indices, want.indices)
        assert repr(getattr(fastad.tensor(2.0), name)(0)) == \
            repr(getattr(torch.tensor(2.0), name)(0))
