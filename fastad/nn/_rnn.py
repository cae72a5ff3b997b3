"""The recurrences of nn.RNN, nn.LSTM and nn.GRU (and their cells: a sequence of
one step), one primitive per layer and direction.

The input projections of the whole sequence are one GEMM done by the caller
(F.linear); the primitive then runs the time loop over arrays, per step one
GEMM with the hidden weights and one compiled call for the gate nonlinearities
and the state update (fastad/_recurrent.pyx), and records ONE tape node whose
result holds, per step, the hidden state and everything its derivative reads
(the cell state and the activated gates), so the backward recomputes nothing
but tanh(c).  The first-order backward is the same loop backwards in time (a
kernel call and a GEMM per step, w_hh's gradient one GEMM over all steps); the
derivative, backpropagation through time written in fastad ops, is what a
recorded backward differentiates again.  Every column of the result is an output of the op, so
the derivative also takes gradients arriving at the gate columns (as a
recorded backward that reads them will send)."""
import numpy as np

from fastad import _kernels as _K
from fastad._tensor import _half_call, array_of, cat, float16, make_op, matmul, stack, tanh
from fastad.nn.functional import linear

# gate columns of the result after the hidden state, per cell kind
_WIDTH = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 6, "GRU": 5}
_NAME = {"RNN_TANH": "RnnTanhBackward0", "RNN_RELU": "RnnReluBackward0",
         "LSTM": "LstmBackward0", "GRU": "GruBackward0"}


def _steps(n, reverse):
    return range(n - 1, -1, -1) if reverse else range(n)


def _matmul(a, b, out=None):
    """a @ b by fastad's GEMM (as its linear layers: the same bits at any thread
    count); a transposed view is passed as its C-contiguous base and a flag."""
    ta, tb = (not x.flags.c_contiguous and x.T.flags.c_contiguous for x in (a, b))
    a2 = a.T if ta else np.ascontiguousarray(a)
    b2 = b.T if tb else np.ascontiguousarray(b)
    out = np.empty((a.shape[0], b.shape[1]), a.dtype) if out is None else out
    if not _K.matmul_into(a2, b2, out, ta, tb):
        np.matmul(a, b, out=out)
    return out


def _forward(mode, xp, h0, c0, w_hh, b_hh, reverse):
    """The (T, B, width * H) result array (see the module docstring) from the
    projected inputs xp (T, B, G * H) and the initial state: per step one GEMM
    and one call of the step's pointwise kernel."""
    steps, batch = xp.shape[:2]
    res = _K.empty((steps, batch, _WIDTH[mode] * h0.shape[-1]), xp.dtype)
    pre = np.empty((batch, w_hh.shape[0]), xp.dtype)
    h, c = h0.copy(), None if c0 is None else c0.copy()     # updated in place, step by step
    for t in _steps(steps, reverse):
        _matmul(h, w_hh.T, pre)
        _K.rnn_step_forward(mode, pre, xp[t], b_hh, h, c, res[t])
    return res


def _backward(mode, grad, inputs, res, reverse):
    """The first-order gradients of (xp, h0, c0, w_hh, b_hh) over arrays: per
    step (backwards in time) one call of the step's pointwise kernel and one
    GEMM with w_hh; then w_hh's gradient as one GEMM over all steps."""
    xp, h0, c0, w_hh, b_hh = inputs
    grad = np.ascontiguousarray(grad, res.dtype)
    steps, batch, width = res.shape
    hid = h0.shape[-1]
    first = np.zeros((batch, width), res.dtype)    # the initial state, laid out as a result row
    first[:, :hid] = h0
    if c0 is not None:
        first[:, hid:2 * hid] = c0
    dxp = _K.empty_like(xp)
    dgh = _K.empty_like(xp) if mode == "GRU" else dxp     # gradients of h W_hh^T (+ b_hh)
    dh, carry = np.zeros((batch, hid), res.dtype), np.zeros((batch, hid), res.dtype)
    for t in _steps(steps, not reverse):
        prev = t + 1 if reverse else t - 1
        _K.rnn_step_backward(mode, grad[t], res[t], res[prev] if 0 <= prev < steps else first,
                             dh, carry, dxp[t], dgh[t])
        _matmul(dgh[t], w_hh, dh)
    h_prevs = _K.empty((steps, batch, hid), res.dtype)     # each step's previous state
    if reverse:
        h_prevs[:-1], h_prevs[-1:] = res[1:, :, :hid], h0
    else:
        h_prevs[1:], h_prevs[:1] = res[:-1, :, :hid], h0
    flat = dgh.reshape(-1, dgh.shape[-1])
    dw = _matmul(flat.T, h_prevs.reshape(-1, hid))
    db = flat.sum(0) if mode == "GRU" and b_hh is not None else None
    return (dxp, dh + carry if mode == "GRU" else dh, carry if mode == "LSTM" else None,
            dw, db)


def layer(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse=False):
    """The result of one layer and direction over x (T, B, I): the input
    projections of all steps in one GEMM, then the recurrence."""
    steps, batch = x.shape[:2]
    if b_ih is not None and mode != "GRU":
        b_ih = b_ih + b_hh              # both enter every step's pre-activation alike
    # contiguous rows: a lower layer's hidden states are a strided view, and
    # linear's contiguous path is the one with the same bits at any thread count
    xp = linear(x.contiguous().reshape(steps * batch, x.shape[2]), w_ih, b_ih)
    return recurrence(mode, xp.reshape(steps, batch, w_ih.shape[0]), h0, c0, w_hh,
                      b_hh if mode == "GRU" else None, reverse)


