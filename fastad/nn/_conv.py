"""Convolution as im2col + GEMM.  conv2d (and conv1d) of float tensors with
one group and symmetric padding is one node of the compiled kernels
(fastad._kernels.conv2d_forward/backward), which go an image at a time so that
each image's window matrix stays in cache.

The other cases, the transposed convolutions, and that node's derivative (for
create_graph) run the reference path in ops: a window-gathering primitive
copies each output position's receptive field into a column of a
(C * kh * kw, N * OH * OW) matrix, and one matmul with the flattened kernels
gives every output.  The gather (_windows) and its adjoint, the overlap-add
(_fold), are each other's derivatives, so convolution differentiates to any
order."""
import numpy as np

from fastad import _kernels as K
from fastad._tensor import array_of, as_tensor, cat, float32, float64, make_op, matmul
from fastad.nn._padding import _pad_constant


_FLOATS = (float32, float64)


def _pair(v, n=2):
    return (v,) * n if isinstance(v, int) else tuple(v)


def _out_size(size, k, s, d):
    return (size - d * (k - 1) - 1) // s + 1


# Axis orders of the gathered windows, as a permutation of (N, C, kh, kw, OH, OW):
UNFOLD = (0, 1, 2, 3, 4, 5)     # F.unfold's columns
ROWS_K = (1, 2, 3, 0, 4, 5)     # (C * kh * kw, N * OH * OW): conv's GEMM operand
POOL = (0, 1, 4, 5, 2, 3)       # (N, C, OH, OW, kh * kw): a reduction per window


def _window_slices(shape, kernel, stride, dilation):
    """(i, j, the slices of the input that kernel tap (i, j) reads), tap by tap."""
    h, w = shape[2:]
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    oh, ow = _out_size(h, kh, sh, dh), _out_size(w, kw, sw, dw)
    for i in range(kh):
        for j in range(kw):
            yield i, j, (slice(None), slice(None), slice(i * dh, i * dh + sh * (oh - 1) + 1, sh),
                         slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))


def _windows(x, kernel, stride, dilation, axes):
    """The windows of a 4-D x, one copy per kernel tap (contiguous runs along
    OW), laid out in the order axes."""
    a = array_of(x)
    n, c, h, w = a.shape
    natural = (n, c) + tuple(kernel) + (_out_size(h, kernel[0], stride[0], dilation[0]),
                                        _out_size(w, kernel[1], stride[1], dilation[1]))
    out = np.empty(tuple(natural[k] for k in axes), a.dtype)
    view = out.transpose(np.argsort(axes))
    for i, j, sl in _window_slices(a.shape, kernel, stride, dilation):
        view[:, :, i, j] = a[sl]
    geometry = (a.shape, tuple(kernel), tuple(stride), tuple(dilation), tuple(axes))
    return make_op(out, "Im2ColBackward0", (x,),
                   derivative=lambda grad, inputs, result: (_fold(grad, geometry),))


def _fold(grad, geometry):
    """Each window's values added back where they were read: _windows' adjoint."""
    shape, kernel, stride, dilation, axes = geometry
    g = array_of(grad).transpose(np.argsort(axes))
    out = np.zeros(shape, g.dtype)
    for i, j, sl in _window_slices(shape, kernel, stride, dilation):
        out[sl] += g[:, :, i, j]
    return make_op(out, "Col2ImBackward0", (grad,),
                   derivative=lambda gg, inputs, result: (
                       _windows(gg, kernel, stride, dilation, axes),))


