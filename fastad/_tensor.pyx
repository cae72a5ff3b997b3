# cython: cdivision=True
"""The Tensor: a thin object over an inline scalar or a numpy buffer, whose
ops append records to the thread's tape (fastad._tape)."""
cimport cython
from libc.math cimport pow, NAN
from libc.stdint cimport int32_t, int64_t, uint8_t
from fastad._tape cimport *
from fastad._opcodes cimport *
from fastad._kernels cimport backward_reads_x, scalar_unary

import builtins as _builtins
import functools
import numbers
from collections import OrderedDict

import numpy as np
cimport numpy as cnp

from fastad import _kernels as _K
from fastad import _random as _R

cnp.import_array()

# ---------------------------------------------------------------- dtypes
cdef class dtype:
    cdef readonly str name
    cdef readonly object np_dtype
    cdef readonly int code
    cdef readonly bint is_floating_point

    def __repr__(self):
        return "torch." + self.name

    def __reduce__(self):
        return (_dtype_by_name, (self.name,))

    @property
    def itemsize(self):
        return self.np_dtype.itemsize


cdef dtype _mk_dtype(str name, object np_dtype, int code, bint floating):
    cdef dtype d = dtype.__new__(dtype)
    d.name, d.np_dtype, d.code, d.is_floating_point = name, np.dtype(np_dtype), code, floating
    return d


cdef enum:
    DT_F32 = 0
    DT_F64 = 1
    DT_I64 = 2
    DT_BOOL = 3
float32 = _mk_dtype("float32", np.float32, 0, True)
float64 = _mk_dtype("float64", np.float64, 1, True)
int64 = _mk_dtype("int64", np.int64, 2, False)
bool_ = _mk_dtype("bool", np.bool_, 3, False)
cdef tuple DTYPES = (float32, float64, int64, bool_)
cdef tuple NP_DTYPES = tuple(d.np_dtype for d in DTYPES)
cdef int _default_dt = 0


def _dtype_by_name(name):
    for d in DTYPES:
        if d.name == name:
            return d
    raise TypeError(f"unknown dtype {name!r}")


def get_default_dtype():
    return DTYPES[_default_dt]


def set_default_dtype(d):
    global _default_dt
    d = _as_dtype(d)
    if not d.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    _default_dt = d.code


cdef int _np_to_dt(object npdt) except -1:
    """numpy dtype -> fastad dtype code (narrower ints and floats widen)."""
    kind = npdt.kind
    if kind == "f":
        return DT_F64 if npdt.itemsize == 8 else DT_F32
    if kind in "iu":
        return DT_I64
    if kind == "b":
        return DT_BOOL
    raise TypeError(f"can't convert np.ndarray of type {npdt}. The only supported types are: "
                    "float64, float32, float16, int64, int32, int16, int8, uint8, and bool.")


cdef dtype _as_dtype(object d):
    if isinstance(d, dtype):
        return d
    if d is float:
        return DTYPES[_default_dt]
    if d is int:
        return int64
    if d is bool:
        return bool_
    try:
        return DTYPES[_np_to_dt(np.dtype(d))]
    except TypeError:
        raise TypeError(f"{d!r} is not a fastad dtype (use float32, float64, int64 or bool)")


cdef int _dt_code(object d) except -1:
    return (<dtype>_as_dtype(d)).code


cdef inline int _cat(int dt) noexcept:
    return 2 if dt <= DT_F64 else (1 if dt == DT_I64 else 0)


cdef int _join(int x, int y) noexcept:
    cdef int cx = _cat(x), cy = _cat(y)
    if cx != cy:
        return x if cx > cy else y
    if cx == 2:
        return DT_F64 if (x == DT_F64 or y == DT_F64) else DT_F32
    return x


cdef int _promote(int adt, int ak, int bdt, int bk) noexcept:
    """PyTorch's promotion: dimensioned tensors > 0-d tensors > Python numbers;
    a lower group only matters when it is of a higher category (bool<int<float)."""
    if ak == bk:
        return _join(adt, bdt)
    cdef int hi = adt if ak > bk else bdt
    cdef int lo = bdt if ak > bk else adt
    return lo if _cat(lo) > _cat(hi) else hi


class Size(tuple):
    def __repr__(self):
        return f"torch.Size({list(self)})"

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n


# ---------------------------------------------------------------- grad mode
def is_grad_enabled():
    return grad_enabled()


def _set_grad_enabled(bint on):
    return set_grad_enabled_c(on)


class _GradMode:
    _on = True

    def __enter__(self):
        self._prev = set_grad_enabled_c(self._on)
        return self

    def __exit__(self, *exc):
        set_grad_enabled_c(self._prev)
        return False

    def __call__(self, fn):
        mode = type(self)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with mode():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Context manager and decorator that turns recording off in this thread."""
    _on = False


class enable_grad(_GradMode):
    _on = True


class set_grad_enabled(_GradMode):
    def __init__(self, mode):
        self._on = bool(mode)
        self._prev = set_grad_enabled_c(self._on)

    def __enter__(self):
        return self

    def __call__(self, fn):
        set_grad_enabled_c(self._prev)
        on = self._on

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(on):
                return fn(*args, **kwargs)
        return wrapper


# ---------------------------------------------------------------- construction helpers
cdef class VersionCounter:
    pass


cdef inline Tensor _scalar(double v, int dt):
    cdef Tensor t = Tensor.__new__(Tensor)
    if dt == DT_F32:
        v = <double>(<float>v)
    t._val = v
    t._dt = dt
    return t


cdef Tensor _wrap(object arr, int dt):
    """A tensor over arr (cast to dt); 0-d floats go inline."""
    cdef Tensor t
    if dt <= DT_F64 and (not isinstance(arr, np.ndarray) or (<object>arr).ndim == 0):
        return _scalar(float(arr), dt)
    t = Tensor.__new__(Tensor)
    t._dt = dt
    if not isinstance(arr, np.ndarray) or arr.dtype != NP_DTYPES[dt]:
        arr = np.asarray(arr, dtype=NP_DTYPES[dt])
    t._data = arr
    return t


cdef inline object _arr(Tensor t):
    """The tensor's values as an ndarray (a new 0-d array for inline scalars)."""
    if t._data is None:
        return np.array(t._val, dtype=NP_DTYPES[t._dt])
    return t._data


cdef VersionCounter _vc(Tensor t):
    if t._base is not None:
        return _vc(t._base)
    if t._vc is None:
        t._vc = VersionCounter()
    return t._vc


cdef inline void _bump(Tensor t) noexcept:
    # every in-place change counts (PyTorch's _version), saved or not
    if t._base is not None:
        _bump(t._base)
    else:
        if t._vc is None:
            t._vc = VersionCounter()
        t._vc.version += 1


CROSS_GRAPH = ("fastad: these tensors belong to two different graphs (built in different "
               "threads, or one before a backward that freed its graph); detach() one of them")


cdef Graph _graph_of(Tensor a, Tensor b):
    """The graph an op on a (and b) records on: that of its non-leaf inputs,
    else this thread's."""
    cdef Graph g = None
    if a is not None and a._graph is not None:
        g = a._graph
    if b is not None and b._graph is not None:
        if g is None or b._graph.dead:
            g = b._graph
        elif g is not b._graph and not g.dead:
            raise RuntimeError(CROSS_GRAPH)
    if g is None:
        return current_graph()
    return g


cdef inline void _mark_freed(Tensor out, Graph g, uint8_t op, Node node):
    """out comes from a tensor whose graph a backward already freed: it still
    requires grad (as in PyTorch), and a backward through it raises."""
    out._graph = g
    out._rg = True
    out._op = op
    out._node = node


cdef inline int32_t _slot_on(Graph g, Tensor t) except -2:
    if t is None or not t._rg:
        return -1
    if t._graph is not None:
        return t._slot
    if t._lgid != g.gid:
        t._slot = graph_push(g, OP_LEAF, -1, -1, 0.0, 0.0)
        t._lgid = g.gid
        g.leaves.append((t, t._slot))
    return t._slot


