# Included by _tensor.pyx: binary arithmetic (+ - * / **) on scalars and arrays.
cdef dict BINARY_NAMES = {OP_ADD: "AddBackward0", OP_SUB: "SubBackward0", OP_MUL: "MulBackward0",
                          OP_DIV: "DivBackward0", OP_POW: "PowBackward0"}


cdef object _binary(int op, object x, object y, bint reflected=False):
    """x op y for any mix of tensors, arrays and numbers, with numpy broadcasting
    and PyTorch's type promotion; gradients are summed back over broadcast dims."""
    ox = _operand(x)
    oy = _operand(y)
    if ox is None or oy is None:
        return NotImplemented
    cdef Tensor ta = ox[0], tb = oy[0]
    a, b = ox[1], oy[1]
    cdef int dt = _promote(ox[3], ox[2], oy[3], oy[2])
    if op == OP_DIV and _cat(dt) < 2:
        dt = _default_dt
    npdt = NP_DTYPES[dt]
    if isinstance(a, np.ndarray) and a.dtype != npdt:
        a = a.astype(npdt)
    if isinstance(b, np.ndarray) and b.dtype != npdt:
        b = b.astype(npdt)
    handler = _pool_for(a, b)
    quiet = _fp_quiet()
    try:
        if op == OP_ADD:
            r = a + b
        elif op == OP_SUB:
            if dt == DT_BOOL:
                raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                                   "supported. Use the `^` or `logical_xor()` operator instead.")
            if ox[3] == DT_BOOL or oy[3] == DT_BOOL:
                raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not "
                                   "supported. If you are trying to invert a mask, use the `~` or "
                                   "`logical_not()` operator instead.")
            r = a - b
        elif op == OP_MUL:
            r = a * b
        elif op == OP_DIV:
            r = np.true_divide(a, b)
        else:
            if dt == DT_BOOL:
                # PyTorch: no bool pow kernel, but a scalar exponent of 1 is a copy
                if not (oy[2] == 0 and b == 1):
                    raise NotImplementedError("\"pow\" not implemented for 'Bool'")
                r = np.array(a, copy=True)
            else:
                r = np.power(a, b)
    except MemoryError as e:
        raise _AllocationError(f"fastad: cannot allocate the result of shapes {np.shape(a)} and "
                               f"{np.shape(b)}: {e}") from None
    except ValueError as e:
        if "negative integer powers" in str(e):
            raise RuntimeError("Integers to negative integer powers are not allowed.") from None
        raise RuntimeError(_broadcast_msg(np.shape(a), np.shape(b))) from None
    finally:
        _fp_restore(quiet)
        _pool_off(handler)
    cdef Tensor out = _wrap(r, dt)
    cdef bint na = ta is not None and ta._rg
    cdef bint nb = tb is not None and tb._rg
    if not ((na or nb) and grad_enabled()):
        return _unrecorded(out, BINARY_NAMES[op])
    if _cat(dt) < 2:
        return out
    sa = a.shape if isinstance(a, np.ndarray) else ()
    sb = b.shape if isinstance(b, np.ndarray) else ()
    name = BINARY_NAMES[op]
    saved = ()
    # derivatives (fn(grad, inputs, result)): an operand that is not a tensor is
    # None among the inputs, and its value a or b is used; a gradient that is not
    # wanted (_needs) is not computed
    if op == OP_ADD:
        bw = lambda g: (_unbroadcast(g, sa) if na else None, _unbroadcast(g, sb) if nb else None)
        dv = lambda g, i, r: (_sum_to(g, sa) if _needs(i[0]) else None,
                              _sum_to(g, sb) if _needs(i[1]) else None)
    elif op == OP_SUB:
        if reflected:
            name = "RsubBackward1"
        bw = lambda g: (_unbroadcast(g, sa) if na else None, _unbroadcast(-g, sb) if nb else None)
        dv = lambda g, i, r: (_sum_to(g, sa) if _needs(i[0]) else None,
                              _sum_to(-g, sb) if _needs(i[1]) else None)
    elif op == OP_MUL:
        saved = tuple([t for t in (ta, tb) if t is not None])
        bw = lambda g: (_unbroadcast(g * b, sa) if na else None, _unbroadcast(g * a, sb) if nb else None)
        dv = lambda g, i, r: (_sum_to(g * _value(i[1], b), sa) if _needs(i[0]) else None,
                              _sum_to(g * _value(i[0], a), sb) if _needs(i[1]) else None)
    elif op == OP_DIV:
        saved = tuple([t for t in (ta, tb) if t is not None])
        if reflected and ta is None:
            name = "MulBackward0"
        bw = lambda g: (_unbroadcast(g / b, sa) if na else None,
                        _unbroadcast(-g * a / (b * b), sb) if nb else None)
        dv = lambda g, i, r: (_sum_to(g / _value(i[1], b), sa) if _needs(i[0]) else None,
                              _sum_to(-g * _value(i[0], a) / (_value(i[1], b) * _value(i[1], b)),
                                      sb) if _needs(i[1]) else None)
    else:
        saved = tuple([t for t in (ta, tb) if t is not None])
        if tb is not None and ta is not None:
            name = "PowBackward1"
        elif ta is None:
            name = "PowBackward2"
        rr = _arr(out)
        bw = lambda g: (_unbroadcast(_pow_grad_base(g, a, b), sa) if na else None,
                        _unbroadcast(_pow_grad_exp(g, a, rr), sb) if nb else None)
        dv = lambda g, i, r: _pow_derivative(g, i[0], i[1], r, a, b, rr, sa, sb)
    return _record(out, name, (ta, tb), bw, saved, True, False, dv)


