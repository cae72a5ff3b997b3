# Scalar math over Cython's `floating` (float32 and float64 from one source) for
# the kernels and the formulas of _formulas.pxi: the vectorisable C functions of
# csrc/fad_math.h (libm's are a call per element), libm's sqrt and fabs, and the
# row reductions of csrc/fad_reduce.h.  Everything here is inlined.
cimport cython
from cython cimport floating
from libc.math cimport sqrt, sqrtf, fabs, fabsf

cdef extern from "csrc/fad_math.h":
    float fad_expf(float x) noexcept nogil
    double fad_exp(double x) noexcept nogil
    float fad_expm1f(float x) noexcept nogil
    double fad_expm1(double x) noexcept nogil
    double fad_sin(double x) noexcept nogil
    double fad_cos(double x) noexcept nogil
    double FAD_TRIG_LIMIT
    float fad_logf(float x) noexcept nogil
    double fad_log(double x) noexcept nogil
    float fad_erff(float x) noexcept nogil
    double fad_erf(double x) noexcept nogil
    float fad_log1pf(float x) noexcept nogil
    double fad_log1p(double x) noexcept nogil
    float fad_tanhf(float x) noexcept nogil
    double fad_tanh(double x) noexcept nogil
    double FAD_GELU_KBETA
    double FAD_GELU_KAPPA

cdef extern from "csrc/fad_reduce.h":
    float fad_row_maxf(const float* x, Py_ssize_t C) noexcept nogil
    double fad_row_max(const double* x, Py_ssize_t C) noexcept nogil
    double fad_sum_as_doublef(const float* a, Py_ssize_t n) noexcept nogil
    float fad_row_dotf(const float* a, const float* b, Py_ssize_t C) noexcept nogil
    double fad_row_dot(const double* a, const double* b, Py_ssize_t C) noexcept nogil
    float fad_row_sumf(const float* a, Py_ssize_t C) noexcept nogil
    double fad_row_sum(const double* a, Py_ssize_t C) noexcept nogil


@cython.cdivision(True)
cdef inline floating f_exp(floating x) noexcept nogil:
    if floating is float:
        return fad_expf(x)
    else:
        return fad_exp(x)

@cython.cdivision(True)
cdef inline floating f_tanh(floating x) noexcept nogil:
    if floating is float:
        return fad_tanhf(x)
    else:
        return fad_tanh(x)

@cython.cdivision(True)
cdef inline floating f_log(floating x) noexcept nogil:
    if floating is float:
        return fad_logf(x)
    else:
        return fad_log(x)

@cython.cdivision(True)
cdef inline floating f_log1p(floating x) noexcept nogil:
    if floating is float:
        return fad_log1pf(x)
    else:
        return fad_log1p(x)

@cython.cdivision(True)
cdef inline floating f_expm1(floating x) noexcept nogil:
    if floating is float:
        return fad_expm1f(x)
    else:
        return fad_expm1(x)

@cython.cdivision(True)
cdef inline floating f_erf(floating x) noexcept nogil:
    if floating is float:
        return fad_erff(x)
    else:
        return fad_erf(x)

@cython.cdivision(True)
cdef inline floating f_sin(floating x) noexcept nogil:
    """Vectorised; |x| > FAD_TRIG_LIMIT, NaN and inf are left to trig_fixup."""
    return <floating>fad_sin(x)

@cython.cdivision(True)
cdef inline floating f_cos(floating x) noexcept nogil:
    """Vectorised; |x| > FAD_TRIG_LIMIT, NaN and inf are left to trig_fixup."""
    return <floating>fad_cos(x)

@cython.cdivision(True)
cdef inline floating f_sqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)

@cython.cdivision(True)
cdef inline floating f_abs(floating x) noexcept nogil:
    if floating is float:
        return fabsf(x)
    else:
        return fabs(x)

@cython.cdivision(True)
cdef inline floating f_sgn(floating x) noexcept nogil:
    # torch.sgn for real input: (0 < x) - (x < 0), so sgn(NaN) = 0 as in PyTorch
    return <floating>(0 < x) - <floating>(x < 0)
