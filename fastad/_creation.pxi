# Included by _tensor_ops.pyx: tensor creation: from data, filled, ranges, random.
class _AllocationError(RuntimeError, MemoryError):
    """Memory refused: PyTorch raises RuntimeError, Python code may catch MemoryError."""


cdef object _empty(tuple size, object npdt):
    """np.empty, its refusals (too big, past the address space) as _AllocationError."""
    try:
        return np.empty(size, npdt)
    except (MemoryError, ValueError) as e:
        raise _AllocationError(f"fastad: cannot allocate a tensor of size {list(size)}: {e}") from None


cdef int _infer_dt(object data) except -1:
    if isinstance(data, Tensor):
        return (<Tensor>data)._dt
    if isinstance(data, (np.ndarray, np.generic)):
        return _np_to_dt(data.dtype)
    if isinstance(data, (bool, np.bool_)):
        return DT_BOOL
    if isinstance(data, numbers.Integral):
        return DT_I64
    if isinstance(data, numbers.Real):
        return _default_dt
    if isinstance(data, (list, tuple)):
        first = data
        while isinstance(first, (list, tuple)) and len(first):
            first = first[0]
        if isinstance(first, str):
            raise ValueError("too many dimensions 'str'")
        dt = -1
        for e in data:
            de = _infer_dt(e)
            dt = de if dt < 0 else _join(dt, de)
        return DT_F32 if dt < 0 else (_default_dt if dt == DT_F32 else dt)
    if isinstance(data, str):
        raise TypeError(f"new(): invalid data type '{type(data).__name__}'")
    raise RuntimeError(f"Could not infer dtype of {type(data).__name__}")


