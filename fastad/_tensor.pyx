# cython: cdivision=True
"""The Tensor: a thin object over an inline scalar or a numpy buffer, whose
ops append records to the thread's tape (fastad._tape)."""
cimport cython
from cpython.bytearray cimport PyByteArray_AS_STRING
from cpython cimport array
from libc.math cimport pow, NAN
from libc.stdint cimport int32_t, int64_t, uint8_t
from fastad._tape cimport *
from fastad._opcodes cimport *
from fastad._elementwise cimport backward_reads_x, scalar_unary

import array
import builtins as _builtins
import collections
import functools
import importlib
import numbers
from collections import OrderedDict

import numpy as np
cimport numpy as cnp

from fastad import _kernels as _K
from fastad import _random as _R
from fastad._runtime import _POOL, POOL_MIN
from fastad._tape import SECOND_BACKWARD
from fastad._device import CPU as _CPU, check as _check_device

cnp.import_array()

cdef Py_ssize_t _POOL_MIN = POOL_MIN

# PyTorch computes in IEEE arithmetic without a word: inf and nan come back, no
# RuntimeWarning.  numpy warns, so fastad's numpy work runs with its error state
# set to ignore: a context variable since numpy 2 (set and reset cost far less
# than np.errstate), np.errstate before.  numpy attributes a warning to the
# innermost Python frame: the compiled code's calls are quieted by _fp_quiet,
# the Python layer's (fastad._functions, nn, ...) by this filter, which takes
# numpy's floating-point messages from fastad's own modules only.
try:
    from numpy._core._multiarray_umath import _extobj_contextvar as _FP_STATE, _make_extobj
    _FP_QUIET = _make_extobj(all="ignore")
except ImportError:
    _FP_STATE = None
import warnings as _warnings
_warnings.filterwarnings("ignore", r"(overflow|invalid value|divide by zero|underflow) "
                         r"encountered in", RuntimeWarning, r"fastad\.")


cdef object _fp_quiet():
    """numpy's floating-point errors ignored until _fp_restore(the result)."""
    if _FP_STATE is None:
        quiet = np.errstate(all="ignore")
        quiet.__enter__()
        return quiet
    return _FP_STATE.set(_FP_QUIET)


cdef int _fp_restore(object token) except -1:
    if _FP_STATE is None:
        token.__exit__(None, None, None)
    else:
        _FP_STATE.reset(token)
    return 0


cdef class quiet_fp:
    """``with quiet_fp():`` _fp_quiet as a context manager: for the compiled
    code's colder paths, and the Python layer's calls of numpy's own Python
    functions (np.prod, np.cross, ...), whose warnings the filter above cannot
    tell from the user's."""
    cdef object token

    def __enter__(self):
        self.token = _fp_quiet()

    def __exit__(self, *exc):
        _fp_restore(self.token)

include "_dtypes.pxi"


include "_debug.pxi"


include "_trace.pxi"
include "_compiled_optim.pxi"


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
    if fad_tracing:
        _trace_fail("an op the tracer does not follow")
    if dt <= DT_F64 and (not isinstance(arr, np.ndarray) or (<object>arr).ndim == 0):
        return _scalar(float(arr), dt)
    t = Tensor.__new__(Tensor)
    t._dt = dt
    if not isinstance(arr, np.ndarray) or arr.dtype != NP_DTYPES[dt]:
        arr = np.asarray(arr, dtype=NP_DTYPES[dt])
    t._data = arr
    return t


cdef inline tuple _shape(Tensor t):
    return () if t._data is None else t._data.shape


cdef void _reread(Tensor t) noexcept:
    """An element view's value read from its place in its base's storage, so
    that writes into the base since it was taken show through (PyTorch's view)."""
    cdef char *p = <char *>cnp.PyArray_GETPTR1(<cnp.ndarray>t._elem, t._eidx)
    t._val = (<double *>p)[0] if t._dt == DT_F64 else (<float *>p)[0]


cdef inline void _fresh(Tensor t) noexcept:
    """Before an inline tensor's value is read: an element view's is reread."""
    if t._elem is not None:
        _reread(t)


