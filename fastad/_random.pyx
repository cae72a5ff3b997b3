# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""PyTorch's CPU random numbers, bit for bit: its mt19937 generator (seeded,
stepped and saved as at::CPUGeneratorImpl does) and its CPU samplers
(ATen's DistributionsHelper.h, TransformationHelper.h and
native/cpu/DistributionTemplates.h), over numpy arrays.

PyTorch's kernels are compiled with FMA contraction on for the AVX2/AVX512
builds it dispatches to, so where they fuse a multiply into an add this file
calls fma()/fmaf() explicitly, and nowhere else (the module is built with
-ffp-contract=off so the compiler adds none of its own)."""
import os

import numpy as np
cimport numpy as cnp
from cython cimport floating
from libc.math cimport ceil, cos, exp, fabs, floor, fma, fmaf, lgamma, log, log1p, sin, sqrt, sqrtf, tan
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from libc.string cimport memcpy

cnp.import_array()

cdef enum:
    N = 624
    M = 397
    # sizeof(at::detail::CPUGeneratorImplState): the byte layout of get_state()
    STATE_BYTES = 5056
# at::CPUGeneratorImpl's seed when none is given (c10 default_rng_seed_val)
_DEFAULT_SEED = 67280421310721


cdef class Generator:
    """torch.Generator for the CPU: mt19937 plus the two cached Box-Muller
    samples PyTorch keeps (only the double one is ever filled on the CPU)."""
    cdef uint32_t _mt[N]
    cdef int _left
    cdef uint32_t _next
    cdef uint64_t _seed
    cdef double _normal_d
    cdef float _normal_f
    cdef bint _has_normal_d, _has_normal_f

    def __init__(self, device="cpu"):
        if str(device) != "cpu":
            raise RuntimeError(f"fastad has no {device} device: Generator(device='cpu') only")
        self._set_seed(_DEFAULT_SEED)

    cdef void _set_seed(self, uint64_t seed) noexcept:
        cdef int j
        self._seed = seed
        self._mt[0] = <uint32_t>(seed & 0xffffffffu)
        for j in range(1, N):
            self._mt[j] = <uint32_t>(1812433253u * (self._mt[j - 1] ^ (self._mt[j - 1] >> 30)) + j)
        self._left = 1
        self._next = 0
        self._has_normal_d = self._has_normal_f = False

    @property
    def device(self):
        try:
            from fastad import device
        except ImportError:         # before fastad has a device class
            return "cpu"
        return device("cpu")

    def manual_seed(self, seed):
        self._set_seed(_seed_bits(seed))
        return self

    def seed(self):
        s = int.from_bytes(os.urandom(8), "little")
        self._set_seed(s)
        return s

    def initial_seed(self):
        return self._seed

    def get_state(self):
        """The state as PyTorch's CPUGeneratorImplState bytes (5056 of them),
        so a state saved by either library restores in the other."""
        cdef cnp.ndarray b = np.zeros(STATE_BYTES, np.uint8)
        b[0:8] = np.frombuffer(np.uint64(self._seed).tobytes(), np.uint8)
        b[8:16] = np.frombuffer(np.array([self._left, 1], np.int32).tobytes(), np.uint8)
        b[16:24] = np.frombuffer(np.uint64(self._next).tobytes(), np.uint8)
        cdef cnp.ndarray st = np.empty(N, np.uint64)
        cdef int j
        for j in range(N):
            st[j] = self._mt[j]
        b[24:5016] = np.frombuffer(st.tobytes(), np.uint8)
        if self._has_normal_d:
            b[5024:5032] = np.frombuffer(np.float64(self._normal_d).tobytes(), np.uint8)
            b[5040] = 1
        if self._has_normal_f:
            b[5048:5052] = np.frombuffer(np.float32(self._normal_f).tobytes(), np.uint8)
            b[5052] = 1
        return _state_tensor(b)

    def set_state(self, new_state):
        b = np.asarray(new_state).reshape(-1)
        if b.dtype.kind not in "ui" or (b.size and (b.min() < 0 or b.max() > 255)):
            raise TypeError("RNG state must be a torch.ByteTensor")
        if b.size != STATE_BYTES:
            raise RuntimeError(f"Expected a CPUGeneratorImplState of size {STATE_BYTES} but found "
                               f"the input RNG state size to be {b.size}")
        raw = b.astype(np.uint8).tobytes()
        seed = int(np.frombuffer(raw, np.uint64, 1, 0)[0])
        left, seeded = (int(v) for v in np.frombuffer(raw, np.int32, 2, 8))
        nxt = int(np.frombuffer(raw, np.uint64, 1, 16)[0]) & 0xffffffff
        if not (seeded and 0 < left <= N and nxt <= N):
            raise RuntimeError("Invalid mt19937 state")
        st = np.frombuffer(raw, np.uint64, N, 24)
        cdef int j
        for j in range(N):
            self._mt[j] = <uint32_t>(st[j] & 0xffffffff)
        self._seed, self._left, self._next = seed, left, nxt
        self._has_normal_d = raw[5040] != 0
        self._normal_d = float(np.frombuffer(raw, np.float64, 1, 5024)[0])
        self._has_normal_f = raw[5052] != 0
        self._normal_f = float(np.frombuffer(raw, np.float32, 1, 5048)[0])
        return self

    def _random64(self):
        return _next64(self)

    def __reduce__(self):
        return (_restore, (self.get_state(),))


def _restore(state):
    return Generator().set_state(state)


cdef object _state_tensor(cnp.ndarray b):
    # fastad has no uint8 dtype yet: the bytes travel as an int64 tensor of
    # the same 5056 values (set_state takes either)
    from fastad import _tensor
    dt = getattr(_tensor, "uint8", None) or _tensor.int64
    return _tensor.tensor(b, dtype=dt)


cdef uint64_t _seed_bits(object seed) except? 0:
    # PyTorch reads a seed as uint64, or as int64 reinterpreted when negative
    s = int(seed)
    if not -(1 << 63) <= s < (1 << 64):
        raise ValueError("Overflow when unpacking long long")
    return <uint64_t>(s & 0xffffffffffffffff)


default_generator = Generator()
default_generator.seed()


cdef inline Generator _gen(object generator):
    if generator is None:
        return default_generator
    if not isinstance(generator, Generator):
        raise TypeError(f"expected a fastad.Generator, got {type(generator).__name__}")
    return <Generator>generator


# ---------------------------------------------------------------- the engine
cdef inline uint32_t _twist(uint32_t u, uint32_t v) noexcept nogil:
    return (((u & 0x80000000u) | (v & 0x7fffffffu)) >> 1) ^ (0x9908b0dfu if v & 1 else 0u)


cdef void _next_state(Generator g) noexcept nogil:
    cdef uint32_t* p = g._mt
    cdef int j
    g._left = N
    g._next = 0
    for j in range(N - M):
        p[j] = p[j + M] ^ _twist(p[j], p[j + 1])
    for j in range(N - M, N - 1):
        p[j] = p[j + M - N] ^ _twist(p[j], p[j + 1])
    p[N - 1] = p[M - 1] ^ _twist(p[N - 1], p[0])


cdef inline uint32_t _next32(Generator g) noexcept nogil:
    g._left -= 1
    if g._left == 0:
        _next_state(g)
    cdef uint32_t y = g._mt[g._next]
    g._next += 1
    y ^= y >> 11
    y ^= (y << 7) & 0x9d2c5680u
    y ^= (y << 15) & 0xefc60000u
    y ^= y >> 18
    return y


cdef inline uint64_t _next64(Generator g) noexcept nogil:
    cdef uint64_t hi = _next32(g)
    return (hi << 32) | _next32(g)


cdef inline float _u24(Generator g) noexcept nogil:
    # uniform_real_distribution<float>: 24 random bits of one 32-bit draw
    return <float>(_next32(g) & 0xffffffu) * <float>5.9604644775390625e-08


cdef inline double _u53(Generator g) noexcept nogil:
    # uniform_real_distribution<double>: 53 random bits of one 64-bit draw
    return <double>(_next64(g) & 0x1fffffffffffffu) * 1.1102230246251565e-16


cdef double _normal_scalar(Generator g, double mean, double std) noexcept nogil:
    """at::normal_distribution<double>: Box-Muller on two doubles, the second
    sample cached on the generator for the next call."""
    cdef double u1, u2, r, theta
    if g._has_normal_d:
        g._has_normal_d = False
        return fma(g._normal_d, std, mean)
    u1 = _u53(g)
    u2 = _u53(g)
    r = sqrt(-2.0 * log1p(-u2))
    theta = 2.0 * 3.14159265358979323846 * u1
    g._normal_d = r * sin(theta)
    g._has_normal_d = True
    return fma(r * cos(theta), std, mean)


# ---------------------------------------------------------------- float32 Box-Muller
# PyTorch's float normal_ of 16+ contiguous values runs avx_mathfun.h's
# log256_ps / sincos256_ps (Cephes polynomials); these are those, one lane at a
# time, with the multiply-adds GCC fused in PyTorch's build fused here (found
# by comparing every variant against torch 2.13 over millions of samples).
cdef inline float _bits_f(uint32_t u) noexcept nogil:
    cdef float f
    memcpy(&f, &u, 4)
    return f


cdef inline uint32_t _f_bits(float f) noexcept nogil:
    cdef uint32_t u
    memcpy(&u, &f, 4)
    return u


cdef inline float _cephes_logf(float x) noexcept nogil:
    # x in (0, 1] here, so the x <= 0 (NaN) lane of the original never occurs
    cdef float mn = _bits_f(0x00800000u)
    if not x > mn:
        x = mn
    cdef int32_t e_i = <int32_t>(_f_bits(x) >> 23) - 0x7f
    x = _bits_f((_f_bits(x) & ~0x7f800000u) | _f_bits(<float>0.5))
    cdef float e = <float>e_i + <float>1.0
    cdef float tmp = x if x < <float>0.707106781186547524 else <float>0.0
    if x < <float>0.707106781186547524:
        e = e - <float>1.0
    x = x - <float>1.0
    x = x + tmp
    cdef float z = x * x
    cdef float y = <float>7.0376836292E-2
    y = fmaf(y, x, <float>-1.1514610310E-1)
    y = fmaf(y, x, <float>1.1676998740E-1)
    y = fmaf(y, x, <float>-1.2420140846E-1)
    y = fmaf(y, x, <float>1.4249322787E-1)
    y = fmaf(y, x, <float>-1.6668057665E-1)
    y = fmaf(y, x, <float>2.0000714765E-1)
    y = fmaf(y, x, <float>-2.4999993993E-1)
    y = fmaf(y, x, <float>3.3333331174E-1)
    y = y * x
    y = fmaf(y, z, e * <float>-2.12194440e-4)
    y = y - z * <float>0.5
    x = x + y
    x = x + e * <float>0.693359375
    return x


cdef inline void _cephes_sincosf(float x, float* s, float* c) noexcept nogil:
    cdef uint32_t sign_sin = _f_bits(x) & 0x80000000u
    x = _bits_f(_f_bits(x) & 0x7fffffffu)
    cdef int32_t j = <int32_t>(x * <float>1.27323954473516)
    j = (j + 1) & ~1
    cdef float y = <float>j
    sign_sin ^= (<uint32_t>(j & 4)) << 29
    cdef uint32_t sign_cos = (<uint32_t>(~(j - 2) & 4)) << 29
    cdef bint poly_sin = (j & 2) == 0
    x = x + y * <float>-0.78515625
    x = x + y * <float>-2.4187564849853515625e-4
    x = x + y * <float>-3.77489497744594108e-8
    cdef float z = x * x
    cdef float yc = <float>2.443315711809948E-005 * z + <float>-1.388731625493765E-003
    yc = fmaf(yc, z, <float>4.166664568298827E-002)
    yc = fmaf(yc * z, z, -(z * <float>0.5))
    yc = yc + <float>1.0
    cdef float ys = fmaf(<float>-1.9515295891E-4, z, <float>8.3321608736E-3)
    ys = fmaf(ys, z, <float>-1.6666654611E-1)
    ys = fmaf(ys * z, x, x)
    cdef float rs, rc
    if poly_sin:
        rs = <float>0.0 + ys
        rc = yc + <float>0.0
    else:
        rs = yc + <float>0.0
        rc = <float>0.0 + ys
    s[0] = _bits_f(_f_bits(rs) ^ sign_sin)
    c[0] = _bits_f(_f_bits(rc) ^ sign_cos)


# The same sixteen in AVX2 lanes, as PyTorch runs them (its NormalFill16<float>):
# eight times faster than the lane-at-a-time version, which stays for CPUs
# without AVX2 and FMA.
cdef extern from "csrc/random_avx2.h":
    void fa_box_muller16_avx2(float* d, float mean, float std) noexcept nogil
    int fa_have_avx2() noexcept nogil


cdef bint _avx2 = fa_have_avx2()


def _simd(on=None):
    """Whether the AVX2 Box-Muller runs (on=False forces the lane-at-a-time
    one, for the test that both give the same bits); returns the old value."""
    global _avx2
    old = _avx2
    if on is not None:
        _avx2 = bool(on) and fa_have_avx2()
    return old


cdef void _box_muller16(floating* d, floating mean, floating std) noexcept nogil:
    cdef int j
    cdef floating radius, theta
    cdef float s, c
    if floating is float and _avx2:
        fa_box_muller16_avx2(d, mean, std)
        return
    for j in range(8):
        if floating is float:
            radius = sqrtf(<float>-2.0 * _cephes_logf(<float>1.0 - d[j]))
            theta = <float>6.283185307179586 * d[j + 8]
            _cephes_sincosf(theta, &s, &c)
            d[j] = fmaf(radius * c, std, mean)
            d[j + 8] = fmaf(radius * s, std, mean)
        else:
            radius = sqrt(-2.0 * log(1.0 - d[j]))
            theta = 6.283185307179586 * d[j + 8]
            d[j] = fma(radius * cos(theta), std, mean)
            d[j + 8] = fma(radius * sin(theta), std, mean)


# ---------------------------------------------------------------- array fillers
cdef object _order(cnp.ndarray a):
    """A view of a whose C order is a's memory order: PyTorch's serial CPU
    kernels visit elements in memory order (TensorIterator sorts by stride)."""
    if a.flags.c_contiguous or a.ndim < 2:
        return a
    perm = sorted(range(a.ndim), key=lambda i: -abs(a.strides[i]))
    return a.transpose(perm)


cdef void _float_out(cnp.ndarray out, str name) except *:
    # the class PyTorch's dtype dispatch raises
    if out.dtype != np.float32 and out.dtype != np.float64:
        raise NotImplementedError(f"\"{name}\" not implemented for '{_torch_name(out.dtype)}'")


cdef str _torch_name(dt):
    return {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool", "float32": "Float", "float64": "Double"}.get(np.dtype(dt).name,
                                                                        np.dtype(dt).name)


cdef object _filled(cnp.ndarray out, cnp.ndarray values):
    """Writes values (made in memory order) into out, unless they are out."""
    if values is not out:
        view = _order(out)
        view[...] = values.reshape(view.shape)
    return out


def fill_uniform(cnp.ndarray out, double low, double high, generator=None):
    """Tensor.uniform_(low, high): one draw per element, 24 bits for float32
    and 53 for float64, x * (high - low) + low fused as PyTorch's build does."""
    _float_out(out, "check_uniform_bounds")
    if not low <= high:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={low} > to={high}")
    cdef Generator g = _gen(generator)
    cdef Py_ssize_t i, n = out.size
    cdef cnp.ndarray buf = out if out.flags.c_contiguous else np.empty(n, out.dtype)
    cdef float* f
    cdef double* d
    cdef float flo = <float>low, fhi = <float>high, fr, fv
    cdef double dr = high - low, dv
    if out.dtype == np.float32:
        f = <float*>cnp.PyArray_DATA(buf)
        fr = fhi - flo
        with nogil:
            for i in range(n):
                fv = fmaf(_u24(g), fr, flo)
                f[i] = flo if fv == fhi else fv
    else:
        d = <double*>cnp.PyArray_DATA(buf)
        with nogil:
            for i in range(n):
                dv = fma(_u53(g), dr, low)
                d[i] = low if dv == high else dv
    return _filled(out, buf)


