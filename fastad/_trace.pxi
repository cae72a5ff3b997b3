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
    S_BINARY = 0     # a's arithmetic dunder code (B_) with b: its body, _scalar_dunder
    S_INPLACE = 1    # _inplace(a, op, b): a op= b
    S_UNARY = 2      # _unary(a, op, p, q): the op table's elementwise ops
    S_GETITEM = 3    # _getitem(a, b)
    S_BACKWARD = 4   # a.backward(b, retain_graph=code)
    S_CALL = 5       # a's method b[0] called with (*b[1], **b[2]): an optimizer's zero_grad or
                     # step, looked up at each replay as the call looks it up (hooks, wrappers)
    S_SCALARS = 6    # a run of scalar steps lowered to the _Block ca (_plan)

cdef enum:
    # each op, then its reflected form (_binary_dunder reads the order)
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
    # in the eager call (_plan)
    cdef bint drop_a, drop_b, drop_out
    # a binary or table op of 0-d tensors (or a 0-d tensor and a number) that took
    # the scalar tape's path when traced: _plan may run it in a _Block
    cdef bint scalar
    cdef int dt                 # a scalar step's result dtype


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
    s.scalar = _took_scalar_path(kind, code, a, b, out)
    if s.scalar:
        s.dt = (<Tensor>out)._dt
    return out


cdef bint _took_scalar_path(int kind, int code, object a, object b, object out):
    """Whether a step ran as one scalar record of _sop: the tests of
    _scalar_dunder and _unary, on the operands and the result."""
    if _debug or not (isinstance(out, Tensor) and (<Tensor>out)._data is None):
        return False
    if not (isinstance(a, Tensor) and (<Tensor>a)._data is None):
        return False
    if kind == S_UNARY:
        return True
    if kind != S_BINARY or code == B_RPOW:
        return False
    return _is_num(b) or (isinstance(b, Tensor) and (<Tensor>b)._data is None
                          and _takes_scalar_tensor(code))


cdef object _run(_Step s, object a, object b):
    cdef int k = s.kind, op = s.code
    if k == S_BINARY:
        return _scalar_dunder(op, <Tensor>a, b)
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
            if s.kind == S_SCALARS:
                (<_Block>s.ca).run(vals)
                continue
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


# ---------------------------------------------------------------- scalar blocks
from cpython.mem cimport PyMem_Malloc, PyMem_Calloc, PyMem_Free
from libc.string cimport memset
from cpython.ref cimport PyObject


cdef enum:
    # an _Ins's flags
    I_REC = 1            # it records (an operand requires grad, grad mode on)
    I_F32 = 2            # its result is float32: rounded
    I_UNARY = 4          # the table's op code on a (parameters p, q); else a code b
    I_B_TENSOR = 8       # b is a tensor's value (else a number's, in a constant register)
    I_PARAMS = 16        # its record keeps q on the graph (Graph.params)
    I_VIEWS = 32         # an operand is an outside element view (_save_elements)
    I_A_RG = 64          # operand a requires grad
    I_B_RG = 128         # operand b requires grad


cdef struct _Ins:
    # one lowered scalar step: its result's register is base + its index
    int32_t a, b         # operand registers
    double p, q
    uint8_t code         # a B_ code, or the table's op code (I_UNARY)
    uint8_t op           # its record's op code (_scalar_formula's, or OP_ACT + code)
    uint8_t flags


