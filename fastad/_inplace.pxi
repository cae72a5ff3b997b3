# Included by _tensor.pyx: in-place ops and writes, with version counters.
cdef void _check_inplace(Tensor t) except *:
    if t._rg and t._graph is None and grad_enabled():
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    if (t._base is not None and t._graph is not None and t._base._rg and t._base._graph is None
            and grad_enabled()):
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.")


cdef inline void _element_of(Tensor out, Tensor x, object place, Py_ssize_t k) noexcept:
    """out (inline) is the element place[k] of x's storage: a view of x's base."""
    out._base = x._base if x._base is not None else x
    out._elem = place
    out._eidx = k


cdef object _sample_(Tensor t, object fill, tuple args, object generator):
    """t filled in place by fill(array, *args, generator), a fastad._random sampler."""
    _check_inplace(t)
    if t._data is None:
        a = np.empty((), NP_DTYPES[t._dt])
        fill(a, *args, generator)
        _write(t, a)
    else:
        fill(t._data, *args, generator)
        _bump(t)
    return t


cdef void _write(Tensor t, object value) except *:
    """Copies value into t's storage (broadcast, cast) and bumps its version."""
    if isinstance(value, Tensor):
        value = _arr(<Tensor>value)
    if t._data is None:
        v = np.asarray(value, dtype=np.float64)
        if v.size != 1:
            raise RuntimeError(f"output with shape [] doesn't match the broadcast shape {list(v.shape)}")
        t._val = float(v.reshape(-1)[0])
        if t._dt == DT_F32:
            t._val = <double>(<float>t._val)
        if t._elem is not None:
            t._elem[t._eidx] = t._val
        elif t._base is not None:       # .data of an inline tensor, perhaps an element
            t._base._val = t._val
            if t._base._elem is not None:
                t._base._elem[t._base._eidx] = t._val
    else:
        try:
            np.copyto(t._data, value, casting="unsafe")
        except ValueError:
            raise RuntimeError(f"output with shape {list(t._data.shape)} doesn't match the broadcast "
                               f"shape {list(np.shape(value))}") from None
    _bump(t)


cdef object _inplace(Tensor self, int op, object other):
    """self op= other."""
    cdef Tensor o
    if (type(other) is Tensor and self._data is not None and self._dt <= DT_F64 and not _debug
            and (op == OP_ADD or op == OP_SUB or op == OP_MUL)):
        o = <Tensor>other
        if (o._dt == self._dt and o._data is not None and o._data.shape == self._data.shape
                and not (grad_enabled() and (self._rg or o._rg)) and self._data.flags.writeable):
            # an update nothing records (an optimizer written by hand under
            # no_grad): numpy's own in-place op, the bits of self op other
            # written back, without the result array and its copy
            _check_inplace(self)
            quiet = _fp_quiet()
            try:
                (np.add if op == OP_ADD else np.subtract if op == OP_SUB else np.multiply)(
                    self._data, o._data, out=self._data)
            finally:
                _fp_restore(quiet)
            _bump(self)
            return self
    ot = _operand(other)
    if ot is None:
        return NotImplemented
    return _apply_inplace(self, lambda t: _binary(op, t, other),
                          ot[0] is not None and (<Tensor>ot[0])._rg)


cdef inline bint _requires_grad(object x) noexcept:
    return isinstance(x, Tensor) and (<Tensor>x)._rg


cdef Tensor _overwrite(Tensor self, object src, str name):
    """self's values replaced by src's (copy_, fill_, zero_).  Recorded as an op
    whose gradient reaches src and not self's old values, which are gone."""
    if not (grad_enabled() and (self._rg or _requires_grad(src))):
        _check_inplace(self)
        _write(self, src)
        return self
    return _apply_inplace(self, lambda t: _overwritten(t, src, name), _requires_grad(src))


