"""Joining tensors and splitting them into pieces (views of one input)."""
import numpy as np

from fastad._functions._args import check_tensor, dim as _dim, dim_aliases
from fastad._tensor import Tensor, array_of, cat, make_op, reshape, zeros


@dim_aliases
def concat(tensors, dim=0):
    return cat(tensors, dim)


concatenate = concat


def _atleast(nd, tensors):
    """atleast_1d/2d/3d: one tensor in, one out; several (or one sequence) in, a tuple out."""
    single = len(tensors) == 1 and isinstance(tensors[0], Tensor)
    seq = tensors[0] if len(tensors) == 1 and not single else tensors
    out = []
    for t in seq:
        s = tuple(check_tensor(t, f"atleast_{nd}d", "tensors").shape)
        if len(s) < nd:
            # PyTorch's layouts: () -> (1,...), (n,) -> (1, n[, 1]), (m, n) -> (m, n, 1)
            t = reshape(t, {0: (1,) * nd, 1: ((1,) + s + (1,))[:nd], 2: s + (1,)}[len(s)])
        out.append(t)
    return out[0] if single else tuple(out)


def atleast_1d(*tensors):
    return _atleast(1, tensors)


def atleast_2d(*tensors):
    return _atleast(2, tensors)


def atleast_3d(*tensors):
    return _atleast(3, tensors)


def hstack(tensors):
    ts = atleast_1d(tuple(tensors))
    return cat(ts, 0 if ts and ts[0].dim() == 1 else 1)


def vstack(tensors):
    return cat(atleast_2d(tuple(tensors)), 0)


row_stack = vstack


def dstack(tensors):
    return cat(atleast_3d(tuple(tensors)), 2)


def column_stack(tensors):
    return cat([reshape(t, (t.numel(), 1)) if t.dim() <= 1 else t for t in tensors], 1)


# ---------------------------------------------------------------- pieces
def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """input with input[..., start:end:step (at dim), ...] replaced by src."""
    a, s = array_of(input), array_of(src)
    d = _dim(dim, a.ndim)
    key = (slice(None),) * d + (slice(start, end, step),)
    r = a.copy()
    if r[key].shape != s.shape:
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = "
                           f"{list(s.shape)}, slice size = {list(r[key].shape)}")
    r[key] = s

    def derivative(grad, inputs, result):
        return (slice_scatter(grad, zeros(s.shape, dtype=grad.dtype), d, start, end, step),
                grad[key])
    return make_op(r, "SliceScatterBackward0", (input, src), derivative=derivative)


def _piece(x, d, start, stop, name, squeeze=False):
    """x[start:stop] along d (x[start] when squeeze), a view of x."""
    a = array_of(x)
    r = a[(slice(None),) * d + ((start,) if squeeze else (slice(start, stop),))]
    shape = a.shape

    def derivative(grad, inputs, result):
        g = grad.unsqueeze(d) if squeeze else grad
        return (slice_scatter(zeros(shape, dtype=grad.dtype), g, d, start, stop),)
    return make_op(r, name, (x,), derivative=derivative)


def _pieces(x, d, bounds, name):
    return tuple(_piece(x, d, lo, hi, name) for lo, hi in zip(bounds[:-1], bounds[1:]))


@dim_aliases
def split(tensor, split_size_or_sections, dim=0):
    check_tensor(tensor, "split", "tensor")
    d = _dim(dim, tensor.dim())
    n = tensor.shape[d] if tensor.dim() else 1
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [int(s) for s in split_size_or_sections]
        if any(s < 0 for s in sizes) or sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input "
                               f"tensor's size at dimension {d}), but got split_sizes={sizes}")
        return _pieces(tensor, d, [0] + list(np.cumsum(sizes, dtype=np.int64).tolist()),
                       "SplitWithSizesBackward0")
    s = int(split_size_or_sections)
    if s < 0:
        raise RuntimeError(f"split expects split_size be non-negative, but got split_size={s}")
    if s == 0 and n:
        raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension "
                           f"size of {n}")
    bounds = list(range(0, n, s)) + [n] if n else [0, 0]
    return _pieces(tensor, d, bounds, "SplitBackward0")


@dim_aliases
def chunk(input, chunks, dim=0):
    check_tensor(input, "chunk")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    n = input.shape[_dim(dim, input.dim())] if input.dim() else 1
    return split(input, -(-n // chunks) if n else 0, dim)


@dim_aliases
def tensor_split(input, indices_or_sections, dim=0):
    check_tensor(input, "tensor_split")
    d = _dim(dim, input.dim())
    n = input.shape[d]
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        ios = ios.item() if ios.dim() == 0 else ios.tolist()
    if isinstance(ios, (list, tuple)):
        # piece k is input[i_{k-1}:i_k] (empty when they are out of order), as slicing
        bounds = [0] + [min(max(int(i) + (n if i < 0 else 0), 0), n) for i in ios] + [n]
    else:
        k = int(ios)
        if k <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {k}")
        bounds = [i * (n // k) + min(i, n % k) for i in range(k + 1)]
    return _pieces(input, d, bounds, "SliceBackward0")


@dim_aliases
def unbind(input, dim=0):
    check_tensor(input, "unbind")
    if input.dim() == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    d = _dim(dim, input.dim())
    return tuple(_piece(input, d, i, i + 1, "UnbindBackward0", squeeze=True)
                 for i in range(input.shape[d]))


@dim_aliases
def narrow(input, dim, start, length):
    check_tensor(input, "narrow")
    if input.dim() == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = _dim(dim, input.dim())
    n, start, length = input.shape[d], int(start), int(length)
    if not -n <= start <= n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but got "
                         f"{start})")
    start %= max(n, 1)
    if length < 0 or start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return _piece(input, d, start, start + length, "SliceBackward0")


@dim_aliases
def select(input, dim, index):
    check_tensor(input, "select")
    if input.dim() == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = _dim(dim, input.dim())
    n, i = input.shape[d], int(index)
    if not -n <= i < n:
        raise IndexError(f"select(): index {i} out of range for tensor of size "
                         f"{list(input.shape)} at dimension {d}")
    return input[(slice(None),) * d + (i,)]