def fill_normal(cnp.ndarray out, double mean, double std, generator=None):
    """Tensor.normal_(mean, std). 16 or more contiguous values: uniforms
    first, then Box-Muller in blocks of 16 (the last block redrawn and
    recomputed when the size is not a multiple of 16); otherwise one cached
    double Box-Muller sample per element."""
    _float_out(out, "normal_kernel_cpu")
    if not std >= 0.0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {_fmt(std)}")
    cdef Generator g = _gen(generator)
    cdef Py_ssize_t i, n = out.size
    cdef double* d
    if n >= 16 and out.flags.c_contiguous:
        if out.dtype == np.float32:
            _normal_blocks(g, <float*>cnp.PyArray_DATA(out), n, <float>mean, <float>std)
        else:
            _normal_blocks(g, <double*>cnp.PyArray_DATA(out), n, mean, std)
        return out
    cdef cnp.ndarray buf = np.empty(n, np.float64)
    d = <double*>cnp.PyArray_DATA(buf)
    with nogil:
        for i in range(n):
            d[i] = _normal_scalar(g, mean, std)
    return _filled(out, buf.astype(out.dtype))


cdef void _normal_blocks(Generator g, floating* p, Py_ssize_t n, floating mean,
                         floating std) noexcept nogil:
    """n >= 16 normals into p as PyTorch's normal_fill: all the uniforms first,
    then Box-Muller in blocks of 16, the last block redrawn when n is not a
    multiple of 16."""
    cdef Py_ssize_t i
    for i in range(n):
        p[i] = _u24(g) if floating is float else _u53(g)
    for i in range(0, n - 15, 16):
        _box_muller16(p + i, mean, std)
    if n % 16:
        for i in range(n - 16, n):
            p[i] = _u24(g) if floating is float else _u53(g)
        _box_muller16(p + n - 16, mean, std)


