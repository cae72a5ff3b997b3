# cython: language_level=3
# distutils: language = c
"""The row kernels of fastad: softmax and log_softmax over the last axis, cross
entropy (class indices or probabilities), nll, prelu, layer_norm and training
batch_norm, forward and backward, and max pooling's windows over an image's planes.
One row is computed by one thread, in one order, so results do not depend on
the thread count; the loop drivers are compiled once per ISA (csrc/fad_isa.h).
"""
cimport cython
from cython cimport floating
from libc.stdint cimport int64_t
from libc.stdlib cimport malloc, free
cimport numpy as cnp
from fastad._runtime cimport (
    LANES, ROW_SPILL_BYTES, ROW_SPILL_DOUBLES, _stream_min, fad_prefetch, fad_stream_copy,
    fad_stream_fence, range_fn, run_blocks, run_split, _typenum, _arr, _matrix)
from fastad._fmath cimport f_exp, f_log, fad_row_maxf, fad_row_max, fad_row_dotf, fad_row_dot
from fastad._fmath cimport fad_row_sumf, fad_row_sum

import numpy as np

cnp.import_array()

cdef extern from "csrc/fad_rows.h":
    const char* fad_isa_name() noexcept nogil
    ctypedef struct RowCtx "fad_row_ctx":
        int op
        int f64
        Py_ssize_t cols
        Py_ssize_t channels
        void* a            # input matrix (x / y / lsm / logits)
        void* b            # second matrix (gy / target probs)
        void* out          # output matrix
        void* w            # class weights (C,) or NULL / prelu weight
        const int64_t* target
        int64_t ignore
        double ls          # label smoothing
        double scale       # gradient scale for mean/sum
        void* gvec         # per-row gradient (reduction='none') or NULL
        double* row_loss   # per-row loss output
        double* row_aux    # per-row partial sums (prelu gw)
        bint stream        # the output is large: rows written with non-temporal stores


def _isa():
    """The instruction set of the loop drivers this CPU runs (csrc/fad_isa.h)."""
    return fad_isa_name().decode()


cdef enum:
    R_SOFTMAX_FWD, R_SOFTMAX_BWD, R_LSM_FWD, R_LSM_BWD, R_CE_FWD, R_CE_BWD,
    R_CEP_FWD, R_CEP_BWD, R_NLL_BWD, R_PRELU_FWD, R_PRELU_BWD


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.cdivision(True)
cdef inline floating row_log_softmax(const floating* x, floating* y, Py_ssize_t C, bint log_out,
                                     const floating* next_row) noexcept nogil:
    """Writes softmax (or log_softmax) of row x into y; returns max + log(sum).
    next_row (or NULL) is prefetched while the exps are computed."""
    cdef Py_ssize_t j
    cdef floating m = row_max(x, C)
    cdef floating s, lse, inv
    if log_out:
        s = row_sum_exp(x, m, NULL, C, next_row)
        lse = f_log(s)
        for j in range(C):
            y[j] = (x[j] - m) - lse
        return m + lse
    s = row_sum_exp(x, m, y, C, next_row)
    inv = <floating>1 / s
    for j in range(C):
        y[j] = y[j] * inv
    return m + f_log(s)


