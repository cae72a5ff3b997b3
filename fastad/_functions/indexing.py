"""Reading and writing tensors at index tensors and masks: index_*, gather,
scatter, masked_*, take, nonzero.  Each derivative is another op of this file
(gather and scatter_add, index_select and index_add are each other's)."""
import numpy as np

from fastad._functions._args import check_tensor, dim as _dim, plain, scalar_name
from fastad._tensor import Tensor, apply_inplace, array_of, expand, make_op, reshape, zeros


def _index(index, fname, what="index"):
    i = array_of(index) if isinstance(index, Tensor) else np.asarray(index)
    if i.dtype.kind not in "iu":
        raise RuntimeError(f"{fname}(): Expected dtype int64 for {what}")
    return i


def _check_range(i, n, fname, d):
    if i.size and (i.min() < 0 or i.max() >= n):
        bad = i.min() if i.min() < 0 else i.max()
        raise RuntimeError(f"{fname}(): index {bad} is out of bounds for dimension {d} with "
                           f"size {n}")


def _requires_grad(x):
    return isinstance(x, Tensor) and x.requires_grad


def _inplace(self, op, *args, **kwargs):
    """self.op_(...): op's result written into self (rebased onto the graph)."""
    return apply_inplace(self, lambda t: op(t, *args, **kwargs), *args)


# ---------------------------------------------------------------- along one dim
def _along(a, d, idx, fname):
    """The numpy key of the slices of a at idx (a vector) along d."""
    if idx.ndim > 1:
        raise IndexError(f"{fname}(): Index is supposed to be a vector")
    idx = idx.reshape(-1)
    if a.ndim == 0:
        if idx.size and (idx != 0).any():
            raise IndexError("index out of range in self")
        return ()
    if idx.size and (idx.min() < -a.shape[d] or idx.max() >= a.shape[d]):
        raise IndexError("index out of range in self")
    return (slice(None),) * d + (idx,)


def _indexed(input, dim, index, fname, key_of):
    """(input's array, dim wrapped, index's array, the numpy key of what index
    picks by key_of's rule: _along or _gather_key), checked in PyTorch's order."""
    a = array_of(check_tensor(input, fname))
    d = _dim(dim, a.ndim)
    idx = _index(index, fname)
    return a, d, idx, key_of(a, d, idx, fname)


def index_select(input, dim, index):
    a, d, idx, key = _indexed(input, dim, index, "index_select", _along)
    shape = a.shape

    def derivative(grad, inputs, result):
        return (index_add(zeros(shape, dtype=grad.dtype), d, idx, grad),)
    return make_op(a[key], "IndexSelectBackward0", (input,), derivative=derivative)


def index_add(input, dim, index, source, *, alpha=1):
    a, d, idx, key = _indexed(input, dim, index, "index_add", _along)
    s = array_of(check_tensor(source, "index_add", "source", 4))
    if s.dtype != a.dtype:
        raise RuntimeError(f"index_add_(): self ({scalar_name(input.dtype)}) and source "
                           f"({scalar_name(source.dtype)}) must have the same scalar type")
    r = a.copy()
    try:
        np.add.at(r, key, s * alpha if alpha != 1 else s)
    except ValueError:
        raise RuntimeError(f"index_add(): source of shape {list(s.shape)} does not match self of "
                           f"shape {list(a.shape)} indexed by {idx.size} indices at dim {d}") \
            from None

    def derivative(grad, inputs, result):
        gs = index_select(grad, d, idx) if a.ndim else grad
        return grad, gs * alpha if alpha != 1 else gs
    return make_op(r, "IndexAddBackward0", (input, source), derivative=derivative)


def index_add_(self, dim, index, source, *, alpha=1):
    return _inplace(self, index_add, dim, index, source, alpha=alpha)


def index_fill(input, dim, index, value):
    a, d, idx, key = _indexed(input, dim, index, "index_fill", _along)
    is_tensor = isinstance(value, Tensor)
    if is_tensor and value.dim():
        raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got "
                           f"tensor with {value.dim()} dimension(s).")
    r = a.copy()
    r[key] = array_of(value) if is_tensor else value

    def derivative(grad, inputs, result):
        gx = index_fill(grad, d, idx, 0)
        return (gx, index_select(grad, d, idx).sum()) if is_tensor else (gx,)
    return make_op(r, "IndexFillBackward1" if is_tensor else "IndexFillBackward0",
                   (input, value) if is_tensor else (input,), derivative=derivative)


