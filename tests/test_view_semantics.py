"""Views as PyTorch has them, against PyTorch: the in-place view ops (t_,
transpose_, swapaxes_, swapdims_, squeeze_, unsqueeze_) change the tensor's
shape, its grad_fn (PyTorch's in-place names) and its version, and refuse
leaves that require grad; an element y[i] of a tensor reads its place in y's
storage, so later writes into y show through it, and a backward that saved it
refuses to run after them."""
import numpy as np
import pytest

import fastad
from conftest import assert_same, needs_torch, optional_torch

torch = optional_torch()
pytestmark = needs_torch

WEIGHTS = np.arange(1.0, 7.0).reshape(2, 1, 3)

VIEWS_IN_PLACE = [("t_", (), (2, 3)), ("transpose_", (0, 2), None),
                  ("transpose_", (-1, 1), None), ("swapaxes_", (0, 2), None),
                  ("swapdims_", (2, 1), None), ("squeeze_", (), None), ("squeeze_", (1,), None),
                  ("squeeze_", (-3,), None), ("squeeze_", ((0, 1),), None),
                  ("unsqueeze_", (1,), None), ("unsqueeze_", (-1,), None), ("t_", (), (6,))]


@pytest.mark.parametrize("name, args, shape", VIEWS_IN_PLACE)
def test_views_in_place_match_pytorch(name, args, shape):
    got = []
    for lib in (fastad, torch):
        x = lib.tensor(WEIGHTS, requires_grad=True)
        y = x * 2
        if shape:
            y = y.reshape(shape)
        r = getattr(y, name)(*args)
        assert r is y
        w = lib.tensor(np.arange(1.0, y.numel() + 1).reshape(tuple(y.shape)))
        (y * w).sum().backward()
        got.append((y, y.grad_fn.name(), y._version, y.is_contiguous(), x.grad))
    (fy, fname, fv, fc, fg), (ty, tname, tv, tc, tg) = got
    assert_same(fy, ty)
    assert (fname, fv, fc) == (tname, tv, tc)
    assert_same(fg, tg)


@pytest.mark.parametrize("name, args, shape", VIEWS_IN_PLACE[:10])
def test_views_in_place_refuse_leaves_and_views_of_leaves(name, args, shape):
    for lib in (fastad, torch):
        x = lib.tensor(WEIGHTS, requires_grad=True)
        x = x.reshape(shape).detach().requires_grad_() if shape else x
        with pytest.raises(RuntimeError, match="^a leaf Variable that requires grad is being"):
            getattr(x, name)(*args)
        with pytest.raises(RuntimeError, match="^a view of a leaf Variable that requires grad"):
            getattr(x.view(tuple(x.shape)), name)(*args)
        with lib.no_grad():
            getattr(x, name)(*args)
        assert x.is_leaf and x.requires_grad


def test_a_0d_tensor_becomes_1d_and_a_view_stays_a_view():
    for lib in (fastad, torch):
        s = lib.tensor(2.0, requires_grad=True) * 1
        s.unsqueeze_(0)
        assert tuple(s.shape) == (1,) and s.grad_fn.name() == "UnsqueezeBackward1"
        s.t_()
        assert s.grad_fn.name() == "TBackward1"
        z = lib.arange(6.0).reshape(2, 3)
        row = z[0]
        row.unsqueeze_(0)
        row[0, 1] = 9
        assert z[0, 1].item() == 9 and tuple(row.shape) == (1, 3)


def test_a_saved_tensor_changed_by_a_view_in_place_refuses_backward():
    for lib in (fastad, torch):
        x = lib.ones(2, 3, requires_grad=True)
        y = x * 1
        e = y * y
        y.t_()
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            e.sum().backward()


@pytest.mark.parametrize("dims", [(2, 3, 4), (1, 2, 3, 1)])
def test_t_of_more_than_two_dims_is_refused(dims):
    for lib in (fastad, torch):
        with pytest.raises(RuntimeError, match="t_\\(\\) expects a tensor with <= 2 dimensions"):
            lib.zeros(dims).t_()
