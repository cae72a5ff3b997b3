"""Order statistics: sort, argsort, topk, kthvalue, median, mode, quantile.
The values an op picks take the gradient at the positions it picked them from."""
import numpy as np

from fastad._functions._args import (check_tensor, dim as _dim, dim_aliases, plain,
                                     values_indices)
from fastad._functions._nth_element import first_k, order_keys
from fastad._functions.indexing import index_select, scatter_add
from fastad._functions.reductions import empty_check
from fastad._functions.shapes import movedim
from fastad._tensor import Tensor, array_of, make_op, reshape, where, zeros


def _order(m, descending, stable=True):
    """Indices that sort m along its last axis; NaN is the largest value, and
    equal values keep their order (descending too), as PyTorch's stable sort."""
    if not descending:
        return np.argsort(m, axis=-1, kind="stable")
    n = m.shape[-1]
    return n - 1 - np.flip(np.argsort(np.flip(m, -1), axis=-1, kind="stable"), -1)


def _last(a, d):
    """a with dim d moved last (0-d tensors as one element)."""
    return np.moveaxis(a.reshape(a.shape or (1,)), d, -1)


def _picked(input, d, idx, vals, name, keepdim=True):
    """The values picked along d at idx (as a tensor of idx's shape with d kept),
    differentiable: the gradient goes back to the picked positions."""
    shape = tuple(input.shape)
    nd = len(shape)

    def derivative(grad, inputs, result):
        g = grad if keepdim or not nd else grad.unsqueeze(d)
        i = idx if keepdim or not nd else np.expand_dims(idx, d)
        return (reshape(scatter_add(zeros(shape or (1,), dtype=grad.dtype), d,
                                    i.reshape(i.shape or (1,)), reshape(g, i.shape or (1,))),
                        shape),)
    return make_op(vals, name, (input,), derivative=derivative)


def _select_along(input, d, pos, keepdim, name, fname):
    """(values, indices) at sorted position pos(m) of each slice along d."""
    a = array_of(input)
    m = _last(a, d)
    order = _order(m, False)
    k = pos(m, order)
    idx = np.take_along_axis(order, k[..., None], -1)
    vals = np.take_along_axis(m, idx, -1)
    idx, vals = np.moveaxis(idx, -1, d), np.moveaxis(vals, -1, d)
    if a.ndim == 0:
        idx, vals = idx.reshape(()), vals.reshape(())
    elif not keepdim:
        idx, vals = idx.squeeze(d), vals.squeeze(d)
    return values_indices(fname)(_picked(input, d, idx, vals, name, keepdim), plain(idx))


@dim_aliases
def sort(input, dim=-1, descending=False, stable=False):
    a = array_of(check_tensor(input, "sort"))
    d = _dim(dim, a.ndim)
    idx = np.moveaxis(_order(_last(a, d), descending), -1, d).reshape(a.shape)
    vals = np.take_along_axis(a, idx, d) if a.ndim else a.copy()
    return values_indices("sort")(_picked(input, d, idx, vals, "SortBackward0"), plain(idx))


@dim_aliases
def argsort(input, dim=-1, descending=False, stable=False):
    a = array_of(check_tensor(input, "argsort"))
    d = _dim(dim, a.ndim)
    return plain(np.moveaxis(_order(_last(a, d), descending), -1, d).reshape(a.shape))


def msort(input):
    return sort(input, 0).values


@dim_aliases
def topk(input, k, dim=-1, largest=True, sorted=True):
    a = array_of(check_tensor(input, "topk"))
    d = _dim(dim, a.ndim)
    n = a.shape[d] if a.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError("selected index k out of range")
    m = _last(a, d)
    if sorted:      # as PyTorch's, but for the order of ties (stable here, not there)
        order = _order(m, largest)[..., :k]
    else:
        keys = order_keys(m, largest).reshape(-1, n)
        order = np.array([first_k(row.tolist(), k) for row in keys],
                         dtype=np.int64).reshape(m.shape[:-1] + (k,))
    idx = np.moveaxis(order, -1, d)
    idx = idx.reshape(() if a.ndim == 0 and k else a.shape[:d] + (k,) + a.shape[d + 1:])
    vals = np.take_along_axis(a, idx, d) if a.ndim else a.reshape(-1)[:k].reshape(idx.shape)
    return values_indices("topk")(_picked(input, d, idx, vals, "TopkBackward0"), plain(idx))


@dim_aliases
def kthvalue(input, k, dim=-1, keepdim=False):
    a = array_of(check_tensor(input, "kthvalue"))
    d = _dim(dim, a.ndim)
    n = a.shape[d] if a.ndim else 1
    if not 1 <= k <= n:
        if n == 0:
            raise IndexError(f"kthvalue(): Expected reduction dim {d} to have non-zero size.")
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    return _select_along(input, d, lambda m, order: np.full(m.shape[:-1], k - 1), keepdim,
                         "KthvalueBackward0", "kthvalue")


