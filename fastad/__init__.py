"""fastad: reverse-mode automatic differentiation with a compiled tape and
PyTorch's interface (``import fastad as torch``)."""

import functools as _functools
import importlib as _importlib
import operator as _operator
import os as _os

# GNU OpenMP's idle threads spin after each parallel region by default, and on
# a small machine they then take the cores from numpy's BLAS threads: measured
# on 2 cores, a 784-128-10 training step took 9.9 ms instead of 0.43 ms.  Idle
# kernel threads sleep instead, unless the user chose otherwise.  (Read when
# the OpenMP runtime loads, i.e. at the import below.)
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from fastad._tensor import (  # noqa: E402,F401
    Size, Tensor, allclose, arange, argmax, argmin, as_tensor, bool_ as bool, cat, clamp, empty,
    empty_like, enable_grad, eye, float32, float64, from_numpy, full, full_like,
    get_default_dtype, int64, is_grad_enabled, linspace, logspace, log_softmax, manual_seed, max,
    maximum, mean, min, minimum, no_grad, ones, ones_like, permute, rand, rand_like, randint,
    randn, randn_like, randperm, reshape, set_default_dtype, set_grad_enabled, softmax, squeeze,
    stack, sum, tensor, transpose, unsqueeze, where, zeros, zeros_like, flatten,
    bfloat16, float16, int8, int16, int32, uint8, can_cast, promote_types, result_type,
    set_printoptions, BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, HalfTensor,
    IntTensor, LongTensor, ShortTensor,
)
from fastad._device import device, get_default_device, set_default_device  # noqa: E402,F401
from fastad._dtype_info import finfo, iinfo  # noqa: E402,F401
from fastad import _tensor
from fastad import opdefs as _opdefs
from fastad._random import Generator, default_generator  # noqa: E402,F401
from fastad._sampling import bernoulli, multinomial, normal, poisson, randint_like  # noqa: E402,F401
from fastad.random import get_rng_state, initial_seed, seed, set_rng_state  # noqa: E402,F401

float = float32
double = float64
long = int64
half = float16
int = int32
short = int16
dtype = _tensor.dtype
__version__ = "0.1.0"


def _method(name):
    def f(input, *args, **kwargs):
        return getattr(as_tensor(input), name)(*args, **kwargs)
    f.__name__ = name
    f.__doc__ = f"fastad.{name}(input, ...): same as Tensor.{name}."
    return f


# the elementwise ops of the op table: compiled, the same objects as nn.functional's
for _op in _opdefs.UNARY:
    if _op.function:
        globals()[_op.name] = getattr(_tensor, _op.name)
# the ops written in Python (fastad/_functions): the same functions as Tensor's methods
for _op in _opdefs.PY_OPS:
    if _op.function:
        globals()[_op.name] = getattr(_importlib.import_module(_op.path), _op.name)
del _op

square = _method("square")
# PyTorch's constants (torch.inf, torch.pi, ...) and numpy's spelling of None as an index
from math import e, inf, nan, pi  # noqa: E402,F401
newaxis = None
clip = clamp


def pow(input, exponent):
    if isinstance(input, Tensor):
        return input ** exponent
    return exponent.__rpow__(input)


def t(input):
    return input.t()


def numel(input):
    return input.numel()


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_floating_point(input):
    return input.is_floating_point()


def detach(input):
    return input.detach()


def clone(input):
    return input.clone()


def equal(input, other):
    return input.equal(other)


# ---- threads: OMP_NUM_THREADS is honoured at import; no pool starts until a
# kernel over a large array runs
from fastad._kernels import get_num_threads  # noqa: E402,F401
from fastad import _kernels  # noqa: E402


@_functools.lru_cache(maxsize=None)
def _numpy_openblas():
    """The OpenBLAS libraries numpy's wheel bundles (numpy's matmul runs there)."""
    import ctypes
    import glob
    import numpy
    libs = _os.path.join(_os.path.dirname(_os.path.dirname(numpy.__file__)), "numpy.libs")
    return tuple(ctypes.CDLL(path) for path in glob.glob(_os.path.join(libs, "*openblas*")))


def _numpy_blas_symbol(*names):
    """The first of names exported by numpy's bundled OpenBLAS, as a ctypes
    function, or None."""
    for lib in _numpy_openblas():
        for name in names:
            if hasattr(lib, name):
                return getattr(lib, name)
    return None


@_functools.lru_cache(maxsize=None)
def _blas_thread_setter():
    return _numpy_blas_symbol("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
                              "openblas_set_num_threads")


def _use_numpy_gemm():
    # only the ILP64 (64-bit integer) interface: its symbols say so in their names
    import ctypes
    s = _numpy_blas_symbol("scipy_cblas_sgemm64_", "cblas_sgemm64_")
    d = _numpy_blas_symbol("scipy_cblas_dgemm64_", "cblas_dgemm64_")
    get = _numpy_blas_symbol("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                             "openblas_get_num_threads")
    set_ = _blas_thread_setter()
    if s is not None and d is not None:
        address = lambda f: ctypes.cast(f, ctypes.c_void_p).value if f is not None else 0
        _kernels._use_blas(address(s), address(d), address(set_), address(get))


_use_numpy_gemm()


def set_num_threads(n):
    """Threads for the kernels and for numpy's BLAS (matmul), as in PyTorch."""
    n = _operator.index(n)
    if n < 1:
        raise RuntimeError("set_num_threads expects a positive integer")
    _kernels.set_num_threads(n)
    setter = _blas_thread_setter()
    if setter is not None:
        setter(_kernels.get_num_threads())


from fastad import (  # noqa: E402,F401
    amp, autograd, backends, cuda, distributed, distributions, linalg, nn, optim, profiler,
    random, testing, utils,
)
from fastad.amp import autocast  # noqa: E402,F401
from fastad.autograd.anomaly_mode import (  # noqa: E402,F401
    is_anomaly_check_nan_enabled, is_anomaly_enabled, set_anomaly_enabled,
)
from fastad.autograd.grad_mode import inference_mode, is_inference_mode_enabled  # noqa: E402,F401
from fastad._determinism import (  # noqa: E402,F401
    are_deterministic_algorithms_enabled, get_float32_matmul_precision,
    is_deterministic_algorithms_warn_only_enabled, set_float32_matmul_precision,
    use_deterministic_algorithms,
)
from fastad._random import Generator as _Generator  # noqa: E402

# the classes report their public path, as PyTorch's do (<class 'torch.Tensor'>)
_tensor._publish(Tensor, "fastad.Tensor")
_tensor._publish(dtype, "fastad.dtype")
_tensor._publish(_Generator, "fastad.Generator")
Size.__module__ = "fastad"
from fastad.serialization import load, save  # noqa: E402,F401
from fastad._compile import compile  # noqa: E402,F401
