"""Arguments and results shared by the Python-level ops: dims, PyTorch's
keyword aliases, plain (non-differentiable) results, named result tuples."""
import functools

import numpy as np

from fastad._tensor import Tensor, _dtype_by_name, as_tensor
from fastad._tensor import _return_type as return_type  # noqa: F401


def check_tensor(input, fname, arg="input", pos=1):
    if not isinstance(input, Tensor):
        raise TypeError(f"{fname}(): argument '{arg}' (position {pos}) must be Tensor, not "
                        f"{type(input).__name__}")
    return input


def dim(d, ndim):
    """d as a dim of a tensor of ndim dims (0-d tensors take -1 and 0)."""
    n = max(ndim, 1)
    if not isinstance(d, (int, np.integer)) or isinstance(d, bool):
        raise TypeError(f"dim must be an int, not {type(d).__name__}")
    if not -n <= d < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {d})")
    return int(d) % n


def dims(ds, ndim):
    """A tuple of distinct dims from an int or a sequence of ints."""
    ds = (ds,) if isinstance(ds, (int, np.integer)) else tuple(ds)
    out = tuple(dim(d, ndim) for d in ds)
    for i, d in enumerate(out):
        if d in out[:i]:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    return out


def reduce_dims(ds, ndim):
    """The dims a reduction runs over: all for None or (), as PyTorch; none of a
    0-d tensor's (whose dim -1 or 0 is accepted)."""
    if ds is None or (isinstance(ds, (tuple, list)) and len(ds) == 0):
        return tuple(range(ndim))
    out = dims(ds, ndim)
    return out if ndim else ()


def dim_aliases(fn):
    """PyTorch's parser takes axis= for dim= and keepdims= for keepdim=."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if "axis" in kwargs:
            kwargs["dim"] = kwargs.pop("axis")
        if "keepdims" in kwargs:
            kwargs["keepdim"] = kwargs.pop("keepdims")
        return fn(*args, **kwargs)
    return wrapper


def plain(array):
    """A tensor over a new ndarray, outside the graph (narrow ints widen)."""
    a = np.asarray(array)
    return as_tensor(a if a.flags.c_contiguous else a.copy())


def keep(array, ds, keepdim):
    """A reduction's result array with the reduced dims kept (size 1) or not."""
    return array if keepdim else np.squeeze(array, ds) if ds else array


_SCALAR_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
                 "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def scalar_name(dtype):
    """A dtype as PyTorch's messages print it (Float, Long, Half, ...)."""
    return _SCALAR_NAMES.get(dtype.name, dtype.name)


def dtype_code(array):
    """The fastad dtype code of an ndarray's dtype (make_op's dt)."""
    return _dtype_by_name(array.dtype.name).code


@functools.lru_cache(maxsize=None)
def values_indices(name):
    """torch.return_types.<name>(values, indices): sort, topk, cummax, ..."""
    return return_type(name, ("values", "indices"))