@cython.no_gc          # holds C arrays, the steps it lowers and slot numbers
cdef class _Block:
    """A run of a plan's scalar steps (_Step.scalar), lowered: a replay computes
    them with the dunders' own formulas (_scalar_formula, scalar_unary) and
    pushes their records as _sop does, in registers (a value, a record) instead
    of a Tensor per op, and makes tensors only of the results read after the
    run or returned (kept).  Registers: the run's operands from outside it
    (0..nx-1, from slots xslot), its number operands (nx..base-1), then one per
    step.  Whether a step records, and which operands are leaves or element
    views, is fixed when lowered, from the operands' state when traced; a replay
    whose operands differ, or sit on another graph than the one live graph of
    the others, runs the steps instead."""
    cdef _Ins *ins
    cdef double *val
    cdef int32_t *slot       # a register's record; -1: none; -2: an outside leaf not on the graph yet
    cdef PyObject **outside  # the outside operands of this run (borrowed from vals)
    cdef Py_ssize_t n, nx, base, nkept
    cdef Py_ssize_t *xslot
    cdef uint8_t *xstate     # each outside operand when traced: dtype code * 8 + _state
    cdef Py_ssize_t *kept    # the steps whose results get a slot, in order
    cdef list steps          # the steps lowered (their slots are the trace's, stale)
    cdef list local_steps    # the same reading registers as slots, made at run_steps' first call
    cdef tuple drops         # slots read last here: let go after the run
    cdef bint busy           # its registers are in use

    def __dealloc__(self):
        PyMem_Free(self.ins)
        PyMem_Free(self.val)
        PyMem_Free(self.slot)
        PyMem_Free(self.outside)
        PyMem_Free(self.xslot)
        PyMem_Free(self.xstate)
        PyMem_Free(self.kept)

    cdef int alloc(self, Py_ssize_t n, Py_ssize_t nx, list numbers) except -1:
        cdef Py_ssize_t k, nregs = nx + len(numbers) + n
        self.n, self.nx, self.base, self.nkept = n, nx, nx + len(numbers), 0
        self.ins = <_Ins *>PyMem_Malloc(n * sizeof(_Ins))
        self.val = <double *>PyMem_Malloc(nregs * sizeof(double))
        self.slot = <int32_t *>PyMem_Malloc(nregs * sizeof(int32_t))
        self.outside = <PyObject **>PyMem_Malloc(nx * sizeof(PyObject *) + 1)
        self.xslot = <Py_ssize_t *>PyMem_Malloc(nx * sizeof(Py_ssize_t) + 1)
        self.xstate = <uint8_t *>PyMem_Malloc(nx + 1)
        self.kept = <Py_ssize_t *>PyMem_Malloc(n * sizeof(Py_ssize_t))
        if not (self.ins and self.val and self.slot and self.outside
                and self.xslot and self.xstate and self.kept):
            raise MemoryError()
        for k, c in enumerate(numbers):
            self.val[nx + k], self.slot[nx + k] = <double>c, -1
        return 0

    cdef int run(self, list vals) except -1:
        """Appends the kept results to vals, and lets go of the slots read last here."""
        cdef Py_ssize_t k
        cdef list results = None
        if not self.busy:   # else another thread's replay of it let go of the GIL (a finalizer)
            self.busy = True
            try:
                results = self.run_registers(vals)
            finally:
                self.busy = False
        if results is None:
            results = self.run_steps(vals)
        vals.extend(results)
        for k in self.drops:
            vals[k] = None
        return 0

    @cython.boundscheck(False)      # registers and slots are the block's own (_plan)
    @cython.wraparound(False)
    cdef list run_registers(self, list vals):
        """The kept results, computed on the registers; None if an outside
        operand is not as traced."""
        cdef Py_ssize_t k
        cdef Tensor t
        cdef Graph g
        cdef PyObject *common = NULL      # the one graph of the outside operands on one
        for k in range(self.nx):
            x = vals[self.xslot[k]]
            if not isinstance(x, Tensor) or (<Tensor>x)._data is not None:
                return None
            t = <Tensor>x
            if t._dt * 8 + _state(t) != self.xstate[k]:
                return None
            if t._graph is not None:
                if t._graph.dead or (common != NULL and common != <PyObject *>t._graph):
                    return None
                common = <PyObject *>t._graph
            _fresh(t)
            self.val[k] = t._val
            self.slot[k] = -1 if not t._rg else (-2 if t._graph is None else t._slot)
            self.outside[k] = <PyObject *>t
        g = self.compute(None if common == NULL else <Graph>common)
        return [self.tensor(g, self.kept[k]) for k in range(self.nkept)]

    cdef list run_steps(self, list vals):
        """The kept results, by the steps it lowers, on its registers as slots."""
        cdef Py_ssize_t i, k
        cdef list local = ([vals[self.xslot[k]] for k in range(self.nx)]
                           + [None] * (self.base - self.nx))
        if self.local_steps is None:
            self.local_steps = [self.local_step(i) for i in range(self.n)]
        _replay(self.local_steps, local)
        return [local[self.base + self.kept[i]] for i in range(self.nkept)]

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef Graph compute(self, Graph g):
        """The steps on the registers, recording on g (None: this thread's
        graph, looked up at the first record, as _graph_of does); returns the
        graph it recorded on."""
        cdef Py_ssize_t i, r
        cdef _Ins *s
        cdef double *val = self.val
        cdef int32_t *slot = self.slot
        cdef double v, dx, dy
        cdef uint8_t f
        for i in range(self.n):
            s = &self.ins[i]
            f = s.flags
            r = self.base + i
            if f & I_UNARY:
                if scalar_unary(s.code, not (f & I_F32), val[s.a], s.p, s.q, &v, &dx) < 0:
                    raise ValueError(f"no scalar kernel for op code {s.code}")
                dy = s.p
            else:
                _scalar_formula(s.code, val[s.a], val[s.b], f & I_B_TENSOR, &v, &dx, &dy)
            if f & I_F32:
                v = <double>(<float>v)
            val[r] = v
            slot[r] = -1
            if not (f & I_REC):
                continue
            if g is None:
                g = current_graph()
            slot[r] = graph_push(g, s.op if f & I_F32 else s.op | OP_F64, self.slot_of(g, s.a),
                                 self.slot_of(g, s.b) if f & I_B_TENSOR else -1, dx, dy, v)
            if f & (I_PARAMS | I_VIEWS):
                self.extras(g, s, slot[r], dy)
        return g

    cdef inline int32_t slot_of(self, Graph g, int32_t k) except -2:
        """Register k's record; an outside leaf's is made at its first use, as _slot_on."""
        if self.slot[k] == -2:
            self.slot[k] = _slot_on(g, <Tensor>self.outside[k])
        return self.slot[k]

    cdef int extras(self, Graph g, _Ins *s, int32_t i, double dy) except -1:
        """What _sop and _unary note beside record i, the result of s."""
        cdef bint b = s.flags & I_B_TENSOR
        if s.flags & I_PARAMS:
            g.params[i] = s.q
        if s.flags & I_VIEWS:
            _save_elements(g, i, s.op, self.view(s.a), self.view(s.b) if b else None, b,
                           s.flags & I_A_RG, s.flags & I_B_RG, dy)
        return 0

    cdef Tensor view(self, int32_t k):
        """Register k's tensor if it is an outside element view, else None."""
        if k < self.nx and (<Tensor>self.outside[k])._elem is not None:
            return <Tensor>self.outside[k]
        return None

    cdef _Step local_step(self, Py_ssize_t i):
        """A copy of step i reading registers as slots."""
        cdef _Step s = self.steps[i], c = _Step.__new__(_Step)
        c.kind, c.code, c.ca, c.cb, c.p, c.q = s.kind, s.code, s.ca, s.cb, s.p, s.q
        c.grad_mode = s.grad_mode
        c.ia = self.ins[i].a
        c.ib = self.ins[i].b if self.ins[i].flags & I_B_TENSOR else -1
        return c

    cdef Tensor tensor(self, Graph g, Py_ssize_t i):
        """The tensor _sop would have made of step i's result (g: the graph
        compute recorded on)."""
        cdef _Ins *s = &self.ins[i]
        cdef Py_ssize_t r = self.base + i
        cdef Tensor out = _scalar(self.val[r], DT_F32 if s.flags & I_F32 else DT_F64)
        if s.flags & I_REC:
            out._graph, out._rg, out._op, out._slot = g, True, s.op, self.slot[r]
        return out


