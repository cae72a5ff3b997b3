# What the other compiled modules cimport from _kernels.
cdef int scalar_unary(int op, bint f64, double x, double a, double b, double* y,
                      double* d) noexcept nogil
cdef bint backward_reads_x(int op, double a) noexcept nogil
