"""Pooling: max pooling records a gather of the input at each window's maximum;
average pooling sums fastad.nn._conv's gathered windows; adaptive average
pooling is two matmuls with averaging matrices.  All differentiate again."""

import numpy as np

from fastad import _kernels as K
from fastad._tensor import array_of, as_tensor, make_op, matmul
from fastad.nn._conv import POOL, _batched, _pair, _window_slices, _windows
from fastad.nn._padding import _pad_constant
from fastad.nn._sparse import _gather


def _pool_size(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling output size (a ceil_mode window must start inside the input)."""
    out = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode):
    k = _pair(kernel_size)
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else _pair(stride)
    p, d = _pair(padding), _pair(dilation)
    for pi, ki, di in zip(p, k, d):
        if pi > (di * (ki - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={pi}, kernel_size={ki} and dilation={di}")
    h, w = x.shape[2:]
    out = [_pool_size(n, ki, si, pi, di, ceil_mode) for n, ki, si, pi, di in zip((h, w), k, s, p, d)]
    if min(out) <= 0:
        raise RuntimeError(f"Given input size: ({x.shape[1]}x{h}x{w}). Calculated output size: "
                           f"({x.shape[1]}x{out[0]}x{out[1]}). Output size is too small")
    # the padding after: p, plus what a ceil_mode window reaches past it
    after = [max(pi, (o - 1) * si + di * (ki - 1) + 1 - n - pi)
             for n, o, ki, si, pi, di in zip((h, w), out, k, s, p, d)]
    return k, s, p, d, out, after


def _padded(x, p, after, value):
    if any(p) or after != list(p):
        x = _pad_constant(x, [(0, 0), (0, 0), (p[0], after[0]), (p[1], after[1])], value)
    return x


def _max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    """Each window's first maximum (a NaN wins), recorded as a gather of the input
    at those positions (so its gradient is a scatter-add, and differentiates
    again).  Float planes go through the compiled kernel; other dtypes tap by tap
    over contiguous copies of the input's strided slices."""
    k, s, p, d, out, after = _pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode)
    a = array_of(x)
    n, c, h, w = a.shape
    # where each (image, channel) plane starts in x flattened
    planes = (np.arange(n * c, dtype=np.int64) * (h * w)).reshape(n, c, 1, 1)
    if a.dtype in (np.float32, np.float64):
        best = K.empty((n * c,) + tuple(out), a.dtype)
        flat = np.empty(best.shape, np.int64)
        K.max_pool2d_forward(np.ascontiguousarray(a).reshape(n * c, h, w), best, flat, k, s, p, d)
        flat, best = flat.reshape(n, c, *out), best.reshape(n, c, *out)
    else:
        flat, best = _max_pool2d_taps(a, k, s, p, d, out, after, planes)
    disjoint = all(si >= di * (ki - 1) + 1 for si, di, ki in zip(s, d, k))
    values = _gather(x, flat, "MaxPool2DWithIndicesBackward0", best, unique=disjoint)
    return (values, as_tensor(flat - planes)) if return_indices else values


