# Included by _tensor.pyx: fastad.compile's tracer and replay (fastad/_compile.py
# holds the rest: guards, plan cache, fallback).  While a call is traced, the
# entry points it follows (the arithmetic dunders, _unary, _getitem, backward,
# the in-place dunders, and through fastad._compile an optimizer's zero_grad and
# step) hand their call to _traced, which runs it with tracing paused and
# records it as a step.  Everything else a traced call may do that a replay
# would miss ends the trace (_trace_fail): a tensor made by another op
# (_wrap), an in-place write by another op (_bump), an exit to Python (item,
# numpy, printing, ...), a change of requires_grad or .grad.  The test on the
# hot path is one plain global C int (fastad_tracing_now in csrc/fad_tls.h).
#
# A replay runs the same entry points on the same operands (those of this call,
# by slot), so its values, tape and side effects are the eager call's bit for
# bit; what it saves is the Python the traced function ran between them.
cdef extern from "csrc/fad_tls.h":
    bint fad_tracing "fastad_tracing_now"
    void fad_set_tracing "fastad_set_tracing"(int on) noexcept


cdef inline object _address(object x):
    """x's identity as a dict key: id(x), without calling id."""
    return <Py_ssize_t><void *>x


cdef enum:
    S_BINARY = 0     # a's arithmetic dunder code (B_) with b: its body, _op_add, ...
    S_INPLACE = 1    # _inplace(a, op, b): a op= b
    S_UNARY = 2      # _unary(a, op, p, q): the op table's elementwise ops
    S_GETITEM = 3    # _getitem(a, b)
    S_BACKWARD = 4   # a.backward(b, retain_graph=code)
    S_CALL = 5       # a's method b[0] called with (*b[1], **b[2]): an optimizer's zero_grad or
                     # step, looked up at each replay as the call looks it up (hooks, wrappers)

cdef enum:
    B_ADD, B_RADD, B_SUB, B_RSUB, B_MUL, B_RMUL, B_TRUEDIV, B_RTRUEDIV, B_POW, B_RPOW


@cython.no_gc      # its constants are numbers, indices and optimizers: no cycle through a step
@cython.freelist(64)
cdef class _Step:
    cdef int kind, code
    cdef Py_ssize_t ia, ib      # the operands' slots; -1: the constant ca (cb)
    cdef object ca, cb
    cdef double p, q
    cdef bint grad_mode         # grad mode when traced: a replay runs each step in it
    # a replay lets go of the step's operands (ia, ib) after their last use, and
    # of its result when nothing reads it, so that intermediates die as early as
    # in the eager call (_last_uses)
    cdef bint drop_a, drop_b, drop_out


cdef class _Trace:
    """One call being traced: its steps, and the slot of each tensor they read or
    made, by id (keep holds the tensors, so that their ids stay theirs).  Slots
    0..n-1 are the tensors of the call's guarded environment (fastad._compile),
    then one per step, its result."""
    cdef public list steps, keep
    cdef public dict slots
    cdef public object failed   # why the trace ended early, or None

    def __init__(self, list env):
        self.steps, self.keep, self.slots, self.failed = [], list(env), {}, None
        for i, t in enumerate(env):
            self.slots.setdefault(_address(t), i)


cdef _Trace _tracer = None


def _trace_start(_Trace t):
    """This thread's calls from now on are traced into t."""
    global _tracer
    _tracer = t
    fad_set_tracing(1)


def _trace_stop():
    global _tracer
    fad_set_tracing(0)
    _tracer = None


def _tracing():
    return bool(fad_tracing)


def _trace_state():
    """The global state the entry points branch on: a key's first three entries."""
    return (grad_enabled(), _default_dt, _debug)


cdef void _trace_fail(str why) noexcept:
    """Ends the trace: the rest of the call runs eagerly, and its key will too."""
    if _tracer is not None and _tracer.failed is None:
        _tracer.failed = why
    fad_set_tracing(0)


def _trace_call(obj, str name, tuple args, dict kwargs):
    """obj.name(*args, **kwargs) as one step (fastad._compile's optimizer methods)."""
    return _traced(S_CALL, 0, obj, (name, args, kwargs), 0.0, 0.0)


cdef bint _const_ok(int kind, object c):
    """Whether a step of kind can bake c, not a tensor, as an operand."""
    if kind == S_CALL:
        return type(c) is not tuple or not any(
            isinstance(v, Tensor) for v in (<tuple>c[1] + tuple((<dict>c[2]).values())))
    if kind == S_GETITEM:
        return type(c) is int or type(c) is slice or c is None or c is Ellipsis or (
            type(c) is tuple and all(_const_ok(S_GETITEM, v) for v in c))
    return c is None or type(c) is float or type(c) is int or type(c) is bool


