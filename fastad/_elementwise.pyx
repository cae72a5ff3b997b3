# cython: language_level=3
# distutils: language = c
"""The elementwise kernels of fastad: activations (one formula pair per row of
the op table, _formulas.pxi) and the elementwise losses (_loss_formulas.pxi),
forward and backward, with the 0-d ops of the tape (scalar_unary).

The op code is dispatched ONCE per block (``*_dispatch``); each branch calls the
``cdef inline`` loop ``ew_loop`` with a literal op code, so the C compiler
inlines the loop per call site, folds the op ``switch`` away and vectorises the
remaining straight-line body.  exp, expm1, log, log1p, tanh, sin, cos and erf
are branch-free polynomial implementations (csrc/fad_math.h) that vectorise
with plain SSE2 and keep IEEE inf/NaN semantics (no -ffast-math).  The loop
drivers are compiled once per ISA and picked at load time (csrc/fad_isa.h).
"""
cimport cython
from cython cimport floating
from libc.math cimport sin, cos, sqrt, fabs, NAN
from libc.stdlib cimport malloc, free
from libc.string cimport memset
cimport numpy as cnp
from fastad._runtime cimport (
    LANES, PREFETCH_AHEAD, SPILL_BYTES, SPILL_DOUBLES, _num_threads, _threshold, _stream_min,
    fad_prefetch, fad_stream_copy, fad_stream_fence, run_blocks, run_split, thread_share,
    _typenum, _arr)
from fastad._fmath cimport *
from fastad._opcodes cimport *

import numpy as np

cnp.import_array()

cdef extern from "csrc/fad_elementwise.h":
    const char* fad_isa_name() noexcept nogil


def _isa():
    """The instruction set of the loop drivers this CPU runs (csrc/fad_isa.h)."""
    return fad_isa_name().decode()


include "_formulas.pxi"
include "_loss_formulas.pxi"

# ---------------------------------------------------------------------------
# op codes and per-element dispatch (inlined with a literal op => folded)
# ---------------------------------------------------------------------------
cdef enum:
    K_ACT_FWD = 0
    K_ACT_BWD = 1
    K_LOSS_FWD = 2
    K_LOSS_GX = 3
    K_LOSS_GT = 4

cdef enum:
    L_MSE, L_L1, L_SMOOTH_L1, L_HUBER, L_BCE, L_BCE_LOGITS, L_KL_DIV, L_NUM