cdef inline int _state(Tensor t) noexcept:
    """What a _Block fixed of an outside operand, besides its dtype."""
    return t._rg + 2 * (t._graph is None) + 4 * (t._elem is not None)


cdef struct _Uses:
    # a trace's slots (env, then one per step), for _plan: in C arrays, as a
    # W1 trace has tens of thousands
    Py_ssize_t *last     # slot -> 2 * (the last step reading it) + (read as operand a); -1: none
    Py_ssize_t *slot     # slot -> its slot in the plan; -1: none
    Py_ssize_t *reg      # slot -> its register in the block being built; -1: none
    uint8_t *kept        # slot -> the call's result reads it


def _plan(list steps, Py_ssize_t nenv, set kept, list traced):
    """A trace's plan: (its steps, {slot of the trace: slot of the plan} for
    the slots kept).  Marks where a replay may let go of each step's result
    (after the last step reading it, at once if none does; never for the
    environment's tensors and the slots kept, the call's result), and replaces
    each run of two or more scalar steps in one grad mode by an S_SCALARS step
    that runs it as a _Block, whose results read by no later step get no slot:
    the later slots are renumbered.  traced: the trace's tensors by slot."""
    cdef Py_ssize_t i, j, k, n = len(steps), nslots = nenv + n, nplan = nenv
    cdef _Step s
    cdef _Block blk
    cdef list out = []
    cdef _Uses u
    u.last = <Py_ssize_t *>PyMem_Malloc(nslots * sizeof(Py_ssize_t) + 1)
    u.slot = <Py_ssize_t *>PyMem_Malloc(nslots * sizeof(Py_ssize_t) + 1)
    u.reg = <Py_ssize_t *>PyMem_Malloc(nslots * sizeof(Py_ssize_t) + 1)
    u.kept = <uint8_t *>PyMem_Malloc(nslots + 1)
    try:
        if not (u.last and u.slot and u.reg and u.kept):
            raise MemoryError()
        for k in range(nslots):
            u.last[k], u.slot[k], u.reg[k], u.kept[k] = -1, (k if k < nenv else -1), -1, 0
        for k in kept:
            u.kept[k] = 1
        for i in range(n):
            s = steps[i]
            if s.ia >= 0:
                u.last[s.ia] = 2 * i + 1
            if s.ib >= 0:
                u.last[s.ib] = 2 * i
        for i in range(n):
            k = nenv + i
            if u.kept[k]:
                continue
            if u.last[k] < 0:
                (<_Step>steps[i]).drop_out = True
            elif u.last[k] & 1:
                (<_Step>steps[u.last[k] >> 1]).drop_a = True
            else:
                (<_Step>steps[u.last[k] >> 1]).drop_b = True
        i = 0
        while i < n:
            s = steps[i]
            j = i
            while (j < n and (<_Step>steps[j]).scalar
                   and (<_Step>steps[j]).grad_mode == s.grad_mode):
                j += 1
            if j - i < 2:
                s.ia = u.slot[s.ia] if s.ia >= 0 else -1
                s.ib = u.slot[s.ib] if s.ib >= 0 else -1
                u.slot[nenv + i] = nplan
                nplan += 1
                out.append(s)
                i += 1
                continue
            s = _block_step(steps, i, j, nenv, &u, traced)
            blk = <_Block>s.ca
            for k in range(blk.nkept):
                u.slot[nenv + i + blk.kept[k]] = nplan
                nplan += 1
            out.append(s)
            i = j
        return out, {k: u.slot[<Py_ssize_t>k] for k in kept}
    finally:
        PyMem_Free(u.last)
        PyMem_Free(u.slot)
        PyMem_Free(u.reg)
        PyMem_Free(u.kept)