cdef void _check_ragged(object data, tuple shape, int depth) except *:
    if isinstance(data, (list, tuple)):
        if depth >= len(shape):
            raise TypeError(f"'{type(data).__name__}' object cannot be interpreted as an integer")
        if len(data) != shape[depth]:
            raise ValueError(f"expected sequence of length {shape[depth] if depth < len(shape) else 0} "
                             f"at dim {depth} (got {len(data)})")
        for e in data:
            _check_ragged(e, shape, depth + 1)
    elif isinstance(data, Tensor):
        pass
    elif depth != len(shape):
        raise TypeError("not a sequence")


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of data (numbers, nested lists, arrays, tensors)."""
    _check_device(device)
    cdef int dt = _infer_dt(data) if dtype is None else _dt_code(dtype)
    if isinstance(data, Tensor):
        a = np.array(_arr(<Tensor>data), dtype=NP_DTYPES[dt], copy=True)
    elif isinstance(data, (list, tuple)):
        conv = [_arr(<Tensor>e) if isinstance(e, Tensor) else e for e in data] if any(
            [isinstance(e, Tensor) for e in data]) else data
        try:
            a = np.array(conv, dtype=NP_DTYPES[dt])
        except (ValueError, TypeError):
            _check_ragged(conv, _first_shape(conv), 0)
            raise TypeError(f"new(): invalid data type in {data!r}") from None
        if a.dtype == object:
            raise TypeError("new(): invalid data type 'object'")
    else:
        a = np.array(data, dtype=NP_DTYPES[dt], copy=True)
    cdef Tensor t = _wrap(a, dt)
    if requires_grad:
        t.requires_grad_(True)
    return t


cdef tuple _first_shape(object data):
    shape = []
    while isinstance(data, (list, tuple)):
        shape.append(len(data))
        if not data:
            break
        data = data[0]
    return tuple(shape)


def as_tensor(data, dtype=None, device=None):
    _check_device(device)
    if isinstance(data, Tensor) and (dtype is None or _as_dtype(dtype).code == (<Tensor>data)._dt):
        return data
    if isinstance(data, np.ndarray) and dtype is None and data.dtype in NP_DTYPES:
        return _wrap(data, _np_to_dt(data.dtype))
    return tensor(data, dtype=dtype)


def from_numpy(ndarray):
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    if ndarray.dtype not in NP_DTYPES:
        raise TypeError(f"can't convert np.ndarray of type {ndarray.dtype}; fastad shares memory "
                        "only with float32, float64, int64 and bool arrays")
    if ndarray.ndim == 0 and ndarray.dtype.kind == "f":
        raise ValueError("fastad keeps 0-d float tensors inline and cannot share a 0-d array's "
                         "memory; use tensor() for a copy")
    return _wrap(ndarray, _np_to_dt(ndarray.dtype))


cdef Tensor _filled(tuple size, object value, object dtype, bint requires_grad):
    cdef int dt = _default_dt if dtype is None else _dt_code(dtype)
    for s in size:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
    a = _empty(size, NP_DTYPES[dt])
    a[...] = value
    cdef Tensor t = _wrap(a, dt)
    if requires_grad:
        t.requires_grad_(True)
    return t


cdef tuple _size_arg(tuple args, object size, str fname):
    """Sizes given as *ints, one tuple/list, or the keyword size= (PyTorch takes
    either, not both)."""
    if size is None:
        return _sizes(args)
    if args:
        raise TypeError(f"{fname}() got multiple values for argument 'size'")
    return _sizes((size,))


def zeros(*args, size=None, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    return _filled(_size_arg(args, size, "zeros"), 0, dtype, requires_grad)


def ones(*args, size=None, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    return _filled(_size_arg(args, size, "ones"), 1, dtype, requires_grad)


def empty(*args, size=None, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    return _filled(_size_arg(args, size, "empty"), 0, dtype, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    if dtype is None:
        dtype = DTYPES[_infer_dt(fill_value)]
    return _filled(_sizes((size,)), fill_value, dtype, requires_grad)


def zeros_like(input, dtype=None, requires_grad=False, *, device=None):
    _check_device(device)
    return _filled(tuple(_as_tensor(input).shape), 0, dtype or _as_tensor(input).dtype, requires_grad)


def ones_like(input, dtype=None, requires_grad=False, *, device=None):
    _check_device(device)
    return _filled(tuple(_as_tensor(input).shape), 1, dtype or _as_tensor(input).dtype, requires_grad)


def empty_like(input, dtype=None, requires_grad=False, *, device=None):
    _check_device(device)
    return zeros_like(input, dtype, requires_grad)


def full_like(input, fill_value, dtype=None, requires_grad=False, *, device=None):
    _check_device(device)
    return _filled(tuple(_as_tensor(input).shape), fill_value, dtype or _as_tensor(input).dtype,
                   requires_grad)


def rand_like(input, *, generator=None, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    return rand(*_as_tensor(input).shape, dtype=dtype or _as_tensor(input).dtype,
                generator=generator, requires_grad=requires_grad)


def randn_like(input, *, generator=None, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    return randn(*_as_tensor(input).shape, dtype=dtype or _as_tensor(input).dtype,
                 generator=generator, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if dtype is None:
        dtype = DTYPES[_infer_dt([start, end, step])]
    try:
        r = np.arange(start, end, step, dtype=np.float64 if _as_dtype(dtype).is_floating_point
                      else np.int64)
    except (MemoryError, ValueError) as e:
        raise _AllocationError(f"fastad: cannot allocate arange({start}, {end}, {step}): {e}") from None
    cdef Tensor t = _wrap(r, _dt_code(dtype))
    return t.requires_grad_(requires_grad) if requires_grad else t


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    cdef int dt = _default_dt if dtype is None else _dt_code(dtype)
    steps = int(steps)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    # PyTorch's two-sided formula, start + i*step in the first half and
    # end - (steps-1-i)*step in the second, with step in the output's type
    # (double for integers, whose ends are truncated first) and each value
    # rounded once, as its fused multiply-adds do: wider arithmetic, then the dtype
    if _cat(dt) == 2:
        ft = NP_DTYPES[dt].type
        a, b = ft(start), ft(end)
    else:
        ft = np.float64
        a, b = ft(int(start)), ft(int(end))
    step = (b - a) / ft(_builtins.max(steps - 1, 1))
    wide = np.longdouble if ft is np.float64 else np.float64
    i = _empty((steps,), wide)
    i[:] = np.arange(steps)
    r = np.where(i < steps // 2, wide(a) + wide(step) * i, wide(b) - wide(step) * (steps - 1 - i))
    if steps == 1:
        r[0] = a
    cdef Tensor t = _wrap(r, dt)
    return t.requires_grad_(requires_grad) if requires_grad else t


def logspace(start, end, steps, base=10.0, *, dtype=None, layout=None, device=None,
             requires_grad=False):
    _check_device(device)
    cdef int dt = _default_dt if dtype is None else _dt_code(dtype)
    steps = int(steps)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    # PyTorch's CPU kernel: the ends in the output's type, their difference
    # over steps - 1 in double, base ** (start + i*step) for the first half and
    # base ** (end - (steps-1-i)*step) for the second, in double, then cast
    if _cat(dt) == 2:
        a, b = NP_DTYPES[dt].type(start), NP_DTYPES[dt].type(end)
    else:
        a, b = int(start), int(end)
    i = np.arange(steps, dtype=np.float64)
    if steps == 1:
        e = np.array([float(a)])
    else:
        step = float(b - a) / (steps - 1)
        e = np.where(i < steps // 2, float(a) + step * i, float(b) - step * (steps - 1 - i))
    cdef Tensor t = _wrap(np.power(float(base), e).astype(NP_DTYPES[dt]), dt)
    return t.requires_grad_(requires_grad) if requires_grad else t


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    cdef int dt = _default_dt if dtype is None else _dt_code(dtype)
    cdef Tensor t = _wrap(np.eye(n, m), dt)
    return t.requires_grad_(requires_grad) if requires_grad else t


def rand(*args, size=None, dtype=None, generator=None, device=None, requires_grad=False):
    _check_device(device)
    cdef int dt = _default_dt if dtype is None else _dt_code(dtype)
    shape = _size_arg(args, size, "rand")
    cdef Tensor t = _wrap(_R.fill_uniform(_empty(shape, NP_DTYPES[dt]), 0.0, 1.0, generator), dt)
    return t.requires_grad_(requires_grad) if requires_grad else t


def randn(*args, size=None, dtype=None, generator=None, device=None, requires_grad=False):
    _check_device(device)
    cdef int dt = _default_dt if dtype is None else _dt_code(dtype)
    shape = _size_arg(args, size, "randn")
    cdef Tensor t = _wrap(_R.fill_normal(_empty(shape, NP_DTYPES[dt]), 0.0, 1.0, generator), dt)
    return t.requires_grad_(requires_grad) if requires_grad else t


def randint(low=0, high=None, size=None, dtype=None, generator=None, device=None, requires_grad=False):
    _check_device(device)
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high          # randint(high, size)
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    cdef int dt = DT_I64 if dtype is None else _dt_code(dtype)
    cdef Tensor t = _wrap(_R.fill_random(_empty(_sizes((size,)), NP_DTYPES[dt]), (low, high), generator), dt)
    return t.requires_grad_(requires_grad) if requires_grad else t


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    _check_device(device)
    cdef Tensor t = _wrap(_R.randperm(n, generator), DT_I64 if dtype is None else _dt_code(dtype))
    return t.requires_grad_(requires_grad) if requires_grad else t


def _legacy_name(int dt):
    return ("FloatTensor", "DoubleTensor", "LongTensor", "BoolTensor", "HalfTensor", "IntTensor",
            "ShortTensor", "CharTensor", "ByteTensor")[dt]


cdef object _legacy(dtype dt):
    def constructor(*args):
        # PyTorch's legacy typed constructors: from data, or (uninitialised) sizes
        if len(args) == 1 and not isinstance(args[0], int):
            return tensor(args[0], dtype=dt)
        return zeros(*args, dtype=dt)
    constructor.__name__ = constructor.__qualname__ = _legacy_name(dt.code)
    return constructor


FloatTensor, DoubleTensor, LongTensor, IntTensor, BoolTensor = (
    _legacy(float32), _legacy(float64), _legacy(int64), _legacy(int32), _legacy(bool_))
HalfTensor, ShortTensor, CharTensor, ByteTensor = (
    _legacy(float16), _legacy(int16), _legacy(int8), _legacy(uint8))
