"""In-place writes into a view of a tensor that is not a leaf (PyTorch's
CopySlices): the write reaches the base's history, so gradients through the
base, the view and other views of it equal PyTorch's (issue 14, point 8)."""
import operator

import numpy as np
import pytest

import fastad
from conftest import assert_same, needs_torch, optional_torch

torch = optional_torch()
pytestmark = needs_torch


def setitem(lib, x):
    y = x * 2
    y[0] = 5
    return y * x


def setitem_of_view(lib, x):
    y = x * 2
    v = y[1:]
    v[0] = x[0] * x[1]
    return y.exp()


def mul_on_slice(lib, x):
    y = x * 2
    v = y[1:]
    v.mul_(3)
    return y * y


def iadd_on_slice(lib, x):
    y = x * 2
    v = y[1:]
    v += x[:-1]
    return y.pow(2)


def zero_on_slice(lib, x):
    y = x * 2
    y[1:3].zero_()
    return y * x


def gradient_through_the_view(lib, x):
    y = x * 2
    v = y[1:]
    v.mul_(x[:-1])
    return v


def two_disjoint_views(lib, x):
    y = x * 2
    a, b = y[:2], y[2:]
    a.mul_(x[:2])
    b.add_(1)
    return y * y


def copy_into_strided_view(lib, x):
    y = x * 1
    y[::2].copy_(x[1::2] * 5)
    return y ** 2


def base_without_grad(lib, x):
    z = lib.zeros(6, dtype=x.dtype)
    z[1:4].add_(x[:3])
    return z * z


def column_of_matrix(lib, x):
    y = x.reshape(2, 3) * 3
    y[:, 1].clamp_(max=0.5)
    return y.sin()


def row_of_transposed_view_of_view(lib, x):
    y = x * 3
    w = y.view(2, 3).t()[1:]
    w.mul_(x.view(3, 2)[1:])
    return y.sin()


def masked_fill_on_view(lib, x):
    y = x * 2
    y[2:].masked_fill_(x[2:] > 0, 0.0)
    return y * x


def mul_on_element(lib, x):
    y = x * 2
    y[0].mul_(x[1])
    return y * y


def elements_of_matrix(lib, x):
    y = x.reshape(2, 3) * 3
    y[1, 2].add_(x[0])
    y[0][1].zero_()
    return y.sin()


def element_of_view(lib, x):
    y = x * 2
    v = y[2:]
    v[1].copy_(x[0] * x[5])
    e = v[-1]
    e += 1
    return y.exp()


CASES = [setitem, setitem_of_view, mul_on_slice, iadd_on_slice, zero_on_slice,
         gradient_through_the_view, two_disjoint_views, copy_into_strided_view,
         base_without_grad, column_of_matrix, row_of_transposed_view_of_view,
         masked_fill_on_view, mul_on_element, elements_of_matrix, element_of_view]
X = np.array([0.5, -1.25, 2.0, 1.5, 0.25, -0.75])


def _run(lib, fn, dt, create_graph=False):
    x = lib.tensor(X.astype(dt), requires_grad=True)
    out = fn(lib, x)
    g = np.random.default_rng(0).standard_normal(tuple(out.shape)).astype(dt)
    (gx,) = lib.autograd.grad(out, x, lib.tensor(g), create_graph=create_graph)
    return x, out, gx


def _name(t):
    return t.grad_fn.name().replace("torch::autograd::", "")


@pytest.mark.parametrize("fn", CASES)
@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_gradients_equal_pytorchs(fn, dt):
    _, fo, fg = _run(fastad, fn, dt)
    _, to, tg = _run(torch, fn, dt)
    assert_same(fo, to)
    assert_same(fg, tg)


