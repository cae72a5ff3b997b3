"""Gradient clipping as torch.nn.utils: the total norm of the grads (each
grad's norm, then the norm of those), and the grads scaled or clamped in place."""
import types
import warnings

import numpy as np

from fastad._tensor import Tensor, _dtype_by_name, array_of, no_grad, tensor

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_",
           "get_total_norm"]


def _tensors(ts):
    return [ts] if isinstance(ts, Tensor) else list(ts)


def _vector_norm(a, ord):
    a = np.abs(a.reshape(-1))
    if ord == np.inf:
        return a.max() if a.size else a.dtype.type(0)
    if ord == -np.inf:
        return a.min() if a.size else a.dtype.type(np.inf)
    if ord == 0:
        return a.dtype.type(np.count_nonzero(a))
    if ord == 1:
        return a.sum()
    if ord == 2:
        return np.sqrt(np.dot(a, a))
    return (a ** ord).sum() ** (1 / ord)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    tensors = _tensors(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return tensor(0.0)
    arrays = [array_of(t) for t in tensors]
    dtype = np.result_type(*arrays)
    with np.errstate(invalid="ignore", over="ignore"):
        norms = np.array([_vector_norm(a, norm_type) for a in arrays], dtype=dtype)
        total = _vector_norm(norms, norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
            "so it cannot be clipped. To disable this error and scale the gradients by the "
            "non-finite norm anyway, set `error_if_nonfinite=False`")
    return tensor(total.item(), dtype=_dtype_by_name(dtype.name))


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    grads = [p.grad for p in _tensors(parameters) if p.grad is not None]
    max_norm = float(max_norm)
    if not grads:
        return
    total = array_of(total_norm)
    one = total.dtype.type(1)
    # in the norm's dtype, and as PyTorch evaluates max_norm / tensor: reciprocal, then product
    # a non-finite norm scales by nan or 0 (inf * 0 is nan), silently as in torch
    with np.errstate(invalid="ignore"), no_grad():
        coef = min(one / (total + total.dtype.type(1e-6)) * total.dtype.type(max_norm), one)
        for g in grads:
            g.mul_(float(coef))


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        is_generator = isinstance(parameters, types.GeneratorType)
        parameters = list(parameters)
        if is_generator and not parameters:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.",
                          stacklevel=2)
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    clip_value = float(clip_value)
    with no_grad():
        for p in _tensors(parameters):
            if p.grad is not None:
                p.grad.clamp_(min=-clip_value, max=clip_value)
