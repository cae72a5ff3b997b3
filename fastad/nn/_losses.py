"""Losses composed of fastad's differentiable ops (so they differentiate again),
each as PyTorch's reference formula: the embedding and ranking losses, the
margin losses, soft margins, triplets, Poisson and Gaussian negative
log-likelihoods."""
import math

import numpy as np

from fastad._tensor import array_of, as_tensor, minimum, where
from fastad.nn import functional as F
from fastad.nn.functional import _reduction
from fastad.nn._normalization import _clamped_below


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _const(x, values):
    """A constant tensor of x's dtype."""
    return as_tensor(np.asarray(values, array_of(x).dtype))


def _where_target(target, value, x, other=0.0):
    """x where target == value, else other (a constant)."""
    t = array_of(as_tensor(target))
    return where(as_tensor(t == value), x, _const(x, other))


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                          reduction="mean"):
    """1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where -1."""
    reduction = _reduction(size_average, reduce, reduction)
    a, b = as_tensor(input1), as_tensor(input2)
    dim = a.dim() - 1
    if a.dim() not in (1, 2):
        raise RuntimeError(f"1D target tensor expects 2D input tensors, but found inputs with "
                           f"sizes {list(a.shape)} and {list(b.shape)}.")
    eps = 1e-12
    cos = (a * b).sum(dim) / (((a * a).sum(dim) + eps) * ((b * b).sum(dim) + eps)).sqrt()
    loss = (_where_target(target, 1, 1 - cos)
            + _where_target(target, -1, (cos - margin).clamp(min=0)))
    return _reduce(loss, reduction)