cdef inline Tensor _sop(uint8_t op, double v, Tensor a, Tensor b, double da, double db, int dt):
    """A scalar op: the value, and one tape record holding its local partials."""
    cdef Tensor out = _scalar(v, dt)
    cdef Graph g
    if (a._rg or (b is not None and b._rg)) and grad_enabled():
        g = _graph_of(a, b)
        if g.dead:
            _mark_freed(out, g, op, None)
            return out
        out._slot = graph_push(g, op, _slot_on(g, a), _slot_on(g, b), da, db)
        out._graph = g
        out._rg = True
        out._op = op
    return out


cdef Tensor _record(Tensor out, str name, tuple inputs, object backward, tuple saved=(),
                    bint saves=True, bint writes_grad=False):
    """Attach an array op's backward to out.  backward(grad_out) returns one
    gradient per input, shaped like it; it must capture arrays, never tensors
    (a tensor would tie the graph into a reference cycle).  writes_grad: it is
    backward(grad_out, owned) and may overwrite grad_out when owned (Node)."""
    cdef Tensor t
    cdef bint need = False
    cdef Graph g = None
    for x in inputs:
        if x is not None and (<Tensor>x)._rg:
            need = True
            t = <Tensor>x
            if t._graph is not None:
                if g is None or t._graph.dead:
                    g = t._graph
                elif g is not t._graph and not g.dead:
                    raise RuntimeError(CROSS_GRAPH)
    if not need or not grad_enabled():
        return out
    if g is None:
        g = current_graph()
    cdef Node node = Node.__new__(Node)
    node.name = name
    if g.dead:
        _mark_freed(out, g, OP_PY, node)
        return out
    node.backward = backward
    node.in_slots = tuple([_slot_on(g, <Tensor>x) if x is not None else -1 for x in inputs])
    node.in_scalar = tuple([x is not None and (<Tensor>x)._data is None for x in inputs])
    node.in_dtypes = tuple([NP_DTYPES[(<Tensor>x)._dt] if x is not None else None for x in inputs])
    node.out_scalar = out._data is None
    node.out_dtype = NP_DTYPES[out._dt]
    node.saved = tuple([(_vc(<Tensor>s), _vc(<Tensor>s).version) for s in saved])
    node.saves = saves
    node.writes_grad = writes_grad
    out._slot = g.push_node(node)
    out._graph = g
    out._rg = True
    out._op = OP_PY
    out._node = node
    return out


cdef object _unbroadcast(object g, tuple shape):
    if g.shape == shape:
        return g
    cdef int nd = g.ndim - len(shape)
    if nd > 0:
        g = g.sum(axis=tuple(range(nd)))
    axes = tuple([i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1])
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _unbroadcast_py(g, shape):
    return _unbroadcast(g, tuple(shape))


cdef tuple _operand(object x):
    """(tensor or None, ndarray or number, priority kind, dtype code) for a
    binary-op operand; kind 2 = dimensioned, 1 = 0-d tensor, 0 = Python number.
    None when x is not something fastad can combine with."""
    cdef Tensor t
    if isinstance(x, Tensor):
        t = <Tensor>x
        return (t, _arr(t), 1 if (t._data is None or t._data.ndim == 0) else 2, t._dt)
    if type(x) is float:                # the common cases first: ABC checks cost ~0.3 us
        return (None, x, 0, _default_dt)
    if type(x) is int:
        return (None, x, 0, DT_I64)
    if isinstance(x, (bool, np.bool_)):
        return (None, bool(x), 0, DT_BOOL)
    if isinstance(x, numbers.Integral):
        return (None, int(x), 0, DT_I64)
    if isinstance(x, numbers.Real):
        return (None, float(x), 0, _default_dt)
    if isinstance(x, np.ndarray):
        return (None, x, 1 if x.ndim == 0 else 2, _np_to_dt(x.dtype))
    if isinstance(x, (list, tuple)):
        return _operand(tensor(x))
    return None


# ---------------------------------------------------------------- binary ops
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
    if op == OP_DIV and dt >= DT_I64:
        dt = _default_dt
    npdt = NP_DTYPES[dt]
    if isinstance(a, np.ndarray) and a.dtype != npdt:
        a = a.astype(npdt)
    if isinstance(b, np.ndarray) and b.dtype != npdt:
        b = b.astype(npdt)
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
            with np.errstate(divide="ignore", invalid="ignore"):
                r = np.true_divide(a, b)
        else:
            if dt == DT_BOOL:
                # PyTorch: no bool pow kernel, but a scalar exponent of 1 is a copy
                if not (oy[2] == 0 and b == 1):
                    raise NotImplementedError("\"pow\" not implemented for 'Bool'")
                r = np.array(a, copy=True)
            else:
                with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                    r = np.power(a, b)
    except ValueError as e:
        if "negative integer powers" in str(e):
            raise RuntimeError("Integers to negative integer powers are not allowed.") from None
        raise RuntimeError(_broadcast_msg(np.shape(a), np.shape(b))) from None
    cdef Tensor out = _wrap(r, dt)
    cdef bint na = ta is not None and ta._rg
    cdef bint nb = tb is not None and tb._rg
    if not ((na or nb) and grad_enabled()):
        return out
    if dt > DT_F64:
        return out
    sa = a.shape if isinstance(a, np.ndarray) else ()
    sb = b.shape if isinstance(b, np.ndarray) else ()
    name = BINARY_NAMES[op]
    saved = ()
    if op == OP_ADD:
        bw = lambda g: (_unbroadcast(g, sa) if na else None, _unbroadcast(g, sb) if nb else None)
    elif op == OP_SUB:
        if reflected:
            name = "RsubBackward1"
        bw = lambda g: (_unbroadcast(g, sa) if na else None, _unbroadcast(-g, sb) if nb else None)
    elif op == OP_MUL:
        saved = tuple([t for t in (ta, tb) if t is not None])
        bw = lambda g: (_unbroadcast(g * b, sa) if na else None, _unbroadcast(g * a, sb) if nb else None)
    elif op == OP_DIV:
        saved = tuple([t for t in (ta, tb) if t is not None])
        if reflected and ta is None:
            name = "MulBackward0"
        bw = lambda g: (_unbroadcast(g / b, sa) if na else None,
                        _unbroadcast(-g * a / (b * b), sb) if nb else None)
    else:
        saved = tuple([t for t in (ta, tb) if t is not None])
        if tb is not None and ta is not None:
            name = "PowBackward1"
        elif ta is None:
            name = "PowBackward2"
        rr = _arr(out)
        bw = lambda g: (_unbroadcast(_pow_grad_base(g, a, b), sa) if na else None,
                        _unbroadcast(_pow_grad_exp(g, a, rr), sb) if nb else None)
    return _record(out, name, (ta, tb), bw, saved)


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
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.asarray(b) == 0, 0.0, g * b * np.power(a, np.asarray(b) - 1))


def _pow_grad_exp(g, a, r):
    with np.errstate(divide="ignore", invalid="ignore"):
        # d/db a**b = a**b log a; PyTorch takes it as 0 where a == 0 and b >= 0
        return np.where((np.asarray(a) == 0) & (np.asarray(r) == np.asarray(r)), 0.0, g * r * np.log(a))


# ---------------------------------------------------------------- unary ops
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


def activation(input, str name, double a=0.0, double b=0.0, str grad_name=None):
    """y = f(input) for an elementwise kernel of fastad._kernels (forward and
    vector-Jacobian product compiled; the backward keeps only what
    ACTIVATIONS[name]["saves"] says it needs).  grad_name overrides PyTorch's
    usual grad_fn name (its in-place forms have their own)."""
    cdef Tensor x = _as_tensor(input)
    if x._dt > DT_F64:
        x = _to(x, _default_dt)
    xa = _arr(x)
    if not xa.flags.c_contiguous:
        xa = np.ascontiguousarray(xa).reshape(xa.shape)  # (0-d stays 0-d)
    y = _K.empty_like(xa)
    _K.activation_forward(name, xa, y, a, b)  # kernels take any C-contiguous shape
    cdef Tensor out = _wrap(y, x._dt)
    if not (x._rg and grad_enabled()):
        return out
    saves_y, usual_name = _ACTIVATION_INFO[name][1:3]
    needs_x = _act_needs_x(name, a)
    xs = xa if needs_x else None
    ys = y if saves_y else None

    def backward(g, bint owned):
        return (_act_grad(name, xs, ys, g, owned, a, b, y),)
    grad_name = grad_name or usual_name
    saved = ((x,) if needs_x else ()) + ((out,) if ys is not None else ())
    return _record(out, grad_name, (x,), backward, saved, bool(saved), True)