cdef str _fmt(double v):
    return str(int(v)) if v == int(v) else repr(v)


cdef void _uniform_ints(Generator g, int64_t* r, Py_ssize_t n, uint64_t rng, int64_t base) noexcept nogil:
    # at::uniform_int_from_to_distribution: a 64-bit draw only from 2^28 on
    cdef Py_ssize_t i
    if rng >= (<uint64_t>1) << 28:
        for i in range(n):
            r[i] = <int64_t>(_next64(g) % rng + <uint64_t>base)
    else:
        for i in range(n):
            r[i] = <int64_t>(<uint64_t>_next32(g) % rng + <uint64_t>base)


def random_bounds(args, kwargs):
    """Tensor.random_'s overloads as fill_random's bounds: random_() -> None,
    random_(to) -> (0, to), random_(from, to=None) -> (from, to)."""
    kw = dict(kwargs)
    unknown = set(kw) - {"from", "to"}
    if unknown or len(args) > 2:
        raise TypeError("random_() received an invalid combination of arguments")
    if len(args) == 1 and not kw:
        return (0, args[0])
    if not args and kw.keys() == {"to"}:
        return (0, kw["to"])
    vals = list(args) + [None] * (2 - len(args))
    if "from" in kw:
        vals[0] = kw["from"]
    if "to" in kw:
        vals[1] = kw["to"]
    if vals[0] is None:
        return None if vals[1] is None else (0, vals[1])
    return tuple(vals)