@cython.cdivision(True)
cdef inline floating ew_value(int kind, int op, floating v0, floating v1, floating v2,
                              floating v3, floating a, floating b) noexcept nogil:
    """kind/op are literals at every call site: the compiler folds this to one formula.
    ACT_FWD: v0=x (v1=slope for rrelu); ACT_BWD: v0=x, v1=y, v2=gy (v3=slope);
    LOSS_*: v0=x, v1=t, v2=gout, v3=pos_weight."""
    if kind == K_ACT_FWD or kind == K_ACT_BWD:
        return act_value(kind, op, v0, v1, v2, v3, a, b)
    if kind == K_LOSS_FWD:
        if op == L_MSE: return mse_forward(v0, v1)
        if op == L_L1: return l1_forward(v0, v1)
        if op == L_SMOOTH_L1: return smooth_l1_forward(v0, v1, a) if a != 0 else l1_forward(v0, v1)
        if op == L_HUBER: return huber_forward(v0, v1, a)
        if op == L_BCE: return bce_forward(v0, v1)
        if op == L_BCE_LOGITS: return bce_logits_forward_elem(v0, v1, v3)
        if op == L_KL_DIV: return kl_div_forward(v0, v1, a != 0)
    elif kind == K_LOSS_GX:
        if op == L_MSE: return mse_backward(v0, v1, v2)
        if op == L_L1: return l1_backward(v0, v1, v2)
        if op == L_SMOOTH_L1: return smooth_l1_backward(v0, v1, v2, a)
        if op == L_HUBER: return huber_backward(v0, v1, v2, a)
        if op == L_BCE: return bce_backward(v0, v1, v2)
        if op == L_BCE_LOGITS: return bce_logits_backward_elem(v0, v1, v3, v2)
        if op == L_KL_DIV: return kl_div_backward(v0, v1, v2, a != 0)
    elif kind == K_LOSS_GT:
        if op == L_MSE: return -mse_backward(v0, v1, v2)
        if op == L_L1: return -l1_backward(v0, v1, v2)
        if op == L_SMOOTH_L1: return -smooth_l1_backward(v0, v1, v2, a)
        if op == L_HUBER: return -huber_backward(v0, v1, v2, a)
        if op == L_BCE: return bce_target_backward(v0, v1, v2)
        if op == L_BCE_LOGITS: return bce_logits_target_backward(v0, v1, v3, v2)
        if op == L_KL_DIV: return kl_div_target_backward(v0, v1, v2, a != 0)
    return NAN


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.cdivision(True)
cdef inline void ew_loop(int kind, int op, const floating* p0, const floating* p1,
                         const floating* p2, const floating* p3, floating* out,
                         Py_ssize_t lo, Py_ssize_t hi, floating a, floating b) noexcept nogil:
    """The one elementwise loop body; unused inputs alias p0 (their loads are dead)."""
    cdef Py_ssize_t i, k
    cdef Py_ssize_t ahead = PREFETCH_AHEAD // sizeof(floating)
    if not ew_computes_long(kind, op):
        for i in range(lo, hi):
            out[i] = ew_value(kind, op, p0[i], p1[i], p2[i], p3[i], a, b)
        return
    # one line of each input prefetched per line of work: spread over the
    # arithmetic, the reads overlap it (whole pages at once stalled on the miss queue)
    i = lo
    while i + LANES <= hi:
        fad_prefetch(p0 + i + ahead, LANES * sizeof(floating))
        if p1 != p0:
            fad_prefetch(p1 + i + ahead, LANES * sizeof(floating))
        if p2 != p0:
            fad_prefetch(p2 + i + ahead, LANES * sizeof(floating))
        for k in range(i, i + LANES):
            out[k] = ew_value(kind, op, p0[k], p1[k], p2[k], p3[k], a, b)
        i += LANES
    if i < hi:
        ew_tail(kind, op, p0 + i, p1 + i, p2 + i, p3 + i, out + i, hi - i, a, b)
    if op == A_SIN or op == A_COS:
        trig_fixup(kind, op, p0, p2, out, lo, hi)


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.cdivision(True)
cdef inline void ew_tail(int kind, int op, const floating* p0, const floating* p1,
                         const floating* p2, const floating* p3, floating* out,
                         Py_ssize_t n, floating a, floating b) noexcept nogil:
    """The last n < LANES elements, through a whole LANES-wide block like the
    loop's body: the compiler contracts a formula into FMAs differently in its
    vector body and in a scalar remainder, and an element must get the same bits
    wherever it sits (a 0-d tensor is such a remainder; measured: gelu's and
    silu's gradients differed in the last bit for 1 value in 50)."""
    cdef floating b0[LANES]
    cdef floating b1[LANES]
    cdef floating b2[LANES]
    cdef floating b3[LANES]
    cdef floating bo[LANES]
    cdef Py_ssize_t k
    for k in range(LANES):          # the padding repeats the first element
        b0[k] = p0[k if k < n else 0]
        b1[k] = p1[k if k < n else 0]
        b2[k] = p2[k if k < n else 0]
        b3[k] = p3[k if k < n else 0]
    for k in range(LANES):
        bo[k] = ew_value(kind, op, b0[k], b1[k], b2[k], b3[k], a, b)
    for k in range(n):
        out[k] = bo[k]