def _block_sizes(list steps):
    """The number of steps each _Block of a plan runs (for tests)."""
    return [(<_Block>(<_Step>s).ca).n for s in steps if (<_Step>s).kind == S_SCALARS]


cdef _Step _block_step(list steps, Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t nenv, _Uses *u,
                       list traced):
    """The S_SCALARS step of steps[i0:i1] (slots nenv + i0 ...; u: _plan's
    arrays, the plan's slots set for the slots before them)."""
    cdef list outside = []          # slots of the operands from outside the run
    cdef list numbers = []          # the number operands
    cdef _Block blk = _Block.__new__(_Block)
    cdef _Step s, out = _Step.__new__(_Step)
    cdef Tensor t
    cdef Py_ssize_t i, k, x, nb
    cdef _Ins *ins
    cdef uint8_t f
    cdef double v, dx, dy           # _scalar_formula's outputs, unread: its op code is wanted
    cdef bytearray rg               # register -> whether it requires grad
    for i in range(i0, i1):
        s = steps[i]
        for x in (s.ia, s.ib):
            if x >= 0 and x < nenv + i0 and u.reg[x] < 0:
                u.reg[x] = len(outside)
                outside.append(x)
        if s.kind == S_BINARY and s.ib < 0:
            numbers.append(s.cb)
    blk.alloc(i1 - i0, len(outside), numbers)
    rg = bytearray(blk.base + blk.n)
    for k in range(blk.nx):
        x = outside[k]
        t = <Tensor>traced[x]
        blk.xslot[k], blk.xstate[k] = u.slot[x], t._dt * 8 + _state(t)
        rg[k] = t._rg
    nb = blk.nx
    for i in range(i1 - i0):
        s = steps[i0 + i]
        u.reg[nenv + i0 + i] = blk.base + i
        ins = &blk.ins[i]
        ins.code, ins.p, ins.q, ins.a = s.code, s.p, s.q, u.reg[s.ia]
        ins.op = (OP_ACT + s.code if s.kind == S_UNARY
                  else _scalar_formula(s.code, 1.0, 1.0, s.ib >= 0, &v, &dx, &dy))
        f = (I_F32 if s.dt == DT_F32 else 0) | (I_UNARY if s.kind == S_UNARY else 0)
        if s.ib >= 0:
            ins.b = u.reg[s.ib]
            f |= I_B_TENSOR | (I_B_RG if rg[ins.b] else 0)
        elif s.kind == S_BINARY:
            ins.b = nb
            nb += 1
        else:
            ins.b = ins.a
        if rg[ins.a]:
            f |= I_A_RG
        if s.grad_mode and f & (I_A_RG | I_B_RG):
            f |= I_REC
        if f & I_UNARY and ins.q != 0.0:
            f |= I_PARAMS
        if _is_view(traced, outside, ins.a, blk.nx) or (
                f & I_B_TENSOR and _is_view(traced, outside, ins.b, blk.nx)):
            f |= I_VIEWS
        ins.flags = f
        rg[blk.base + i] = (f & I_REC) != 0
        k = nenv + i0 + i
        if u.kept[k] or u.last[k] >> 1 >= i1:
            blk.kept[blk.nkept] = i
            blk.nkept += 1
    for x in outside:
        u.reg[x] = -1
    for i in range(i0, i1):
        u.reg[nenv + i] = -1
    blk.steps = steps[i0:i1]
    blk.drops = tuple([u.slot[x] for x in outside
                       if x >= nenv and not u.kept[x] and u.last[x] >> 1 < i1])
    out.kind, out.grad_mode, out.ia, out.ib, out.ca = S_SCALARS, s.grad_mode, -1, -1, blk
    return out