_INT_MAX = {"int64": (1 << 63) - 1, "int32": (1 << 31) - 1, "int16": (1 << 15) - 1,
            "int8": 127, "uint8": 255, "bool": 1, "float32": 1 << 24, "float64": 1 << 53}
_INT_MIN = {"int64": -(1 << 63), "int32": -(1 << 31), "int16": -(1 << 15), "int8": -128,
            "uint8": 0, "bool": 0, "float32": -(1 << 24), "float64": -(1 << 53)}


def fill_random(cnp.ndarray out, bounds=None, generator=None):
    """Tensor.random_() (bounds None) and random_(from, to) (bounds (from, to),
    to None for the dtype's maximum); randint is random_(low, high)."""
    name = out.dtype.name
    if name not in _INT_MAX:
        raise RuntimeError(f"\"random_from_to_kernel_cpu\" not implemented for '{_torch_name(out.dtype)}'")
    cdef Generator g = _gen(generator)
    cdef Py_ssize_t i, n = out.size
    cdef cnp.ndarray buf = np.empty(n, np.int64)
    cdef int64_t* r = <int64_t*>cnp.PyArray_DATA(buf)
    cdef uint64_t rng, mask
    if bounds is None:
        # at::uniform_int_distribution: [0, max] of the dtype ([0, 2^digits] for floats)
        if name == "bool":
            with nogil:
                for i in range(n):
                    r[i] = _next32(g) & 1
        else:
            wide = name in ("int64", "float64")
            rng = <uint64_t>(_INT_MAX[name] + (0 if name.startswith("float") else 1))
            if name.startswith("float"):
                rng += 1
            with nogil:
                if wide:
                    for i in range(n):
                        r[i] = <int64_t>(_next64(g) % rng)
                else:
                    for i in range(n):
                        r[i] = <int64_t>(<uint64_t>_next32(g) % rng)
        return _filled(out, buf.astype(out.dtype))
    low, high = bounds
    lo = int(low)
    if high is None:
        hi_inc = _INT_MAX[name]
    else:
        hi = int(high)
        if lo >= hi:
            raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={lo} >= to={hi}")
        hi_inc = hi - 1
    if not (_INT_MIN[name] <= lo <= _INT_MAX[name]):
        raise RuntimeError(f"from is out of bounds for {name}")
    if not (_INT_MIN[name] <= hi_inc <= _INT_MAX[name]):
        raise RuntimeError(f"to - 1 is out of bounds for {name}")
    if hi_inc - lo + 1 == 1 << 64:
        with nogil:
            for i in range(n):
                r[i] = <int64_t>_next64(g)
    else:
        _uniform_ints(g, r, n, <uint64_t>(hi_inc - lo + 1), <int64_t>lo)
    return _filled(out, buf.astype(out.dtype))


