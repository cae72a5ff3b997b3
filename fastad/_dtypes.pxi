# Included by _tensor.pyx: dtypes: fastad.float32 ..., the default dtype, promotion.
cdef class dtype:
    # (its fields and the DT_ codes: _tensor.pxd)
    def __repr__(self):
        return "torch." + self.name

    def __reduce__(self):
        return (_dtype_by_name, (self.name,))

    @property
    def itemsize(self):
        return self.np_dtype.itemsize


cdef object _DTYPE = dtype     # for code where a parameter named dtype hides the class


cdef dtype _mk_dtype(str name, object np_dtype, int code, bint floating):
    cdef dtype d = dtype.__new__(dtype)
    d.name, d.np_dtype, d.code, d.is_floating_point = name, np.dtype(np_dtype), code, floating
    return d


float32 = _mk_dtype("float32", np.float32, DT_F32, True)
float64 = _mk_dtype("float64", np.float64, DT_F64, True)
int64 = _mk_dtype("int64", np.int64, DT_I64, False)
bool_ = _mk_dtype("bool", np.bool_, DT_BOOL, False)
float16 = _mk_dtype("float16", np.float16, DT_F16, True)
int32 = _mk_dtype("int32", np.int32, DT_I32, False)
int16 = _mk_dtype("int16", np.int16, DT_I16, False)
int8 = _mk_dtype("int8", np.int8, DT_I8, False)
uint8 = _mk_dtype("uint8", np.uint8, DT_U8, False)
# numpy has no bfloat16: the name exists (code that picks a dtype runs), using it raises
bfloat16 = _mk_dtype("bfloat16", np.float32, -1, True)
# DTYPES, NP_DTYPES and _default_dt are C variables (_tensor.pxd), shared with _tensor_ops
DTYPES = (float32, float64, int64, bool_, float16, int32, int16, int8, uint8)
NP_DTYPES = tuple(d.np_dtype for d in DTYPES)
_default_dt = 0


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


cdef dict _NP_CODES = {np.dtype(np.float32): DT_F32, np.dtype(np.float64): DT_F64,
                       np.dtype(np.int64): DT_I64, np.dtype(np.bool_): DT_BOOL,
                       np.dtype(np.float16): DT_F16, np.dtype(np.int32): DT_I32,
                       np.dtype(np.int16): DT_I16, np.dtype(np.int8): DT_I8,
                       np.dtype(np.uint8): DT_U8}


cdef int _np_to_dt(object npdt) except -1:
    """numpy dtype -> fastad dtype code (wider unsigned ints become int64)."""
    code = _NP_CODES.get(npdt)
    if code is not None:
        return code
    if npdt.kind in "iu":
        return DT_I64
    if npdt.kind == "f":
        return DT_F64
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
        raise TypeError(f"{d!r} is not a fastad dtype") from None


cdef int _dt_code(object d) except -1:
    cdef dtype t = _as_dtype(d)
    if t.code < 0:
        raise TypeError("fastad: bfloat16 is not supported (numpy, fastad's storage, has no "
                        "bfloat16); use float16 or float32")
    return t.code


# each dtype's rank within its category (bits; uint8 between int8 and int16)
cdef int[9] _RANK = [32, 64, 64, 1, 16, 32, 16, 8, 9]


cdef int _join(int x, int y) noexcept:
    if x == y:                 # the scalar graphs' case: first, it is on their hot path
        return x
    cdef int cx = _cat(x), cy = _cat(y)
    if cx != cy:
        return x if cx > cy else y
    if (x == DT_U8 and y == DT_I8) or (x == DT_I8 and y == DT_U8):
        return DT_I16        # PyTorch: the smallest type holding both ranges
    return x if _RANK[x] >= _RANK[y] else y


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