def recurrence(mode, xp, h0, c0, w_hh, b_hh=None, reverse=False):
    """One layer and direction: xp the projected inputs (T, B, G * H), h0 and
    c0 (LSTM only) the initial state (B, H), w_hh (G * H, H), b_hh (GRU only:
    the other cells take it inside xp).  Returns the result tensor; its
    [..., :H] are the hidden states, LSTM's [..., H:2H] the cell states."""
    if xp.dtype is float16:
        return _half_call(recurrence, (mode, xp, h0, c0, w_hh, b_hh, reverse))
    inputs = (xp, h0, c0, w_hh, b_hh)
    arrays = tuple(None if t is None else np.ascontiguousarray(array_of(t)) for t in inputs)
    res = _forward(mode, arrays[0], arrays[1], arrays[2], arrays[3], arrays[4], reverse)

    def derivative(grad, inputs, result):
        return _bptt(mode, grad, inputs, result, reverse)

    def backward(grad):
        return _backward(mode, grad, arrays, res, reverse)
    return make_op(res, _NAME[mode], inputs, backward=backward, derivative=derivative)


def _shifted(seq, first, reverse):
    """Each step's previous value along time: first, then seq but its last step."""
    return cat([seq[1:], first[None]]) if reverse else cat([first[None], seq[:-1]])


def _bptt(mode, grad, inputs, result, reverse):
    """Gradients of (xp, h0, c0, w_hh, b_hh), backwards in time, in fastad ops
    (what a recorded backward differentiates again).  What does not depend on the
    recursion (the gates' derivatives, the gradients arriving at the gate
    columns) is computed for all steps at once; per step the recursion through
    dh (and dc) is then a few products and one GEMM with w_hh."""
    xp, h0, c0, w_hh, b_hh = inputs
    steps, batch = result.shape[:2]
    hid = h0.shape[-1]

    def col(a, k):
        return a[..., k * hid:(k + 1) * hid]
    h_prevs = _shifted(col(result, 0), h0, reverse)
    dh = dc = 0
    dpre, dgh = [None] * steps, [None] * steps
    if mode == "LSTM":
        i, f, gg, o = (col(result, k) for k in range(2, 6))
        tc = tanh(col(result, 1))
        d_gates = cat([i * (1 - i), f * (1 - f), 1 - gg * gg, o * (1 - o)], 2)
        per_dc = cat([gg, _shifted(col(result, 1), c0, reverse), i], 2) * \
            d_gates[..., :3 * hid]                        # d pre(i, f, g) / d c
        dc_per_dh = o * (1 - tc * tc)
        per_dh = tc * col(d_gates, 3)                     # d pre(o) / d h
        arriving = grad[..., 2 * hid:] * d_gates
        for t in _steps(steps, not reverse):
            dh = grad[t, :, :hid] + dh
            dc = grad[t, :, hid:2 * hid] + dc + dh * dc_per_dh[t]
            ifg = (dc[:, None] * per_dc[t].reshape(batch, 3, hid)).reshape(batch, 3 * hid)
            dpre[t] = cat([ifg, dh * per_dh[t]], 1) + arriving[t]
            dc = dc * f[t]
            dh = matmul(dpre[t], w_hh)
    elif mode == "GRU":
        r, z, n, ghn = (col(result, k) for k in range(1, 5))
        dn_dpre = 1 - n * n
        dr_dpre, dz_dpre = r * (1 - r), z * (1 - z)
        n_per_dh = (1 - z) * dn_dpre                      # d pre(n) / d h
        r_per_n = ghn * dr_dpre                           # d pre(r) / d pre(n)
        z_per_dh = (h_prevs - n) * dz_dpre                # d pre(z) / d h
        arr_r, arr_z = col(grad, 1) * dr_dpre, col(grad, 2) * dz_dpre
        arr_n, arr_ghn = col(grad, 3) * dn_dpre, col(grad, 4)
        for t in _steps(steps, not reverse):
            dh = grad[t, :, :hid] + dh
            dn = dh * n_per_dh[t] + arr_n[t]
            dr = dn * r_per_n[t] + arr_r[t]
            dz = dh * z_per_dh[t] + arr_z[t]
            dpre[t] = cat([dr, dz, dn], 1)
            dgh[t] = cat([dr, dz, dn * r[t] + arr_ghn[t]], 1)
            dh = dh * z[t] + matmul(dgh[t], w_hh)
    else:
        hs = col(result, 0)
        d_act = (1 - hs * hs) if mode == "RNN_TANH" else (hs > 0).to(hs.dtype)
        for t in _steps(steps, not reverse):
            dh = grad[t] + dh
            dpre[t] = dh * d_act[t]
            dh = matmul(dpre[t], w_hh)
    dxp = stack(dpre)
    flat_prev = h_prevs.reshape(-1, hid)
    if mode == "GRU":
        flat = stack(dgh).reshape(-1, 3 * hid)
        dw = matmul(flat.T, flat_prev)
        db = None if b_hh is None else flat.sum(0)
    else:
        dw = matmul(dxp.reshape(-1, dxp.shape[-1]).T, flat_prev)
        db = None
    return dxp, dh, (dc if mode == "LSTM" else None), dw, db
