# ---------------------------------------------------------------- optimizer steps in a plan
# Included by _tensor.pyx after _trace.pxi.  fastad._compile lowers an
# optimizer's zero_grad() to a _ZeroGrad, and the step() of SGD, Adam and
# AdamW (called without a closure) to an _OptimizerStep: a replay calls the
# update kernel on the arrays of the parameters, their grads and their state,
# with the scalars eager's step computes (adam_setup, sgd_setup: one formula
# for both), without the optimizer's Python.  (Not _runtime's run_blocks: its
# header makes every `cdef inline` of the module that cimports it always inlined.)
from fastad._optim cimport OptCtx, adam_setup, sgd_setup, opt_apply, opt_data
from cpython.mem cimport PyMem_Realloc


cdef void *_flat_data(object t, int typenum, Py_ssize_t n, bint writable, list alive):
    """The data of tensor t's array if it passes the update kernels' checks
    (opt_data), the array kept in alive while they run without the GIL; else NULL."""
    if not isinstance(t, Tensor) or (<Tensor>t)._data is None:
        return NULL
    a = (<Tensor>t)._data
    cdef void *data = opt_data(a, typenum, n, writable)
    if data != NULL:
        alive.append(a)
    return data


cdef struct _Update:
    OptCtx c
    Py_ssize_t n
    PyObject *state      # the parameter's state dict (an Adam step advances its 'step')


cdef class _OptimizerStep:
    """opt.step() in a plan.  A call first checks every parameter with a grad:
    a leaf, float32 or float64, contiguous, its grad and state buffers the same
    (what eager's step would make of anything else is left to it); then counts
    Adam's steps and runs the kernels, as eager does.  When anything is not so
    (state not made yet, amsgrad, maximize, a Tensor lr, a step hook to run, a
    profile, ...), the call is the optimizer's step()."""
    cdef object opt
    cdef object bare          # the step function of opt's class, without the hooks' wrapper
    cdef bint adam            # Adam/AdamW, else SGD
    cdef object runs_bare     # runs_bare(opt): whether the hooks' wrapper would run the step only
    cdef _Update *ups
    cdef Py_ssize_t cap
    cdef bint busy            # ups in use: another thread's call let go of the GIL in the kernels

    def __cinit__(self, opt, bare, bint adam, runs_bare):
        self.opt, self.bare, self.adam, self.runs_bare = opt, bare, adam, runs_bare

    def __dealloc__(self):
        PyMem_Free(self.ups)

    def __call__(self):
        cdef Py_ssize_t done = -1
        if not self.busy:
            self.busy = True
            try:
                done = self.updates()
            finally:
                self.busy = False
        return self.opt.step() if done < 0 else None

    cdef Py_ssize_t updates(self) except -2:
        """Checks and runs the updates; -1 (having changed nothing) if eager's
        step must run instead."""
        cdef Py_ssize_t k = 0, i
        cdef _Update *u
        # the arrays the kernels write and read: another thread may replace a
        # tensor's while they run without the GIL
        cdef list alive = []
        step_fn = getattr(type(self.opt), "step")
        if step_fn is not self.bare and not (getattr(step_fn, "_hooked", False)
                                             and step_fn.__wrapped__ is self.bare
                                             and self.runs_bare(self.opt)):
            return -1
        state = self.opt.state
        for group in self.opt.param_groups:
            if type(group) is not dict or group.get("maximize") or (
                    self.adam and (group.get("amsgrad") or group.get("capturable"))):
                return -1
            params = group["params"]
            if type(params) is not list:
                return -1
            if k + len(<list>params) > self.cap:
                self.grow(k + len(<list>params))
            for p in <list>params:
                if not isinstance(p, Tensor) or (<Tensor>p)._graph is not None:
                    return -1
                g = (<Tensor>p)._grad
                if g is None:
                    continue
                if not self.update(&self.ups[k], group, <Tensor>p, g, state.get(p), alive):
                    return -1
                k += 1
        for i in range(k):
            u = &self.ups[i]
            if self.adam:
                st = <dict>u.state
                step = st["step"] = st["step"] + 1
                adam_setup(&u.c, u.c.lr, u.c.beta1, u.c.beta2, u.c.eps, u.c.wd, u.c.decoupled,
                           <long>(<Tensor>step)._val)
        with nogil:
            for i in range(k):
                opt_apply(&self.ups[i].c, self.ups[i].n)
        return k

    cdef bint update(self, _Update *u, dict group, Tensor p, object g, object st,
                     list alive) except -1:
        """Sets u to p's update (st: p's state), as eager's step would run it;
        False if eager's step must run instead."""
        a = p._data
        if a is None or (st is not None and type(st) is not dict) or (self.adam and not st):
            return False
        lr = group["lr"]
        if type(lr) is not float and type(lr) is not int:
            return False
        t = cnp.PyArray_TYPE(<cnp.ndarray>a)
        u.n = cnp.PyArray_SIZE(<cnp.ndarray>a)
        u.c.f64 = t == cnp.NPY_FLOAT64
        if not u.c.f64 and t != cnp.NPY_FLOAT32:
            return False
        u.c.p = u.c.v = _flat_data(p, t, u.n, True, alive)
        u.c.g = _flat_data(g, t, u.n, False, alive)
        u.state = <PyObject *>st
        if self.adam:
            u.c.m = _flat_data((<dict>st).get("exp_avg"), t, u.n, True, alive)
            u.c.v = _flat_data((<dict>st).get("exp_avg_sq"), t, u.n, True, alive)
            step = (<dict>st).get("step")
            if not (isinstance(step, Tensor) and (<Tensor>step)._data is None):
                return False
            beta1, beta2 = group["betas"]
            # adam_setup's arguments, converted as adam_step's are; it runs with the step count
            u.c.lr, u.c.beta1, u.c.beta2, u.c.eps = lr, beta1, beta2, group["eps"]
            u.c.wd, u.c.decoupled = group["weight_decay"], group["decoupled_weight_decay"]
        else:
            if not sgd_setup(&u.c, lr, group["momentum"], group["dampening"],
                             group["weight_decay"], group["nesterov"], False):
                return False        # eager's step raises sgd_step's error
            # no momentum: the kernel reads no buffer (eager's passes the parameter)
            u.c.m = u.c.p if u.c.momentum == 0 else _flat_data(
                None if st is None else (<dict>st).get("momentum_buffer"), t, u.n, True, alive)
        return u.c.p != NULL and u.c.g != NULL and u.c.m != NULL and u.c.v != NULL

    cdef int grow(self, Py_ssize_t n) except -1:
        cdef _Update *ups = <_Update *>PyMem_Realloc(self.ups, n * sizeof(_Update))
        if ups == NULL:
            raise MemoryError()
        self.ups, self.cap = ups, n
        return 0


cdef class _ZeroGrad:
    """opt.zero_grad() in a plan (Optimizer.zero_grad, set_to_none): each leaf
    parameter's grad let go of, as the property's setter does; the call is the
    optimizer's zero_grad() when its class's is another function by then."""
    cdef object opt, bare

    def __cinit__(self, opt, bare):
        self.opt, self.bare = opt, bare

    def __call__(self):
        if getattr(type(self.opt), "zero_grad") is not self.bare:
            return self.opt.zero_grad()
        for group in self.opt.param_groups:
            for p in group["params"]:
                if isinstance(p, Tensor) and (<Tensor>p)._graph is None:
                    (<Tensor>p)._grad = None
                elif p.grad is not None:
                    p.grad = None
        return None