cdef Tensor _overwritten(Tensor t, object src, str name):
    cdef int dt = t._dt     # the derivatives keep the dtype, not t (a cycle through the graph)
    cdef Tensor out = _scalar(0.0, dt) if t._data is None else _wrap(np.empty_like(t._data), dt)
    _write(out, src)
    if isinstance(src, Tensor):
        src_shape = tuple((<Tensor>src).shape)
        return _record(out, name, (t, src),
                       lambda g: (np.zeros_like(g), _unbroadcast(g, src_shape)), (), True, False,
                       lambda g, i, r: (_const(np.zeros(np.shape(_arr(<Tensor>g))), dt),
                                        _sum_to(g, src_shape)))
    return _record(out, name, (t,), lambda g: (np.zeros_like(g),), (), True, False,
                   lambda g, i, r: (_const(np.zeros(np.shape(_arr(<Tensor>g))), dt),))


def apply_inplace(Tensor self, fn, *others):
    """self = fn(self), written into self's storage (ops with inplace=True);
    others: the other tensors fn reads, recorded when one requires grad."""
    return _apply_inplace(self, fn, _builtins.any([_requires_grad(o) for o in others]))


def view_inplace(Tensor self, fn, str name):
    """self becomes r = fn(self), a view op's result over self's storage (t_,
    transpose_, squeeze_, unsqueeze_): self takes r's shape and, when r was
    recorded, r's record under PyTorch's in-place grad_fn name; its version
    moves on, so a backward that saved self refuses to run."""
    _check_inplace(self)
    cdef Tensor r = fn(self)
    if r is self:
        return self
    if r._node is not None:
        r._node.name = name
    self._data, self._val = r._data, r._val
    if r._graph is not None:
        self._graph, self._slot, self._op, self._node, self._rg = (
            r._graph, r._slot, r._op, r._node, True)
    _bump(self)
    return self


def apply_inplace_all(tuple selves, fn, *others):
    """apply_inplace for several tensors written by one op (a custom Function
    that marks several inputs dirty): fn(tensors) returns their new values, in
    order, from stand-ins for them (their former records)."""
    cdef Tensor t
    for t in selves:
        _check_inplace(t)
    cdef bint record = grad_enabled() and _builtins.any([_requires_grad(o)
                                                         for o in selves + others])
    if not record:
        return [_rebase(t, r, None, None) for t, r in zip(selves, fn([t.detach() for t in selves]))]
    keys = [_in_base(t) for t in selves]
    olds = [_history(t) for t in selves]
    return [_rebase(t, r, old, key) for t, r, old, key in zip(selves, fn(olds), olds, keys)]


cdef Tensor _apply_inplace(Tensor self, object fn, bint other_needs_grad):
    """Values written into self's storage; when recording, self becomes the new
    op's output (PyTorch's rebase), computed from a copy of its old values so
    that no buffer the op saved for backward is overwritten."""
    _check_inplace(self)
    cdef Tensor old
    if not (grad_enabled() and (self._rg or other_needs_grad)):
        return _rebase(self, fn(self.detach()), None, None)
    key = _in_base(self)
    old = _history(self)
    return _rebase(self, fn(old), old, key)


cdef Tensor _history(Tensor self):
    """A stand-in for self before an in-place op: its record, and a copy of its
    values."""
    cdef Tensor old = Tensor.__new__(Tensor)
    _fresh(self)
    old._dt, old._val, old._rg = self._dt, self._val, self._rg
    old._data = None if self._data is None else self._data.copy()
    old._graph, old._slot, old._lgid, old._op, old._node = (
        self._graph, self._slot, self._lgid, self._op, self._node)
    return old