@pytest.mark.parametrize("fn", CASES)
def test_second_derivatives_equal_pytorchs(fn):
    results = []
    for lib in (fastad, torch):
        x, _, gx = _run(lib, fn, np.float64, create_graph=True)
        if not gx.requires_grad:        # the gradient does not depend on x
            results.append(None)
            continue
        (ggx,) = lib.autograd.grad((gx * gx).sum(), x, allow_unused=True)
        results.append(ggx)
    if results[1] is None:
        assert results[0] is None or not results[0].abs().sum().item()
    else:
        assert_same(results[0], results[1])


@pytest.mark.parametrize("fn", CASES)
def test_pass_gradcheck(fn):
    from fastad.autograd import gradcheck
    assert gradcheck(lambda x: fn(fastad, x), (fastad.tensor(X, requires_grad=True),))


def test_base_and_view_take_pytorchs_grad_fns():
    for lib in (fastad, torch):
        x = lib.tensor(X, requires_grad=True)
        y = x * 2
        v = y[1:]
        v.mul_(3)
        assert (_name(y), _name(v)) == ("CopySlices", "AsStridedBackward0")
        v[0] = 1.0
        assert (_name(y), _name(v)) == ("CopySlices", "AsStridedBackward0")
        z = x * 2
        z[0] = 1.0
        assert _name(z) == "CopySlices"


def test_the_write_reaches_the_base_once():
    x = fastad.tensor(X, requires_grad=True)
    y = x * 2
    y[1:].mul_(3)
    np.testing.assert_array_equal(y.detach().numpy(), X * 2 * np.r_[1, [3] * 5])
    assert y._version == 1


def test_writing_through_overlapping_elements_is_refused():
    for lib in (fastad, torch):
        x = lib.tensor(X, requires_grad=True)
        e = (x * 2)[:1].expand(3)
        with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
            e.mul_(2)


def test_a_view_of_a_leaf_is_still_refused():
    for lib in (fastad, torch):
        x = lib.tensor(X, requires_grad=True)
        with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
            x[1:].mul_(2)


def _element_writes(lib):
    y = lib.arange(3.0)
    y[0].add_(5)
    y[1].fill_(9)
    m = lib.arange(6.0, dtype=lib.float32).reshape(2, 3)
    m[1, 2].mul_(10)
    m[0][1].zero_()
    row = m[1]
    row[0].sub_(7)
    e = y[2]
    e += 1
    with lib.no_grad():
        w = lib.ones(3, requires_grad=True)
        w[0].fill_(4)
        w[1].detach().add_(1)
    return [y, m, e, w], [y._version, m._version, w._version]


def test_writes_through_an_element_reach_the_array():
    """y[i] is a view, as PyTorch's: an in-place op on it changes y (and y's
    version), also through a row, detach() and under no_grad."""
    got, got_versions = _element_writes(fastad)
    want, want_versions = _element_writes(torch)
    for g, w in zip(got, want):
        assert_same(g, w)
    assert got_versions == want_versions


def test_an_element_of_a_leaf_is_refused_as_its_view():
    for lib in (fastad, torch):
        w = lib.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
            w[1].mul_(2)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op", [operator.iadd, operator.isub, operator.imul],
                         ids=["+=", "-=", "*="])
def test_an_update_nothing_records_is_torchs(op, dtype):
    """x op= y under no_grad (a hand-written optimizer's step) takes numpy's
    in-place op: the same bits, version and write-through to the base as PyTorch,
    and the same error for an expanded target."""
    rng = np.random.default_rng(0)
    xs, ys = rng.standard_normal((4, 3)), rng.standard_normal((3,))
    out = []
    for lib in (fastad, torch):
        base = lib.tensor(xs, dtype=getattr(lib, dtype), requires_grad=True)
        y = lib.tensor(ys, dtype=getattr(lib, dtype))
        with lib.no_grad():
            row = base[1]
            before = base._version
            op(row, y)
            out.append((base.detach().numpy().copy(), row.detach().numpy().copy(),
                        base._version - before))
            with pytest.raises(RuntimeError):
                wide = y.expand(4, 3)
                op(wide, wide)
    for a, b in zip(*out):
        np.testing.assert_array_equal(a, b)
