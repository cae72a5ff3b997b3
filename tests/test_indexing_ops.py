"""Indexing, joining and reshaping (issue 14, point 3) against PyTorch: values,
dtypes, shapes, grad_fn names and gradients, over empty, 0-d and negative-dim
cases, and PyTorch's exception classes."""
import numpy as np
import pytest

import fastad
from conftest import assert_same, check_case, check_fn, needs_torch, optional_torch

torch = optional_torch()
R = np.random.default_rng(0)


def r(*shape):
    return R.standard_normal(shape)


def ix(lib, values):
    return lib.tensor(values)


def joined(pieces, lib):
    return lib.cat([p.reshape(-1) for p in pieces]) if pieces else lib.zeros(0)


CASES = {
    # joining
    "concat": (lambda lib, a, b: lib.concat([a, b], dim=-1), [r(2, 3), r(2, 1)]),
    "concat_axis": (lambda lib, a, b: lib.concat((a, b), axis=0), [r(2, 3), r(1, 3)]),
    "hstack_1d": (lambda lib, a, b: lib.hstack([a, b]), [r(3), r(2)]),
    "hstack_2d": (lambda lib, a, b: lib.hstack([a, b]), [r(2, 3), r(2, 1)]),
    "vstack": (lambda lib, a, b: lib.vstack([a, b]), [r(3), r(2, 3)]),
    "dstack": (lambda lib, a, b: lib.dstack([a, b]), [r(2, 3), r(2, 3)]),
    "column_stack": (lambda lib, a, b: lib.column_stack([a, b]), [r(3), r(3, 2)]),
    "split_int": (lambda lib, a: joined(a.split(2, 1), lib), [r(3, 5)]),
    "split_sizes": (lambda lib, a: joined(lib.split(a, [1, 0, 2], -2), lib), [r(3, 2)]),
    "split_empty": (lambda lib, a: joined(lib.split(a, 2), lib), [r(0, 2)]),
    "chunk": (lambda lib, a: joined(a.chunk(3, -1), lib), [r(2, 7)]),
    "tensor_split_n": (lambda lib, a: joined(lib.tensor_split(a, 3), lib), [r(7)]),
    "tensor_split_idx": (lambda lib, a: joined(a.tensor_split([1, 5, 2], dim=1), lib), [r(2, 6)]),
    "unbind": (lambda lib, a: lib.stack(a.unbind(-1), 0), [r(2, 3)]),
    "unflatten": (lambda lib, a: a.unflatten(-1, (2, -1)), [r(3, 6)]),
    "swapaxes": (lambda lib, a: lib.swapaxes(a, 0, -1), [r(2, 3, 4)]),
    "movedim": (lambda lib, a: lib.movedim(a, (0, -1), (-1, 1)), [r(2, 3, 4)]),
    "narrow": (lambda lib, a: lib.narrow(a, -1, 1, 2), [r(3, 4)]),
    "narrow_neg_start": (lambda lib, a: a.narrow(0, -2, 2), [r(4, 2)]),
    "select": (lambda lib, a: lib.select(a, -1, 2), [r(3, 4)]),
    # reordering, repeating
    "fliplr": (lambda lib, a: lib.fliplr(a), [r(2, 3)]),
    "roll_flat": (lambda lib, a: lib.roll(a, 3), [r(3, 4)]),
    "roll_dims": (lambda lib, a: a.roll((1, -2), (0, -1)), [r(3, 4)]),
    "rot90": (lambda lib, a: lib.rot90(a, 3, (1, 0)), [r(2, 3)]),
    "tile": (lambda lib, a: lib.tile(a, (2, 1, 2)), [r(2, 3)]),
    "repeat": (lambda lib, a: a.repeat(2, 1, 3), [r(2, 3)]),
    "repeat_0d": (lambda lib, a: a.repeat(4), [r()]),
    "repeat_interleave_tensor": (
        lambda lib, a: lib.repeat_interleave(a, ix(lib, [2, 0, 1]), dim=0), [r(3, 2)]),
    "tril": (lambda lib, a: lib.tril(a, -1), [r(2, 3, 4)]),
    "triu": (lambda lib, a: a.triu(1), [r(4, 3)]),
    "diag_1d": (lambda lib, a: lib.diag(a, 1), [r(3)]),
    "diagonal": (lambda lib, a: a.diagonal(1, -1, 0), [r(3, 2, 4)]),
    "diag_embed": (lambda lib, a: lib.diag_embed(a, -1), [r(2, 3)]),
    "broadcast_to": (lambda lib, a: lib.broadcast_to(a, (2, 3, 4)), [r(3, 1)]),
    "meshgrid_xy": (lambda lib, a, b: lib.meshgrid(a, b, indexing="xy")[0], [r(3), r(2)]),
    "unfold": (lambda lib, a: a.unfold(-1, 3, 2), [r(2, 7)]),
    "unfold_0d": (lambda lib, a: a.unfold(0, 1, 1), [r()]),
    # index ops
    "index_select": (lambda lib, a: a.index_select(-1, ix(lib, [3, 0, 3])), [r(2, 4)]),
    "index_select_empty": (lambda lib, a: lib.index_select(a, 0, ix(lib, [1])), [r(3, 0)]),
    "gather": (lambda lib, a: lib.gather(a, -1, ix(lib, [[0, 0], [2, 1]])), [r(3, 4)]),
    "scatter_src": (lambda lib, a, b: a.scatter(0, ix(lib, [[2, 0, 1]]), b), [r(3, 4), r(1, 3)]),
    "scatter_value": (lambda lib, a: lib.scatter(a, 1, ix(lib, [[1], [0]]), -4.0), [r(2, 3)]),
    "scatter_add": (lambda lib, a, b: lib.scatter_add(a, 1, ix(lib, [[0, 0, 2]]), b),
                    [r(2, 3), r(1, 3)]),
    "index_add": (lambda lib, a, b: a.index_add(0, ix(lib, [0, 0]), b, alpha=2),
                  [r(3, 2), r(2, 2)]),
    "index_fill": (lambda lib, a: a.index_fill(1, ix(lib, [0, 2]), 7.0), [r(2, 3)]),
    "take": (lambda lib, a: lib.take(a, ix(lib, [[-1, 0], [3, 3]])), [r(2, 3)]),
    "take_along_dim": (lambda lib, a: lib.take_along_dim(a, ix(lib, [[1, 0]]), -1), [r(3, 2)]),
    "take_along_dim_flat": (lambda lib, a: a.take_along_dim(ix(lib, [5, 0])), [r(2, 3)]),
    "masked_fill": (lambda lib, a: a.masked_fill(a > 0, 0.0), [r(3, 4)]),
    "masked_fill_broadcast": (lambda lib, a: lib.masked_fill(a, ix(lib, [[True], [False]]), 1.0),
                              [r(4)]),
    "masked_select": (lambda lib, a: lib.masked_select(a, a > 0), [r(3, 4)]),
    "masked_select_broadcast": (lambda lib, a: a.masked_select(ix(lib, [[True], [False]])),
                                [r(3)]),
    # advanced keys
    "getitem_range_target": (lambda lib, a: a[range(3), ix(lib, [1, 0, 3])], [r(3, 4)]),
    "getitem_list_pairs": (lambda lib, a: a[[0, 2], [1, 1]], [r(3, 4)]),
    "getitem_tuple_tensors": (lambda lib, a: a[(ix(lib, [0, 1]), slice(None), ix(lib, [1, 0]))],
                              [r(2, 3, 2)]),
    "getitem_mask": (lambda lib, a: a[a > 0.5], [r(3, 4)]),
    "getitem_bool_list": (lambda lib, a: a[[True, False, True]], [r(3, 2)]),
}


