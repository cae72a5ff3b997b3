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


def _half_call(fn, tuple args):
    """fn(*args) with its float16 tensors and arrays taken to float32 and its
    float32 results rounded back to float16: PyTorch's CPU kernels compute half
    in float32 and round once, and fastad's kernels take float32 and float64
    only.  The casts are recorded (ToCopyBackward0), so gradients flow back in
    float16."""
    wide = []
    for v in args:
        if isinstance(v, Tensor) and (<Tensor>v)._dt == DT_F16:
            v = _to(<Tensor>v, DT_F32)
        elif isinstance(v, np.ndarray) and v.dtype == np.float16:
            v = v.astype(np.float32)
        wide.append(v)
    cdef Tensor out = fn(*wide), r
    if out._dt != DT_F32:
        return out
    r = _to(out, DT_F16)
    if r._node is not None and out._node is not None:
        r._node.name = out._node.name       # the op's, as PyTorch's one half kernel
    return r


def activation(input, str name, double a=0.0, double b=0.0, str grad_name=None):
    """y = f(input) for an elementwise kernel of fastad._kernels (forward and
    vector-Jacobian product compiled; the backward keeps only what
    ACTIVATIONS[name]["saves"] says it needs).  grad_name overrides PyTorch's
    usual grad_fn name (its in-place forms have their own)."""
    cdef Tensor x = _as_tensor(input)
    if x._dt == DT_F16:
        return _half_call(activation, (x, name, a, b, grad_name))
    if x._dt > DT_F64:
        x = _to(x, _default_dt)
    xa = _arr(x)
    if not xa.flags.c_contiguous:
        xa = np.ascontiguousarray(xa).reshape(xa.shape)  # (0-d stays 0-d)
    y = _K.empty_like(xa)
    _K.activation_forward(name, xa, y, a, b)  # kernels take any C-contiguous shape
    cdef Tensor out = _wrap(y, x._dt)
    if not (x._rg and grad_enabled()):
        return _unrecorded(out, name)
    saves_y, usual_name = _ACTIVATION_INFO[name][1:3]
    needs_x = _act_needs_x(name, a)
    xs = xa if needs_x else None
    ys = y if saves_y else None

    def backward(g, bint owned):
        return (_act_grad(name, xs, ys, g, owned, a, b, y),)
    grad_name = grad_name or usual_name
    saved = ((x,) if needs_x else ()) + ((out,) if ys is not None else ())
    derivative = _ACT_DERIVATIVES[_ACTIVATION_INFO[name][3]]
    return _record(out, grad_name, (x,), backward, saved, bool(saved), True,
                   lambda g, i, r: (derivative(g, i[0], r, a, b),))


cdef bint _arrays(object grad, object result):
    """Whether a derivative's grad and result are float32 or float64 arrays, which
    the compiled backward takes (not inline scalars, not float16)."""
    return (isinstance(grad, Tensor) and (<Tensor>grad)._data is not None
            and (<Tensor>result)._data is not None
            and ((<Tensor>result)._dt == DT_F32 or (<Tensor>result)._dt == DT_F64))


cdef object _act_backward(int k, Tensor g, Tensor y, double a, double b):
    """gx = g * f'(y) for row k (a backward that reads y alone), by its compiled
    backward: one recorded op, as PyTorch's TanhBackwardBackward0, instead of a
    chain of elementwise ones.  Its gradients: this op again in g, the row's
    backward_derivative in y."""
    name = _UNARY_NAMES[k]
    if g._dt != y._dt:
        g = _to(g, y._dt)
    ya = _arr(y)
    ga = _arr(g)
    if not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>ya):
        ya = np.ascontiguousarray(ya)
    if not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>ga):
        ga = np.ascontiguousarray(ga)      # an expanded gradient (sum's)
    gx = _K.empty_like(ya)
    _K.activation_backward(name, None, ya, ga, gx, a, b)
    cdef Tensor out = _wrap(gx, y._dt)
    grad_name = _UNARY_GRAD_NAMES[OP_ACT + k][:-1] + "Backward0"
    if not ((g._rg or y._rg) and grad_enabled()):
        return _unrecorded(out, grad_name)
    cdef bint need_g = g._rg, need_y = y._rg
    by_y = _ACT_BACKWARD_DERIVATIVES[k]

    def backward(gg):
        gg = np.ascontiguousarray(gg, ya.dtype)
        d_g = None
        if need_g:
            d_g = _K.empty_like(ya)
            _K.activation_backward(name, None, ya, gg, d_g, a, b)
        d_y = np.asarray(by_y(gg, ga, ya, a, b), ya.dtype) if need_y else None
        return (d_g, d_y)

    def derivative(grad, inputs, result):
        gi, yi = inputs
        return (_act_backward(k, grad, yi, a, b) if _needs(gi) else None,
                by_y(grad, gi, yi, a, b) if _needs(yi) else None)
    return _record(out, grad_name, (g, y), backward, (g, y), True, False, derivative)


