"""fastad.nn.functional: activations, linear and losses over the compiled core.

Each function checks and normalises its arguments here, in Python, as
torch/nn/functional.py does (PyTorch's errors and warnings, broadcasting, dtype
promotion, class weights, the class dim moved last), then makes one call into
fastad._tensor, which runs the kernels and records one tape node with PyTorch's
grad_fn name.
"""
import warnings

import numpy as _np

from fastad import _kernels as _K
from fastad import _tensor as _T
from fastad import opdefs as _opdefs
from fastad._functions._args import scalar_name as _scalar_name
from fastad._tensor import Tensor  # noqa: F401  (as in torch.nn.functional)
from fastad._tensor import _rng
from fastad._tensor import apply_inplace as _apply_inplace
from fastad._tensor import array_of as _array_of
from fastad._tensor import as_tensor as _as_tensor
from fastad._tensor import make_op as _make_op
from fastad._tensor import matmul as _matmul

__all__ = [
    "gelu", "prelu", "rrelu", "softmax", "log_softmax", "mse_loss", "l1_loss", "smooth_l1_loss",
    "huber_loss", "cross_entropy", "nll_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "kl_div", "linear",
]

_REDUCTIONS = ("mean", "sum", "none")
_DTYPE_NAMES = {_T.float32: "Float", _T.float64: "Double"}

# ---------------------------------------------------------------- activations
# The elementwise ones are rows of the op table (fastad/opdefs.py), each one
# compiled function with PyTorch's signature, the same object as fastad.foo.
for _op in _opdefs.UNARY:
    if _op.F:
        globals()[_op.name] = getattr(_T, _op.name)
        __all__.append(_op.name)
del _op


def gelu(input, approximate="none"):
    """x * Phi(x), Phi the standard normal CDF (approximate="tanh": its tanh form)."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate argument must be either none or tanh, got {approximate!r}")
    return _T.gelu(input) if approximate == "none" else _T.gelu_tanh(input)


def _softmax_dim(name, input, dim, stacklevel):
    if dim is None:
        nd = _as_tensor(input).dim()
        dim = 0 if nd in (0, 1, 3) else 1
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                      "to include dim=X as an argument.", UserWarning, stacklevel=stacklevel)
    return dim


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x) / sum(exp(x)) over dim (max-subtracted, compiled row kernel)."""
    x = _as_tensor(input) if dtype is None else _as_tensor(input).to(dtype)
    return _T.softmax(x, _softmax_dim("softmax", x, dim, _stacklevel))


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    x = _as_tensor(input) if dtype is None else _as_tensor(input).to(dtype)
    return _T.log_softmax(x, _softmax_dim("log_softmax", x, dim, _stacklevel))


def _float_input(input, fn):
    x = _as_tensor(input)
    if not x.is_floating_point():
        raise RuntimeError(f"{fn}: expected a floating point input, got {x.dtype}")
    return x


def prelu(input, weight):
    """max(0, x) + weight * min(0, x), one learnable slope per channel (dim 1)."""
    x, w = _float_input(input, "prelu"), _float_input(weight, "prelu")
    if x.dtype is _T.float16:
        return _T._half_call(prelu, (x, w))
    channels = w.numel()
    shape = tuple(x.shape)
    if channels != 1:
        c_dim = 1 if len(shape) >= 2 else 0
        if len(shape) == 0 or shape[c_dim] != channels:
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                               f"parameter numbers = {channels} and channel size = "
                               f"{shape[c_dim] if shape else 1}.")
        inner = int(_np.prod(shape[c_dim + 1:], dtype=_np.int64))
    else:
        inner = 1
    xa = _np.ascontiguousarray(_array_of(x)).reshape(-1)
    wa = _np.ascontiguousarray(_array_of(w), dtype=xa.dtype).reshape(-1)
    y = _K.empty_like(xa)
    _K.prelu_forward(xa, wa, y, inner if channels != 1 else 1, channels)
    w_shape = tuple(w.shape)

    def backward(g):
        gx = _K.empty_like(xa)
        gw = _K.empty_like(wa)
        _K.prelu_backward(xa, wa, _np.ascontiguousarray(g, dtype=xa.dtype).reshape(-1), gx, gw,
                         inner if channels != 1 else 1, channels)
        return gx.reshape(shape), gw.reshape(w_shape)
    return _make_op(y.reshape(shape), "PreluKernelBackward0", (x, w), backward, (x, w),
                    derivative=_prelu_derivative)


