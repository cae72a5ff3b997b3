# The reverse-mode tape: one record per differentiable op, in contiguous C arrays.
#
# A record is (op code, two input slots, two partial derivatives, its value).
# Scalar ops store their local partials at record time, so their backward is
# one multiply-add per input; a record with one operand keeps what its
# derivative needs in d1 (the c of x ** c and c / x, an activation's first
# parameter; x * c and x / c have it in d0 already), and every scalar
# record its output value in val, so that a recorded (create_graph) backward
# can differentiate it again.  Ops over arrays are OP_PY records whose backward
# is a Node object (saved buffers plus a vector-Jacobian rule) kept in Graph.ctx.
# Slot == record index: a leaf gets an OP_LEAF record the first time an op on
# this graph uses it.
from libc.stdint cimport int32_t, int64_t, uint8_t
from fastad._opcodes cimport A_ROWS

cdef enum:
    OP_LEAF = 0
    OP_PY = 1
    OP_ADD = 2
    OP_SUB = 3
    OP_RSUB = 4
    OP_MUL = 5
    OP_DIV = 6
    OP_POW = 7
    OP_RDIV = 8       # c / x for a number c: d0 = -c / x**2, d1 = c (PyTorch's MulBackward0)
    OP_CLONE = 9
    OP_GATHER = 10    # a scalar read from an array: in0 = array slot, in1 = flat index
    OP_ACT = 11       # OP_ACT + code: an elementwise op of the table (fastad/opdefs.py)
    OP_COUNT = OP_ACT + A_ROWS
    # high bit of an op byte: the record's saved values were freed by a backward
    OP_FREED = 0x80
    # a scalar record whose value is float64 (else float32): the dtype a
    # recorded backward gives the record's handle; never set on OP_LEAF, OP_PY
    # or OP_GATHER records, so the sweep's tests of those codes stay exact
    OP_F64 = 0x40
    OP_CODE = 0x3F


cdef class Node:
    # The backward half of an op over arrays: grads = backward(grad_output)
    # returns one gradient (shaped like that input) or None per input.  A node
    # with writes_grad is called backward(grad_output, owned): owned says the
    # sweep allocated grad_output and nothing else refers to it, so backward may
    # overwrite it (and return it as a gradient).
    cdef readonly str name
    cdef object backward
    cdef tuple in_slots      # int slot per input, -1 where no gradient flows
    cdef tuple in_scalar     # True where the input's adjoint lives inline (0-d float)
    cdef tuple in_dtypes     # numpy dtype per input, to cast its gradient
    cdef bint out_scalar
    cdef object out_dtype
    cdef tuple saved         # ((tensor, version), ...): checked before backward runs
    cdef bint saves          # whether a backward without retain_graph frees something
    cdef bint writes_grad
    # the op's derivative in fastad ops, fn(grad, inputs, result) -> one gradient
    # tensor or None per input (derivatives.yaml style), for a backward that is
    # itself recorded; primal: (input arrays, their dtype codes, result array, its
    # dtype code), the values fn is evaluated at.  None where the op has no
    # derivative formula yet.
    cdef readonly object derivative
    cdef readonly tuple primal
    # a custom Function's record: its fastad.autograd.function._Node, whose
    # backward runs even where no gradient reaches the record (PyTorch calls it
    # with zeros or None); None for every other op
    cdef readonly object function
    # an output of a custom Function with several outputs: a view of the record
    # in_slots[0], whose grad_fn it shares
    cdef readonly bint function_output
    # output element k is input k (a 1-D stack of 0-d inputs): the sweep passes
    # the gradient of a read of element k (OP_GATHER) straight to input k
    cdef readonly bint stacks


cdef class Graph:
    cdef int32_t n, cap, adj_cap
    cdef uint8_t *op
    cdef int32_t *in0
    cdef int32_t *in1
    cdef double *d0
    cdef double *d1
    cdef double *val         # each scalar record's output value
    cdef double *adj
    cdef uint8_t *reached
    cdef readonly int64_t gid
    cdef list ctx
    cdef list leaves
    cdef dict aadj           # slot -> ndarray adjoint, alive during one backward
    cdef object keep         # slots whose array adjoint autograd.grad reads after the sweep
    cdef set owned           # slots whose adjoint array the sweep allocated (safe to add into)
    cdef dict layout         # array slot read by OP_GATHER -> (shape, numpy dtype)
    cdef dict params         # record -> (a, b) of a 0-d op of the table with two parameters
    # the element views (y[i]) whose values scalar records saved, checked before a
    # backward that runs those records: save k < nsaved is the element's version
    # counter esaved[k] and (record, version then, dtype code) esaves[3k:3k+3]
    # (an int64 cpython array).  Both are handed from graph to graph, and the
    # entries past nsaved left as they are (less work than emptying them).
    cdef Py_ssize_t nsaved
    cdef list esaved
    cdef object esaves
    # slot -> the hooks and retained .grad of the non-leaf tensor recorded there
    # (fastad._tensor's _Hooks; kept by the graph, as PyTorch keeps them on the
    # grad_fn), or None while no non-leaf of this graph has any
    cdef dict hooks
    cdef readonly bint dead
    # an array of an array record holds FAD_POOL_MIN bytes or more: a sweep
    # allocates through fastad's pool of recycled blocks (_tensor's _pool_on)
    cdef bint large
    cdef bint busy           # a sweep is running (possibly without the GIL)
    # record -> the forward call's stack, kept while anomaly mode is on (else None)
    cdef dict traces
    # the records a gradient that PyTorch passes as undefined (a backward's None)
    # reaches during one backward, or None: their hooks run on None, and a custom
    # Function's record among them (marked reached 2) runs its backward
    cdef set undefined

    cdef int grow(self) except -1
    cdef void reset(self) noexcept
    cdef int32_t push_node(self, Node node) except -1
    cdef int prepare(self, int32_t top) except -1
    cdef int sweep(self, int32_t top, int32_t stop, bint retain) except -1
    cdef int _sweep_from(self, int32_t i, int32_t stop, bint retain) except -1
    cdef int run_node(self, int32_t i, bint retain, bint check_nan, object post=*) except -1
    cdef int mark_undefined(self, int32_t s) except -1
    cdef tuple scalar_grads(self, int32_t i)
    cdef int add_scalar_grads(self, int32_t i, bint retain, object ga, object gb) except -1
    cdef int debug_sweep(self, int32_t top, int32_t stop, bint retain, bint check_nan,
                         dict names, object on_start, object on_record, object on_error) except -1
    cdef int run_gather(self, int32_t i, object post=*) except -1
    cdef object own_adjoint(self, int32_t s, object shape, object dtype)
    cdef int accumulate(self, int32_t s, object g, bint fresh=*) except -1
    cdef Graph retire(self)


cdef inline int32_t graph_push(Graph g, uint8_t op, int32_t a, int32_t b,
                               double da, double db, double v) except -1:
    cdef int32_t i = g.n
    if i == g.cap:
        g.grow()
    g.op[i] = op
    g.in0[i] = a
    g.in1[i] = b
    g.d0[i] = da
    g.d1[i] = db
    g.val[i] = v
    g.n = i + 1
    return i


cdef Graph current_graph()
cdef Graph fresh_graph()
cdef Graph swap_graph(Graph g)
cdef bint grad_enabled() noexcept nogil
cdef bint set_grad_enabled_c(bint on) noexcept nogil