cdef str _linear_name(int ndim, bint has_bias):
    """PyTorch's grad_fn name for linear over an ndim-D input: addmm (mm without a
    bias) for rows; else a view of them, or matmul's squeeze / unsafe view."""
    if ndim == 2:
        return "AddmmBackward0" if has_bias else "MmBackward0"
    if has_bias:
        return "ViewBackward0"
    return "SqueezeBackward4" if ndim == 1 else "UnsafeViewBackward0"


def linear(Tensor input, Tensor weight, Tensor bias=None, str act=None, double a=0.0,
           double b=0.0):
    """input @ weight.T + bias for an input of one or more dims, a 2-D weight and a
    1-D bias (or None) of one float dtype and matching sizes, as
    nn.functional.linear hands them over: one node over the input's rows, whose
    backward writes weight's gradient in weight's own layout (g.T @ input).

    act (an activation whose backward reads only its output, with parameters a,
    b): act(input @ weight.T + bias) as ONE node named as act's, for nn.Sequential
    to fuse a Linear and the activation after it.  The activation runs in place on
    the GEMM's output, and its backward writes into the incoming gradient when the
    sweep owns it, summing the bias gradient in the same pass: two passes over the
    batch's activations fewer each way."""
    if act is not None and (act not in _ACTIVATION_INFO or not _ACTIVATION_INFO[act][1]
                            or _act_needs_x(act, a)):
        raise ValueError(f"cannot fuse {act!r} into a linear layer: its backward needs its input")
    if input._dt == DT_F16:
        return _half_call(linear, (input, weight, bias, act, a, b))
    cdef Tensor x = input, w = weight, bt = bias
    xa, wa = _arr(x), _arr(w)
    ba = _arr(bt) if bt is not None else None
    cdef int nd = cnp.PyArray_NDIM(<cnp.ndarray>xa)
    in_shape = xa.shape
    if nd != 2:     # rows: a view where the layout allows, as PyTorch's reshape
        xa = xa.reshape(int(np.prod(in_shape[:-1], dtype=np.int64)), in_shape[-1])
    y = _K.empty((xa.shape[0], wa.shape[0]), xa.dtype)
    if not (cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>xa) and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>wa)
            and _K.linear_forward(xa, wa, ba, y)):     # bias and GEMM in one pass
        np.matmul(xa, wa.T, out=y)
        if ba is not None:
            np.add(y, ba, out=y)
    if act is not None:
        _K.activation_forward(act, y, y, a, b)
    cdef Tensor out = _wrap(y if nd == 2 else y.reshape(in_shape[:-1] + (wa.shape[0],)), x._dt)
    if not ((x._rg or w._rg or (bt is not None and bt._rg)) and grad_enabled()):
        if _debug:
            _unrecorded(out, _linear_name(nd, bt is not None) if act is None else act)
        return out
    cdef bint need_x = x._rg, need_w = w._rg
    rows_shape = y.shape

    def backward(g, bint owned=False):
        if nd != 2:
            g = g.reshape(rows_shape)
        if act is None:
            # the bias gradient first, while g (just written by the next op's
            # backward) is still in cache: the GEMMs evict it
            gb = None if ba is None else np.add.reduce(g, 0)
        else:
            gb = None if ba is None else np.empty_like(ba)
            g = _act_grad(act, None, y, g, owned, a, b, y, gb)
        gx, gw = _linear_grads(g, wa, xa, need_x, need_w)
        return (gx if gx is None or nd == 2 else gx.reshape(in_shape), gw, gb)
    act_derivative = None if act is None else _ACT_DERIVATIVES[_ACTIVATION_INFO[act][3]]
    act_reads_z = act is not None and _ACT_DERIVATIVE_READS_SELF[_ACTIVATION_INFO[act][3]]

    def derivative(grad, inputs, result):
        xi, wi, bi = inputs
        g2 = grad if nd == 2 else grad.reshape(rows_shape)
        x2 = xi if nd == 2 else xi.reshape(xa.shape)
        if act_derivative is not None:     # through the activation, at z = x @ w.T + b
            z = None
            if act_reads_z:     # (most read only the result: no GEMM again)
                z = x2.matmul(wi.t())
                z = z if bi is None else z + bi
            g2 = act_derivative(g2, z, result if nd == 2 else result.reshape(rows_shape), a, b)
        # an input whose gradient is not wanted gets None: its GEMM would be thrown away
        gx = g2.matmul(wi) if _needs(xi) else None
        return (gx if gx is None or nd == 2 else gx.reshape(in_shape),
                g2.t().matmul(x2) if _needs(wi) else None,
                g2.sum(0) if _needs(bi) else None)
    if act is not None:
        return _record(out, _ACTIVATION_INFO[act][2], (x, w, bt), backward, (x, w, out), True,
                       True, derivative)
    return _record(out, _linear_name(nd, bt is not None), (x, w, bt), backward, (x, w), True,
                   False, derivative)