@cython.cdivision(True)
cdef inline void trig_fixup(int kind, int op, const floating* x, const floating* gy,
                            floating* out, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Recompute with libm the sin/cos elements beyond the vector code's range
    (|x| > FAD_TRIG_LIMIT, NaN, inf): a scan of x in cache, rarely a call."""
    cdef Py_ssize_t i
    for i in range(lo, hi):
        if not (fabs(x[i]) < FAD_TRIG_LIMIT):
            if kind == K_ACT_FWD:
                out[i] = <floating>(sin(x[i]) if op == A_SIN else cos(x[i]))
            elif op == A_SIN:                 # d sin = cos
                out[i] = gy[i] * <floating>cos(x[i])
            else:                             # d cos = -sin
                out[i] = gy[i] * -<floating>sin(x[i])


cdef inline bint ew_computes_long(int kind, int op) noexcept nogil:
    if kind == K_ACT_FWD or kind == K_ACT_BWD:
        return act_computes_long(kind, op)
    return op == L_BCE or op == L_BCE_LOGITS or op == L_KL_DIV


cdef struct EwCtx:
    int kind
    int op
    int f64
    void* p0
    void* p1
    void* p2
    void* p3
    void* out
    double a
    double b
    bint stream        # the output is large: written with non-temporal stores
    double* partials   # not NULL: no output; sum of each SPILL block (index j // per) instead
    void* colsum       # not NULL (ew_cols_range): also the output's column sums
    Py_ssize_t rows, cols


@cython.boundscheck(False)
@cython.wraparound(False)
cdef void fill_nan(floating* out, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(lo, hi):
        out[i] = NAN


include "_dispatch.pxi"


@cython.cdivision(True)
cdef inline void loss_loops(int kind, int op, const floating* x, const floating* t,
                            const floating* g, const floating* pw, floating* out,
                            Py_ssize_t lo, Py_ssize_t hi, floating a, floating b) noexcept nogil:
    """The loop of loss op for one kind (a literal: inlined per kind, each loop folds)."""
    if op == L_MSE: ew_loop(kind, L_MSE, x, t, g, pw, out, lo, hi, a, b)
    elif op == L_L1: ew_loop(kind, L_L1, x, t, g, pw, out, lo, hi, a, b)
    elif op == L_SMOOTH_L1: ew_loop(kind, L_SMOOTH_L1, x, t, g, pw, out, lo, hi, a, b)
    elif op == L_HUBER: ew_loop(kind, L_HUBER, x, t, g, pw, out, lo, hi, a, b)
    elif op == L_BCE: ew_loop(kind, L_BCE, x, t, g, pw, out, lo, hi, a, b)
    elif op == L_BCE_LOGITS: ew_loop(kind, L_BCE_LOGITS, x, t, g, pw, out, lo, hi, a, b)
    elif op == L_KL_DIV: ew_loop(kind, L_KL_DIV, x, t, g, pw, out, lo, hi, a, b)


@cython.cdivision(True)
cdef inline void loss_dispatch(int kind, int op, const floating* x, const floating* t,
                               const floating* g, const floating* pw, floating* out,
                               Py_ssize_t lo, Py_ssize_t hi, floating a,
                               floating b) noexcept nogil:
    if kind == K_LOSS_FWD:
        loss_loops(K_LOSS_FWD, op, x, t, g, pw, out, lo, hi, a, b)
    elif kind == K_LOSS_GX:
        loss_loops(K_LOSS_GX, op, x, t, g, pw, out, lo, hi, a, b)
    elif kind == K_LOSS_GT:
        loss_loops(K_LOSS_GT, op, x, t, g, pw, out, lo, hi, a, b)


# ---- the loop drivers cloned per ISA (csrc/fad_elementwise.h, csrc/fad_isa.h) ----
cdef public void fad_act_fwd_f32(int op, const float* x, const float* s, float* y,
                                 Py_ssize_t lo, Py_ssize_t hi, float a, float b) noexcept nogil:
    act_fwd_dispatch(op, x, s, y, lo, hi, a, b)


cdef public void fad_act_fwd_f64(int op, const double* x, const double* s, double* y,
                                 Py_ssize_t lo, Py_ssize_t hi, double a, double b) noexcept nogil:
    act_fwd_dispatch(op, x, s, y, lo, hi, a, b)


cdef public void fad_act_bwd_f32(int op, const float* x, const float* y, const float* gy,
                                 const float* s, float* gx, Py_ssize_t lo, Py_ssize_t hi,
                                 float a, float b) noexcept nogil:
    act_bwd_dispatch(op, x, y, gy, s, gx, lo, hi, a, b)


cdef public void fad_act_bwd_f64(int op, const double* x, const double* y, const double* gy,
                                 const double* s, double* gx, Py_ssize_t lo, Py_ssize_t hi,
                                 double a, double b) noexcept nogil:
    act_bwd_dispatch(op, x, y, gy, s, gx, lo, hi, a, b)


cdef public void fad_loss_f32(int kind, int op, const float* x, const float* t, const float* g,
                              const float* pw, float* out, Py_ssize_t lo, Py_ssize_t hi,
                              float a, float b) noexcept nogil:
    loss_dispatch(kind, op, x, t, g, pw, out, lo, hi, a, b)


cdef public void fad_loss_f64(int kind, int op, const double* x, const double* t,
                              const double* g, const double* pw, double* out, Py_ssize_t lo,
                              Py_ssize_t hi, double a, double b) noexcept nogil:
    loss_dispatch(kind, op, x, t, g, pw, out, lo, hi, a, b)


cdef void ew_dispatch(EwCtx* c, Py_ssize_t off, void* out, Py_ssize_t n) noexcept nogil:
    """out[i] = op(inputs[off + i]) for i in [0, n)."""
    cdef Py_ssize_t item = 8 if c.f64 else 4
    cdef char* p0 = <char*>c.p0 + off * item
    cdef char* p1 = <char*>c.p1 + off * item
    cdef char* p2 = <char*>c.p2 + off * item
    cdef char* p3 = <char*>c.p3 + off * item
    if c.f64:
        if c.kind == K_ACT_FWD:
            fad_act_fwd_f64(c.op, <double*>p0, <double*>p3, <double*>out, 0, n, c.a, c.b)
        elif c.kind == K_ACT_BWD:
            fad_act_bwd_f64(c.op, <double*>p0, <double*>p1, <double*>p2, <double*>p3,
                            <double*>out, 0, n, c.a, c.b)
        else:
            fad_loss_f64(c.kind, c.op, <double*>p0, <double*>p1, <double*>p2, <double*>p3,
                         <double*>out, 0, n, c.a, c.b)
    else:
        if c.kind == K_ACT_FWD:
            fad_act_fwd_f32(c.op, <float*>p0, <float*>p3, <float*>out, 0, n,
                            <float>c.a, <float>c.b)
        elif c.kind == K_ACT_BWD:
            fad_act_bwd_f32(c.op, <float*>p0, <float*>p1, <float*>p2, <float*>p3,
                            <float*>out, 0, n, <float>c.a, <float>c.b)
        else:
            fad_loss_f32(c.kind, c.op, <float*>p0, <float*>p1, <float*>p2, <float*>p3,
                         <float*>out, 0, n, <float>c.a, <float>c.b)


@cython.cdivision(True)
cdef void ew_range(void* vctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef EwCtx* c = <EwCtx*>vctx
    cdef double spill[SPILL_DOUBLES]
    cdef Py_ssize_t item = 8 if c.f64 else 4
    cdef Py_ssize_t per = SPILL_BYTES // item, j, end
    if c.partials != NULL:
        # lo is a multiple of per (run_blocks' blocks are), so the blocks and
        # their sums are the same at any thread count
        j = lo
        while j < hi:
            end = j + per if j + per < hi else hi
            ew_dispatch(c, j, spill, end - j)
            c.partials[j // per] = (fad_row_sum(spill, end - j) if c.f64
                                    else fad_sum_as_doublef(<float*>spill, end - j))
            j = end
        return
    if not c.stream:
        ew_dispatch(c, lo, <char*>c.out + lo * item, hi - lo)
        return
    j = lo
    while j < hi:
        end = j + per if j + per < hi else hi
        ew_dispatch(c, j, spill, end - j)
        fad_stream_copy(<char*>c.out + j * item, spill, (end - j) * item)
        j = end
    fad_stream_fence()



# ---------------------------------------------------------------------------
# activations
# ---------------------------------------------------------------------------
cdef int _act_code(str name) except -1:
    try:
        return _ACT_CODE[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; "
                         f"expected one of {sorted(_ACT_CODE)}") from None


cdef void _ew_init(EwCtx* c, int kind, int op, int typenum, double a, double b):
    c.kind = kind; c.op = op; c.f64 = typenum == cnp.NPY_FLOAT64; c.a = a; c.b = b
    c.partials = NULL
    c.colsum = NULL


cdef inline void sum_rows_into(floating* total, const floating* row, Py_ssize_t n,
                               bint first) noexcept nogil:
    cdef Py_ssize_t j
    if first:
        for j in range(n):
            total[j] = row[j]
    else:
        for j in range(n):
            total[j] += row[j]


cdef void ew_cols_range(void* vctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Columns [lo, hi) of a (rows, cols) op, row after row, each row's output
    segment summed into colsum while it is in cache.  Rows are added in order from
    the first, as numpy's add.reduce over axis 0 adds them, so the sums do not
    depend on how the columns are split."""
    cdef EwCtx* c = <EwCtx*>vctx
    cdef Py_ssize_t item = 8 if c.f64 else 4, i, off
    for i in range(c.rows):
        off = i * c.cols + lo
        ew_dispatch(c, off, <char*>c.out + off * item, hi - lo)
        if c.f64:
            sum_rows_into(<double*>c.colsum + lo, <double*>c.out + off, hi - lo, i == 0)
        else:
            sum_rows_into(<float*>c.colsum + lo, <float*>c.out + off, hi - lo, i == 0)


@cython.cdivision(True)
cdef void _run_ew_cols(EwCtx* c) noexcept nogil:
    # blocks of whole 64-column groups: every element gets the same vector or
    # tail code path at any thread count
    cdef Py_ssize_t per = thread_share(c.cols, 64)
    if _num_threads <= 1 or c.rows * c.cols < _threshold or per >= c.cols:
        ew_cols_range(c, 0, c.cols)
    else:
        run_split(ew_cols_range, c, c.cols, per)


cdef inline void _run_ew(EwCtx* c, Py_ssize_t n) noexcept nogil:
    # Not for the exp/log/trig ops: their ordinary stores drain while the next
    # elements compute, and a separate streaming pass would not overlap
    # (measured, 2**24 float32: sigmoid forward 11.0 -> 12.3 ms streamed, relu 11.9 -> 8.3).
    c.stream = n * (8 if c.f64 else 4) >= _stream_min and not ew_computes_long(c.kind, c.op)
    run_blocks(ew_range, <void*>c, n, 1)


def activation_forward(str name, x, y, double a=0.0, double b=0.0):
    """y[i] = f(x[i]); x and y flat arrays of one dtype and equal size (y may be x)."""
    cdef int op = _act_code(name)
    cdef int t = _typenum(x, "x")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>x)
    cdef EwCtx c
    act_check_params(op, a, b)
    _ew_init(&c, K_ACT_FWD, op, t, a, b)
    c.p0 = _arr(x, "x", t, n, False)
    c.out = _arr(y, "y", t, n, True)
    c.p1 = c.p2 = c.p3 = c.p0
    with nogil:
        _run_ew(&c, n)


