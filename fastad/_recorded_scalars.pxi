# Included by _tensor.pyx: the recorded (create_graph) backward of float64
# scalar records, in C.  It pushes the records the Tensor-op formulas of
# _scalar_vjp would push through the Tensor class, in the same order and with
# the same values and partials, but keeps each adjoint as (record, value) in a
# C array instead of a Tensor: a Python object is made only for the gradients
# asked for and where a row's derivative is a Python formula (OP_ACT).  A
# gradient nobody asked for is not computed (as _needs skips them).  Several
# reads x[k] of one array leaf x give x's gradient as one node over the
# elements' records, where the Tensor-op path adds one zeros-with-an-element
# array per read: the same values, in one array op instead of two per read.
from libc.stdlib cimport malloc, free as _free


ctypedef struct _Adj:
    int32_t s       # the record holding the gradient; -1: a constant; -2: none
    double v


cdef inline _Adj _adj(int32_t s, double v) noexcept:
    cdef _Adj r
    r.s = s
    r.v = v
    return r


cdef _Adj _rop(Graph g, uint8_t op, _Adj a, int32_t b, double da, double db,
               double v) except *:
    """What _sop records for a float64 op on a (and the record b, or -1): a
    constant where neither requires grad."""
    if a.s < 0 and b < 0:
        return _adj(-1, v)
    return _adj(graph_push(g, op | OP_F64, a.s, b, da, db, v), v)


cdef inline _Adj _rmul(Graph g, _Adj a, _Adj b) except *:
    return _rop(g, OP_MUL, a, b.s, b.v, a.v, a.v * b.v)


cdef inline _Adj _rmul_num(Graph g, _Adj a, double c) except *:
    return _rop(g, OP_MUL, a, -1, c, 0.0, a.v * c)


cdef inline _Adj _rdiv(Graph g, _Adj a, _Adj b) except *:
    return _rop(g, OP_DIV, a, b.s, _div(1.0, b.v), _div(-a.v, b.v * b.v), _div(a.v, b.v))


cdef inline _Adj _rneg(Graph g, _Adj a) except *:
    cdef double r, d
    scalar_unary(A_NEG, True, a.v, 0.0, 0.0, &r, &d)
    return _rop(g, OP_ACT + A_NEG, a, -1, d, 0.0, r)


cdef inline _Adj _radd(Graph g, _Adj a, _Adj b) except *:
    """a + b, where a may be none (b then)."""
    if a.s == -2:
        return b
    return _rop(g, OP_ADD, a, b.s, 1.0, 1.0, a.v + b.v)


cdef bint _scalar_tape(Graph g, int32_t top, bytearray need, dict adj, dict leaf_at) except -1:
    """Whether the records a recorded backward from the seeds adj would run (those
    leading to a wanted gradient, need) and the values their formulas read are
    float64 scalar records, reads x[k] of float64 1-D arrays and 0-d leaves,
    and the seeds float64 constants: what _recorded_scalars sweeps."""
    cdef int32_t i, k, s
    cdef uint8_t o
    cdef Tensor t
    if _debug or not grad_enabled():
        return False
    for x in adj.values():
        t = <Tensor>x
        if t._data is not None or t._rg or t._dt != DT_F64:
            return False
    for i in range(top + 1):
        if not need[i]:
            continue
        o = g.op[i] & OP_CODE
        if o == OP_PY:
            return False
        if o == OP_LEAF:
            continue
        if o == OP_GATHER:
            if not _f64_array(g, g.in0[i]):
                return False
            continue
        if not g.op[i] & OP_F64:
            return False
        for k in range(2):
            s = g.in0[i] if k == 0 else g.in1[i]
            if s < 0:
                continue
            o = g.op[s] & OP_CODE
            if o == OP_PY:
                return False
            if o == OP_LEAF:
                t = <Tensor>leaf_at[s]
                if t._data is not None or t._dt != DT_F64 or t._lgid != g.gid:
                    return False
            elif o == OP_GATHER:
                if not _f64_array(g, g.in0[s]):
                    return False
            elif not g.op[s] & OP_F64:
                return False
    return True