def _conv_padding(padding, kernel, stride, dilation):
    """(top, bottom, left, right) for an int, a pair, 'valid' or 'same'."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise RuntimeError(f"Invalid padding string: '{padding}'")
        if any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        total = [d * (k - 1) for k, d in zip(kernel, dilation)]   # the extra one goes after
        return (total[0] // 2, total[0] - total[0] // 2, total[1] // 2, total[1] - total[1] // 2)
    ph, pw = _pair(padding)
    return (ph, ph, pw, pw)


def _conv2d(x, weight, bias, stride, padding, dilation, groups, dims):
    """conv2d of a batched 4-D x (dims: 1 or 2, for the error messages)."""
    w = as_tensor(weight)
    n, c, h, wd = x.shape
    out_c, in_c, kh, kw = w.shape
    if c != in_c * groups:
        shown = list(w.shape)[:2] + list(w.shape)[4 - dims:]
        raise RuntimeError(f"Given groups={groups}, weight of size {shown}, expected input"
                           f"{list(x.shape) if dims == 2 else [n, c, wd]} to have "
                           f"{in_c * groups} channels, but got {c} channels instead")
    if out_c % groups:
        raise RuntimeError("Given groups=1, expected weight to be divisible by groups")
    top, bottom, left, right = _conv_padding(padding, (kh, kw), stride, dilation)
    ph, pw = h + top + bottom, wd + left + right
    oh, ow = _out_size(ph, kh, stride[0], dilation[0]), _out_size(pw, kw, stride[1], dilation[1])
    if oh <= 0 or ow <= 0:
        sizes = f"({ph} x {pw})" if dims == 2 else f"({pw})"
        ks = f"({dilation[0] * (kh - 1) + 1} x {dilation[1] * (kw - 1) + 1})" if dims == 2 else \
            f"({dilation[1] * (kw - 1) + 1})"
        raise RuntimeError(f"Calculated padded input size per channel: {sizes}. Kernel size: "
                           f"{ks}. Kernel size can't be greater than actual input size")
    b = None if bias is None else as_tensor(bias)
    if (groups == 1 and top == bottom and left == right and K.blas_available()
            and x.dtype in _FLOATS and w.dtype == x.dtype and (b is None or b.dtype == x.dtype)):
        return _conv2d_compiled(x, w, b, stride, (top, left), dilation, (n, out_c, oh, ow))
    if top or bottom or left or right:
        x = _pad_constant(x, [(0, 0), (0, 0), (top, bottom), (left, right)], 0.0)
    cols = _windows(x, (kh, kw), stride, dilation, ROWS_K).reshape(c * kh * kw, n * oh * ow)
    if groups == 1:
        y = matmul(w.reshape(out_c, -1), cols)
    else:
        k, o = in_c * kh * kw, out_c // groups
        y = cat([matmul(w[g * o:(g + 1) * o].reshape(o, k), cols[g * k:(g + 1) * k])
                 for g in range(groups)], 0)
    y = y.reshape(out_c, n, oh, ow).permute(1, 0, 2, 3)
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def _conv2d_compiled(x, w, b, stride, padding, dilation, out_shape):
    """conv2d as one node of the compiled kernels (an image at a time; see
    fastad._kernels.conv2d_forward).  Its derivative is written in the ops of
    the im2col path (conv_transpose2d for the input, the windows for the
    weight), so that it differentiates again."""
    xa, wa = np.ascontiguousarray(array_of(x)), np.ascontiguousarray(array_of(w))
    ba = None if b is None else np.ascontiguousarray(array_of(b))
    out = K.empty(out_shape, xa.dtype)
    K.conv2d_forward(xa, wa, ba, out, stride, padding, dilation)
    need_x, need_w = x.requires_grad, w.requires_grad
    n, c, h, wd = xa.shape
    kh, kw = wa.shape[2:]
    # conv_transpose2d's output_padding that gives back x's size
    extra = tuple((size + 2 * p - d * (k - 1) - 1) % s for size, p, d, k, s in
                  zip((h, wd), padding, dilation, (kh, kw), stride))

    def backward(g):
        g = np.ascontiguousarray(g, dtype=xa.dtype)
        gx = K.empty_like(xa) if need_x else None
        gw = np.empty_like(wa) if need_w else None
        K.conv2d_backward(xa, wa, g, gx, gw, stride, padding, dilation)
        return (gx, gw, None if ba is None else g.sum(axis=(0, 2, 3)))

    def derivative(grad, inputs, result):
        xi, wi, bi = inputs
        gx = gw = None
        if xi.requires_grad:
            gx = _conv_transpose2d(grad, wi, None, stride, padding, extra, 1, dilation)
        if wi.requires_grad:
            (ph, pw), (o, l) = padding, (out_shape[1], out_shape[2] * out_shape[3])
            xp = _pad_constant(xi, [(0, 0), (0, 0), (ph, ph), (pw, pw)], 0.0) if ph or pw else xi
            cols = _windows(xp, (kh, kw), stride, dilation, ROWS_K).reshape(c * kh * kw, n * l)
            gw = matmul(grad.permute(1, 0, 2, 3).reshape(o, n * l), cols.t()).reshape(wi.shape)
        return gx, gw, None if bi is None else grad.sum((0, 2, 3))
    return make_op(out, "ConvolutionBackward0", (x, w, b), backward, (x, w),
                   derivative=derivative)


def _batched(x, spatial, fn_name):
    """x with a batch dim (unbatched inputs get one) and whether it was added."""
    if x.dim() == spatial + 2:
        return x, False
    if x.dim() == spatial + 1:
        return x.unsqueeze(0), True
    raise RuntimeError(f"Expected {spatial + 1}D (unbatched) or {spatial + 2}D (batched) input to "
                       f"{fn_name}, but got input of size: {list(x.shape)}")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) of (N, C, H, W) or (C, H, W) input."""
    x, added = _batched(as_tensor(input), 2, "conv2d")
    y = _conv2d(x, weight, bias, _pair(stride), padding, _pair(dilation), groups, 2)
    return y.squeeze(0) if added else y


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution of (N, C, L) or (C, L) input: conv2d over a height of one."""
    x, added = _batched(as_tensor(input), 1, "conv1d")
    pad = padding if isinstance(padding, str) else (0,) + _pair(padding, 1)
    y = _conv2d(x.unsqueeze(2), as_tensor(weight).unsqueeze(2), bias, (1,) + _pair(stride, 1),
                pad, (1,) + _pair(dilation, 1), groups, 1).squeeze(2)
    return y.squeeze(0) if added else y


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """(N, C * kh * kw, L): each sliding block of a 4-D input as a column, as F.unfold."""
    x = as_tensor(input)
    if x.dim() != 4:
        raise NotImplementedError(f"Input Error: Only 4D input Tensors are supported "
                                  f"(got {x.dim()}D)")
    ph, pw = _pair(padding)
    if ph or pw:
        x = _pad_constant(x, [(0, 0), (0, 0), (ph, ph), (pw, pw)], 0.0)
    win = _windows(x, _pair(kernel_size), _pair(stride), _pair(dilation), UNFOLD)
    n, c, kh, kw, oh, ow = win.shape
    return win.reshape(n, c * kh * kw, oh * ow)



def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """(N, C * kh * kw, L) columns summed back into (N, C, H, W): unfold's adjoint."""
    x = as_tensor(input)
    batched = x.dim() == 3
    if x.dim() not in (2, 3):
        raise NotImplementedError(f"Input Error: Only unbatched (2D) or batched (3D) input "
                                  f"Tensors are supported (got {x.dim()}D)")
    if not batched:
        x = x.unsqueeze(0)
    (kh, kw), (h, w) = _pair(kernel_size), _pair(output_size)
    (ph, pw), s, d = _pair(padding), _pair(stride), _pair(dilation)
    n, ckk, length = x.shape
    full = (h + 2 * ph, w + 2 * pw)
    oh, ow = _out_size(full[0], kh, s[0], d[0]), _out_size(full[1], kw, s[1], d[1])
    if ckk % (kh * kw) or oh * ow != length:
        raise RuntimeError(f"Expected size of input's dimension 2 to match the calculated number "
                           f"of sliding blocks {oh} * {ow} = {oh * ow}, but got input.size(2)="
                           f"{length}." if ckk % (kh * kw) == 0 else
                           f"Expected size of input's dimension 1 to be divisible by the product "
                           f"of kernel_size, but got input.size(1)={ckk} and kernel_size=("
                           f"{kh}, {kw}).")
    c = ckk // (kh * kw)
    y = _fold(x.reshape(n, c, kh, kw, oh, ow), ((n, c) + full, (kh, kw), s, d, UNFOLD))
    y = y[:, :, ph:ph + h, pw:pw + w] if ph or pw else y
    return y if batched else y.squeeze(0)