cdef object _pool_for(object a, object b):
    """A large operand's result comes from fastad's pool of recycled blocks, as a
    kernel's output does (_pool_on): returns the handler _pool_off puts back."""
    if ((type(a) is np.ndarray and cnp.PyArray_NBYTES(<cnp.ndarray>a) >= _POOL_MIN)
            or (type(b) is np.ndarray and cnp.PyArray_NBYTES(<cnp.ndarray>b) >= _POOL_MIN)):
        return cnp.PyDataMem_SetHandler(_POOL)
    return None


cdef inline object _value(object handle, object raw):
    """An operand in a derivative: its tensor, or its value when it was not one."""
    return raw if handle is None else handle


cdef tuple _pow_derivative(object g, object x, object y, object r, object a, object b, object rr,
                           tuple sa, tuple sb):
    """PyTorch's pow_backward_self / pow_backward_exponent in tensor ops."""
    gx = gy = None
    with quiet_fp():
        if x is not None:
            y_ = _value(y, b)
            if y is None and (type(b) is float or type(b) is int) and b != 0:
                # PyTorch's pow_backward for a number exponent: no mask, and
                # x ** 1 is x (one record fewer to differentiate again)
                gx = _sum_to(g * b * (x if b == 2 else x ** (b - 1)), sa)
            else:
                gx = _sum_to(where(np.asarray(b) == 0, 0.0, g * y_ * x ** (y_ - 1)), sa)
        if y is not None:
            log_x = log(x) if x is not None else _const(np.log(a), (<Tensor>y)._dt)
            gy = _sum_to(where((np.asarray(a) == 0) & (rr == rr), 0.0, g * r * log_x), sb)
    return gx, gy


def _broadcast_msg(sa, sb):
    """PyTorch's message for shapes that do not broadcast, plus both shapes."""
    cdef int n = _builtins.max(len(sa), len(sb))
    for k in range(n - 1, -1, -1):
        i, j = k - (n - len(sa)), k - (n - len(sb))
        da = sa[i] if i >= 0 else 1
        db = sb[j] if j >= 0 else 1
        if da != db and da != 1 and db != 1:
            return (f"The size of tensor a ({da}) must match the size of tensor b ({db}) at "
                    f"non-singleton dimension {k} (shapes {list(sa)} and {list(sb)})")
    return f"shapes {list(sa)} and {list(sb)} cannot be broadcast together"


def _pow_grad_base(g, a, b):
    # a number exponent (x ** 2 above all) needs no mask: the same values, without
    # numpy's error state and where (which cost more than the product)
    if type(b) is float or type(b) is int:
        if b == 1:
            return g
        if b >= 2 and b % 1 == 0:   # a whole power: no 0 ** negative, no negative ** fraction
            return g * b * (a if b == 2 else np.power(a, b - 1))
        if b != 0:
            with quiet_fp():
                return g * b * np.power(a, b - 1)
    with quiet_fp():
        return np.where(np.asarray(b) == 0, 0.0, g * b * np.power(a, np.asarray(b) - 1))


def _pow_grad_exp(g, a, r):
    with quiet_fp():
        # d/db a**b = a**b log a; PyTorch takes it as 0 where a == 0 and b >= 0
        return np.where((np.asarray(a) == 0) & (np.asarray(r) == np.asarray(r)), 0.0, g * r * np.log(a))


cdef int _result_dt(tuple operands) except -1:
    """PyTorch's promotion over any number of operands: the dimensioned tensors'
    joined dtype, raised by 0-d tensors' and then numbers' only where theirs is
    of a higher category (bool < integer < floating)."""
    cdef int by_kind[3]
    by_kind[:] = [-1, -1, -1]
    for x in operands:
        o = _operand(x)
        if o is None:
            raise TypeError(f"result_type(): expected a Tensor or a number, got {type(x).__name__}")
        k = o[2]
        by_kind[k] = o[3] if by_kind[k] < 0 else _join(by_kind[k], o[3])
    cdef int dt = -1
    for k in (2, 1, 0):
        if by_kind[k] >= 0 and (dt < 0 or _cat(by_kind[k]) > _cat(dt)):
            dt = by_kind[k]
    return dt