def linear_rows(input, weight, bias, str act=None, double a=0.0, double b=0.0):
    """input @ weight.T + bias for a 2-D input, weight and a 1-D bias (or None) of
    one float dtype and matching sizes: the common case of nn.functional.linear,
    one AddmmBackward0 node whose backward writes weight's gradient in weight's own
    layout (g.T @ input).  Anything else returns None, for linear to validate.

    act (an activation whose backward reads only its output, with parameters a,
    b): act(input @ weight.T + bias) as ONE node named as act's, for nn.Sequential
    to fuse a Linear and the activation after it.  The activation runs in place on
    the GEMM's output, and its backward writes into the incoming gradient when the
    sweep owns it, summing the bias gradient in the same pass: two passes over the
    batch's activations fewer each way."""
    if not (isinstance(input, Tensor) and isinstance(weight, Tensor)
            and (bias is None or isinstance(bias, Tensor))):
        return None
    if act is not None and (act not in _ACTIVATION_INFO or not _ACTIVATION_INFO[act][1]
                            or _act_needs_x(act, a)):
        raise ValueError(f"cannot fuse {act!r} into a linear layer: its backward needs its input")
    cdef Tensor x = <Tensor>input, w = <Tensor>weight
    cdef Tensor bt = <Tensor>bias if bias is not None else None
    if x._dt > DT_F64 or w._dt != x._dt or (bt is not None and bt._dt != x._dt):
        return None
    xa, wa = _arr(x), _arr(w)
    ba = _arr(bt) if bt is not None else None
    if (cnp.PyArray_NDIM(<cnp.ndarray>xa) != 2 or cnp.PyArray_NDIM(<cnp.ndarray>wa) != 2
            or xa.shape[1] != wa.shape[1]
            or (ba is not None and (cnp.PyArray_NDIM(<cnp.ndarray>ba) != 1
                                    or ba.shape[0] != wa.shape[0]))):
        return None
    y = _K.empty((xa.shape[0], wa.shape[0]), xa.dtype)
    if not (cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>xa) and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>wa)
            and _K.linear_forward(xa, wa, ba, y)):     # bias and GEMM in one pass
        np.matmul(xa, wa.T, out=y)
        if ba is not None:
            np.add(y, ba, out=y)
    if act is not None:
        _K.activation_forward(act, y, y, a, b)
    cdef Tensor out = _wrap(y, x._dt)
    if not ((x._rg or w._rg or (bt is not None and bt._rg)) and grad_enabled()):
        return out
    cdef bint need_x = x._rg, need_w = w._rg

    def backward(g, bint owned=False):
        if act is None:
            # the bias gradient first, while g (just written by the next op's
            # backward) is still in cache: the GEMMs evict it
            gb = None if ba is None else np.add.reduce(g, 0)
        else:
            gb = None if ba is None else np.empty_like(ba)
            g = _act_grad(act, None, y, g, owned, a, b, y, gb)
        return _linear_grads(g, wa, xa, need_x, need_w) + (gb,)
    if act is not None:
        return _record(out, _ACTIVATION_INFO[act][2], (x, w, bt), backward, (x, w, out), True,
                       True)
    return _record(out, "AddmmBackward0" if bt is not None else "MmBackward0", (x, w, bt),
                   backward, (x, w))


def class_cross_entropy(input, target, str reduction, long ignore_index, double label_smoothing,
                        str grad_name):
    """cross_entropy of (N, C) logits against N int64 class indices, no class
    weights: the common case of nn.functional.cross_entropy, compiled, recorded
    under grad_name.  Anything else returns None, for cross_entropy to validate
    and handle."""
    if not (isinstance(input, Tensor) and isinstance(target, Tensor)):
        return None
    cdef Tensor x = <Tensor>input, t = <Tensor>target
    if x._dt > DT_F64 or t._dt != DT_I64 or not 0.0 <= label_smoothing <= 1.0:
        return None
    rows, ta = _arr(x), _arr(t)
    if (cnp.PyArray_NDIM(<cnp.ndarray>rows) != 2 or cnp.PyArray_NDIM(<cnp.ndarray>ta) != 1
            or ta.shape[0] != rows.shape[0] or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>rows)
            or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>ta)
            or reduction not in ("mean", "sum", "none")):
        return None
    lsm = _K.empty_like(rows)
    value = _K.cross_entropy_forward(rows, ta, None, ignore_index, label_smoothing, reduction, lsm)
    cdef Tensor out = _wrap(value, x._dt)
    if not (x._rg and grad_enabled()):
        return out
    cdef bint per_row = reduction == "none"

    def backward(g):
        glog = _K.empty_like(rows)
        gout = np.ascontiguousarray(g, rows.dtype).reshape(-1) if per_row else float(g)
        _K.cross_entropy_backward(lsm, ta, None, ignore_index, label_smoothing, reduction, gout,
                                  glog)
        return (glog, None)
    return _record(out, grad_name, (x, t), backward, (x,))


def pointwise_loss(str kernel, str grad_name, input, target, str reduction, double a=0.0):
    """An elementwise loss of fastad._kernels.LOSSES in its common form: two
    tensors of one float dtype and one shape, no weights, a valid reduction; the
    mean or sum is reduced inside the kernel.  Anything else returns None, for
    fastad.nn.functional._pointwise_loss to validate and handle."""
    if not (isinstance(input, Tensor) and isinstance(target, Tensor)):
        return None
    cdef Tensor x = <Tensor>input, t = <Tensor>target
    if x._dt > DT_F64 or t._dt != x._dt:
        return None
    xa, ta = _arr(x), _arr(t)
    if (xa.shape != ta.shape or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>xa)
            or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>ta)):
        return None
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>xa)
    cdef double scale = 1.0
    if reduction == "none":
        value = _K.empty_like(xa)
        _K.loss_forward(kernel, xa, ta, value, a)
    elif reduction == "sum":
        value = _K.loss_forward(kernel, xa, ta, None, a)
    elif reduction == "mean":      # divided as _reduce does it, for the same bits
        scale = 1.0 / n if n else NAN
        value = _K.loss_forward(kernel, xa, ta, None, a) / n if n else NAN
    else:
        return None
    cdef Tensor out = _wrap(value, x._dt)
    if not ((x._rg or t._rg) and grad_enabled()):
        return out
    cdef bint per_element = reduction == "none", t_rg = t._rg

    def backward(g):
        if per_element:
            gout = np.ascontiguousarray(g, dtype=xa.dtype)
        else:
            gout = _K.empty_like(xa)
            gout.fill(float(g) * scale)
        gx = _K.empty_like(xa)
        gt = _K.empty_like(ta) if t_rg else None
        _K.loss_backward(kernel, xa, ta, gout, gx, gt, a)
        return (gx, gt)
    return _record(out, grad_name, (x, t), backward, (x, t))


