# Included by _tensor.pyx: the op table's elementwise ops, linear, the compiled losses.
include "_unary.pxi"


# kernel name -> (backward reads x, backward reads y, PyTorch's grad_fn name, op code)
cdef dict _ACTIVATION_INFO = {
    name: ("x" in spec["saves"], "y" in spec["saves"],
           _UNARY_GRAD_NAMES[OP_ACT + _UNARY_NAMES.index(name)], _UNARY_NAMES.index(name))
    for name, spec in _K.ACTIVATIONS.items()}


cdef bint _act_needs_x(str name, double a):
    """Whether name's backward reads its input (elu's reads it for alpha <= 0)."""
    info = _ACTIVATION_INFO[name]
    return info[0] or backward_reads_x(info[3], a)


cdef object _act_grad(str name, object xs, object ys, object g, bint owned, double a, double b,
                      object y, object colsum=None):
    """name's vector-Jacobian product of g (shaped like the output y), written into
    g when the sweep owns it."""
    g = np.ascontiguousarray(g, dtype=y.dtype)
    gx = g if owned else _K.empty_like(y)
    _K.activation_backward(name, xs, ys, g, gx, a, b, colsum)
    return gx


def activation(input, str name, double a=0.0, double b=0.0, str grad_name=None):
    """y = f(input) for an elementwise kernel of fastad._kernels (forward and
    vector-Jacobian product compiled; the backward keeps only what
    ACTIVATIONS[name]["saves"] says it needs).  grad_name overrides PyTorch's
    usual grad_fn name (its in-place forms have their own)."""
    cdef Tensor x = _as_tensor(input)
    if x._dt == DT_F16:
        # PyTorch's half ops compute in float32 and round once
        return _to(activation(_to(x, DT_F32), name, a, b, grad_name), DT_F16)
    if x._dt > DT_F64:
        x = _to(x, _default_dt)
    xa = _arr(x)
    if not xa.flags.c_contiguous:
        xa = np.ascontiguousarray(xa).reshape(xa.shape)  # (0-d stays 0-d)
    y = _K.empty_like(xa)
    _K.activation_forward(name, xa, y, a, b)  # kernels take any C-contiguous shape
    cdef Tensor out = _wrap(y, x._dt)
    if not (x._rg and grad_enabled()):
        return out
    saves_y, usual_name = _ACTIVATION_INFO[name][1:3]
    needs_x = _act_needs_x(name, a)
    xs = xa if needs_x else None
    ys = y if saves_y else None

    def backward(g, bint owned):
        return (_act_grad(name, xs, ys, g, owned, a, b, y),)
    grad_name = grad_name or usual_name
    saved = ((x,) if needs_x else ()) + ((out,) if ys is not None else ())
    return _record(out, grad_name, (x,), backward, saved, bool(saved), True)


def linear_rows(input, weight, bias, str act=None, double a=0.0, double b=0.0):
    """input @ weight.T + bias for a 2-D input, weight and a 1-D bias (or None) of
    one float dtype and matching sizes: the common case of nn.functional.linear,
    one AddmmBackward0 node whose backward writes weight's gradient in weight's own
    layout (g.T @ input).  Anything else returns None, for linear to validate.

    act (an activation whose backward reads only its output, with parameters a,
    b): act(input @ weight.T + bias) as ONE node named as act's, for nn.Sequential
    to fuse a Linear and the activation after it.  The activation runs in place on
    the GEMM's output, and its backward writes into the incoming gradient when the
    sweep owns it, summing the bias gradient in the same pass: two passes over the
    batch's activations fewer each way."""
    if not (isinstance(input, Tensor) and isinstance(weight, Tensor)
            and (bias is None or isinstance(bias, Tensor))):
        return None
    if act is not None and (act not in _ACTIVATION_INFO or not _ACTIVATION_INFO[act][1]
                            or _act_needs_x(act, a)):
        raise ValueError(f"cannot fuse {act!r} into a linear layer: its backward needs its input")
    cdef Tensor x = <Tensor>input, w = <Tensor>weight
    cdef Tensor bt = <Tensor>bias if bias is not None else None
    if x._dt > DT_F64 or w._dt != x._dt or (bt is not None and bt._dt != x._dt):
        return None
    xa, wa = _arr(x), _arr(w)
    ba = _arr(bt) if bt is not None else None
    if (cnp.PyArray_NDIM(<cnp.ndarray>xa) != 2 or cnp.PyArray_NDIM(<cnp.ndarray>wa) != 2
            or xa.shape[1] != wa.shape[1]
            or (ba is not None and (cnp.PyArray_NDIM(<cnp.ndarray>ba) != 1
                                    or ba.shape[0] != wa.shape[0]))):
        return None
    y = _K.empty((xa.shape[0], wa.shape[0]), xa.dtype)
    if not (cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>xa) and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>wa)
            and _K.linear_forward(xa, wa, ba, y)):     # bias and GEMM in one pass
        np.matmul(xa, wa.T, out=y)
        if ba is not None:
            np.add(y, ba, out=y)
    if act is not None:
        _K.activation_forward(act, y, y, a, b)
    cdef Tensor out = _wrap(y, x._dt)
    if not ((x._rg or w._rg or (bt is not None and bt._rg)) and grad_enabled()):
        return out
    cdef bint need_x = x._rg, need_w = w._rg

    def backward(g, bint owned=False):
        if act is None:
            # the bias gradient first, while g (just written by the next op's
            # backward) is still in cache: the GEMMs evict it
            gb = None if ba is None else np.add.reduce(g, 0)
        else:
            gb = None if ba is None else np.empty_like(ba)
            g = _act_grad(act, None, y, g, owned, a, b, y, gb)
        return _linear_grads(g, wa, xa, need_x, need_w) + (gb,)
    if act is not None:
        return _record(out, _ACTIVATION_INFO[act][2], (x, w, bt), backward, (x, w, out), True,
                       True)
    return _record(out, "AddmmBackward0" if bt is not None else "MmBackward0", (x, w, bt),
                   backward, (x, w))


