"""F.pad: constant padding is a primitive whose derivative is the opposite
padding (a crop, and a crop's is a pad), so it differentiates to any order;
reflect, replicate and circular padding are index gathers along each padded dim."""
import numpy as np

from fastad._tensor import array_of, as_tensor, make_op

_INDEX_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _pad_constant(x, pairs, value):
    """x with pairs[d] = (before, after) elements of value added along dim d
    (a negative count removes elements instead)."""
    a = array_of(x)
    a = a[tuple(slice(max(-lo, 0), n - max(-hi, 0)) for n, (lo, hi) in zip(a.shape, pairs))]
    shape = tuple(n + max(lo, 0) + max(hi, 0) for n, (lo, hi) in zip(a.shape, pairs))
    if min(shape, default=1) < 0 or min(a.shape, default=1) < 0:
        raise RuntimeError(f"The input size {a.shape}, plus negative padding {pairs} resulted in "
                           "a negative output size, which is invalid.")
    out = np.full(shape, value, a.dtype)
    out[tuple(slice(max(lo, 0), max(lo, 0) + n) for n, (lo, _) in zip(a.shape, pairs))] = a
    back = [(-lo, -hi) for lo, hi in pairs]
    return make_op(out, "ConstantPadNdBackward0", (x,),
                   derivative=lambda grad, inputs, result: (_pad_constant(grad, back, 0),))


def _pairs(ndim, pad):
    """PyTorch's pad tuple (last dim first) as one (before, after) per dim."""
    pairs = [(0, 0)] * ndim
    for i in range(len(pad) // 2):
        pairs[ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    return pairs


def pad(input, pad, mode="constant", value=None):
    """Pad the last len(pad) // 2 dims of input: pad = (left, right, top, bottom, ...)."""
    x = as_tensor(input)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > x.dim():
        raise RuntimeError(f"Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pad)} and input of dimension "
                           f"{x.dim()}")
    pairs = _pairs(x.dim(), pad)
    if mode == "constant":
        return _pad_constant(x, pairs, 0.0 if value is None else value)
    if mode not in _INDEX_MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if len(pad) not in (2, 4, 6) or x.dim() - len(pad) // 2 not in (1, 2):
        raise NotImplementedError("Only 2D, 3D, 4D, 5D padding with non-constant padding are "
                                  "supported for now")
    for d, (lo, hi) in enumerate(pairs):
        if lo == hi == 0:
            continue
        n = x.shape[d]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding "
                               f"input dimension, but got: padding ({lo}, {hi}) at dimension {d} "
                               f"of input {list(x.shape)}")
        if mode == "circular" and (lo > n or hi > n):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        idx = np.pad(np.arange(n), (max(lo, 0), max(hi, 0)), mode=_INDEX_MODES[mode])
        idx = idx[max(-lo, 0):len(idx) - max(-hi, 0)]
        x = x[(slice(None),) * d + (idx,)]
    return x
