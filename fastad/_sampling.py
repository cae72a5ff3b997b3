"""The random functions beyond rand/randn/randint/randperm: normal's four
overloads, bernoulli, multinomial, poisson and randint_like, on
fastad._random's samplers (PyTorch's CPU streams), composed as PyTorch's CPU
code composes them so that the same seed gives the same bits."""
import numbers

import numpy as np

from fastad import _random
from fastad._tensor import (Tensor, array_of, as_tensor, empty, from_numpy, make_op, no_grad,
                            randint, zeros_like)

__all__ = ["normal", "bernoulli", "multinomial", "poisson", "randint_like"]


def _sample_of(input, array):
    """A new tensor over array, or a 0-d one for a 0-d input."""
    return from_numpy(np.ascontiguousarray(array)) if array.ndim else as_tensor(array[()],
                                                                                 dtype=input.dtype)


def normal(mean, std=1.0, size=None, *, generator=None, out=None, dtype=None, layout=None,
           device=None, pin_memory=False, requires_grad=False):
    """normal(mean, std, size) with floats draws normal_(mean, std) into a new
    tensor; with a tensor mean and/or std, standard draws z of the broadcast
    shape give z * std + mean (z drawn with std when std is a float), as
    PyTorch's CPU kernel.  As in PyTorch the draw is not reparameterised: the
    gradients to mean and std are zero (NormalBackward1/2/3)."""
    if out is not None:
        raise TypeError("normal(): out= is not supported by fastad")
    mt, st = isinstance(mean, Tensor), isinstance(std, Tensor)
    if not mt and not st:
        if size is None:
            raise TypeError("normal() received an invalid combination of arguments - got "
                            "(float, float), but expected (float mean, float std, tuple size)")
        t = empty(size, dtype=dtype)
        t.normal_(mean, std, generator=generator)
        return t.requires_grad_(requires_grad) if requires_grad else t
    if st:
        s = array_of(std)
        if s.dtype.kind != "f":
            raise RuntimeError("normal expects std to be a floating point tensor")
        if s.size and not (s >= 0).all():
            raise RuntimeError("normal expects all elements of std >= 0.0")
    elif not std >= 0.0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    with no_grad():
        if mt and not st:
            z = empty(tuple(mean.shape), dtype=mean.dtype)
            z.normal_(0.0, std, generator=generator)
            value = z + mean
        else:
            shape = (np.broadcast_shapes(tuple(mean.shape), tuple(std.shape)) if mt
                     else tuple(std.shape))
            z = empty(shape, dtype=mean.dtype if mt else std.dtype)
            z.normal_(0.0, 1.0, generator=generator)
            value = z * std + mean
    inputs = (mean if mt else None, std if st else None)
    shapes = [tuple(x.shape) if x is not None else None for x in inputs]
    dtypes = [array_of(x).dtype if x is not None else None for x in inputs]

    def backward(g):
        return tuple(None if sh is None else np.zeros(sh, dt) for sh, dt in zip(shapes, dtypes))
    name = "NormalBackward3" if mt and st else ("NormalBackward1" if mt else "NormalBackward2")
    return make_op(array_of(value), name, inputs, backward, derivative=lambda g, ins, r: tuple(
        None if x is None else zeros_like(x) for x in ins))


def bernoulli(input, p=None, *, generator=None, out=None):
    """1 with probability input (each element's own), or p for all when p is
    given; the result has input's dtype."""
    if out is not None:
        raise TypeError("bernoulli(): out= is not supported by fastad")
    input = as_tensor(input)
    a = array_of(input)
    probs = a if p is None else (array_of(p) if isinstance(p, Tensor) else p)
    return _sample_of(input, _random.fill_bernoulli(np.empty(a.shape, a.dtype), probs, generator))


def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    """Indices drawn from each row's weights. Without replacement (or one
    draw) the exponential trick: the top num_samples of weights / Exp(1)
    draws; with replacement a search in the cumulative weights."""
    if out is not None:
        raise TypeError("multinomial(): out= is not supported by fastad")
    a = array_of(as_tensor(input))
    if not 1 <= a.ndim <= 2:
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if a.dtype.kind != "f":
        raise RuntimeError("multinomial only supports floating-point dtypes for input, got: "
                           f"{as_tensor(input).dtype}")
    n = int(num_samples)
    if n <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    cats = a.shape[-1]
    if not replacement and n > cats:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    if cats > 1 << 24:
        raise RuntimeError("number of categories cannot exceed 2^24")
    rows = np.ascontiguousarray(a.reshape(-1, cats))
    if rows.size == 0:
        result = np.empty((rows.shape[0], n), np.int64)
    elif not replacement or n == 1:
        if not (rows.max() < np.inf and rows.min() >= 0):
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        if (rows.sum(-1) == 0).any():
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        q = rows / _random.fill_exponential(np.empty_like(rows), 1.0, generator)
        if n == 1:
            result = np.argmax(q, axis=-1)[:, None]
        else:
            result = np.argsort(-q, axis=-1, kind="stable")[:, :n]
    else:
        result = _random.multinomial_with_replacement(rows, n, generator)
    return from_numpy(np.ascontiguousarray(result.reshape(a.shape[:-1] + (n,)), np.int64))


def poisson(input, generator=None):
    a = array_of(as_tensor(input))
    return _sample_of(as_tensor(input), _random.poisson(a, generator))


def randint_like(input, low=0, high=None, *, generator=None, dtype=None, layout=None,
                 device=None, requires_grad=False, memory_format=None):
    if high is None:
        if not isinstance(low, numbers.Integral):
            raise TypeError("randint_like() missing required argument 'high'")
        low, high = 0, low
    input = as_tensor(input)
    return randint(low, high, tuple(input.shape), dtype=dtype or input.dtype, generator=generator,
                   requires_grad=requires_grad)