cdef inline bint _f64_array(Graph g, int32_t s) except -1:
    """Whether the array x[k] reads at slot s is float64."""
    return (<cnp.dtype>g.layout[s][1]).type_num == cnp.NPY_FLOAT64


cdef inline _Adj _value_at(Graph g, int32_t s, dict leaf_at):
    """The value of record s as an operand (what _scalar_handle makes a tensor of)."""
    if (g.op[s] & OP_CODE) == OP_LEAF:
        return _adj(s, (<Tensor>leaf_at[s])._val)
    return _adj(s, g.val[s])


cdef object _adj_tensor(Graph g, _Adj a, dict made):
    """The tensor of an adjoint: the one a derivative returned, a handle of its
    record, or a constant."""
    if a.s < 0:
        return _scalar(a.v, DT_F64)
    t = made.get(a.s)
    if t is None:
        t = _scalar(a.v, DT_F64)
        (<Tensor>t)._graph = g
        (<Tensor>t)._slot = a.s
        (<Tensor>t)._rg = True
        (<Tensor>t)._op = g.op[a.s] & OP_CODE
    return t


cdef _Adj _adj_of(Graph g, object x, dict made) except *:
    """A derivative's 0-d float64 result as an adjoint (None: none)."""
    cdef Tensor t
    if x is None:
        return _adj(-2, 0.0)
    t = <Tensor>x
    if t._data is not None or t._dt != DT_F64:
        raise RuntimeError("fastad: a scalar record's derivative returned "
                           f"{tuple(t.shape)} {DTYPES[t._dt].name}, not a float64 scalar")
    if not t._rg:
        return _adj(-1, t._val)
    cdef int32_t s = _slot_on(g, t)
    made[s] = t
    return _adj(s, t._val)


cdef int _recorded_scalars(Graph g, int32_t top, dict adj, set keep, dict leaf_at,
                           bytearray need) except -1:
    """The recorded sweep of records top..0 for the seeds adj (slot -> constant
    tensor) over a tape _scalar_tape accepted; leaves in adj the gradients of
    the slots in keep and of the leaves that are wanted (need)."""
    cdef _Adj *ad = <_Adj *>malloc((top + 1) * sizeof(_Adj))
    if ad == NULL:
        raise MemoryError()
    try:
        _sweep_scalars(g, top, ad, adj, leaf_at, need, keep)
    finally:
        _free(ad)
    return 0


