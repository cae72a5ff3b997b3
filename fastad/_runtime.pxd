# The kernels' run time, cimported by every kernel module: the one loop driver
# and the thread settings it reads, the sizes the loops are blocked by, and the
# argument checks every def wrapper runs before it releases the GIL.
cdef extern from "csrc/fad_common.h":
    # first in every kernel module: always-inline `cdef inline`, no trapping math
    bint FAD_HAVE_OPENMP
    void fad_prefetch(const void* p, Py_ssize_t nbytes) noexcept nogil
    void fad_stream_copy(void* dst, const void* src, Py_ssize_t nbytes) noexcept nogil
    void fad_stream_fence() noexcept nogil

cdef enum:
    BLOCK = 16384              # work items per prange block (multiple of 64)
    LANES = 16                 # elements per unrolled step: a line of float32, the vector width
    PREFETCH_AHEAD = 4096      # bytes: how far ahead of its loads a kernel prefetches
    SPILL_BYTES = 16384        # an elementwise block computed in L1, then streamed out
    SPILL_DOUBLES = 2048       # SPILL_BYTES // 8
    ROW_SPILL_BYTES = 32768    # rows up to this size are streamed out whole
    ROW_SPILL_DOUBLES = 4096   # ROW_SPILL_BYTES // 8

# set by set_num_threads and the _set_*_threshold functions of fastad._runtime
cdef int _num_threads                 # threads of a parallel region
cdef Py_ssize_t _threshold            # elementwise work items below which no thread starts
cdef Py_ssize_t _stream_min           # output bytes from which stores are non-temporal

ctypedef void (*range_fn)(void* ctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil

cdef void run_blocks(range_fn fn, void* ctx, Py_ssize_t n, Py_ssize_t cost) noexcept nogil
cdef void run_split(range_fn fn, void* ctx, Py_ssize_t n, Py_ssize_t per) noexcept nogil
cdef Py_ssize_t thread_share(Py_ssize_t n, Py_ssize_t align) noexcept nogil

cdef int _typenum(object arr, str name) except -1
cdef void* _arr(object arr, str name, int typenum, Py_ssize_t size, bint writable) except NULL
cdef int _matrix(object arr, str name, int typenum, Py_ssize_t* rows,
                 Py_ssize_t* cols) except -1
