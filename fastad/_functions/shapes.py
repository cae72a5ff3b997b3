"""Reordering, repeating and reshaping tensors; diagonals and triangles."""
import numpy as np

from fastad._functions._args import (check_tensor, dim as _dim, dim_aliases, dims as _dims,
                                     scalar_name)
from fastad._functions.indexing import index_select
from fastad._tensor import (Size, Tensor, arange, array_of, expand, int64,
                            is_grad_enabled, make_op, permute, reshape, squeeze, tensor, transpose,
                            unsqueeze, view_inplace, zeros)


def flip(input, dims):
    """input with the order of its elements reversed along dims."""
    check_tensor(input, "flip")
    a = array_of(input)
    axes = _dims(dims, a.ndim) if a.ndim else ()
    return make_op(np.flip(a, axes).copy() if axes else a.copy(), "FlipBackward0", (input,),
                   derivative=lambda grad, inputs, result: (flip(grad, axes),))


def fliplr(input):
    if check_tensor(input, "fliplr").dim() < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, (1,))


def flipud(input):
    if check_tensor(input, "flipud").dim() < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, (0,))


def roll(input, shifts, dims=None):
    check_tensor(input, "roll")
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    if dims is not None:
        dims = _dims(dims, input.dim())
        if len(dims) != len(shifts):
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:"
                               f"{len(dims)}")
    elif len(shifts) != 1:
        raise RuntimeError("roll: dims must be given when more than one shift is")
    back = tuple(-s for s in shifts)
    return make_op(np.roll(array_of(input), shifts, dims), "RollBackward0", (input,),
                   derivative=lambda grad, inputs, result: (roll(grad, back, dims),))


def rot90(input, k=1, dims=(0, 1)):
    check_tensor(input, "rot90")
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.dim() < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.dim()}")
    d = _dims(dims, input.dim())
    return make_op(np.rot90(array_of(input), k, d).copy(), "Rot90Backward0", (input,),
                   derivative=lambda grad, inputs, result: (rot90(grad, -k, d),))


@dim_aliases
def swapaxes(input, axis0, axis1):
    return transpose(input, axis0, axis1)


def swapdims(input, dim0, dim1):
    return transpose(input, dim0, dim1)


# ---------------------------------------------------------------- views in place
def t_(input):
    if input.dim() > 2:
        raise RuntimeError(f"t_() expects a tensor with <= 2 dimensions, but self is "
                           f"{input.dim()}D")
    return view_inplace(input, Tensor.t, "TBackward1")


def transpose_(input, dim0, dim1):
    return view_inplace(input, lambda t: transpose(t, dim0, dim1), "TransposeBackward1")


@dim_aliases
def swapaxes_(input, axis0, axis1):
    return transpose_(input, axis0, axis1)


def swapdims_(input, dim0, dim1):
    return transpose_(input, dim0, dim1)


def squeeze_(input, dim=None):
    # PyTorch numbers the in-place overloads after the three out-of-place ones
    name = ("SqueezeBackward3" if dim is None else
            "SqueezeBackward5" if isinstance(dim, (tuple, list)) else "SqueezeBackward4")
    return view_inplace(input, lambda t: squeeze(t, dim), name)


def unsqueeze_(input, dim):
    return view_inplace(input, lambda t: unsqueeze(t, dim), "UnsqueezeBackward1")


def movedim(input, source, destination):
    check_tensor(input, "movedim")
    n = input.dim()
    src, dst = _dims(source, n), _dims(destination, n)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} "
                           f"dims) should contain the same number of dims as destination "
                           f"({list(dst)} dims)")
    if n == 0:
        return input
    order = [d for d in range(n) if d not in src]
    for s, t in sorted(zip(dst, src)):
        order.insert(s, t)
    return permute(input, tuple(order))


moveaxis = movedim


def unflatten(input, dim, sizes):
    check_tensor(input, "unflatten")
    d = _dim(dim, input.dim())
    shape = tuple(input.shape)
    sizes = tuple(int(s) for s in sizes)
    if -1 in sizes:
        known = int(np.prod([s for s in sizes if s != -1]))
        sizes = tuple(shape[d] // known if known and s == -1 else s for s in sizes)
    if int(np.prod(sizes)) != shape[d]:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size "
                           f"of dim {dim} ({shape[d]}) in the input tensor")
    return reshape(input, shape[:d] + sizes + shape[d + 1:])


def broadcast_shapes(*shapes):
    try:
        return Size(np.broadcast_shapes(*[(s,) if isinstance(s, int) else tuple(s)
                                          for s in shapes]))
    except ValueError:
        raise RuntimeError("Shape mismatch: objects cannot be broadcast to a single shape") \
            from None


def broadcast_to(input, size):
    return expand(input, tuple(size))


