# cython: language_level=3
# distutils: language = c
"""The optimiser kernels of fastad: torch.optim's single-tensor SGD and
Adam/AdamW update rules (scalars cast to the parameters' dtype), one call per
parameter group (fastad/optim/sgd.py, adam.py).
"""
cimport cython
from cython cimport floating
from libc.stdlib cimport malloc, free
cimport numpy as cnp
import numpy as np
from fastad._runtime cimport run_blocks, _typenum, _arr
from fastad._fmath cimport f_sqrt

cnp.import_array()


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.cdivision(True)
cdef void opt_impl(OptCtx* c, floating* p, const floating* g, floating* m, floating* v,
                   Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating gi, bi, denom
    cdef floating lr = <floating>c.lr, neg_lr = <floating>(-c.lr)
    cdef floating wd = <floating>c.wd, mom = <floating>c.momentum
    cdef floating damp1 = <floating>(1 - c.dampening)
    cdef floating w1 = <floating>(1 - c.beta1), b2 = <floating>c.beta2
    cdef floating w2 = <floating>(1 - c.beta2), eps = <floating>c.eps
    cdef floating decay = <floating>(1 - c.lr * c.wd)
    cdef floating neg_step = <floating>(-c.step_size), bc2s = <floating>c.bc2_sqrt
    if c.kind == 0:
        for i in range(lo, hi):
            gi = g[i]
            if c.wd != 0:
                gi = gi + wd * p[i]
            if c.momentum != 0:
                if c.first:
                    bi = gi
                else:
                    bi = m[i] * mom
                    bi = bi + damp1 * gi
                m[i] = bi
                if c.nesterov:
                    gi = gi + mom * bi
                else:
                    gi = bi
            p[i] = p[i] + neg_lr * gi
    else:
        for i in range(lo, hi):
            gi = g[i]
            if c.wd != 0:
                if c.decoupled:
                    p[i] = p[i] * decay
                else:
                    gi = gi + wd * p[i]
            m[i] = m[i] + w1 * (gi - m[i])                    # lerp_(grad, 1 - beta1)
            v[i] = v[i] * b2
            v[i] = v[i] + w2 * gi * gi                        # addcmul_(g, g, 1 - beta2)
            denom = f_sqrt(v[i]) / bc2s + eps
            p[i] = p[i] + neg_step * m[i] / denom             # addcdiv_(m, denom, -step_size)


cdef void opt_range(void* vctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef OptCtx* c = <OptCtx*>vctx
    if c.f64:
        opt_impl(c, <double*>c.p, <const double*>c.g, <double*>c.m, <double*>c.v, lo, hi)
    else:
        opt_impl(c, <float*>c.p, <const float*>c.g, <float*>c.m, <float*>c.v, lo, hi)


cdef void opt_apply(OptCtx* c, Py_ssize_t n) noexcept nogil:
    """The update c on its n-element arrays."""
    run_blocks(opt_range, c, n, 1)


cdef _opt_run_half(list params, list grads, list bufs1, list bufs2, OptCtx* proto,
                   bint need1, bint need2):
    """The update on float32 copies of the float16 arrays, rounded back into them:
    PyTorch's half updates compute in float32 and round."""
    wide = [None if arrays is None else
            [a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype == np.float16 else a
             for a in arrays]
            for arrays in (params, grads, bufs1, bufs2)]
    _opt_run(wide[0], wide[1], wide[2], wide[3], proto, need1, need2)
    for arrays, new in ((params, wide[0]), (bufs1, wide[2]), (bufs2, wide[3])):
        if arrays is not None:
            for a, w in zip(arrays, new):
                if a is not w:
                    np.copyto(a, w, casting="same_kind")


cdef _opt_run(list params, list grads, list bufs1, list bufs2, OptCtx* proto, bint need1,
              bint need2):
    cdef Py_ssize_t k, n, np_ = len(params)
    for nm, lst in (("grads", grads), ("bufs", bufs1), ("exp_avg_sqs", bufs2)):
        if lst is not None and len(lst) != np_:
            raise ValueError(f"{nm} has {len(lst)} entries, expected {np_} (one per param)")
    for p in params:
        if isinstance(p, cnp.ndarray) and cnp.PyArray_TYPE(<cnp.ndarray>p) == cnp.NPY_FLOAT16:
            return _opt_run_half(params, grads, bufs1, bufs2, proto, need1, need2)
    cdef OptCtx* ctxs = <OptCtx*>malloc((np_ if np_ else 1) * sizeof(OptCtx))
    cdef Py_ssize_t* sizes = <Py_ssize_t*>malloc((np_ if np_ else 1) * sizeof(Py_ssize_t))
    if ctxs == NULL or sizes == NULL:
        free(ctxs); free(sizes)
        raise MemoryError()
    try:
        for k in range(np_):
            p = params[k]
            t = _typenum(p, f"params[{k}]")
            n = cnp.PyArray_SIZE(<cnp.ndarray>p)
            ctxs[k] = proto[0]
            ctxs[k].f64 = t == cnp.NPY_FLOAT64
            ctxs[k].p = _arr(p, f"params[{k}]", t, n, True)
            ctxs[k].g = _arr(grads[k], f"grads[{k}]", t, n, False)
            ctxs[k].m = _arr(bufs1[k], f"bufs[{k}]", t, n, True) if need1 else ctxs[k].p
            ctxs[k].v = _arr(bufs2[k], f"exp_avg_sqs[{k}]", t, n, True) if need2 else ctxs[k].p
            sizes[k] = n
        with nogil:
            for k in range(np_):
                opt_apply(&ctxs[k], sizes[k])
    finally:
        free(ctxs)
        free(sizes)


cdef bint sgd_setup(OptCtx* c, double lr, double momentum, double dampening,
                    double weight_decay, bint nesterov, bint first_step) noexcept:
    """Sets c; False (c unset) if the options are not a valid SGD's."""
    if nesterov and (momentum <= 0 or dampening != 0):
        return False
    c.kind = 0; c.lr = lr; c.momentum = momentum; c.dampening = dampening
    c.wd = weight_decay; c.nesterov = nesterov; c.first = first_step
    c.eps = c.beta1 = c.beta2 = c.step_size = c.bc2_sqrt = 0; c.decoupled = False
    return True


cdef void* opt_data(object arr, int typenum, Py_ssize_t size, bint writable) noexcept:
    """_arr's pointer where arr passes its checks; NULL (no error) where not."""
    try:
        return _arr(arr, "an optimizer's array", typenum, size, writable)
    except (TypeError, ValueError):
        return NULL


cdef int adam_setup(OptCtx* c, double lr, double beta1, double beta2, double eps,
                    double weight_decay, bint decoupled, long step) except -1:
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    c.kind = 1; c.lr = lr; c.beta1 = beta1; c.beta2 = beta2; c.eps = eps
    c.wd = weight_decay; c.decoupled = decoupled
    c.step_size = lr / bias_correction1
    c.bc2_sqrt = bias_correction2 ** 0.5
    c.momentum = c.dampening = 0; c.nesterov = False; c.first = False
    return 0


def sgd_step(list params, list grads, list bufs, double lr, double momentum, double dampening,
             double weight_decay, bint nesterov, bint first_step):
    """torch.optim.SGD (single-tensor): first_step initialises bufs to the grad."""
    cdef OptCtx c
    if not sgd_setup(&c, lr, momentum, dampening, weight_decay, nesterov, first_step):
        raise ValueError("Nesterov momentum requires a momentum and zero dampening")
    _opt_run(params, grads, bufs if momentum != 0 else None, None, &c, momentum != 0, False)


def adam_step(list params, list grads, list exp_avgs, list exp_avg_sqs, double lr, double beta1,
              double beta2, double eps, double weight_decay, bint decoupled, long step):
    """torch.optim.Adam / AdamW (decoupled=True) single-tensor update; `step` is the
    1-based step count after increment."""
    cdef OptCtx c
    if step < 1:
        raise ValueError(f"step must be >= 1, got {step}")
    adam_setup(&c, lr, beta1, beta2, eps, weight_decay, decoupled, step)
    _opt_run(params, grads, exp_avgs, exp_avg_sqs, &c, True, True)
