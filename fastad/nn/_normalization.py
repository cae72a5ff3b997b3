"""Normalisation layers and distances, composed of fastad's differentiable ops
(mean, pow, mul, ...), so their gradients are PyTorch's formulas and they
differentiate again; running statistics are updated in place, outside the graph.
layer_norm and training batch_norm are one node each, whose derivatives are
written in those ops (layer_norm's forward and backward are compiled row kernels)."""
import numpy as np

from fastad import _kernels as K
from fastad._tensor import array_of, as_tensor, float32, float64, make_op, no_grad, sqrt
from fastad.nn._padding import pad
from fastad.nn._pooling import avg_pool2d


def _normalize_over(x, dims, eps):
    """(x - mean) / sqrt(var + eps) over dims (biased variance)."""
    centered = x - x.mean(dims, keepdim=True)
    var = (centered * centered).mean(dims, keepdim=True)
    return centered * (var + eps).pow(-0.5)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the last len(normalized_shape) dims, then scale and shift."""
    x = as_tensor(input)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    n = len(shape)
    if n == 0 or tuple(x.shape[x.dim() - n:]) != shape or x.dim() < n:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, shape))}], but got input of size{x.shape}")
    w = None if weight is None else as_tensor(weight)
    b = None if bias is None else as_tensor(bias)
    if (x.dtype in (float32, float64) and x.numel() > 0
            and all(t is None or (t.dtype == x.dtype and tuple(t.shape) == shape) for t in (w, b))):
        return _layer_norm_compiled(x, w, b, shape, eps)
    y = _normalize_over(x, tuple(range(x.dim() - n, x.dim())), eps)
    if w is not None:
        y = y * w
    return y if b is None else y + b


def _layer_norm_compiled(x, w, b, shape, eps):
    """layer_norm as one node of the compiled row kernels (a pass forward, a pass
    backward per row; fastad._kernels.layer_norm_forward).  Its derivative is
    the layer-norm gradient in fastad ops, so it differentiates again."""
    xa = np.ascontiguousarray(array_of(x))
    cols = int(np.prod(shape))
    rows = xa.size // cols
    x2 = xa.reshape(rows, cols)
    w2, b2 = (None if t is None else np.ascontiguousarray(array_of(t)).reshape(cols)
              for t in (w, b))
    y, mean, rstd = K.empty_like(x2), np.empty(rows), np.empty(rows)
    K.layer_norm_forward(x2, w2, b2, eps, y, mean, rstd)
    need_x, need_w, need_b = (t is not None and t.requires_grad for t in (x, w, b))
    dims = tuple(range(x.dim() - len(shape), x.dim()))
    lead = tuple(range(x.dim() - len(shape)))

    def backward(g):
        g2 = np.ascontiguousarray(g, dtype=xa.dtype).reshape(rows, cols)
        gx = K.empty_like(x2) if need_x else None
        gw, gb = K.layer_norm_backward(x2, w2, g2, mean, rstd, gx, need_w, need_b)
        return (None if gx is None else gx.reshape(xa.shape),
                None if gw is None else gw.astype(xa.dtype).reshape(shape),
                None if gb is None else gb.astype(xa.dtype).reshape(shape))

    def derivative(grad, inputs, result):
        xi, wi, bi = inputs
        xc = xi - xi.mean(dims, keepdim=True)
        r = ((xc * xc).mean(dims, keepdim=True) + eps).pow(-0.5)
        xhat = xc * r
        gh = grad if wi is None else grad * wi
        gx = (gh - gh.mean(dims, keepdim=True) - xhat * (gh * xhat).mean(dims, keepdim=True)) * r
        over_rows = (lambda t: t.sum(lead) if lead else t)
        return (gx, None if wi is None else over_rows(grad * xhat),
                None if bi is None else over_rows(grad))
    return make_op(y.reshape(xa.shape), "NativeLayerNormBackward0", (x, w, b), backward,
                   (x,) if w is None else (x, w), derivative=derivative)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) over the last dims (eps: the dtype's machine epsilon)."""
    x = as_tensor(input)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    n = len(shape)
    if tuple(x.shape[x.dim() - n:]) != shape or x.dim() < n:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, shape))}], but got input of size{x.shape}")
    if eps is None:
        eps = float(np.finfo(array_of(x).dtype).eps)
    dims = tuple(range(x.dim() - n, x.dim()))
    y = x * ((x * x).mean(dims, keepdim=True) + eps).pow(-0.5)
    return y if weight is None else y * weight


def _channel_shape(x):
    """Where a per-channel (dim 1) vector broadcasts against x."""
    return (1, -1) + (1,) * (x.dim() - 2)


