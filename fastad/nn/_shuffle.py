"""Rearrangements and resampling composed of fastad ops: pixel_shuffle and
pixel_unshuffle (a reshape, a permute, a reshape), interpolate (nearest,
nearest-exact, linear, bilinear, area) as matmuls with interpolation matrices
built as PyTorch computes its source indices, one per spatial dim ('area' is
adaptive average pooling, as in PyTorch)."""
import math
import warnings

import numpy as np

from fastad._tensor import array_of, as_tensor, matmul
from fastad.nn._pooling import adaptive_avg_pool1d, adaptive_avg_pool2d


def _shuffle(x, r, down, name):
    if x.dim() < 3:
        raise RuntimeError(f"{name} expects input to have at least 3 dimensions, but got input "
                           f"with {x.dim()} dimension(s)")
    *lead, c, h, w = x.shape
    if down:
        if h % r or w % r:
            raise RuntimeError(f"pixel_unshuffle expects height to be divisible by "
                               f"downscale_factor, but input.size(-2)={h} is not divisible by {r}"
                               if h % r else
                               f"pixel_unshuffle expects width to be divisible by "
                               f"downscale_factor, but input.size(-1)={w} is not divisible by {r}")
        y = x.reshape(-1, c, h // r, r, w // r, r).permute(0, 1, 3, 5, 2, 4)
        return y.reshape(*lead, c * r * r, h // r, w // r)
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={c} is "
                           f"not divisible by {r * r}")
    y = x.reshape(-1, c // (r * r), r, r, h, w).permute(0, 1, 4, 2, 5, 3)
    return y.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_shuffle(input, upscale_factor):
    """(*, C r^2, H, W) -> (*, C, H r, W r)."""
    return _shuffle(as_tensor(input), upscale_factor, False, "pixel_shuffle")


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H r, W r) -> (*, C r^2, H, W)."""
    return _shuffle(as_tensor(input), downscale_factor, True, "pixel_unshuffle")


def _matrix(size_in, size_out, mode, align_corners, scale, dtype):
    """(size_out, size_in): row o holds the weights output o takes from the input."""
    o = np.arange(size_out, dtype=np.float64)
    if scale is None:
        scale = size_in / size_out
    m = np.zeros((size_out, size_in), dtype)
    rows = np.arange(size_out)
    if mode in ("nearest", "nearest-exact"):
        src = np.floor((o + 0.5) * scale if mode == "nearest-exact" else o * scale)
        m[rows, np.minimum(src.astype(np.int64), size_in - 1)] = 1
        return m
    if align_corners:
        src = o * ((size_in - 1) / (size_out - 1)) if size_out > 1 else np.zeros_like(o)
    else:
        src = np.maximum((o + 0.5) * scale - 0.5, 0)
    i0 = np.minimum(np.floor(src).astype(np.int64), size_in - 1)
    i1 = np.minimum(i0 + 1, size_in - 1)
    lam = src - i0
    np.add.at(m, (rows, i0), 1 - lam)
    np.add.at(m, (rows, i1), lam)
    return m


_MODES = {"nearest": None, "nearest-exact": None, "area": None, "linear": 1, "bilinear": 2}


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resample the spatial dims (all after the first two) to size or by scale_factor."""
    x = as_tensor(input)
    spatial = x.dim() - 2
    if mode not in _MODES:
        raise NotImplementedError(f"fastad's interpolate has no mode {mode!r} (it has "
                                  f"{', '.join(_MODES)})")
    if _MODES[mode] is not None and _MODES[mode] != spatial:
        raise NotImplementedError(f"Got {x.dim()}D input, but {mode} mode needs "
                                  f"{_MODES[mode] + 2}D input")
    if mode in ("nearest", "nearest-exact", "area") and align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if antialias:
        raise NotImplementedError("fastad's interpolate has no antialias")
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined" if size is not None
                         else "either size or scale_factor should be defined")
    in_sizes = list(x.shape[2:])
    if size is not None:
        out_sizes = [size] * spatial if isinstance(size, int) else list(size)
        scales = [None] * spatial
    else:
        factors = [scale_factor] * spatial if isinstance(scale_factor, (int, float)) else list(
            scale_factor)
        out_sizes = [int(math.floor(n * f)) for n, f in zip(in_sizes, factors)]
        # PyTorch maps outputs back with 1 / scale_factor unless told to recompute it
        scales = [None if recompute_scale_factor else 1.0 / f for f in factors]
    if len(out_sizes) != spatial:
        raise ValueError(f"Input and output must have the same number of spatial dimensions, but "
                         f"got input with spatial dimensions of {in_sizes} and output size of "
                         f"{out_sizes}. Please provide input tensor in (N, C, d1, d2, ...,dK) "
                         f"format and output size in (o1, o2, ...,oK) format.")
    if mode == "area":
        return (adaptive_avg_pool1d if spatial == 1 else adaptive_avg_pool2d)(x, out_sizes)
    dtype = array_of(x).dtype
    y = x
    for k, (n_in, n_out, s) in enumerate(zip(in_sizes, out_sizes, scales)):
        m = as_tensor(_matrix(n_in, n_out, mode, align_corners, s, dtype))
        dim = 2 + k
        if dim == x.dim() - 1:
            y = matmul(y, m.t())
        else:                      # resample dim: bring it last, resample, put it back
            y = matmul(y.transpose(dim, -1), m.t()).transpose(dim, -1)
    return y


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def channel_shuffle(input, groups):
    """(N, C, \\*) with its channels regrouped: (g, C / g) -> (C / g, g)."""
    x = as_tensor(input)
    if x.dim() < 3:
        raise RuntimeError(f"channel_shuffle expects input to have at least 3 dimensions, but got "
                           f"input with sizes {list(x.shape)}")
    n, c, *rest = x.shape
    if groups <= 0 or c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels and "
                           f"{groups} groups.")
    return x.reshape(n, groups, c // groups, *rest).transpose(1, 2).reshape(n, c, *rest)


native_channel_shuffle = channel_shuffle
