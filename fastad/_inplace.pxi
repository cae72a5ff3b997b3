# Included by _tensor.pyx: in-place ops and writes, with version counters.
cdef void _check_inplace(Tensor t) except *:
    if t._rg and t._graph is None and grad_enabled():
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    if (t._base is not None and t._graph is not None and t._base._rg and t._base._graph is None
            and grad_enabled()):
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.")


cdef inline Tensor _view_of(Tensor out, Tensor x):
    """out shares x's storage: it shares x's version counter, and an in-place
    op on it is one on x (refused while x is a leaf that requires grad)."""
    if out._data is not None and x._data is not None:
        out._base = x._base if x._base is not None else x
    return out


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
        if t._base is not None:
            t._base._val = t._val
    else:
        try:
            np.copyto(t._data, value, casting="unsafe")
        except ValueError:
            raise RuntimeError(f"output with shape {list(t._data.shape)} doesn't match the broadcast "
                               f"shape {list(np.shape(value))}") from None
    _bump(t)


cdef object _inplace(Tensor self, int op, object other):
    """self op= other."""
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
    cdef Tensor out = _scalar(0.0, t._dt) if t._data is None else _wrap(np.empty_like(t._data), t._dt)
    _write(out, src)
    if isinstance(src, Tensor):
        src_shape = tuple((<Tensor>src).shape)
        return _record(out, name, (t, src),
                       lambda g: (np.zeros_like(g), _unbroadcast(g, src_shape)), (), True, False,
                       lambda g, i, r: (_const(np.zeros(np.shape(_arr(<Tensor>g))), t._dt),
                                        _sum_to(g, src_shape)))
    return _record(out, name, (t,), lambda g: (np.zeros_like(g),), (), True, False,
                   lambda g, i, r: (_const(np.zeros(np.shape(_arr(<Tensor>g))), t._dt),))


def apply_inplace(Tensor self, fn, *others):
    """self = fn(self), written into self's storage (ops with inplace=True);
    others: the other tensors fn reads, recorded when one requires grad."""
    return _apply_inplace(self, fn, _builtins.any([_requires_grad(o) for o in others]))


cdef Tensor _apply_inplace(Tensor self, object fn, bint other_needs_grad):
    """Values written into self's storage; when recording, self becomes the new
    op's output (PyTorch's rebase), computed from a copy of its old values so
    that no buffer the op saved for backward is overwritten."""
    _check_inplace(self)
    cdef Tensor old, r
    cdef bint record = grad_enabled() and (self._rg or other_needs_grad)
    if record:
        old = Tensor.__new__(Tensor)
        old._dt, old._val, old._rg = self._dt, self._val, self._rg
        old._data = None if self._data is None else self._data.copy()
        old._graph, old._slot, old._lgid, old._op, old._node = (
            self._graph, self._slot, self._lgid, self._op, self._node)
        r = fn(old)
    else:
        r = fn(self.detach())
    if r._dt != self._dt and _cat(r._dt) > _cat(self._dt):
        raise RuntimeError(f"result type {DTYPES[r._dt].name} can't be cast to the desired output "
                           f"type {DTYPES[self._dt].name}")
    if self._data is not None and r._data is not None and r._data.shape != self._data.shape:
        raise RuntimeError(f"output with shape {list(self._data.shape)} doesn't match the broadcast "
                           f"shape {list(r._data.shape)}")
    _write(self, r)
    if record:
        self._graph, self._slot, self._op, self._node, self._rg = r._graph, r._slot, r._op, r._node, True
        if old._graph is not None and old._graph.hooks is not None:
            _rebase_hooks(old._graph, old._slot, self)
    return self