@needs_torch
@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("name", list(CASES))
def test_against_torch(name, dt):
    check_case(CASES[name], dt)


# Their grad_fn differs from PyTorch's (PyTorch composes them differently), so
# values and gradients are compared, not the node's name.
OTHER_NODES = {
    "atleast_3d": (lambda lib, a: lib.atleast_3d(a), [r()]),
    "diag_2d": (lambda lib, a: lib.diag(a, -1), [r(3, 4)]),
    "repeat_interleave_int": (lambda lib, a: a.repeat_interleave(2, dim=1), [r(2, 3)]),
    "repeat_interleave_flat": (lambda lib, a: lib.repeat_interleave(a, 2), [r(2, 3)]),
    "narrow_whole": (lambda lib, a: a.narrow(1, 0, 3), [r(2, 3)]),
}


@needs_torch
@pytest.mark.parametrize("name", list(OTHER_NODES))
def test_values_and_gradients(name):
    check_case(OTHER_NODES[name], check_grad_fn=False)


@needs_torch
def test_split_pieces_and_views_match_torch():
    for lib in (fastad, torch):
        x = lib.arange(12.0).reshape(3, 4)
        assert [tuple(p.shape) for p in lib.split(x, [1, 3], dim=1)] == [(3, 1), (3, 3)]
        assert [tuple(p.shape) for p in x.chunk(3, 1)] == [(3, 2), (3, 2)]
        assert [tuple(p.shape) for p in lib.tensor_split(x, 3, 1)] == [(3, 2), (3, 1), (3, 1)]
        assert x.unfold(1, 2, 1).stride() == (4, 1, 1) if lib is torch else True
        assert x[1].storage_offset() == 4 and x.t().stride() == (1, 4)
        assert x[:, 1:].storage_offset() == 1 and x.stride(-1) == 1