def _prelu_derivative(grad, inputs, result):
    """PyTorch's prelu backward in tensor ops: x > 0 passes grad, else grad * w;
    w gets the sum of grad * x where x <= 0 over all but the channel dim."""
    x, w = inputs
    shape = tuple(x.shape)
    xa = _array_of(x)
    pos = _T.tensor(xa > 0, dtype=x.dtype)
    neg = _T.tensor(xa <= 0, dtype=x.dtype)
    c_dim = 1 if len(shape) >= 2 else 0
    wb = w.reshape(-1) if w.numel() == 1 else w.reshape((-1,) + (1,) * (len(shape) - c_dim - 1))
    gx = grad * pos + grad * neg * wb
    gw = grad * x * neg
    if w.numel() == 1:
        gw = gw.sum().reshape(tuple(w.shape))
    else:
        gw = gw.sum(tuple(d for d in range(len(shape)) if d != c_dim)).reshape(tuple(w.shape))
    return gx, gw


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Randomized leaky ReLU: slopes drawn from U(lower, upper) when training,
    their mean (lower + upper) / 2 otherwise."""
    x = _float_input(input, "rrelu")

    def apply(t):
        xa = _np.ascontiguousarray(_array_of(t)).reshape(-1)
        shape = tuple(t.shape)     # not t: a closure holding a tensor ties the graph in a cycle
        if training:
            slopes = _rng().uniform(lower, upper, xa.shape).astype(xa.dtype)
        else:
            slopes = _np.full(xa.shape, (lower + upper) / 2, dtype=xa.dtype)
        y = _K.empty_like(xa)
        _K.rrelu_forward(xa, slopes, y)

        def backward(g):
            gx = _K.empty_like(xa)
            _K.rrelu_backward(xa, slopes, _np.ascontiguousarray(g, dtype=xa.dtype).reshape(-1), gx)
            return (gx.reshape(shape),)
        slope = _np.where(xa > 0, 1, slopes).reshape(shape)
        return _make_op(y.reshape(shape),
                       "RreluWithNoiseBackward1" if inplace else "RreluWithNoiseBackward0",
                       (t,), backward, (t,),
                       derivative=lambda g, ins, r: (g * _T.tensor(slope, dtype=g.dtype),))
    if x.dtype is _T.float16:
        in_float32 = apply
        apply = lambda t: _T._half_call(in_float32, (t,))  # noqa: E731
    return _apply_inplace(x, apply) if inplace else apply(x)


def linear(input, weight, bias=None):
    """input @ weight.T + bias: one node over the input's rows (addmm for a 2-D
    input, a view of it for the others), as PyTorch computes it."""
    operands = _linear_operands(input, weight, bias)
    if operands is None:               # matmul's forms, promotions and errors
        out = _matmul(_as_tensor(input), _as_tensor(weight).t())
        return out if bias is None else out + bias
    return _T.linear(*operands)


def _linear_operands(input, weight, bias):
    """(input, weight, bias) as tensors for fastad._tensor.linear, with PyTorch's
    errors; None for what only matmul runs (integers, a weight that is not 2-D,
    a 0-d input, a bias that is not 1-D or not of input's dtype)."""
    x, w = _as_tensor(input), _as_tensor(weight)
    b = None if bias is None else _as_tensor(bias)
    if x.dtype is not w.dtype and x.is_floating_point() and w.is_floating_point():
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got "
                           f"{_DTYPE_NAMES[x.dtype]} and {_DTYPE_NAMES[w.dtype]}")
    if (w.dim() != 2 or x.dim() == 0 or not x.is_floating_point() or x.dtype is not w.dtype
            or (b is not None and (b.dim() != 1 or b.dtype is not x.dtype))):
        return None
    n, k = _array_of(w).shape          # (numpy's shapes: a Tensor's .shape builds a Size)
    x_shape = _array_of(x).shape
    if x_shape[-1] != k:
        rows = int(_np.prod(x_shape[:-1], dtype=_np.int64))
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{x_shape[-1]} "
                           f"and {k}x{n})")
    if b is not None and _array_of(b).shape[0] != n:
        raise RuntimeError(f"The size of tensor a ({n}) must match the size of tensor b "
                           f"({_array_of(b).shape[0]}) at non-singleton dimension 1")
    return x, w, b