def activation_backward(str name, x, y, gy, gx, double a=0.0, double b=0.0, colsum=None):
    """gx[i] = gy[i] * f'(x[i]); x or y may be None when ACTIVATIONS[name]['saves'] allows.
    gx may be gy.  With colsum (1-D, length cols), gx is read as rows of cols
    elements and colsum receives its column sums (numpy's add.reduce(gx, 0)) from
    the same pass."""
    cdef int op = _act_code(name)
    cdef int t = _typenum(gy, "gy")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>gy)
    cdef EwCtx c
    act_check_params(op, a, b)
    op = act_backward_code(op, a, y is not None)
    _ew_init(&c, K_ACT_BWD, op, t, a, b)
    c.out = _arr(gx, "gx", t, n, True)
    if (op == A_SIN or op == A_COS) and _arr(gy, "gy", t, n, False) == c.out:
        gy = gy.copy()    # trig_fixup reads gy after the vector pass wrote gx
    c.p2 = _arr(gy, "gy", t, n, False)
    if act_reads_x(op) and x is None:
        raise ValueError(f"{name} backward needs x")
    if act_reads_y(op) and y is None:
        raise ValueError(f"{name} backward needs y")
    c.p0 = _arr(x, "x", t, n, False) if x is not None else c.p2
    c.p1 = _arr(y, "y", t, n, False) if y is not None else c.p2
    c.p3 = c.p2
    if colsum is None:
        with nogil:
            _run_ew(&c, n)
        return
    c.colsum = _arr(colsum, "colsum", t, -1, True)
    if cnp.PyArray_NDIM(<cnp.ndarray>colsum) != 1:
        raise ValueError(f"colsum must be 1-D, got shape {colsum.shape}")
    c.cols = cnp.PyArray_SIZE(<cnp.ndarray>colsum)
    if c.cols == 0 and n == 0:
        return
    if c.cols == 0 or n % c.cols:
        raise ValueError(f"{n} elements are not rows of colsum's {c.cols}")
    c.rows = n // c.cols
    c.stream = False
    with nogil:
        if c.rows == 0:
            memset(c.colsum, 0, c.cols * (8 if c.f64 else 4))
        else:
            _run_ew_cols(&c)