cdef bint _slot_of(_Trace t, _Step s, object x, bint second) except -1:
    """Sets s's operand from x: its slot, or the constant; False if the trace
    cannot follow it (a tensor no traced step made, a constant it cannot bake)."""
    cdef Py_ssize_t i = -1
    if isinstance(x, Tensor):
        i = t.slots.get(_address(x), -1)
        if i < 0:
            return False
    elif not _const_ok(s.kind, x):
        return False
    if second:
        s.ib, s.cb = i, (None if i >= 0 else x)
    else:
        s.ia, s.ca = i, (None if i >= 0 else x)
    return True


cdef object _traced(int kind, int code, object a, object b, double p, double q):
    """The step run (tracing paused) and recorded."""
    cdef _Trace t = _tracer
    cdef _Step s = _Step.__new__(_Step)
    s.kind, s.code, s.p, s.q, s.grad_mode = kind, code, p, q, grad_enabled()
    if not (_slot_of(t, s, a, False) and _slot_of(t, s, b, True)):
        _trace_fail("an operand made by an op the tracer does not follow, or a constant "
                    f"it cannot bake: {type(a).__name__}, {type(b).__name__}")
        return _run(s, a, b)
    fad_set_tracing(0)
    try:
        out = _run(s, a, b)
    except BaseException:
        _trace_fail("an op raised (what the function does about it is not traced)")
        raise
    fad_set_tracing(t.failed is None)
    if out is NotImplemented:
        _trace_fail(f"an operand of type {type(b).__name__}")
        return out
    t.slots[_address(out)] = len(t.keep)
    t.keep.append(out)
    t.steps.append(s)
    return out


cdef object _run(_Step s, object a, object b):
    cdef int k = s.kind, op = s.code
    if k == S_BINARY:
        if op == B_ADD:
            return _op_add(<Tensor>a, b)
        if op == B_RADD:
            return _op_radd(<Tensor>a, b)
        if op == B_SUB:
            return _op_sub(<Tensor>a, b)
        if op == B_RSUB:
            return _op_rsub(<Tensor>a, b)
        if op == B_MUL:
            return _op_mul(<Tensor>a, b)
        if op == B_RMUL:
            return _op_rmul(<Tensor>a, b)
        if op == B_TRUEDIV:
            return _op_truediv(<Tensor>a, b)
        if op == B_RTRUEDIV:
            return _op_rtruediv(<Tensor>a, b)
        if op == B_POW:
            return _op_pow(<Tensor>a, b)
        return _op_rpow(<Tensor>a, b)
    if k == S_INPLACE:
        return _inplace(<Tensor>a, op, b)
    if k == S_UNARY:
        return _unary(a, op, s.p, s.q)
    if k == S_GETITEM:
        return _getitem(<Tensor>a, b)
    if k == S_BACKWARD:
        _backward([a], [b], op, None, False)
        return None
    if b[1] or b[2]:
        return getattr(a, b[0])(*b[1], **b[2])
    return getattr(a, b[0])()


@cython.boundscheck(False)     # the slots are the trace's own: in range
@cython.wraparound(False)
cdef int _replay(list steps, list vals) except -1:
    """Runs a traced plan's steps on vals (the call's environment tensors, by
    slot), appending each result; grad mode as it was at each step when traced,
    and as it was on entry at the end."""
    cdef _Step s
    cdef bint entry = grad_enabled(), mode = entry
    try:
        for s in steps:
            if s.grad_mode != mode:
                mode = s.grad_mode
                set_grad_enabled_c(mode)
            out = _run(s, vals[s.ia] if s.ia >= 0 else s.ca, vals[s.ib] if s.ib >= 0 else s.cb)
            if s.drop_a:
                vals[s.ia] = None
            if s.drop_b:
                vals[s.ib] = None
            vals.append(None if s.drop_out else out)
    finally:
        if mode != entry:
            set_grad_enabled_c(entry)
    return 0


def _last_uses(list steps, Py_ssize_t nenv, set kept):
    """Marks where a replay may let go of each step's result: after the last step
    that reads it, at once if none does; never for the environment's tensors and
    the slots kept (the call's result)."""
    cdef _Step s
    cdef Py_ssize_t i, k
    cdef dict last = {}             # slot -> (the last step reading it, as its operand a?)
    for i, s in enumerate(steps):
        if s.ia >= 0:
            last[s.ia] = (i, True)
        if s.ib >= 0:
            last[s.ib] = (i, False)
    for i, s in enumerate(steps):
        k = nenv + i
        if k in kept:
            continue
        use = last.get(k)
        if use is None:
            s.drop_out = True
        elif (<tuple>use)[1]:
            (<_Step>steps[(<tuple>use)[0]]).drop_a = True
        else:
            (<_Step>steps[(<tuple>use)[0]]).drop_b = True


