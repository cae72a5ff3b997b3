# Included by _tensor.pyx: views, reshapes, indexing and joining.
cdef object _view_op(Tensor x, object r, str name, object bw, object derivative):
    cdef Tensor out = _wrap(r, x._dt)
    if x._data is not None and np.may_share_memory(r, x._data):
        _view_of(out, x)
    if x._rg and grad_enabled():
        return _record(out, name, (x,), bw, (), False, False, derivative)
    return _unrecorded(out, name)


def reshape(input, shape, name="ReshapeAlias0"):
    cdef Tensor x = _as_tensor(input)
    a = _arr(x)
    shape = _sizes(tuple(shape)) if isinstance(shape, (tuple, list)) else (int(shape),)
    try:
        r = a.reshape(shape)
    except ValueError:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {a.size}") from None
    old = a.shape
    # PyTorch: a reshape that can alias is a view (ViewBackward0); one that must
    # copy is clone + _unsafe_view; view() refuses to copy
    is_view = r.size == 0 or np.shares_memory(r, a)
    if not is_view and name == "ViewBackward0":
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at "
                           "least one dimension spans across two contiguous subspaces). Use "
                           ".reshape(...) instead.")
    return _view_op(x, r, "ViewBackward0" if is_view else "UnsafeViewBackward0",
                    lambda g: (g.reshape(old),), lambda g, i, r: (reshape(g, old),))


def flatten(input, start_dim=0, end_dim=-1):
    cdef Tensor x = _as_tensor(input)
    a = _arr(x)
    if a.ndim == 0:
        return reshape(x, (1,))
    s, e = _norm_dim(start_dim, a.ndim), _norm_dim(end_dim, a.ndim)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return x  # PyTorch returns the input itself
    n = 1
    for k in a.shape[s:e + 1]:
        n *= k
    return reshape(x, a.shape[:s] + (n,) + a.shape[e + 1:])


def squeeze(input, dim=None):
    cdef Tensor x = _as_tensor(input)
    a = _arr(x)
    if dim is None:
        dims = tuple([i for i, s in enumerate(a.shape) if s == 1])
    else:
        dims = tuple([d for d in _norm_dims(dim, a.ndim) if a.ndim and a.shape[d] == 1])
    old = a.shape
    name = ("SqueezeBackward0" if dim is None else
            "SqueezeBackward2" if isinstance(dim, (tuple, list)) else "SqueezeBackward1")
    return _view_op(x, a.squeeze(dims) if a.ndim else a, name, lambda g: (g.reshape(old),),
                    lambda g, i, r: (reshape(g, old),))


def unsqueeze(input, dim):
    cdef Tensor x = _as_tensor(input)
    a = _arr(x)
    d = _norm_dim(dim, a.ndim + 1)
    old = a.shape
    return _view_op(x, np.expand_dims(a, d), "UnsqueezeBackward0", lambda g: (g.reshape(old),),
                    lambda g, i, r: (reshape(g, old),))


def transpose(input, dim0, dim1):
    cdef Tensor x = _as_tensor(input)
    a = _arr(x)
    d0, d1 = _norm_dim(dim0, a.ndim), _norm_dim(dim1, a.ndim)
    if a.ndim == 0:
        return x
    return _view_op(x, np.swapaxes(a, d0, d1), "TransposeBackward0",
                    lambda g: (np.swapaxes(g, d0, d1),), lambda g, i, r: (transpose(g, d0, d1),))


def permute(input, dims):
    cdef Tensor x = _as_tensor(input)
    a = _arr(x)
    if a.ndim == 0:
        return x
    dims = tuple([_norm_dim(d, a.ndim) for d in dims])
    if sorted(dims) != list(range(a.ndim)):
        raise RuntimeError(f"permute(): dims {list(dims)} are not a permutation of "
                           f"{list(range(a.ndim))}")
    inv = tuple(np.argsort(dims))
    return _view_op(x, np.transpose(a, dims), "PermuteBackward0", lambda g: (np.transpose(g, inv),),
                    lambda g, i, r: (permute(g, inv),))