cdef bint backward_reads_x(int op, double a) noexcept nogil:
    """Whether op's gradient kernel, for parameter a, reads the op's input."""
    return act_reads_x(act_backward_code(op, a, True))


cdef int scalar_unary(int op, bint f64, double x, double a, double b, double* y,
                      double* d) noexcept nogil:
    """A 0-d op for the tape: y = f(x) and d = f'(x) (its backward with gy = 1),
    through the same loops as the array kernels, so a 0-d tensor gets the bits of
    the same value inside an array.  op is a table row's code; -1 otherwise."""
    cdef float xf = <float>x, yf, gf, onef = 1
    cdef double one = 1
    if op < 0 or op >= A_ROWS or op == A_RRELU:
        return -1
    cdef int bop = act_backward_code(op, a, True)
    if f64:
        fad_act_fwd_f64(op, &x, &x, y, 0, 1, a, b)
        fad_act_bwd_f64(bop, &x, y, &one, &x, d, 0, 1, a, b)
    else:
        fad_act_fwd_f32(op, &xf, &xf, &yf, 0, 1, <float>a, <float>b)
        fad_act_bwd_f32(bop, &xf, &yf, &onef, &xf, &gf, 0, 1, <float>a, <float>b)
        y[0] = yf
        d[0] = gf
    return 0


