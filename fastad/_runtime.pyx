# cython: language_level=3
# distutils: language = c
"""The kernels' run time: threads, the loop driver, recycled output buffers and
argument checks (fastad._kernels gathers the public names).

Loop structure: every kernel is a *range function* ``fn(ctx, lo, hi)`` that
processes items ``[lo, hi)``.  ONE driver, :c:func:`run_blocks`, runs it either
serially (small inputs: no threads are ever started) or with
``prange(nblocks, schedule='static', num_threads=n)`` over fixed-size blocks.
Each item is always computed by the same serial code, so results are bitwise
identical for any thread count.
"""
cimport cython
from cython.parallel cimport prange
cimport numpy as cnp
import os
import warnings

import numpy as np

cnp.import_array()

HAVE_OPENMP = bool(FAD_HAVE_OPENMP)

# ---------------------------------------------------------------------------
# recycled output buffers (csrc/fad_pool.h)
# ---------------------------------------------------------------------------
cdef extern from "csrc/fad_pool.h":
    object fad_pool_capsule(object base_capsule)
    size_t fad_pool_cached_bytes() noexcept
    unsigned long fad_pool_reuses() noexcept
    void fad_pool_release() noexcept nogil
    size_t FAD_POOL_MIN

# numpy's handler of this (import-time) context is its default one; the pool
# allocates its new blocks with it, so they get numpy's huge-page advice.
_POOL = fad_pool_capsule(cnp.PyDataMem_GetHandler())
# the smallest array (bytes) the pool recycles
POOL_MIN = FAD_POOL_MIN


cdef object _empty(int nd, cnp.npy_intp* dims, int typenum, size_t nbytes):
    if nbytes < FAD_POOL_MIN:
        return cnp.PyArray_EMPTY(nd, dims, typenum, 0)
    previous = cnp.PyDataMem_SetHandler(_POOL)
    try:
        return cnp.PyArray_EMPTY(nd, dims, typenum, 0)
    finally:
        cnp.PyDataMem_SetHandler(previous)


def empty_like(cnp.ndarray a):
    """np.empty_like(a), C-contiguous, from the recycled blocks when it is large."""
    return _empty(a.ndim, a.shape, cnp.PyArray_TYPE(a), cnp.PyArray_NBYTES(a))


def empty(tuple shape, dtype):
    """np.empty(shape, dtype), from the recycled blocks when it is large."""
    cdef cnp.npy_intp dims[64]          # numpy's NPY_MAXDIMS
    cdef cnp.dtype d = np.dtype(dtype)
    cdef int nd = len(shape), k
    cdef size_t nbytes = d.itemsize
    if nd > 64:
        raise ValueError(f"too many dimensions: {nd}")
    for k in range(nd):
        dims[k] = shape[k]
        nbytes *= <size_t>dims[k]
    return _empty(nd, dims, d.type_num, nbytes)


def pool_stats():
    """(bytes held for reuse, blocks handed out again so far)."""
    return fad_pool_cached_bytes(), fad_pool_reuses()


def empty_cache():
    """Give the blocks held for reuse back to the system."""
    fad_pool_release()


# ---------------------------------------------------------------------------
# threads
# ---------------------------------------------------------------------------
#: elementwise work items below which kernels never start threads.  Idle OpenMP
#: threads sleep (OMP_WAIT_POLICY=PASSIVE, set by fastad/__init__.py), and waking
#: one on these 2-core VMs costs about 120 us per parallel region.  Measured,
#: float32, median per call, 2 threads / 1: relu 2^15 129 / 4.8 us, 2^19 195 / 155,
#: 2^20 264 / 326; sigmoid 2^18 193 / 134, 2^19 262 / 285; exp 2^20 367 / 359,
#: 2^21 590 / 739.  From 2^20 elements on a second thread pays (32768, PyTorch's
#: threshold and ours before, made a 2-thread W4 step 343 us against 326).
PARALLEL_THRESHOLD = 1 << 20

#: outputs of at least this many bytes are written with non-temporal stores
#: (fad_stream_copy); smaller ones stay in cache for the op that reads them next.
STREAM_THRESHOLD = 8 << 20

_threshold = PARALLEL_THRESHOLD
_stream_min = STREAM_THRESHOLD
_num_threads = 1
cdef bint _pool_started = False     # a prange has run: OpenMP threads exist
cdef bint _forked_after_pool = False


def _default_threads():
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return os.cpu_count() or 1


