# Included by _tensor_ops.pyx: matmul and softmax.
def matmul(input, other):
    cdef Tensor x = _as_tensor(input), y = _as_tensor(other)
    a, b = _arr(x), _arr(y)
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D")
    if x._dt != y._dt:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{DTYPES[x._dt].name} != {DTYPES[y._dt].name}")
    try:
        r = _mm2(a, b) if a.ndim == 2 and b.ndim == 2 else _np_matmul(a, b)
    except ValueError:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied "
                           f"({'x'.join(map(str, a.shape))} and {'x'.join(map(str, b.shape))})") from None
    cdef Tensor out = _wrap(r, x._dt)
    if (x._rg or y._rg) and grad_enabled():
        na, nb = x._rg, y._rg
        return _record(out, _matmul_name(a, b, r, x._rg), (x, y),
                       lambda g: _matmul_grads(g, a, b, na, nb), (x, y), True,
                       False, lambda g, i, r: _matmul_derivative(g, i[0], i[1]))
    if _debug:
        _unrecorded(out, _matmul_name(a, b, r, x._rg))
    return out


cdef str _matmul_name(object a, object b, object r, bint x_rg):
    """PyTorch's grad_fn name for a @ b = r."""
    return ("DotBackward0" if a.ndim == 1 and b.ndim == 1 else
            "MmBackward0" if a.ndim == 2 and b.ndim == 2 else
            "MvBackward0" if a.ndim == 2 and b.ndim == 1 else
            "SqueezeBackward4" if a.ndim == 1 and b.ndim == 2 else
            # PyTorch folds a matrix times a batch into one mm by transposing,
            # when the matrix needs a gradient: the result is a transposed view,
            # made contiguous unless it already is
            ("TransposeBackward0" if 1 in r.shape[-2:] else "CloneBackward0")
            if a.ndim == 2 and x_rg else "UnsafeViewBackward0")


cdef object _mm2(object a, object b):
    """a @ b for 2-D arrays: a GEMM as linear layers run theirs (the same bits at
    any thread count) when both are float32 or float64 of one dtype; numpy's
    matmul else.  An operand that is neither C-contiguous nor the transpose of a
    C-contiguous array (an expanded gradient, a strided view) is copied first:
    numpy's loop over such strides costs far more than the copy."""
    cdef bint ta, tb
    if (type(a) is np.ndarray and type(b) is np.ndarray and a.dtype == b.dtype
            and (a.dtype == np.float32 or a.dtype == np.float64) and a.shape[1] == b.shape[0]):
        ta = not a.flags.c_contiguous and a.T.flags.c_contiguous
        tb = not b.flags.c_contiguous and b.T.flags.c_contiguous
        if not ta and not a.flags.c_contiguous:
            a = np.ascontiguousarray(a)
        if not tb and not b.flags.c_contiguous:
            b = np.ascontiguousarray(b)
        out = np.empty((a.shape[0], b.shape[1]), a.dtype)
        if _K.matmul_into(a.T if ta else a, b.T if tb else b, out, ta, tb):
            return out
    return _np_matmul(a, b)


cdef object _np_matmul(object a, object b):
    """numpy's matmul without its floating-point warnings (fastad's own GEMM has none)."""
    quiet = _fp_quiet()
    try:
        return np.matmul(a, b)
    finally:
        _fp_restore(quiet)


def _linear_grads(g, w, x, bint need_x, bint need_w):
    """(g @ w, g.T @ x), a linear layer's input and weight gradients (None where not
    needed): both GEMMs at once where both are (fastad._kernels.matmul_pair_into),
    else one _mm2 each."""
    if (need_x and need_w and type(g) is np.ndarray and g.flags.c_contiguous
            and w.flags.c_contiguous and x.flags.c_contiguous and g.dtype == w.dtype == x.dtype
            and (g.dtype == np.float32 or g.dtype == np.float64)):
        gx = np.empty((g.shape[0], w.shape[1]), g.dtype)
        gw = np.empty((g.shape[1], x.shape[1]), g.dtype)
        if _K.matmul_pair_into(g, w, gx, False, False, g, x, gw, True, False):
            return (gx, gw)
    return (_mm2(g, w) if need_x else None, _mm2(g.T, x) if need_w else None)