def broadcast_tensors(*tensors):
    shape = tuple(broadcast_shapes(*[t.shape for t in tensors]))
    return tuple(t if tuple(t.shape) == shape else expand(t, shape) for t in tensors)


def meshgrid(*tensors, indexing="ij"):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but "
                           f"received: {indexing}")
    for t in tensors:
        if check_tensor(t, "meshgrid", "tensors").dim() > 1:
            raise RuntimeError("torch.meshgrid: Expected 0D or 1D tensor in the tensor list but "
                               f"got: {t}")
    shape = [t.numel() for t in tensors]
    pos = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) >= 2:
        shape[0], shape[1] = shape[1], shape[0]
        pos[0], pos[1] = 1, 0
    out = []
    for t, p in zip(tensors, pos):
        view = [1] * len(shape)
        view[p] = -1
        out.append(expand(reshape(t, tuple(view)), tuple(shape)))
    return tuple(out)


# ---------------------------------------------------------------- repeating
def repeat(input, *sizes):
    check_tensor(input, "repeat", "self")
    sizes = tuple(sizes[0]) if len(sizes) == 1 and not isinstance(sizes[0], int) else sizes
    sizes = tuple(int(s) for s in sizes)
    a = array_of(input)
    if len(sizes) < a.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {list(sizes)}")
    shape = (1,) * (len(sizes) - a.ndim) + a.shape

    def derivative(grad, inputs, result):
        # each repeated copy is a block: sum the blocks back onto the input
        g = reshape(grad, tuple(x for r, s in zip(sizes, shape) for x in (r, s)))
        g = g.sum(tuple(range(0, 2 * len(sizes), 2))) if sizes else g
        return (reshape(g, a.shape),)
    return make_op(np.tile(a.reshape(shape), sizes), "RepeatBackward0", (input,),
                   derivative=derivative)


def tile(input, dims):
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return repeat(input, (1,) * (check_tensor(input, "tile").dim() - len(dims)) + dims)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    if repeats is None:   # repeat_interleave(repeats): the indices, each repeated
        counts = array_of(check_tensor(input, "repeat_interleave"))
        return repeat_interleave(arange(counts.shape[0]), input)
    check_tensor(input, "repeat_interleave")
    if dim is None:
        input, dim = reshape(input, (-1,)), 0
    d = _dim(dim, input.dim())
    n = input.shape[d] if input.dim() else 1
    r = array_of(repeats) if isinstance(repeats, Tensor) else np.asarray(repeats)
    if r.ndim > 1 or (r.ndim == 1 and r.shape[0] not in (1, n)):
        raise RuntimeError("repeats must be 0-dim or 1-dim tensor of the same size as the input "
                           "dim")
    if (r < 0).any():
        raise RuntimeError("repeats can not be negative")
    idx = np.repeat(np.arange(n), np.broadcast_to(r.reshape(-1), (n,)))
    return index_select(input, d, idx)


# ---------------------------------------------------------------- triangles and diagonals
def _triangle(input, diagonal, upper):
    name = "triu" if upper else "tril"
    if check_tensor(input, name).dim() < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    a = array_of(input)
    keep = (np.triu if upper else np.tril)(np.ones(a.shape[-2:], dtype=bool), diagonal)
    return make_op(np.where(keep, a, np.zeros((), a.dtype)),
                   "TriuBackward0" if upper else "TrilBackward0", (input,),
                   derivative=lambda grad, inputs, result: (_triangle(grad, diagonal, upper),))


def tril(input, diagonal=0):
    return _triangle(input, diagonal, False)


def triu(input, diagonal=0):
    return _triangle(input, diagonal, True)


def _triangle_indices(row, col, offset, dtype, upper):
    name = "triu_indices" if upper else "tril_indices"
    for arg, n in (("row", row), ("col", col)):
        if n < 0:
            raise RuntimeError(f"{arg} must be non-negative, got{n}")
    if dtype not in (None, int64) and dtype.is_floating_point:
        raise NotImplementedError(f'"{name}" not implemented for \'{scalar_name(dtype)}\'')
    rows, cols = (np.triu_indices if upper else np.tril_indices)(row, offset, col)
    return tensor(np.stack([rows, cols]), dtype=int64 if dtype is None else dtype)


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The (row, column) indices of the lower triangle of a row x col matrix,
    row by row, as a 2 x N tensor."""
    return _triangle_indices(row, col, offset, dtype, False)


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The (row, column) indices of the upper triangle of a row x col matrix."""
    return _triangle_indices(row, col, offset, dtype, True)


