"""Comparisons: bool tensors, outside the graph.  The functions are the
Tensor methods (``fastad.lt(a, b)`` is ``a.lt(b)``, ``a < b``)."""
import numpy as np

from fastad._functions._args import check_tensor, plain
from fastad._tensor import array_of


def eq(input, other):
    return check_tensor(input, "eq").eq(other)


def ne(input, other):
    return check_tensor(input, "ne").ne(other)


def lt(input, other):
    return check_tensor(input, "lt").lt(other)


def le(input, other):
    return check_tensor(input, "le").le(other)


def gt(input, other):
    return check_tensor(input, "gt").gt(other)


def ge(input, other):
    return check_tensor(input, "ge").ge(other)


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
