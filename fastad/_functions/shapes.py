"""Reordering, joining and splitting tensors."""
import numpy as np

from fastad._tensor import Tensor, array_of, make_op


def _dims(dims, ndim):
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    out = []
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[{-max(ndim, 1)}, {max(ndim, 1) - 1}], but got {d})")
        d = d % max(ndim, 1)
        if d in out:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        out.append(d)
    return tuple(out)


def flip(input, dims):
    """input with the order of its elements reversed along dims."""
    if not isinstance(input, Tensor):
        raise TypeError(f"flip(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    a = array_of(input)
    axes = _dims(dims, a.ndim) if a.ndim else ()
    return make_op(np.flip(a, axes).copy() if axes else a.copy(), "FlipBackward0", (input,),
                   derivative=lambda grad, inputs, result: (flip(grad, axes),))
