"""Counting values: unique, histograms, bincount.  Outside the graph: their
results are counts (PyTorch does not differentiate them)."""
import numpy as np

from fastad._functions._args import check_tensor, dim as _dim, plain, return_type
from fastad._tensor import Tensor, array_of

_histogram = return_type("histogram", ("hist", "bin_edges"))


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    a = array_of(check_tensor(input, "unique"))
    axis = None if dim is None else _dim(dim, a.ndim)
    # PyTorch's CPU unique sorts whatever sorted= says (2.13), each NaN its own value
    values, inverse, counts = np.unique(a, return_inverse=True, return_counts=True, axis=axis,
                                        equal_nan=False)
    if axis is None:
        inverse = inverse.reshape(a.shape)
    out = (plain(values.astype(a.dtype)),)
    if return_inverse:
        out += (plain(inverse.reshape(-1) if axis is not None else inverse),)
    if return_counts:
        out += (plain(counts),)
    return out[0] if len(out) == 1 else out


def _bin_positions(a, edges):
    """The bin of each value of a between the edges (the last edge closes the
    last bin), -1 outside; NaN falls outside."""
    pos = np.searchsorted(edges, a, side="right") - 1
    pos[a == edges[-1]] = len(edges) - 2
    return np.where((a >= edges[0]) & (a <= edges[-1]), pos, -1)


def _counts(a, edges, weight=None):
    pos = _bin_positions(a.reshape(-1), edges)
    inside = pos >= 0
    w = None if weight is None else weight.reshape(-1)[inside]
    return np.bincount(pos[inside], weights=w, minlength=len(edges) - 1).astype(a.dtype)


def _range(a, lo, hi, widen):
    if lo == hi and a.size:
        lo, hi = a.min().item(), a.max().item()
    if lo == hi:
        lo, hi = lo - widen, hi + widen
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(f"range of [{lo}, {hi}] is not finite")
    if lo > hi:
        raise RuntimeError("max must be larger than min")
    return lo, hi


def histc(input, bins=100, min=0, max=0):
    a = array_of(check_tensor(input, "histc"))
    if a.dtype.kind != "f":
        raise NotImplementedError(f"\"histogram_cpu\" not implemented for "
                                  f"'{input.dtype.name.capitalize()}'")
    if bins <= 0:
        raise RuntimeError(f"torch.histc(): bins must be > 0, but got {bins} for dimension 0")
    lo, hi = _range(a, float(min), float(max), 1.0)
    return plain(_counts(a, np.linspace(lo, hi, bins + 1).astype(a.dtype)))


def histogram(input, bins, *, range=None, weight=None, density=False):
    a = array_of(check_tensor(input, "histogram"))
    if isinstance(bins, Tensor):
        edges = array_of(bins).astype(a.dtype)
    else:
        lo, hi = range if range is not None else (0.0, 0.0)
        lo, hi = _range(a, float(lo), float(hi), 0.5)
        edges = np.linspace(lo, hi, int(bins) + 1).astype(a.dtype)
    hist = _counts(a, edges, None if weight is None else array_of(weight))
    if density:
        hist = (hist / hist.sum() / np.diff(edges)).astype(a.dtype)
    return _histogram(plain(hist), plain(edges))


def bincount(input, weights=None, minlength=0):
    a = array_of(check_tensor(input, "bincount"))
    if a.ndim != 1 or a.dtype.kind not in "iu" or (a.size and a.min() < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if weights is None:
        return plain(np.bincount(a, minlength=minlength).astype(np.int64))
    w = array_of(weights)
    return plain(np.bincount(a, w, minlength).astype(w.dtype if w.dtype.kind == "f"
                                                     else np.float64))