cdef object _unary_call(object input, str fname, int op, double a, double b, bint inplace):
    """An elementwise op called as fastad.foo / nn.functional.foo."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{fname}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if inplace:
        grad_name = _INPLACE_GRAD_NAMES.get(op)
        return _apply_inplace(<Tensor>input,
                              lambda t: activation(t, _UNARY_NAMES[op], a, b, grad_name), False)
    return _unary(<Tensor>input, op, a, b)


cdef object _unary(object input, int op, double a, double b):
    """The one path of every elementwise op of the table: a 0-d float is one
    scalar tape record (values and partial from the array kernels' own loops),
    anything else the array kernels."""
    cdef Tensor x = <Tensor>input
    cdef double r, d
    if x._data is None:
        if scalar_unary(op, x._dt == DT_F64, x._val, a, b, &r, &d) < 0:
            raise ValueError(f"no scalar kernel for op code {op}")
        return _sop(OP_ACT + op, r, x, None, d, 0.0, x._dt)
    if x._dt >= DT_I64:
        value = _int_unary(op, x._data, a, b)
        if value is not None:
            if x._dt == DT_BOOL:
                raise RuntimeError(f"{_UNARY_NAMES[op]} is not supported for bool tensors")
            return _wrap(value, x._dt)
    return activation(x, _UNARY_NAMES[op], a, b)


# ---------------------------------------------------------------- the Tensor
cdef inline bint _is_num(object o) noexcept:
    return type(o) is float or type(o) is int


include "_tensor_class.pxi"


cdef inline double _div(double a, double b) noexcept:
    # IEEE division without Python's ZeroDivisionError (cdivision=True)
    return a / b


def _rebuild(arr, dt, rg):
    t = _wrap(arr, dt)
    t.requires_grad_(rg)
    return t


# ---------------------------------------------------------------- grad_fn
cdef dict OP_NAMES = {
    OP_ADD: "AddBackward0", OP_SUB: "SubBackward0", OP_RSUB: "RsubBackward1",
    OP_MUL: "MulBackward0", OP_DIV: "DivBackward0", OP_POW: "PowBackward0",
    OP_CLONE: "CloneBackward0", OP_GATHER: "SelectBackward0", **_UNARY_GRAD_NAMES,
}
_OP_NAMES = OP_NAMES   # the same dict, visible from Python (fastad.viz names tape records)


class BackwardNode:
    """What tensor.grad_fn returns: names the op that made the tensor."""
    __slots__ = ("_graph", "_index", "_name")

    def __init__(self, graph, index, name):
        self._graph, self._index, self._name = graph, index, name

    def name(self):
        return self._name

    def __repr__(self):
        return f"<{self._name.rpartition('::')[2]} object at {id(self):#x}>"

    def __eq__(self, other):
        return (isinstance(other, BackwardNode) and other._graph is self._graph
                and other._index == self._index)

    def __hash__(self):
        return hash((id(self._graph), self._index))


# ---------------------------------------------------------------- small helpers
cdef tuple _sizes(tuple args):
    """Sizes given as *ints, one tuple/list, or a Size."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    for s in args:
        if not isinstance(s, (int, np.integer)) and not (isinstance(s, Tensor) and (<Tensor>s)._dt == DT_I64):
            raise TypeError(f"sizes must be integers, got {type(s).__name__}")
    return tuple([int(s) for s in args])


cdef int _norm_dim(object dim, int ndim) except? -999:
    cdef int n = ndim if ndim > 0 else 1
    if not isinstance(dim, (int, np.integer)):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
    if dim < -n or dim >= n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim + n if dim < 0 else dim


cdef tuple _norm_dims(object dim, int ndim):
    if dim is None or ndim == 0:
        if dim is not None:
            for d in (dim if isinstance(dim, (tuple, list)) else (dim,)):
                _norm_dim(d, 0)
        return tuple(range(ndim))
    if isinstance(dim, (tuple, list)):
        dims = tuple(sorted(set([_norm_dim(d, ndim) for d in dim])))
        if len(dims) != len(dim):
            raise RuntimeError(f"dim {list(dim)} appears multiple times in the list of dims")
        return dims
    return (_norm_dim(dim, ndim),)


cdef Tensor _as_tensor(object x):
    return <Tensor>x if isinstance(x, Tensor) else tensor(x)


cdef Tensor _to(Tensor x, int dt):
    if dt == x._dt:
        return x
    cdef Tensor out = _wrap(_arr(x).astype(NP_DTYPES[dt]), dt)
    if dt <= DT_F64 and x._rg:
        return _record(out, "ToCopyBackward0", (x,), lambda g: (g,), (), False)
    return out


cdef void _assign_storage(Tensor self, Tensor src):
    self._dt = src._dt
    self._data = src._data
    self._val = src._val
    _bump(self)


cdef object _nograd_binary(f, x, y):
    ox, oy = _operand(x), _operand(y)
    if ox is None or oy is None:
        return NotImplemented
    cdef int dt = _promote(ox[3], ox[2], oy[3], oy[2])
    with np.errstate(divide="ignore", invalid="ignore"):
        r = f(ox[1], oy[1])
    return _wrap(r, _np_to_dt(np.asarray(r).dtype) if dt != DT_F32 or np.asarray(r).dtype.kind != "f" else dt)


cdef object _compare(f, x, y):
    if y is None:
        return f is np.not_equal
    ox, oy = _operand(x), _operand(y)
    if ox is None or oy is None:
        return NotImplemented
    try:
        return _wrap(f(ox[1], oy[1]), DT_BOOL)
    except ValueError:
        raise RuntimeError(_broadcast_msg(np.shape(ox[1]), np.shape(oy[1]))) from None


def manual_seed(seed):
    return _R.default_generator.manual_seed(seed)


def _rng():
    """A numpy generator seeded from the default generator, for the samplers
    not yet on PyTorch's streams (rrelu)."""
    return np.random.Generator(np.random.PCG64(_R.default_generator._random64()))


# ---------------------------------------------------------------- in-place
cdef void _check_inplace(Tensor t) except *:
    if t._rg and t._graph is None and grad_enabled():
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")


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
                       lambda g: (np.zeros_like(g), _unbroadcast(g, src_shape)), ())
    return _record(out, name, (t,), lambda g: (np.zeros_like(g),), ())


def apply_inplace(Tensor self, fn):
    """self = fn(self), written into self's storage (ops with inplace=True)."""
    return _apply_inplace(self, fn, False)


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
    return self


# ---------------------------------------------------------------- reductions
def sum(input, dim=None, keepdim=False, *, dtype=None):
    cdef Tensor x = _as_tensor(input)
    cdef int dt = x._dt if x._dt <= DT_F64 else DT_I64
    if dtype is not None:
        dt = _dt_code(dtype)
    a = _arr(x)
    shape = a.shape
    dims = _norm_dims(dim, a.ndim)
    r = a.sum(axis=dims, keepdims=keepdim, dtype=NP_DTYPES[dt])
    cdef Tensor out = _wrap(r, dt)
    if x._rg and grad_enabled():
        return _record(out, "SumBackward0" if dim is None else "SumBackward1", (x,),
                       lambda g: (_expand_grad(g, shape, dims, keepdim),), (), False)
    return out


def mean(input, dim=None, keepdim=False, *, dtype=None):
    cdef Tensor x = _as_tensor(input)
    if x._dt > DT_F64 and dtype is None:
        raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {DTYPES[x._dt].name.capitalize()}")
    a = _arr(x)
    shape = a.shape
    dims = _norm_dims(dim, a.ndim)
    cdef int64_t count = 1
    for d in dims:
        count *= shape[d]
    with np.errstate(invalid="ignore", divide="ignore"):
        r = a.sum(axis=dims, keepdims=keepdim) / (count if count else np.nan)
    cdef Tensor out = _wrap(r, x._dt)
    if x._rg and grad_enabled():
        return _record(out, "MeanBackward0" if dim is None else "MeanBackward1", (x,),
                       lambda g: (_expand_grad(g / count, shape, dims, keepdim),), (), False)
    return out


cdef object _expand_grad(object g, tuple shape, tuple dims, bint keepdim):
    """The gradient of a reduction over dims, spread back over shape."""
    if not keepdim:
        g = g.reshape(tuple([1 if i in dims else s for i, s in enumerate(shape)]))
    return _filled_like(g, shape)


cdef object _filled_like(object g, tuple shape):
    """g broadcast to shape, as a new array (np.broadcast_to costs microseconds)."""
    out = np.empty(shape, dtype=g.dtype)
    out[...] = g
    return out


class _MinMax(tuple):
    """torch.return_types.max / min: (values, indices)."""
    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]


