# The per-element formulas of the elementwise losses (mse, l1, smooth_l1, huber,
# binary cross entropy with and without logits, kl_div) over `floating`: the loss,
# its gradient with respect to the input x and to the target t.  Inlined into the
# loops of _elementwise.pyx by loss_dispatch; the math is _fmath.pxd's, sigmoid
# and logsigmoid are _formulas.pxi's.

@cython.cdivision(True)
cdef inline floating mse_forward(floating x, floating t) noexcept nogil:
    return (x - t) * (x - t)

@cython.cdivision(True)
cdef inline floating mse_backward(floating x, floating t, floating g) noexcept nogil:
    return <floating>2 * (x - t) * g

@cython.cdivision(True)
cdef inline floating l1_forward(floating x, floating t) noexcept nogil:
    return f_abs(x - t)

@cython.cdivision(True)
cdef inline floating l1_backward(floating x, floating t, floating g) noexcept nogil:
    return f_sgn(x - t) * g

@cython.cdivision(True)
cdef inline floating smooth_l1_forward(floating x, floating t, floating beta) noexcept nogil:
    cdef floating z = f_abs(x - t)
    return <floating>0.5 * z * z / beta if z < beta else z - <floating>0.5 * beta

@cython.cdivision(True)
cdef inline floating smooth_l1_backward(floating x, floating t, floating g,
                                        floating beta) noexcept nogil:
    cdef floating d = x - t
    if beta == 0:
        return l1_backward(x, t, g)
    if d <= -beta:
        return -g
    elif d >= beta:
        return g
    return d * g / beta

@cython.cdivision(True)
cdef inline floating huber_forward(floating x, floating t, floating delta) noexcept nogil:
    cdef floating z = f_abs(x - t)
    return <floating>0.5 * z * z if z < delta else delta * (z - <floating>0.5 * delta)

@cython.cdivision(True)
cdef inline floating huber_backward(floating x, floating t, floating g,
                                    floating delta) noexcept nogil:
    cdef floating d = x - t
    if d <= -delta:
        return -delta * g
    elif d >= delta:
        return delta * g
    return d * g

@cython.cdivision(True)
cdef inline floating max_f(floating a, floating b) noexcept nogil:
    # std::max(a, b) semantics: NaN in a propagates
    return b if a < b else a

@cython.cdivision(True)
cdef inline floating bce_forward(floating x, floating t) noexcept nogil:
    return ((t - <floating>1) * max_f(f_log1p(-x), <floating>-100)
            - t * max_f(f_log(x), <floating>-100))

@cython.cdivision(True)
cdef inline floating bce_backward(floating x, floating t, floating g) noexcept nogil:
    # PyTorch's EPSILON is the float constant 1e-12f for both dtypes
    return g * (x - t) / max_f((<floating>1 - x) * x, <floating>(<float>1e-12))

@cython.cdivision(True)
cdef inline floating bce_target_backward(floating x, floating t, floating g) noexcept nogil:
    return -f_log(x / (<floating>1 - x)) * g

@cython.cdivision(True)
cdef inline floating bce_logits_forward_elem(floating x, floating t, floating pw) noexcept nogil:
    cdef floating lw = (pw - <floating>1) * t + <floating>1
    return (<floating>1 - t) * x - lw * logsigmoid_forward(x)

@cython.cdivision(True)
cdef inline floating bce_logits_backward_elem(floating x, floating t, floating pw,
                                              floating g) noexcept nogil:
    cdef floating tp = pw * t
    return g * ((tp + <floating>1 - t) * sigmoid_forward(x) - tp)

@cython.cdivision(True)
cdef inline floating bce_logits_target_backward(floating x, floating t, floating pw,
                                                floating g) noexcept nogil:
    return g * (-x - (pw - <floating>1) * logsigmoid_forward(x))

@cython.cdivision(True)
cdef inline floating kl_div_forward(floating x, floating t, bint log_target) noexcept nogil:
    if log_target:
        return f_exp(t) * (t - x)
    return (0 if t == 0 else t * f_log(t)) - t * x     # xlogy(t, t) - t * x

@cython.cdivision(True)
cdef inline floating kl_div_backward(floating x, floating t, floating g,
                                     bint log_target) noexcept nogil:
    if log_target:
        return -f_exp(t) * g
    return -t * g

@cython.cdivision(True)
cdef inline floating kl_div_target_backward(floating x, floating t, floating g,
                                            bint log_target) noexcept nogil:
    if log_target:
        return g * (f_exp(t) * (t - x + <floating>1))
    return 0 if t == 0 else g * (f_log(t) + <floating>1 - x)

