# Included by _tensor.pyx: what derivatives are written with (PyTorch's
# derivatives.yaml helpers), and the derivatives of the scalar tape records.
# Everything here is built from recorded fastad ops, so a gradient computed
# with it can be differentiated again.
import math as _math

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_ERF = np.frompyfunc(_math.erf, 1, 1)


cdef object _sum_to(object t, tuple shape):
    """t summed down to shape: the adjoint of broadcasting (PyTorch's sum_to_size)."""
    cdef Tensor x = <Tensor>t
    tshape = tuple(x.shape)
    if tshape == shape:
        return x
    cdef int nd = len(tshape) - len(shape)
    if nd > 0:
        x = sum(x, tuple(range(nd)))
    axes = tuple([i for i, s in enumerate(shape) if s == 1 and x.shape[i] != 1])
    if axes:
        x = sum(x, axes, True)
    if tuple(x.shape) != shape:
        x = reshape(x, shape)
    return x


# the input handles of the record a recorded backward is differentiating whose
# gradients nobody asked for (autograd.grad's inputs do not depend on them)
cdef tuple _unwanted = ()


cdef bint _needs(object x):
    """Whether a derivative should compute the gradient of its input handle x:
    x requires grad and leads to a gradient that is asked for.  (A formula may
    skip the others, as PyTorch's do by their grad_input_mask.)"""
    if x is None or not (<Tensor>x)._rg:
        return False
    for u in _unwanted:
        if u is x:
            return False
    return True


cdef object _const(object values, int dt):
    """A tensor outside the graph over values (masks and constants of a derivative)."""
    return _wrap(np.asarray(values, dtype=NP_DTYPES[dt]), dt)


def _sgn(x):
    """sign(x): its derivative is zero, so it is a constant of the graph."""
    cdef Tensor t = <Tensor>x
    return _const(np.sign(_arr(t)), t._dt)


def _erf(x):
    """erf(x), for gelu's derivative; its own derivative is 2/sqrt(pi) exp(-x^2)."""
    cdef Tensor t = <Tensor>x
    a = _arr(t)
    return _record(_const(_ERF(a), t._dt), "ErfBackward0", (t,), None, (t,), True, False,
                   _erf_derivative)


def _erf_derivative(grad, inputs, result):
    x = inputs[0]
    return (grad * (1.1283791670955126 * (-(x * x)).exp()),)


cdef object _index_put(object grad, object key, tuple shape, int dt, bint accumulate, str name):
    """zeros(shape) with grad written at key (added, for an advanced key that may
    repeat an element): the adjoint of x[key], differentiable (its derivative is
    grad[key])."""
    cdef Tensor g = <Tensor>grad
    out = np.zeros(shape, NP_DTYPES[dt])
    if accumulate:
        np.add.at(out, key, _arr(g))
    else:
        out[key] = _arr(g)
    return _record(_wrap(out, dt), name, (g,), None, (), False, False,
                   lambda gg, inputs, result: (_getitem(<Tensor>gg, key),))


cdef object _expand_to(object grad, tuple shape, tuple dims, bint keepdim):
    """The gradient of a reduction over dims, spread back over shape (differentiably)."""
    g = grad
    # leading reduced dims come back by broadcasting (a full sum's 0-d gradient is
    # expanded as it is, as PyTorch's): only a dim kept after one needs a view
    if not keepdim and dims != tuple(range(len(dims))):
        g = reshape(g, tuple([1 if i in dims else s for i, s in enumerate(shape)]))
    return expand(g, shape)


# ---------------------------------------------------------------- scalar records
cdef object _scalar_handle(Graph g, int32_t s, dict leaf_at):
    """The value of record s as a tensor of g's graph (a leaf: the leaf itself)."""
    leaf = leaf_at.get(s)
    if leaf is not None:
        return leaf
    cdef uint8_t o = g.op[s] & OP_CODE
    cdef Node node
    cdef Tensor t
    if o == OP_PY:
        node = <Node>g.ctx[g.in0[s]]
        if node.primal is None:
            raise RuntimeError(f"fastad: the derivative of {node.name} is not implemented, so "
                               "a graph through it cannot be differentiated twice "
                               "(create_graph=True)")
        t = _wrap(node.primal[2], node.primal[3])
        t._node = node
    else:
        if o == OP_GATHER:
            dt = DT_F64 if g.layout[g.in0[s]][1] == np.float64 else DT_F32
        else:
            dt = DT_F64 if g.op[s] & OP_F64 else DT_F32
        t = _scalar(g.val[s], dt)
    t._graph = g
    t._slot = s
    t._rg = True
    t._op = o
    return t


cdef tuple _scalar_vjp(Graph g, int32_t i, object gi, dict leaf_at):
    """(gradient to in0, gradient to in1) of scalar record i for the adjoint gi,
    as recorded tensor ops: PyTorch's formulas by op code."""
    cdef uint8_t o = g.op[i] & OP_CODE
    cdef int32_t a = g.in0[i], b = g.in1[i]
    cdef double c = g.d1[i]
    if o == OP_ADD or o == OP_CLONE:
        return gi, gi
    if o == OP_SUB:
        return gi, -gi
    if o == OP_RSUB:
        return -gi, None
    # an operand outside the graph (a number, or a tensor that does not require
    # grad: slot -1) is a constant, whose value the partials hold
    if o == OP_MUL:
        return (None if a < 0 else gi * (_scalar_handle(g, b, leaf_at) if b >= 0 else g.d0[i]),
                None if b < 0 else gi * (_scalar_handle(g, a, leaf_at) if a >= 0 else c))
    if o == OP_DIV:
        if b < 0:
            return gi * g.d0[i], None
        hb = _scalar_handle(g, b, leaf_at)
        if a < 0:       # -grad * self / other**2, self / other being the result
            return None, -gi * _scalar_handle(g, i, leaf_at) / hb
        return gi / hb, -gi * _scalar_handle(g, a, leaf_at) / (hb * hb)
    if o == OP_RDIV:
        ha = _scalar_handle(g, a, leaf_at)
        return gi * (-c / (ha * ha)), None
    if o == OP_POW:
        if c == 0:
            return gi * 0.0, None
        return gi * (c * _scalar_handle(g, a, leaf_at) ** (c - 1)), None
    if o >= OP_ACT:
        fn = _ACT_DERIVATIVES[o - OP_ACT]
        return fn(gi, _scalar_handle(g, a, leaf_at), _scalar_handle(g, i, leaf_at), c,
                  g.params.get(i, 0.0)), None
    raise RuntimeError(f"fastad: no derivative for tape op {o}")
