# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The tape and its reverse sweep.

Every index the sweep follows was written by the tape itself (inputs always
precede their op), so the loops run without bounds checks.
"""
from libc.stdlib cimport free, realloc
from libc.string cimport memcpy, memset
from cpython.object cimport PyObject
from fastad._opcodes cimport act_masks, act_saves
import threading
from time import perf_counter_ns as _clock

import numpy as np
cimport numpy as cnp

cnp.import_array()

cdef extern from "Python.h":
    Py_ssize_t Py_REFCNT(PyObject *o)

# A graph per thread: the owning reference lives in a threading.local (dropped
# when the thread ends); the C thread-local is a borrowed copy for the hot path.
cdef extern from "csrc/fad_tls.h":
    PyObject *fastad_tls_graph
    int fastad_tls_nograd

BUSY = ("fastad: this graph is being differentiated by another thread; build and "
        "differentiate a graph in one thread at a time")

SECOND_BACKWARD = (
    "Trying to backward through the graph a second time (or directly access saved "
    "tensors after they have already been freed). Saved intermediate values of the "
    "graph are freed when you call .backward() or autograd.grad(). Specify "
    "retain_graph=True if you need to backward through the graph a second time or "
    "if you need to access saved tensors after calling backward.")

# ops whose backward needs a value saved at record time (PyTorch frees those
# after a backward without retain_graph; add/sub/neg save nothing)
# (indexed by the op byte with its OP_F64 bit, so the sweep needs no mask)
cdef uint8_t SAVES[2 * OP_F64]
# records whose partial is a mask (PyTorch's where): a zero partial passes no
# gradient, so 0 * inf is 0, not nan
cdef uint8_t MASKS[2 * OP_F64]
if OP_COUNT > OP_F64:
    raise ImportError("fastad: too many op codes for the tape's op byte")
for _i in range(2 * OP_F64):
    _c = _i & OP_CODE
    if _c >= OP_COUNT:
        SAVES[_i] = MASKS[_i] = False
    elif _c >= OP_ACT:
        SAVES[_i] = act_saves(_c - OP_ACT)
        MASKS[_i] = act_masks(_c - OP_ACT)
    else:
        SAVES[_i] = _c not in (OP_LEAF, OP_ADD, OP_SUB, OP_RSUB, OP_CLONE, OP_GATHER)
        MASKS[_i] = False

cdef int64_t _next_gid = 1
cdef int32_t MAX_NODES = 2147483000
_owner = threading.local()


cdef bint grad_enabled() noexcept nogil:
    return not fastad_tls_nograd


cdef bint set_grad_enabled_c(bint on) noexcept nogil:
    global fastad_tls_nograd
    cdef bint was = not fastad_tls_nograd
    fastad_tls_nograd = not on
    return was


cdef Graph current_graph():
    """This thread's graph, emptied in place when no tensor can reach it any more."""
    cdef PyObject *p = fastad_tls_graph
    if p == NULL or (<Graph>p).dead:
        return fresh_graph()
    if Py_REFCNT(p) == 1 and (<Graph>p).n > 0:
        (<Graph>p).reset()
    return <Graph>p


cdef Graph fresh_graph():
    cdef Graph g = Graph()
    _owner.graph = g
    global fastad_tls_graph
    fastad_tls_graph = <PyObject *>g
    return g


cdef Graph swap_graph(Graph g):
    """Makes g this thread's graph (where ops on leaves record); returns the
    previous one, for a recorded backward to put back."""
    cdef PyObject *p = fastad_tls_graph
    prev = None if p == NULL else <Graph>p
    _owner.graph = g
    global fastad_tls_graph
    fastad_tls_graph = <PyObject *>g
    return prev


cdef class Node:
    def _describe(self):
        """(input slots, which inputs are 0-d, whether the output is 0-d, the
        output's numpy dtype, the backward or None once freed, writes_grad), for
        fastad.viz."""
        return (self.in_slots, self.in_scalar, self.out_scalar, self.out_dtype, self.backward,
                self.writes_grad)


