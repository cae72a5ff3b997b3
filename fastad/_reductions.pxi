# Included by _tensor_ops.pyx: reductions and two-sided elementwise selections.
def sum(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    cdef Tensor x = _as_tensor(input)
    if axis is not None or keepdims is not None:
        dim, keepdim = _dim_aliases(dim, keepdim, axis, keepdims)
    cdef int dt = x._dt if _cat(x._dt) == 2 else DT_I64
    if dtype is not None:
        dt = _dt_code(dtype)
    a = _arr(x)
    shape = a.shape
    dims = _norm_dims(dim, a.ndim)
    quiet = _fp_quiet()
    try:
        r = np.add.reduce(a, dims, NP_DTYPES[dt], None, keepdim)    # ndarray.sum's own call
    finally:
        _fp_restore(quiet)
    cdef Tensor out = _wrap(r, dt)
    if x._rg and grad_enabled():
        return _record(out, "SumBackward0" if dim is None else "SumBackward1", (x,),
                       lambda g: (_expand_grad(g, shape, dims, keepdim),), (), False, False,
                       lambda g, i, r: (_expand_to(g, shape, dims, keepdim),))
    return _unrecorded(out, "sum")


def mean(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    cdef Tensor x = _as_tensor(input)
    if axis is not None or keepdims is not None:
        dim, keepdim = _dim_aliases(dim, keepdim, axis, keepdims)
    if _cat(x._dt) < 2 and dtype is None:
        raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {DTYPES[x._dt].name.capitalize()}")
    if dtype is not None:       # PyTorch casts the input, then reduces
        x = _to(x, _dt_code(dtype))
    a = _arr(x)
    shape = a.shape
    dims = _norm_dims(dim, a.ndim)
    cdef int64_t count = 1
    for d in dims:
        count *= shape[d]
    quiet = _fp_quiet()
    try:
        r = np.add.reduce(a, dims, None, None, keepdim) / (count if count else np.nan)
    finally:
        _fp_restore(quiet)
    cdef Tensor out = _wrap(r, x._dt)
    if x._rg and grad_enabled():
        return _record(out, "MeanBackward0" if dim is None else "MeanBackward1", (x,),
                       lambda g: (_expand_grad(g / count, shape, dims, keepdim),), (), False,
                       False, lambda g, i, r: (_expand_to(g / count, shape, dims, keepdim),))
    return _unrecorded(out, "mean")


cdef tuple _dim_aliases(object dim, object keepdim, object axis, object keepdims):
    """PyTorch's parser takes axis= for dim= and keepdims= for keepdim=."""
    return (dim if axis is None else axis), (keepdim if keepdims is None else keepdims)


cdef object _expand_grad(object g, tuple shape, tuple dims, bint keepdim):
    """The gradient of a reduction over dims, spread back over shape."""
    if not keepdim:
        g = g.reshape(tuple([1 if i in dims else s for i, s in enumerate(shape)]))
    return _filled_like(g, shape)


def _return_type(name, fields):
    """torch.return_types.<name>: a named tuple printed as PyTorch prints it."""
    base = collections.namedtuple(name, fields)

    def __repr__(self):
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(self._fields, self))
        return f"torch.return_types.{name}(\n{body})"
    return type(name, (base,), {"__slots__": (), "__repr__": __repr__})


_MAX = _return_type("max", ("values", "indices"))
_MIN = _return_type("min", ("values", "indices"))


cdef object _extreme(object input, object dim, bint keepdim, bint is_max):
    cdef Tensor x = _as_tensor(input)
    a = _arr(x)
    name = "max" if is_max else "min"
    shape = a.shape
    cdef Tensor out
    if dim is None:
        if a.size == 0:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() "
                               "== 0. Specify the reduction dim with the 'dim' argument.")
        r = a.max() if is_max else a.min()
        out = _wrap(np.asarray(r), x._dt)
        if x._rg and grad_enabled():
            def bw(g):
                # ties share the gradient evenly, as in PyTorch
                mask = (a == r) | (np.isnan(a) & np.isnan(r)) if a.dtype.kind == "f" else (a == r)
                return (mask * (g / mask.sum()),)

            def dv(g, i, res):
                mask = (a == r) | (np.isnan(a) & np.isnan(r))
                return (_const(mask, x._dt) * (g / int(mask.sum())),)
            return _record(out, name.capitalize() + "Backward1", (x,), bw, (x,), True, False, dv)
        return _unrecorded(out, name)
    d = _norm_dim(dim, a.ndim)
    if a.ndim == 0:  # the value itself, index 0
        return (_MAX if is_max else _MIN)(
            _view_op(x, a.copy(), name.capitalize() + "Backward0", lambda g: (g,),
                     lambda g, i, r: (g,)),
            _wrap(np.zeros((), dtype=np.int64), DT_I64))
    else:
        try:
            idx = (a.argmax(axis=d) if is_max else a.argmin(axis=d))
        except ValueError:   # numpy's "empty sequence": the reduced dim has size 0
            raise IndexError(_empty_dim_msg(name, d)) from None
        if a.dtype.kind == "f":  # NaN wins, as in PyTorch
            nanpos = np.isnan(a)
            if nanpos.any():
                idx = np.where(nanpos.any(axis=d), nanpos.argmax(axis=d), idx)
        vals = np.take_along_axis(a, np.expand_dims(idx, d), d).squeeze(d)
        if keepdim:
            vals = np.expand_dims(vals, d)
            idx = np.expand_dims(idx, d)
    out = _wrap(vals, x._dt)
    if x._rg and grad_enabled() and a.ndim > 0:
        def bwd(g):
            gi = np.zeros(shape, dtype=g.dtype)
            ii = idx if keepdim else np.expand_dims(idx, d)
            gg = g if keepdim else np.expand_dims(g, d)
            np.put_along_axis(gi, ii, gg, d)
            return (gi,)

        def dv(g, i, r):
            mask = np.zeros(shape, dtype=a.dtype)
            np.put_along_axis(mask, idx if keepdim else np.expand_dims(idx, d), 1, d)
            return (_const(mask, x._dt) * (g if keepdim else unsqueeze(g, d)),)
        out = _record(out, name.capitalize() + "Backward0", (x,), bwd, (), True, False, dv)
    else:
        _unrecorded(out, name)
    return (_MAX if is_max else _MIN)(out, _wrap(np.asarray(idx), DT_I64))