cdef Py_ssize_t _rrelu_op(EwCtx* c, int kind, x, slopes) except -1:
    """c = rrelu's forward or backward (kind) over x with its slopes; returns x's size."""
    cdef int t = _typenum(x, "x")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>x)
    _ew_init(c, kind, A_RRELU, t, 0.0, 0.0)
    c.p0 = c.p1 = c.p2 = _arr(x, "x", t, n, False)
    c.p3 = _arr(slopes, "slopes", t, n, False)
    return n


def rrelu_forward(x, slopes, y):
    """y = x if x >= 0 else x * slope (slopes drawn by the engine, same size as x)."""
    cdef EwCtx c
    cdef Py_ssize_t n = _rrelu_op(&c, K_ACT_FWD, x, slopes)
    c.out = _arr(y, "y", cnp.NPY_FLOAT64 if c.f64 else cnp.NPY_FLOAT32, n, True)
    with nogil:
        _run_ew(&c, n)


def rrelu_backward(x, slopes, gy, gx):
    """gx = gy * (1 if x > 0 else slope)  (PyTorch: noise = slope where x <= 0)."""
    cdef EwCtx c
    cdef Py_ssize_t n = _rrelu_op(&c, K_ACT_BWD, x, slopes)
    cdef int t = cnp.NPY_FLOAT64 if c.f64 else cnp.NPY_FLOAT32
    c.p2 = _arr(gy, "gy", t, n, False)
    c.out = _arr(gx, "gx", t, n, True)
    with nogil:
        _run_ew(&c, n)


# ---------------------------------------------------------------------------
# elementwise losses
# ---------------------------------------------------------------------------
cdef dict _LOSS_CODE = {
    "mse": L_MSE, "l1": L_L1, "smooth_l1": L_SMOOTH_L1, "huber": L_HUBER,
    "binary_cross_entropy": L_BCE, "binary_cross_entropy_with_logits": L_BCE_LOGITS,
    "kl_div": L_KL_DIV,
}

LOSSES = {
    "mse": {"params": ()},
    "l1": {"params": ()},
    "smooth_l1": {"params": (("beta", 1.0),)},
    "huber": {"params": (("delta", 1.0),)},
    "binary_cross_entropy": {"params": ()},
    "binary_cross_entropy_with_logits": {"params": ()},
    "kl_div": {"params": (("log_target", 0.0),)},
}