cdef bint _is_view(list traced, list outside, Py_ssize_t k, Py_ssize_t nx):
    """Whether register k is an outside operand that was an element view."""
    return k < nx and (<Tensor>traced[<Py_ssize_t>outside[k]])._elem is not None


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
    if last[0] is not None:
        e.expect = <tuple>last[0]
        e.environment(fn, args, kwargs)
        if not e.mismatch and e.pos == len(e.expect):
            return _run_plan(<tuple>last[1], e.tensors)
        e = _Env.__new__(_Env)
    e.environment(fn, args, kwargs)
    key = tuple(e.key)
    entry = plans.get(key)
    if type(entry) is not tuple:
        return _Miss(key, e.tensors, e.objects, entry)
    last[0], last[1] = key, entry
    return _run_plan(<tuple>entry, e.tensors)


cdef object _run_plan(tuple plan, list vals):
    """A plan (its steps, its result's template) replayed on vals."""
    _replay(<list>plan[0], vals)
    return _result_of(plan[1], vals)


cdef class _CompiledCall:
    """The call of fastad._compile._Compiled: the plan of the call's guards
    replayed, in C; else the subclass's _miss(the _Miss or _TooBig, args,
    kwargs).  A call inside another compiled function's trace is traced into it."""
    cdef public object _fn
    cdef public dict _plans
    cdef public list _last
    cdef dict __dict__

    def __call__(self, *args, **kwargs):
        if fad_tracing:
            return self._fn(*args, **kwargs)
        try:
            out = _call(self._plans, self._last, self._fn, args, kwargs)
        except _TooBig as e:
            return self._miss(e, args, kwargs)
        if type(out) is _Miss:
            return self._miss(out, args, kwargs)
        return out