cdef object _arr(Tensor t):
    """The tensor's values as an ndarray (a new 0-d array for inline scalars)."""
    if t._data is None:
        _fresh(t)
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
    if fad_tracing:
        _trace_fail("an in-place write the tracer does not follow")
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
        t._slot = graph_push(g, OP_LEAF, -1, -1, 0.0, 0.0, 0.0)
        t._lgid = g.gid
        g.leaves.append((t, t._slot))
    return t._slot


cdef inline Tensor _sop(uint8_t op, double v, Tensor a, Tensor b, double da, double db, int dt):
    """A scalar op: the value, and one tape record holding its local partials
    (and its value, for a recorded backward)."""
    cdef Tensor out = _scalar(v, dt)
    cdef Graph g
    if (a._rg or (b is not None and b._rg)) and grad_enabled():
        g = _graph_of(a, b)
        if g.dead:
            _mark_freed(out, g, op, None)
            return out
        out._slot = graph_push(g, op | OP_F64 if dt == DT_F64 else op, _slot_on(g, a),
                               _slot_on(g, b), da, db, out._val)
        out._graph = g
        out._rg = True
        out._op = op
        if a._elem is not None or (b is not None and b._elem is not None):
            _save_elements(g, out._slot, op, a, b, b is not None, a._rg,
                           b is not None and b._rg, db)
        if _debug:
            _note_record(g, out._slot)
    elif _debug & DEBUG_PROFILE:
        _profiler._forward(_UNARY_NAMES[op - OP_ACT] if op >= OP_ACT else _SCALAR_FORWARD[op])
    return out


cdef int _save_elements(Graph g, int32_t i, uint8_t op, Tensor a, Tensor b, bint has_b,
                        bint a_rg, bint b_rg, double db) except -1:
    """Scalar record i's partials hold the values of those of its inputs that
    PyTorch's op saves (mul: each the other's, div: the divisor, and the
    dividend for the divisor's gradient, pow and the table's ops whose backward
    reads x: the input); those that are element views are noted on g, so that
    a write into their base before the backward makes it refuse, as PyTorch's.
    has_b: the op had a second tensor operand, b if it is one to note (a
    compiled scalar block passes None for its own intermediates, as for a)."""
    if op == OP_MUL:
        if has_b:
            if b_rg:
                _save_element(g, i, a)
            if a_rg:
                _save_element(g, i, b)
    elif op == OP_DIV:
        if has_b:
            if b_rg:
                _save_element(g, i, a)
            _save_element(g, i, b)
    elif op == OP_POW or (op >= OP_ACT and backward_reads_x(op - OP_ACT, db)):
        _save_element(g, i, a)
    return 0


cdef int _save_element(Graph g, int32_t i, Tensor t) except -1:
    """Notes on g that record i saved t, if t is an element view."""
    if t is None or t._elem is None:
        return 0
    cdef Tensor base = t._base
    cdef VersionCounter c
    if base is not None and base._base is None and base._vc is not None:
        c = base._vc    # _vc(t), without its calls
    else:
        c = _vc(t)
    cdef Py_ssize_t k = g.nsaved
    if g.esaved is None:
        g.esaved, g.esaves = [], array.array("q")
    if k == len(g.esaved):
        g.esaved.append(c)
        array.resize_smart(<array.array>g.esaves, 3 * k + 3)
    elif g.esaved[k] is not c:
        g.esaved[k] = c
    cdef long long *p = (<array.array>g.esaves).data.as_longlongs + 3 * k
    p[0], p[1], p[2] = i, c.version, t._dt
    g.nsaved = k + 1
    return 0