def class_cross_entropy(input, target, str reduction, long ignore_index, double label_smoothing,
                        str grad_name):
    """cross_entropy of (N, C) logits against N int64 class indices, no class
    weights: the common case of nn.functional.cross_entropy, compiled, recorded
    under grad_name.  Anything else returns None, for cross_entropy to validate
    and handle."""
    if not (isinstance(input, Tensor) and isinstance(target, Tensor)):
        return None
    cdef Tensor x = <Tensor>input, t = <Tensor>target
    if x._dt > DT_F64 or t._dt != DT_I64 or not 0.0 <= label_smoothing <= 1.0:
        return None
    rows, ta = _arr(x), _arr(t)
    if (cnp.PyArray_NDIM(<cnp.ndarray>rows) != 2 or cnp.PyArray_NDIM(<cnp.ndarray>ta) != 1
            or ta.shape[0] != rows.shape[0] or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>rows)
            or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>ta)
            or reduction not in ("mean", "sum", "none")):
        return None
    lsm = _K.empty_like(rows)
    value = _K.cross_entropy_forward(rows, ta, None, ignore_index, label_smoothing, reduction, lsm)
    cdef Tensor out = _wrap(value, x._dt)
    if not (x._rg and grad_enabled()):
        return out
    cdef bint per_row = reduction == "none"

    def backward(g):
        glog = _K.empty_like(rows)
        gout = np.ascontiguousarray(g, rows.dtype).reshape(-1) if per_row else float(g)
        _K.cross_entropy_backward(lsm, ta, None, ignore_index, label_smoothing, reduction, gout,
                                  glog)
        return (glog, None)
    return _record(out, grad_name, (x, t), backward, (x,))


def pointwise_loss(str kernel, str grad_name, input, target, str reduction, double a=0.0):
    """An elementwise loss of fastad._kernels.LOSSES in its common form: two
    tensors of one float dtype and one shape, no weights, a valid reduction; the
    mean or sum is reduced inside the kernel.  Anything else returns None, for
    fastad.nn.functional._pointwise_loss to validate and handle."""
    if not (isinstance(input, Tensor) and isinstance(target, Tensor)):
        return None
    cdef Tensor x = <Tensor>input, t = <Tensor>target
    if x._dt > DT_F64 or t._dt != x._dt:
        return None
    xa, ta = _arr(x), _arr(t)
    if (xa.shape != ta.shape or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>xa)
            or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>ta)):
        return None
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>xa)
    cdef double scale = 1.0
    if reduction == "none":
        value = _K.empty_like(xa)
        _K.loss_forward(kernel, xa, ta, value, a)
    elif reduction == "sum":
        value = _K.loss_forward(kernel, xa, ta, None, a)
    elif reduction == "mean":      # divided as _reduce does it, for the same bits
        scale = 1.0 / n if n else NAN
        value = _K.loss_forward(kernel, xa, ta, None, a) / n if n else NAN
    else:
        return None
    cdef Tensor out = _wrap(value, x._dt)
    if not ((x._rg or t._rg) and grad_enabled()):
        return out
    cdef bint per_element = reduction == "none", t_rg = t._rg

    def backward(g):
        if per_element:
            gout = np.ascontiguousarray(g, dtype=xa.dtype)
        else:
            gout = _K.empty_like(xa)
            gout.fill(float(g) * scale)
        gx = _K.empty_like(xa)
        gt = _K.empty_like(ta) if t_rg else None
        _K.loss_backward(kernel, xa, ta, gout, gx, gt, a)
        return (gx, gt)
    return _record(out, grad_name, (x, t), backward, (x, t))


cdef object _unary_call(object input, str fname, int op, double a, double b, bint inplace):
    """An elementwise op called as fastad.foo / nn.functional.foo."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{fname}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if inplace:
        grad_name = _INPLACE_GRAD_NAMES.get(op)
        return _apply_inplace(<Tensor>input,
                              lambda t: activation(t, _UNARY_NAMES[op], a, b, grad_name), False)
    return _unary(<Tensor>input, op, a, b)


cdef object _unary(object input, int op, double a, double b):
    """The one path of every elementwise op of the table: a 0-d float is one
    scalar tape record (values and partial from the array kernels' own loops),
    anything else the array kernels."""
    cdef Tensor x = <Tensor>input
    cdef double r, d
    if x._data is None:
        if scalar_unary(op, x._dt == DT_F64, x._val, a, b, &r, &d) < 0:
            raise ValueError(f"no scalar kernel for op code {op}")
        return _sop(OP_ACT + op, r, x, None, d, 0.0, x._dt)
    if _cat(x._dt) < 2:
        value = _int_unary(op, x._data, a, b)
        if value is not None:
            if x._dt == DT_BOOL:
                raise RuntimeError(f"{_UNARY_NAMES[op]} is not supported for bool tensors")
            return _wrap(value, x._dt)
    return activation(x, _UNARY_NAMES[op], a, b)