cdef tuple _matmul_grads(object g, object a, object b, bint na, bint nb):
    if a.ndim == 1 and b.ndim == 1:  # dot product: g is 0-d
        return (g * b if na else None, g * a if nb else None)
    if a.ndim == 2 and b.ndim == 2:
        return (_mm2(g, b.T) if na else None, _mm2(a.T, g) if nb else None)
    # a matrix times a vector or a vector times a matrix: one GEMV and one outer
    # product, without the broadcast path's views (a Hessian row runs this)
    if a.ndim == 2 and b.ndim == 1:
        return (np.multiply.outer(g, b) if na else None, np.dot(g, a) if nb else None)
    if a.ndim == 1 and b.ndim == 2:
        return (np.dot(b, g) if na else None, np.multiply.outer(a, g) if nb else None)
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    if a.ndim == 1:
        g = g[..., None, :]
    if b.ndim == 1:
        g = g[..., None]
    ga = gb = None
    if na:
        ga = np.matmul(g, b2.swapaxes(-1, -2))
        if a.ndim == 1:
            ga = ga.squeeze(-2)
        ga = _unbroadcast(ga, a.shape)
    if nb:
        gb = np.matmul(a2.swapaxes(-1, -2), g)
        if b.ndim == 1:
            gb = gb.squeeze(-1)
        gb = _unbroadcast(gb, b.shape)
    return (ga, gb)


cdef tuple _matmul_derivative(object g, object x, object y):
    """_matmul_grads in tensor ops, for a recorded backward; None for an input
    whose gradient is not wanted (its GEMM would be thrown away)."""
    cdef int nx = x.ndim, ny = y.ndim
    cdef bint need_x = _needs(x), need_y = _needs(y)
    if nx == 1 and ny == 1:
        return g * y if need_x else None, g * x if need_y else None
    if nx == 2 and ny == 2:
        return (matmul(g, y.t()) if need_x else None), (matmul(x.t(), g) if need_y else None)
    x2 = unsqueeze(x, 0) if nx == 1 else x
    y2 = unsqueeze(y, 1) if ny == 1 else y
    if nx == 1:
        g = unsqueeze(g, -2)
    if ny == 1:
        g = unsqueeze(g, -1)
    gx = gy = None
    if need_x:
        gx = matmul(g, transpose(y2, -1, -2))
        gx = _sum_to(squeeze(gx, -2) if nx == 1 else gx, tuple(x.shape))
    if need_y:
        gy = matmul(transpose(x2, -1, -2), g)
        gy = _sum_to(squeeze(gy, -1) if ny == 1 else gy, tuple(y.shape))
    return gx, gy


# ---------------------------------------------------------------- softmax
cdef inline object _last_axis(object a, int d, bint last_dim):
    """a with axis d moved last."""
    return a if last_dim else np.moveaxis(a, d, -1)


def softmax(input, dim=None, dtype=None):
    return _softmax(input, dim, False)


def log_softmax(input, dim=None, dtype=None):
    return _softmax(input, dim, True)


cdef object _softmax(object input, object dim, bint take_log):
    """softmax / log_softmax over dim: the dim is moved last and each row runs
    through the compiled kernel (max-subtracted, one pass each way)."""
    cdef Tensor x = _as_tensor(input)
    if x._dt == DT_F16:
        return _half_call(log_softmax if take_log else softmax, (x, dim))
    if x._dt > DT_F64:
        raise RuntimeError(f"softmax is not implemented for {DTYPES[x._dt].name} tensors")
    a = _arr(x)
    if dim is None:
        dim = 0 if a.ndim in (0, 1, 3) else 1
    d = _norm_dim(dim, a.ndim)
    shape = a.shape
    last_dim = d == len(shape) - 1 or not shape
    # (np.moveaxis is Python: a few µs, a small softmax's whole kernel time)
    last = np.ascontiguousarray(_last_axis(a.reshape(shape or (1,)), d, last_dim))
    rows = last.reshape(last.size // last.shape[-1] if last.shape[-1] else 0, last.shape[-1])
    y_rows = _K.empty_like(rows)
    if rows.size:
        (_K.log_softmax_forward if take_log else _K.softmax_forward)(rows, y_rows)
    y = y_rows.reshape(shape) if last_dim else np.moveaxis(y_rows.reshape(last.shape), -1, d)
    cdef Tensor out = _wrap(np.ascontiguousarray(y).reshape(shape), x._dt)  # 0-d stays 0-d
    if not (x._rg and grad_enabled()):
        return _unrecorded(out, "log_softmax" if take_log else "softmax")

    def backward(g):
        g_rows = np.ascontiguousarray(_last_axis(g.reshape(shape or (1,)), d, last_dim),
                                      dtype=y_rows.dtype).reshape(y_rows.shape)
        # over the last dim the kernel writes straight into the gradient, an array
        # of its own that the sweep may keep as .grad without copying it
        gx = _K.empty(shape if last_dim else y_rows.shape, y_rows.dtype)
        gx_rows = gx.reshape(y_rows.shape)
        if gx.size:
            (_K.log_softmax_backward if take_log else _K.softmax_backward)(y_rows, g_rows, gx_rows)
        if last_dim:
            return (gx,)
        return (np.moveaxis(gx.reshape(last.shape), -1, d).reshape(shape),)
    def derivative(g, i, y):
        if take_log:
            return (g - exp(y) * sum(g, d, True),)
        return (y * (g - sum(g * y, d, True)),)
    return _record(out, "LogSoftmaxBackward0" if take_log else "SoftmaxBackward0", (x,), backward,
                   (out,), True, False, derivative)