def max(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    if axis is not None or keepdims is not None:
        dim, keepdim = _dim_aliases(dim, keepdim, axis, keepdims)
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    return _extreme(input, dim, keepdim, True)


def min(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    if axis is not None or keepdims is not None:
        dim, keepdim = _dim_aliases(dim, keepdim, axis, keepdims)
    if isinstance(dim, Tensor):
        return minimum(input, dim)
    return _extreme(input, dim, keepdim, False)


def argmax(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    if axis is not None or keepdims is not None:
        dim, keepdim = _dim_aliases(dim, keepdim, axis, keepdims)
    return _arg_extreme(input, dim, keepdim, True)


def argmin(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    if axis is not None or keepdims is not None:
        dim, keepdim = _dim_aliases(dim, keepdim, axis, keepdims)
    return _arg_extreme(input, dim, keepdim, False)


cdef str _empty_dim_msg(str name, int d):
    return f"{name}(): Expected reduction dim {d} to have non-zero size."


cdef object _arg_extreme(object input, object dim, bint keepdim, bint is_max):
    a = _arr(_as_tensor(input))
    try:
        if dim is None:
            return _wrap(np.asarray(a.argmax() if is_max else a.argmin()), DT_I64)
        d = _norm_dim(dim, a.ndim)
        r = (a.argmax(axis=d) if is_max else a.argmin(axis=d)) if a.ndim else np.zeros((), np.int64)
    except ValueError:       # numpy's "empty sequence"
        name = "argmax" if is_max else "argmin"
        if dim is None:
            raise IndexError(f"{name}(): Expected reduction dim to be specified for "
                             "input.numel() == 0.") from None
        raise IndexError(_empty_dim_msg(name, d)) from None
    return _wrap(np.expand_dims(r, d) if keepdim and a.ndim else r, DT_I64)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(np.allclose(_arr(_as_tensor(input)), _arr(_as_tensor(other)), rtol=rtol, atol=atol,
                            equal_nan=equal_nan))


# ---------------------------------------------------------------- elementwise with two sides
def maximum(input, other):
    return _pick(input, other, True)


def minimum(input, other):
    return _pick(input, other, False)


cdef object _pick(object input, object other, bint is_max):
    cdef Tensor x = _as_tensor(input), y = _as_tensor(other)
    a, b = _arr(x), _arr(y)
    cdef int dt = _promote(x._dt, 2 if a.ndim else 1, y._dt, 2 if b.ndim else 1)
    npdt = NP_DTYPES[dt]
    a, b = a.astype(npdt, copy=False), b.astype(npdt, copy=False)
    r = np.maximum(a, b) if is_max else np.minimum(a, b)
    cdef Tensor out = _wrap(r, dt)
    if (x._rg or y._rg) and grad_enabled():
        sa, sb = a.shape, b.shape
        def bw(g):
            # equal values split the gradient, as in PyTorch
            ga = np.where(a == b, 0.5, (a > b) if is_max else (a < b)) * g
            return (_unbroadcast(ga, sa), _unbroadcast(g - ga, sb))

        def dv(g, i, r):
            ga = g * _const(np.where(a == b, 0.5, (a > b) if is_max else (a < b)), dt)
            return (_sum_to(ga, sa), _sum_to(g - ga, sb))
        return _record(out, "MaximumBackward0" if is_max else "MinimumBackward0", (x, y), bw, (x, y),
                       True, False, dv)
    return _unrecorded(out, "maximum" if is_max else "minimum")


def clamp(input, min=None, max=None):
    cdef Tensor x = _as_tensor(input)
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        r = x
        if min is not None:
            r = maximum(r, min)
        if max is not None:
            r = minimum(r, max)
        return r
    a = _arr(x)
    r = np.clip(a, min, max)
    cdef Tensor out = _wrap(r.astype(a.dtype, copy=False), x._dt)
    if x._rg and grad_enabled():
        lo = -np.inf if min is None else min
        hi = np.inf if max is None else max
        dt = x._dt
        return _record(out, "ClampBackward1", (x,), lambda g: (g * ((a >= lo) & (a <= hi)),), (x,),
                       True, False,
                       lambda g, i, r: (g * _const((a >= lo) & (a <= hi), dt),))
    return _unrecorded(out, "clamp")


def where(condition, input=None, other=None):
    cdef Tensor c = _as_tensor(condition)
    if input is None and other is None:
        return tuple([_wrap(i, DT_I64) for i in np.nonzero(_arr(c))])
    ox, oy = _operand(input), _operand(other)
    if ox is None or oy is None:
        raise TypeError("where(): input and other must be tensors or numbers")
    cdef Tensor x = ox[0], y = oy[0]
    cdef int dt = _promote(ox[3], ox[2], oy[3], oy[2])
    npdt = NP_DTYPES[dt]
    cond = _arr(c).astype(bool)
    a, b = np.asarray(ox[1], dtype=npdt), np.asarray(oy[1], dtype=npdt)
    try:
        r = np.where(cond, a, b)
    except ValueError:
        for sx, sy in ((a.shape, b.shape), (cond.shape, a.shape), (cond.shape, b.shape)):
            try:
                np.broadcast_shapes(sx, sy)
            except ValueError:
                raise RuntimeError(_broadcast_msg(sx, sy)) from None
        raise RuntimeError(_broadcast_msg(cond.shape, np.broadcast_shapes(a.shape, b.shape))) from None
    cdef Tensor out = _wrap(r, dt)
    cdef bint nx = x is not None and x._rg
    cdef bint ny = y is not None and y._rg
    if (nx or ny) and grad_enabled():
        sa, sb = a.shape, b.shape
        return _record(out, "WhereBackward0", (x, y),
                       lambda g: (_unbroadcast(np.where(cond, g, 0), sa) if nx else None,
                                  _unbroadcast(np.where(cond, 0, g), sb) if ny else None), (),
                       True, False,
                       lambda g, i, r: (_sum_to(g * _const(cond, dt), sa),
                                        _sum_to(g * _const(~cond, dt), sb)))
    return _unrecorded(out, "where")
