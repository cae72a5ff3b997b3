"""The recurrences of nn.RNN, nn.LSTM and nn.GRU (and their cells: a sequence of
one step), one primitive per layer and direction.

The input projections of the whole sequence are one GEMM done by the caller
(F.linear); the primitive then runs the time loop over arrays, per step one
GEMM with the hidden weights and the gate nonlinearities, and records ONE tape
node whose result holds, per step, the hidden state and everything its
derivative reads (the cell state and the activated gates), so the backward
recomputes nothing.  Its derivative is backpropagation through time written in
fastad ops: run under no_grad for the first-order backward, recorded to
differentiate again.  Every column of the result is an output of the op, so
the derivative also takes gradients arriving at the gate columns (as a
recorded backward that reads them will send)."""
import numpy as np

from fastad import _kernels as _K
from fastad._tensor import array_of, cat, make_op, matmul, stack, tanh
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


def _act(name, a, out=None):
    """name(a) by fastad's vectorised kernel (numpy's float32 tanh is 2.5x slower
    on a step's (32, 128))."""
    a = np.ascontiguousarray(a)
    out = np.empty_like(a) if out is None else out
    _K.activation_forward(name, a.reshape(-1), out.reshape(-1))
    return out


def _forward(mode, xp, h0, c0, w_hh, b_hh, reverse):
    """The (T, B, width * H) result array (see the module docstring) from the
    projected inputs xp (T, B, G * H) and the initial state."""
    steps, batch = xp.shape[:2]
    hid = h0.shape[-1]
    res = np.empty((steps, batch, _WIDTH[mode] * hid), xp.dtype)
    pre = np.empty((batch, w_hh.shape[0]), xp.dtype)
    h, c = h0, c0
    for t in _steps(steps, reverse):
        _matmul(h, w_hh.T, pre)
        out = res[t]
        if mode == "LSTM":
            pre += xp[t]
            g = _act("tanh", pre[:, 2 * hid:3 * hid])
            _act("sigmoid", pre, pre)
            pre[:, 2 * hid:3 * hid] = g
            i, f, o = pre[:, :hid], pre[:, hid:2 * hid], pre[:, 3 * hid:]
            c = f * c + i * g
            h = o * _act("tanh", c)          # contiguous: the next step's GEMM operand
            out[:, :hid] = h
            out[:, hid:2 * hid] = c
            out[:, 2 * hid:] = pre
        elif mode == "GRU":
            if b_hh is not None:
                pre += b_hh
            ghn = out[:, 4 * hid:]
            ghn[...] = pre[:, 2 * hid:]                             # h W_hn^T + b_hn
            rz = _act("sigmoid", pre[:, :2 * hid] + xp[t, :, :2 * hid])
            out[:, hid:3 * hid] = rz
            n = out[:, 3 * hid:4 * hid]
            n[...] = _act("tanh", xp[t, :, 2 * hid:] + rz[:, :hid] * ghn)
            z = rz[:, hid:]
            h = n + z * (h - n)
            out[:, :hid] = h
        else:
            h = out
            np.add(pre, xp[t], out=h)
            if mode == "RNN_TANH":
                _act("tanh", h, h)
            else:
                np.maximum(h, 0, out=h)
    return res


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
    inputs = (xp, h0, c0, w_hh, b_hh)
    arrays = tuple(None if t is None else np.ascontiguousarray(array_of(t)) for t in inputs)
    res = _forward(mode, arrays[0], arrays[1], arrays[2], arrays[3], arrays[4], reverse)

    def derivative(grad, inputs, result):
        return _bptt(_TENSORS, mode, grad, inputs, result, reverse)

    def backward(grad):
        # the same lines over the arrays: numpy's per-call cost is a third of
        # a tensor op's, and the step loop is ~20 small calls per step
        return _bptt(_ARRAYS, mode, grad, arrays, res, reverse)
    return make_op(res, _NAME[mode], inputs, backward=backward, derivative=derivative)