cdef int _sweep_scalars(Graph g, int32_t top, _Adj *ad, dict adj, dict leaf_at, bytearray need,
                        set keep) except -1:
    cdef int32_t i, a, b, s
    cdef uint8_t o
    cdef double c, p, pv, pdx, pdy
    cdef _Adj gi, ga, gb, h, t
    cdef dict made = {}     # record -> the tensor a Python derivative returned for it
    cdef dict reads = {}    # array leaf slot -> [element adjoints, how many reads]
    for i in range(top + 1):
        ad[i].s = -2
    for s, x in adj.items():
        ad[s] = _radd(g, ad[s], _adj(-1, (<Tensor>x)._val))
    adj.clear()
    for i in range(top, -1, -1):
        gi = ad[i]
        if gi.s == -2:
            continue
        o = g.op[i]
        if o & OP_FREED:
            raise RuntimeError(SECOND_BACKWARD)
        o &= OP_CODE
        if o == OP_LEAF or not _feeds_wanted(g, i, o, need):
            continue
        a, b, c = g.in0[i], g.in1[i], g.d1[i]
        ga.s = gb.s = -2
        if o == OP_GATHER:
            elems = reads.get(a)
            if elems is None:
                elems = reads[a] = [[None] * g.layout[a][0], 0]
            prev = (<list>elems[0])[b]
            t = gi if prev is None else _radd(g, _adj((<tuple>prev)[0], (<tuple>prev)[1]), gi)
            (<list>elems[0])[b] = (t.s, t.v)
            elems[1] += 1
            continue
        if o == OP_ADD or o == OP_CLONE:
            ga = gb = gi
        elif o == OP_SUB:
            ga = gi
            if b >= 0 and need[b]:
                gb = _rneg(g, gi)
        elif o == OP_RSUB:
            ga = _rneg(g, gi)
        elif o == OP_MUL:
            if a >= 0 and need[a]:
                ga = _rmul(g, gi, _value_at(g, b, leaf_at)) if b >= 0 else \
                    _rmul_num(g, gi, g.d0[i])
            if b >= 0 and need[b]:
                gb = _rmul(g, gi, _value_at(g, a, leaf_at)) if a >= 0 else _rmul_num(g, gi, c)
        elif o == OP_DIV:
            if b < 0:
                ga = _rmul_num(g, gi, g.d0[i])
            else:
                h = _value_at(g, b, leaf_at)
                if a >= 0 and need[a]:
                    ga = _rdiv(g, gi, h)
                if need[b]:     # -grad * self / other**2 (self / other: the result, a < 0)
                    t = _rmul(g, _rneg(g, gi), _value_at(g, a if a >= 0 else i, leaf_at))
                    gb = _rdiv(g, t, h if a < 0 else _rmul(g, h, h))
        elif o == OP_RDIV:
            h = _value_at(g, a, leaf_at)
            h = _rmul(g, h, h)
            ga = _rmul(g, gi, _rop(g, OP_RDIV, h, -1, _div(c, h.v * h.v), -c, _div(-c, h.v)))
        elif o == OP_POW:
            if c == 0:
                ga = _rmul_num(g, gi, 0.0)
            else:
                p = c - 1       # gi * (c * self ** (c - 1)), as the dunder computes it
                h = _value_at(g, a, leaf_at)
                _scalar_formula(B_POW, h.v, p, False, &pv, &pdx, &pdy)
                h = _rop(g, OP_POW, h, -1, pdx, p, pv)
                ga = _rmul(g, gi, _rmul_num(g, h, c))
        elif o >= OP_ACT:
            fn = _ACT_DERIVATIVES[o - OP_ACT]
            ga = _adj_of(g, fn(_adj_tensor(g, gi, made), _scalar_handle(g, a, leaf_at),
                               _scalar_handle(g, i, leaf_at), c, g.params.get(i, 0.0)), made)
        else:
            raise RuntimeError(f"fastad: no derivative for tape op {o}")
        if a >= 0 and ga.s != -2:
            ad[a] = _radd(g, ad[a], ga)
        if b >= 0 and gb.s != -2:
            ad[b] = _radd(g, ad[b], gb)
    for s in keep:
        if s <= top and ad[s].s != -2:
            adj[s] = _adj_tensor(g, ad[s], made)
    for s in leaf_at:
        if need[s]:
            if s in reads:
                adj[s] = _stacked(g, reads[s], made)
            elif ad[s].s != -2:
                adj[s] = _adj_tensor(g, ad[s], made)
    return 0


cdef object _stacked(Graph g, list elems, dict made):
    """The gradient of an array from its elements' (reads x[k]): one array op
    whose inputs are the elements' records.  Its values are those of the sum of
    one zeros-with-an-element array per read (PyTorch's select_backward): with
    two reads or more, a -0.0 element became +0.0."""
    cdef Py_ssize_t k, n = len(<list>elems[0])
    cdef bint summed = elems[1] > 1
    cdef cnp.ndarray values = np.zeros(n)
    cdef double *vv = <double *>cnp.PyArray_DATA(values)
    inputs = []
    for k in range(n):
        e = (<list>elems[0])[k]
        if e is None:
            inputs.append(None)
            continue
        vv[k] = (<double>e[1] + 0.0) if summed else <double>e[1]
        inputs.append(_adj_tensor(g, _adj(e[0], e[1]), made) if e[0] >= 0 else None)
    inputs = tuple(inputs)
    out = _record(_wrap(values, DT_F64), "AddBackward0" if summed else "SelectBackwardBackward0",
                  inputs, _elements_backward, (), False, False, _elements_derivative)
    if (<Tensor>out)._node is not None:
        (<Tensor>out)._node.stacks = True
    return out


def _elements_backward(g):
    return g.tolist()


def _elements_derivative(grad, inputs, result):
    return tuple([None if x is None else _gather1(<Tensor>grad, k) for k, x in enumerate(inputs)])