cdef class Graph:
    def __cinit__(self):
        global _next_gid
        self.gid = _next_gid
        _next_gid += 1
        self.ctx = []
        self.leaves = []
        self.layout = {}
        self.params = {}

    def __dealloc__(self):
        free(self.op)
        free(self.in0)
        free(self.in1)
        free(self.d0)
        free(self.d1)
        free(self.val)
        free(self.adj)
        free(self.reached)

    def __len__(self):
        return self.n

    def records(self):
        """Copies of the record arrays (op, in0, in1, d0, d1, val), for tools and
        tests; op without its OP_F64 dtype bit."""
        cdef Py_ssize_t n = self.n
        out = {}
        for name, dt in (("op", np.uint8), ("in0", np.int32), ("in1", np.int32),
                         ("d0", np.float64), ("d1", np.float64), ("val", np.float64)):
            out[name] = np.empty(n, dtype=dt)
        if n:
            # memcpy, not memoryview casts: those pull ~25,000 lines of Cython's
            # memoryview utility into the module's C (compile time)
            memcpy(cnp.PyArray_DATA(out["op"]), self.op, n * sizeof(uint8_t))
            memcpy(cnp.PyArray_DATA(out["in0"]), self.in0, n * sizeof(int32_t))
            memcpy(cnp.PyArray_DATA(out["in1"]), self.in1, n * sizeof(int32_t))
            memcpy(cnp.PyArray_DATA(out["d0"]), self.d0, n * sizeof(double))
            memcpy(cnp.PyArray_DATA(out["d1"]), self.d1, n * sizeof(double))
            memcpy(cnp.PyArray_DATA(out["val"]), self.val, n * sizeof(double))
            out["op"] &= OP_CODE | OP_FREED
        return out

    def node(self, Py_ssize_t i):
        """The Node of array record i (op OP_PY), for tools."""
        if not 0 <= i < self.n or (self.op[i] & ~OP_FREED) != OP_PY:
            raise IndexError(f"record {i} is not an array op of this graph")
        return self.ctx[self.in0[i]]

    def leaf_tensors(self):
        """slot -> the leaf tensor recorded there, for tools."""
        return {slot: t for t, slot in self.leaves}

    cdef int grow(self) except -1:
        if self.busy:
            raise RuntimeError(BUSY)
        cdef int64_t cap = 1024 if self.cap == 0 else self.cap + self.cap // 2
        if self.n >= MAX_NODES:
            raise MemoryError(f"fastad: a graph is limited to {MAX_NODES} recorded ops")
        if cap > MAX_NODES:
            cap = MAX_NODES
        cdef void *p
        p = realloc(self.op, cap * sizeof(uint8_t))
        if p == NULL: raise MemoryError()
        self.op = <uint8_t *>p
        p = realloc(self.in0, cap * sizeof(int32_t))
        if p == NULL: raise MemoryError()
        self.in0 = <int32_t *>p
        p = realloc(self.in1, cap * sizeof(int32_t))
        if p == NULL: raise MemoryError()
        self.in1 = <int32_t *>p
        p = realloc(self.d0, cap * sizeof(double))
        if p == NULL: raise MemoryError()
        self.d0 = <double *>p
        p = realloc(self.d1, cap * sizeof(double))
        if p == NULL: raise MemoryError()
        self.d1 = <double *>p
        p = realloc(self.val, cap * sizeof(double))
        if p == NULL: raise MemoryError()
        self.val = <double *>p
        self.cap = <int32_t>cap
        return 0

    cdef void reset(self) noexcept:
        global _next_gid
        self.n = 0
        if self.ctx:
            self.ctx = []
        if self.leaves:
            self.leaves = []
        if self.layout:
            self.layout = {}
        if self.params:
            self.params = {}
        self.nsaved = 0
        if self.traces is not None:
            self.traces = None
        if self.hooks is not None:
            self.hooks = None
        self.large = False
        self.gid = _next_gid
        _next_gid += 1

    cdef int32_t push_node(self, Node node) except -1:
        cdef int32_t i = graph_push(self, OP_PY, <int32_t>len(self.ctx), -1, 0.0, 0.0, 0.0)
        self.ctx.append(node)
        return i

    cdef int prepare(self, int32_t top) except -1:
        """Zeroed adjoints and reach flags for records 0..top."""
        cdef void *p
        cdef int32_t j
        if self.dead:
            raise RuntimeError(SECOND_BACKWARD)
        # aadj is a dict while a backward runs, its post-accumulate hooks included
        if self.busy or self.aadj is not None:
            raise RuntimeError(BUSY)
        if self.adj_cap < self.cap:
            p = realloc(self.adj, self.cap * sizeof(double))
            if p == NULL: raise MemoryError()
            self.adj = <double *>p
            p = realloc(self.reached, self.cap * sizeof(uint8_t))
            if p == NULL: raise MemoryError()
            self.reached = <uint8_t *>p
            self.adj_cap = self.cap
        # -0.0, the identity of IEEE addition: an adjoint reached by one
        # contribution is that contribution, -0.0 included (the sign PyTorch's
        # .grad and fastad's array kernels give), not 0.0 + -0.0 = +0.0
        for j in range(top + 1):
            self.adj[j] = -0.0
        memset(self.reached, 0, (top + 1) * sizeof(uint8_t))
        self.aadj = {}
        self.owned = set()
        self.keep = None
        self.undefined = None
        return 0

    cdef int sweep(self, int32_t top, int32_t stop, bint retain) except -1:
        """One reverse pass over records top..stop+1 (stop -1: down to the
        first); only reached records do work."""
        self.busy = True
        try:
            self._sweep_from(top, stop, retain)
        finally:
            self.busy = False
        return 0

    cdef int _sweep_from(self, int32_t i, int32_t stop, bint retain) except -1:
        cdef int err = 0
        while i > stop:
            if i - stop > 2048:  # releasing the GIL costs more than a short sweep
                with nogil:
                    i = scalar_sweep(self, i, stop, retain, &err)
            else:
                i = scalar_sweep(self, i, stop, retain, &err)
            if err:
                raise RuntimeError(SECOND_BACKWARD)
            if i == stop:
                break
            if self.op[i] == OP_GATHER:
                self.run_gather(i)
            else:
                self.run_node(i, retain, False)
            i -= 1
        return 0

    cdef int debug_sweep(self, int32_t top, int32_t stop, bint retain, bint check_nan,
                         dict names, object on_start, object on_record,
                         object on_error) except -1:
        """Records top..stop+1 swept a record at a time with the GIL, for anomaly
        mode and the profiler: check_nan raises PyTorch's error where a record's gradient for
        an input has a nan; on_start(i, name) precedes each record run and
        returns its start t0 (time.perf_counter_ns), on_record(name, t0) follows it,
        on_error(i, name) follows each one that raised.
        names: the grad_fn name of each scalar op code."""
        cdef int32_t i, k
        cdef uint8_t o
        cdef double part[2]
        self.busy = True
        try:
            for i in range(top, stop, -1):
                if not self.reached[i]:
                    continue
                o = self.op[i]
                if o & OP_FREED:
                    raise RuntimeError(SECOND_BACKWARD)
                o &= OP_CODE
                if o == OP_LEAF:
                    continue
                name = self.ctx[self.in0[i]].name if o == OP_PY else names[o]
                t0 = on_start(i, name) if on_start is not None else _clock()
                try:
                    if o == OP_PY:
                        self.run_node(i, retain, check_nan)
                    elif o == OP_GATHER:
                        self.run_gather(i)
                    else:
                        scalar_step(self.op, self.reached, self.in0, self.in1, self.d0, self.d1,
                                    self.adj, i, retain, part)
                        for k in range(2):
                            if check_nan and part[k] != part[k]:
                                raise RuntimeError(f"Function '{name}' returned nan values in "
                                                   f"its {k}th output.")
                except BaseException:
                    if on_error is not None:
                        on_error(i, name)
                    raise
                if on_record is not None:
                    on_record(name, t0)
        finally:
            self.busy = False
        return 0

    cdef int run_node(self, int32_t i, bint retain, bint check_nan, object post=None) except -1:
        """Array record i's backward, its gradients added to its inputs' (through
        post(grads) -> grads first, where its grad_fn has post hooks)."""
        cdef Node node = <Node>self.ctx[self.in0[i]]
        cdef int32_t s
        cdef Py_ssize_t k
        if node.backward is None:
            raise RuntimeError(SECOND_BACKWARD)
        for counter, version in node.saved:
            if counter.version != version:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been "
                    f"modified by an inplace operation: it is at version {counter.version}; "
                    f"expected version {version} instead (output of {node.name}). "
                    "Clone the tensor before modifying it in place.")
        owned = False
        if self.reached[i] == 2:    # a custom Function's record no gradient reached
            gout = None
        elif node.out_scalar:
            gout = np.array(self.adj[i], dtype=node.out_dtype)
        elif self.keep is not None and i in self.keep:
            gout = self.aadj[i]
        else:
            gout = self.aadj.pop(i)
            owned = i in self.owned and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>gout)
        if node.writes_grad:
            grads = node.backward(gout, owned)
            if owned:
                gout = None     # so a gradient written into it counts as fresh below
        else:
            grads = node.backward(gout)
        if post is not None:
            grads = post(grads)
        if check_nan:
            for k in range(len(node.in_slots)):
                if node.in_slots[k] >= 0 and grads[k] is not None and np.isnan(grads[k]).any():
                    raise RuntimeError(f"Function '{node.name}' returned nan values in its "
                                       f"{k}th output.")
        for k in range(len(node.in_slots)):
            s = node.in_slots[k]
            if s < 0:
                continue
            gk = grads[k]
            if gk is None:
                if not self.reached[s]:
                    self.mark_undefined(s)
                continue
            self.reached[s] = 1
            if node.in_scalar[k]:
                self.adj[s] += float(gk)
            else:
                gk = np.asarray(gk, dtype=node.in_dtypes[k])
                # an array only this call refers to (the backward's tuple and gk)
                # that owns its memory may be added into, and become .grad as is
                fresh = (Py_REFCNT(<PyObject *>gk) == 2 and cnp.PyArray_BASE(<cnp.ndarray>gk) == NULL
                         and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>gk)
                         and cnp.PyArray_ISWRITEABLE(<cnp.ndarray>gk))
                self.accumulate(s, gk, fresh)
        if not retain and node.saves:
            node.backward = None
            node.saved = ()
            node.derivative = None
            node.primal = None
            self.op[i] |= OP_FREED
        return 0

    cdef int mark_undefined(self, int32_t s) except -1:
        """A backward passed None, which PyTorch passes as an undefined gradient,
        to record s: the records it leads to through records no gradient has
        reached join self.undefined (PyTorch runs them: hooks on None, a custom
        Function's backward on zeros), and the custom Functions' records among
        them are marked reached 2, so that the sweep stops there."""
        cdef int32_t r
        cdef uint8_t o
        cdef Node node
        if self.undefined is None:
            self.undefined = set()
        todo = [s]
        while todo:
            r = todo.pop()
            if self.reached[r] or r in self.undefined:
                continue
            self.undefined.add(r)
            o = self.op[r] & OP_CODE
            if o == OP_PY:
                node = <Node>self.ctx[self.in0[r]]
                if node.function is not None:
                    self.reached[r] = 2
                todo.extend([x for x in node.in_slots if x >= 0])
            elif o != OP_LEAF:
                if self.in0[r] >= 0:
                    todo.append(self.in0[r])
                if o != OP_GATHER and self.in1[r] >= 0:
                    todo.append(self.in1[r])
        return 0

    cdef tuple scalar_grads(self, int32_t i):
        """The gradients reached scalar record i passes to its two inputs (None
        where it has none), for its grad_fn's post hooks (see scalar_step)."""
        cdef double gi = self.adj[i]
        cdef double d = self.d0[i]
        ga = gb = None
        if self.in0[i] >= 0:
            ga = d * gi if d != 0 or not MASKS[self.op[i]] else d
        if self.in1[i] >= 0:
            gb = self.d1[i] * gi
        return ga, gb

    cdef int add_scalar_grads(self, int32_t i, bint retain, object ga, object gb) except -1:
        """Scalar record i run with the gradients ga, gb (floats, or None: an
        undefined gradient) for its inputs."""
        cdef uint8_t o = self.op[i]
        cdef int32_t k, s
        for k in range(2):
            s = self.in0[i] if k == 0 else self.in1[i]
            gk = ga if k == 0 else gb
            if s < 0:
                continue
            if gk is None:
                if not self.reached[s]:
                    self.mark_undefined(s)
                continue
            self.adj[s] += <double>gk
            self.reached[s] = 1
        if not retain and SAVES[o]:
            self.op[i] = o | OP_FREED
        return 0

    cdef int accumulate(self, int32_t s, object g, bint fresh=False) except -1:
        prev = self.aadj.get(s)
        if prev is None:
            self.aadj[s] = g
            if fresh:
                self.owned.add(s)
        elif s in self.owned:
            np.add(prev, g, out=prev)
        else:
            total = prev + g
            # (numpy makes a scalar of two 0-d arrays: float16 0-d tensors are arrays)
            self.aadj[s] = total if type(total) is np.ndarray else np.asarray(total)
            self.owned.add(s)
        return 0

    cdef object own_adjoint(self, int32_t s, object shape, object dtype):
        """The adjoint array of slot s, allocated or copied so it may be written."""
        buf = self.aadj.get(s)
        if buf is None:
            buf = np.zeros(shape, dtype=dtype)
        elif s in self.owned:
            return buf
        else:
            buf = np.array(buf, dtype=dtype, order="C")
        self.aadj[s] = buf
        self.owned.add(s)
        return buf

    cdef int run_gather(self, int32_t i, object post=None) except -1:
        """A scalar read from an array: its gradient added at its place in the
        array's (post: see run_node; it gets and returns the whole array's)."""
        cdef int32_t s = self.in0[i], t
        cdef Node node
        if (post is None and self.hooks is None and (self.op[s] & OP_CODE) == OP_PY
                and (self.keep is None or s not in self.keep)):
            node = <Node>self.ctx[self.in0[s]]
            if node.stacks:
                t = node.in_slots[self.in1[i]]
                if t >= 0:
                    self.adj[t] += self.adj[i]
                    self.reached[t] = 1
                return 0
        shape, dtype = self.layout[s]
        if post is not None:
            g = np.zeros(shape, dtype)
            g.flat[self.in1[i]] = self.adj[i]
            g, = post((g,))
            if g is not None:
                self.accumulate(s, np.asarray(g, dtype=dtype))
                self.reached[s] = 1
            return 0
        cdef cnp.ndarray buf = self.own_adjoint(s, shape, dtype)
        if buf.descr.type_num == cnp.NPY_FLOAT64:
            (<double *>cnp.PyArray_DATA(buf))[self.in1[i]] += self.adj[i]
        else:
            (<float *>cnp.PyArray_DATA(buf))[self.in1[i]] += <float>self.adj[i]
        self.reached[s] = 1
        return 0

    cdef Graph retire(self):
        """After a backward that consumed every record: hand the buffers to a
        new graph (which becomes the thread's graph if this one was) and keep
        this one as an empty husk, so tensors still pointing here cost nothing."""
        cdef Graph g = Graph()
        g.op, g.in0, g.in1, g.d0, g.d1, g.val = self.op, self.in0, self.in1, self.d0, self.d1, self.val
        g.adj, g.reached = self.adj, self.reached
        g.cap, g.adj_cap = self.cap, self.adj_cap
        self.op = self.reached = NULL
        self.in0 = self.in1 = NULL
        self.d0 = self.d1 = self.val = self.adj = NULL
        self.cap = self.adj_cap = self.n = 0
        self.ctx = []
        self.leaves = []
        self.layout = {}
        self.params = {}
        self.nsaved = 0
        g.esaved, g.esaves = self.esaved, self.esaves
        self.esaved = self.esaves = None
        self.traces = None
        self.aadj = None
        self.owned = None
        self.dead = True
        global fastad_tls_graph
        if fastad_tls_graph == <PyObject *>self:
            _owner.graph = g
            fastad_tls_graph = <PyObject *>g
        return g