class _Miss:
    """What _call returns when no plan runs: the key, the tensors, the other
    objects of the call's environment, the cache's entry."""
    __slots__ = ("key", "tensors", "objects", "entry")

    def __init__(self, key, tensors, objects, entry):
        self.key, self.tensors, self.objects, self.entry = key, tensors, objects, entry


# ---------------------------------------------------------------- guards

cdef extern from "Python.h":
    PyObject *PyFunction_GET_CODE(object fn)
    PyObject *PyFunction_GET_GLOBALS(object fn)
    PyObject *PyFunction_GET_CLOSURE(object fn)
    PyObject *PyCell_GET(object cell)
    PyObject *PyDict_GetItem(object d, object key)
    PyObject *PyTuple_GET_ITEM(object t, Py_ssize_t i)
    Py_ssize_t PyTuple_GET_SIZE(object t)
    Py_ssize_t _as_ssize_t "PyLong_AsSsize_t"(PyObject *o)     # -1 and an error set on overflow
    PyObject *_err_occurred "PyErr_Occurred"()
    void _err_clear "PyErr_Clear"()

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


cdef struct _Addresses:
    # an open-addressing table: a tensor's address -> its slot (0 marks an empty entry)
    Py_ssize_t *keys
    Py_ssize_t *vals
    Py_ssize_t cap, n


cdef inline Py_ssize_t _addr_at(_Addresses *t, Py_ssize_t key) noexcept:
    """Where key is in t, or the empty entry where it would go (t.cap a power of two)."""
    cdef size_t i = (<size_t>key >> 4) * <size_t>0x9E3779B97F4A7C15ULL
    cdef size_t mask = <size_t>(t.cap - 1)
    i = (i >> 20) & mask
    while t.keys[i] != 0 and t.keys[i] != key:
        i = (i + 1) & mask
    return <Py_ssize_t>i


cdef int _addr_put(_Addresses *t, Py_ssize_t key, Py_ssize_t val) except -1:
    cdef Py_ssize_t i, old_cap = t.cap
    cdef Py_ssize_t *old_keys = t.keys
    cdef Py_ssize_t *old_vals = t.vals
    if 2 * (t.n + 1) > t.cap:
        t.cap = 64 if t.cap == 0 else 2 * t.cap
        t.keys = <Py_ssize_t *>PyMem_Calloc(t.cap, sizeof(Py_ssize_t))
        t.vals = <Py_ssize_t *>PyMem_Malloc(t.cap * sizeof(Py_ssize_t))
        if t.keys == NULL or t.vals == NULL:
            PyMem_Free(t.keys)
            PyMem_Free(t.vals)
            t.keys, t.vals, t.cap = old_keys, old_vals, old_cap
            raise MemoryError()
        t.n = 0
        for i in range(old_cap):
            if old_keys[i] != 0:
                _addr_put(t, old_keys[i], old_vals[i])
        PyMem_Free(old_keys)
        PyMem_Free(old_vals)
    i = _addr_at(t, key)
    if t.keys[i] == 0:
        t.n += 1
    t.keys[i], t.vals[i] = key, val
    return 0


