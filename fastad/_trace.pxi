# Included by _tensor.pyx: fastad.compile's tracer and replay (fastad/_compile.py
# holds the rest: guards, plan cache, fallback).  While a call is traced, the
# entry points it follows (the arithmetic dunders, _unary, _getitem, backward,
# the in-place dunders, and through fastad._compile an optimizer's zero_grad and
# step) hand their call to _traced, which runs it with tracing paused and
# records it as a step.  Everything else a traced call may do that a replay
# would miss ends the trace (_trace_fail): a tensor made by another op
# (_wrap), an in-place write by another op (_bump), an exit to Python (item,
# numpy, printing, ...), a change of requires_grad or .grad.  The test on the
# hot path is one thread-local C int.
#
# A replay runs the same entry points on the same operands (those of this call,
# by slot), so its values, tape and side effects are the eager call's bit for
# bit; what it saves is the Python the traced function ran between them.
cdef extern from *:
    """
    static __thread int fad_tracing = 0;
    static inline void fad_set_tracing(int on) { fad_tracing = on; }
    """
    int fad_tracing
    void fad_set_tracing(int on) nogil


cdef enum:
    S_BINARY = 0     # a's arithmetic dunder code (B_) with b: its body, _op_add, ...
    S_INPLACE = 1    # _inplace(a, op, b): a op= b
    S_UNARY = 2      # _unary(a, op, p, q): the op table's elementwise ops
    S_GETITEM = 3    # _getitem(a, b)
    S_BACKWARD = 4   # a.backward(b, retain_graph=code)
    S_CALL = 5       # a(*b): an optimizer's zero_grad or step, run as eager runs it

cdef enum:
    B_ADD, B_RADD, B_SUB, B_RSUB, B_MUL, B_RMUL, B_TRUEDIV, B_RTRUEDIV, B_POW, B_RPOW


cdef class _Step:
    cdef int kind, code
    cdef Py_ssize_t ia, ib      # the operands' slots; -1: the constant ca (cb)
    cdef object ca, cb
    cdef double p, q
    cdef bint grad_mode         # grad mode when traced: a replay runs each step in it


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
            self.slots.setdefault(id(t), i)


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


cdef tuple _state():
    """The global state the entry points branch on, part of a plan's guard."""
    return (grad_enabled(), _default_dt, _debug)


def _trace_state():
    return _state()


cdef void _trace_fail(str why) noexcept:
    """Ends the trace: the rest of the call runs eagerly, and its key will too."""
    if _tracer is not None and _tracer.failed is None:
        _tracer.failed = why
    fad_set_tracing(0)


def _trace_call(fn, tuple args):
    """fn(*args) as one step (fastad._compile's optimizer methods)."""
    return _traced(S_CALL, 0, fn, args, 0.0, 0.0)


cdef bint _const_ok(int kind, object c):
    if kind == S_CALL:
        return all(not isinstance(v, Tensor) for v in c) if type(c) is tuple else True
    if kind == S_GETITEM:
        return type(c) is int or type(c) is slice or c is None or c is Ellipsis or (
            type(c) is tuple and all(_const_ok(S_GETITEM, v) for v in c))
    return c is None or type(c) is float or type(c) is int or type(c) is bool


cdef bint _slot_of(_Trace t, _Step s, object x, bint second) except -1:
    """Sets s's operand from x: its slot, or the constant; False if the trace
    cannot follow it (a tensor no traced step made, a constant it cannot bake)."""
    cdef Py_ssize_t i = -1
    if isinstance(x, Tensor):
        i = t.slots.get(id(x), -1)
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
    finally:
        fad_set_tracing(t.failed is None)
    if out is NotImplemented:
        _trace_fail(f"an operand of type {type(b).__name__}")
        return out
    t.slots[id(out)] = len(t.keep)
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
    return a(*b)


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
            vals.append(_run(s, vals[s.ia] if s.ia >= 0 else s.ca,
                             vals[s.ib] if s.ib >= 0 else s.cb))
    finally:
        if mode != entry:
            set_grad_enabled_c(entry)
    return 0


cdef object _result_of(object tpl, list vals):
    """A replay's result from its template (fastad._compile._template)."""
    kind, v = <tuple>tpl
    if kind == "t":
        return vals[<Py_ssize_t>v]
    if kind == "c":
        return v
    return kind([_result_of(p, vals) for p in <list>v])