def randperm(Py_ssize_t n, generator=None):
    """torch.randperm's CPU shuffles: below 2^32 / 20 a swap with a 32-bit
    draw per position, above it an inside-out shuffle with 64-bit draws."""
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    cdef Generator g = _gen(generator)
    cdef cnp.ndarray res = np.arange(n, dtype=np.int64) if n < 214748364 else np.empty(n, np.int64)
    cdef int64_t* r = <int64_t*>cnp.PyArray_DATA(res)
    cdef Py_ssize_t i, z
    cdef int64_t sav
    with nogil:
        if n < 214748364:
            for i in range(n - 1):
                z = <Py_ssize_t>(_next32(g) % <uint64_t>(n - i))
                sav = r[i]
                r[i] = r[z + i]
                r[z + i] = sav
        else:
            for i in range(n):
                z = <Py_ssize_t>(_next64(g) % <uint64_t>(i + 1))
                r[i] = r[z]
                r[z] = i
    return res


def fill_bernoulli(cnp.ndarray out, p, generator=None):
    """Tensor.bernoulli_(p): u < p with a 53-bit u for a float p or a float64
    tensor p, a 24-bit float u for a float32 tensor p (PyTorch's non-MKL
    kernels; on Intel CPUs PyTorch runs a float p through MKL instead)."""
    cdef Generator g = _gen(generator)
    cdef Py_ssize_t i, n = out.size
    cdef cnp.ndarray buf = np.empty(n, np.uint8)
    cdef unsigned char* b = <unsigned char*>cnp.PyArray_DATA(buf)
    cdef double dp
    cdef double* pd
    cdef float* pf
    cdef cnp.ndarray pa
    if not isinstance(p, np.ndarray):
        dp = float(p)
        if not 0.0 <= dp <= 1.0:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
        with nogil:
            for i in range(n):
                b[i] = _u53(g) < dp
        return _filled(out, buf.astype(out.dtype))
    pa = np.ascontiguousarray(np.broadcast_to(p, (<object>out).shape).transpose(
        _perm_of(out)), dtype=np.float64 if p.dtype == np.float64 else np.float32).reshape(-1)
    if pa.size and not (pa.min() >= 0 and pa.max() <= 1):
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    if pa.dtype == np.float64:
        pd = <double*>cnp.PyArray_DATA(pa)
        with nogil:
            for i in range(n):
                b[i] = _u53(g) < pd[i]
    else:
        pf = <float*>cnp.PyArray_DATA(pa)
        with nogil:
            for i in range(n):
                b[i] = _u24(g) < pf[i]
    return _filled(out, buf.astype(out.dtype))


