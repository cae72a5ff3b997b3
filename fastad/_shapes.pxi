# Included by _tensor_ops.pyx: views, reshapes and joining.
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