cdef int _loss_code(str name) except -1:
    try:
        return _LOSS_CODE[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; expected one of {sorted(_LOSS_CODE)}") from None




cdef void* _pos_weight(object pw, int t, Py_ssize_t n, list keep) except NULL:
    """pos_weight or, when None, a buffer of ones (bce_logits formula uses it)."""
    if pw is not None:
        return _arr(pw, "pos_weight", t, n, False)
    ones = np.ones(n, dtype=np.float64 if t == cnp.NPY_FLOAT64 else np.float32)
    keep.append(ones)
    return _arr(ones, "pos_weight", t, n, False)


cdef _loss_fwd(int op, x, t, pw, out, double a, double b):
    """Per-element losses into out; with out None, their sum (a float) instead."""
    cdef int tn = _typenum(x, "x")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>x)
    cdef Py_ssize_t per = SPILL_BYTES // (8 if tn == cnp.NPY_FLOAT64 else 4), k
    cdef EwCtx c
    cdef list keep = []
    cdef double total = 0
    _ew_init(&c, K_LOSS_FWD, op, tn, a, b)
    c.p0 = _arr(x, "x", tn, n, False)
    c.p1 = _arr(t, "t", tn, n, False)
    c.p2 = c.p0
    c.p3 = _pos_weight(pw, tn, n, keep) if op == L_BCE_LOGITS else c.p0
    if out is not None:
        c.out = _arr(out, "out", tn, n, True)
        with nogil:
            _run_ew(&c, n)
        return None
    c.out = NULL
    c.partials = <double*>malloc(((n + per - 1) // per + 1) * sizeof(double))
    if c.partials == NULL:
        raise MemoryError()
    with nogil:
        _run_ew(&c, n)
        for k in range((n + per - 1) // per):
            total += c.partials[k]
    free(c.partials)
    return total


cdef _loss_bwd(int op, x, t, pw, gout, gx, gt, double a, double b):
    cdef int tn = _typenum(x, "x")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>x)
    cdef EwCtx c
    cdef list keep = []
    _ew_init(&c, K_LOSS_GX, op, tn, a, b)
    c.p0 = _arr(x, "x", tn, n, False)
    c.p1 = _arr(t, "t", tn, n, False)
    c.p2 = _arr(gout, "gout", tn, n, False)
    c.p3 = _pos_weight(pw, tn, n, keep) if op == L_BCE_LOGITS else c.p0
    cdef void* gxp = _arr(gx, "gx", tn, n, True) if gx is not None else NULL
    cdef void* gtp = _arr(gt, "gt", tn, n, True) if gt is not None else NULL
    with nogil:
        if gtp != NULL:          # target grad first: gx may alias gout, gt may not
            c.kind = K_LOSS_GT
            c.out = gtp
            _run_ew(&c, n)
        if gxp != NULL:
            c.kind = K_LOSS_GX
            c.out = gxp
            _run_ew(&c, n)


def loss_forward(str name, x, t, out, double a=0.0, double b=0.0):
    """Per-element loss into out (x, t, out: same dtype and size).  With out None,
    returns the sum of the losses instead, accumulated in double in an order that
    does not depend on the thread count."""
    return _loss_fwd(_loss_code(name), x, t, None, out, a, b)


def loss_backward(str name, x, t, gout, gx, gt, double a=0.0, double b=0.0):
    """gx (and gt when not None) from the per-element upstream gradient gout."""
    _loss_bwd(_loss_code(name), x, t, None, gout, gx, gt, a, b)


def bce_logits_forward(x, t, pos_weight, out):
    """Stable BCE-with-logits; pos_weight None or already broadcast to x's shape
    (out None: the sum, as loss_forward)."""
    return _loss_fwd(L_BCE_LOGITS, x, t, pos_weight, out, 0.0, 0.0)


def bce_logits_backward(x, t, pos_weight, gout, gx, gt=None):
    _loss_bwd(L_BCE_LOGITS, x, t, pos_weight, gout, gx, gt, 0.0, 0.0)