# ---------------------------------------------------------------- losses
# Each loss normalises its arguments here (PyTorch's checks, broadcasting,
# dtypes, class weights and layout) and is then one compiled call recording one
# node: fastad._tensor.pointwise_loss and class_loss.
def _reduction(size_average, reduce, reduction):
    """PyTorch's reduction: the legacy size_average/reduce arguments, when given,
    decide it (with PyTorch's deprecation warning)."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "mean" if size_average and reduce else ("sum" if reduce else "none")
        warnings.warn(f"size_average and reduce args will be deprecated, please use "
                      f"reduction='{reduction}' instead.", stacklevel=3)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _pointwise_loss(kernel, grad_name, input, target, reduction, a=0.0, weight=None,
                    pos_weight=None):
    """An elementwise loss (fastad._kernels.LOSSES) with its reduction fused."""
    if type(grad_name) is dict:      # PyTorch builds some losses from other ops
        grad_name = grad_name[reduction]
    x, t = _as_tensor(input), _as_tensor(target)
    if t.dtype is not x.dtype or not x.is_floating_point():
        x, t = _promoted(x, t, kernel)
    shape = _array_of(x).shape
    if _array_of(t).shape != shape:
        x, t = _broadcast(x, t)
        shape = _array_of(x).shape
    if weight is not None or pos_weight is not None:
        weight, pos_weight = _broadcastable(weight, shape), _broadcastable(pos_weight, shape)
    return _T.pointwise_loss(kernel, grad_name, x, t, reduction, a, weight, pos_weight)


def _promoted(x, t, kernel):
    """A float input and its target in one dtype: a float target promotes, any
    other takes input's dtype."""
    if not x.is_floating_point():
        raise RuntimeError(f"{kernel}: expected a floating point input, got {x.dtype}")
    dt = _T.float64 if _T.float64 in (x.dtype, t.dtype) and t.is_floating_point() else x.dtype
    return x.to(dt), t.to(dt)


def _broadcast(x, t):
    """x and t broadcast to one shape, with PyTorch's warning."""
    xs, ts = _array_of(x).shape, _array_of(t).shape
    try:
        shape = _np.broadcast_shapes(xs, ts)
    except ValueError:
        raise RuntimeError(_T._broadcast_msg(xs, ts)) from None
    warnings.warn(f"Using a target size ({t.shape}) that is different to the input size "
                  f"({x.shape}). This will likely lead to incorrect results due to "
                  "broadcasting. Please ensure they have the same size.", UserWarning,
                  stacklevel=4)
    return x.expand(*shape), t.expand(*shape)


