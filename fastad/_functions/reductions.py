"""Reductions: products, moments, extremes, norms, sums that skip NaN, counts,
and the cumulative ops.  Each derivative is written in fastad ops."""
import math

import numpy as np

from fastad._functions._args import (check_tensor, dim as _dim, dim_aliases, dtype_code, keep,
                                     plain, reduce_dims, values_indices)
from fastad._functions.indexing import masked_fill, scatter_add
from fastad._functions.shapes import flip
from fastad._tensor import (Tensor, array_of, bool_, cat, full, get_default_dtype,
                            is_grad_enabled, make_op, quiet_fp, reshape, where, zeros)

_FLOAT = "fd"


def kept(t, shape, ds, keepdim):
    """A reduction's result (or gradient) reshaped with the reduced dims of
    shape kept as 1, so that it broadcasts against the input."""
    if keepdim or not ds:
        return t
    return reshape(t, tuple(1 if i in ds else s for i, s in enumerate(shape)))


def _sign(x):
    return where(x > 0, 1.0, where(x < 0, -1.0, 0.0)).to(x.dtype)


def empty_check(a, dim, ds, fname):
    """PyTorch's errors for reductions without an identity (max-like) on empty input."""
    if a.size == 0:
        if dim is None or (isinstance(dim, (tuple, list)) and not dim):
            raise RuntimeError(f"{fname}(): Expected reduction dim to be specified for "
                               "input.numel() == 0. Specify the reduction dim with the 'dim' "
                               "argument.")
        for d in ds:
            if a.shape[d] == 0:
                raise IndexError(f"{fname}(): Expected reduction dim {d} to have non-zero size.")


# ---------------------------------------------------------------- products
def _prod(input, ds, keepdim, name):
    a = array_of(input)
    with quiet_fp():
        r = np.prod(a, axis=ds, keepdims=keepdim, dtype=a.dtype if a.dtype.kind in _FLOAT else
                    np.int64)
    shape = a.shape

    def derivative(grad, inputs, result):
        # PyTorch's prod_backward: result / x without zeros; with them the product
        # of the others by exclusive cumulative products, which has no division
        # and so is differentiated again exactly (two zeros of one slice included)
        (x,) = inputs
        if not ds:
            return (grad,)
        g = kept(grad, shape, ds, keepdim)
        if not (array_of(x) == 0).any():
            return (g * (kept(result, shape, ds, keepdim) / x),)
        if len(ds) == 1:
            return (g * _omitted_products(x, ds[0]),)
        return (g * reshape(_omitted_products(reshape(x, (-1,)), 0), shape),)
    return make_op(r, name, (input,), derivative=derivative,
                   dt=dtype_code(r))


def _exclusive_cumprod(x, d):
    """cumprod of x along d shifted by one: 1, x0, x0 x1, ..."""
    n = x.shape[d]
    ones = full(tuple(1 if k == d else s for k, s in enumerate(x.shape)), 1.0, dtype=x.dtype)
    return cumprod(cat([ones, x.narrow(d, 0, n - 1)], d), d) if n else x


def _omitted_products(x, d):
    """The product along d of x's other elements, for each element."""
    return _exclusive_cumprod(x, d) * flip(_exclusive_cumprod(flip(x, (d,)), d), (d,))


@dim_aliases
def prod(input, dim=None, keepdim=False, *, dtype=None):
    check_tensor(input, "prod")
    if dtype is not None:
        input = input.to(dtype)
    if dim is None:
        return _prod(input, tuple(range(input.dim())), False, "ProdBackward0")
    return _prod(input, (_dim(dim, input.dim()),) if input.dim() else (), keepdim,
                 "ProdBackward1")


# ---------------------------------------------------------------- moments
def _correction(fname, dim, unbiased, correction):
    if isinstance(dim, bool):          # var(x, False): the legacy unbiased flag
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{fname}() received an invalid combination of arguments: unbiased and "
                        "correction cannot both be given")
    return dim, (correction if correction is not None else 1 if unbiased in (None, True) else 0)


