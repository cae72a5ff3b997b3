# The per-element formulas of the elementwise ops: a forward and a backward
# for each row of fastad/opdefs.py, over `floating` (float32 and float64 from one
# source), inlined into the loops of _elementwise.pyx by the generated dispatch
# (_dispatch.pxi).  A new op: its pair here, its row in opdefs.py (CONTRIBUTING.md).
# The math they call (f_exp, f_log, f_tanh, ...) is _fmath.pxd's.

# ---------------------------------------------------------------------------
# activations: forward / backward formulas (PyTorch definitions and kink rules)
# ---------------------------------------------------------------------------
cdef double SELU_ALPHA = 1.6732632423543772848170429916717
cdef double SELU_SCALE = 1.0507009873554804934193349852946

@cython.cdivision(True)
cdef inline floating sigmoid_forward(floating x) noexcept nogil:
    cdef floating e = f_exp(-f_abs(x))
    cdef floating r = <floating>1 / (<floating>1 + e)
    # PyTorch's 1 / (1 + exp(-x)) is 0 where exp(-x) overflows, not exp(x)'s denormal
    cdef floating lowest = <floating>-88.72283172607422 if floating is float else <floating>-709.782712893384
    return r if x >= 0 else (0 if x < lowest else e * r)     # NaN falls through to e * r

@cython.cdivision(True)
cdef inline floating sigmoid_backward(floating y, floating gy) noexcept nogil:
    return gy * (<floating>1 - y) * y

@cython.cdivision(True)
cdef inline floating tanh_backward(floating y, floating gy) noexcept nogil:
    return gy * (<floating>1 - y * y)

@cython.cdivision(True)
cdef inline floating relu_forward(floating x) noexcept nogil:
    return 0 if x <= 0 else x

@cython.cdivision(True)
cdef inline floating relu_backward(floating y, floating gy) noexcept nogil:
    return 0 if y <= 0 else gy

@cython.cdivision(True)
cdef inline floating hardtanh_forward(floating x, floating lo, floating hi) noexcept nogil:
    return lo if x < lo else (hi if x > hi else x)

@cython.cdivision(True)
cdef inline floating hardtanh_backward(floating y, floating gy, floating lo,
                                       floating hi) noexcept nogil:
    # from y = clamp(x): y <= lo <=> x <= lo and y >= hi <=> x >= hi (lo < hi)
    # `|`, not `or`: a short-circuit branch kept this loop from vectorising (6.5 -> 0.4 ns)
    return 0 if ((y <= lo) | (y >= hi)) else gy

@cython.cdivision(True)
cdef inline floating leaky_relu_forward(floating x, floating slope) noexcept nogil:
    return x if x > 0 else x * slope

@cython.cdivision(True)
cdef inline floating leaky_relu_backward(floating x, floating gy, floating slope) noexcept nogil:
    return gy if x > 0 else gy * slope

@cython.cdivision(True)
cdef inline floating elu_forward(floating x, floating alpha, floating scale,
                                 floating iscale) noexcept nogil:
    return f_expm1(x * iscale) * alpha * scale if x <= 0 else x * scale

@cython.cdivision(True)
cdef inline floating elu_backward_from_y(floating y, floating gy, floating alpha, floating scale,
                                         floating iscale) noexcept nogil:
    return gy * iscale * (y + alpha * scale) if y <= 0 else gy * scale

@cython.cdivision(True)
cdef inline floating elu_backward_from_x(floating x, floating gy, floating alpha, floating scale,
                                         floating iscale) noexcept nogil:
    return gy * iscale * (alpha * scale) * f_exp(x * iscale) if x <= 0 else gy * scale

@cython.cdivision(True)
cdef inline floating gelu_forward(floating x) noexcept nogil:
    return x * <floating>0.5 * (<floating>1 + f_erf(x * <floating>0.70710678118654752440))

@cython.cdivision(True)
cdef inline floating gelu_backward(floating x, floating gy) noexcept nogil:
    cdef floating cdf = <floating>0.5 * (<floating>1 + f_erf(x * <floating>0.70710678118654752440))
    cdef floating pdf = f_exp(<floating>-0.5 * x * x) * <floating>0.39894228040143267794
    return gy * (cdf + x * pdf)

@cython.cdivision(True)
cdef inline floating gelu_tanh_forward(floating x) noexcept nogil:
    cdef floating inner = <floating>GELU_KBETA * (x + <floating>GELU_KAPPA * x * x * x)
    return <floating>0.5 * x * (<floating>1 + f_tanh(inner))

@cython.cdivision(True)
cdef inline floating gelu_tanh_backward(floating x, floating gy) noexcept nogil:
    cdef floating x_sq = x * x
    cdef floating inner = <floating>GELU_KBETA * (x + <floating>GELU_KAPPA * x_sq * x)
    cdef floating th = f_tanh(inner)
    cdef floating left = <floating>0.5 * x
    cdef floating right = <floating>1 + th
    cdef floating right_d = ((<floating>1 - th * th) * <floating>GELU_KBETA
                             * (<floating>1 + <floating>(3 * GELU_KAPPA) * x_sq))
    return gy * (<floating>0.5 * right + left * right_d)

@cython.cdivision(True)
cdef inline floating silu_forward(floating x) noexcept nogil:
    return x * sigmoid_forward(x)