cdef object _extreme(object input, object dim, bint keepdim, bint is_max):
    cdef Tensor x = _as_tensor(input)
    a = _arr(x)
    name = "max" if is_max else "min"
    if a.size == 0:
        raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                           "Specify the reduction dim with the 'dim' argument.")
    shape = a.shape
    cdef Tensor out
    if dim is None:
        r = a.max() if is_max else a.min()
        out = _wrap(np.asarray(r), x._dt)
        if x._rg and grad_enabled():
            def bw(g):
                # ties share the gradient evenly, as in PyTorch
                mask = (a == r) | (np.isnan(a) & np.isnan(r)) if a.dtype.kind == "f" else (a == r)
                return (mask * (g / mask.sum()),)
            return _record(out, name.capitalize() + "Backward1", (x,), bw, (x,))
        return out
    d = _norm_dim(dim, a.ndim)
    if a.ndim == 0:  # the value itself, index 0
        return _MinMax((_view_op(x, a.copy(), name.capitalize() + "Backward0", lambda g: (g,)),
                        _wrap(np.zeros((), dtype=np.int64), DT_I64)))
    else:
        idx = (a.argmax(axis=d) if is_max else a.argmin(axis=d))
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
        out = _record(out, name.capitalize() + "Backward0", (x,), bwd, ())
    return _MinMax((out, _wrap(np.asarray(idx), DT_I64)))


def max(input, dim=None, keepdim=False):
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    return _extreme(input, dim, keepdim, True)


def min(input, dim=None, keepdim=False):
    if isinstance(dim, Tensor):
        return minimum(input, dim)
    return _extreme(input, dim, keepdim, False)


def argmax(input, dim=None, keepdim=False):
    a = _arr(_as_tensor(input))
    if dim is None:
        return _wrap(np.asarray(a.argmax()), DT_I64)
    d = _norm_dim(dim, a.ndim)
    r = a.argmax(axis=d) if a.ndim else np.zeros((), np.int64)
    return _wrap(np.expand_dims(r, d) if keepdim and a.ndim else r, DT_I64)


def argmin(input, dim=None, keepdim=False):
    a = _arr(_as_tensor(input))
    if dim is None:
        return _wrap(np.asarray(a.argmin()), DT_I64)
    d = _norm_dim(dim, a.ndim)
    r = a.argmin(axis=d) if a.ndim else np.zeros((), np.int64)
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
        return _record(out, "MaximumBackward0" if is_max else "MinimumBackward0", (x, y), bw, (x, y))
    return out


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
        return _record(out, "ClampBackward1", (x,), lambda g: (g * ((a >= lo) & (a <= hi)),), (x,))
    return out


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
    cdef Tensor out = _wrap(np.where(cond, a, b), dt)
    if ((x is not None and x._rg) or (y is not None and y._rg)) and grad_enabled():
        sa, sb = a.shape, b.shape
        return _record(out, "WhereBackward0", (x, y),
                       lambda g: (_unbroadcast(np.where(cond, g, 0), sa),
                                  _unbroadcast(np.where(cond, 0, g), sb)), ())
    return out


# ---------------------------------------------------------------- matmul
def matmul(input, other):
    cdef Tensor x = _as_tensor(input), y = _as_tensor(other)
    a, b = _arr(x), _arr(y)
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D")
    if x._dt != y._dt:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{DTYPES[x._dt].name} != {DTYPES[y._dt].name}")
    try:
        r = _mm2(a, b) if a.ndim == 2 and b.ndim == 2 else np.matmul(a, b)
    except ValueError:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied "
                           f"({'x'.join(map(str, a.shape))} and {'x'.join(map(str, b.shape))})") from None
    cdef Tensor out = _wrap(r, x._dt)
    if (x._rg or y._rg) and grad_enabled():
        na, nb = x._rg, y._rg
        name = ("DotBackward0" if a.ndim == 1 and b.ndim == 1 else
                "MmBackward0" if a.ndim == 2 and b.ndim == 2 else
                "MvBackward0" if a.ndim == 2 and b.ndim == 1 else
                "SqueezeBackward4" if a.ndim == 1 and b.ndim == 2 else
                # PyTorch folds a matrix times a batch into one mm by transposing,
                # when the matrix needs a gradient: the result is a transposed view,
                # made contiguous unless it already is
                ("TransposeBackward0" if 1 in r.shape[-2:] else "CloneBackward0")
                if a.ndim == 2 and x._rg else "UnsafeViewBackward0")
        return _record(out, name, (x, y), lambda g: _matmul_grads(g, a, b, na, nb), (x, y))
    return out


cdef object _mm2(object a, object b):
    """a @ b for 2-D arrays: a GEMM as linear layers run theirs (the same bits at
    any thread count) when both are float32 or float64 of one dtype, each
    C-contiguous or the transpose of a C-contiguous array; numpy's matmul else."""
    cdef bint ta, tb
    if (type(a) is np.ndarray and type(b) is np.ndarray and a.dtype == b.dtype
            and (a.dtype == np.float32 or a.dtype == np.float64) and a.shape[1] == b.shape[0]):
        ta = not a.flags.c_contiguous
        tb = not b.flags.c_contiguous
        if (not ta or a.T.flags.c_contiguous) and (not tb or b.T.flags.c_contiguous):
            out = np.empty((a.shape[0], b.shape[1]), a.dtype)
            if _K.matmul_into(a.T if ta else a, b.T if tb else b, out, ta, tb):
                return out
    return np.matmul(a, b)


cdef tuple _linear_grads(object g, object w, object x, bint need_x, bint need_w):
    """(g @ w, g.T @ x), a linear layer's input and weight gradients (None where not
    needed): both GEMMs at once where both are (fastad._kernels.matmul_pair_into),
    else one _mm2 each."""
    if (need_x and need_w and type(g) is np.ndarray and g.flags.c_contiguous
            and w.flags.c_contiguous and x.flags.c_contiguous and g.dtype == w.dtype == x.dtype
            and (g.dtype == np.float32 or g.dtype == np.float64)):
        gx = np.empty((g.shape[0], w.shape[1]), g.dtype)
        gw = np.empty((g.shape[1], x.shape[1]), g.dtype)
        if _K.matmul_pair_into(g, w, gx, False, False, g, x, gw, True, False):
            return (gx, gw)
    return (_mm2(g, w) if need_x else None, _mm2(g.T, x) if need_w else None)


cdef tuple _matmul_grads(object g, object a, object b, bint na, bint nb):
    if a.ndim == 1 and b.ndim == 1:  # dot product: g is 0-d
        return (g * b if na else None, g * a if nb else None)
    if a.ndim == 2 and b.ndim == 2:
        return (_mm2(g, b.T) if na else None, _mm2(a.T, g) if nb else None)
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    if a.ndim == 1:
        g = g[..., None, :]
    if b.ndim == 1:
        g = g[..., None]
    ga = gb = None
    if na:
        ga = np.matmul(g, b2.swapaxes(-1, -2))
        if a.ndim == 1:
            ga = ga.squeeze(-2)
        ga = _unbroadcast(ga, a.shape)
    if nb:
        gb = np.matmul(a2.swapaxes(-1, -2), g)
        if b.ndim == 1:
            gb = gb.squeeze(-1)
        gb = _unbroadcast(gb, b.shape)
    return (ga, gb)


# ---------------------------------------------------------------- softmax
def softmax(input, dim=None, dtype=None):
    return _softmax(input, dim, False)


def log_softmax(input, dim=None, dtype=None):
    return _softmax(input, dim, True)