def class_loss(str kind, Tensor input, target, weight, str reduction, long ignore_index,
               double label_smoothing, str grad_name, tuple out_shape):
    """A loss over (M, C) rows of class scores, as nn.functional hands them over:
    kind "nll" (input: log-probabilities) or "cross_entropy" (log_softmax fused
    in), against M int64 class indices (an array of any shape) or, for
    cross_entropy, an (M, C) C-contiguous array of class probabilities of input's
    dtype; weight: (C,) class weights of input's
    dtype, or None.  A per-row loss is shaped out_shape.  One node, recorded under
    grad_name."""
    if input._dt == DT_F16:
        return _half_call(class_loss, (kind, input, target, weight, reduction, ignore_index,
                                       label_smoothing, grad_name, out_shape))
    cdef Tensor x = input
    rows = _arr(x)
    if not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>rows):
        rows = np.ascontiguousarray(rows)
    cdef bint nll = kind == "nll"
    cdef bint probs = cnp.PyArray_TYPE(<cnp.ndarray>target) != cnp.NPY_INT64
    if not probs and (cnp.PyArray_NDIM(<cnp.ndarray>target) != 1
                      or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>target)):
        target = np.ascontiguousarray(target).reshape(-1)
    cdef bint per_row = reduction == "none"
    lsm = None if nll else _K.empty_like(rows)
    if nll:
        value = _K.nll_loss_forward(rows, target, weight, ignore_index, reduction)
    elif probs:
        value = _K.cross_entropy_prob_forward(rows, target, weight, label_smoothing, reduction,
                                              lsm)
    else:
        value = _K.cross_entropy_forward(rows, target, weight, ignore_index, label_smoothing,
                                         reduction, lsm)
    cdef Tensor out = _wrap(value.reshape(out_shape) if per_row else value, x._dt)
    if not (x._rg and grad_enabled()):
        return _unrecorded(out, grad_name)
    # the closures hold arrays and numbers, never x: a tensor would tie the graph
    # into a reference cycle that the garbage collector cannot see
    cdef int dt = x._dt

    def backward(g):
        glog = _K.empty_like(rows)
        gout = np.ascontiguousarray(g, rows.dtype).reshape(-1) if per_row else float(g)
        if nll:
            _K.nll_loss_backward(target, weight, ignore_index, reduction, gout, glog)
        elif probs:
            _K.cross_entropy_prob_backward(lsm, target, weight, label_smoothing, reduction, gout,
                                           glog)
        else:
            _K.cross_entropy_backward(lsm, target, weight, ignore_index, label_smoothing,
                                      reduction, gout, glog)
        return (glog,)

    def derivative(grad, inputs, result):
        # loss_i = -sum_c q[i, c] * log_softmax(x_i)[c] (x_i itself for nll), so its
        # gradient is rowsum(q_i) * softmax(x_i) - q_i (-q_i for nll)
        q, total = _class_weights(rows, target, weight, ignore_index,
                                  0.0 if nll else label_smoothing, probs)
        scale = (grad.reshape(rows.shape[0], 1) if per_row else
                 grad * ((1.0 / total if total else 0.0) if reduction == "mean" else 1.0))
        qt = _wrap(q, dt)
        d = -qt if nll else softmax(inputs[0], 1) * qt.sum(1, True) - qt
        return (d * scale,)
    return _record(out, grad_name, (x,), backward, () if nll else (x,), True, False, derivative)