cdef object _result_of(object tpl, list vals):
    """A replay's result from its template (fastad._compile._template)."""
    kind, v = <tuple>tpl
    if kind == "t":
        return vals[<Py_ssize_t>v]
    if kind == "c":
        return v
    return kind([_result_of(p, vals) for p in <list>v])


def _call(dict plans, list last, fn, tuple args, dict kwargs):
    """A compiled call: its plan replayed, the result rebuilt; or (its key, its
    environment's tensors) in a _Miss when it has no plan (or is run eagerly).
    last is [key, plan] of the plan that ran last: its key is checked first, in
    place, without making this call's key."""
    cdef _Env e = _Env.__new__(_Env)
    cdef tuple plan
    if last[0] is not None:
        e.expect = <tuple>last[0]
        e.environment(fn, args, kwargs)
        if not e.mismatch and e.pos == len(e.expect):
            plan = <tuple>last[1]
            _replay(<list>plan[0], e.tensors)
            return _result_of(plan[1], e.tensors)
        e = _Env.__new__(_Env)
    e.environment(fn, args, kwargs)
    key = tuple(e.key)
    entry = plans.get(key)
    if type(entry) is not tuple:
        return _Miss(key, e.tensors, e.objects, entry)
    last[0], last[1] = key, entry
    plan = <tuple>entry
    _replay(<list>plan[0], e.tensors)
    return _result_of(plan[1], e.tensors)


class _Miss:
    """What _call returns when no plan runs: the key, the tensors, the other
    objects of the call's environment, the cache's entry."""
    __slots__ = ("key", "tensors", "objects", "entry")

    def __init__(self, key, tensors, objects, entry):
        self.key, self.tensors, self.objects, self.entry = key, tensors, objects, entry


# ---------------------------------------------------------------- guards
from cpython.ref cimport PyObject

cdef extern from "Python.h":
    PyObject *PyFunction_GET_CODE(object fn)
    PyObject *PyFunction_GET_GLOBALS(object fn)
    PyObject *PyFunction_GET_CLOSURE(object fn)
    PyObject *PyCell_GET(object cell)
    PyObject *PyDict_GetItem(object d, object key)
    PyObject *PyTuple_GET_ITEM(object t, Py_ssize_t i)
    Py_ssize_t PyTuple_GET_SIZE(object t)

from types import CodeType as _CodeType, FunctionType as _FunctionType

cdef Py_ssize_t _MAX_GUARDED = 100000   # a bigger environment is not guarded: its calls run eagerly
cdef dict _CODE_NAMES = {}              # id of a code object -> (it, the global names it reads)

# A key is a flat tuple, each value's entry a tag and its fields (so that no two
# environments share one): a tensor's tag holds its dtype, requires_grad, leaf
# and captured bits (a small int, not allocated), then its identity when captured,
# its type when a subclass, its shape; a float is guarded by its bits (-0.0 is
# not 0.0 to a baked constant).
cdef enum:
    K_ALIAS, K_NONE, K_BOOL, K_INT, K_FLOAT, K_STR, K_LIST, K_TUPLE, K_DICT, K_FUNCTION, K_OBJECT
    K_TENSOR = 32    # + dt * 8 + requires_grad * 4 + leaf * 2 + captured; + 128: a subclass


class _TooBig(Exception):
    pass


cdef list _code_names(object code):
    """The global names code, and the functions and comprehensions it defines, read."""
    entry = _CODE_NAMES.get(_address(code))
    if entry is not None:
        return <list>(<tuple>entry)[1]
    cdef list names = list(code.co_names)
    for c in code.co_consts:
        if isinstance(c, _CodeType):
            names += _code_names(c)
    _CODE_NAMES[_address(code)] = (code, names)
    return names