cdef object _perm_of(cnp.ndarray a):
    if a.flags.c_contiguous or a.ndim < 2:
        return tuple(range(a.ndim))
    return tuple(sorted(range(a.ndim), key=lambda i: -abs(a.strides[i])))


cdef object _doubles(cnp.ndarray out, Generator g, int kind, double a, double b):
    """One double per element, in memory order: 0 exponential(a), 1 cauchy(a,
    b), 2 log_normal(a, b), 3 geometric(a)."""
    cdef Py_ssize_t i, n = out.size
    cdef cnp.ndarray buf = np.empty(n, np.float64)
    cdef double* d = <double*>cnp.PyArray_DATA(buf)
    cdef double c = -1.0 / a if kind == 0 else 0.0
    cdef double lp = log1p(-a) if kind == 3 else 0.0
    with nogil:
        if kind == 0:
            for i in range(n):
                d[i] = c * log1p(-_u53(g))
        elif kind == 1:
            for i in range(n):
                d[i] = fma(b, tan(3.14159265358979323846 * (_u53(g) - 0.5)), a)
        elif kind == 2:
            for i in range(n):
                d[i] = exp(_normal_scalar(g, a, b))
        else:
            for i in range(n):
                d[i] = ceil(log(_u53(g)) / lp)
    return _filled(out, buf.astype(out.dtype))