def set_num_threads(int n):
    """Set the number of threads kernels use above PARALLEL_THRESHOLD."""
    global _num_threads
    if n < 1:
        raise ValueError(f"number of threads must be >= 1, got {n}")
    if _forked_after_pool and n > 1:
        warnings.warn("fastad: this process was forked after its parent ran OpenMP threads; "
                      "GNU OpenMP cannot start threads here, so kernels stay serial",
                      RuntimeWarning, stacklevel=2)
        n = 1
    _num_threads = n


def _after_fork_in_child():
    # GNU OpenMP's pool does not survive fork: a child that starts a parallel
    # region after its parent did hangs.  Such a child runs kernels serially.
    global _num_threads, _forked_after_pool
    if _pool_started:
        _forked_after_pool = True
        _num_threads = 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def get_num_threads():
    return _num_threads


def _set_parallel_threshold(Py_ssize_t n):
    """For measuring the break-even point (benchmarks/tests); returns the old value."""
    global _threshold
    old = _threshold
    _threshold = max(n, 1)
    return old


def _set_stream_threshold(Py_ssize_t nbytes):
    """For measuring (benchmarks/tests) and testing both store paths; returns the old value."""
    global _stream_min
    old = _stream_min
    _stream_min = max(nbytes, 0)
    return old


set_num_threads(_default_threads())


@cython.cdivision(True)
cdef void run_blocks(range_fn fn, void* ctx, Py_ssize_t n, Py_ssize_t cost) noexcept nogil:
    """THE loop driver: items [0, n), each costing ~cost elements of work."""
    if n <= 0:
        return
    if _num_threads <= 1 or n * cost < _threshold or n == 1:
        fn(ctx, 0, n)
        return
    run_split(fn, ctx, n, BLOCK // cost if cost < BLOCK else 1)


@cython.cdivision(True)
cdef void run_split(range_fn fn, void* ctx, Py_ssize_t n, Py_ssize_t per) noexcept nogil:
    """fn over items [0, n) in blocks of `per`, the blocks shared by the threads."""
    cdef Py_ssize_t nblk = (n + per - 1) // per, c, lo, hi
    global _pool_started
    _pool_started = True
    for c in prange(nblk, schedule='static', num_threads=_num_threads):
        lo = c * per
        hi = lo + per
        if hi > n:
            hi = n
        fn(ctx, lo, hi)


@cython.cdivision(True)
cdef Py_ssize_t thread_share(Py_ssize_t n, Py_ssize_t align) noexcept nogil:
    """A thread's share of n items, rounded up to a multiple of align."""
    cdef Py_ssize_t per = (n + _num_threads - 1) // _num_threads
    return (per + align - 1) // align * align


# ---------------------------------------------------------------------------
# argument checks (GIL held): the kernels trust what passes them
# ---------------------------------------------------------------------------
cdef int _typenum(object arr, str name) except -1:
    if not isinstance(arr, cnp.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(arr).__name__}")
    cdef int t = cnp.PyArray_TYPE(<cnp.ndarray>arr)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        raise TypeError(f"{name} must be float32 or float64, got {arr.dtype}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>arr):
        raise ValueError(f"{name} must be C-contiguous")
    return t


cdef void* _arr(object arr, str name, int typenum, Py_ssize_t size, bint writable) except NULL:
    """Check arr is a C-contiguous ndarray of typenum with `size` elements; return data."""
    if not isinstance(arr, cnp.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(arr).__name__}")
    cdef cnp.ndarray a = <cnp.ndarray>arr
    if cnp.PyArray_TYPE(a) != typenum:
        raise TypeError(f"{name} has dtype {a.dtype}, expected "
                        f"{'float64' if typenum == cnp.NPY_FLOAT64 else 'float32'}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(a):
        raise ValueError(f"{name} must be C-contiguous")
    if size >= 0 and cnp.PyArray_SIZE(a) != size:
        raise ValueError(f"{name} has {cnp.PyArray_SIZE(a)} elements, expected {size}")
    if writable and not cnp.PyArray_ISWRITEABLE(a):
        raise ValueError(f"{name} is read-only")
    cdef void* p = cnp.PyArray_DATA(a)
    if p == NULL:      # zero-size arrays may have a NULL-ish pointer; never dereferenced
        return <void*>1
    return p


cdef int _matrix(object arr, str name, int typenum, Py_ssize_t* rows, Py_ssize_t* cols) except -1:
    _arr(arr, name, typenum, -1, False)
    if cnp.PyArray_NDIM(<cnp.ndarray>arr) != 2:
        raise ValueError(f"{name} must be 2-D (rows, cols), got shape {arr.shape}")
    rows[0] = cnp.PyArray_DIM(<cnp.ndarray>arr, 0)
    cols[0] = cnp.PyArray_DIM(<cnp.ndarray>arr, 1)
    return 0
