"""Comparisons: bool tensors, outside the graph.  The functions are the
Tensor methods (``fastad.lt(a, b)`` is ``a.lt(b)``, ``a < b``)."""
import numpy as np

from fastad._functions._args import check_tensor, plain
from fastad._tensor import array_of


def _comparison(name):
    def compare(input, other):
        return getattr(check_tensor(input, name), name)(other)
    compare.__name__ = compare.__qualname__ = name
    compare.__doc__ = f"fastad.{name}(input, other): input.{name}(other), a bool tensor."
    return compare


eq, ne, lt, le, gt, ge = (_comparison(n) for n in ("eq", "ne", "lt", "le", "gt", "ge"))
not_equal, less, less_equal, greater, greater_equal = ne, lt, le, gt, ge


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    check_tensor(input, "isclose")
    check_tensor(other, "isclose", "other", 2)
    if input.dtype != other.dtype:
        raise RuntimeError(f"{input.dtype.name.capitalize()} did not match "
                           f"{other.dtype.name.capitalize()}")
    try:
        return plain(np.isclose(array_of(input), array_of(other), rtol, atol, equal_nan))
    except ValueError:
        raise RuntimeError(f"The size of tensor a ({list(input.shape)}) must match the size of "
                           f"tensor b ({list(other.shape)})") from None


def isnan(input):
    return plain(np.isnan(array_of(check_tensor(input, "isnan"))))


def isinf(input):
    return plain(np.isinf(array_of(check_tensor(input, "isinf"))))


def isfinite(input):
    return plain(np.isfinite(array_of(check_tensor(input, "isfinite"))))


def isposinf(input):
    return plain(np.isposinf(array_of(check_tensor(input, "isposinf"))))


def isneginf(input):
    return plain(np.isneginf(array_of(check_tensor(input, "isneginf"))))
