# Included by _tensor.pyx: the switches of anomaly mode (fastad.autograd.anomaly_mode)
# and the profiler (fastad.profiler).  Off, they cost a recorded op one test of
# _debug and a backward one; on, ops note their forward stack or time at the
# point where they record, and backward takes the tape's record-at-a-time sweep.
import sys as _sys
import re as _re
import warnings as _warnings
import traceback as _traceback

cdef enum:
    DEBUG_ANOMALY = 1
    DEBUG_PROFILE = 2

cdef int _debug = 0
cdef bint _check_nan = True
cdef object _profiler = None        # the recording profile: ._forward(name), ._backward(name, t0)


def _set_anomaly_enabled(bint mode, bint check_nan=True):
    """torch.set_anomaly_enabled."""
    global _debug, _check_nan
    _debug = (_debug | DEBUG_ANOMALY) if mode else (_debug & ~DEBUG_ANOMALY)
    _check_nan = check_nan


def _anomaly_state():
    """(is_anomaly_enabled, is_anomaly_check_nan_enabled)."""
    return bool(_debug & DEBUG_ANOMALY), bool(_check_nan)


def _current_profiler():
    return _profiler


def _set_profiler(prof):
    """Makes prof (or None) the profile that ops and backward report to;
    returns the previous one."""
    global _debug, _profiler
    prev = _profiler
    _profiler = prof
    _debug = (_debug | DEBUG_PROFILE) if prof is not None else (_debug & ~DEBUG_PROFILE)
    return prev


cdef list _forward_stack():
    """(file, line, function) of each Python frame, outermost first: the
    forward call that is recording (compiled code has no frames of its own)."""
    f = _sys._getframe(0)
    out = []
    while f is not None:
        out.append((f.f_code.co_filename, f.f_lineno, f.f_code.co_name))
        f = f.f_back
    out.reverse()
    return out


# the forward op of each scalar record's code, and of array nodes by grad_fn name
cdef dict _SCALAR_FORWARD = {
    OP_ADD: "add", OP_SUB: "sub", OP_RSUB: "rsub", OP_MUL: "mul", OP_DIV: "div", OP_POW: "pow",
    OP_RDIV: "div", OP_CLONE: "clone", OP_GATHER: "select",
}
cdef dict _NODE_FORWARD = {}


cdef str _forward_name(Graph g, int32_t i):
    cdef uint8_t o = g.op[i] & OP_CODE
    if o >= OP_ACT:
        return _UNARY_NAMES[o - OP_ACT]
    if o != OP_PY:
        return _SCALAR_FORWARD[o]
    name = (<Node>g.ctx[g.in0[i]]).name
    f = _NODE_FORWARD.get(name)
    if f is None:
        # MulBackward0 -> mul, LogSoftmaxBackward0 -> log_softmax, MaxPool2DWithIndices...
        # -> max_pool2d_with_indices (PyTorch's aten names)
        base = name.partition("Backward")[0] or name
        base = _re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", base)
        f = _NODE_FORWARD[name] = _re.sub(r"([a-z])([A-Z])", r"\1_\2", base).lower()
    return f


cdef int _note_record(Graph g, int32_t i) except -1:
    """Called by every op that records, while _debug is set."""
    if _debug & DEBUG_ANOMALY:
        if g.traces is None:
            g.traces = {}
        g.traces[i] = _forward_stack()
    if _debug & DEBUG_PROFILE:
        _profiler._forward(_forward_name(g, i))
    return 0


cdef int _warn_forward(Graph g, int32_t i, str name) except -1:
    """PyTorch's warning (python_anomaly_mode.cpp) when record i's backward
    raised: where its forward was called."""
    stack = None if g.traces is None else g.traces.get(i)
    if stack is None:
        _warnings.warn(f"Error detected in {name}. No forward pass information available. "
                       "Enable detect anomaly during forward pass for more information.")
    else:
        frames = [_traceback.FrameSummary(f, n, fn) for f, n, fn in stack]
        _warnings.warn(f"Error detected in {name}. Traceback of forward call that caused the "
                       "error:\n" + "".join(_traceback.format_list(frames)))
    return 0


cdef int _check_nan_grads(str name, tuple grads) except -1:
    """PyTorch's error for a backward formula that gave nan (a recorded backward)."""
    for k in range(len(grads)):
        x = grads[k]
        if x is not None and np.isnan(_arr(<Tensor>x) if isinstance(x, Tensor) else x).any():
            raise RuntimeError(f"Function '{name}' returned nan values in its {k}th output.")
    return 0


cdef int _sweep_records(Graph g, int32_t top, int32_t stop, bint retain) except -1:
    """Records top..stop+1 swept: in C, or a record at a time while anomaly mode
    or the profiler is on."""
    if not _debug:
        return g.sweep(top, stop, retain)
    anomaly = bool(_debug & DEBUG_ANOMALY)
    g.debug_sweep(top, stop, retain, anomaly and _check_nan, OP_NAMES,
                  None if _profiler is None else _profiler._backward,
                  (lambda i, name: _warn_forward(g, i, name)) if anomaly else None)
    return 0