def _moment(input, dim, keepdim, c, is_std, fname):
    a = array_of(check_tensor(input, fname))
    if a.dtype.kind not in _FLOAT:
        raise RuntimeError("std and var only support floating point and complex dtypes")
    ds = reduce_dims(dim, a.ndim)
    n = int(np.prod([a.shape[d] for d in ds])) if ds else 1
    dof = max(n - c, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        dev = a - (a.mean(axis=ds, keepdims=True) if n else 0)
        r = (dev * dev).sum(axis=ds, keepdims=keepdim) / a.dtype.type(dof)
        if is_std:
            r = np.sqrt(r)
    shape = a.shape

    def derivative(grad, inputs, result):
        (x,) = inputs
        dx = x - x.mean(ds, keepdim=True)
        g = kept(grad, shape, ds, keepdim)
        if is_std:
            # PyTorch's std_backward: no gradient through a zero std (a constant slice)
            r = kept(result, shape, ds, keepdim)
            g = masked_fill(g / (r * 2), r == 0, 0.0)
        return (g * dx * (2.0 / dof if dof else math.inf),)
    return make_op(r, "StdBackward0" if is_std else "VarBackward0", (input,),
                   derivative=derivative)


@dim_aliases
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    dim, c = _correction("var", dim, unbiased, correction)
    return _moment(input, dim, keepdim, c, False, "var")


@dim_aliases
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    dim, c = _correction("std", dim, unbiased, correction)
    return _moment(input, dim, keepdim, c, True, "std")


@dim_aliases
def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    dim, c = _correction("var_mean", dim, unbiased, correction)
    return (_moment(input, dim, keepdim, c, False, "var_mean"),
            input.mean(reduce_dims(dim, input.dim()), keepdim=keepdim))


@dim_aliases
def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    dim, c = _correction("std_mean", dim, unbiased, correction)
    return (_moment(input, dim, keepdim, c, True, "std_mean"),
            input.mean(reduce_dims(dim, input.dim()), keepdim=keepdim))


# ---------------------------------------------------------------- extremes
def _amax(input, dim, keepdim, is_max):
    fname = "amax" if is_max else "amin"
    a = array_of(check_tensor(input, fname))
    ds = reduce_dims(dim, a.ndim)
    empty_check(a, dim, ds, fname)
    r = (np.max if is_max else np.min)(a, axis=ds, keepdims=keepdim)
    shape = a.shape

    def derivative(grad, inputs, result):
        # ties share the gradient evenly, as in PyTorch
        (x,) = inputs
        hit = x == kept(result, shape, ds, keepdim)
        return (kept(grad, shape, ds, keepdim) * hit / hit.sum(ds, keepdim=True),)
    return make_op(r, "AmaxBackward0" if is_max else "AminBackward0", (input,),
                   derivative=derivative)


@dim_aliases
def amax(input, dim=(), keepdim=False):
    return _amax(input, dim, keepdim, True)


@dim_aliases
def amin(input, dim=(), keepdim=False):
    return _amax(input, dim, keepdim, False)


@dim_aliases
def logsumexp(input, dim, keepdim=False):
    a = array_of(check_tensor(input, "logsumexp"))
    if a.dtype.kind not in _FLOAT:
        input = input.to(get_default_dtype())
        a = array_of(input)
    ds = reduce_dims(dim, a.ndim)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        m = np.max(a, axis=ds, keepdims=True) if a.size else np.zeros((1,) * a.ndim, a.dtype)
        m = np.where(np.isfinite(m), m, 0).astype(a.dtype)
        r = np.log(np.exp(a - m).sum(axis=ds, keepdims=True)) + m
    shape = a.shape
    return make_op(keep(r, ds, keepdim), "LogsumexpBackward0", (input,),
                   derivative=lambda grad, inputs, result: (
                       kept(grad, shape, ds, keepdim)
                       * (inputs[0] - kept(result, shape, ds, keepdim)).exp(),))


# ---------------------------------------------------------------- norms
def _vector_norm(x, p, dim, keepdim, name):
    """The one vector p-norm (linalg.vector_norm, norm, dist, linalg.norm, cdist,
    ...): values and derivative as PyTorch's linalg_vector_norm and norm_backward;
    name: the grad_fn."""
    a = array_of(x)
    if a.dtype.kind not in _FLOAT:
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {x.dtype.name.capitalize()}")
    ds = reduce_dims(dim, a.ndim)
    p = float(p)
    m = np.abs(a)
    if math.isinf(p):
        _check_identity(a, dim, ds, p)
        r = (np.max if p > 0 else np.min)(m, axis=ds, keepdims=keepdim)
    elif p == 0:
        r = (m != 0).sum(axis=ds, keepdims=keepdim).astype(a.dtype)
    elif p == 1:
        r = m.sum(axis=ds, keepdims=keepdim)
    elif p == 2:
        r = np.sqrt((m * m).sum(axis=ds, keepdims=keepdim))
    else:
        with np.errstate(divide="ignore"):
            r = (m ** p).sum(axis=ds, keepdims=keepdim) ** (1.0 / p)
    shape = a.shape

    def derivative(grad, inputs, result):
        (x,) = inputs
        if p == 0:
            return (None,)          # PyTorch: no gradient reaches the input
        g, r = kept(grad, shape, ds, keepdim), kept(result, shape, ds, keepdim)
        if p == 1:
            return (g * _sign(x),)
        if math.isinf(p):
            hit = x.abs() == r
            return (g * _sign(x) * hit / hit.sum(ds, keepdim=True),)
        if p < 1:
            scaled = _sign(x) * masked_fill(x.abs() ** (p - 1), x == 0, 0.0)
            return (scaled * g * r ** (1 - p),)
        if p == 2:
            return (g * masked_fill(x / r, r == 0, 0.0),)
        scaled = _sign(x) * x.abs() ** (p - 1) if p < 2 else x * x.abs() ** (p - 2)
        return (scaled * masked_fill(g / r ** (p - 1), r == 0, 0.0),)

    def backward(g):
        # the 2-norm's derivative over arrays, in its order (a gradient penalty's
        # second backward runs it): three numpy passes instead of six tensor ops
        kept_shape = tuple(1 if i in ds else s for i, s in enumerate(shape))
        rk = r if keepdim else np.reshape(r, kept_shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            q = a / rk
        zero = rk == 0
        if zero.any():
            q = np.where(zero, 0, q)
        return (np.asarray(g, a.dtype).reshape(kept_shape) * q,)
    return make_op(r, name, (x,), backward if p == 2 else None, derivative=derivative)


def _check_identity(a, dim, ds, p):
    """PyTorch's refusal of an infinity norm over an empty dim (max and min have
    no identity), naming the dim as the caller gave it."""
    if a.size:
        return
    given = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim or ())
    if not given:
        raise RuntimeError(f"linalg.vector_norm cannot compute the {p:g} norm on an empty "
                           "tensor because the operation does not have an identity")
    for d, k in zip(given, ds):
        if a.shape[k] == 0:
            raise RuntimeError(f"linalg.vector_norm cannot compute the {p:g} norm on the "
                               f"dimension {d}because this dimension is empty and the operation "
                               "does not have an identity")


@dim_aliases
def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """torch.norm: a vector norm, except 'nuc' (and 'fro' over more than two dims,
    refused there) which are linalg.matrix_norm's, over every dim by default."""
    from fastad._functions import linalg     # linalg imports this module
    check_tensor(input, "norm")
    dims = [dim] if isinstance(dim, int) else dim
    if isinstance(p, str) and not (p == "fro" and (dims is None or len(dims) <= 2)):
        return linalg.matrix_norm(input, p, list(range(input.ndim)) if dims is None else dims,
                                  keepdim, dtype=dtype)
    return linalg.vector_norm(input, 2 if p in ("fro", None) else p, dim, keepdim, dtype=dtype)


def dist(input, other, p=2):
    return _vector_norm(check_tensor(input, "dist") - other, p, None, False, "DistBackward0")


# ---------------------------------------------------------------- NaN-skipping and counts
@dim_aliases
def nansum(input, dim=None, keepdim=False, *, dtype=None):
    check_tensor(input, "nansum")
    if dtype is not None:
        input = input.to(dtype)
    a = array_of(input)
    ds = reduce_dims(dim, a.ndim)
    if a.dtype.kind not in _FLOAT:
        return input.sum(ds, keepdim=keepdim)
    shape, nan = a.shape, plain(np.isnan(a))
    return make_op(np.nansum(a, axis=ds, keepdims=keepdim), "NansumBackward0", (input,),
                   derivative=lambda grad, inputs, result: (
                       masked_fill(kept(grad, shape, ds, keepdim), nan, 0.0),))


@dim_aliases
def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    check_tensor(input, "nanmean")
    if dtype is not None:
        input = input.to(dtype)
    if not input.is_floating_point():
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype "
                           f"but got {input.dtype.name.capitalize()}")
    ds = reduce_dims(dim, input.dim())
    return nansum(input, ds, keepdim) / (~input.isnan()).sum(ds, keepdim=keepdim)