cdef enum:
    SHORT_BLOCK = 1024      # elements of short rows whose exps run as one flat loop


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.cdivision(True)
cdef inline void short_rows_log_softmax(const floating* x, floating* y, Py_ssize_t rows,
                                        Py_ssize_t C, bint log_out) noexcept nogil:
    """row_log_softmax of `rows` rows of C < LANES columns (class logits), at most
    SHORT_BLOCK elements: the exps of all the rows run as one vector loop instead
    of C scalar ones per row (softmax of (100, 10) float32: 3.3 -> 1.7 us).  The
    flat loop covers whole LANES-blocks (padding computed and dropped), so every
    element goes through the same vector code whatever block it is in."""
    cdef double shifted_buf[SHORT_BLOCK + LANES]
    cdef double e_buf[SHORT_BLOCK + LANES]
    cdef floating* shifted = <floating*>shifted_buf
    cdef floating* e = <floating*>e_buf
    cdef Py_ssize_t n = rows * C, r, j, k, kb
    cdef floating m, s, lse, inv
    for r in range(rows):
        m = row_max(x + r * C, C)
        for j in range(C):
            shifted[r * C + j] = x[r * C + j] - m
    for k in range(n, (n + LANES - 1) // LANES * LANES):
        shifted[k] = 0
    kb = 0
    while kb < n:
        for k in range(LANES):
            e[kb + k] = f_exp(shifted[kb + k])
        kb += LANES
    for r in range(rows):
        s = 0
        for j in range(C):
            s = s + e[r * C + j]
        if log_out:
            lse = f_log(s)
            for j in range(C):
                y[r * C + j] = shifted[r * C + j] - lse
        else:
            inv = <floating>1 / s
            for j in range(C):
                y[r * C + j] = e[r * C + j] * inv


@cython.boundscheck(False)
@cython.wraparound(False)
cdef inline floating row_max(const floating* x, Py_ssize_t C) noexcept nogil:
    """max of the row; NaN if the row holds a NaN (as PyTorch)."""
    if floating is float:
        return fad_row_maxf(x, C)
    else:
        return fad_row_max(x, C)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef inline floating row_sum_exp(const floating* x, floating m, floating* y, Py_ssize_t C,
                                 const floating* next_row) noexcept nogil:
    """sum of exp(x - m) over the row, also written to y when y is not NULL.
    The sum keeps LANES partial results, combined in a fixed order: they
    vectorise with the exps, and a row is always reduced by one thread, so the
    result does not depend on the thread count.
    A line of next_row (when not NULL) is prefetched per LANES elements: spread
    over the exps, the reads overlap the arithmetic (prefetching the whole row at
    once stalled on the full miss queues instead)."""
    cdef floating part[LANES]
    cdef floating e, s
    cdef Py_ssize_t j = 0, k
    for k in range(LANES):
        part[k] = 0
    while j + LANES <= C:
        if next_row != NULL:
            fad_prefetch(next_row + j, LANES * sizeof(floating))
        for k in range(LANES):
            e = f_exp(x[j + k] - m)
            if y != NULL:
                y[j + k] = e
            part[k] = part[k] + e
        j += LANES
    s = 0
    for k in range(LANES):
        s = s + part[k]
    while j < C:
        e = f_exp(x[j] - m)
        if y != NULL:
            y[j] = e
        s = s + e
        j += 1
    return s


cdef inline void row_prefetch_pair(const floating* p, const floating* q,
                                   Py_ssize_t j) noexcept nogil:
    """One line of each of the next row's inputs (either may be NULL), at column j:
    called per LANES elements, the reads are spread over the row's arithmetic."""
    if p != NULL:
        fad_prefetch(p + j, LANES * sizeof(floating))
    if q != NULL:
        fad_prefetch(q + j, LANES * sizeof(floating))


cdef inline floating row_dot(const floating* a, const floating* b, Py_ssize_t C) noexcept nogil:
    """sum of a[j] * b[j] over the row (b NULL: sum of a)."""
    if floating is float:
        return fad_row_dotf(a, b, C) if b != NULL else fad_row_sumf(a, C)
    else:
        return fad_row_dot(a, b, C) if b != NULL else fad_row_sum(a, C)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef inline void row_softmax_backward(const floating* y, const floating* gy, floating* o,
                                      Py_ssize_t C, bint log_in,
                                      const floating* next_row) noexcept nogil:
    """A row of softmax's gradient, o = y * (gy - sum(gy * y)), or (log_in: y holds
    log-probabilities) log_softmax's, o = gy - exp(y) * sum(gy).  log_in is a
    literal at each call (the branches fold); next_row as row_sum_exp's."""
    cdef floating s = row_dot(gy, NULL, C) if log_in else row_dot(gy, y, C)
    cdef Py_ssize_t j = 0, k, end
    while j < C:
        end = j + LANES if j + LANES < C else C
        row_prefetch_pair(next_row, gy + C if next_row != NULL else NULL, j)
        if log_in:
            for k in range(j, end):
                o[k] = gy[k] - f_exp(y[k]) * s
        else:
            for k in range(j, end):
                o[k] = y[k] * (gy[k] - s)
        j = end


cdef inline bint row_prefetch_spread(int op) noexcept nogil:
    """Row ops that prefetch the next row themselves, a line at a time."""
    return op in (R_SOFTMAX_FWD, R_LSM_FWD, R_CE_FWD, R_CEP_FWD, R_SOFTMAX_BWD, R_LSM_BWD)


cdef inline bint row_is_softmax_forward(int op) noexcept nogil:
    return op in (R_SOFTMAX_FWD, R_LSM_FWD, R_CE_FWD, R_CEP_FWD)


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.cdivision(True)
cdef inline void rows_impl(RowCtx* c, const floating* A, const floating* B, floating* O,
                    const floating* W, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t C = c.cols, i, j, k, end
    cdef const floating* a
    cdef const floating* nxt
    cdef const floating* bb
    cdef floating* o
    cdef floating s, p, wt, coef_t, coef_s, wsum, ls, scale, q
    cdef double acc, acc2
    cdef int64_t t
    # a streamed row is computed in L1 (`spill`), then written out whole
    cdef double spill_buf[ROW_SPILL_DOUBLES]
    cdef floating* spill = <floating*>spill_buf
    cdef bint stream = c.stream and C * <Py_ssize_t>sizeof(floating) <= ROW_SPILL_BYTES
    # short rows of a softmax-family forward: their softmax is computed a block of
    # rows at a time, written straight to O, before the per-row work below
    cdef bint short_rows = C < LANES and row_is_softmax_forward(c.op)
    cdef Py_ssize_t block_end = lo
    if short_rows:
        stream = False
    ls = <floating>c.ls
    for i in range(lo, hi):
        a = A + i * C
        o = spill if stream else O + i * C
        if short_rows and i == block_end:
            block_end = i + SHORT_BLOCK // C if i + SHORT_BLOCK // C < hi else hi
            short_rows_log_softmax(a, o, block_end - i, C, c.op != R_SOFTMAX_FWD)
        nxt = a + C if i + 1 < hi else NULL
        if nxt != NULL and not row_prefetch_spread(c.op):
            fad_prefetch(nxt, C * sizeof(floating))
        if c.op == R_SOFTMAX_FWD:
            if not short_rows:
                row_log_softmax(a, o, C, False, nxt)
        elif c.op == R_LSM_FWD:
            if not short_rows:
                row_log_softmax(a, o, C, True, nxt)
        elif c.op == R_SOFTMAX_BWD:          # a = y, B = gy
            row_softmax_backward(a, B + i * C, o, C, False, nxt)
        elif c.op == R_LSM_BWD:              # a = y (log-probs), B = gy
            row_softmax_backward(a, B + i * C, o, C, True, nxt)
        elif c.op == R_CE_FWD:               # a = logits, O = lsm out
            if not short_rows:
                row_log_softmax(a, o, C, True, nxt)
            t = c.target[i]
            if t == c.ignore:
                c.row_loss[i] = 0
                c.row_aux[i] = 0
            else:
                wt = W[t] if W != NULL else 1
                acc = -<double>wt * o[t] * (1 - c.ls)
                if c.ls > 0:
                    acc2 = 0
                    if W != NULL:
                        for j in range(C):
                            acc2 -= W[j] * o[j]
                    else:
                        for j in range(C):
                            acc2 -= o[j]
                    acc += acc2 * (c.ls / C)
                c.row_loss[i] = acc
                c.row_aux[i] = wt
        elif c.op == R_CE_BWD:               # a = lsm, O = glogits
            t = c.target[i]
            if t == c.ignore:
                for j in range(C):
                    o[j] = 0
            else:
                scale = <floating>c.scale if c.gvec == NULL else (<floating*>c.gvec)[i]
                wt = W[t] if W != NULL else 1
                coef_t = scale * wt * (<floating>1 - ls)
                coef_s = scale * (ls / C)
                if ls > 0:
                    if W != NULL:
                        wsum = 0
                        for j in range(C):
                            wsum = wsum + W[j]
                        for j in range(C):
                            p = f_exp(a[j])
                            o[j] = coef_t * p + coef_s * (wsum * p - W[j])
                    else:
                        for j in range(C):
                            p = f_exp(a[j])
                            o[j] = coef_t * p + coef_s * (C * p - <floating>1)
                else:
                    for j in range(C):
                        o[j] = coef_t * f_exp(a[j])
                o[t] = o[t] - coef_t
        elif c.op == R_CEP_FWD:              # a = logits, B = target probs, O = lsm
            bb = B + i * C
            if not short_rows:
                row_log_softmax(a, o, C, True, nxt)
            acc = 0
            for j in range(C):
                q = bb[j] * (<floating>1 - ls) + ls / C if ls > 0 else bb[j]
                if W != NULL:
                    acc -= o[j] * q * W[j]
                else:
                    acc -= o[j] * q
            c.row_loss[i] = acc
        elif c.op == R_CEP_BWD:              # a = lsm, B = target probs, O = glogits
            bb = B + i * C
            scale = <floating>c.scale if c.gvec == NULL else (<floating*>c.gvec)[i]
            s = 0
            for j in range(C):
                q = bb[j] * (<floating>1 - ls) + ls / C if ls > 0 else bb[j]
                s = s + (q * W[j] if W != NULL else q)
            for j in range(C):
                q = bb[j] * (<floating>1 - ls) + ls / C if ls > 0 else bb[j]
                if W != NULL:
                    q = q * W[j]
                o[j] = scale * (f_exp(a[j]) * s - q)
        elif c.op == R_NLL_BWD:              # O = glogp
            for j in range(C):
                o[j] = 0
            t = c.target[i]
            if t != c.ignore:
                scale = <floating>c.scale if c.gvec == NULL else (<floating*>c.gvec)[i]
                wt = W[t] if W != NULL else 1
                o[t] = -wt * scale
        elif c.op == R_PRELU_FWD:            # row i = (outer, channel); W = weight
            wt = W[i % c.channels] if c.channels > 1 else W[0]
            for j in range(C):
                o[j] = a[j] if a[j] > 0 else wt * a[j]
        elif c.op == R_PRELU_BWD:            # a = x, B = gy, O = gx; row_aux = gw partial
            bb = B + i * C
            wt = W[i % c.channels] if c.channels > 1 else W[0]
            acc = 0
            for j in range(C):
                if a[j] > 0:
                    o[j] = bb[j]
                else:
                    o[j] = wt * bb[j]
                    acc += <double>(a[j] * bb[j])
            c.row_aux[i] = acc
        if stream:
            fad_stream_copy(O + i * C, spill, C * sizeof(floating))
    if stream:
        fad_stream_fence()


# the loop drivers cloned per ISA (csrc/fad_rows.h, csrc/fad_isa.h)
cdef public void fad_rows_f32(RowCtx* c, const float* A, const float* B, float* O,
                              const float* W, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    rows_impl(c, A, B, O, W, lo, hi)


cdef public void fad_rows_f64(RowCtx* c, const double* A, const double* B, double* O,
                              const double* W, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    rows_impl(c, A, B, O, W, lo, hi)


cdef void rows_range(void* vctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef RowCtx* c = <RowCtx*>vctx
    if c.f64:
        fad_rows_f64(c, <const double*>c.a, <const double*>c.b, <double*>c.out,
                     <const double*>c.w, lo, hi)
    else:
        fad_rows_f32(c, <const float*>c.a, <const float*>c.b, <float*>c.out,
                     <const float*>c.w, lo, hi)


cdef inline void _run_rows(RowCtx* c, Py_ssize_t rows) noexcept nogil:
    c.stream = rows * c.cols * (8 if c.f64 else 4) >= _stream_min
    run_blocks(rows_range, c, rows, c.cols)


cdef void _row_init(RowCtx* c, int op, int typenum, Py_ssize_t cols):
    c.op = op; c.f64 = typenum == cnp.NPY_FLOAT64; c.cols = cols; c.channels = 1
    c.a = c.b = c.out = c.w = NULL
    c.target = NULL; c.ignore = -100; c.ls = 0; c.scale = 0; c.gvec = NULL
    c.row_loss = NULL; c.row_aux = NULL


cdef Py_ssize_t _row_op(RowCtx* c, int op, a, str a_name, b, str b_name, out, str out_name,
                        weight=None, double ls=0, bint check_ls=False) except -1:
    """c = the row op `op` reading the 2-D array a (rows, cols) and, unless None,
    the array b of a's size, writing out (a's size), with class weights (None:
    none) and label smoothing ls; returns the number of rows.  The arguments are
    checked in this order."""
    cdef int t = _typenum(a, a_name)
    cdef Py_ssize_t rows, cols
    _matrix(a, a_name, t, &rows, &cols)
    if check_ls and not (0.0 <= ls <= 1.0):
        raise ValueError(f"label_smoothing must be in [0, 1], got {ls}")
    _row_init(c, op, t, cols)
    c.a = _arr(a, a_name, t, rows * cols, False)
    if b is not None:
        c.b = _arr(b, b_name, t, rows * cols, False)
    c.out = _arr(out, out_name, t, rows * cols, True)
    c.w = _weight(weight, t, cols)
    c.ls = ls
    return rows


cdef _run_rows_gil(RowCtx* c, Py_ssize_t rows):
    if c.cols == 0:
        return
    with nogil:
        _run_rows(c, rows)


cdef _softmax_op(int op, a, b, out):
    cdef RowCtx c
    _run_rows_gil(&c, _row_op(&c, op, a, "x", b, "gy", out, "out"))


def softmax_forward(x, y):
    """y = softmax(x) over the last axis of a 2-D C-contiguous (rows, cols) array."""
    _softmax_op(R_SOFTMAX_FWD, x, None, y)


def log_softmax_forward(x, y):
    """y = log_softmax(x) over the last axis, as softmax_forward."""
    _softmax_op(R_LSM_FWD, x, None, y)


def softmax_backward(y, gy, gx):
    """gx = y * (gy - sum(gy * y)) per row."""
    _softmax_op(R_SOFTMAX_BWD, y, gy, gx)


def log_softmax_backward(y, gy, gx):
    """gx = gy - exp(y) * sum(gy) per row (y = log_softmax output)."""
    _softmax_op(R_LSM_BWD, y, gy, gx)


# ---- cross entropy / nll ---------------------------------------------------
cdef int _reduction(str reduction) except -1:
    if reduction == "none":
        return 0
    if reduction == "mean":
        return 1
    if reduction == "sum":
        return 2
    raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


cdef const int64_t* _targets(object target, Py_ssize_t n, Py_ssize_t C,
                             int64_t ignore) except NULL:
    if not isinstance(target, cnp.ndarray):
        raise TypeError(f"target must be a numpy.ndarray, got {type(target).__name__}")
    cdef cnp.ndarray ta = <cnp.ndarray>target
    if cnp.PyArray_TYPE(ta) != cnp.NPY_INT64:
        raise TypeError(f"target must be int64, got {ta.dtype}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(ta) or cnp.PyArray_NDIM(ta) != 1:
        raise ValueError("target must be a 1-D C-contiguous array")
    if cnp.PyArray_DIM(ta, 0) != n:
        raise ValueError(f"target has {cnp.PyArray_DIM(ta, 0)} entries, expected {n}")
    cdef const int64_t* tp = <const int64_t*>cnp.PyArray_DATA(ta)
    cdef Py_ssize_t i, bad = -1
    with nogil:
        for i in range(n):
            if tp[i] != ignore and (tp[i] < 0 or tp[i] >= C):
                bad = i
                break
    if bad >= 0:
        raise IndexError(f"Target {tp[bad]} is out of bounds (n_classes={C}, "
                         f"ignore_index={ignore}) at position {bad}")
    if tp == NULL:
        return <const int64_t*>1
    return tp


cdef void* _weight(object weight, int t, Py_ssize_t C) except? NULL:
    if weight is None:
        return NULL
    return _arr(weight, "weight", t, C, False)


cdef int _class_targets(RowCtx* c, object target, Py_ssize_t rows, long ignore_index) except -1:
    c.target = _targets(target, rows, c.cols, ignore_index)
    c.ignore = ignore_index
    return 0


cdef tuple _row_buffers(RowCtx* c, Py_ssize_t rows):
    """Per-row losses and weights (float64) for c; returned to keep them alive."""
    cdef cnp.ndarray losses = np.empty(rows, dtype=np.float64)
    cdef cnp.ndarray weights = np.empty(rows, dtype=np.float64)
    c.row_loss = <double*>cnp.PyArray_DATA(losses)
    c.row_aux = <double*>cnp.PyArray_DATA(weights)
    return losses, weights


cdef double _sum_serial(double* v, Py_ssize_t n) noexcept nogil:
    cdef double s = 0
    cdef Py_ssize_t i
    for i in range(n):
        s += v[i]
    return s


cdef object _reduced(cnp.ndarray row_losses, object dtype, int red, double total,
                     double denominator):
    """A loss from its rows: the rows ('none', in dtype), their sum ('sum') or the
    sum over the denominator ('mean'; NaN over 0)."""
    if red == 0:
        return row_losses.astype(dtype)
    if red == 2:
        return total
    return total / denominator if denominator != 0 else float("nan")


def cross_entropy_forward(logits, target, weight, long ignore_index, double label_smoothing,
                          str reduction, lsm_out):
    """Fused log_softmax + nll (+ label smoothing). Returns float or (N,) array."""
    cdef int red = _reduction(reduction)
    cdef RowCtx c
    cdef Py_ssize_t N = _row_op(&c, R_CE_FWD, logits, "logits", None, "", lsm_out, "lsm_out",
                                weight, label_smoothing, True)
    _class_targets(&c, target, N, ignore_index)
    rl, rw = _row_buffers(&c, N)
    cdef double total = 0, wtot = 0
    with nogil:
        if c.cols > 0:
            _run_rows(&c, N)
        total = _sum_serial(c.row_loss, N)
        wtot = _sum_serial(c.row_aux, N)
    return _reduced(rl, logits.dtype, red, total, wtot)


cdef int _class_grad_scale(RowCtx* c, int red, object gout, Py_ssize_t N,
                           long ignore_index) except -1:
    """The upstream gradient of a class-index loss: per row ('none'), or one
    factor, divided for 'mean' by the total weight of the rows not ignored."""
    cdef const float* wf = <const float*>c.w
    cdef const double* wd = <const double*>c.w
    cdef double wtot = 0
    cdef Py_ssize_t i
    if red == 0:
        c.gvec = _arr(gout, "gout", cnp.NPY_FLOAT64 if c.f64 else cnp.NPY_FLOAT32, N, False)
        return 0
    c.scale = float(gout)
    if red == 1:
        with nogil:
            for i in range(N):
                if c.target[i] != ignore_index:
                    wtot += (1.0 if c.w == NULL
                             else (wd[c.target[i]] if c.f64 else wf[c.target[i]]))
        c.scale = c.scale / wtot if wtot != 0 else 0.0
    return 0


def cross_entropy_backward(lsm, target, weight, long ignore_index, double label_smoothing,
                           str reduction, gout, glogits):
    """glogits = d loss / d logits given the saved log_softmax `lsm`."""
    cdef int red = _reduction(reduction)
    cdef RowCtx c
    cdef Py_ssize_t N = _row_op(&c, R_CE_BWD, lsm, "lsm", None, "", glogits, "glogits", weight,
                                label_smoothing)
    _class_targets(&c, target, N, ignore_index)
    _class_grad_scale(&c, red, gout, N, ignore_index)
    _run_rows_gil(&c, N)


def cross_entropy_prob_forward(logits, target_probs, weight, double label_smoothing,
                               str reduction, lsm_out):
    """Cross entropy with class-probability targets (N, C); mean divides by N."""
    cdef int red = _reduction(reduction)
    cdef RowCtx c
    cdef Py_ssize_t N = _row_op(&c, R_CEP_FWD, logits, "logits", target_probs, "target_probs",
                                lsm_out, "lsm_out", weight, label_smoothing)
    rl, rw = _row_buffers(&c, N)
    cdef double total = 0
    with nogil:
        if c.cols > 0:
            _run_rows(&c, N)
        total = _sum_serial(c.row_loss, N)
    return _reduced(rl, logits.dtype, red, total, N)


def cross_entropy_prob_backward(lsm, target_probs, weight, double label_smoothing,
                                str reduction, gout, glogits):
    cdef int red = _reduction(reduction)
    cdef RowCtx c
    cdef Py_ssize_t N = _row_op(&c, R_CEP_BWD, lsm, "lsm", target_probs, "target_probs",
                                glogits, "glogits", weight, label_smoothing)
    if red == 0:
        c.gvec = _arr(gout, "gout", cnp.NPY_FLOAT64 if c.f64 else cnp.NPY_FLOAT32, N, False)
    else:
        c.scale = float(gout) / (N if red == 1 and N > 0 else 1)
    _run_rows_gil(&c, N)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef void nll_rows(const floating* logp, const floating* W, const int64_t* tg, int64_t ignore,
                   Py_ssize_t N, Py_ssize_t C, double* loss, double* wts) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating wt
    for i in range(N):
        if tg[i] == ignore:
            loss[i] = 0
            wts[i] = 0
        else:
            wt = W[tg[i]] if W != NULL else 1
            loss[i] = -<double>(wt * logp[i * C + tg[i]])
            wts[i] = wt


def nll_loss_forward(logp, target, weight, long ignore_index, str reduction):
    """-w[t] * logp[i, t]; mean divides by the summed weights of non-ignored targets."""
    cdef int red = _reduction(reduction)
    cdef int t = _typenum(logp, "logp")
    cdef Py_ssize_t N, C
    cdef RowCtx c
    _matrix(logp, "logp", t, &N, &C)
    _row_init(&c, R_NLL_BWD, t, C)      # (for its fields: the loop below is serial)
    c.a = _arr(logp, "logp", t, N * C, False)
    c.w = _weight(weight, t, C)
    _class_targets(&c, target, N, ignore_index)
    rl, rw = _row_buffers(&c, N)
    cdef double total, wtot
    with nogil:
        if c.f64:
            nll_rows(<const double*>c.a, <const double*>c.w, c.target, c.ignore, N, C,
                     c.row_loss, c.row_aux)
        else:
            nll_rows(<const float*>c.a, <const float*>c.w, c.target, c.ignore, N, C,
                     c.row_loss, c.row_aux)
        total = _sum_serial(c.row_loss, N)
        wtot = _sum_serial(c.row_aux, N)
    return _reduced(rl, logp.dtype, red, total, wtot)


def nll_loss_backward(target, weight, long ignore_index, str reduction, gout, glogp):
    """Writes glogp (N, C) (zeroed here) for nll_loss."""
    cdef int red = _reduction(reduction)
    cdef RowCtx c
    cdef Py_ssize_t N = _row_op(&c, R_NLL_BWD, glogp, "glogp", None, "", glogp, "glogp", weight)
    _class_targets(&c, target, N, ignore_index)
    _class_grad_scale(&c, red, gout, N, ignore_index)
    _run_rows_gil(&c, N)


# ---- prelu -----------------------------------------------------------------
cdef Py_ssize_t _prelu_op(RowCtx* c, int op, x, w, Py_ssize_t inner,
                          Py_ssize_t channels) except -1:
    """c = prelu's op over x viewed as (outer, channels, inner), one row per
    (outer, channel), with w of `channels` elements or 1; returns x's size."""
    cdef int t = _typenum(x, "x")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>x)
    if inner < 0 or channels < 1 or (n and n % (inner * channels) != 0) or (inner == 0 and n):
        raise ValueError(f"x of size {n} cannot be viewed as (outer, {channels}, {inner})")
    cdef Py_ssize_t nw = cnp.PyArray_SIZE(<cnp.ndarray>w) if isinstance(w, cnp.ndarray) else -1
    if nw != 1 and nw != channels:
        raise ValueError(f"w must have {channels} elements or 1, got {nw}")
    _row_init(c, op, t, inner)
    c.channels = channels if nw > 1 else 1
    c.a = _arr(x, "x", t, n, False)
    c.w = _arr(w, "w", t, nw, False)
    return n


def prelu_forward(x, w, y, Py_ssize_t inner, Py_ssize_t channels):
    """x viewed as (outer, channels, inner); w has `channels` elements or 1."""
    cdef RowCtx c
    cdef Py_ssize_t n = _prelu_op(&c, R_PRELU_FWD, x, w, inner, channels)
    c.out = _arr(y, "y", cnp.NPY_FLOAT64 if c.f64 else cnp.NPY_FLOAT32, n, True)
    if n == 0:
        return
    with nogil:
        _run_rows(&c, n // inner)


def prelu_backward(x, w, gy, gx, gw, Py_ssize_t inner, Py_ssize_t channels):
    """gx = gy * (x > 0 ? 1 : w[c]); gw[c] = sum over x <= 0 of x * gy (gw overwritten)."""
    cdef RowCtx c
    cdef Py_ssize_t n = _prelu_op(&c, R_PRELU_BWD, x, w, inner, channels), i, rows
    cdef int t = cnp.NPY_FLOAT64 if c.f64 else cnp.NPY_FLOAT32
    cdef Py_ssize_t nw = cnp.PyArray_SIZE(<cnp.ndarray>w)
    c.b = _arr(gy, "gy", t, n, False)
    c.out = _arr(gx, "gx", t, n, True)
    cdef void* gwp = _arr(gw, "gw", t, nw, True)
    rows = n // inner if inner else 0
    cdef cnp.ndarray part = np.zeros(rows, dtype=np.float64)
    c.row_aux = <double*>cnp.PyArray_DATA(part)
    cdef double* acc = <double*>malloc(nw * sizeof(double))
    if acc == NULL:
        raise MemoryError()
    with nogil:
        if rows:
            _run_rows(&c, rows)
        for i in range(nw):
            acc[i] = 0
        for i in range(rows):        # fixed order: identical for any thread count
            acc[i % c.channels] += c.row_aux[i]
        for i in range(nw):
            if c.f64:
                (<double*>gwp)[i] = acc[i]
            else:
                (<float*>gwp)[i] = <float>acc[i]
    free(acc)


# ---------------------------------------------------------------- max pooling
cdef extern from "csrc/fad_maxpool.h":
    ctypedef struct fad_maxpool_job:
        Py_ssize_t H, W, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw
        const void* x
        void* values
        int64_t* flat
    void fad_maxpool_f32(const fad_maxpool_job* j, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil
    void fad_maxpool_f64(const fad_maxpool_job* j, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil


cdef void _maxpool_f32(void* ctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    fad_maxpool_f32(<const fad_maxpool_job*>ctx, lo, hi)


cdef void _maxpool_f64(void* ctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    fad_maxpool_f64(<const fad_maxpool_job*>ctx, lo, hi)


def max_pool2d_forward(x, values, flat, kernel, stride, padding, dilation):
    """Each window's maximum of x (planes, H, W) into values (planes, OH, OW), and
    into flat (int64, same shape) the position it came from in x, flattened.
    The padding takes no part; windows must each reach the input (PyTorch's
    geometry checks, fastad/nn/_pooling.py, ensure it)."""
    cdef int t = _typenum(x, "x")
    if _typenum(values, "values") != t:
        raise TypeError(f"values must be {x.dtype}, got {values.dtype}")
    if not isinstance(flat, np.ndarray) or flat.dtype != np.int64 or not flat.flags.c_contiguous:
        raise TypeError("flat must be a C-contiguous int64 array")
    cdef fad_maxpool_job j
    j.KH, j.KW = kernel
    j.sh, j.sw = stride
    j.ph, j.pw = padding
    j.dh, j.dw = dilation
    if min(j.KH, j.KW, j.sh, j.sw, j.dh, j.dw) < 1 or min(j.ph, j.pw) < 0:
        raise ValueError(f"bad kernel {kernel}, stride {stride}, padding {padding} or "
                         f"dilation {dilation}")
    if x.ndim != 3 or values.ndim != 3 or values.shape != flat.shape \
            or values.shape[0] != x.shape[0]:
        raise ValueError(f"x must be (planes, H, W) and values and flat (planes, OH, OW), got "
                         f"{x.shape}, {values.shape} and {flat.shape}")
    cdef Py_ssize_t planes = x.shape[0]
    j.H, j.W = x.shape[1], x.shape[2]
    j.OH, j.OW = values.shape[1], values.shape[2]
    # every window's first row and column inside the padded input
    if ((j.OH - 1) * j.sh - j.ph >= j.H or (j.OW - 1) * j.sw - j.pw >= j.W
            or j.dh * (j.KH - 1) < j.ph or j.dw * (j.KW - 1) < j.pw) and j.OH * j.OW > 0:
        raise ValueError(f"windows outside the input: {(j.OH, j.OW)} of kernel {kernel} over "
                         f"{(j.H, j.W)} with stride {stride} and padding {padding}")
    j.x = _arr(x, "x", t, x.size, False)
    j.values = _arr(values, "values", t, values.size, True)
    j.flat = <int64_t*>cnp.PyArray_DATA(<cnp.ndarray>flat)
    if not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>flat):
        raise ValueError("flat must be writable")
    with nogil:
        run_blocks(_maxpool_f64 if t == cnp.NPY_FLOAT64 else _maxpool_f32, &j, planes,
                   j.OH * j.OW * j.KH * j.KW)
    return None


# ---------------------------------------------------------------- layer_norm
cdef extern from "csrc/fad_layernorm.h":
    ctypedef struct fad_layernorm_job:
        Py_ssize_t cols
        double eps
        const void* x
        const void* w
        const void* b
        void* y
        double* mean
        double* rstd
        const void* g
        void* gx
        double* gw_parts
        double* gb_parts
        Py_ssize_t rows_per_block
    void fad_layernorm_forward_f32(const fad_layernorm_job* j, Py_ssize_t lo,
                                   Py_ssize_t hi) noexcept nogil
    void fad_layernorm_forward_f64(const fad_layernorm_job* j, Py_ssize_t lo,
                                   Py_ssize_t hi) noexcept nogil
    void fad_layernorm_backward_f32(const fad_layernorm_job* j, Py_ssize_t lo,
                                    Py_ssize_t hi) noexcept nogil
    void fad_layernorm_backward_f64(const fad_layernorm_job* j, Py_ssize_t lo,
                                    Py_ssize_t hi) noexcept nogil

cdef enum:
    LAYERNORM_BLOCK_ELEMENTS = 16384   # a block of rows' size: its rows go to one thread


cdef void _ln_fwd_f32(void* ctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    fad_layernorm_forward_f32(<const fad_layernorm_job*>ctx, lo, hi)


cdef void _ln_fwd_f64(void* ctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    fad_layernorm_forward_f64(<const fad_layernorm_job*>ctx, lo, hi)


cdef void _ln_bwd_f32(void* ctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    fad_layernorm_backward_f32(<const fad_layernorm_job*>ctx, lo, hi)


cdef void _ln_bwd_f64(void* ctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    fad_layernorm_backward_f64(<const fad_layernorm_job*>ctx, lo, hi)


cdef int _layernorm_job(fad_layernorm_job* j, x, w, b, mean, rstd, int* t,
                        Py_ssize_t* rows) except -1:
    """j over x (rows, cols) and its optional (cols,) weight and bias and
    (rows,) float64 statistics, checked."""
    cdef Py_ssize_t cols
    t[0] = _typenum(x, "x")
    _matrix(x, "x", t[0], rows, &cols)
    for name, v in (("w", w), ("b", b)):
        if v is not None and (_typenum(v, name) != t[0] or v.shape != (cols,)):
            raise ValueError(f"{name} must be a ({cols},) {x.dtype} array, got {v.dtype} "
                             f"{v.shape}")
    for name, v in (("mean", mean), ("rstd", rstd)):
        if (not isinstance(v, np.ndarray) or v.dtype != np.float64 or v.shape != (rows[0],)
                or not v.flags.c_contiguous or not v.flags.writeable):
            raise ValueError(f"{name} must be a writable C-contiguous ({rows[0]},) float64 array")
    j.cols = cols
    j.x = _arr(x, "x", t[0], rows[0] * cols, False)
    j.w = NULL if w is None else _arr(w, "w", t[0], cols, False)
    j.b = NULL if b is None else _arr(b, "b", t[0], cols, False)
    j.mean = <double*>cnp.PyArray_DATA(<cnp.ndarray>mean)
    j.rstd = <double*>cnp.PyArray_DATA(<cnp.ndarray>rstd)
    j.y = j.gx = NULL
    j.g = NULL
    j.gw_parts = j.gb_parts = NULL
    j.rows_per_block = max(1, LAYERNORM_BLOCK_ELEMENTS // max(cols, 1))
    return 0


def layer_norm_forward(x, w, b, double eps, y, mean, rstd):
    """y = (x - mean) * rstd * w + b over each row of x (rows, cols); w, b: (cols,)
    or None.  Writes each row's mean and 1 / sqrt(var + eps) into mean, rstd
    ((rows,) float64) for layer_norm_backward."""
    cdef fad_layernorm_job j
    cdef int t
    cdef Py_ssize_t rows
    _layernorm_job(&j, x, w, b, mean, rstd, &t, &rows)
    if _typenum(y, "y") != t or y.shape != x.shape:
        raise ValueError(f"y must be a {x.dtype} array of shape {x.shape}")
    j.eps = eps
    j.y = _arr(y, "y", t, y.size, True)
    with nogil:
        run_blocks(_ln_fwd_f64 if t == cnp.NPY_FLOAT64 else _ln_fwd_f32, &j, rows, j.cols)


def layer_norm_backward(x, w, g, mean, rstd, gx, bint need_w, bint need_b):
    """The gradients of layer_norm_forward from the output's g: written into gx
    (None: not wanted), and returned for the weight and the bias (float64
    (cols,) arrays, or None where not wanted), summed over rows in fixed blocks
    (the same bits at any thread count)."""
    cdef fad_layernorm_job j
    cdef int t
    cdef Py_ssize_t rows
    _layernorm_job(&j, x, w, None, mean, rstd, &t, &rows)
    if _typenum(g, "g") != t or g.shape != x.shape:
        raise ValueError(f"g must be a {x.dtype} array of shape {x.shape}")
    j.g = _arr(g, "g", t, g.size, False)
    if gx is not None:
        if _typenum(gx, "gx") != t or gx.shape != x.shape:
            raise ValueError(f"gx must be a {x.dtype} array of shape {x.shape}")
        j.gx = _arr(gx, "gx", t, gx.size, True)
    blocks = (rows + j.rows_per_block - 1) // j.rows_per_block
    gw = np.zeros((blocks, j.cols)) if need_w else None
    gb = np.zeros((blocks, j.cols)) if need_b else None
    if gw is not None:
        j.gw_parts = <double*>cnp.PyArray_DATA(<cnp.ndarray>gw)
    if gb is not None:
        j.gb_parts = <double*>cnp.PyArray_DATA(<cnp.ndarray>gb)
    cdef range_fn fn = _ln_bwd_f64 if t == cnp.NPY_FLOAT64 else _ln_bwd_f32
    with nogil:
        if blocks <= 1:
            fn(&j, 0, rows)
        else:
            run_split(fn, &j, rows, j.rows_per_block)
    return (None if gw is None else np.add.reduce(gw, axis=0),
            None if gb is None else np.add.reduce(gb, axis=0))


# ---------------------------------------------------------------- batch_norm (training)
cdef extern from "csrc/fad_batchnorm.h":
    ctypedef struct fad_batchnorm_job:
        Py_ssize_t N, C, S
        double eps
        const void* x
        const void* w
        const void* b
        void* y
        double* mean
        double* var
        const void* g
        void* gx
        double* gw
        double* gb
        int failed
    void fad_batchnorm_forward_f32(fad_batchnorm_job* j, Py_ssize_t lo,
                                   Py_ssize_t hi) noexcept nogil
    void fad_batchnorm_forward_f64(fad_batchnorm_job* j, Py_ssize_t lo,
                                   Py_ssize_t hi) noexcept nogil
    void fad_batchnorm_backward_f32(fad_batchnorm_job* j, Py_ssize_t lo,
                                    Py_ssize_t hi) noexcept nogil
    void fad_batchnorm_backward_f64(fad_batchnorm_job* j, Py_ssize_t lo,
                                    Py_ssize_t hi) noexcept nogil


cdef void _bn_fwd_f32(void* ctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    fad_batchnorm_forward_f32(<fad_batchnorm_job*>ctx, lo, hi)


cdef void _bn_fwd_f64(void* ctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    fad_batchnorm_forward_f64(<fad_batchnorm_job*>ctx, lo, hi)


cdef void _bn_bwd_f32(void* ctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    fad_batchnorm_backward_f32(<fad_batchnorm_job*>ctx, lo, hi)


cdef void _bn_bwd_f64(void* ctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    fad_batchnorm_backward_f64(<fad_batchnorm_job*>ctx, lo, hi)


cdef int _batchnorm_job(fad_batchnorm_job* j, x, w, mean, var) except -1:
    """j over x (N, C, S) with its optional (C,) weight and (C,) float64
    statistics, checked; returns x's type number."""
    cdef int t = _typenum(x, "x")
    if x.ndim != 3:
        raise ValueError(f"x must be (N, C, S), got shape {x.shape}")
    j.N, j.C, j.S = x.shape
    if w is not None and (_typenum(w, "w") != t or w.shape != (j.C,)):
        raise ValueError(f"w must be a ({j.C},) {x.dtype} array, got {w.dtype} {w.shape}")
    for name, v in (("mean", mean), ("var", var)):
        if (not isinstance(v, np.ndarray) or v.dtype != np.float64 or v.shape != (j.C,)
                or not v.flags.c_contiguous or not v.flags.writeable):
            raise ValueError(f"{name} must be a writable C-contiguous ({j.C},) float64 array")
    j.x = _arr(x, "x", t, x.size, False)
    j.w = NULL if w is None else _arr(w, "w", t, j.C, False)
    j.b = j.g = NULL
    j.y = j.gx = NULL
    j.mean = <double*>cnp.PyArray_DATA(<cnp.ndarray>mean)
    j.var = <double*>cnp.PyArray_DATA(<cnp.ndarray>var)
    j.gw = j.gb = NULL
    j.failed = 0
    return t


def batch_norm_forward(x, w, b, double eps, y, mean, var):
    """Training batch norm of x (N, C, S) over N and S per channel into y, with
    w, b ((C,) or None); writes the channels' means and biased variances into
    mean and var ((C,) float64)."""
    cdef fad_batchnorm_job j
    cdef int t = _batchnorm_job(&j, x, w, mean, var)
    if b is not None and (_typenum(b, "b") != t or b.shape != (j.C,)):
        raise ValueError(f"b must be a ({j.C},) {x.dtype} array, got {b.dtype} {b.shape}")
    if _typenum(y, "y") != t or y.shape != x.shape:
        raise ValueError(f"y must be a {x.dtype} array of shape {x.shape}")
    j.eps = eps
    j.b = NULL if b is None else _arr(b, "b", t, j.C, False)
    j.y = _arr(y, "y", t, y.size, True)
    with nogil:
        run_blocks(_bn_fwd_f64 if t == cnp.NPY_FLOAT64 else _bn_fwd_f32, &j, j.C, j.N * j.S)
    if j.failed:
        raise MemoryError("fastad: cannot allocate batch_norm's scratch buffer")


def batch_norm_backward(x, w, g, mean, var, double eps, gx):
    """batch_norm_forward's gradients from the output's g: x's into gx (None: not
    wanted); returns (sum of g * xhat, sum of g) per channel, float64 (C,): the
    weight's and the bias's gradients."""
    cdef fad_batchnorm_job j
    cdef int t = _batchnorm_job(&j, x, w, mean, var)
    if _typenum(g, "g") != t or g.shape != x.shape:
        raise ValueError(f"g must be a {x.dtype} array of shape {x.shape}")
    if gx is not None:
        if _typenum(gx, "gx") != t or gx.shape != x.shape:
            raise ValueError(f"gx must be a {x.dtype} array of shape {x.shape}")
        j.gx = _arr(gx, "gx", t, gx.size, True)
    j.eps = eps
    j.g = _arr(g, "g", t, g.size, False)
    gw, gb = np.empty(j.C), np.empty(j.C)
    j.gw = <double*>cnp.PyArray_DATA(<cnp.ndarray>gw)
    j.gb = <double*>cnp.PyArray_DATA(<cnp.ndarray>gb)
    with nogil:
        run_blocks(_bn_bwd_f64 if t == cnp.NPY_FLOAT64 else _bn_bwd_f32, &j, j.C, j.N * j.S)
    if j.failed:
        raise MemoryError("fastad: cannot allocate batch_norm's scratch buffer")
    return gw, gb