cdef tuple _class_weights(object rows, object target, object weight, long ignore_index,
                          double label_smoothing, bint probs):
    """(q, total): the constant weights of a class loss's log-probabilities, loss_i
    = -sum_c q[i, c] * logp[i, c], and the mean's divisor (the summed weights of
    the rows not ignored; the row count for class probabilities), as the kernels
    take them."""
    cdef Py_ssize_t M = rows.shape[0], C = rows.shape[1]
    if weight is None and label_smoothing == 0 and not probs:
        # the common case, its few numpy calls (the general one's cost more
        # than a small loss's kernels): the same q, a one-hot of the rows kept
        kept = (target != ignore_index).nonzero()[0]
        q = np.zeros((M, C), rows.dtype)
        q[kept, target[kept]] = 1.0
        return q, float(len(kept))
    w = np.ones(C, rows.dtype) if weight is None else weight
    smooth = np.broadcast_to(w * (label_smoothing / C), (M, C))
    if probs:
        return w * (target * (1.0 - label_smoothing)) + smooth, M
    keep = target != ignore_index
    picked = np.where(keep, w[np.where(keep, target, 0)], 0)
    q = np.where(keep[:, None], smooth, 0)
    q[np.arange(M), np.where(keep, target, 0)] += picked * (1.0 - label_smoothing)
    return q, float(np.add.reduce(picked, None, np.float64))


cdef object _loss_partials(str kernel, Tensor x, Tensor t, double a, Tensor pw):
    """d loss / d input and d loss / d target per element, in Tensor ops (PyTorch's
    derivatives.yaml): the form a recorded backward differentiates again; each
    mirrors its kernel's formula (fastad._kernels.LOSSES)."""
    d = x - t
    if kernel == "mse":
        gx = 2 * d
    elif kernel == "l1":
        gx = where(d > 0, 1.0, where(d < 0, -1.0, 0.0)).to(x.dtype)
    elif kernel == "smooth_l1":
        # PyTorch's second derivative is 1 / beta inside |d| < beta, 0 on its edge
        gx = where(d.abs() < a, d / a, _sgn(d)) if a else _sgn(d)
    elif kernel == "huber":
        gx = where(d.abs() < a, d, a * _sgn(d))
    elif kernel == "binary_cross_entropy":
        # PyTorch's EPSILON is the float constant 1e-12f for both dtypes
        return (d / clamp((1 - x) * x, <double><float>1e-12, None), -(x / (1 - x)).log())
    elif kernel == "binary_cross_entropy_with_logits":
        tp = t if pw is None else pw * t
        return ((tp + 1 - t) * x.sigmoid() - tp,
                -x if pw is None else -x - (pw - 1) * logsigmoid(x))
    elif kernel == "kl_div":
        if a != 0:      # log_target
            e = t.exp()
            return (-e, e * (t - x + 1))
        return (-t, where(t == 0, 0.0, t.log() + 1 - x))
    else:
        raise ValueError(f"unknown loss {kernel!r}")
    return (gx, -gx)


cdef object _broadcast_copy(object a, tuple shape, object dtype):
    """a broadcast to shape as a C-contiguous array of dtype (0-d stays 0-d)."""
    return np.ascontiguousarray(np.broadcast_to(a, shape), dtype).reshape(shape)