@dim_aliases
def count_nonzero(input, dim=None):
    a = array_of(check_tensor(input, "count_nonzero"))
    return plain(np.count_nonzero(a, axis=reduce_dims(dim, a.ndim)))


def _logical(input, dim, keepdim, fname, f):
    a = array_of(check_tensor(input, fname))
    return plain(f(a, axis=reduce_dims(dim, a.ndim), keepdims=keepdim))


@dim_aliases
def all(input, dim=None, keepdim=False):
    return _logical(input, dim, keepdim, "all", np.all)


@dim_aliases
def any(input, dim=None, keepdim=False):
    return _logical(input, dim, keepdim, "any", np.any)


# ---------------------------------------------------------------- cumulative
def _rev_cumsum(t, d):
    return flip(cumsum(flip(t, (d,)), d), (d,))


def _cumulative(input, dim, dtype, fname, f):
    """(input in dtype, dim, f accumulated along it): integers and bools accumulate as int64."""
    check_tensor(input, fname)
    if dtype is not None:
        input = input.to(dtype)
    a = array_of(input)
    d = _dim(dim, a.ndim)
    out = a.dtype if a.dtype.kind in _FLOAT else np.dtype(np.int64)
    return input, d, f(a, axis=d, dtype=out) if a.ndim else a.astype(out)


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference along dim (cumsum's inverse), of input with
    prepend and append joined on either side; a boolean input's is its xor."""
    check_tensor(input, "diff")
    if input.dim() == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = _dim(dim, input.dim())
    parts = []
    for arg, t in (("prepend", prepend), (None, input), ("append", append)):
        if t is None:
            continue
        if not isinstance(t, Tensor):
            raise TypeError(f"diff(): argument '{arg}' must be Tensor, not {type(t).__name__}")
        if t.dim() != input.dim():
            raise RuntimeError("diff expects prepend or append to be the same dimension as input")
        for k in range(input.dim()):
            if k != d and t.shape[k] != input.shape[k]:
                raise RuntimeError(
                    "diff expects the shape of tensor to prepend or append to match that of input "
                    f"except along the differencing dimension; input.size({k}) = "
                    f"{input.shape[k]}, but got tensor.size({k}) = {t.shape[k]}")
        parts.append(t)
    x = cat(parts, d) if len(parts) > 1 else input
    if n == 0:
        return x.clone()
    ahead, behind = (slice(None),) * d + (slice(1, None),), (slice(None),) * d + (slice(None, -1),)
    for _ in range(n):
        if x.shape[d] == 0:
            break
        x = x[ahead] ^ x[behind] if x.dtype is bool_ else x[ahead] - x[behind]
    return x


@dim_aliases
def cumsum(input, dim, *, dtype=None):
    input, d, r = _cumulative(input, dim, dtype, "cumsum", np.cumsum)
    return make_op(r, "CumsumBackward0", (input,),
                   derivative=lambda grad, inputs, result: (_rev_cumsum(grad, d),),
                   dt=dtype_code(r))


@dim_aliases
def cumprod(input, dim, *, dtype=None):
    with quiet_fp():
        input, d, r = _cumulative(input, dim, dtype, "cumprod", np.cumprod)

    def derivative(grad, inputs, result):
        # PyTorch's cumprod_backward: d y_j / d x_k is y_j / x_k for k <= j, summed
        # by a reversed cumsum, where x has no zero
        (x,) = inputs
        if x.dim() == 0 or x.shape[d] == 1:
            return (grad,)
        zero = array_of(x) == 0
        if not zero.any():
            return (_rev_cumsum(grad * result, d) / x,)
        if is_grad_enabled():
            return (_cumprod_omitting(x, grad, d),)
        # first order only: at the first zero z of a run, the quotient is the
        # cumulative product with x_z taken as 1; past it, 0
        zero = plain(zero)
        first = zero & (cumsum(zero, d) == 1)
        before = _rev_cumsum(grad * result, d) / masked_fill(x, zero, 1)
        at_zero = _rev_cumsum(grad * cumprod(masked_fill(x, first, 1), d), d)
        return (where(zero, where(first, at_zero, 0.0), before),)
    return make_op(r, "CumprodBackward0", (input,), derivative=derivative,
                   dt=dtype_code(r))


def _cumprod_omitting(x, grad, d):
    """sum over j >= k of grad_j times the product of x_i, i <= j, i != k: the
    gradient of cumprod without dividing (for create_graph, where x has zeros),
    from the cumprod along d + 1 of x repeated along a new dim d with x_k
    replaced by 1 in row k (n times the memory, as PyTorch's O(n^2) loop)."""
    n = x.shape[d]
    trailing = (1,) * (x.dim() - d - 1)
    eye = plain(np.eye(n, dtype=bool).reshape((n, n) + trailing))
    upper = plain(np.triu(np.ones((n, n), dtype=array_of(x).dtype)).reshape((n, n) + trailing))
    rows = cumprod(where(eye, 1.0, x.unsqueeze(d)), d + 1)
    return (rows * (grad.unsqueeze(d) * upper)).sum(d + 1)


def _cumulative_extreme(input, dim, is_max):
    fname = "cummax" if is_max else "cummin"
    a = array_of(check_tensor(input, fname))
    d = _dim(dim, a.ndim)
    m = np.moveaxis(a.reshape(a.shape or (1,)), d, -1)
    vals = (np.maximum if is_max else np.minimum).accumulate(m, axis=-1) if m.size else m.copy()
    # the latest position that holds the running extreme (or a NaN), as PyTorch
    hit = (m == vals) | (np.isnan(m) if m.dtype.kind == "f" else False)
    pos = np.where(hit, np.arange(m.shape[-1]), -1)
    idx = np.maximum.accumulate(pos, axis=-1) if m.size else pos
    vals = np.moveaxis(vals, -1, d).reshape(a.shape)
    idx = plain(np.moveaxis(idx, -1, d).reshape(a.shape).astype(np.int64))
    shape = a.shape
    values = make_op(vals, "CummaxBackward0" if is_max else "CumminBackward0", (input,),
                     derivative=lambda grad, inputs, result: (
                         scatter_add(zeros(shape, dtype=grad.dtype), d, idx, grad),))
    return values_indices(fname)(values, idx)


@dim_aliases
def cummax(input, dim):
    return _cumulative_extreme(input, dim, True)


@dim_aliases
def cummin(input, dim):
    return _cumulative_extreme(input, dim, False)