def expand(input, sizes):
    cdef Tensor x = _as_tensor(input)
    a = _arr(x)
    nd = len(sizes) - a.ndim
    if nd < 0:
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater or "
                           f"equal to the number of dimensions in the tensor ({a.ndim})")
    target = tuple([a.shape[i - nd] if s == -1 else s for i, s in enumerate(sizes)])
    try:
        r = np.broadcast_to(a, target)
    except ValueError:
        raise RuntimeError(f"The expanded size of the tensor must match the existing size: "
                           f"{list(a.shape)} to {list(sizes)}") from None
    old = a.shape
    return _view_op(x, r, "ExpandBackward0", lambda g: (_unbroadcast(g, old),),
                    lambda g, i, r: (_sum_to(g, old),))


# ---------------------------------------------------------------- indexing
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
    cdef Tensor out
    if type(idx) is int and x._data is not None and x._dt <= DT_F64 and x._data.ndim == 1:
        return _gather1(x, idx)
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
        shape, npdt = a.shape, a.dtype
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
                       lambda g, i, r: (_index_put(g, key, shape, x._dt, not basic,
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
    vshape = np.shape(ov[1])

    def bw(g):
        gx = np.array(g, copy=True)
        gx[key] = 0
        return (gx, _unbroadcast(np.asarray(g[key]), vshape))

    def dv(g, i, r):
        kept = np.ones(a.shape, dtype=a.dtype)
        kept[key] = 0
        return (g * _const(kept, t._dt), _sum_to(_getitem(<Tensor>g, key), vshape))
    return _record(_wrap(newv, t._dt), "CopySlices", (t, ov[0]), bw, (), False, False, dv)


# ---------------------------------------------------------------- joining
def cat(tensors, dim=0):
    return _cat_named(tensors, dim, "CatBackward0")


cdef object _cat_named(tensors, dim, str name):
    ts = [_as_tensor(t) for t in tensors]
    if not ts:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    arrs = [_arr(<Tensor>t) for t in ts]
    for a in arrs:
        if a.ndim == 0:
            raise RuntimeError("zero-dimensional tensor cannot be concatenated")
    cdef int dt = (<Tensor>ts[0])._dt
    for t in ts:
        dt = _join(dt, (<Tensor>t)._dt)
    d = _norm_dim(dim, arrs[0].ndim)
    try:
        r = np.concatenate([a.astype(NP_DTYPES[dt], copy=False) for a in arrs], axis=d)
    except ValueError as e:
        raise RuntimeError(f"Sizes of tensors must match except in dimension {d}: "
                           f"{[list(a.shape) for a in arrs]}") from None
    cdef Tensor out = _wrap(r, dt)
    if grad_enabled() and any([(<Tensor>t)._rg for t in ts]):
        bounds = np.cumsum([a.shape[d] for a in arrs])[:-1]
        edges = [0] + list(bounds) + [r.shape[d]]
        return _record(out, name, tuple(ts),
                       lambda g: tuple(np.split(g, bounds, axis=d)), (), False, False,
                       lambda g, i, res: tuple([
                           _getitem(<Tensor>g, (slice(None),) * d + (slice(int(lo), int(hi)),))
                           for lo, hi in zip(edges[:-1], edges[1:])]))
    return _unrecorded(out, name)


def stack(tensors, dim=0):
    ts = [_as_tensor(t) for t in tensors]
    if not ts:
        raise RuntimeError("stack expects a non-empty TensorList")
    shape = _arr(<Tensor>ts[0]).shape
    for t in ts:
        if _arr(<Tensor>t).shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(shape)} "
                               f"and {list(_arr(<Tensor>t).shape)}")
    d = _norm_dim(dim, len(shape) + 1)
    cdef int dt = (<Tensor>ts[0])._dt
    for t in ts:
        dt = _join(dt, (<Tensor>t)._dt)
    r = np.stack([_arr(<Tensor>t).astype(NP_DTYPES[dt], copy=False) for t in ts], axis=d)
    cdef Tensor out = _wrap(r, dt)
    if grad_enabled() and any([(<Tensor>t)._rg for t in ts]):
        n = len(ts)
        return _record(out, "StackBackward0", tuple(ts),
                       lambda g: tuple([np.take(g, k, axis=d) for k in range(n)]), (), False, False,
                       lambda g, i, r: tuple([_getitem(<Tensor>g, (slice(None),) * d + (k,))
                                             for k in range(n)]))
    return _unrecorded(out, "stack")
