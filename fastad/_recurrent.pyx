# cython: language_level=3
# distutils: language = c
"""The pointwise half of a recurrent layer's time step (fastad/nn/_rnn.py runs
the loop: per step one GEMM with the hidden weights, then one call here over
the whole batch).  Forward: the gates' nonlinearities and the state update,
writing the step's row of the layer's result (the hidden state, and what the
backward reads: LSTM's cell state and activated gates i, f, g, o; GRU's r, z, n
and h W_hn^T + b_hn).  Backward: from that row, the gradient arriving at it
and the gradients carried from the later steps, the gradients of the step's
pre-activations.  One call per step instead of about twenty numpy calls, and
no pass over the whole sequence besides the ones the loop makes.

A step's arrays are C-contiguous, of one float dtype: pre (B, G*H) = h_prev
W_hh^T, xp (B, G*H) its input projection, out/prev (B, W*H) rows of the
result (prev: the previous step's, or the initial state laid out alike), h, c,
dh, carry (B, H).
"""
cimport cython
from cython cimport floating
cimport numpy as cnp
from fastad._runtime cimport _typenum, _arr
from libc.math cimport sin, cos, sqrt, fabs, NAN
from fastad._fmath cimport *

cnp.import_array()

cdef extern from "csrc/fad_recurrent.h":
    const char* fad_isa_name() noexcept nogil


def _isa():
    """The instruction set of the step loops this CPU runs (csrc/fad_isa.h)."""
    return fad_isa_name().decode()

include "_formulas.pxi"

cdef enum:
    RNN_TANH = 0
    RNN_RELU = 1
    LSTM = 2
    GRU = 3

# mode -> (gates G, result columns W) in units of the hidden size
cdef dict _MODES = {"RNN_TANH": (RNN_TANH, 1, 1), "RNN_RELU": (RNN_RELU, 1, 1),
                    "LSTM": (LSTM, 4, 6), "GRU": (GRU, 3, 5)}