cdef Tensor _record(Tensor out, str name, tuple inputs, object backward, tuple saved=(),
                    bint saves=True, bint writes_grad=False, object derivative=None):
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
        return _unrecorded(out, name)
    if g is None:
        g = current_graph()
    cdef Node node = Node.__new__(Node)
    node.name = name
    if g.dead:
        _mark_freed(out, g, OP_PY, node)
        return out
    node.in_slots = tuple([_slot_on(g, <Tensor>x) if x is not None else -1 for x in inputs])
    node.in_scalar = tuple([x is not None and (<Tensor>x)._data is None for x in inputs])
    node.in_dtypes = tuple([NP_DTYPES[(<Tensor>x)._dt] if x is not None else None for x in inputs])
    node.out_scalar = out._data is None
    node.out_dtype = NP_DTYPES[out._dt]
    node.saved = tuple([(_vc(<Tensor>s), _vc(<Tensor>s).version) for s in saved])
    node.saves = saves
    node.writes_grad = writes_grad
    if derivative is not None:
        node.derivative = derivative
        node.primal = (tuple([None if x is None else _primal(<Tensor>x) for x in inputs]),
                       tuple([-1 if x is None else (<Tensor>x)._dt for x in inputs]),
                       _primal(out), out._dt)
        if backward is None:
            backward = _derivative_backward(derivative, node.primal)
    node.backward = backward
    out._slot = g.push_node(node)
    if not g.large:
        g.large = _pooled(out._data)
        for x in inputs:
            if x is not None and _pooled((<Tensor>x)._data):
                g.large = True
    out._graph = g
    out._rg = True
    out._op = OP_PY
    out._node = node
    if _debug:
        _note_record(g, out._slot)
    return out


cdef inline object _primal(Tensor x):
    # an inline scalar's value as a float: _wrap makes it a tensor again, and a
    # 0-d array would cost an allocation per scalar input
    if x._data is None:
        _fresh(x)
        return x._val
    return x._data


cdef inline bint _pooled(object a):
    """a (a tensor's _data) is large enough for fastad's pool of recycled blocks."""
    return a is not None and cnp.PyArray_NBYTES(<cnp.ndarray>a) >= _POOL_MIN


cdef object _unbroadcast(object g, tuple shape):
    if g.shape == shape:
        return g
    cdef int nd = g.ndim - len(shape)
    # np.add.reduce is what ndarray.sum runs, without its Python wrapper
    if nd > 0:
        g = np.add.reduce(g, tuple(range(nd)))
    axes = tuple([i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1])
    if axes:
        g = np.add.reduce(g, axes, None, None, True)
    return g.reshape(shape)


def _unbroadcast_py(g, shape):
    return _unbroadcast(g, tuple(shape))


cdef object _filled_like(object g, tuple shape):
    """g broadcast to shape, as a new array (np.broadcast_to costs microseconds)."""
    out = np.empty(shape, dtype=g.dtype)
    out[...] = g
    return out


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


include "_binary.pxi"


include "_nn_ops.pxi"


# ---------------------------------------------------------------- the Tensor
cdef inline bint _is_num(object o) noexcept:
    return type(o) is float or type(o) is int


cdef dict _PY_FUNCTIONS = {}


cdef object _py_function(str module, str name):
    """fastad._functions' function behind a generated Tensor method (imported on
    first use: those modules import this one)."""
    f = _PY_FUNCTIONS.get(name)
    if f is None:
        f = _PY_FUNCTIONS[name] = getattr(importlib.import_module(module), name)
    return f


# float() of a tensor that requires grad has warned (PyTorch warns once per process)
cdef bint _float_warned = False

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
    OP_MUL: "MulBackward0", OP_DIV: "DivBackward0", OP_POW: "PowBackward0", OP_RDIV: "MulBackward0",
    OP_CLONE: "CloneBackward0", OP_GATHER: "SelectBackward0", **_UNARY_GRAD_NAMES,
}
_OP_NAMES = OP_NAMES   # the same dict, visible from Python (fastad.viz names tape records)