def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                        reduction="mean"):
    """max(0, -target * (x1 - x2) + margin)."""
    reduction = _reduction(size_average, reduce, reduction)
    a, b, t = as_tensor(input1), as_tensor(input2), as_tensor(target)
    return _reduce((-t * (a - b) + margin).clamp(min=0), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    """x where target is 1, max(0, margin - x) where -1."""
    reduction = _reduction(size_average, reduce, reduction)
    x = as_tensor(input)
    t = array_of(as_tensor(target))
    loss = (where(as_tensor(t != 1), (margin - x).clamp(min=0), _const(x, 0.0))
            + where(as_tensor(t != -1), x, _const(x, 0.0)))
    return _reduce(loss, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-target * x))."""
    reduction = _reduction(size_average, reduce, reduction)
    return _reduce(F.softplus(-as_tensor(target) * as_tensor(input)), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    """The mean over classes of the binary cross-entropy of sigmoid(x)."""
    reduction = _reduction(size_average, reduce, reduction)
    x, t = as_tensor(input), as_tensor(target)
    loss = -(t * F.logsigmoid(x) + (1 - t) * F.logsigmoid(-x))
    if weight is not None:
        loss = loss * weight
    dim = x.dim() - 1
    return _reduce(loss.sum(dim) / x.shape[dim], reduction)


def _class_rows(input, target, fn):
    """input as (N, C) and target's int64 array as (N,) (1-D input: one row)."""
    x = as_tensor(input)
    t = array_of(as_tensor(target)).astype(np.int64)
    if x.dim() == 1:
        return x.unsqueeze(0), t.reshape(1, -1), True
    if x.dim() != 2:
        raise RuntimeError(f"{fn}: Expected non-empty vector or matrix with optional 0-dim batch "
                           f"size, but got: {list(x.shape)}")
    return x, t, False


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    """sum over j != y of max(0, margin - x[y] + x[j])^p, over the number of classes."""
    reduction = _reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    x, t, single = _class_rows(input, target, "multi_margin_loss")
    n, c = x.shape
    t = t.reshape(-1) if single else t
    if t.shape != (n,) or (t.size and (t.min() < 0 or t.max() >= c)):
        raise RuntimeError(f"inconsistent target size: {list(t.shape)} for input of size: "
                           f"{list(x.shape)}" if t.shape != (n,) else "target out of range")
    one_hot = np.eye(c, dtype=bool)[t]
    x_y = (x * _const(x, one_hot)).sum(1, keepdim=True)
    z = (margin - x_y + x).clamp(min=0) * _const(x, ~one_hot)
    if p == 2:
        z = z * z
    if weight is not None:
        z = z * _const(x, array_of(as_tensor(weight))[t][:, None])   # a constant, as in PyTorch
    loss = z.sum(1) / c
    return _reduce(loss.squeeze(0) if single else loss, reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """sum over target classes j (listed before the first -1) and non-target
    classes k of max(0, 1 - (x[j] - x[k])), over the number of classes."""
    reduction = _reduction(size_average, reduce, reduction)
    x, t, single = _class_rows(input, target, "multilabel_margin_loss")
    n, c = x.shape
    if t.shape != (n, c):
        raise RuntimeError(f"inconsistent target size: {list(t.shape)} for input of size: "
                           f"{list(x.shape)}")
    counts = np.zeros((n, c), np.int64)
    for i in range(n):
        for j in t[i]:
            if j < 0:
                break
            counts[i, j] += 1
    pairs = counts[:, :, None] * (counts == 0)[:, None, :]       # (target j, other k)
    hinge = (1 - x.unsqueeze(2) + x.unsqueeze(1)).clamp(min=0)
    loss = (hinge * _const(x, pairs)).sum((1, 2)) / c
    return _reduce(loss.squeeze(0) if single else loss, reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    """max(0, d(anchor, positive) - d(anchor, negative) + margin) (swap: the
    negative distance is the smaller of d(a, n) and d(p, n))."""
    reduction = _reduction(None, None, reduction)
    if margin <= 0:
        raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, "
                         f"got {margin} instead")
    d = distance_function if distance_function is not None else F.pairwise_distance
    a, p, n = as_tensor(anchor), as_tensor(positive), as_tensor(negative)
    d_pos, d_neg = d(a, p), d(a, n)
    if swap:
        d_neg = minimum(d_neg, d(p, n))
    return _reduce((margin + d_pos - d_neg).clamp(min=0), reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """triplet_margin_with_distance_loss with the p-norm pairwise distance."""
    reduction = _reduction(size_average, reduce, reduction)
    a = as_tensor(anchor)
    if a.dim() not in (1, 2):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the "
                           f"same number of dimensions, but got: anchor {a.dim()}D")

    def distance(x, y):
        return F.pairwise_distance(x, y, p, eps)
    return triplet_margin_with_distance_loss(anchor, positive, negative,
                                             distance_function=distance, margin=margin, swap=swap,
                                             reduction=reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    """exp(x) - t * x (log_input), else x - t * log(x + eps); full adds
    Stirling's term t log t - t + log(2 pi t) / 2 where t > 1."""
    reduction = _reduction(size_average, reduce, reduction)
    x, t = as_tensor(input), as_tensor(target)
    loss = x.exp() - t * x if log_input else x - t * (x + eps).log()
    if full:
        big = as_tensor(array_of(t) > 1)
        safe = where(big, t, _const(x, 1.0))          # no log of t <= 0 on the masked side
        stirling = safe * safe.log() - safe + 0.5 * (2 * math.pi * safe).log()
        loss = loss + where(big, stirling, _const(x, 0.0))
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """(log(max(var, eps)) + (x - t)^2 / max(var, eps)) / 2 (+ log(2 pi) / 2 when full);
    var clamped as PyTorch does, in place, so its gradient passes unclamped."""
    x, t, v = as_tensor(input), as_tensor(target), as_tensor(var)
    if tuple(v.shape) != tuple(x.shape):
        if tuple(x.shape[:-1]) == tuple(v.shape):
            v = v.unsqueeze(-1)
        elif not (tuple(x.shape[:-1]) == tuple(v.shape[:-1]) and v.shape[-1] == 1):
            raise ValueError("var is of incorrect size")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(reduction + " is not valid")
    if (array_of(v) < 0).any():
        raise ValueError("var has negative entry/entries")
    v = _clamped_below(v, eps)
    loss = 0.5 * (v.log() + (x - t) * (x - t) / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)