def result_type(*operands):
    """The dtype PyTorch's arithmetic gives for these tensors and numbers."""
    return DTYPES[_result_dt(operands)]


def promote_types(type1, type2):
    return DTYPES[_join(_dt_code(type1), _dt_code(type2))]


def can_cast(from_, to):
    """Whether PyTorch's casting rules allow ``from_`` -> ``to`` (no lowering of category)."""
    return _cat(_dt_code(from_)) <= _cat(_dt_code(to))


# The arithmetic dunders' body (Tensor.__add__ is _scalar_dunder(B_ADD, ...), ...),
# apart so that a compiled replay (_trace.pxi) runs the very code the operator runs.
cdef inline uint8_t _scalar_formula(int code, double x, double y, bint y_tensor, double *v,
                                    double *dx, double *dy) noexcept:
    """x op y on the scalar tape, y a tensor's value or a number (code: a B_ of
    _trace.pxi): sets the value and the partials its record keeps, returns its
    op code.  The one formula of the dunders and of a compiled scalar block."""
    if code == B_ADD or code == B_RADD:
        v[0] = x + y
        dx[0] = 1.0
        dy[0] = 1.0 if y_tensor else 0.0
        return OP_ADD
    if code == B_SUB:
        v[0] = x - y
        dx[0] = 1.0
        dy[0] = -1.0 if y_tensor else 0.0
        return OP_SUB
    if code == B_RSUB:
        v[0] = y - x
        dx[0] = -1.0
        dy[0] = 0.0
        return OP_RSUB
    if code == B_MUL or code == B_RMUL:
        v[0] = x * y
        dx[0] = y
        dy[0] = x if y_tensor else 0.0
        return OP_MUL
    if code == B_TRUEDIV:
        v[0] = _div(x, y)
        dx[0] = _div(1.0, y)
        dy[0] = _div(-x, y * y) if y_tensor else 0.0
        return OP_DIV
    if code == B_RTRUEDIV:
        # PyTorch computes it as reciprocal() * other (MulBackward0)
        v[0] = _div(y, x)
        dx[0] = _div(-y, x * x)
        dy[0] = y
        return OP_RDIV
    if y == 2.0:
        # the square as PyTorch's pow computes it, and cheaper than libm's pow;
        # pow(x, 1.0) is x exactly, so the partial is the general case's bits
        v[0] = x * x
        dx[0] = 2.0 * x
    else:
        v[0] = pow(x, y)
        dx[0] = 0.0 if y == 0 else y * pow(x, y - 1)
    dy[0] = y
    return OP_POW


cdef inline bint _takes_scalar_tensor(int code) noexcept:
    """Whether the scalar tape takes code's other operand as a 0-d tensor (else
    only as a number: the reflected forms meet a tensor only through _binary)."""
    return code == B_ADD or code == B_SUB or code == B_MUL or code == B_TRUEDIV


cdef inline object _scalar_dunder(int code, Tensor a, object other):
    """a op other (code: a B_ of _trace.pxi): one scalar tape record when a is
    inline and other an inline tensor (where code takes one) or a number, else
    _binary's path (other op a for the reflected codes; always for number ** a)."""
    cdef Tensor b = None
    cdef double y, v, dx, dy
    cdef int dt
    cdef uint8_t op
    if a._data is None and code != B_RPOW:
        if (isinstance(other, Tensor) and (<Tensor>other)._data is None
                and _takes_scalar_tensor(code)):
            b = <Tensor>other
            _fresh(b)
            y, dt = b._val, _join(a._dt, b._dt)
        elif _is_num(other):
            y, dt = <double>other, a._dt
        else:
            return _binary_dunder(code, a, other)
        _fresh(a)
        op = _scalar_formula(code, a._val, y, b is not None, &v, &dx, &dy)
        return _sop(op, v, a, b, dx, dy, dt)
    return _binary_dunder(code, a, other)


cdef object _binary_dunder(int code, Tensor a, object other):
    """a op other (code: a B_) through _binary: the B_ codes come in pairs, each
    op then its reflected form (odd)."""
    cdef int op = (OP_ADD if code < B_SUB else OP_SUB if code < B_MUL else
                   OP_MUL if code < B_TRUEDIV else OP_DIV if code < B_POW else OP_POW)
    if code & 1:
        return _binary(op, other, a, True)
    return _binary(op, a, other)