cdef object _softmax(object input, object dim, bint take_log):
    """softmax / log_softmax over dim: the dim is moved last and each row runs
    through the compiled kernel (max-subtracted, one pass each way)."""
    cdef Tensor x = _as_tensor(input)
    if x._dt > DT_F64:
        raise RuntimeError(f"softmax is not implemented for {DTYPES[x._dt].name} tensors")
    a = _arr(x)
    if dim is None:
        dim = 0 if a.ndim in (0, 1, 3) else 1
    d = _norm_dim(dim, a.ndim)
    shape = a.shape
    last = np.ascontiguousarray(np.moveaxis(a.reshape(shape or (1,)), d, -1))
    rows = last.reshape(-1, last.shape[-1] if last.size else 0)
    y_rows = _K.empty_like(rows)
    if rows.size:
        (_K.log_softmax_forward if take_log else _K.softmax_forward)(rows, y_rows)
    y = np.moveaxis(y_rows.reshape(last.shape), -1, d).reshape(shape)
    cdef Tensor out = _wrap(np.ascontiguousarray(y).reshape(shape), x._dt)  # 0-d stays 0-d
    if not (x._rg and grad_enabled()):
        return out

    last_dim = d == len(shape) - 1 or not shape

    def backward(g):
        g_rows = np.ascontiguousarray(np.moveaxis(g.reshape(shape or (1,)), d, -1),
                                      dtype=y_rows.dtype).reshape(y_rows.shape)
        # over the last dim the kernel writes straight into the gradient, an array
        # of its own that the sweep may keep as .grad without copying it
        gx = _K.empty(shape if last_dim else y_rows.shape, y_rows.dtype)
        gx_rows = gx.reshape(y_rows.shape)
        if gx.size:
            (_K.log_softmax_backward if take_log else _K.softmax_backward)(y_rows, g_rows, gx_rows)
        if last_dim:
            return (gx,)
        return (np.moveaxis(gx.reshape(last.shape), -1, d).reshape(shape),)
    return _record(out, "LogSoftmaxBackward0" if take_log else "SoftmaxBackward0", (x,), backward,
                   (out,))


# ---------------------------------------------------------------- shapes
cdef object _view_op(Tensor x, object r, str name, object bw):
    cdef Tensor out = _wrap(r, x._dt)
    if x._rg and grad_enabled():
        return _record(out, name, (x,), bw, (), False)
    return out


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
                    lambda g: (g.reshape(old),))


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
    return _view_op(x, a.squeeze(dims) if a.ndim else a, name, lambda g: (g.reshape(old),))


def unsqueeze(input, dim):
    cdef Tensor x = _as_tensor(input)
    a = _arr(x)
    d = _norm_dim(dim, a.ndim + 1)
    old = a.shape
    return _view_op(x, np.expand_dims(a, d), "UnsqueezeBackward0", lambda g: (g.reshape(old),))


def transpose(input, dim0, dim1):
    cdef Tensor x = _as_tensor(input)
    a = _arr(x)
    d0, d1 = _norm_dim(dim0, a.ndim), _norm_dim(dim1, a.ndim)
    if a.ndim == 0:
        return x
    return _view_op(x, np.swapaxes(a, d0, d1), "TransposeBackward0",
                    lambda g: (np.swapaxes(g, d0, d1),))


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
    return _view_op(x, np.transpose(a, dims), "PermuteBackward0", lambda g: (np.transpose(g, inv),))


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
    return _view_op(x, r, "ExpandBackward0", lambda g: (_unbroadcast(g, old),))


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
            raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                             f"Variables are valid indices (got {type(i).__name__})")
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
    out = _wrap(r, x._dt)
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
        return _record(out, _index_name(idx, key, shape) if basic else "IndexBackward0",
                       (x,), bw, (), False)
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
        out._slot = graph_push(g, OP_GATHER, s, <int32_t>k, 1.0, 0.0)
        out._graph = g
        out._rg = True
        out._op = OP_GATHER
    return out


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
        # recorded as out = x with x[key] replaced by value (PyTorch's CopySlices)
        a = x._data
        old = Tensor.__new__(Tensor)
        (<Tensor>old)._dt, (<Tensor>old)._data, (<Tensor>old)._rg = x._dt, a.copy(), x._rg
        (<Tensor>old)._graph, (<Tensor>old)._slot, (<Tensor>old)._lgid = x._graph, x._slot, x._lgid
        newv = a.copy()
        newv[key] = ov[1]
        vshape = np.shape(ov[1])
        out = _wrap(newv, x._dt)

        def bw(g):
            gx = np.array(g, copy=True)
            gx[key] = 0
            return (gx, _unbroadcast(np.asarray(g[key]), vshape))
        out = _record(out, "CopySlices", (old, v), bw, (), False)
        np.copyto(a, newv)
        _bump(x)
        x._graph, x._slot, x._op, x._node, x._rg = (<Tensor>out)._graph, (<Tensor>out)._slot, OP_PY, (<Tensor>out)._node, True
        return
    x._data[key] = ov[1]
    _bump(x)


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
        return _record(out, name, tuple(ts),
                       lambda g: tuple(np.split(g, bounds, axis=d)), (), False)
    return out


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
                       lambda g: tuple([np.take(g, k, axis=d) for k in range(n)]), (), False)
    return out


# ---------------------------------------------------------------- creation
cdef int _infer_dt(object data) except -1:
    if isinstance(data, Tensor):
        return (<Tensor>data)._dt
    if isinstance(data, (np.ndarray, np.generic)):
        return _np_to_dt(data.dtype)
    if isinstance(data, (bool, np.bool_)):
        return DT_BOOL
    if isinstance(data, numbers.Integral):
        return DT_I64
    if isinstance(data, numbers.Real):
        return _default_dt
    if isinstance(data, (list, tuple)):
        first = data
        while isinstance(first, (list, tuple)) and len(first):
            first = first[0]
        if isinstance(first, str):
            raise ValueError("too many dimensions 'str'")
        dt = -1
        for e in data:
            de = _infer_dt(e)
            dt = de if dt < 0 else _join(dt, de)
        return DT_F32 if dt < 0 else (_default_dt if dt == DT_F32 else dt)
    if isinstance(data, str):
        raise TypeError(f"new(): invalid data type '{type(data).__name__}'")
    raise RuntimeError(f"Could not infer dtype of {type(data).__name__}")