def _broadcastable(weight, shape):
    """weight as a tensor that broadcasts to shape (None stays None)."""
    if weight is None:
        return None
    w = _as_tensor(weight)
    ws = _array_of(w).shape
    try:
        ok = _np.broadcast_shapes(ws, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise RuntimeError(_T._broadcast_msg(ws, shape))
    return w


def _weighted_loss(kernel, grad_name, input, target, reduction, weight, a=0.0, by_weight=True):
    """PyTorch's weighted form of a pointwise loss: the elementwise losses times
    weight (of input's shape), summed, or averaged over the weights' sum
    (by_weight) or over the elements."""
    w = _as_tensor(weight)
    if tuple(w.shape) != tuple(_as_tensor(input).shape):
        raise ValueError("Weights and input must have the same size.")
    loss = _pointwise_loss(kernel, grad_name, input, target, "none", a) * w
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / w.sum() if by_weight else loss.mean()


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _reduction(size_average, reduce, reduction)
    if weight is not None:
        return _weighted_loss("mse", "MseLossBackward0", input, target, reduction, weight)
    return _pointwise_loss("mse", "MseLossBackward0", input, target, reduction)


_L1_NAMES = {"mean": "MeanBackward0", "sum": "SumBackward0", "none": "AbsBackward0"}


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _reduction(size_average, reduce, reduction)
    if weight is not None:
        return _weighted_loss("l1", _L1_NAMES, input, target, reduction, weight)
    return _pointwise_loss("l1", _L1_NAMES, input, target, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    reduction = _reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0:  # PyTorch computes l1_loss then
        return l1_loss(input, target, reduction=reduction)
    return _pointwise_loss("smooth_l1", "SmoothL1LossBackward0", input, target, reduction, beta)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    reduction = _reduction(None, None, reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    if weight is not None:
        return _weighted_loss("huber", "HuberLossBackward0", input, target, reduction, weight,
                              delta, by_weight=False)
    return _pointwise_loss("huber", "HuberLossBackward0", input, target, reduction, delta)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    x, t = _as_tensor(input), _as_tensor(target)
    if tuple(x.shape) != tuple(t.shape):
        raise ValueError(f"Using a target size ({t.shape}) that is different to the input size "
                         f"({x.shape}) is deprecated. Please ensure they have the same size.")
    if t.dtype is not x.dtype:
        raise RuntimeError(f"Found dtype {_scalar_name(t.dtype)} but expected "
                           f"{_scalar_name(x.dtype)}")
    for a, what in ((x, "input"), (t, "target")):
        values = _array_of(a)
        if values.size and (_np.nanmin(values) < 0 or _np.nanmax(values) > 1):
            raise RuntimeError(f"all elements of {what} should be between 0 and 1")
    return _pointwise_loss("binary_cross_entropy", "BinaryCrossEntropyBackward0", x, t,
                           reduction, weight=weight)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    reduction = _reduction(size_average, reduce, reduction)
    x, t = _as_tensor(input), _as_tensor(target)
    if tuple(x.shape) != tuple(t.shape):
        raise ValueError(f"Target size ({t.shape}) must be the same as input size ({x.shape})")
    return _pointwise_loss("binary_cross_entropy_with_logits",
                           "BinaryCrossEntropyWithLogitsBackward0", x, t, reduction,
                           weight=weight, pos_weight=pos_weight)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    if size_average is not None or reduce is not None:
        computed = _reduction(size_average, reduce, "mean")
    else:
        if reduction == "mean":
            warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                          "support size.'batchmean' divides only by the batch size, and aligns "
                          "with the KL div math definition.'mean' will be changed to behave the "
                          "same as 'batchmean' in the next major release.", stacklevel=2)
        computed = "sum" if reduction == "batchmean" else _reduction(None, None, reduction)
    loss = _pointwise_loss("kl_div", {"mean": "MeanBackward0", "sum": "SumBackward0",
                                      "none": "MulBackward0" if log_target else "SubBackward0"},
                           input, target, computed, float(log_target))
    if reduction == "batchmean" and _as_tensor(input).dim():
        return loss / _as_tensor(input).shape[0]
    return loss


def _class_rows(x, fn):
    """x's class scores as (M, C) rows (the class dim, 1, moved last; an unbatched
    (C,) input is one row) and the batch shape of its targets."""
    shape = _array_of(x).shape
    if len(shape) == 2:
        return x, shape[:1]
    if len(shape) == 0:
        raise RuntimeError(f"{fn}: input must have at least one dimension")
    if len(shape) == 1:
        return x.reshape(1, shape[0]), ()
    order = (0,) + tuple(range(2, len(shape))) + (1,)
    return x.permute(*order).reshape(-1, shape[1]), shape[:1] + shape[2:]


def _class_targets(t, batch_shape, fn):
    """Class-index targets (int64, batch_shape), with PyTorch's checks."""
    ta = _array_of(t)
    if t.dtype is not _T.int64:
        kind = {_T.float32: "Float", _T.float64: "Double", _T.bool_: "Bool"}[t.dtype]
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {kind} "
                           f"({fn}: class-index targets must be int64)")
    if ta.shape != batch_shape and not (batch_shape == () and ta.shape == (1,)):
        if len(batch_shape) == 1 and ta.ndim > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if ta.ndim and batch_shape and ta.shape[0] != batch_shape[0]:
            raise ValueError(f"Expected input batch_size ({batch_shape[0]}) to match target "
                             f"batch_size ({ta.shape[0]}).")
        raise RuntimeError(f"Expected target size {list(batch_shape)}, got {list(ta.shape)}")
    return ta


def _class_weight(weight, rows):
    if weight is None:
        return None
    n_classes = _array_of(rows).shape[1]
    w = _np.ascontiguousarray(_array_of(_as_tensor(weight)), dtype=_array_of(rows).dtype)
    if w.shape != (n_classes,):
        raise RuntimeError(f"weight tensor should be defined either for all {n_classes} classes "
                           f"or no classes but got weight tensor of shape: {list(w.shape)}")
    return w


def _nll_name(ndim, reduction, label_smoothing=0.0):
    """PyTorch's grad_fn name for a class-index loss over an ndim-D input."""
    if label_smoothing > 0:
        return "AddBackward0"
    if ndim <= 2:
        return "NllLossBackward0"
    return "ViewBackward0" if (ndim != 4 and reduction == "none") else "NllLoss2DBackward0"


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """log_softmax over dim 1 fused with the negative log likelihood (class
    indices) or with a cross entropy against class probabilities."""
    reduction = _reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    x, t = _float_input(input, "cross_entropy"), _as_tensor(target)
    probabilities = t.is_floating_point() and _array_of(t).shape == _array_of(x).shape
    if probabilities and t.dtype is not x.dtype:
        # PyTorch's -(target * log_softmax(input)).sum(): the wider of the two dtypes
        x = x.to(_T.promote_types(x.dtype, t.dtype))
    rows, batch_shape = _class_rows(x, "cross_entropy")
    if probabilities:
        probs, _ = _class_rows(t, "cross_entropy")
        target = _np.ascontiguousarray(_array_of(probs), dtype=_array_of(rows).dtype)
        name = "DivBackward1" if reduction == "mean" else "NegBackward0"
    else:
        target = _class_targets(t, batch_shape, "cross_entropy")
        name = _nll_name(len(batch_shape) + 1, reduction, label_smoothing)
    return _T.class_loss("cross_entropy", rows, target, _class_weight(weight, rows), reduction,
                         ignore_index, label_smoothing, name, batch_shape)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    x, t = _float_input(input, "nll_loss"), _as_tensor(target)
    rows, batch_shape = _class_rows(x, "nll_loss")
    return _T.class_loss("nll", rows, _class_targets(t, batch_shape, "nll_loss"),
                         _class_weight(weight, rows), reduction, ignore_index, 0.0,
                         _nll_name(len(batch_shape) + 1, reduction), batch_shape)


# ---------------------------------------------------------------- layers (one file per concern)
from fastad.nn._activation import (celu_, elu_, glu, gumbel_softmax, hardshrink,  # noqa: E402
                                   hardtanh_, leaky_relu_, relu_, rrelu_, selu_, softmin,
                                   softshrink, tanhshrink, threshold, threshold_)
from fastad.nn._attention import multi_head_attention_forward  # noqa: E402
from fastad.nn._attention import scaled_dot_product_attention  # noqa: E402
from fastad.nn._conv import (conv1d, conv2d, conv_transpose1d, conv_transpose2d,  # noqa: E402
                             fold, unfold)
from fastad.nn._linear import bilinear  # noqa: E402
from fastad.nn._losses import (cosine_embedding_loss, gaussian_nll_loss,  # noqa: E402
                               hinge_embedding_loss, margin_ranking_loss, multi_margin_loss,
                               multilabel_margin_loss, multilabel_soft_margin_loss,
                               poisson_nll_loss, soft_margin_loss, triplet_margin_loss,
                               triplet_margin_with_distance_loss)
from fastad.nn._dropout import (alpha_dropout, dropout, dropout1d, dropout2d,  # noqa: E402
                                dropout3d, feature_alpha_dropout)
from fastad.nn._normalization import (batch_norm, cosine_similarity, group_norm,  # noqa: E402
                                      instance_norm, layer_norm, local_response_norm, normalize,
                                      pairwise_distance, pdist, rms_norm)
from fastad.nn._padding import pad  # noqa: E402
from fastad.nn._pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d,  # noqa: E402
                                adaptive_max_pool1d, adaptive_max_pool1d_with_indices,
                                adaptive_max_pool2d, adaptive_max_pool2d_with_indices, avg_pool1d,
                                avg_pool2d, lp_pool1d, lp_pool2d, max_pool1d,
                                max_pool1d_with_indices, max_pool2d, max_pool2d_with_indices,
                                max_unpool1d, max_unpool2d)