def index_fill_(self, dim, index, value):
    return _inplace(self, index_fill, dim, index, value)


# ---------------------------------------------------------------- element by element
def _gather_key(a, d, idx, fname, other=None):
    """The numpy key of a[..., idx[i, j, ...] (at d), ...] for every position of
    idx, checked as PyTorch checks gather and scatter (other: scatter's src)."""
    if idx.ndim != max(a.ndim, 1) and not (a.ndim == 0 and idx.ndim == 0):
        raise RuntimeError(f"Index tensor must have the same number of dimensions as "
                           f"{'input' if fname == 'gather' else 'self'} tensor")
    shape = a.shape if a.ndim else (1,)
    ishape = idx.shape if idx.ndim else (1,)
    for k, (i, s) in enumerate(zip(ishape, shape)):
        if (k != d and i > s) or (other is not None and i > other[k]):
            raise RuntimeError(f"Size does not match at dimension {k} expected index "
                               f"{list(idx.shape)} to be no larger than self {list(a.shape)} "
                               f"apart from dimension {d}")
    _check_range(idx, shape[d], fname, d)
    key = list(np.indices(ishape, sparse=True))
    key[d] = idx.reshape(ishape)
    return tuple(key)


def _pad_to(g, shape):
    """g with zeros after it along each dim, up to shape (scatter's larger src)."""
    from fastad._functions.joining import slice_scatter
    for k, n in enumerate(shape):
        if g.shape[k] != n:
            target = tuple(g.shape)[:k] + (n,) + tuple(g.shape)[k + 1:]
            g = slice_scatter(zeros(target, dtype=g.dtype), g, k, 0, g.shape[k])
    return g


def gather(input, dim, index, *, sparse_grad=False):
    a, d, idx, key = _indexed(input, dim, index, "gather", _gather_key)
    shape = a.shape

    def derivative(grad, inputs, result):
        return (scatter_add(zeros(shape, dtype=grad.dtype), d, idx, grad),)
    return make_op(a.reshape(a.shape or (1,))[key].reshape(idx.shape), "GatherBackward0",
                   (input,), derivative=derivative)


def _scatter(input, dim, index, src, value, reduce, fname):
    a = array_of(check_tensor(input, fname))
    d = _dim(dim, a.ndim)
    idx = _index(index, fname)
    has_src = isinstance(src, Tensor)
    s = array_of(src) if has_src else None
    if has_src and s.dtype != a.dtype:
        raise RuntimeError(f"{fname}(): Expected self.dtype to be equal to src.dtype")
    key = _gather_key(a, d, idx, fname, s.shape if has_src and s.ndim else None)
    vals = (s.reshape(s.shape or (1,))[tuple(slice(0, k) for k in (idx.shape or (1,)))]
            if has_src else value)
    r = a.copy().reshape(a.shape or (1,))
    if reduce is None:
        r[key] = vals
    elif reduce in ("add", "sum"):
        np.add.at(r, key, vals)
    elif reduce in ("multiply", "prod"):
        np.multiply.at(r, key, vals)
    else:
        raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce}")
    return r.reshape(a.shape), d, idx, has_src


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    if not isinstance(src, Tensor) and src is not None:
        src, value = None, src
    r, d, idx, has_src = _scatter(input, dim, index, src, value, reduce, "scatter")
    shape = src.shape if has_src else None

    def derivative(grad, inputs, result):
        if reduce is not None:
            raise RuntimeError("the derivative for 'scatter' with reduce is not implemented")
        gx = scatter(grad, d, idx, 0.0)
        return (gx, _pad_to(gather(grad, d, idx), shape)) if has_src else (gx,)
    return make_op(r, "ScatterBackward0" if has_src else "ScatterBackward1",
                   (input, src) if has_src else (input,), derivative=derivative)


def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
    return _inplace(self, scatter, dim, index, src, value=value, reduce=reduce)


def scatter_add(input, dim, index, src):
    r, d, idx, _ = _scatter(input, dim, index, check_tensor(src, "scatter_add", "src", 4), None,
                            "add", "scatter_add")
    shape = src.shape
    return make_op(r, "ScatterAddBackward0", (input, src),
                   derivative=lambda grad, inputs, result: (
                       grad, _pad_to(gather(grad, d, idx), shape)))


