# What fastad._tensor's compiled optimizer steps (_compiled_optim.pxi) cimport:
# an update's scalars and its arrays' checks, in one place for the def wrappers
# and for them.

cdef struct OptCtx:
    int f64
    int kind             # 0 sgd, 1 adam
    void* p
    void* g
    void* m              # momentum buffer / exp_avg
    void* v              # exp_avg_sq
    double lr, momentum, dampening, wd, eps, beta1, beta2, step_size, bc2_sqrt
    bint nesterov, first, decoupled


cdef bint sgd_setup(OptCtx* c, double lr, double momentum, double dampening,
                    double weight_decay, bint nesterov, bint first_step) noexcept
cdef void* opt_data(object arr, int typenum, Py_ssize_t size, bint writable) noexcept
cdef int adam_setup(OptCtx* c, double lr, double beta1, double beta2, double eps,
                    double weight_decay, bint decoupled, long step) except -1
cdef void opt_apply(OptCtx* c, Py_ssize_t n) noexcept nogil
