# Included by _tensor.pyx: the switches of anomaly mode (fastad.autograd.anomaly_mode)
# and the profiler (fastad.profiler).  Off, they cost a recorded op one test of
# _debug, an op that does not record one more, and a backward one; on, ops note
# their forward stack or time where they record (or return unrecorded), and
# backward takes the tape's record-at-a-time sweep.
import sys as _sys
import re as _re
import warnings as _warnings
import traceback as _traceback
from time import perf_counter_ns as _perf_counter_ns

cdef enum:
    DEBUG_ANOMALY = 1
    DEBUG_PROFILE = 2

_debug = 0                          # a C int (_tensor.pxd), shared with _tensor_ops
cdef bint _check_nan = True
cdef object _profiler = None        # the recording profile: ._forward(name), ._backward(name, t0)
# While anomaly mode runs a record's backward: (its grad_fn name, its trace), the
# trace being (forward stack, the same pair for the backward that recorded it, or
# None).  Records made meanwhile (create_graph) keep it, for PyTorch's "Previous
# calculation was induced by" chain.
cdef object _anomaly_parent = None


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
    return _forward_of((<Node>g.ctx[g.in0[i]]).name)


cdef str _forward_of(str grad_name):
    """MulBackward0 -> mul, LogSoftmaxBackward0 -> log_softmax,
    MaxPool2DWithIndicesBackward0 -> max_pool2d_with_indices (PyTorch's aten names)."""
    f = _NODE_FORWARD.get(grad_name)
    if f is None:
        base = grad_name.partition("Backward")[0] or grad_name
        base = _re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", base)
        f = _NODE_FORWARD[grad_name] = _re.sub(r"([a-z])([A-Z])", r"\1_\2", base).lower()
    return f


cdef int _note_record(Graph g, int32_t i) except -1:
    """Called by every op that records, while _debug is set."""
    if _debug & DEBUG_ANOMALY:
        if g.traces is None:
            g.traces = {}
        g.traces[i] = (_forward_stack(), _anomaly_parent)
    if _debug & DEBUG_PROFILE:
        _profiler._forward(_forward_name(g, i))
    return 0


cdef Tensor _unrecorded(Tensor out, str name):
    """out, returned by an op that did not record: the profiler counts it too,
    under name, the grad_fn name it records when it does (or its forward name)."""
    if _debug & DEBUG_PROFILE:
        _profiler._forward(_forward_of(name))
    return out


cdef int _warn_forward(Graph g, int32_t i, str name) except -1:
    """PyTorch's warnings (python_anomaly_mode.cpp) when record i's backward
    raised: where its forward was called, then, for a record made by a
    create_graph backward, where the forward of each record whose backward
    made it was called (one warning per generation)."""
    entry = (name, None if g.traces is None else g.traces.get(i))
    first = True
    while entry is not None:
        name, trace = entry
        if trace is None:
            _warnings.warn(f"Error detected in {name}. No forward pass information available. "
                           "Enable detect anomaly during forward pass for more information.")
            break
        _warnings.warn((f"Error detected in {name}. Traceback of forward call that caused the "
                        "error:\n" if first else
                        f"\n\nPrevious calculation was induced by {name}. Traceback of forward "
                        "call that induced the previous calculation:\n") + _format_stack(trace[0]))
        entry, first = trace[1], False
    return 0


cdef str _format_stack(list stack):
    return "".join(_traceback.format_list([_traceback.FrameSummary(f, n, fn) for f, n, fn in stack]))


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
    return _debug_sweep_records(g, top, stop, retain)


cdef int _debug_sweep_records(Graph g, int32_t top, int32_t stop, bint retain) except -1:
    # apart from _sweep_records: its lambdas' closure would be made at every sweep
    global _anomaly_parent
    anomaly = bool(_debug & DEBUG_ANOMALY)
    outer = _anomaly_parent
    try:
        g.debug_sweep(top, stop, retain, anomaly and _check_nan, OP_NAMES,
                      lambda i, name: _start_record(g, i, name),
                      None if _profiler is None else _profiler._backward,
                      (lambda i, name: _warn_forward(g, i, name)) if anomaly else None)
    finally:
        _anomaly_parent = outer
    return 0


cdef object _start_record(Graph g, int32_t i, str name):
    """Before a backward runs record i while _debug is set: the records it
    makes (create_graph) name it their parent, and the profiler's next event
    (an op of its derivative) starts with it.  Returns its start time (ns).
    The sweep puts _anomaly_parent back."""
    global _anomaly_parent
    if _debug & DEBUG_ANOMALY:
        _anomaly_parent = (name, None if g.traces is None else g.traces.get(i))
    now = _perf_counter_ns()
    if _debug & DEBUG_PROFILE:
        _profiler._mark(now)
    return now
