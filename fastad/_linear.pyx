# cython: language_level=3
# distutils: language = c
"""GEMMs through the OpenBLAS that numpy ships, called directly (found by
fastad/__init__.py; ILP64 interface): matmul_into, matmul_pair_into (a linear
layer's two backward GEMMs), linear_forward and the convolution's
conv2d_forward / conv2d_backward, run so that their results are the same bits
at any thread count.  Without it they decline (return False) and
the callers use np.matmul.
"""
cimport cython
from libc.stdint cimport int64_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memset
cimport numpy as cnp
from fastad._runtime cimport _num_threads, range_fn, run_split, _typenum, _arr, _matrix
import os

import numpy as np

cnp.import_array()

# numpy's matmul cannot add into its output, so x @ w.T + b costs a separate
# pass over the output for the bias.  With the GEMM of the OpenBLAS that numpy
# ships (found by fastad/__init__.py; ILP64 interface), the output is filled with
# the bias and the GEMM adds into it (beta = 1) instead of zeroing it first.
ctypedef void (*sgemm_fn)(int order, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                          float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                          float beta, float* c, int64_t ldc) noexcept nogil
ctypedef void (*dgemm_fn)(int order, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                          double alpha, const double* a, int64_t lda, const double* b, int64_t ldb,
                          double beta, double* c, int64_t ldc) noexcept nogil
cdef enum:
    CBLAS_ROW_MAJOR = 101
    CBLAS_NO_TRANS = 111
    CBLAS_TRANS = 112
cdef sgemm_fn _sgemm = NULL
cdef dgemm_fn _dgemm = NULL

# OpenBLAS packs the A operand of a GEMM whose A is transposed (in its
# column-major terms) with a slow, unvectorised copy, and x @ w.T is such a GEMM
# with w as A: for a small batch, that packing is a fifth of the GEMM.  Transposing
# x into a scratch buffer makes it an NN GEMM; its result comes out transposed,
# (n, m), and a second transpose, which also adds the bias, writes it out.
# Measured (numpy's OpenBLAS 0.3.31, SkylakeX kernels, float32, one GEMM call
# each way alternating): at 1 thread, a batch of 9 to 64 with n, k >= 64 gains,
# (64, 784) x (784, 128) 142 -> 125 us, (16, 784) x (784, 128) 70 -> 45,
# (64, 1024) x (1024, 1024) 1468 -> 1219, (32, 64) x (64, 64) 4.3 -> 2.6; a batch
# of 128 is a wash ((128, 784) x (784, 128) 239 -> 233, (128, 128) x (128, 128)
# 41 -> 44), larger batches or n < 64 lose ((512, 1024) x (1024, 10) 249 -> 728),
# and so do batches up to 8, where OpenBLAS takes another path ((8, 784) x
# (784, 128) 16.9 -> 20.5).
# The choice never depends on the thread count: the two forms round differently,
# and results must be bitwise the same at any thread count.
cdef extern from "csrc/fad_transpose.h":
    void fad_transpose_f32(const float* src, Py_ssize_t rows, Py_ssize_t cols, float* dst,
                           const float* bias) noexcept nogil

#: how linear_forward runs a float32 GEMM: 0 by its shape (_transpose_x_first),
#: 1 always one GEMM with w transposed, 2 always x transposed first (tests use 1 and 2)
cdef int _linear_variant = 0


def _set_linear_variant(int variant):
    global _linear_variant
    if variant not in (0, 1, 2):
        raise ValueError(f"variant must be 0, 1 or 2, got {variant}")
    _linear_variant = variant


cdef inline bint _transpose_x_first(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k) noexcept nogil:
    if _linear_variant:
        return _linear_variant == 2
    return 8 < m <= 64 and n >= 64 and k >= 64