def _median_pos(m, order):
    # the lower median; a slice with a NaN has it as its median (its first NaN)
    k = np.full(m.shape[:-1], (m.shape[-1] - 1) // 2)
    if m.dtype.kind == "f":
        nan = np.isnan(m)
        k = np.where(nan.any(-1), m.shape[-1] - nan.sum(-1), k)
    return k


@dim_aliases
def median(input, dim=None, keepdim=False):
    a = array_of(check_tensor(input, "median"))
    if dim is None:
        flat = a.reshape(-1)
        if flat.size == 0:
            r = np.array(np.nan, a.dtype)
        else:
            r = flat[_order(flat, False)[_median_pos(flat, None)]]

        def derivative(grad, inputs, result):
            # ties share the gradient evenly, as in PyTorch
            (x,) = inputs
            hit = (x == result) | (x.isnan() & result.isnan())
            return (grad * hit / hit.sum(),)
        return make_op(r, "MedianBackward0", (input,), derivative=derivative)
    d = _dim(dim, a.ndim)
    empty_check(a, dim, (d,) if a.ndim else (), "median")
    return _select_along(input, d, _median_pos, keepdim, "MedianBackward1", "median")


def _mode_pos(m, order):
    # the longest run of equal values in sorted order (the smallest value of
    # those as long); its last element, the latest position of that value
    s = np.take_along_axis(m, order, -1)
    n = m.shape[-1]
    first, last = np.ones(s.shape, bool), np.ones(s.shape, bool)
    first[..., 1:] = last[..., :-1] = s[..., 1:] != s[..., :-1]
    pos = np.arange(n)
    start = np.maximum.accumulate(np.where(first, pos, 0), axis=-1)
    end = np.flip(np.minimum.accumulate(np.flip(np.where(last, pos, n), -1), axis=-1), -1)
    return np.take_along_axis(end, np.argmax(end - start, axis=-1)[..., None], -1)[..., 0]


@dim_aliases
def mode(input, dim=-1, keepdim=False):
    a = array_of(check_tensor(input, "mode"))
    d = _dim(dim, a.ndim)
    if a.ndim and a.shape[d] == 0:
        raise IndexError(f"mode(): Expected reduction dim {d} to have non-zero size.")
    return _select_along(input, d, _mode_pos, keepdim, "ModeBackward0", "mode")


# ---------------------------------------------------------------- quantiles
_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


@dim_aliases
def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    check_tensor(input, "quantile")
    if not input.is_floating_point():
        raise RuntimeError("quantile() input tensor must be either float or double dtype")
    if input.numel() == 0:
        raise RuntimeError("quantile() input tensor must be non-empty")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"quantile() interpolation must be one of linear, lower, higher, "
                           f"midpoint or nearest, but got {interpolation}")
    if isinstance(q, Tensor) and q.dtype != input.dtype:
        raise RuntimeError("quantile() q tensor must be same dtype as the input tensor")
    qs = np.asarray(array_of(q) if isinstance(q, Tensor) else q, dtype=np.float64)
    if qs.ndim > 1:
        raise RuntimeError("quantile() q must be a scalar or 1D tensor")
    if ((qs < 0) | (qs > 1)).any():
        raise RuntimeError(f"quantile() q must be in the range [0, 1] but got {qs.tolist()}")
    x, d = (reshape(input, (-1,)), 0) if dim is None else (input, _dim(dim, input.dim()))
    if x.dim() == 0:
        x = reshape(x, (1,))
    n = x.shape[d]
    ranks = qs.reshape(-1) * (n - 1)
    lo = np.floor(ranks)
    hi = np.round(ranks) if interpolation == "nearest" else np.ceil(ranks)
    if interpolation in ("higher", "nearest"):
        lo = hi
    w = ranks - lo if interpolation == "linear" else np.where(hi > lo, 0.5, 0.0)
    s = sort(x, d).values
    low, high = index_select(s, d, lo.astype(np.int64)), index_select(s, d, hi.astype(np.int64))
    r = low
    if interpolation in ("linear", "midpoint"):
        wshape = [1] * x.dim()
        wshape[d] = -1
        r = low + (high - low) * plain(w.astype(array_of(s).dtype).reshape(wshape))
    nan = np.isnan(array_of(x)).any(d, keepdims=True)
    if nan.any():   # a slice with a NaN has its (last sorted) NaN as every quantile
        r = where(plain(nan), s.narrow(d, n - 1, 1), r)
    r = movedim(r, d, 0)
    if keepdim:
        r = reshape(r, (r.shape[0],) + ((1,) * input.dim() if dim is None else
                                        tuple(1 if i == d else k for i, k in
                                              enumerate(input.shape))))
    return reshape(r, tuple(r.shape[1:])) if qs.ndim == 0 else r