@needs_torch
def test_broadcast_tensors_meshgrid_nonzero():
    for lib in (fastad, torch):
        a, b = lib.ones(3, 1), lib.zeros(4)
        shapes = [tuple(t.shape) for t in lib.broadcast_tensors(a, b)]
        assert shapes == [(3, 4), (3, 4)]
        assert [tuple(t.shape) for t in lib.meshgrid(lib.zeros(2), lib.zeros(3), indexing="ij")] \
            == [(2, 3), (2, 3)]
    x = np.array([[0.0, 1.5], [2.0, 0.0]])
    for f in (lambda lib, t: lib.nonzero(t), lambda lib, t: t.argwhere(),
              lambda lib, t: lib.nonzero(lib.tensor(3.0)), lambda lib, t: lib.nonzero(t > 5)):
        assert_same(f(fastad, fastad.tensor(x)), f(torch, torch.tensor(x)))
    for fa, ta in zip(fastad.nonzero(fastad.tensor(x), as_tuple=True),
                      torch.nonzero(torch.tensor(x), as_tuple=True)):
        assert_same(fa, ta)
    assert_same(fastad.repeat_interleave(fastad.tensor([2, 0, 1])),
                torch.repeat_interleave(torch.tensor([2, 0, 1])))


@needs_torch
@pytest.mark.parametrize("method", ["masked_fill_", "index_fill_", "index_add_", "scatter_",
                                    "scatter_add_"])
def test_in_place_index_ops(method):
    args = {"masked_fill_": lambda lib: (lib.tensor([[True, False, True]]), 2.0),
            "index_fill_": lambda lib: (1, lib.tensor([2]), -1.0),
            "index_add_": lambda lib: (0, lib.tensor([1, 1]), lib.ones(2, 3, dtype=lib.float64)),
            "scatter_": lambda lib: (1, lib.tensor([[2], [0]]), 9.0),
            "scatter_add_": lambda lib: (0, lib.tensor([[1, 0, 1]]),
                                         lib.ones(1, 3, dtype=lib.float64))}[method]

    def fn(lib, a):
        y = a * 2.0
        assert getattr(y, method)(*args(lib)) is y
        return y
    check_fn(fn, [r(2, 3)], check_grad_fn=False)
    with pytest.raises(RuntimeError):      # a leaf that requires grad, as in PyTorch
        getattr(fastad.ones(2, 3, dtype=fastad.float64, requires_grad=True), method)(
            *args(fastad))


@needs_torch
def test_assignment_through_advanced_keys_with_gradients():
    def fn(lib, a, v):
        y = a * 1.0
        y[ix(lib, [0, 2])] = v
        y[y > 1.0] += 1
        y[range(2), ix(lib, [1, 0])] *= 3.0
        y[[1, 2], :2] = 0.5
        return y
    check_fn(fn, [r(3, 4), r(4)], check_grad_fn=False)


@needs_torch
@pytest.mark.parametrize("fn", [
    lambda lib: lib.narrow(lib.zeros(3), 0, 2, 2),
    lambda lib: lib.select(lib.zeros(3), 0, 3),
    lambda lib: lib.zeros(3, 4).split([1, 2], 1),
    lambda lib: lib.zeros(2).chunk(0),
    lambda lib: lib.zeros(3).index_select(0, lib.tensor([3])),
    lambda lib: lib.zeros(3).index_select(0, lib.tensor([0.0])),
    lambda lib: lib.zeros(2, 3).gather(1, lib.tensor([[3]])),
    lambda lib: lib.zeros(2, 3).gather(1, lib.tensor([1])),
    lambda lib: lib.zeros(3).masked_fill(lib.tensor([1, 0, 1]), 1.0),
    lambda lib: lib.zeros(3).masked_fill_(lib.zeros(2, 3, dtype=lib.bool), 1.0),
    lambda lib: lib.take(lib.zeros(3), lib.tensor([3])),
    lambda lib: lib.zeros(3).fliplr(),
    lambda lib: lib.zeros(3).tril(),
    lambda lib: lib.rot90(lib.zeros(2, 2), 1, (0, 0)),
    lambda lib: lib.zeros(2, 3).repeat(2),
    lambda lib: lib.zeros(4).unfold(0, 5, 1),
    lambda lib: lib.diag(lib.zeros(2, 2, 2)),
    lambda lib: lib.diagonal(lib.zeros(2, 2), 0, 1, 1),
    lambda lib: lib.movedim(lib.zeros(2, 2), 0, 2),
    lambda lib: lib.unflatten(lib.zeros(6), 0, (4, 2)),
    lambda lib: lib.broadcast_to(lib.zeros(3), (2,)),
    lambda lib: lib.zeros(2, 3)[range(3)],
])
def test_errors_are_pytorchs(fn):
    with pytest.raises(Exception) as want:
        fn(torch)
    with pytest.raises(want.type):
        fn(fastad)


