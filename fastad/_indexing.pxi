# Included by _tensor.pyx: indexing and views' records (element reads are on the scalar
# graphs' hot path, Tensor.t() and the views of _tensor_ops.pyx record through _view_op).
cdef object _view_op(Tensor x, object r, str name, object bw, object derivative):
    cdef Tensor out = _wrap(r, x._dt)
    if x._data is not None and np.may_share_memory(r, x._data):
        _view_of(out, x)
    if x._rg and grad_enabled():
        return _record(out, name, (x,), bw, (), False, False, derivative)
    return _unrecorded(out, name)


cdef object _index_key(object idx):
    """A numpy index from a PyTorch one; says whether it is basic (a view)."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    out = []
    basic = True
    for i in idx:
        if isinstance(i, Tensor):
            i = _arr(<Tensor>i)
            if i.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            basic = False
        elif isinstance(i, (list, np.ndarray)):
            i = np.asarray(i)
            if i.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            basic = False
        elif isinstance(i, (bool, np.bool_)):
            basic = False
        elif not (i is None or i is Ellipsis or isinstance(i, (slice, int, np.integer))):
            # checked last, so that the common keys pay nothing for it
            if not isinstance(i, range):
                raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or "
                                 f"byte Variables are valid indices (got {type(i).__name__})")
            i = np.arange(i.start, i.stop, i.step)
            basic = False
        if isinstance(i, slice) and i.step is not None and i.step < 0:
            raise ValueError("step must be greater than zero")
        out.append(i)
    return tuple(out), basic


cdef object _getitem(Tensor x, object idx):
    if fad_tracing:
        return _traced(S_GETITEM, 0, x, idx, 0.0, 0.0)
    if type(idx) is int and x._data is not None and x._dt <= DT_F64 and x._data.ndim == 1:
        return _gather1(x, idx)
    return _indexed(x, idx)


cdef object _indexed(Tensor x, object idx):
    # apart from _getitem: the closure of its backward would be made at every x[i]
    cdef Tensor out
    a = _arr(x)
    key, basic = _index_key(idx)
    try:
        r = a[key]
    except IndexError as e:
        raise IndexError(str(e)) from None
    if basic and x._dt > DT_F64 and not isinstance(r, np.ndarray):
        r = a[key + (Ellipsis,)]    # an element as a 0-d view of its place, not a copy
    out = _wrap(r, x._dt)
    if basic:
        _view_of(out, x)
        if out._data is None and x._data is not None:
            # an element: a one-element view of its place, for writes through it
            _element_of(out, x, a[(key + (None,)) if type(key) is tuple else (key, None)], 0)
    if x._rg and grad_enabled():
        shape, npdt, dt = a.shape, a.dtype, x._dt
        if basic:
            def bw(g):
                gi = np.zeros(shape, dtype=npdt)
                gi[key] = g
                return (gi,)
        else:
            def bw(g):
                gi = np.zeros(shape, dtype=npdt)
                np.add.at(gi, key, g)
                return (gi,)
        name = _index_name(idx, key, shape) if basic else "IndexBackward0"
        return _record(out, name, (x,), bw, (), False, False,
                       lambda g, i, r: (_index_put(g, key, shape, dt, not basic,
                                                   name[:-1] + "Backward0"),))
    if _debug:
        _unrecorded(out, _index_name(idx, key, a.shape) if basic else "IndexBackward0")
    return out


cdef str _index_name(object idx, tuple key, tuple shape):
    """PyTorch's grad_fn name for a basic index: that of the last view op it
    applies (select, slice, unsqueeze); slices that keep a whole dim are skipped
    inside a tuple index, so an index that changes nothing is an alias."""
    if isinstance(idx, slice):
        return "SliceBackward0"
    name = "AliasBackward0"
    cdef int nreal = 0
    for i in key:
        if i is not None and i is not Ellipsis:
            nreal += 1
    cdef int d = 0
    for i in key:
        if i is None:
            name = "UnsqueezeBackward0"
        elif i is Ellipsis:
            d += len(shape) - nreal
        elif isinstance(i, slice):
            if i.indices(shape[d]) != (0, shape[d], 1):
                name = "SliceBackward0"
            d += 1
        else:
            name = "SelectBackward0"
            d += 1
    return name


cdef Tensor _gather1(Tensor x, Py_ssize_t k):
    """x[k] for a 1-D float array: a scalar record, swept in C (no Python backward)."""
    cdef cnp.ndarray a = <cnp.ndarray>x._data
    cdef Py_ssize_t n = a.shape[0]
    if k < -n or k >= n:
        raise IndexError(f"index {k} is out of bounds for dimension 0 with size {n}")
    if k < 0:
        k += n
    cdef char *p = <char *>cnp.PyArray_GETPTR1(a, k)
    cdef double v = (<double *>p)[0] if x._dt == DT_F64 else (<float *>p)[0]
    cdef Tensor out = _scalar(v, x._dt)
    _element_of(out, x, a, k)
    cdef Graph g
    cdef int32_t s
    if x._rg and grad_enabled() and n < 2147483647:
        g = _graph_of(x, None)
        if g.dead:
            _mark_freed(out, g, OP_GATHER, None)
            return out
        s = _slot_on(g, x)
        if s not in g.layout:
            g.layout[s] = (a.shape[0], a.dtype)
        out._slot = graph_push(g, OP_GATHER, s, <int32_t>k, 1.0, 0.0, v)
        out._graph = g
        out._rg = True
        out._op = OP_GATHER
        if _debug:
            _note_record(g, out._slot)
        return out
    return _unrecorded(out, "select")


cdef void _setitem(Tensor x, object idx, object value) except *:
    _check_inplace(x)
    if x._data is None:
        raise IndexError("fastad: cannot assign into a 0-d tensor by index; use fill_() or copy_()")
    key, basic = _index_key(idx)
    ov = _operand(value)
    if ov is None:
        raise TypeError(f"can't assign a {type(value).__name__} to a tensor")
    cdef Tensor v = ov[0]
    if grad_enabled() and (x._rg or (v is not None and v._rg)):
        _apply_inplace(x, lambda t: _copy_slices(t, key, ov), v is not None and v._rg)
        return
    x._data[key] = ov[1]
    _bump(x)


cdef Tensor _copy_slices(Tensor t, object key, tuple ov):
    """t with t[key] replaced by the value ov (PyTorch's CopySlices)."""
    a = t._data
    newv = a.copy()
    newv[key] = ov[1]
    vshape, shape, npdt, dt = np.shape(ov[1]), a.shape, a.dtype, t._dt

    def bw(g):
        gx = np.array(g, copy=True)
        gx[key] = 0
        return (gx, _unbroadcast(np.asarray(g[key]), vshape))

    def dv(g, i, r):
        kept = np.ones(shape, dtype=npdt)
        kept[key] = 0
        return (g * _const(kept, dt), _sum_to(_getitem(<Tensor>g, key), vshape))
    return _record(_wrap(newv, dt), "CopySlices", (t, ov[0]), bw, (), False, False, dv)