# OpenBLAS's 2-thread GEMMs round differently from its 1-thread ones for some
# inner dimensions (bench/prototypes/blas_threads_bitwise.py: 22 of 100 shapes,
# all with k = 784), so fastad runs the GEMMs of linear layers with OpenBLAS on one
# thread and splits large ones itself: C's columns in blocks of a multiple of
# GEMM_SPLIT_ALIGN, one call per block on fastad's threads, blocks only where each
# keeps GEMM_SPLIT_MIN_WORK multiply-adds (so none falls to OpenBLAS's small-matrix
# kernels).  The blocks are the same at any thread count (_gemm_block), so results
# do not depend on it.  numpy's OpenBLAS has no
# per-thread setting (its _local setter is global in this pthreads build), so its
# thread count is 1 while a fastad GEMM runs and restored after: another Python
# thread's numpy matmul in that window runs on one thread.
cdef extern from "csrc/fad_blas.h":
    void fad_blas_threads_init(void* set_threads, void* get_threads) noexcept
    bint fad_blas_controlled() noexcept nogil
    void fad_blas_single_begin() noexcept nogil
    void fad_blas_single_end() noexcept nogil


def _use_blas(size_t sgemm_address, size_t dgemm_address, size_t set_threads_address=0,
              size_t get_threads_address=0):
    """Addresses of cblas_sgemm and cblas_dgemm with 64-bit integers (0, 0: none,
    and linear_forward declines), and of OpenBLAS's thread-count setter and getter
    (0: none, and GEMMs run on OpenBLAS's own threads)."""
    global _sgemm, _dgemm
    _sgemm = <sgemm_fn>sgemm_address
    _dgemm = <dgemm_fn>dgemm_address
    fad_blas_threads_init(<void*>set_threads_address, <void*>get_threads_address)


cdef enum:
    GEMM_SPLIT_ALIGN = 64
    GEMM_SPLIT_MIN_WORK = 1 << 24

ctypedef struct GemmJob:
    bint f64
    int ta, tb
    Py_ssize_t m, n, k, lda, ldb, ldc
    const char* a
    const char* b
    char* c
    double beta


cdef void _gemm_columns(void* job, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """C[:, lo:hi] = op(A) @ op(B)[:, lo:hi] + beta C[:, lo:hi] (a range_fn)."""
    cdef GemmJob* j = <GemmJob*>job
    cdef size_t item = 8 if j.f64 else 4
    # column lo of op(B): an untransposed B (k, n) starts at b + lo; a transposed one is (n, k)
    cdef const char* b = j.b + <size_t>(lo if j.tb == CBLAS_NO_TRANS else lo * j.ldb) * item
    cdef char* c = j.c + <size_t>lo * item
    if j.f64:
        _dgemm(CBLAS_ROW_MAJOR, j.ta, j.tb, j.m, hi - lo, j.k, 1.0, <const double*>j.a, j.lda,
               <const double*>b, j.ldb, j.beta, <double*>c, j.ldc)
    else:
        _sgemm(CBLAS_ROW_MAJOR, j.ta, j.tb, j.m, hi - lo, j.k, 1.0, <const float*>j.a, j.lda,
               <const float*>b, j.ldb, <float>j.beta, <float*>c, j.ldc)


# A large GEMM runs as column blocks whose width depends on its shape and on the
# machine's processor count, never on the thread count: at one thread the same
# blocks run one after another.  (A block need not equal those columns of the
# one-call product: with OpenBLAS's Haswell kernels, OPENBLAS_CORETYPE=Haswell on
# an AMD EPYC, a (512, 784) x (784, 1024) product split in two differs from the
# one call in the last bit, so a split chosen by the thread count made 1- and
# 2-thread results differ.)
cdef Py_ssize_t _gemm_parts = max(1, min(8, os.cpu_count() or 1))


@cython.cdivision(True)
cdef Py_ssize_t _gemm_block(GemmJob* j) noexcept nogil:
    """The width of j's column blocks (j.n: one call)."""
    cdef Py_ssize_t per = (j.n + _gemm_parts - 1) // _gemm_parts
    per = (per + GEMM_SPLIT_ALIGN - 1) // GEMM_SPLIT_ALIGN * GEMM_SPLIT_ALIGN
    if per >= j.n or j.m * per * j.k < GEMM_SPLIT_MIN_WORK:
        return j.n
    return per


cdef void _gemm_serial(GemmJob* j) noexcept nogil:
    """j's column blocks one after another, on this thread."""
    cdef Py_ssize_t per = _gemm_block(j), lo = 0
    while lo < j.n:
        _gemm_columns(j, lo, lo + per if lo + per < j.n else j.n)
        lo += per


cdef void _gemm(GemmJob* j) noexcept nogil:
    """Run j's column blocks, shared by fastad's threads (see above)."""
    cdef Py_ssize_t per
    if j.m == 0 or j.n == 0:
        return
    if not fad_blas_controlled():         # no control over OpenBLAS's threads: its own split
        _gemm_columns(j, 0, j.n)
        return
    per = _gemm_block(j)
    fad_blas_single_begin()
    if _num_threads <= 1 or per >= j.n:
        _gemm_serial(j)
    else:
        run_split(_gemm_columns, j, j.n, per)
    fad_blas_single_end()


cdef int _gemm_output(object out, int t, Py_ssize_t m, Py_ssize_t n) except -1:
    cdef Py_ssize_t rows, cols
    _matrix(out, "out", t, &rows, &cols)
    if rows != m or cols != n or not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>out):
        raise ValueError(f"out must be a writable ({m}, {n}) array, got shape {out.shape}")
    return 0