def scatter_add_(self, dim, index, src):
    return _inplace(self, scatter_add, dim, index, src)


def take(input, index):
    a = array_of(check_tensor(input, "take")).reshape(-1)
    idx = _index(index, "take")
    n = a.shape[0]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx.min() if idx.min() < -n else idx.max()
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} elements.")
    shape = tuple(input.shape)

    def derivative(grad, inputs, result):
        flat = index_add(zeros(n, dtype=grad.dtype), 0, idx.reshape(-1) % max(n, 1),
                         reshape(grad, (-1,)))
        return (reshape(flat, shape),)
    return make_op(a[idx], "TakeBackward0", (input,), derivative=derivative)


def take_along_dim(input, indices, dim=None):
    check_tensor(input, "take_along_dim")
    if dim is None:
        return gather(reshape(input, (-1,)), 0, reshape(indices, (-1,)))
    d = _dim(dim, input.dim())
    si, sx = list(indices.shape), list(input.shape)
    if len(si) != len(sx):
        raise RuntimeError("torch.take_along_dim(): input and indices should have the same "
                           f"number of dimensions, but got {len(sx)} dimensions for input, and "
                           f"{len(si)} dimensions for indices")
    try:
        common = list(np.broadcast_shapes(tuple(sx[:d] + [1] + sx[d + 1:]),
                                          tuple(si[:d] + [1] + si[d + 1:])))
    except ValueError:
        raise RuntimeError(f"take_along_dim(): shape mismatch: {sx} and {si}") from None
    x_to, i_to = tuple(common[:d] + [sx[d]] + common[d + 1:]), common[:d] + [si[d]] + common[d + 1:]
    x = input if tuple(sx) == x_to else expand(input, x_to)
    return gather(x, d, np.broadcast_to(_index(indices, "take_along_dim", "indices"), i_to))


# ---------------------------------------------------------------- masks
def _mask(mask, fname):
    m = array_of(mask) if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise RuntimeError(f"{fname} only supports boolean masks, but got mask with dtype "
                           f"{'long' if m.dtype.kind in 'iu' else m.dtype}")
    return m


def _broadcast_input(input, m):
    shape = np.broadcast_shapes(tuple(input.shape), m.shape)
    return input if tuple(input.shape) == shape else expand(input, shape)


def masked_fill(input, mask, value):
    check_tensor(input, "masked_fill")
    m = _mask(mask, "masked_fill_")
    is_tensor = isinstance(value, Tensor)
    if is_tensor and value.dim():
        raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got "
                           f"tensor with {value.dim()} dimension(s).")
    x = _broadcast_input(input, m)
    a = array_of(x)
    r = np.where(m, np.asarray(array_of(value) if is_tensor else value).astype(a.dtype), a)
    mt = plain(m)

    def derivative(grad, inputs, result):
        gx = masked_fill(grad, mt, 0)
        return (gx, (grad - gx).sum()) if is_tensor else (gx,)
    return make_op(r, "MaskedFillBackward1" if is_tensor else "MaskedFillBackward0",
                   (x, value) if is_tensor else (x,), derivative=derivative, dt=input.dtype.code)


def masked_fill_(self, mask, value):
    return _inplace(self, masked_fill, mask, value)


def masked_select(input, mask):
    check_tensor(input, "masked_select")
    m = _mask(mask, "masked_select:")
    x = _broadcast_input(input, m)
    mb = np.broadcast_to(m, tuple(x.shape))
    where = np.flatnonzero(mb)
    shape = tuple(x.shape)

    def derivative(grad, inputs, result):
        flat = index_add(zeros(mb.size, dtype=grad.dtype), 0, where, grad)
        return (reshape(flat, shape),)
    return make_op(array_of(x)[mb], "MaskedSelectBackward0", (x,), derivative=derivative)


def nonzero(input, *, as_tuple=False):
    a = array_of(check_tensor(input, "nonzero"))
    if as_tuple:
        return tuple(plain(i.astype(np.int64)) for i in np.nonzero(np.atleast_1d(a)))
    return plain(np.argwhere(a).astype(np.int64))


def argwhere(input):
    return nonzero(input)
