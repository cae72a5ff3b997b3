"""Dropout and its variants, as PyTorch's CPU path computes them: a noise tensor
filled by bernoulli_(1 - p) from fastad's generator (the same stream as
PyTorch's, so manual_seed gives the same masks), scaled, and multiplied in."""
import math
import warnings

import numpy as np

from fastad._tensor import array_of, as_tensor, empty

# SELU's alpha * scale: the value alpha_dropout sets dropped elements to
_SELU_NEG = 1.7580993408473766


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _dropout(input, p, training, inplace, feature, alpha):
    """PyTorch's _dropout_impl: returns input itself when nothing is dropped."""
    x = as_tensor(input)
    if p == 0 or not training or x.numel() == 0:
        return x
    if p == 1:
        zero = np.zeros((), array_of(x).dtype)
        return x.mul_(zero) if inplace else x * zero
    shape = tuple(x.shape[:2]) + (1,) * (x.dim() - 2) if feature else tuple(x.shape)
    noise = empty(shape, dtype=x.dtype).bernoulli_(1 - p)
    a = array_of(noise)
    if alpha:
        scale = 1.0 / math.sqrt((_SELU_NEG ** 2 * p + 1) * (1 - p))
        shift = as_tensor((a - 1) * a.dtype.type(_SELU_NEG * scale) + a.dtype.type(
            _SELU_NEG * scale * p))
        a *= a.dtype.type(scale)
        return x.mul_(noise).add_(shift) if inplace else x * noise + shift
    a /= a.dtype.type(1 - p)
    return x.mul_(noise) if inplace else x * noise


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p while training, scaling the rest by 1 / (1 - p)."""
    _check_p(p)
    return _dropout(input, p, training, inplace, False, False)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout that keeps SELU's zero mean and unit variance."""
    _check_p(p)
    return _dropout(input, p, training, inplace, False, True)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    _check_p(p)
    return _dropout(input, p, training, inplace, True, True)


def _channel_dropout(input, p, training, inplace, batched):
    """Feature dropout on a batched input, or on an unbatched one given a batch of one."""
    x = as_tensor(input)
    if batched:
        return _dropout(x, p, training, inplace, True, False)
    out = _dropout(x.unsqueeze(0), p, training, False, True, False).squeeze(0)
    return x.copy_(out) if inplace and out is not x else out


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, L) or (C, L) input."""
    _check_p(p)
    nd = as_tensor(input).dim()
    if nd not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {nd}D input. Note that dropout1d "
            "exists to provide channel-wise dropout on inputs with 1 spatial dimension, a channel "
            "dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    return _channel_dropout(input, p, training, inplace, nd == 3)


def _warn_feature_dims(fname, nd, spatial):
    """PyTorch's deprecation warning for feature dropout over other than
    spatial + 1 or spatial + 2 dims (stacklevel: the caller of fname)."""
    if nd not in (spatial + 1, spatial + 2):
        warnings.warn(
            f"{fname}: Received a {nd}-D input to {fname}, which is deprecated and will result "
            "in an error in a future release. To retain the behavior and silence this warning, "
            f"please use dropout instead. Note that {fname} exists to provide channel-wise "
            f"dropout on inputs with {spatial} spatial dimensions, a channel dimension, and an "
            f"optional batch dimension (i.e. {spatial + 1}D or {spatial + 2}D inputs).",
            stacklevel=3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, H, W) input (a 3-D input is taken as (N, C, L), as PyTorch does)."""
    _check_p(p)
    nd = as_tensor(input).dim()
    _warn_feature_dims("dropout2d", nd, 2)
    if nd == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
            "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel "
            "dim. This behavior will change in a future release to interpret the input as one "
            "without a batch dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise "
            "dropout behavior, please switch to using dropout1d instead.", stacklevel=2)
    return _dropout(input, p, training, inplace, True, False)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input."""
    _check_p(p)
    nd = as_tensor(input).dim()
    _warn_feature_dims("dropout3d", nd, 3)
    return _channel_dropout(input, p, training, inplace, nd != 4)