cdef void _check_ragged(object data, tuple shape, int depth) except *:
    if isinstance(data, (list, tuple)):
        if depth >= len(shape):
            raise TypeError(f"'{type(data).__name__}' object cannot be interpreted as an integer")
        if len(data) != shape[depth]:
            raise ValueError(f"expected sequence of length {shape[depth] if depth < len(shape) else 0} "
                             f"at dim {depth} (got {len(data)})")
        for e in data:
            _check_ragged(e, shape, depth + 1)
    elif isinstance(data, Tensor):
        pass
    elif depth != len(shape):
        raise TypeError("not a sequence")


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of data (numbers, nested lists, arrays, tensors)."""
    cdef int dt = _infer_dt(data) if dtype is None else _dt_code(dtype)
    if isinstance(data, Tensor):
        a = np.array(_arr(<Tensor>data), dtype=NP_DTYPES[dt], copy=True)
    elif isinstance(data, (list, tuple)):
        conv = [_arr(<Tensor>e) if isinstance(e, Tensor) else e for e in data] if any(
            [isinstance(e, Tensor) for e in data]) else data
        try:
            a = np.array(conv, dtype=NP_DTYPES[dt])
        except (ValueError, TypeError):
            _check_ragged(conv, _first_shape(conv), 0)
            raise TypeError(f"new(): invalid data type in {data!r}") from None
        if a.dtype == object:
            raise TypeError("new(): invalid data type 'object'")
    else:
        a = np.array(data, dtype=NP_DTYPES[dt], copy=True)
    cdef Tensor t = _wrap(a, dt)
    if requires_grad:
        t.requires_grad_(True)
    return t


cdef tuple _first_shape(object data):
    shape = []
    while isinstance(data, (list, tuple)):
        shape.append(len(data))
        if not data:
            break
        data = data[0]
    return tuple(shape)


def as_tensor(data, dtype=None, device=None):
    if isinstance(data, Tensor) and (dtype is None or _as_dtype(dtype).code == (<Tensor>data)._dt):
        return data
    if isinstance(data, np.ndarray) and dtype is None and data.dtype in NP_DTYPES:
        return _wrap(data, _np_to_dt(data.dtype))
    return tensor(data, dtype=dtype)


def from_numpy(ndarray):
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    if ndarray.dtype not in NP_DTYPES:
        raise TypeError(f"can't convert np.ndarray of type {ndarray.dtype}; fastad shares memory "
                        "only with float32, float64, int64 and bool arrays")
    if ndarray.ndim == 0 and ndarray.dtype.kind == "f":
        raise ValueError("fastad keeps 0-d float tensors inline and cannot share a 0-d array's "
                         "memory; use tensor() for a copy")
    return _wrap(ndarray, _np_to_dt(ndarray.dtype))


cdef Tensor _filled(tuple size, object value, object dtype, bint requires_grad):
    cdef int dt = _default_dt if dtype is None else _dt_code(dtype)
    for s in size:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
    try:
        a = np.full(size, value, dtype=NP_DTYPES[dt])
    except (MemoryError, ValueError) as e:
        raise RuntimeError(f"fastad: cannot allocate a tensor of size {list(size)}: {e}") from None
    cdef Tensor t = _wrap(a, dt)
    if requires_grad:
        t.requires_grad_(True)
    return t


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _filled(_sizes(size), 0, dtype, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _filled(_sizes(size), 1, dtype, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    return _filled(_sizes(size), 0, dtype, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = DTYPES[_infer_dt(fill_value)]
    return _filled(_sizes((size,)), fill_value, dtype, requires_grad)


def zeros_like(input, dtype=None, requires_grad=False):
    return _filled(tuple(_as_tensor(input).shape), 0, dtype or _as_tensor(input).dtype, requires_grad)


def ones_like(input, dtype=None, requires_grad=False):
    return _filled(tuple(_as_tensor(input).shape), 1, dtype or _as_tensor(input).dtype, requires_grad)


def empty_like(input, dtype=None, requires_grad=False):
    return zeros_like(input, dtype, requires_grad)


def full_like(input, fill_value, dtype=None, requires_grad=False):
    return _filled(tuple(_as_tensor(input).shape), fill_value, dtype or _as_tensor(input).dtype,
                   requires_grad)


def rand_like(input, *, generator=None, dtype=None, device=None, requires_grad=False):
    return rand(*_as_tensor(input).shape, dtype=dtype or _as_tensor(input).dtype,
                generator=generator, requires_grad=requires_grad)


def randn_like(input, *, generator=None, dtype=None, device=None, requires_grad=False):
    return randn(*_as_tensor(input).shape, dtype=dtype or _as_tensor(input).dtype,
                 generator=generator, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if dtype is None:
        dtype = DTYPES[_infer_dt([start, end, step])]
    cdef Tensor t = _wrap(np.arange(start, end, step, dtype=np.float64 if
                                    _as_dtype(dtype).is_floating_point else np.int64),
                          _dt_code(dtype))
    return t.requires_grad_(requires_grad) if requires_grad else t


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    cdef int dt = _default_dt if dtype is None else _dt_code(dtype)
    cdef Tensor t = _wrap(np.linspace(float(start), float(end), int(steps)), dt)
    return t.requires_grad_(requires_grad) if requires_grad else t


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    cdef int dt = _default_dt if dtype is None else _dt_code(dtype)
    cdef Tensor t = _wrap(np.eye(n, m), dt)
    return t.requires_grad_(requires_grad) if requires_grad else t


def rand(*size, dtype=None, generator=None, device=None, requires_grad=False):
    cdef int dt = _default_dt if dtype is None else _dt_code(dtype)
    cdef Tensor t = _wrap(_R.fill_uniform(np.empty(_sizes(size), NP_DTYPES[dt]), 0.0, 1.0, generator), dt)
    return t.requires_grad_(requires_grad) if requires_grad else t


def randn(*size, dtype=None, generator=None, device=None, requires_grad=False):
    cdef int dt = _default_dt if dtype is None else _dt_code(dtype)
    cdef Tensor t = _wrap(_R.fill_normal(np.empty(_sizes(size), NP_DTYPES[dt]), 0.0, 1.0, generator), dt)
    return t.requires_grad_(requires_grad) if requires_grad else t


def randint(low=0, high=None, size=None, dtype=None, generator=None, device=None, requires_grad=False):
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high          # randint(high, size)
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    cdef int dt = DT_I64 if dtype is None else _dt_code(dtype)
    cdef Tensor t = _wrap(_R.fill_random(np.empty(_sizes((size,)), NP_DTYPES[dt]), (low, high), generator), dt)
    return t.requires_grad_(requires_grad) if requires_grad else t


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    cdef Tensor t = _wrap(_R.randperm(n, generator), DT_I64 if dtype is None else _dt_code(dtype))
    return t.requires_grad_(requires_grad) if requires_grad else t


# ---------------------------------------------------------------- backward
cdef object _seed(Tensor t, object gradient, int k):
    if gradient is None:
        if t._data is None:
            return 1.0
        if t.numel() != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        return np.ones(() if t._data is None else t._data.shape, dtype=NP_DTYPES[t._dt])
    g = _arr(<Tensor>gradient) if isinstance(gradient, Tensor) else np.asarray(gradient)
    if g.shape != (() if t._data is None else t._data.shape):
        raise RuntimeError(f"Mismatch in shape: grad_output[{k}] has a shape of {Size(g.shape)!r} "
                           f"and output[{k}] has a shape of {t.shape!r}.")
    return g.astype(NP_DTYPES[t._dt], copy=False)


cdef void _deposit(Tensor leaf, object g, bint owned=False) except *:
    """leaf.grad += g, in place when leaf.grad exists (as PyTorch accumulates);
    an owned g (allocated by this sweep, nobody else sees it) becomes .grad as is."""
    cdef Tensor acc
    if leaf._data is None:
        if leaf._grad is None:
            leaf._grad = _scalar(float(g), leaf._dt)
        else:
            acc = <Tensor>leaf._grad
            acc._val = acc._val + float(g)
            if acc._dt == DT_F32:
                acc._val = <double>(<float>acc._val)
    elif leaf._grad is None:
        if owned and g.shape == leaf._data.shape and g.dtype == NP_DTYPES[leaf._dt]:
            leaf._grad = _wrap(g, leaf._dt)
        else:
            leaf._grad = _wrap(_filled_like(np.asarray(g, dtype=NP_DTYPES[leaf._dt]),
                                            leaf._data.shape), leaf._dt)
    else:
        acc = <Tensor>leaf._grad
        np.add(acc._data, g, out=acc._data, casting="unsafe")


cdef int _run_post_hooks(Tensor leaf) except -1:
    for hook in list(leaf._post_hooks.values()):
        r = hook(leaf)
        # PyTorch's hooks return None; a returned tensor (an in-place op's result) is ignored
        if r is not None and not isinstance(r, Tensor):
            raise TypeError(f"expected Variable, but hook returned '{type(r).__name__}'")
    return 0


cdef object _slot_grad(Graph g, Tensor t, int32_t slot):
    if not g.reached[slot]:
        return None
    if t._data is None:
        return g.adj[slot]
    return g.aadj.get(slot)


cdef bint _all_reached(Graph g, int32_t top) noexcept:
    cdef int32_t i
    if top != g.n - 1:
        return False
    for i in range(top + 1):
        if not g.reached[i]:
            return False
    return True


cdef object _sweep(list roots, list grads, bint retain, list inputs):
    """Runs one reverse sweep from roots.  With inputs None, gradients are
    accumulated into the leaves' .grad; otherwise they are returned per input."""
    cdef Graph g = None
    cdef Tensor t
    cdef int32_t top = -1
    cdef int k
    seeds = []
    leaf_roots = []
    hooked = []
    for k in range(len(roots)):
        if not isinstance(roots[k], Tensor):
            raise TypeError(f"outputs must be tensors, got {type(roots[k]).__name__}")
        t = <Tensor>roots[k]
        if not t._rg:
            raise RuntimeError(f"element {k} of tensors does not require grad and does not have a "
                               "grad_fn")
        seed = _seed(t, grads[k], k)
        if t._graph is None:
            leaf_roots.append((t, seed))
            continue
        if g is None:
            g = t._graph
        elif g is not t._graph:
            raise RuntimeError(CROSS_GRAPH)
        if t._slot > top:
            top = t._slot
        seeds.append((t, seed))
    result = None
    if g is not None:
        g.prepare(top)
        for t, seed in seeds:
            g.reached[t._slot] = 1
            if t._data is None:
                g.adj[t._slot] += float(seed)
            else:
                prev = g.aadj.get(t._slot)
                g.aadj[t._slot] = seed if prev is None else prev + seed
        if inputs is not None:
            g.keep = set([(<Tensor>x)._slot for x in inputs
                          if (<Tensor>x)._graph is g and (<Tensor>x)._data is not None])
        g.sweep(top, retain)
        if inputs is None:
            # latest-used leaves first: their gradients are the first complete, as in
            # PyTorch's order of accumulation (post-accumulate hooks run in this order)
            for leaf, slot in reversed(g.leaves):
                if slot <= top and g.reached[slot]:
                    _deposit(<Tensor>leaf, _slot_grad(g, <Tensor>leaf, slot), slot in g.owned)
                    if (<Tensor>leaf)._post_hooks:
                        hooked.append(leaf)
        else:
            result = []
            for x in inputs:
                t = <Tensor>x
                gx = None
                if t._graph is g:
                    gx = _slot_grad(g, t, t._slot)
                elif t._graph is None:
                    for leaf, slot in g.leaves:
                        if leaf is t and slot <= top and g.reached[slot]:
                            gs = _slot_grad(g, t, slot)
                            gx = gs if gx is None else gx + gs
                result.append(gx)
        g.aadj = None
        g.owned = None
        g.keep = None
        if not retain:
            if _all_reached(g, top):
                g.retire()
            elif g is current_graph():
                fresh_graph()
    if inputs is None:
        for t, seed in leaf_roots:
            _deposit(t, seed)
            if t._post_hooks:
                hooked.append(t)
        # after the sweep's state is cleared, so a hook that raises leaves it consistent
        for t in hooked:
            _run_post_hooks(t)
    else:
        if result is None:
            result = [None] * len(inputs)
        for t, seed in leaf_roots:
            for k in range(len(inputs)):
                if inputs[k] is t:
                    result[k] = seed if result[k] is None else result[k] + seed
    return result