cdef class _Env:
    """A call's guard key and the tensors a replay's slots start from; or, with
    expect set, whether the call's key would be expect, found without making it."""
    cdef list key, tensors, objects     # objects: the other objects walked (build mode)
    cdef tuple expect
    cdef Py_ssize_t pos
    cdef bint mismatch
    cdef dict seen          # address of a tensor -> its slot (past 8 tensors); of a helper walked -> -1
    cdef object globals     # the compiled function's: helper functions sharing it are walked
    cdef object top         # the compiled function

    cdef int put(self, object v) except -1:
        if self.expect is None:
            self.key.append(v)
        elif self.pos >= len(self.expect) or not (self.expect[self.pos] == v):
            self.mismatch = True
        self.pos += 1
        return 0

    cdef dict seen_(self):
        if self.seen is None:
            self.seen = {}
        return self.seen

    cdef Py_ssize_t alias(self, object x) except -2:
        """The slot of x if it is an earlier tensor of this call, else -1."""
        cdef Py_ssize_t i, n = len(self.tensors)
        if n <= 8:
            for i in range(n):
                if self.tensors[i] is x:
                    return i
            return -1
        if n == 9:
            for i in range(n):
                self.seen_()[_address(self.tensors[i])] = i
        return self.seen.get(_address(x), -1)

    cdef int walk(self, object x, bint captured, int depth) except -1:
        cdef Tensor t
        cdef object tp = type(x)
        cdef double d
        cdef int tag
        cdef Py_ssize_t i
        if self.mismatch:
            return 0
        if depth > 50:
            raise _TooBig("nested more than 50 deep")
        if isinstance(x, Tensor):
            t = <Tensor>x
            i = self.alias(x)
            if i >= 0:
                self.put(K_ALIAS)
                self.put(i)
                return 0
            if len(self.tensors) >= _MAX_GUARDED:
                raise _TooBig(f"more than {_MAX_GUARDED} tensors")
            if len(self.tensors) >= 8:
                self.seen_()[_address(x)] = len(self.tensors)
            self.tensors.append(x)
            tag = K_TENSOR + t._dt * 8 + t._rg * 4 + (t._graph is None) * 2 + captured
            if tp is not Tensor:
                self.put(tag + 128)
                self.put(tp)
            else:
                self.put(tag)
            if captured:
                self.put(_address(x))
            self.put(0 if t._data is None else t._data.shape)
        elif x is None:
            self.put(K_NONE)
        elif tp is float:
            d = x
            self.put(K_FLOAT)
            self.put((<int64_t *>&d)[0])
        elif tp is int or tp is bool or tp is str:
            self.put(K_INT if tp is int else (K_BOOL if tp is bool else K_STR))
            self.put(x)
        elif tp is list or tp is tuple:
            self.put(K_LIST if tp is list else K_TUPLE)
            self.put(len(x))
            for v in x:
                self.walk(v, captured, depth + 1)
        elif tp is dict and _str_keys(<dict>x):
            self.put(K_DICT)
            self.put(tuple(x))
            for v in (<dict>x).values():
                self.walk(v, captured, depth + 1)
        elif tp is _FunctionType and <object>PyFunction_GET_GLOBALS(x) is self.globals:
            self.put(K_FUNCTION)
            self.put(_address(x))
            if x is not self.top and _address(x) not in self.seen_():
                self.seen[_address(x)] = -1
                self.function(x, depth + 1)
        else:
            self.put(K_OBJECT)
            self.put(_address(x))
            if self.expect is None:
                self.objects.append(x)
        return 0

    cdef int function(self, object fn, int depth) except -1:
        """Walks what fn's code reads from its closure and its globals."""
        cdef PyObject *cells = PyFunction_GET_CLOSURE(fn)
        cdef PyObject *v
        cdef Py_ssize_t i
        if cells != NULL and <object>cells is not None:
            for i in range(PyTuple_GET_SIZE(<object>cells)):
                v = PyCell_GET(<object>PyTuple_GET_ITEM(<object>cells, i))
                if v == NULL:           # a cell not filled yet
                    self.put(K_NONE)
                else:
                    self.walk(<object>v, True, depth)
        g = <object>PyFunction_GET_GLOBALS(fn)
        for name in _code_names(<object>PyFunction_GET_CODE(fn)):
            v = PyDict_GetItem(g, name)
            if v != NULL:
                self.walk(<object>v, True, depth)
        return 0

    cdef int environment(self, object fn, tuple args, dict kwargs) except -1:
        """Walks a call of fn: see fastad/_compile.py's docstring.  Raises _TooBig
        past its limits."""
        self.key, self.tensors, self.objects, self.seen, self.top = [], [], [], None, fn
        self.globals = <object>PyFunction_GET_GLOBALS(fn)
        self.put(grad_enabled())
        self.put(_default_dt)
        self.put(_debug)
        self.walk(args, False, 0)
        if kwargs:
            self.walk(kwargs, False, 0)
        self.function(fn, 0)
        return 0


cdef bint _str_keys(dict d):
    for k in d:
        if type(k) is not str:
            return False
    return True
