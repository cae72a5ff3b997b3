# What the other compiled modules cimport from _elementwise: the 0-d ops of the
# tape run through the array kernels' own loops (fastad/_tensor.pyx).
cdef int scalar_unary(int op, bint f64, double x, double a, double b, double* y,
                      double* d) noexcept nogil
cdef bint backward_reads_x(int op, double a) noexcept nogil
