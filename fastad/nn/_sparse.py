"""Lookups: embedding (rows of a table by index) and one_hot.

The row gather is a primitive recorded with make_op; its derivative is the
scatter-add of the gradient into a table of zeros, itself a primitive whose
derivative is the gather again, so embedding differentiates to any order.
(Private stand-ins for gather/scatter_add until those tensor ops exist.)"""
import numpy as np

from fastad._tensor import Tensor, array_of, as_tensor, make_op, no_grad


def _gather(src, flat_idx, name, values=None, unique=False):
    """src.reshape(-1)[flat_idx], shaped as flat_idx (values: that result, when
    the caller has it already; unique: no index repeats)."""
    a = array_of(src)
    shape = a.shape
    if values is None:
        values = a.reshape(-1)[flat_idx]
    return make_op(values, name, (src,), derivative=lambda grad, inputs, result: (
        _scatter(grad, flat_idx, shape, unique),))


def _scatter(grad, flat_idx, shape, unique=False):
    """Zeros of shape with grad added at flat_idx (repeats summed): _gather's adjoint."""
    g = array_of(grad)
    if unique:
        out = np.zeros(shape, g.dtype)
        out.reshape(-1)[flat_idx.reshape(-1)] = g.reshape(-1)
    else:
        out = np.bincount(flat_idx.reshape(-1), g.reshape(-1),
                          minlength=int(np.prod(shape))).astype(g.dtype, copy=False)
    return make_op(out.reshape(shape), "ScatterAddBackward0", (grad,),
                   derivative=lambda gg, inputs, result: (
                       _gather(gg, flat_idx, "GatherBackward0", unique=unique),))


def _index_array(input, fn):
    idx = as_tensor(input)
    a = array_of(idx)
    if a.dtype.kind not in "iu":
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following "
                           f"scalar types: Long, Int; but got {idx.dtype} instead (while checking "
                           f"arguments for {fn})")
    return a.astype(np.int64, copy=False)


def _padding_index(padding_idx, rows):
    """padding_idx in [0, rows) (a negative one counts from the end), or None."""
    if padding_idx is not None:
        if padding_idx > 0:
            assert padding_idx < rows, "Padding_idx must be within num_embeddings"
        elif padding_idx < 0:
            assert padding_idx >= -rows, "Padding_idx must be within num_embeddings"
            padding_idx = rows + padding_idx
    return padding_idx


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """weight[input]: the rows of weight picked by the integer tensor input."""
    if sparse:
        raise NotImplementedError("fastad has no sparse tensors: use sparse=False")
    idx = _index_array(input, "embedding")
    rows, dim = tuple(weight.shape)
    padding_idx = _padding_index(padding_idx, rows)
    if idx.size and (idx.min() < -rows or idx.max() >= rows):
        raise IndexError("index out of range in self")
    idx = idx % rows if idx.size else idx
    if max_norm is not None:
        _renorm_rows(weight, np.unique(idx), max_norm, norm_type)
    flat = idx[..., None] * dim + np.arange(dim)
    scale = _grad_scale(idx, padding_idx, scale_grad_by_freq, array_of(weight).dtype)

    def derivative(grad, inputs, result):
        return (_scatter(grad if scale is None else grad * scale, flat, (rows, dim)),)
    return make_op(array_of(weight)[idx], "EmbeddingBackward0", (weight,), derivative=derivative)


def _grad_scale(idx, padding_idx, scale_grad_by_freq, dtype):
    """The factor each looked-up row's gradient gets (None: all ones): 0 at
    padding_idx, and 1 / (the index's count in the batch) with scale_grad_by_freq."""
    if padding_idx is None and not scale_grad_by_freq:
        return None
    scale = np.ones(idx.shape, dtype)
    if scale_grad_by_freq:
        scale /= np.bincount(idx.reshape(-1))[idx]
    if padding_idx is not None:
        scale[idx == padding_idx] = 0
    return as_tensor(scale[..., None])


def _renorm_rows(weight, rows, max_norm, norm_type):
    """PyTorch's embedding_renorm_: rows whose norm exceeds max_norm are scaled
    down to it, in place and outside the graph."""
    with no_grad():
        w = array_of(weight)
        sel = w[rows].astype(np.float64)
        norms = np.linalg.norm(sel, ord=norm_type, axis=1)
        big = norms > max_norm
        w[rows[big]] = (sel[big] * (max_norm / (norms[big] + 1e-7))[:, None]).astype(w.dtype)


def one_hot(tensor, num_classes=-1):
    """(..., num_classes) int64 with a 1 at each element's class."""
    if not isinstance(tensor, Tensor) or array_of(tensor).dtype != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    a = array_of(tensor)
    if num_classes == -1:
        if a.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(a.max()) + 1
    if a.size and a.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if a.size and a.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    return as_tensor((a[..., None] == np.arange(num_classes)).astype(np.int64))