def _max_pool2d_taps(a, k, s, p, d, out, after, planes):
    """(flat positions, maxima) of the windows of a, tap by tap over contiguous
    copies of its strided slices (the dtypes the compiled kernel does not take)."""
    w = a.shape[3]
    if any(p) or after != list(p):
        a = np.pad(a, [(0, 0), (0, 0), (p[0], after[0]), (p[1], after[1])],
                   constant_values=-np.inf)
    best = tap = None
    for i, j, sl in _window_slices(a.shape, k, s, d):
        v = np.ascontiguousarray(a[sl])
        if best is None:
            best, tap = v, np.zeros(v.shape, np.int32)
            continue
        better = (v > best) | (v != v)
        np.maximum(best, v, out=best)
        tap += better * np.int32(i * k[1] + j - tap)
    # flat input position = the plane's start + the window's origin + the winning tap's offset
    taps = np.arange(k[0] * k[1])
    offsets = (taps // k[1]) * d[0] * w + (taps % k[1]) * d[1]
    origin = ((np.arange(out[0]) * s[0] - p[0]) * w)[:, None] + (np.arange(out[1]) * s[1] - p[1])
    return origin + offsets[tap] + planes, best


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """The maximum of each window of (N, C, H, W) or (C, H, W) input (and its flat index)."""
    x, added = _batched(as_tensor(input), 2, "max_pool2d")
    out = _max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
    if not added:
        return out
    return tuple(t.squeeze(0) for t in out) if return_indices else out.squeeze(0)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """max_pool2d over a height of one."""
    x, added = _batched(as_tensor(input), 1, "max_pool1d")
    stride = None if stride is None else (1,) + _pair(stride, 1)
    out = _max_pool2d(x.unsqueeze(2), (1,) + _pair(kernel_size, 1), stride,
                      (0,) + _pair(padding, 1), (1,) + _pair(dilation, 1), ceil_mode,
                      return_indices)
    out = tuple(t.squeeze(2) for t in out) if return_indices else out.squeeze(2)
    if not added:
        return out
    return tuple(t.squeeze(0) for t in out) if return_indices else out.squeeze(0)


def _divisors(size, out, k, s, p, count_include_pad):
    """Per output position along one dim: how many elements its window averages."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, size + p)
    if count_include_pad:
        return end - start
    return np.minimum(end, size) - np.maximum(start, 0)


def _avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    k, s, p, d, out, after = _pool_geometry(x, kernel_size, stride, padding, 1, ceil_mode)
    total = _windows(_padded(x, p, after, 0.0), k, s, d, POOL).sum((-2, -1))
    if divisor_override:
        return total / divisor_override
    rows, cols = (_divisors(n, o, ki, si, pi, count_include_pad)
                  for n, o, ki, si, pi in zip(x.shape[2:], out, k, s, p))
    div = np.outer(rows, cols)
    if (div == div.flat[0]).all():
        return total / float(div.flat[0])
    return total / as_tensor(div.astype(array_of(total).dtype))


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """The mean of each window of (N, C, H, W) or (C, H, W) input."""
    x, added = _batched(as_tensor(input), 2, "avg_pool2d")
    y = _avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                    divisor_override)
    return y.squeeze(0) if added else y


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """avg_pool2d over a height of one."""
    x, added = _batched(as_tensor(input), 1, "avg_pool1d")
    stride = None if stride is None else (1,) + _pair(stride, 1)
    y = _avg_pool2d(x.unsqueeze(2), (1,) + _pair(kernel_size, 1), stride,
                    (0,) + _pair(padding, 1), ceil_mode, count_include_pad, None).squeeze(2)
    return y.squeeze(0) if added else y


def _averaging(size, out, dtype):
    """(out, size): row i averages PyTorch's adaptive window i,
    [floor(i * size / out), ceil((i + 1) * size / out))."""
    m = np.zeros((out, size), dtype)
    for i in range(out):
        lo, hi = (i * size) // out, -((-(i + 1) * size) // out)
        m[i, lo:hi] = 1.0 / (hi - lo)
    return as_tensor(m)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to output_size (None keeps that dim's size)."""
    x = as_tensor(input)
    if x.dim() not in (3, 4):
        raise RuntimeError(f"adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got "
                           f"{list(x.shape)}")
    h, w = x.shape[-2:]
    oh, ow = _pair(output_size)
    oh, ow = h if oh is None else oh, w if ow is None else ow
    dt = array_of(x).dtype
    return matmul(matmul(_averaging(h, oh, dt), x), _averaging(w, ow, dt).t())


def adaptive_avg_pool1d(input, output_size):
    x = as_tensor(input)
    if x.dim() not in (2, 3):
        raise RuntimeError(f"adaptive_avg_pool1d(): Expected 2D or 3D tensor, but got "
                           f"{list(x.shape)}")
    (o,) = _pair(output_size, 1)
    return matmul(x, _averaging(x.shape[-1], o, array_of(x).dtype).t())


def _adaptive_max_pool2d(x, output_size, return_indices):
    """Each adaptive window's first maximum, recorded as a gather of x there
    (windows may overlap: the gradient is a scatter-add)."""
    a = array_of(x)
    n, c, h, w = a.shape
    oh, ow = _pair(output_size)
    oh, ow = h if oh is None else oh, w if ow is None else ow
    index = np.empty((n, c, oh, ow), np.int64)
    for i in range(oh):
        h0, h1 = (i * h) // oh, -((-(i + 1) * h) // oh)
        for j in range(ow):
            w0, w1 = (j * w) // ow, -((-(j + 1) * w) // ow)
            k = a[:, :, h0:h1, w0:w1].reshape(n, c, -1).argmax(-1)
            index[:, :, i, j] = (h0 + k // (w1 - w0)) * w + w0 + k % (w1 - w0)
    flat = index + (np.arange(n * c, dtype=np.int64) * (h * w)).reshape(n, c, 1, 1)
    values = _gather(x, flat, "AdaptiveMaxPool2DBackward0")
    return (values, as_tensor(index)) if return_indices else values


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling to output_size (None keeps that dim's size) of (N, C, H, W) or (C, H, W)."""
    x = as_tensor(input)
    if x.dim() not in (3, 4):
        raise RuntimeError(f"adaptive_max_pool2d(): Expected 3D or 4D tensor, but got "
                           f"{list(x.shape)}")
    out = _adaptive_max_pool2d(x if x.dim() == 4 else x.unsqueeze(0), output_size,
                               return_indices)
    if x.dim() == 4:
        return out
    return tuple(t.squeeze(0) for t in out) if return_indices else out.squeeze(0)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    x = as_tensor(input)
    if x.dim() not in (2, 3):
        raise RuntimeError(f"adaptive_max_pool1d(): Expected 2D or 3D tensor, but got "
                           f"{list(x.shape)}")
    (o,) = _pair(output_size, 1)
    out = adaptive_max_pool2d(x.unsqueeze(-2), (1, o), return_indices)
    return tuple(t.squeeze(-2) for t in out) if return_indices else out.squeeze(-2)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool1d(input, output_size, True)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum of x^p over each window)^(1/p), as PyTorch: an average pool of x^p
    times the window size."""
    kh, kw = _pair(kernel_size)
    out = avg_pool2d(as_tensor(input).pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return out.mul(kh * kw).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    out = avg_pool1d(as_tensor(input).pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return out.mul(kernel_size).pow(1.0 / norm_type)


def _max_unpool(x, indices, out_spatial, name):
    """Zeros of x's (N, C) and out_spatial with x's values put at indices (flat
    per plane); its derivative gathers there again."""
    a = array_of(x)
    idx = array_of(as_tensor(indices)).astype(np.int64)
    plane = int(np.prod(out_spatial))
    if idx.size and (idx.min() < 0 or idx.max() >= plane):
        raise RuntimeError(f"Found an invalid max index: {int(idx.max())} (output volumes are of "
                           f"size {'x'.join(map(str, out_spatial))}")
    lead = a.shape[:-len(out_spatial)]
    rows = int(np.prod(lead, dtype=np.int64))
    flat = idx.reshape(rows, -1) + (np.arange(rows, dtype=np.int64) * plane)[:, None]
    out = np.zeros(rows * plane, a.dtype)
    out[flat.reshape(-1)] = a.reshape(-1)
    flat = flat.reshape(a.shape)
    return make_op(out.reshape(lead + tuple(out_spatial)), name, (x,),
                   derivative=lambda grad, inputs, result: (
                       _gather(grad, flat, "GatherBackward0", unique=True),))


def _unpool_size(size, k, s, p, output_size, n):
    default = [(i - 1) * si - 2 * pi + ki for i, ki, si, pi in zip(size, k, s, p)]
    if output_size is None:
        return default
    out = list(output_size)[-n:]
    for o, d, si in zip(out, default, s):
        if not d - si < o < d + si:
            raise ValueError(f"invalid output_size {list(output_size)} (dim must be between "
                             f"{[d - si for d in default]} and {[d + si for d in default]})")
    return out


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """max_pool2d's partial inverse: each value back at its index, zeros elsewhere."""
    x = as_tensor(input)
    k = _pair(kernel_size)
    s = k if stride is None else _pair(stride)
    size = _unpool_size(x.shape[-2:], k, s, _pair(padding), output_size, 2)
    return _max_unpool(x, indices, size, "MaxUnpool2DBackward0")


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    x = as_tensor(input)
    k = _pair(kernel_size, 1)
    s = k if stride is None else _pair(stride, 1)
    size = _unpool_size(x.shape[-1:], k, s, _pair(padding, 1), output_size, 1)
    return _max_unpool(x, indices, size, "MaxUnpool1DBackward0")