def pointwise_loss(str kernel, str grad_name, Tensor input, Tensor target, str reduction,
                   double a=0.0, Tensor weight=None, Tensor pos_weight=None):
    """An elementwise loss of fastad._kernels.LOSSES over an input and a target of
    one float dtype and one shape, as nn.functional hands them over; weight and
    pos_weight (binary cross entropy's) broadcast to that shape.  The mean or sum
    is reduced inside the kernel (in double, in an order that does not depend on
    the thread count), or over the weighted losses.  One node under grad_name."""
    if input._dt == DT_F16:
        return _half_call(pointwise_loss, (kernel, grad_name, input, target, reduction, a,
                                           weight, pos_weight))
    cdef Tensor x = input, t = target
    xa, ta = _arr(x), _arr(t)
    if not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>xa):
        xa = np.ascontiguousarray(xa)
    if not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>ta):
        ta = np.ascontiguousarray(ta)
    shape = xa.shape
    wa = None if weight is None else _broadcast_copy(_arr(weight), shape, xa.dtype)
    pw = None if pos_weight is None else _broadcast_copy(_arr(pos_weight), shape, xa.dtype)
    cdef bint logits = kernel == "binary_cross_entropy_with_logits"
    cdef bint per_element = reduction == "none"
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>xa)
    values = _K.empty_like(xa) if per_element or wa is not None else None
    if logits:
        value = _K.bce_logits_forward(xa, ta, pw, values)
    else:
        value = _K.loss_forward(kernel, xa, ta, values, a)
    if wa is not None:
        np.multiply(values, wa, out=values)
        if not per_element:
            value = float(np.add.reduce(values, None, np.float64))
    cdef double scale = 1.0
    if per_element:
        value = values
    elif reduction == "mean":      # divided as nn.Module means divide, for the same bits
        scale = 1.0 / n if n else NAN
        value = value / n if n else NAN
    cdef Tensor out = _wrap(value, x._dt)
    if not ((x._rg or t._rg) and grad_enabled()):
        return _unrecorded(out, grad_name)
    cdef bint t_rg = t._rg

    def backward(g):
        if per_element:
            gout = np.ascontiguousarray(g, dtype=xa.dtype)
        else:
            gout = _K.empty_like(xa)
            gout.fill(float(g) * scale)
        if wa is not None:     # (into a new array where gout is the sweep's g)
            gout = np.multiply(gout, wa, out=_K.empty_like(gout) if per_element else gout)
        gx = _K.empty_like(xa)
        gt = _K.empty_like(ta) if t_rg else None
        if logits:
            _K.bce_logits_backward(xa, ta, pw, gout, gx, gt)
        else:
            _K.loss_backward(kernel, xa, ta, gout, gx, gt, a)
        return (gx, gt)

    def derivative(grad, inputs, result):
        g = grad if per_element else grad * scale
        if wa is not None:
            g = g * _wrap(wa, x._dt)
        gx, gt = _loss_partials(kernel, inputs[0], inputs[1], a,
                                None if pw is None else _wrap(pw, x._dt))
        return (gx * g, gt * g if t_rg else None)
    return _record(out, grad_name, (x, t), backward, (x, t), True, False, derivative)


cdef object _unary_call(object input, str fname, int op, double a, double b, bint inplace):
    """An elementwise op called as fastad.foo / nn.functional.foo."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{fname}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if inplace:
        return _unary_inplace(<Tensor>input, op, a, b)
    return _unary(<Tensor>input, op, a, b)


cdef object _unary_inplace(Tensor input, int op, double a, double b):
    # apart from _unary_call: its lambda's closure would be allocated on every call of the
    # out-of-place path too (a third of a 0-d sigmoid's cost)
    grad_name = _INPLACE_GRAD_NAMES.get(op)
    return _apply_inplace(input, lambda t: activation(t, _UNARY_NAMES[op], a, b, grad_name),
                          False)


cdef object _unary(object input, int op, double a, double b):
    """The one path of every elementwise op of the table: a 0-d float is one
    scalar tape record (values and partial from the array kernels' own loops),
    anything else the array kernels."""
    cdef Tensor x = <Tensor>input, out
    cdef double r, d
    if fad_tracing:
        return _traced(S_UNARY, op, input, None, a, b)
    if x._data is None:
        _fresh(x)
        if scalar_unary(op, x._dt == DT_F64, x._val, a, b, &r, &d) < 0:
            raise ValueError(f"no scalar kernel for op code {op}")
        out = _sop(OP_ACT + op, r, x, None, d, a, x._dt)
        if b != 0.0 and out._graph is not None:     # (a recorded backward reads 0 when absent)
            out._graph.params[out._slot] = b
        return out
    if _cat(x._dt) < 2:
        value = _int_unary(op, x._data, a, b)
        if value is not None:
            if x._dt == DT_BOOL:
                raise RuntimeError(f"{_UNARY_NAMES[op]} is not supported for bool tensors")
            return _unrecorded(_wrap(value, x._dt), _UNARY_NAMES[op])
    return activation(x, _UNARY_NAMES[op], a, b)