def _affine(y, weight, bias, shape):
    if weight is not None:
        y = y * as_tensor(weight).reshape(shape)
    return y if bias is None else y + as_tensor(bias).reshape(shape)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalise each channel (dim 1) with the batch's statistics when training
    (updating the running ones by momentum), with the running ones otherwise."""
    x = as_tensor(input)
    if x.dim() < 2:
        raise ValueError(f"Expected 2D or 3D input (got {x.dim()}D input)")
    shape = _channel_shape(x)
    if not training:
        mean = as_tensor(running_mean).reshape(shape)
        y = (x - mean) * (as_tensor(running_var).reshape(shape) + eps).pow(-0.5)
        return _affine(y, weight, bias, shape)
    count = x.numel() // x.shape[1]
    if count <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                         f"{x.shape}")
    dims = (0,) + tuple(range(2, x.dim()))
    w = None if weight is None else as_tensor(weight)
    b = None if bias is None else as_tensor(bias)
    if x.dtype in (float32, float64) and all(t is None or t.dtype == x.dtype for t in (w, b)):
        return _batch_norm_compiled(x, w, b, eps, dims, shape, count,
                                    (running_mean, running_var, momentum))
    if running_mean is not None or running_var is not None:
        a = array_of(x)
        _update_running(a.mean(dims, dtype=np.float64), a.var(dims, dtype=np.float64), count,
                        running_mean, running_var, momentum)
    return _batch_norm_train(x, w, b, eps, dims, shape)


def _batch_norm_compiled(x, w, b, eps, dims, shape, count, running):
    """Training batch norm as ONE node of the compiled channel kernels
    (fastad._kernels.batch_norm_forward/backward), which also give the batch
    statistics for the running ones; its derivative as _batch_norm_train's."""
    xa = np.ascontiguousarray(array_of(x))
    x3 = xa.reshape(xa.shape[0], xa.shape[1], -1)
    w1, b1 = (None if t is None else np.ascontiguousarray(array_of(t)).reshape(-1)
              for t in (w, b))
    y, mean, var = K.empty_like(x3), np.empty(x3.shape[1]), np.empty(x3.shape[1])
    K.batch_norm_forward(x3, w1, b1, eps, y, mean, var)
    _update_running(mean, var, count, *running)
    need_x, need_w, need_b = (t is not None and t.requires_grad for t in (x, w, b))

    def backward(g):
        g3 = np.ascontiguousarray(g, dtype=xa.dtype).reshape(x3.shape)
        gx = K.empty_like(x3) if need_x else None
        gw, gb = K.batch_norm_backward(x3, w1, g3, mean, var, eps, gx)
        return (None if gx is None else gx.reshape(xa.shape),
                gw.astype(xa.dtype) if need_w else None, gb.astype(xa.dtype) if need_b else None)
    return make_op(y.reshape(xa.shape), "NativeBatchNormBackward0", (x, w, b), backward,
                   (x,) if w is None else (x, w),
                   derivative=_batch_norm_derivative(dims, shape, eps, b is not None))


def _batch_norm_derivative(dims, shape, eps, has_bias):
    """The batch-norm gradient in fastad ops over statistics recomputed from x
    (so it differentiates again)."""
    def derivative(grad, inputs, result):
        xt, wt, _ = inputs
        xc = xt - xt.mean(dims, keepdim=True)
        r = ((xc * xc).mean(dims, keepdim=True) + eps).pow(-0.5)
        return _batch_norm_grads(grad, xc * r, r, wt, has_bias, dims, shape, "keepdim")
    return derivative


def _batch_norm_train(x, weight, bias, eps, dims, shape):
    """Training batch norm as ONE node (the composed form is ~10 nodes, most of
    a small model's step), for dtypes the compiled kernels do not take: the
    first-order backward runs _batch_norm_derivative's lines over the saved arrays."""
    a = array_of(x)
    centered = a - a.mean(dims, keepdims=True)
    rstd = (centered * centered).mean(dims, keepdims=True)
    rstd = 1 / np.sqrt(rstd + rstd.dtype.type(eps))
    xhat = centered * rstd
    y = xhat
    if weight is not None:
        y = y * array_of(as_tensor(weight)).reshape(shape)
    if bias is not None:
        y = y + array_of(as_tensor(bias)).reshape(shape)
    w_arr = None if weight is None else array_of(as_tensor(weight))
    has_bias = bias is not None

    def backward(grad):
        return _batch_norm_grads(grad, xhat, rstd, w_arr, has_bias, dims, shape, "keepdims")
    return make_op(y, "NativeBatchNormBackward0", (x, weight, bias), backward=backward,
                   derivative=_batch_norm_derivative(dims, shape, eps, has_bias))


def _batch_norm_grads(g, xhat, rstd, weight, has_bias, dims, shape, keep):
    """(dx, dweight, dbias) over arrays or tensors (keep: their keepdim spelling)."""
    gw = g if weight is None else g * weight.reshape(shape)
    mean = (lambda t: t.mean(dims, **{keep: True}))
    dx = (gw - mean(gw) - xhat * mean(gw * xhat)) * rstd
    dw = None if weight is None else (g * xhat).sum(dims).reshape(-1)
    db = g.sum(dims).reshape(-1) if has_bias else None
    return dx, dw, db