@cython.cdivision(True)
cdef inline floating silu_backward(floating x, floating gy) noexcept nogil:
    cdef floating s = sigmoid_forward(x)
    return gy * s * (<floating>1 + x * (<floating>1 - s))

@cython.cdivision(True)
cdef inline floating softplus_stable(floating x) noexcept nogil:
    # log(1 + exp(x)) without overflow
    return (x if x > 0 else 0) + f_log1p(f_exp(-f_abs(x)))

@cython.cdivision(True)
cdef inline floating mish_forward(floating x) noexcept nogil:
    return x * f_tanh(softplus_stable(x))

@cython.cdivision(True)
cdef inline floating mish_backward(floating x, floating gy) noexcept nogil:
    cdef floating s = sigmoid_forward(x)
    cdef floating t = f_tanh(softplus_stable(x))
    return gy * (t + x * s * (<floating>1 - t * t))

@cython.cdivision(True)
cdef inline floating softplus_forward(floating x, floating beta, floating threshold) noexcept nogil:
    cdef floating z = x * beta
    return x if z > threshold else f_log1p(f_exp(z)) / beta

@cython.cdivision(True)
cdef inline floating softplus_backward(floating x, floating gy, floating beta,
                                       floating threshold) noexcept nogil:
    cdef floating z = f_exp(x * beta)
    return gy if x * beta > threshold else gy * z / (z + <floating>1)

@cython.cdivision(True)
cdef inline floating softsign_forward(floating x) noexcept nogil:
    return x / (<floating>1 + f_abs(x))

@cython.cdivision(True)
cdef inline floating softsign_backward(floating x, floating gy) noexcept nogil:
    # PyTorch differentiates x / (|x| + 1) through div and abs: mirror it (inf -> NaN)
    cdef floating d = f_abs(x) + <floating>1
    return gy / d + (-gy * x / (d * d)) * f_sgn(x)

@cython.cdivision(True)
cdef inline floating logsigmoid_forward(floating x) noexcept nogil:
    return (x if x < 0 else 0) - f_log1p(f_exp(-f_abs(x)))

@cython.cdivision(True)
cdef inline floating logsigmoid_backward(floating x, floating gy) noexcept nogil:
    cdef floating z = f_exp(-f_abs(x))
    cdef floating q = z / (<floating>1 + z)
    return gy * (<floating>1 - q) if x < 0 else gy * q

@cython.cdivision(True)
cdef inline floating hardsigmoid_forward(floating x) noexcept nogil:
    return hardtanh_forward(x + <floating>3, <floating>0, <floating>6) / <floating>6

@cython.cdivision(True)
cdef inline floating hardsigmoid_backward(floating x, floating gy) noexcept nogil:
    # PyTorch uses one_sixth = 1.0f / 6.0f (a float constant) for both dtypes
    return gy * <floating>(<float>(1.0 / 6.0)) if (x > -3 and x < 3) else 0

@cython.cdivision(True)
cdef inline floating hardswish_forward(floating x) noexcept nogil:
    return x * hardtanh_forward(x + <floating>3, <floating>0, <floating>6) / <floating>6

@cython.cdivision(True)
cdef inline floating hardswish_backward(floating x, floating gy) noexcept nogil:
    if x <= -3:
        return 0
    elif x < 3:
        return gy * (x / <floating>3 + <floating>0.5)
    return gy

@cython.cdivision(True)
cdef inline floating rrelu_forward_elem(floating x, floating slope) noexcept nogil:
    return x if x >= 0 else x * slope

@cython.cdivision(True)
cdef inline floating rrelu_backward_elem(floating x, floating gy, floating slope) noexcept nogil:
    # PyTorch rrelu_with_noise: noise = slope where x <= 0 (so x == 0 takes the slope)
    return gy if x > 0 else gy * slope

# ---------------------------------------------------------------------------
# math functions (torch.tan, asinh, erfinv, floor, ...): libm in double, rounded
# once to the row's dtype, where no vectorised helper above exists; these are
# not in any measured hot loop, and double keeps float32 within PyTorch's 1 ulp
# ---------------------------------------------------------------------------
from libc.math cimport (exp2, log2, log10, tan, asin, acos, atan, sinh, cosh, asinh, acosh,
                        atanh, erf, erfc, floor, ceil, trunc, nearbyint, copysign, INFINITY)

@cython.cdivision(True)
cdef inline double erfinv_double(double y) noexcept nogil:
    # PyTorch's calc_erfinv: a rational first guess (central range 0.7), then
    # two Newton steps on erf(x) = y
    cdef double ay = fabs(y), z, num, dem, x
    if ay > 1:
        return NAN
    if ay == 1:
        return copysign(INFINITY, y)
    if ay <= 0.7:
        z = y * y
        num = ((-0.140543331 * z + 0.914624893) * z - 1.645349621) * z + 0.886226899
        dem = (((0.012229801 * z - 0.329097515) * z + 1.442710462) * z - 2.118377725) * z + 1
        x = y * num / dem
    else:
        z = sqrt(-f_log((1 - ay) / 2))
        num = ((1.641345311 * z + 3.429567803) * z - 1.624906493) * z - 1.970840454
        dem = (1.637067800 * z + 3.543889200) * z + 1
        x = copysign(num, y) / dem
    x = x - (erf(x) - y) / (TWO_OVER_SQRT_PI * f_exp(-x * x))
    return x - (erf(x) - y) / (TWO_OVER_SQRT_PI * f_exp(-x * x))