cdef Tensor _rebase(Tensor self, Tensor r, Tensor old, object key):
    """r's values written into self's storage; when recording (old: self's
    stand-in, key: where self is in its base, see _in_base), self becomes r."""
    if r._dt != self._dt and _cat(r._dt) > _cat(self._dt):
        raise RuntimeError(f"result type {DTYPES[r._dt].name} can't be cast to the desired output "
                           f"type {DTYPES[self._dt].name}")
    if self._data is not None and r._data is not None and r._data.shape != self._data.shape:
        raise RuntimeError(f"output with shape {list(self._data.shape)} doesn't match the broadcast "
                           f"shape {list(r._data.shape)}")
    _write(self, r)
    if key is not None:
        _rebase_view(self, r, key)
    elif old is not None:
        self._graph, self._slot, self._op, self._node, self._rg = r._graph, r._slot, r._op, r._node, True
        if old._graph is not None and old._graph.hooks is not None:
            _rebase_hooks(old._graph, old._slot, self)
    return self


cdef object _addresses(object a):
    """The address of each element of the ndarray a (an int64 array of a's shape)."""
    out = np.asarray(a.__array_interface__["data"][0], dtype=np.int64)
    for n, stride in zip(a.shape, a.strides):
        out = np.expand_dims(out, -1) + np.arange(n, dtype=np.int64) * stride
    return out


cdef object _in_base(Tensor view):
    """Where view's elements are in its base: a tuple of index arrays of view's
    shape into the base (from their addresses, whatever view op made it); None
    for a tensor that is not a view or no longer shares its base's storage."""
    if view._base is None or view._base._data is None or (view._data is None
                                                           and view._elem is None):
        return None
    if view._base._rg and view._base._graph is None:
        return None     # a leaf's view made under no_grad: the leaf stays a leaf
    b = view._base._data
    data = (view._data if view._data is not None
            else view._elem[view._eidx:view._eidx + 1].reshape(()))
    if not np.may_share_memory(data, b):
        return None
    wanted = _addresses(data)
    if b.flags.c_contiguous:    # the common base: an element's place is its offset
        flat, rest = np.divmod(wanted - b.__array_interface__["data"][0], b.itemsize)
        if rest.any() or (flat.size and (flat.min() < 0 or flat.max() >= b.size)):
            return None
    else:
        held = _addresses(b).reshape(-1)
        order = np.argsort(held, kind="stable")
        flat = order[np.minimum(np.searchsorted(held[order], wanted), held.size - 1)]
        if not (held[flat] == wanted).all():
            return None
    if np.unique(flat).size != flat.size:
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor "
                           "refers to a single memory location. Please clone() the tensor before "
                           "performing the operation.")
    return np.unravel_index(flat, b.shape)


cdef void _rebase_view(Tensor view, Tensor r, tuple key) except *:
    """view (at key in its base) now holds r's values, written through to the
    base: the base becomes a CopySlices of its former self and r, and view a view
    of that (PyTorch's rebase of a view's history), so that a gradient through
    the base, or through another view of it, sees the write."""
    cdef Tensor base = view._base
    cdef Tensor former = Tensor.__new__(Tensor)
    # the base's record before the write; its values are not needed (the
    # derivative reads none), so the storage is shared, not copied
    former._dt, former._data, former._rg = base._dt, base._data, base._rg
    former._graph, former._slot, former._lgid, former._op, former._node = (
        base._graph, base._slot, base._lgid, base._op, base._node)
    shape, dt = base._data.shape, base._dt
    kept = np.ones(shape, NP_DTYPES[dt])
    kept[key] = 0
    cdef Tensor out = _record(_wrap(base._data, dt), "CopySlices", (former, r), None, (), False,
                              False, lambda g, i, res: (g * _const(kept, dt),
                                                        _getitem(<Tensor>g, key)))
    base._graph, base._slot, base._op, base._node, base._rg = (
        out._graph, out._slot, out._op, out._node, True)
    out = _record(_scalar(view._val, view._dt) if view._data is None else
                  _wrap(view._data, view._dt), "AsStridedBackward0", (base,), None, (), False,
                  False, lambda g, i, res: (_index_put(g, key, shape, dt, False,
                                                       "AsStridedScatterBackward0"),))
    view._graph, view._slot, view._op, view._node, view._rg = (
        out._graph, out._slot, out._op, out._node, True)