def _update_running(mean, var, count, running_mean, running_var, momentum):
    """running = (1 - momentum) * running + momentum * batch, from the batch's
    mean and biased variance over count values (the running one is unbiased)."""
    with no_grad():
        if running_mean is not None:
            rm = array_of(running_mean)
            rm[...] = (1 - momentum) * rm + momentum * mean
        if running_var is not None:
            rv = array_of(running_var)
            rv[...] = (1 - momentum) * rv + momentum * (var * (count / (count - 1)))


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Normalise each (sample, channel) over its spatial dims."""
    x = as_tensor(input)
    if x.dim() < 3:
        raise ValueError(f"Expected 3D or higher input (got {x.dim()}D input)")
    shape = _channel_shape(x)
    if not use_input_stats:
        return batch_norm(x, running_mean, running_var, weight, bias, False, momentum, eps)
    dims = tuple(range(2, x.dim()))
    y = _normalize_over(x, dims, eps)
    if running_mean is not None or running_var is not None:
        # the per-instance statistics, averaged over the batch, as PyTorch does
        a = array_of(x)
        n, c = a.shape[:2]
        count = a.size // (n * c)
        stats = a.reshape(n, c, -1).transpose(1, 0, 2)
        _update_running_batch_mean(stats, count, running_mean, running_var, momentum)
    return _affine(y, weight, bias, shape)


def _update_running_batch_mean(stats, count, running_mean, running_var, momentum):
    with no_grad():
        if running_mean is not None:
            rm = array_of(running_mean)
            rm[...] = (1 - momentum) * rm + momentum * stats.mean(2, dtype=np.float64).mean(1)
        if running_var is not None:
            rv = array_of(running_var)
            var = stats.var(2, dtype=np.float64) * (count / (count - 1))
            rv[...] = (1 - momentum) * rv + momentum * var.mean(1)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each sample's channels in num_groups groups, then scale and shift per channel."""
    x = as_tensor(input)
    if x.dim() < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{x.dim()}")
    n, c = x.shape[:2]
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, "
                           f"but got input of shape {x.shape} and num_groups={num_groups}")
    y = _normalize_over(x.reshape(n, num_groups, -1), (2,), eps).reshape(tuple(x.shape))
    return _affine(y, weight, bias, _channel_shape(x))


# ---------------------------------------------------------------- norms and distances
def _norm(x, p, dim, keepdim):
    """The p-norm of x over dim."""
    if p == 2:
        return sqrt((x * x).sum(dim, keepdim=keepdim))
    if p == float("inf"):
        return x.abs().max(dim, keepdim=keepdim)[0]
    if p == 1:
        return x.abs().sum(dim, keepdim=keepdim)
    return x.abs().pow(p).sum(dim, keepdim=keepdim).pow(1.0 / p)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p over dim, eps)."""
    if out is not None:
        raise TypeError("normalize(): out= is not supported by fastad")
    x = as_tensor(input)
    return x / _norm(x, p, dim, True).clamp(min=eps)


def _clamped_below(n, eps):
    """n with values below eps raised to eps, the gradient of n left as it is
    (PyTorch clamps its norms in place under no_grad)."""
    a = array_of(n)
    return n + as_tensor(np.maximum(a, a.dtype.type(eps)) - a)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 / ||x1|| * x2 / ||x2||) over dim, each norm at least eps."""
    a, b = as_tensor(x1), as_tensor(x2)
    na = _clamped_below(_norm(a, 2, dim, True), eps)
    nb = _clamped_below(_norm(b, 2, dim, True), eps)
    return ((a / na) * (b / nb)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p over the last dim."""
    a, b = as_tensor(x1), as_tensor(x2)
    d = a - b + eps
    return _norm(d, p, -1 if d.dim() else 0, keepdim)


def pdist(input, p=2):
    """The p-norm distances between the rows of an (N, M) input, upper triangle, row by row."""
    x = as_tensor(input)
    if x.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {x.dim()}D")
    i, j = np.triu_indices(x.shape[0], 1)
    return _norm(x[i] - x[j], p, -1, False)



def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """x / (k + alpha * mean of x^2 over `size` neighbouring channels)^beta."""
    x = as_tensor(input)
    if x.dim() < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {x.dim()} dimensions)")
    if x.numel() == 0:
        return x
    shape = tuple(x.shape)
    div = (x * x).reshape(shape[0], 1, shape[1], -1)
    div = pad(div, (0, 0, size // 2, (size - 1) // 2))
    div = avg_pool2d(div, (size, 1), stride=1).reshape(shape)
    return x / (div * alpha + k).pow(beta)