from fastad.nn._shuffle import (channel_shuffle, interpolate,  # noqa: E402
                                native_channel_shuffle, pixel_shuffle, pixel_unshuffle, upsample,
                                upsample_bilinear, upsample_nearest)
from fastad.nn._sparse import embedding, one_hot  # noqa: E402

__all__ += ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
            "feature_alpha_dropout", "embedding", "one_hot", "layer_norm", "rms_norm",
            "batch_norm", "instance_norm", "group_norm", "normalize", "cosine_similarity",
            "pairwise_distance", "pdist", "pad", "conv1d", "conv2d", "unfold", "max_pool1d",
            "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
            "scaled_dot_product_attention", "multi_head_attention_forward", "bilinear", "glu",
            "softmin", "hardshrink", "softshrink", "tanhshrink", "threshold", "threshold_",
            "gumbel_softmax", "relu_", "elu_", "leaky_relu_", "hardtanh_", "selu_", "celu_",
            "rrelu_", "conv_transpose1d", "conv_transpose2d", "fold", "adaptive_max_pool1d",
            "adaptive_max_pool2d", "interpolate", "upsample", "upsample_nearest",
            "upsample_bilinear", "pixel_shuffle", "pixel_unshuffle", "cosine_embedding_loss",
            "margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss",
            "multilabel_soft_margin_loss", "multi_margin_loss", "multilabel_margin_loss",
            "triplet_margin_loss", "triplet_margin_with_distance_loss", "poisson_nll_loss",
            "gaussian_nll_loss", "local_response_norm", "max_pool1d_with_indices",
            "max_pool2d_with_indices", "adaptive_max_pool1d_with_indices",
            "adaptive_max_pool2d_with_indices", "lp_pool1d", "lp_pool2d", "max_unpool1d",
            "max_unpool2d", "channel_shuffle", "native_channel_shuffle"]