cdef int _matmul_job(GemmJob* j, a, b, out, bint trans_a, bint trans_b) except -1:
    """j = the GEMM out = op(a) @ op(b), its arrays checked (matmul_into's rules)."""
    cdef int t = _typenum(a, "a")
    cdef Py_ssize_t ar, ac, br, bc
    _matrix(a, "a", t, &ar, &ac)
    _matrix(b, "b", t, &br, &bc)
    cdef Py_ssize_t m = ac if trans_a else ar, k = ar if trans_a else ac
    cdef Py_ssize_t k2 = bc if trans_b else br, n = br if trans_b else bc
    if k2 != k:
        raise ValueError(f"inner dimensions differ: {k} and {k2}")
    _gemm_output(out, t, m, n)
    j.f64 = t == cnp.NPY_FLOAT64
    j.ta = CBLAS_TRANS if trans_a else CBLAS_NO_TRANS
    j.tb = CBLAS_TRANS if trans_b else CBLAS_NO_TRANS
    j.m = m; j.n = n; j.k = k; j.lda = ac; j.ldb = bc; j.ldc = n; j.beta = 0.0
    j.a = <const char*>_arr(a, "a", t, ar * ac, False)
    j.b = <const char*>_arr(b, "b", t, br * bc, False)
    j.c = <char*>_arr(out, "out", t, m * n, True)
    return 0


cdef void _gemm_or_zeros(GemmJob* j) noexcept nogil:
    if j.k == 0:
        memset(j.c, 0, <size_t>(j.m * j.n) * (8 if j.f64 else 4))
    else:
        _gemm(j)