def _call(dict plans, fn, tuple args, dict kwargs):
    """A compiled call: its plan replayed, the result rebuilt; or (its key, its
    environment's tensors) in a _Miss when it has no plan (or is run eagerly)."""
    key, tensors = _environment(fn, args, kwargs)
    plan = plans.get(key)
    if type(plan) is not tuple:
        return _Miss(key, tensors, plan)
    _replay((<tuple>plan)[0], tensors)
    return _result_of((<tuple>plan)[1], tensors)


class _Miss:
    """What _call returns when no plan runs: the key, the tensors, the cache's entry."""
    __slots__ = ("key", "tensors", "entry")

    def __init__(self, key, tensors, entry):
        self.key, self.tensors, self.entry = key, tensors, entry


# ---------------------------------------------------------------- guards
cdef Py_ssize_t _MAX_GUARDED = 100000   # a bigger environment is not guarded: its calls run eagerly
cdef dict _CODE_NAMES = {}              # code object -> the global names it reads


class _TooBig(Exception):
    pass


cdef list _code_names(object code):
    """The global names code, and the functions and comprehensions it defines, read."""
    cdef list names = _CODE_NAMES.get(code)
    if names is None:
        names = list(code.co_names)
        for c in code.co_consts:
            if isinstance(c, _CodeType):
                names += _code_names(c)
        _CODE_NAMES[code] = names
    return names


cdef class _Env:
    """A call's guard key (a list, made a tuple) and the tensors a replay's slots start from."""
    cdef list key, tensors
    cdef dict seen          # id of a tensor -> its slot; of a function walked -> -1
    cdef object globals     # the compiled function's: helper functions sharing it are walked

    cdef int walk(self, object x, bint captured, int depth) except -1:
        cdef Tensor t
        cdef object tp = type(x)
        if depth > 50:
            raise _TooBig("nested more than 50 deep")
        if isinstance(x, Tensor):
            t = <Tensor>x
            i = self.seen.get(id(x))
            if i is not None:
                self.key.append(i)      # an alias of an earlier tensor
                return 0
            if len(self.tensors) >= _MAX_GUARDED:
                raise _TooBig(f"more than {_MAX_GUARDED} tensors")
            self.seen[id(x)] = len(self.tensors)
            self.tensors.append(x)
            self.key.append((id(x) if captured else None, tp,
                             () if t._data is None else t._data.shape, t._dt, t._rg,
                             t._graph is None))
        elif tp is float or tp is int or tp is bool or tp is str or x is None:
            self.key.append((tp, x))
        elif tp is list or tp is tuple:
            self.key.append((tp, len(x)))
            for v in x:
                self.walk(v, captured, depth + 1)
        elif tp is dict and _str_keys(<dict>x):
            self.key.append(tuple(x))
            for v in (<dict>x).values():
                self.walk(v, captured, depth + 1)
        elif tp is _FunctionType and (<object>x).__globals__ is self.globals:
            self.key.append(id(x))
            if id(x) not in self.seen:
                self.seen[id(x)] = -1
                self.function(x, depth + 1)
        else:
            self.key.append(id(x))
        return 0

    cdef int function(self, object fn, int depth) except -1:
        """Walks what fn's code reads from its closure and its globals."""
        for cell in fn.__closure__ or ():
            try:
                v = cell.cell_contents
            except ValueError:          # a cell not filled yet
                self.key.append(None)
                continue
            self.walk(v, True, depth)
        g = fn.__globals__
        for name in _code_names(fn.__code__):
            v = g.get(name, _MISSING)
            if v is not _MISSING:
                self.walk(v, True, depth)
        return 0


cdef object _MISSING = object()


cdef bint _str_keys(dict d):
    for k in d:
        if type(k) is not str:
            return False
    return True
from types import CodeType as _CodeType, FunctionType as _FunctionType


def _environment(fn, tuple args, dict kwargs):
    """(the guard key, the tensors a replay's slots start from) of a call of fn:
    see fastad/_compile.py's docstring.  Raises _TooBig past its limits."""
    cdef _Env e = _Env.__new__(_Env)
    e.key, e.tensors, e.seen, e.globals = [_state()], [], {}, fn.__globals__
    e.seen[id(fn)] = -1
    e.walk(args, False, 0)
    e.walk(kwargs, False, 0)
    e.function(fn, 0)
    return tuple(e.key), e.tensors