def fill_diagonal_(input, fill_value, wrap=False):
    """input's main diagonal (every dim's index equal) set to fill_value; with
    wrap, a tall matrix's diagonal starts again N + 1 rows down."""
    shape = input.shape
    if len(shape) < 2:
        raise RuntimeError("dimensions must larger than 1")
    if len(shape) > 2 and len(set(shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    if input.requires_grad and input.is_leaf and is_grad_enabled():
        # PyTorch writes through a view of input, hence its message
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.")
    on = np.zeros(tuple(shape), dtype=bool)
    np.fill_diagonal(on, True, wrap=wrap)
    input[tensor(on)] = fill_value
    return input


def _diagonal_index(shape, offset, d1, d2):
    """(the array's axes moved so that d1, d2 are last, rows, cols) of a diagonal."""
    n1, n2 = shape[d1], shape[d2]
    length = max(0, min(n1, n2 - offset) if offset >= 0 else min(n1 + offset, n2))
    i = np.arange(length)
    return (i, i + offset) if offset >= 0 else (i - offset, i)


def _on_diagonal(a, offset, d1, d2):
    """A view of a with dims d1, d2 last, and the index of its diagonal."""
    return np.moveaxis(a, (d1, d2), (-2, -1)), (Ellipsis,) + _diagonal_index(a.shape, offset,
                                                                             d1, d2)


def _diag_dims(ndim, dim1, dim2):
    d1, d2 = _dim(dim1, ndim), _dim(dim2, ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return d1, d2


def diagonal(input, offset=0, dim1=0, dim2=1):
    check_tensor(input, "diagonal")
    a = array_of(input)
    d1, d2 = _diag_dims(a.ndim, dim1, dim2)
    view, key = _on_diagonal(a, offset, d1, d2)
    shape = a.shape

    def derivative(grad, inputs, result):
        return (diagonal_scatter(zeros(shape, dtype=grad.dtype), grad, offset, d1, d2),)
    return make_op(view[key], "DiagonalBackward0", (input,), derivative=derivative)


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    a, s = array_of(input), array_of(src)
    d1, d2 = _diag_dims(a.ndim, dim1, dim2)
    r = a.copy()
    view, key = _on_diagonal(r, offset, d1, d2)
    if view[key].shape != s.shape:
        raise RuntimeError(f"expected src to have a size equal to the diagonal of self. src size "
                           f"= {list(s.shape)}, diagonal size = {list(view[key].shape)}")
    view[key] = s

    def derivative(grad, inputs, result):
        return (diagonal_scatter(grad, zeros(s.shape, dtype=grad.dtype), offset, d1, d2),
                diagonal(grad, offset, d1, d2))
    return make_op(r, "DiagonalScatterBackward0", (input, src), derivative=derivative)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    check_tensor(input, "diag_embed")
    a = array_of(input)
    d1, d2 = _diag_dims(a.ndim + 1, dim1, dim2)
    n = (a.shape[-1] if a.ndim else 1) + abs(offset)
    batch = list(a.shape[:-1])
    shape = [0] * (len(batch) + 2)
    shape[d1] = shape[d2] = n
    rest = iter(batch)
    shape = tuple(s if i in (d1, d2) else next(rest) for i, s in enumerate(shape))
    r = np.zeros(shape, a.dtype)
    view, key = _on_diagonal(r, offset, d1, d2)
    view[key] = a
    return make_op(r, "DiagEmbedBackward0", (input,),
                   derivative=lambda grad, inputs, result: (diagonal(grad, offset, d1, d2),))


def diag(input, diagonal=0):
    nd = check_tensor(input, "diag").dim()
    if nd == 1:
        return diag_embed(input, diagonal, 0, 1)
    if nd == 2:
        return input.diagonal(diagonal)
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {nd}D")


# ---------------------------------------------------------------- windows
def unfold(input, dimension, size, step):
    """Tensor.unfold: the windows of size along dimension, step apart, as a new last dim."""
    a = array_of(check_tensor(input, "unfold", "self"))
    d = _dim(dimension, a.ndim)
    n = a.shape[d] if a.ndim else 1
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if a.ndim == 0:
        r = a.reshape(1)
    else:
        windows = np.lib.stride_tricks.sliding_window_view(a, size, axis=d)
        r = windows[(slice(None),) * d + (slice(None, None, step),)].copy()
    shape = a.shape
    return make_op(r, "UnfoldBackward0", (input,),
                   derivative=lambda grad, inputs, result: (
                       _unfold_backward(grad, shape, d, size, step),))


def _unfold_backward(grad, shape, d, size, step):
    """The sum of unfold's windows back onto a tensor of the input's shape."""
    g = array_of(grad)
    r = np.zeros(shape, g.dtype)
    if len(shape) == 0:
        r[()] = g.reshape(-1)[0]
    else:
        count = g.shape[d]
        for j in range(size):
            r[(slice(None),) * d + (slice(j, j + (count - 1) * step + 1, step),)] += g[..., j]
    return make_op(r, "UnfoldBackwardBackward0", (grad,),
                   derivative=lambda gg, inputs, result: (unfold(gg, d, size, step),))