def _conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups, dilation):
    """The adjoint of conv2d: each input pixel's kernel-weighted copy (one GEMM
    per group) overlap-added into the output (_fold), cropped by padding."""
    w = as_tensor(weight)
    n, c, h, wd = x.shape
    in_c, out_g, kh, kw = w.shape
    if c != in_c:
        raise RuntimeError(f"Given transposed=1, weight of size {list(w.shape)}, expected input"
                           f"{list(x.shape)} to have {in_c} channels, but got {c} channels instead")
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = stride, padding, output_padding, dilation
    rows = x.permute(1, 0, 2, 3).reshape(c, n * h * wd)
    k = c // groups
    cols = cat([matmul(w[g * k:(g + 1) * k].reshape(k, out_g * kh * kw).t(), rows[g * k:(g + 1) * k])
                for g in range(groups)], 0) if groups > 1 else matmul(
        w.reshape(c, out_g * kh * kw).t(), rows)
    out_c = out_g * groups
    full = ((h - 1) * sh + dh * (kh - 1) + 1 + oph, (wd - 1) * sw + dw * (kw - 1) + 1 + opw)
    y = _fold(cols.reshape(out_c, kh, kw, n, h, wd),
              ((n, out_c) + full, (kh, kw), (sh, sw), (dh, dw), ROWS_K))
    if ph or pw:
        y = y[:, :, ph:full[0] - ph, pw:full[1] - pw]
    return y if bias is None else y + as_tensor(bias).reshape(1, -1, 1, 1)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2-D transposed convolution of (N, C, H, W) or (C, H, W) input."""
    x, added = _batched(as_tensor(input), 2, "conv_transpose2d")
    y = _conv_transpose2d(x, weight, bias, _pair(stride), _pair(padding), _pair(output_padding),
                          groups, _pair(dilation))
    return y.squeeze(0) if added else y


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """1-D transposed convolution: conv_transpose2d over a height of one."""
    x, added = _batched(as_tensor(input), 1, "conv_transpose1d")
    one = (lambda v: (0,) + _pair(v, 1))
    y = _conv_transpose2d(x.unsqueeze(2), as_tensor(weight).unsqueeze(2), bias,
                          (1,) + _pair(stride, 1), one(padding), one(output_padding), groups,
                          (1,) + _pair(dilation, 1)).squeeze(2)
    return y.squeeze(0) if added else y
