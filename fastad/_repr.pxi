# Included by _tensor_ops.pyx: repr: a port of torch/_tensor_str.py.
# A port of torch/_tensor_str.py: the formatter looks at the nonzero finite
# values only.  The options are set_printoptions' (PyTorch's defaults).
cdef int _PREC = 4
cdef int _LINEWIDTH = 80
cdef double _THRESHOLD = 1000
cdef int _EDGE = 3
cdef object _SCI = None


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    global _PREC, _LINEWIDTH, _THRESHOLD, _EDGE, _SCI
    if profile is not None:
        _PREC, _THRESHOLD, _EDGE, _LINEWIDTH = {
            "default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80),
            "full": (4, float("inf"), 3, 80)}[profile]
    if precision is not None:
        _PREC = precision
    if threshold is not None:
        _THRESHOLD = threshold
    if edgeitems is not None:
        _EDGE = edgeitems
    if linewidth is not None:
        _LINEWIDTH = linewidth
    _SCI = sci_mode


cdef tuple _formatter(object a, bint is_float):
    """(mode, width) for the (summarized) values of a: mode is "int", "sci" or
    "fix" for floats, "" otherwise."""
    cdef int width = 1
    if not is_float:
        for v in a.reshape(-1).tolist():
            width = _builtins.max(width, len(str(v)))
        return ("", width)
    flat = a.reshape(-1)
    vals = flat[np.isfinite(flat) & (flat != 0)]
    if vals.size == 0:
        return ("int", width)
    nz = np.abs(vals).astype(np.float64)
    lo, hi = nz.min(), nz.max()
    int_mode = bool(np.all(vals == np.ceil(vals)))
    sci = bool(hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4) if _SCI is None else bool(_SCI)
    for v in vals.tolist():
        if sci:
            width = _builtins.max(width, len(f"{v:.{_PREC}e}"))
        elif int_mode:
            width = _builtins.max(width, len(f"{v:.0f}") + 1)
        else:
            width = _builtins.max(width, len(f"{v:.{_PREC}f}"))
    return ("sci" if sci else ("int" if int_mode else "fix"), width)


cdef str _fmt_one(object v, str mode, int width):
    if mode == "":
        ret = f"{v}"
    elif mode == "sci":
        ret = f"{v:{width}.{_PREC}e}"
    elif mode == "int":
        ret = f"{v:.0f}"
        if v == v and v not in (float("inf"), float("-inf")):
            ret += "."
    else:
        ret = f"{v:.{_PREC}f}"
    return " " * (width - len(ret)) + ret


cdef object _summarized(object a):
    if a.ndim == 0:
        return a
    if a.ndim == 1:
        return np.concatenate([a[:_EDGE], a[-_EDGE:]]) if a.shape[0] > 2 * _EDGE else a
    rows = list(range(a.shape[0]))
    if a.shape[0] > 2 * _EDGE:
        rows = rows[:_EDGE] + rows[-_EDGE:]
    return np.stack([_summarized(a[i]) for i in rows])


cdef str _tensor_str(object a, int indent, bint summarize, str mode, int width):
    if a.ndim == 0:
        return _fmt_one(a.item(), mode, width)
    if a.ndim == 1:
        per_line = _builtins.max(1, (_LINEWIDTH - indent) // (width + 2))
        if summarize and a.shape[0] > 2 * _EDGE:
            data = ([_fmt_one(v, mode, width) for v in a[:_EDGE].tolist()] + [" ..."] +
                    [_fmt_one(v, mode, width) for v in a[-_EDGE:].tolist()])
        else:
            data = [_fmt_one(v, mode, width) for v in a.tolist()]
        lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
        return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"
    if summarize and a.shape[0] > 2 * _EDGE:
        slices = ([_tensor_str(a[i], indent + 1, summarize, mode, width) for i in range(_EDGE)] +
                  ["..."] +
                  [_tensor_str(a[i], indent + 1, summarize, mode, width)
                   for i in range(a.shape[0] - _EDGE, a.shape[0])])
    else:
        slices = [_tensor_str(a[i], indent + 1, summarize, mode, width)
                  for i in range(a.shape[0])]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def _repr(Tensor t):
    a = _arr(t)
    prefix = "tensor("
    cdef int indent = len(prefix)
    suffixes = []
    if a.size == 0:
        if a.ndim != 1:
            suffixes.append(f"size={tuple(a.shape)}")
        if t._dt != _default_dt:
            suffixes.append(f"dtype={DTYPES[t._dt]!r}")
        body = "[]"
    else:
        if t._dt != _default_dt and t._dt != DT_I64 and t._dt != DT_BOOL:
            suffixes.append(f"dtype={DTYPES[t._dt]!r}")
        summarize = a.size > _THRESHOLD
        mode, width = _formatter(_summarized(a) if summarize else a, _cat(t._dt) == 2)
        body = _tensor_str(a, indent, summarize, mode, width)
    if t._graph is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name().rpartition('::')[2]}>")
    elif t._rg:
        suffixes.append("requires_grad=True")
    s = prefix + body
    parts = [s]
    last_line_len = len(s) - s.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > _LINEWIDTH:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)