def fill_exponential(cnp.ndarray out, double lambd=1.0, generator=None):
    if out.dtype.kind != "f":
        raise RuntimeError("Exponential distribution is a continuous probability distribution. "
                           f"dtype must be a floating point but you specified {_torch_name(out.dtype)}")
    if not lambd > 0.0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    return _doubles(out, _gen(generator), 0, lambd, 0.0)


def fill_cauchy(cnp.ndarray out, double median=0.0, double sigma=1.0, generator=None):
    _float_out(out, "cauchy_cpu")
    if not sigma > 0.0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    return _doubles(out, _gen(generator), 1, median, sigma)


def fill_log_normal(cnp.ndarray out, double mean=1.0, double std=2.0, generator=None):
    _float_out(out, "log_normal_cpu")
    if not std > 0.0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    return _doubles(out, _gen(generator), 2, mean, std)


def fill_geometric(cnp.ndarray out, double p, generator=None):
    if not 0.0 < p < 1.0:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    return _doubles(out, _gen(generator), 3, p, 0.0)


cdef int64_t _poisson(Generator g, double lam) noexcept nogil:
    """ATen's sample_poisson: Hoermann's transformed rejection from 10 on,
    multiplied uniforms below."""
    cdef int64_t k
    cdef double U, V, a, b, invalpha, vr, us, slam, loglam, prod, enlam
    if lam >= 10:
        slam = sqrt(lam)
        loglam = log(lam)
        b = 0.931 + 2.53 * slam
        a = -0.059 + 0.02483 * b
        invalpha = 1.1239 + 1.1328 / (b - 3.4)
        vr = 0.9277 - 3.6224 / (b - 2)
        while True:
            U = _u53(g) - 0.5
            V = _u53(g)
            us = 0.5 - fabs(U)
            k = <int64_t>floor((2 * a / us + b) * U + lam + 0.43)
            if us >= 0.07 and V <= vr:
                return k
            if k < 0 or (us < 0.013 and V > us):
                continue
            if (log(V) + log(invalpha) - log(a / (us * us) + b)) <= (-lam + k * loglam - lgamma(<double>k + 1)):
                return k
    if lam == 0:
        return 0
    enlam = exp(-lam)
    k = 0
    prod = 1.0
    while True:
        prod *= _u53(g)
        if prod > enlam:
            k += 1
        else:
            return k