class _ARRAYS:
    """What _bptt calls beyond operators, over ndarrays."""
    stack = np.stack
    mm = staticmethod(_matmul)

    @staticmethod
    def tanh(a):
        return _act("tanh", a)

    @staticmethod
    def cat(parts, dim=0):
        return np.concatenate(parts, dim)

    @staticmethod
    def positive(a):
        return (a > 0).astype(a.dtype)


class _TENSORS:
    """... and over tensors, recorded when the backward is."""
    tanh = staticmethod(tanh)
    stack = staticmethod(stack)
    cat = staticmethod(cat)
    mm = staticmethod(matmul)

    @staticmethod
    def positive(a):
        return (a > 0).to(a.dtype)


def _shifted(ns, seq, first, reverse):
    """Each step's previous value along time: first, then seq but its last step."""
    return ns.cat([seq[1:], first[None]]) if reverse else ns.cat([first[None], seq[:-1]])


def _bptt(ns, mode, grad, inputs, result, reverse):
    """Gradients of (xp, h0, c0, w_hh, b_hh), backwards in time (ns: the
    functions for arrays or for tensors).  What does not depend on the
    recursion (the gates' derivatives, the gradients arriving at the gate
    columns) is computed for all steps at once; per step the recursion through
    dh (and dc) is then a few products and one GEMM with w_hh."""
    xp, h0, c0, w_hh, b_hh = inputs
    steps, batch = result.shape[:2]
    hid = h0.shape[-1]

    def col(a, k):
        return a[..., k * hid:(k + 1) * hid]
    h_prevs = _shifted(ns, col(result, 0), h0, reverse)
    dh = dc = 0
    dpre, dgh = [None] * steps, [None] * steps
    if mode == "LSTM":
        i, f, gg, o = (col(result, k) for k in range(2, 6))
        tc = ns.tanh(col(result, 1))
        d_gates = ns.cat([i * (1 - i), f * (1 - f), 1 - gg * gg, o * (1 - o)], 2)
        per_dc = ns.cat([gg, _shifted(ns, col(result, 1), c0, reverse), i], 2) * \
            d_gates[..., :3 * hid]                        # d pre(i, f, g) / d c
        dc_per_dh = o * (1 - tc * tc)
        per_dh = tc * col(d_gates, 3)                     # d pre(o) / d h
        arriving = grad[..., 2 * hid:] * d_gates
        for t in _steps(steps, not reverse):
            dh = grad[t, :, :hid] + dh
            dc = grad[t, :, hid:2 * hid] + dc + dh * dc_per_dh[t]
            ifg = (dc[:, None] * per_dc[t].reshape(batch, 3, hid)).reshape(batch, 3 * hid)
            dpre[t] = ns.cat([ifg, dh * per_dh[t]], 1) + arriving[t]
            dc = dc * f[t]
            dh = ns.mm(dpre[t], w_hh)
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
            dpre[t] = ns.cat([dr, dz, dn], 1)
            dgh[t] = ns.cat([dr, dz, dn * r[t] + arr_ghn[t]], 1)
            dh = dh * z[t] + ns.mm(dgh[t], w_hh)
    else:
        hs = col(result, 0)
        d_act = (1 - hs * hs) if mode == "RNN_TANH" else ns.positive(hs)
        for t in _steps(steps, not reverse):
            dh = grad[t] + dh
            dpre[t] = dh * d_act[t]
            dh = ns.mm(dpre[t], w_hh)
    dxp = ns.stack(dpre)
    flat_prev = h_prevs.reshape(-1, hid)
    if mode == "GRU":
        flat = ns.stack(dgh).reshape(-1, 3 * hid)
        dw = ns.mm(flat.T, flat_prev)
        db = None if b_hh is None else flat.sum(0)
    else:
        dw = ns.mm(dxp.reshape(-1, dxp.shape[-1]).T, flat_prev)
        db = None
    return dxp, dh, (dc if mode == "LSTM" else None), dw, db