# ---------------------------------------------------------------- diff, triangles' indices
DIFF_CASES = {
    "last": (lambda lib, a: lib.diff(a), [R.standard_normal((3, 4))]),
    "n2_dim0": (lambda lib, a: a.diff(n=2, dim=0), [R.standard_normal((4, 3))]),
    "n_past_length": (lambda lib, a: lib.diff(a, n=5), [R.standard_normal((3, 4))]),
    "prepend_append": (lambda lib, a, p, q: lib.diff(a, dim=-2, prepend=p, append=q),
                       [R.standard_normal((2, 3, 2)), R.standard_normal((2, 1, 2)),
                        R.standard_normal((2, 2, 2))]),
    "empty": (lambda lib, a: lib.diff(a, dim=0), [np.zeros((2, 0))]),
    "long": (lambda lib, a: lib.diff(a), [np.array([1, 5, 2, -7])]),
    "bool": (lambda lib, a: lib.diff(a), [np.array([True, False, False, True])]),
    "0d": (lambda lib, a: lib.diff(a), [np.array(1.0)]),
    "negative_n": (lambda lib, a: lib.diff(a, n=-1), [np.ones(3)]),
    "bad_prepend_dims": (lambda lib, a: lib.diff(a, prepend=lib.ones(3)), [np.ones((3, 2))]),
    "bad_prepend_shape": (lambda lib, a: lib.diff(a, prepend=lib.ones(2, 1)), [np.ones((3, 2))]),
    "number_prepend": (lambda lib, a: lib.diff(a, prepend=1.0), [np.ones(3)]),
}


@needs_torch
@pytest.mark.parametrize("name", DIFF_CASES)
def test_diff_matches_pytorch(name):
    check_case(DIFF_CASES[name])


@needs_torch
@pytest.mark.parametrize("args", [(3, 4), (4, 3, -1), (3, 3, 2), (0, 3), (3, 0), (1, 1, -5),
                                  (5, 2, 1)])
@pytest.mark.parametrize("fname", ["tril_indices", "triu_indices"])
def test_triangle_indices_match_pytorch(fname, args):
    assert_same(getattr(fastad, fname)(*args), getattr(torch, fname)(*args))
    assert_same(getattr(fastad, fname)(*args, dtype=fastad.int32),
                getattr(torch, fname)(*args, dtype=torch.int32))


@needs_torch
def test_triangle_indices_refuse_what_pytorch_refuses():
    for lib in (fastad, torch):
        with pytest.raises(RuntimeError, match="row must be non-negative, got-1"):
            lib.tril_indices(-1, 3)
        with pytest.raises(RuntimeError, match="col must be non-negative, got-2"):
            lib.triu_indices(3, -2)
        with pytest.raises(NotImplementedError, match="\"tril_indices\" not implemented for "
                                                      "'Float'"):
            lib.tril_indices(3, 3, dtype=lib.float32)


FILL_DIAGONAL_CASES = {
    "square": (lambda lib, a: (a * 1).fill_diagonal_(2.5), [R.standard_normal((3, 3))]),
    "wide": (lambda lib, a: (a * 1).fill_diagonal_(-1), [R.standard_normal((3, 5))]),
    "tall": (lambda lib, a: (a * 1).fill_diagonal_(7), [R.standard_normal((7, 3))]),
    "tall_wrap": (lambda lib, a: (a * 1).fill_diagonal_(7, wrap=True), [R.standard_normal((7, 3))]),
    "cube": (lambda lib, a: (a * 1).fill_diagonal_(0), [R.standard_normal((2, 2, 2))]),
    "long": (lambda lib, a: a.fill_diagonal_(3), [np.zeros((3, 4), np.int64)]),
    "1d": (lambda lib, a: (a * 1).fill_diagonal_(0), [np.ones(3)]),
    "uneven_3d": (lambda lib, a: (a * 1).fill_diagonal_(0), [np.ones((2, 3, 2))]),
}


@needs_torch
@pytest.mark.parametrize("name", FILL_DIAGONAL_CASES)
def test_fill_diagonal_matches_pytorch(name):
    check_case(FILL_DIAGONAL_CASES[name], check_grad_fn=False)


@needs_torch
def test_fill_diagonal_writes_in_place_and_refuses_a_leaf():
    for lib in (fastad, torch):
        x = lib.zeros(3, 3, requires_grad=True)
        with pytest.raises(RuntimeError, match="view of a leaf Variable that requires grad"):
            x.fill_diagonal_(1)
        y = lib.zeros(2, 2)
        assert y.fill_diagonal_(1) is y and y._version == 1 and y.sum().item() == 2