def poisson(cnp.ndarray rates, generator=None):
    """torch.poisson: one sample per rate, in C order, as the rates' dtype."""
    _float_out(rates, "poisson_cpu")
    cdef cnp.ndarray lam = np.ascontiguousarray(rates, dtype=np.float64).reshape(-1)
    if lam.size and not lam.min() >= 0:
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    cdef Generator g = _gen(generator)
    cdef Py_ssize_t i, n = lam.size
    cdef cnp.ndarray res = np.empty(n, np.float64)
    cdef double* l = <double*>cnp.PyArray_DATA(lam)
    cdef double* r = <double*>cnp.PyArray_DATA(res)
    with nogil:
        for i in range(n):
            r[i] = <double>_poisson(g, l[i])
    return res.astype(rates.dtype).reshape((<object>rates).shape)


def multinomial_with_replacement(cnp.ndarray probs, Py_ssize_t n_sample, generator=None):
    """ATen's CPU multinomial with replacement (probs 2-D, rows of categories):
    the cumulative sums in the probs' dtype, normalised, then a binary search
    per 53-bit uniform."""
    cdef Generator g = _gen(generator)
    cdef cnp.ndarray p = np.ascontiguousarray(probs)
    cdef Py_ssize_t rows = p.shape[0], cats = p.shape[1], i, j
    cdef cnp.ndarray res = np.empty((rows, n_sample), np.int64)
    cdef cnp.ndarray cum = np.empty(cats, p.dtype)
    cdef int64_t* r = <int64_t*>cnp.PyArray_DATA(res)
    for i in range(rows):
        row = p[i]
        if not (row >= 0).all():
            raise RuntimeError("invalid multinomial distribution (encountering probability entry < 0)")
        if not np.isfinite(row).all():
            raise RuntimeError("invalid multinomial distribution (encountering probability entry = infinity or NaN)")
        _cumulative(row, cum)
        if p.dtype == np.float32:
            _search(g, <float*>cnp.PyArray_DATA(cum), cats, r + i * n_sample, n_sample)
        else:
            _search(g, <double*>cnp.PyArray_DATA(cum), cats, r + i * n_sample, n_sample)
    return res


cdef void _cumulative(cnp.ndarray row, cnp.ndarray cum) except *:
    # a running sum in the dtype (numpy's cumsum is sequential, like the kernel)
    np.cumsum(row, out=cum)
    s = cum[cum.shape[0] - 1]
    if not s > 0:
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    np.divide(cum, s, out=cum)
    cum[cum.shape[0] - 1] = 1


cdef void _search(Generator g, floating* cum, Py_ssize_t cats, int64_t* out,
                  Py_ssize_t n) noexcept nogil:
    """n draws by binary search of u in the running sums cum (PyTorch's order)."""
    cdef Py_ssize_t j, lo, hi, mid
    cdef double u
    for j in range(n):
        u = _u53(g)
        lo, hi = 0, cats
        while hi - lo > 0:
            mid = lo + (hi - lo) // 2
            if cum[mid] < u:
                lo = mid + 1
            else:
                hi = mid
        out[j] = lo