cdef class _Env:
    """A call's guard key and the tensors a replay's slots start from; or, with
    expect set, whether the call's key would be expect, found without making it."""
    cdef list key, tensors, objects     # objects: the other objects walked (build mode)
    cdef tuple expect
    cdef Py_ssize_t pos
    cdef bint mismatch
    cdef dict seen          # address of a helper function walked -> -1
    cdef _Addresses slots   # address of a tensor -> its slot (past 8 tensors)
    cdef object globals     # the compiled function's: helper functions sharing it are walked
    cdef object top         # the compiled function

    def __dealloc__(self):
        PyMem_Free(self.slots.keys)
        PyMem_Free(self.slots.vals)

    cdef int put(self, object v) except -1:
        cdef PyObject *e
        if self.expect is None:
            self.key.append(v)
        elif self.pos >= PyTuple_GET_SIZE(self.expect):
            self.mismatch = True
        else:
            e = PyTuple_GET_ITEM(self.expect, self.pos)
            if <object>e is not v and not (<object>e == v):
                self.mismatch = True
        self.pos += 1
        return 0

    cdef int put_int(self, Py_ssize_t v) except -1:
        """put(v) of a C integer, compared without making a Python int."""
        cdef PyObject *e
        cdef Py_ssize_t x
        if self.expect is None:
            self.key.append(v)
        elif self.pos >= PyTuple_GET_SIZE(self.expect):
            self.mismatch = True
        else:
            e = PyTuple_GET_ITEM(self.expect, self.pos)
            if type(<object>e) is not int:
                self.mismatch = True
            else:
                x = _as_ssize_t(e)
                if x == -1 and _err_occurred() != NULL:     # an int past Py_ssize_t
                    _err_clear()
                    self.mismatch = True
                elif x != v:
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
                _addr_put(&self.slots, <Py_ssize_t><void *>self.tensors[i], i)
        if self.slots.cap == 0:
            return -1
        i = _addr_at(&self.slots, <Py_ssize_t><void *>x)
        return self.slots.vals[i] if self.slots.keys[i] != 0 else -1

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
                self.put_int(K_ALIAS)
                self.put_int(i)
                return 0
            if len(self.tensors) >= _MAX_GUARDED:
                raise _TooBig(f"more than {_MAX_GUARDED} tensors")
            if len(self.tensors) >= 8:
                _addr_put(&self.slots, <Py_ssize_t><void *>x, len(self.tensors))
            self.tensors.append(x)
            tag = K_TENSOR + t._dt * 8 + t._rg * 4 + (t._graph is None) * 2 + captured
            if tp is not Tensor:
                self.put_int(tag + 128)
                self.put(tp)
            else:
                self.put_int(tag)
            if captured:
                self.put_int(<Py_ssize_t><void *>x)
            if t._data is None:
                self.put_int(0)
            else:
                self.put(t._data.shape)
        elif x is None:
            self.put_int(K_NONE)
        elif tp is float:
            d = x
            self.put_int(K_FLOAT)
            self.put_int((<int64_t *>&d)[0])
        elif tp is int or tp is bool or tp is str:
            self.put_int(K_INT if tp is int else (K_BOOL if tp is bool else K_STR))
            self.put(x)
        elif tp is list or tp is tuple:
            self.put_int(K_LIST if tp is list else K_TUPLE)
            self.put_int(len(x))
            for v in x:
                self.walk(v, captured, depth + 1)
        elif tp is dict and _str_keys(<dict>x):
            self.put_int(K_DICT)
            self.put(tuple(x))
            for v in (<dict>x).values():
                self.walk(v, captured, depth + 1)
        elif tp is _FunctionType and <object>PyFunction_GET_GLOBALS(x) is self.globals:
            self.put_int(K_FUNCTION)
            self.put_int(<Py_ssize_t><void *>x)
            if x is not self.top and _address(x) not in self.seen_():
                self.seen[_address(x)] = -1
                self.function(x, depth + 1)
        else:
            self.put_int(K_OBJECT)
            self.put_int(<Py_ssize_t><void *>x)
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
                    self.put_int(K_NONE)
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
        self.slots.n = 0
        if self.slots.cap:
            memset(self.slots.keys, 0, self.slots.cap * sizeof(Py_ssize_t))
        self.globals = <object>PyFunction_GET_GLOBALS(fn)
        self.put_int(grad_enabled())
        self.put_int(_default_dt)
        self.put_int(_debug)
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