def run_backward(tensors, grad_tensors, bint retain_graph):
    _sweep(list(tensors), list(grad_tensors), retain_graph, None)


def run_grad(outputs, inputs, grad_outputs, bint retain_graph, bint allow_unused):
    cdef Tensor t
    for k, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"inputs must be tensors, got {type(x).__name__} at position {k}")
        if not (<Tensor>x)._rg:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    grads = _sweep(list(outputs), list(grad_outputs), retain_graph, list(inputs))
    out = []
    for k, x in enumerate(inputs):
        t = <Tensor>x
        gk = grads[k]
        if gk is None:
            if not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been used "
                                   "in the graph. Set allow_unused=True if this is the desired "
                                   "behavior.")
            out.append(None)
        elif t._data is None:
            out.append(_scalar(float(gk), t._dt))
        else:
            out.append(_wrap(_filled_like(np.asarray(gk, dtype=NP_DTYPES[t._dt]), t._data.shape),
                             t._dt))
    return tuple(out)


# ---------------------------------------------------------------- repr
# A port of torch/_tensor_str.py (precision 4, threshold 1000, edgeitems 3,
# linewidth 80): the formatter looks at the nonzero finite values only.
cdef int _PREC = 4
cdef int _LINEWIDTH = 80


cdef tuple _formatter(object a, bint is_float):
    """(mode, width) for the (summarized) values of a: mode is "int", "sci" or
    "fix" for floats, "" otherwise."""
    cdef int width = 1
    if not is_float:
        for v in a.reshape(-1).tolist():
            width = _builtins.max(width, len(str(v)))
        return ("", width)
    flat = a.reshape(-1)
    vals = flat[np.isfinite(flat) & (flat != 0)]
    if vals.size == 0:
        return ("int", width)
    nz = np.abs(vals).astype(np.float64)
    lo, hi = nz.min(), nz.max()
    int_mode = bool(np.all(vals == np.ceil(vals)))
    sci = bool(hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4)
    for v in vals.tolist():
        if sci:
            width = _builtins.max(width, len(f"{v:.{_PREC}e}"))
        elif int_mode:
            width = _builtins.max(width, len(f"{v:.0f}") + 1)
        else:
            width = _builtins.max(width, len(f"{v:.{_PREC}f}"))
    return ("sci" if sci else ("int" if int_mode else "fix"), width)


cdef str _fmt_one(object v, str mode, int width):
    if mode == "":
        ret = f"{v}"
    elif mode == "sci":
        ret = f"{v:{width}.{_PREC}e}"
    elif mode == "int":
        ret = f"{v:.0f}"
        if v == v and v not in (float("inf"), float("-inf")):
            ret += "."
    else:
        ret = f"{v:.{_PREC}f}"
    return " " * (width - len(ret)) + ret


cdef object _summarized(object a):
    if a.ndim == 0:
        return a
    if a.ndim == 1:
        return np.concatenate([a[:3], a[-3:]]) if a.shape[0] > 6 else a
    rows = list(range(a.shape[0]))
    if a.shape[0] > 6:
        rows = rows[:3] + rows[-3:]
    return np.stack([_summarized(a[i]) for i in rows])


cdef str _tensor_str(object a, int indent, bint summarize, str mode, int width):
    if a.ndim == 0:
        return _fmt_one(a.item(), mode, width)
    if a.ndim == 1:
        per_line = _builtins.max(1, (_LINEWIDTH - indent) // (width + 2))
        if summarize and a.shape[0] > 6:
            data = ([_fmt_one(v, mode, width) for v in a[:3].tolist()] + [" ..."] +
                    [_fmt_one(v, mode, width) for v in a[-3:].tolist()])
        else:
            data = [_fmt_one(v, mode, width) for v in a.tolist()]
        lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
        return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"
    if summarize and a.shape[0] > 6:
        slices = ([_tensor_str(a[i], indent + 1, summarize, mode, width) for i in range(3)] +
                  ["..."] +
                  [_tensor_str(a[i], indent + 1, summarize, mode, width)
                   for i in range(a.shape[0] - 3, a.shape[0])])
    else:
        slices = [_tensor_str(a[i], indent + 1, summarize, mode, width)
                  for i in range(a.shape[0])]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


cdef str _repr(Tensor t):
    a = _arr(t)
    prefix = "tensor("
    cdef int indent = len(prefix)
    suffixes = []
    if a.size == 0:
        if a.ndim != 1:
            suffixes.append(f"size={tuple(a.shape)}")
        if t._dt != _default_dt:
            suffixes.append(f"dtype={DTYPES[t._dt]!r}")
        body = "[]"
    else:
        if t._dt <= DT_F64 and t._dt != _default_dt:
            suffixes.append(f"dtype={DTYPES[t._dt]!r}")
        summarize = a.size > 1000
        mode, width = _formatter(_summarized(a) if summarize else a, t._dt <= DT_F64)
        body = _tensor_str(a, indent, summarize, mode, width)
    if t._graph is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name().rpartition('::')[2]}>")
    elif t._rg:
        suffixes.append("requires_grad=True")
    s = prefix + body
    parts = [s]
    last_line_len = len(s) - s.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > _LINEWIDTH:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


# ---------------------------------------------------------------- for Python-level ops
def make_op(object result, str name, tuple inputs, backward, tuple saved=(), int dt=-1,
            bint saves=True):
    """The door for ops written in Python (nn.functional, autograd.Function):
    wraps the ndarray result as a tensor of dtype code dt (default: the first
    tensor input's) and, when recording, attaches backward(grad_out) -> one
    gradient array (or None) per input.  backward must capture arrays only."""
    if dt < 0:
        for x in inputs:
            if x is not None:
                dt = (<Tensor>x)._dt
                break
    return _record(_wrap(result, dt), name, inputs, backward, saved, saves)


def graph_of(Tensor t):
    """The tape t was recorded on (None for leaves), for tools and tests."""
    return t._graph


def array_of(Tensor t):
    """The tensor's values as an ndarray: its own buffer, or a new 0-d array."""
    return _arr(t)
