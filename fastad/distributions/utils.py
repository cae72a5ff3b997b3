"""Helpers of the distributions, as torch.distributions.utils."""
import numbers

import fastad
from fastad.nn import functional as F

__all__ = ["broadcast_all", "logits_to_probs", "clamp_probs", "probs_to_logits",
           "lazy_property"]


def broadcast_all(*values):
    """The values as tensors of one shape; numbers take the dtype of the
    first tensor among them (the default dtype if there is none)."""
    if not all(isinstance(v, (fastad.Tensor, numbers.Number)) for v in values):
        raise ValueError("Input arguments must all be instances of Number, "
                         "torch.Tensor or objects implementing __torch_function__.")
    dtype = next((v.dtype for v in values if isinstance(v, fastad.Tensor)),
                 fastad.get_default_dtype())
    return fastad.broadcast_tensors(*(v if isinstance(v, fastad.Tensor)
                                      else fastad.tensor(v, dtype=dtype) for v in values))


def _standard_normal(shape, dtype):
    """Standard normal draws as PyTorch's _standard_normal takes them
    (empty(shape).normal_()), so that rsample's draws equal PyTorch's."""
    return fastad.empty(shape, dtype=dtype).normal_()


def _sum_rightmost(value, dim):
    """value summed over its dim rightmost dimensions."""
    if dim == 0:
        return value
    return value.reshape(tuple(value.shape[:-dim]) + (-1,)).sum(-1)


def logits_to_probs(logits, is_binary=False):
    if is_binary:
        return fastad.sigmoid(logits)
    return F.softmax(logits, dim=-1)


def clamp_probs(probs):
    eps = fastad.finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs, is_binary=False):
    ps_clamped = clamp_probs(probs)
    if is_binary:
        return fastad.log(ps_clamped) - fastad.log1p(-ps_clamped)
    return fastad.log(ps_clamped)


class lazy_property:
    """A property computed (with grad recording on) on first access and then
    stored on the instance; probs and logits are each other's lazy_property."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__
        self.__name__ = wrapped.__name__

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return self
        with fastad.enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value
