# Included by _tensor.pyx: dtypes: fastad.float32 ..., the default dtype, promotion.
cdef class dtype:
    cdef readonly str name
    cdef readonly object np_dtype
    cdef readonly int code
    cdef readonly bint is_floating_point

    def __repr__(self):
        return "torch." + self.name

    def __reduce__(self):
        return (_dtype_by_name, (self.name,))

    @property
    def itemsize(self):
        return self.np_dtype.itemsize


cdef dtype _mk_dtype(str name, object np_dtype, int code, bint floating):
    cdef dtype d = dtype.__new__(dtype)
    d.name, d.np_dtype, d.code, d.is_floating_point = name, np.dtype(np_dtype), code, floating
    return d


cdef enum:
    DT_F32 = 0
    DT_F64 = 1
    DT_I64 = 2
    DT_BOOL = 3
float32 = _mk_dtype("float32", np.float32, 0, True)
float64 = _mk_dtype("float64", np.float64, 1, True)
int64 = _mk_dtype("int64", np.int64, 2, False)
bool_ = _mk_dtype("bool", np.bool_, 3, False)
cdef tuple DTYPES = (float32, float64, int64, bool_)
cdef tuple NP_DTYPES = tuple(d.np_dtype for d in DTYPES)
cdef int _default_dt = 0


def _dtype_by_name(name):
    for d in DTYPES:
        if d.name == name:
            return d
    raise TypeError(f"unknown dtype {name!r}")


def get_default_dtype():
    return DTYPES[_default_dt]


def set_default_dtype(d):
    global _default_dt
    d = _as_dtype(d)
    if not d.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    _default_dt = d.code


cdef int _np_to_dt(object npdt) except -1:
    """numpy dtype -> fastad dtype code (narrower ints and floats widen)."""
    kind = npdt.kind
    if kind == "f":
        return DT_F64 if npdt.itemsize == 8 else DT_F32
    if kind in "iu":
        return DT_I64
    if kind == "b":
        return DT_BOOL
    raise TypeError(f"can't convert np.ndarray of type {npdt}. The only supported types are: "
                    "float64, float32, float16, int64, int32, int16, int8, uint8, and bool.")


cdef dtype _as_dtype(object d):
    if isinstance(d, dtype):
        return d
    if d is float:
        return DTYPES[_default_dt]
    if d is int:
        return int64
    if d is bool:
        return bool_
    try:
        return DTYPES[_np_to_dt(np.dtype(d))]
    except TypeError:
        raise TypeError(f"{d!r} is not a fastad dtype (use float32, float64, int64 or bool)")


cdef int _dt_code(object d) except -1:
    return (<dtype>_as_dtype(d)).code


cdef inline int _cat(int dt) noexcept:
    return 2 if dt <= DT_F64 else (1 if dt == DT_I64 else 0)


cdef int _join(int x, int y) noexcept:
    cdef int cx = _cat(x), cy = _cat(y)
    if cx != cy:
        return x if cx > cy else y
    if cx == 2:
        return DT_F64 if (x == DT_F64 or y == DT_F64) else DT_F32
    return x


cdef int _promote(int adt, int ak, int bdt, int bk) noexcept:
    """PyTorch's promotion: dimensioned tensors > 0-d tensors > Python numbers;
    a lower group only matters when it is of a higher category (bool<int<float)."""
    if ak == bk:
        return _join(adt, bdt)
    cdef int hi = adt if ak > bk else bdt
    cdef int lo = bdt if ak > bk else adt
    return lo if _cat(lo) > _cat(hi) else hi


class Size(tuple):
    def __repr__(self):
        return f"torch.Size({list(self)})"

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n