class BackwardNode:
    """What tensor.grad_fn returns: names the op that made the tensor, and takes
    hooks as PyTorch's torch.autograd.graph.Node does (they are kept with its
    record: see _hooks.pxi)."""
    __slots__ = ("_graph", "_index", "_name", "_out")

    def __init__(self, graph, index, name, out=None):
        # out: (shape, dtype code) of the record's output, which its hooks' gradient has
        self._graph, self._index, self._name, self._out = graph, index, name, out

    def name(self):
        return self._name

    @property
    def next_functions(self):
        return _py_function("fastad.autograd.graph", "_next_functions")(self)

    def register_prehook(self, fn):
        """fn(grad_outputs) runs before the op's backward, and may return a tuple
        of gradients to use instead."""
        return _add_node_hook(self, fn, False)

    def register_hook(self, fn):
        """fn(grad_inputs, grad_outputs) runs after the op's backward, and may
        return a tuple of gradients for its inputs to use instead."""
        return _add_node_hook(self, fn, True)

    def __repr__(self):
        return f"<{self._name.rpartition('::')[2]} object at {id(self):#x}>"

    def __eq__(self, other):
        return (isinstance(other, BackwardNode) and other._graph is self._graph
                and other._index == self._index)

    def __hash__(self):
        return hash((id(self._graph), self._index))


cdef object _add_node_hook(object node, object fn, bint post):
    from fastad.utils.hooks import RemovableHandle
    shape, dt = node._out
    cdef _Hooks h = _hooks_at(<Graph>node._graph, node._index, shape, dt)
    if post:
        if h.node_post is None:
            h.node_post = OrderedDict()
        hooks = h.node_post
    else:
        if h.node_pre is None:
            h.node_pre = OrderedDict()
        hooks = h.node_pre
    handle = RemovableHandle(hooks)
    hooks[handle.id] = fn
    return handle


cdef object _grad_fn(Tensor t):
    """t.grad_fn: its record's node; for an output of a custom Function with
    several outputs, the Function's record (whose output is the outputs packed)."""
    cdef Node node = t._node
    if t._op != OP_PY:
        return BackwardNode(t._graph, t._slot, OP_NAMES[t._op], ((), t._dt))
    if node.function_output:
        return BackwardNode(t._graph, node.in_slots[0], node.name,
                            (np.shape(node.primal[0][0]), node.primal[1][0]))
    return BackwardNode(t._graph, t._slot, node.name,
                        ((), t._dt) if t._data is None else (t._data.shape, t._dt))


# ---------------------------------------------------------------- small helpers
cdef tuple _sizes(tuple args):
    """Sizes given as *ints, one tuple/list, or a Size."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    for s in args:
        if not isinstance(s, (int, np.integer)) and not (isinstance(s, Tensor) and _cat((<Tensor>s)._dt) == 1):
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
    cdef int xdt = x._dt
    if _cat(dt) == 2 and x._rg:
        return _record(out, "ToCopyBackward0", (x,), lambda g: (g,), (), False, False,
                       lambda g, i, r: (_to(<Tensor>g, xdt),))
    return out


cdef void _assign_storage(Tensor self, Tensor src):
    _fresh(src)
    self._dt = src._dt
    self._data = src._data
    self._val = src._val
    self._elem, self._eidx = src._elem, src._eidx      # src's place, when it is an element
    _bump(self)


cdef object _nograd_binary(f, x, y):
    ox, oy = _operand(x), _operand(y)
    if ox is None or oy is None:
        return NotImplemented
    cdef int dt = _promote(ox[3], ox[2], oy[3], oy[2])
    with quiet_fp():
        r = f(ox[1], oy[1])
    return _wrap(r, _np_to_dt(np.asarray(r).dtype) if dt != DT_F32 or np.asarray(r).dtype.kind != "f" else dt)


# PyTorch's names of the comparisons, by numpy's
cdef dict _COMPARE_NAMES = {"equal": "eq", "not_equal": "ne", "less": "lt", "less_equal": "le",
                            "greater": "gt", "greater_equal": "ge"}


cdef object _compare(f, x, y):
    if y is None:
        return f is np.not_equal
    ox, oy = _operand(x), _operand(y)
    if ox is None or oy is None:
        return NotImplemented
    try:
        out = _wrap(f(ox[1], oy[1]), DT_BOOL)
    except ValueError:
        raise RuntimeError(_broadcast_msg(np.shape(ox[1]), np.shape(oy[1]))) from None
    return _unrecorded(out, _COMPARE_NAMES[f.__name__]) if _debug else out


def manual_seed(seed):
    return _R.default_generator.manual_seed(seed)


def _rng():
    """A numpy generator seeded from the default generator, for the samplers
    not yet on PyTorch's streams (rrelu)."""
    return np.random.Generator(np.random.PCG64(_R.default_generator._random64()))