cdef void _gemm_whole(void* jobs, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """GEMMs lo..hi-1 of an array of GemmJob, each whole on this thread (a range_fn)."""
    cdef Py_ssize_t i
    for i in range(lo, hi):
        _gemm_serial(&(<GemmJob*>jobs)[i])


def matmul_into(a, b, out, bint trans_a=False, bint trans_b=False):
    """out = op(a) @ op(b) (op: transposed when trans_*), for C-contiguous 2-D
    arrays of one float dtype, run as linear layers' GEMMs are (the same bits at
    any thread count).  Returns False, having done nothing, when numpy's BLAS was
    not found."""
    if _sgemm == NULL or _dgemm == NULL:
        return False
    cdef GemmJob j
    _matmul_job(&j, a, b, out, trans_a, trans_b)
    with nogil:
        _gemm_or_zeros(&j)
    return True


def matmul_pair_into(a1, b1, out1, bint trans_a1, bint trans_b1,
                     a2, b2, out2, bint trans_a2, bint trans_b2):
    """matmul_into twice: a linear layer's two backward GEMMs.  At 2 threads, when
    both are large, they run at once, each in one call on its own thread: one
    parallel region instead of two, and no operand packed twice, as splitting
    each would.  A whole call gives the bits a 1-thread call gives."""
    if _sgemm == NULL or _dgemm == NULL:
        return False
    cdef GemmJob jobs[2]
    _matmul_job(&jobs[0], a1, b1, out1, trans_a1, trans_b1)
    _matmul_job(&jobs[1], a2, b2, out2, trans_a2, trans_b2)
    with nogil:
        if (_num_threads == 2 and fad_blas_controlled()
                and jobs[0].m * jobs[0].n * jobs[0].k >= GEMM_SPLIT_MIN_WORK
                and jobs[1].m * jobs[1].n * jobs[1].k >= GEMM_SPLIT_MIN_WORK):
            fad_blas_single_begin()
            run_split(_gemm_whole, jobs, 2, 1)
            fad_blas_single_end()
        else:
            _gemm_or_zeros(&jobs[0])
            _gemm_or_zeros(&jobs[1])
    return True


def blas_available():
    return _sgemm != NULL and _dgemm != NULL


@cython.boundscheck(False)
@cython.wraparound(False)
def linear_forward(x, w, b, out):
    """out = x @ w.T + b (b None: no bias) with numpy's BLAS.  x (m, k), w (n, k),
    b (n,) and out (m, n), C-contiguous, of one float dtype.  Returns False, having
    done nothing, when numpy's BLAS was not found (the caller then uses np.matmul)."""
    if _sgemm == NULL or _dgemm == NULL:
        return False
    cdef int t = _typenum(x, "x")
    cdef Py_ssize_t m, k, n, k2, r
    _matrix(x, "x", t, &m, &k)
    _matrix(w, "w", t, &n, &k2)
    if k2 != k:
        raise ValueError(f"x has {k} columns, w has {k2}")
    _gemm_output(out, t, m, n)
    cdef const char* xp = <const char*>_arr(x, "x", t, m * k, False)
    cdef const char* wp = <const char*>_arr(w, "w", t, n * k, False)
    cdef char* op = <char*>_arr(out, "out", t, m * n, True)
    cdef const char* bp = NULL
    cdef size_t item = 8 if t == cnp.NPY_FLOAT64 else 4
    if b is not None:
        bp = <const char*>_arr(b, "b", t, n, False)
        if cnp.PyArray_NDIM(<cnp.ndarray>b) != 1:
            raise ValueError(f"b must be 1-D, got shape {b.shape}")
    cdef bint done = False
    cdef GemmJob job
    with nogil:
        if t == cnp.NPY_FLOAT32 and m > 0 and n > 0 and k > 0 and _transpose_x_first(m, n, k):
            done = _sgemm_x_transposed(<const float*>xp, <const float*>wp, <const float*>bp,
                                       <float*>op, m, n, k)
        if not done:
            if bp != NULL:
                for r in range(m):
                    memcpy(op + r * n * item, bp, n * item)
            if k == 0:
                if bp == NULL:
                    memset(op, 0, m * n * item)
            else:
                job.f64 = t == cnp.NPY_FLOAT64
                job.ta = CBLAS_NO_TRANS; job.tb = CBLAS_TRANS
                job.m = m; job.n = n; job.k = k; job.lda = k; job.ldb = k; job.ldc = n
                job.a = xp; job.b = wp; job.c = op
                job.beta = 1.0 if bp != NULL else 0.0
                _gemm(&job)
    return True


cdef bint _sgemm_x_transposed(const float* x, const float* w, const float* b, float* out,
                              Py_ssize_t m, Py_ssize_t n, Py_ssize_t k) noexcept nogil:
    """out (m, n) = x @ w.T + b as w @ x.T (an NN GEMM on a transposed copy of x),
    transposed back with the bias added; False (out untouched) if out of memory."""
    cdef float* xt = <float*>malloc(<size_t>(m * k) * sizeof(float))
    cdef float* wx = <float*>malloc(<size_t>(n * m) * sizeof(float))
    cdef bint ok = xt != NULL and wx != NULL
    cdef GemmJob job
    if ok:
        fad_transpose_f32(x, m, k, xt, NULL)
        job.f64 = False
        job.ta = CBLAS_NO_TRANS; job.tb = CBLAS_NO_TRANS
        job.m = n; job.n = m; job.k = k; job.lda = k; job.ldb = m; job.ldc = m
        job.a = <const char*>w; job.b = <const char*>xt; job.c = <char*>wx; job.beta = 0.0
        _gemm(&job)
        fad_transpose_f32(wx, n, m, out, b)
    free(xt)
    free(wx)
    return ok


# ---------------------------------------------------------------- conv2d
# A convolution an image at a time (Caffe's way): the image's receptive fields
# as a (C * KH * KW, OH * OW) matrix in a scratch buffer that stays in cache,
# and one GEMM with the (O, C * KH * KW) kernels, which writes the image's
# (O, OH, OW) output in place.  A whole-batch im2col (the Python reference
# path, fastad/nn/_conv.py) writes and reads a matrix of N times that size and
# a transposed output.  Images go to the threads in fixed blocks of
# CONV_IMAGES_PER_BLOCK, and the weight gradient is summed over a block's images
# in order and then over the blocks in order: the same bits at any thread count.
cdef extern from "csrc/fad_conv.h":
    ctypedef struct fad_conv_geometry:
        Py_ssize_t C, H, W, KH, KW, OH, OW
        Py_ssize_t sh, sw, ph, pw, dh, dw
    void fad_im2col_f32(const float* x, const fad_conv_geometry* g, float* cols) noexcept nogil
    void fad_im2col_f64(const double* x, const fad_conv_geometry* g, double* cols) noexcept nogil
    void fad_col2im_f32(const float* cols, const fad_conv_geometry* g, float* gx) noexcept nogil
    void fad_col2im_f64(const double* cols, const fad_conv_geometry* g, double* gx) noexcept nogil

cdef enum:
    CONV_IMAGES_PER_BLOCK = 4

ctypedef struct ConvJob:
    fad_conv_geometry geo
    bint f64
    Py_ssize_t O, K, L          # out channels, C * KH * KW, OH * OW
    const char* x               # (N, C, H, W)
    const char* w               # (O, K)
    const char* b               # (O,) or NULL
    const char* g               # (N, O, OH, OW): the output's gradient
    char* y                     # (N, O, OH, OW)
    char* gx                    # (N, C, H, W) or NULL
    char* gw_parts              # (blocks, O, K) or NULL
    bint failed                 # a scratch buffer could not be allocated


cdef inline void _im2col(ConvJob* j, Py_ssize_t n, char* cols) noexcept nogil:
    cdef size_t image = <size_t>(j.geo.C * j.geo.H * j.geo.W) * (8 if j.f64 else 4)
    if j.f64:
        fad_im2col_f64(<const double*>(j.x + n * image), &j.geo, <double*>cols)
    else:
        fad_im2col_f32(<const float*>(j.x + n * image), &j.geo, <float*>cols)


cdef inline void _gemm_once(bint f64, int ta, int tb, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                            const char* a, Py_ssize_t lda, const char* b, Py_ssize_t ldb,
                            double beta, char* c) noexcept nogil:
    """c (m, n) = op(a) @ op(b) + beta c, one BLAS call on this thread."""
    cdef GemmJob job
    job.f64 = f64
    job.ta = ta; job.tb = tb
    job.m = m; job.n = n; job.k = k; job.lda = lda; job.ldb = ldb; job.ldc = n
    job.a = a; job.b = b; job.c = c; job.beta = beta
    _gemm_columns(&job, 0, n)


cdef void _conv_forward_images(void* ctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef ConvJob* j = <ConvJob*>ctx
    cdef size_t item = 8 if j.f64 else 4
    cdef char* cols = <char*>malloc(<size_t>(j.K * j.L) * item)
    cdef Py_ssize_t n, o, p
    cdef char* y
    if cols == NULL:
        j.failed = True
        return
    for n in range(lo, hi):
        _im2col(j, n, cols)
        y = j.y + <size_t>(n * j.O * j.L) * item
        if j.b != NULL:       # the bias first, and the GEMM adds into it
            for o in range(j.O):
                for p in range(j.L):
                    if j.f64:
                        (<double*>y)[o * j.L + p] = (<const double*>j.b)[o]
                    else:
                        (<float*>y)[o * j.L + p] = (<const float*>j.b)[o]
        _gemm_once(j.f64, CBLAS_NO_TRANS, CBLAS_NO_TRANS, j.O, j.L, j.K, j.w, j.K, cols, j.L,
                   1.0 if j.b != NULL else 0.0, y)
    free(cols)


cdef void _conv_backward_images(void* ctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef ConvJob* j = <ConvJob*>ctx
    cdef size_t item = 8 if j.f64 else 4
    cdef size_t image_x = <size_t>(j.geo.C * j.geo.H * j.geo.W) * item
    cdef char* cols = <char*>malloc(<size_t>(j.K * j.L) * item)
    cdef Py_ssize_t n
    cdef const char* g
    cdef char* part
    if cols == NULL:
        j.failed = True
        return
    for n in range(lo, hi):
        g = j.g + <size_t>(n * j.O * j.L) * item
        if j.gw_parts != NULL:      # this block's share: g[n] (O, L) @ cols(x[n]).T (L, K)
            _im2col(j, n, cols)
            part = j.gw_parts + <size_t>((lo // CONV_IMAGES_PER_BLOCK) * j.O * j.K) * item
            _gemm_once(j.f64, CBLAS_NO_TRANS, CBLAS_TRANS, j.O, j.K, j.L, g, j.L, cols, j.L,
                       0.0 if n == lo else 1.0, part)
        if j.gx != NULL:            # w.T (K, O) @ g[n] (O, L), added back where it was read
            _gemm_once(j.f64, CBLAS_TRANS, CBLAS_NO_TRANS, j.K, j.L, j.O, j.w, j.K, g, j.L,
                       0.0, cols)
            memset(j.gx + n * image_x, 0, image_x)
            if j.f64:
                fad_col2im_f64(<const double*>cols, &j.geo, <double*>(j.gx + n * image_x))
            else:
                fad_col2im_f32(<const float*>cols, &j.geo, <float*>(j.gx + n * image_x))
    free(cols)


cdef void _conv_run(ConvJob* j, range_fn fn, Py_ssize_t images) noexcept nogil:
    """fn over the images in blocks: on fastad's threads, with OpenBLAS on one
    thread each, or one block after another where OpenBLAS's threads are its own."""
    cdef Py_ssize_t lo = 0
    if fad_blas_controlled():
        fad_blas_single_begin()
        run_split(fn, j, images, CONV_IMAGES_PER_BLOCK)
        fad_blas_single_end()
        return
    while lo < images:
        fn(j, lo, min(lo + CONV_IMAGES_PER_BLOCK, images))
        lo += CONV_IMAGES_PER_BLOCK


cdef int _conv_job(ConvJob* j, x, w, tuple stride, tuple padding, tuple dilation,
                   tuple out_shape) except -1:
    """j's geometry and inputs from x (N, C, H, W) and w (O, C, KH, KW), checked:
    C-contiguous, one float dtype, a positive output size."""
    cdef int t = _typenum(x, "x")
    if _typenum(w, "w") != t:
        raise TypeError(f"x and w must have one dtype, got {x.dtype} and {w.dtype}")
    if x.ndim != 4 or w.ndim != 4 or w.shape[1] != x.shape[1]:
        raise ValueError(f"x must be (N, C, H, W) and w (O, C, KH, KW), got shapes {x.shape} "
                         f"and {w.shape}")
    sh, sw = stride
    ph, pw = padding
    dh, dw = dilation
    if min(sh, sw, dh, dw) < 1 or min(ph, pw) < 0:
        raise ValueError(f"bad stride {stride}, padding {padding} or dilation {dilation}")
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if oh < 1 or ow < 1 or kh < 1 or kw < 1 or out_shape != (n, o, oh, ow):
        raise ValueError(f"output shape {(n, o, oh, ow)} (expected {out_shape})")
    j.geo.C, j.geo.H, j.geo.W, j.geo.KH, j.geo.KW, j.geo.OH, j.geo.OW = c, h, wd, kh, kw, oh, ow
    j.geo.sh, j.geo.sw, j.geo.ph, j.geo.pw, j.geo.dh, j.geo.dw = sh, sw, ph, pw, dh, dw
    j.f64 = t == cnp.NPY_FLOAT64
    j.O, j.K, j.L = o, c * kh * kw, oh * ow
    j.x = <const char*>_arr(x, "x", t, x.size, False)
    j.w = <const char*>_arr(w, "w", t, w.size, False)
    j.b = j.g = NULL
    j.y = j.gx = j.gw_parts = NULL
    j.failed = False
    return t


def conv2d_forward(x, w, b, out, stride, padding, dilation):
    """out (N, O, OH, OW) = the convolution (cross-correlation) of x (N, C, H, W)
    with w (O, C, KH, KW), plus b (O,) (None: no bias); stride, padding (zeros)
    and dilation pairs.  C-contiguous arrays of one float dtype.  Returns False,
    having done nothing, when numpy's BLAS was not found."""
    if _sgemm == NULL or _dgemm == NULL:
        return False
    cdef ConvJob j
    cdef int t = _conv_job(&j, x, w, tuple(stride), tuple(padding), tuple(dilation),
                           tuple(out.shape))
    j.y = <char*>_arr(out, "out", t, out.size, True)
    if b is not None:
        if b.ndim != 1 or b.shape[0] != j.O:
            raise ValueError(f"b must be ({j.O},), got shape {b.shape}")
        j.b = <const char*>_arr(b, "b", t, j.O, False)
    cdef Py_ssize_t images = x.shape[0]
    with nogil:
        _conv_run(&j, _conv_forward_images, images)
    if j.failed:
        raise MemoryError("fastad: cannot allocate a convolution's scratch buffer")
    return True


def conv2d_backward(x, w, g, gx, gw, stride, padding, dilation):
    """The gradients of conv2d_forward's x and w from its output's g, written
    into gx (x's shape) and gw (w's shape), each None when not wanted."""
    if _sgemm == NULL or _dgemm == NULL:
        return False
    cdef ConvJob j
    cdef int t = _conv_job(&j, x, w, tuple(stride), tuple(padding), tuple(dilation),
                           tuple(g.shape))
    if _typenum(g, "g") != t:
        raise TypeError(f"g must be {x.dtype}, got {g.dtype}")
    j.g = <const char*>_arr(g, "g", t, g.size, False)
    if gx is not None:
        if gx.shape != x.shape:
            raise ValueError(f"gx must be {x.shape}, got {gx.shape}")
        j.gx = <char*>_arr(gx, "gx", t, gx.size, True)
    cdef Py_ssize_t images = x.shape[0]
    blocks = (images + CONV_IMAGES_PER_BLOCK - 1) // CONV_IMAGES_PER_BLOCK
    parts = None
    if gw is not None:
        if gw.shape != w.shape or _typenum(gw, "gw") != t:
            raise ValueError(f"gw must be a {w.dtype} array of shape {w.shape}")
        parts = np.empty((blocks, j.O, j.K), x.dtype)
        j.gw_parts = <char*>_arr(parts, "parts", t, parts.size, True)
    with nogil:
        _conv_run(&j, _conv_backward_images, images)
    if j.failed:
        raise MemoryError("fastad: cannot allocate a convolution's scratch buffer")
    if parts is not None:
        np.add.reduce(parts, axis=0, out=gw.reshape(j.O, j.K))
    return True