# The loops go one output stream at a time (sums, then each nonlinearity in
# place, then the state update): so the compiler vectorises the nonlinearities;
# written as one loop per element writing eight streams it did not, and the
# step took twice numpy's twenty calls.
@cython.boundscheck(False)
@cython.wraparound(False)
@cython.cdivision(True)
cdef inline void _activate(floating* out, const floating* a, Py_ssize_t n,
                           bint tanh) noexcept nogil:
    """out = tanh(a) or sigmoid(a) (out may be a)."""
    cdef Py_ssize_t k
    if tanh:
        for k in range(n):
            out[k] = f_tanh(a[k])
    else:
        for k in range(n):
            out[k] = sigmoid_forward(a[k])


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.cdivision(True)
cdef inline void _add(floating* out, const floating* a, const floating* b,
                      Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t k
    for k in range(n):
        out[k] = a[k] + b[k]


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.cdivision(True)
cdef inline void _forward(int mode, Py_ssize_t batch, Py_ssize_t hid, const floating* pre,
                   const floating* xp, const floating* b_hh, floating* h, floating* c,
                   floating* out) noexcept nogil:
    cdef Py_ssize_t b, j, gw = (4 if mode == LSTM else 3 if mode == GRU else 1) * hid
    cdef Py_ssize_t ow = (6 if mode == LSTM else 5 if mode == GRU else 1) * hid
    cdef const floating* p
    cdef const floating* x
    cdef floating* o
    cdef floating* hb
    cdef floating* cb
    cdef floating* gates
    for b in range(batch):
        p = pre + b * gw
        x = xp + b * gw
        o = out + b * ow
        hb = h + b * hid
        if mode == LSTM:
            cb = c + b * hid
            gates = o + 2 * hid                 # i, f, g, o: the order of the pre-activations
            _add(gates, p, x, 4 * hid)
            _activate(gates, gates, 2 * hid, False)
            _activate(gates + 2 * hid, gates + 2 * hid, hid, True)
            _activate(gates + 3 * hid, gates + 3 * hid, hid, False)
            for j in range(hid):
                cb[j] = gates[hid + j] * cb[j] + gates[j] * gates[2 * hid + j]
            for j in range(hid):
                o[hid + j] = cb[j]
                o[j] = f_tanh(cb[j])
            for j in range(hid):
                o[j] = gates[3 * hid + j] * o[j]
                hb[j] = o[j]
        elif mode == GRU:
            gates = o + hid                     # r, z, n, then h W_hn^T + b_hn
            if b_hh != NULL:
                _add(gates, p, b_hh, 3 * hid)
            else:
                for j in range(3 * hid):
                    gates[j] = p[j]
            for j in range(2 * hid):
                gates[j] = gates[j] + x[j]
            _activate(gates, gates, 2 * hid, False)
            for j in range(hid):
                gates[3 * hid + j] = gates[2 * hid + j]
                gates[2 * hid + j] = x[2 * hid + j] + gates[j] * gates[3 * hid + j]
            _activate(gates + 2 * hid, gates + 2 * hid, hid, True)
            for j in range(hid):
                o[j] = gates[2 * hid + j] + gates[hid + j] * (hb[j] - gates[2 * hid + j])
                hb[j] = o[j]
        else:
            _add(o, p, x, hid)
            if mode == RNN_TANH:
                _activate(o, o, hid, True)
            else:
                for j in range(hid):
                    o[j] = relu_forward(o[j])
            for j in range(hid):
                hb[j] = o[j]


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.cdivision(True)
cdef inline void _backward(int mode, Py_ssize_t batch, Py_ssize_t hid, const floating* grad,
                    const floating* out, const floating* prev, floating* dh, floating* carry,
                    floating* dxp, floating* dgh) noexcept nogil:
    cdef Py_ssize_t b, j, gw = (4 if mode == LSTM else 3 if mode == GRU else 1) * hid
    cdef Py_ssize_t ow = (6 if mode == LSTM else 5 if mode == GRU else 1) * hid
    cdef const floating* g
    cdef const floating* o
    cdef const floating* pv
    cdef floating* d
    cdef floating* e
    cdef floating* dhb
    cdef floating* cb
    cdef floating gi, gf, gg, go, tc, di, df, dg, dgo, dhj, dcj, r, z, n, dn, dr, dz, dnp
    for b in range(batch):
        g = grad + b * ow
        o = out + b * ow
        pv = prev + b * ow
        d = dxp + b * gw
        dhb = dh + b * hid
        cb = carry + b * hid
        if mode == LSTM:
            _activate(d + 3 * hid, o + hid, hid, True)    # tanh(c), until d's o column replaces it
            for j in range(hid):
                gi = o[2 * hid + j]
                gf = o[3 * hid + j]
                gg = o[4 * hid + j]
                go = o[5 * hid + j]
                di = gi * (1 - gi)
                df = gf * (1 - gf)
                dg = 1 - gg * gg
                dgo = go * (1 - go)
                tc = d[3 * hid + j]
                dhj = g[j] + dhb[j]
                dcj = g[hid + j] + cb[j] + dhj * (go * (1 - tc * tc))
                # the gate columns' own gradients (nonzero when a recorded backward reads them)
                d[j] = dcj * (gg * di) + g[2 * hid + j] * di
                d[hid + j] = dcj * (pv[hid + j] * df) + g[3 * hid + j] * df
                d[2 * hid + j] = dcj * (gi * dg) + g[4 * hid + j] * dg
                d[3 * hid + j] = dhj * (tc * dgo) + g[5 * hid + j] * dgo
                cb[j] = dcj * gf
        elif mode == GRU:
            e = dgh + b * gw
            for j in range(hid):
                r = o[hid + j]
                z = o[2 * hid + j]
                n = o[3 * hid + j]
                dnp = 1 - n * n
                dhj = g[j] + dhb[j] + cb[j]
                dn = dhj * ((1 - z) * dnp) + g[3 * hid + j] * dnp
                dr = dn * (o[4 * hid + j] * (r * (1 - r))) + g[hid + j] * (r * (1 - r))
                dz = dhj * ((pv[j] - n) * (z * (1 - z))) + g[2 * hid + j] * (z * (1 - z))
                d[j] = dr
                d[hid + j] = dz
                d[2 * hid + j] = dn
                e[j] = dr
                e[hid + j] = dz
                e[2 * hid + j] = dn * r + g[4 * hid + j]
                cb[j] = dhj * z
        else:
            for j in range(hid):
                dhj = g[j] + dhb[j]
                if mode == RNN_TANH:
                    d[j] = dhj * (1 - o[j] * o[j])
                else:
                    d[j] = dhj * (1 if o[j] > 0 else 0)


# the loops cloned per ISA (csrc/fad_recurrent.h, csrc/fad_isa.h)
cdef public void fad_rnn_fwd_f32(int mode, Py_ssize_t batch, Py_ssize_t hid, const float* pre,
                                 const float* xp, const float* b_hh, float* h, float* c,
                                 float* out) noexcept nogil:
    _forward(mode, batch, hid, pre, xp, b_hh, h, c, out)


cdef public void fad_rnn_fwd_f64(int mode, Py_ssize_t batch, Py_ssize_t hid, const double* pre,
                                 const double* xp, const double* b_hh, double* h, double* c,
                                 double* out) noexcept nogil:
    _forward(mode, batch, hid, pre, xp, b_hh, h, c, out)


cdef public void fad_rnn_bwd_f32(int mode, Py_ssize_t batch, Py_ssize_t hid, const float* grad,
                                 const float* out, const float* prev, float* dh, float* carry,
                                 float* dxp, float* dgh) noexcept nogil:
    _backward(mode, batch, hid, grad, out, prev, dh, carry, dxp, dgh)


cdef public void fad_rnn_bwd_f64(int mode, Py_ssize_t batch, Py_ssize_t hid,
                                 const double* grad, const double* out, const double* prev,
                                 double* dh, double* carry, double* dxp,
                                 double* dgh) noexcept nogil:
    _backward(mode, batch, hid, grad, out, prev, dh, carry, dxp, dgh)


cdef int _step(str mode, state, str name, int* spec, Py_ssize_t* dims) except -1:
    """spec = (mode code, gates, result columns, dtype) and dims = (batch,
    hidden) of a step over the (B, H) array state."""
    if mode not in _MODES:
        raise ValueError("Unrecognized RNN mode: " + mode)
    spec[0], spec[1], spec[2] = _MODES[mode]
    spec[3] = _typenum(state, name)
    if cnp.PyArray_NDIM(<cnp.ndarray>state) != 2:
        raise ValueError(f"{name} must be 2-D (batch, hidden), got shape {state.shape}")
    dims[0], dims[1] = state.shape
    return 0


cdef void* _rows(object a, str name, int t, Py_ssize_t batch, Py_ssize_t width,
                 bint writable) except NULL:
    cdef void* p = _arr(a, name, t, -1, writable)
    if cnp.PyArray_NDIM(<cnp.ndarray>a) != 2 or a.shape[0] != batch or a.shape[1] != width:
        raise ValueError(f"{name} must have shape ({batch}, {width}), got {a.shape}")
    return p


def rnn_step_forward(str mode, pre, xp, b_hh, h, c, out):
    """One step forward: from pre and xp (and GRU's b_hh, or None) the new h
    (and LSTM's c, or None otherwise), updated in place from the previous
    step's, and the step's result row out."""
    cdef int spec[4]
    cdef Py_ssize_t dims[2]
    _step(mode, h, "h", spec, dims)
    cdef int m = spec[0], gates = spec[1], width = spec[2], t = spec[3]
    cdef Py_ssize_t batch = dims[0], hid = dims[1]
    cdef void* hp = _rows(h, "h", t, batch, hid, True)
    cdef void* pp = _rows(pre, "pre", t, batch, gates * hid, False)
    cdef void* xpp = _rows(xp, "xp", t, batch, gates * hid, False)
    cdef void* op = _rows(out, "out", t, batch, width * hid, True)
    cdef void* cp = _rows(c, "c", t, batch, hid, True) if m == LSTM else NULL
    cdef void* bp = NULL
    if m == GRU and b_hh is not None:
        bp = _arr(b_hh, "b_hh", t, gates * hid, False)
    with nogil:
        if t == cnp.NPY_FLOAT64:
            fad_rnn_fwd_f64(m, batch, hid, <const double*>pp, <const double*>xpp,
                            <const double*>bp, <double*>hp, <double*>cp, <double*>op)
        else:
            fad_rnn_fwd_f32(m, batch, hid, <const float*>pp, <const float*>xpp,
                            <const float*>bp, <float*>hp, <float*>cp, <float*>op)


def rnn_step_backward(str mode, grad, out, prev, dh, carry, dxp, dgh):
    """One step backward: from the gradient grad arriving at the step's result
    row out, the previous step's row prev, and dh (the next step's
    pre-activation gradients times W_hh), the step's pre-activation gradients
    dxp; carry holds what passes to the previous step besides dh (LSTM: the
    cell state's gradient; GRU: the hidden state's through z), zero at the
    last step, updated in place.  GRU also writes dgh, the gradients of
    h W_hh^T + b_hh (dxp's but for n, scaled by r); the others ignore it."""
    cdef int spec[4]
    cdef Py_ssize_t dims[2]
    _step(mode, dh, "dh", spec, dims)
    cdef int m = spec[0], gates = spec[1], width = spec[2], t = spec[3]
    cdef Py_ssize_t batch = dims[0], hid = dims[1]
    cdef void* dhp = _rows(dh, "dh", t, batch, hid, False)
    cdef void* cp = _rows(carry, "carry", t, batch, hid, True)
    cdef void* gp = _rows(grad, "grad", t, batch, width * hid, False)
    cdef void* op = _rows(out, "out", t, batch, width * hid, False)
    cdef void* pp = _rows(prev, "prev", t, batch, width * hid, False)
    cdef void* dp = _rows(dxp, "dxp", t, batch, gates * hid, True)
    cdef void* ep = _rows(dgh, "dgh", t, batch, gates * hid, True) if m == GRU else NULL
    with nogil:
        if t == cnp.NPY_FLOAT64:
            fad_rnn_bwd_f64(m, batch, hid, <const double*>gp, <const double*>op,
                            <const double*>pp, <double*>dhp, <double*>cp, <double*>dp,
                            <double*>ep)
        else:
            fad_rnn_bwd_f32(m, batch, hid, <const float*>gp, <const float*>op,
                            <const float*>pp, <float*>dhp, <float*>cp, <float*>dp, <float*>ep)