cdef int32_t scalar_sweep(Graph g, int32_t i, int32_t stop, bint retain, int *err) noexcept nogil:
    """Sweeps scalar records from i down; stops at the first reached array
    record (returned, for the caller to run with the GIL) or at stop."""
    cdef uint8_t *op = g.op
    cdef uint8_t *reached = g.reached
    cdef int32_t *in0 = g.in0
    cdef int32_t *in1 = g.in1
    cdef double *d0 = g.d0
    cdef double *d1 = g.d1
    cdef double *adj = g.adj
    cdef uint8_t o
    cdef double part[2]     # unused here: the compiler drops its stores
    while i > stop:
        if reached[i]:
            o = op[i]
            if o & OP_FREED:
                err[0] = 1
                return i
            if o == OP_PY or o == OP_GATHER:
                return i
            if o != OP_LEAF:
                scalar_step(op, reached, in0, in1, d0, d1, adj, i, retain, part)
        i -= 1
    return stop


cdef inline void scalar_step(uint8_t *op, uint8_t *reached, int32_t *in0, int32_t *in1,
                             double *d0, double *d1, double *adj, int32_t i, bint retain,
                             double *part) noexcept nogil:
    """The work of the reached scalar record i: its gradients for its two inputs
    (part, 0 where there is none) added to theirs."""
    cdef uint8_t o = op[i]
    cdef int32_t a = in0[i], b = in1[i]
    cdef double gi = adj[i]
    part[0] = part[1] = 0.0
    if a >= 0:
        # a masked-out input gets +0, never 0 * inf
        part[0] = d0[i] * gi if d0[i] != 0 or not MASKS[o] else d0[i]
        adj[a] += part[0]
        reached[a] = 1
    if b >= 0:
        part[1] = d1[i] * gi
        adj[b] += part[1]
        reached[b] = 1
    if not retain and SAVES[o]:
        op[i] = o | OP_FREED
