"""Activations beyond the op table's elementwise rows, composed of fastad ops
(so they differentiate again): glu, softmin, the shrinks, threshold,
gumbel_softmax, and the in-place spellings (relu_, elu_, ...), which are the
table's functions with inplace=True."""
import numpy as np

from fastad._tensor import array_of, as_tensor, empty_like, tanh, where
from fastad.nn import functional as F


def glu(input, dim=-1):
    """a * sigmoid(b), a and b the halves of input along dim."""
    x = as_tensor(input)
    if x.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = dim % x.dim()
    n = x.shape[d]
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {n}")
    lead = (slice(None),) * d
    return x[lead + (slice(0, n // 2),)] * x[lead + (slice(n // 2, n),)].sigmoid()


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-input) over dim."""
    return F.softmax(-as_tensor(input), dim, _stacklevel + 1, dtype)


def _mask(x, fn):
    """fn of x's values as a constant 0/1 tensor of x's dtype."""
    a = array_of(x)
    return as_tensor(fn(a).astype(a.dtype))


def hardshrink(input, lambd=0.5):
    """x where abs(x) > lambd, else 0."""
    x = as_tensor(input)
    return x * _mask(x, lambda a: np.abs(a) > lambd)


def softshrink(input, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, else 0."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    x = as_tensor(input)
    return x - x.clamp(-lambd, lambd)


def tanhshrink(input):
    x = as_tensor(input)
    return x - tanh(x)


def _threshold(input, limit, value, inplace):
    """x where x > limit, else value."""
    x = as_tensor(input)
    keep = _mask(x, lambda a: a > limit)
    if inplace:
        return x.mul_(keep).add_(as_tensor((1 - array_of(keep)) * array_of(keep).dtype.type(value)))
    return where(keep > 0, x, as_tensor(np.asarray(value, array_of(x).dtype)))


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else value."""
    return _threshold(input, threshold, value, inplace)


def threshold_(input, threshold, value):
    return _threshold(input, threshold, value, True)


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """softmax((logits + g) / tau), g Gumbel noise drawn as PyTorch draws it
    (-log of exponential_()); hard: the one-hot of the argmax, with the soft
    sample's gradient (straight-through)."""
    x = as_tensor(logits)
    gumbels = -empty_like(x).exponential_().log()
    y = F.softmax((x + gumbels) / tau, dim)
    if not hard:
        return y
    a = array_of(y)
    index = a.argmax(dim)
    one_hot = np.zeros_like(a)
    np.put_along_axis(one_hot, np.expand_dims(index, dim), 1, dim)
    return as_tensor(one_hot) - y.detach() + y


def _inplace(fn):
    def inplace(input, *args, **kwargs):
        return fn(input, *args, **kwargs, inplace=True)
    inplace.__name__ = fn.__name__ + "_"
    inplace.__doc__ = f"{fn.__name__}(input, ...) in place."
    return inplace


relu_ = _inplace(F.relu)
elu_ = _inplace(F.elu)
leaky_relu_ = _inplace(F.leaky_relu)
hardtanh_ = _inplace(F.hardtanh)
selu_ = _inplace(F.selu)
celu_ = _inplace(F.celu)
rrelu_ = _inplace(F.rrelu)