include "_inplace.pxi"


include "_indexing.pxi"


include "_derivatives.pxi"


include "_backward.pxi"


include "_recorded_scalars.pxi"


include "_hooks.pxi"


# ---------------------------------------------------------------- for Python-level ops
def make_op(object result, str name, tuple inputs, backward=None, tuple saved=(), int dt=-1,
            bint saves=True, derivative=None, function=None, bint function_output=False):
    """The door for ops written in Python (nn.functional, autograd.Function):
    wraps the ndarray result as a tensor of dtype code dt (default: the first
    tensor input's) and, when recording, attaches its backward.

    derivative(grad, inputs, result) -> one gradient tensor (or None) per
    input: the op's derivative written in fastad ops, as in PyTorch's
    derivatives.yaml (grad, self/other, result), which a recorded backward
    differentiates again.  Given alone, it is also the first-order backward
    (run under no_grad on tensors over the op's arrays).  backward(grad_out) ->
    one gradient array (or None) per input is a faster first-order form for
    hot ops; it must capture arrays only (a tensor would tie the graph into a
    reference cycle).

    function: the record of a custom Function (its backward runs even where no
    gradient reaches it, and its grad_fn's hooks see a gradient per output:
    fastad.autograd.function's _Node); function_output: the op is one output
    of such a record with several (it shares that record's grad_fn)."""
    cdef Tensor out
    if dt < 0:
        for x in inputs:
            if x is not None:
                dt = (<Tensor>x)._dt
                break
    if backward is None and derivative is None:
        raise TypeError("make_op needs a backward or a derivative")
    out = _record(_wrap(result, dt), name, inputs, backward, saved, saves, False, derivative)
    if out._node is not None:
        out._node.function = function
        out._node.function_output = function_output
    return out


cdef object _derivative_backward(object derivative, tuple primal):
    """A first-order backward over arrays: derivative run without recording on
    tensors over the op's input and result arrays."""
    arrays, dts, out_array, out_dt = primal

    def backward(g):
        inputs = tuple([None if a is None else _wrap(a, dt) for a, dt in zip(arrays, dts)])
        prev = set_grad_enabled_c(False)
        try:
            grads = derivative(_wrap(g, out_dt), inputs, _wrap(out_array, out_dt))
        finally:
            set_grad_enabled_c(prev)
        return tuple([None if gx is None else _arr(<Tensor>gx) for gx in grads])
    return backward


def graph_of(Tensor t):
    """The tape t was recorded on (None for leaves), for tools and tests."""
    return t._graph


def array_of(Tensor t):
    """The tensor's values as an ndarray: its own buffer, or a new 0-d array."""
    return _arr(t)


cdef extern from "Python.h":
    ctypedef struct PyTypeObject:
        const char* tp_name

cdef list _PUBLIC_NAMES = []


def _publish(type cls, str qualified):
    """cls reports its public path (<class 'fastad.Tensor'>, not the compiled
    module it is defined in): a static type's module is read from tp_name."""
    name = qualified.encode()
    _PUBLIC_NAMES.append(name)         # tp_name points into it: kept alive
    (<PyTypeObject*>cls).tp_name = name


# ---------------------------------------------------------------- the colder array ops
# compiled apart (_tensor_ops.pyx); imported last, as they import names of this module
from fastad._tensor_ops import (
    BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, HalfTensor, IntTensor,
    LongTensor, ShortTensor, _AllocationError, _legacy_name, _linear_grads, _repr,
    _return_type, allclose, arange, argmax, argmin, as_tensor, cat, clamp, empty, empty_like,
    expand, eye, flatten, from_numpy, full, full_like, linspace, log_softmax, logspace, matmul,
    max, maximum, mean, min, minimum, ones, ones_like, permute, rand, rand_like, randint,
    randn, randn_like, randperm, reshape, set_printoptions, softmax, squeeze, stack, sum,
    tensor, transpose, unsqueeze, where, zeros, zeros_like)
