"""fastad.nn.functional: activations and losses over the compiled kernels.

Each function validates its arguments here, in Python, then hands contiguous
arrays to fastad._kernels (which trusts them and releases the GIL) and records
one tape node with PyTorch's grad_fn name.
"""
import warnings

import numpy as _np

from fastad import _kernels as _K
from fastad import _tensor as _T
from fastad import opdefs as _opdefs
from fastad._tensor import Tensor  # noqa: F401  (as in torch.nn.functional)
from fastad._tensor import _rng, _unbroadcast_py
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
        if training:
            slopes = _rng().uniform(lower, upper, xa.shape).astype(xa.dtype)
        else:
            slopes = _np.full(xa.shape, (lower + upper) / 2, dtype=xa.dtype)
        y = _K.empty_like(xa)
        _K.rrelu_forward(xa, slopes, y)

        def backward(g):
            gx = _K.empty_like(xa)
            _K.rrelu_backward(xa, slopes, _np.ascontiguousarray(g, dtype=xa.dtype).reshape(-1), gx)
            return (gx.reshape(t.shape),)
        slope = _np.where(xa > 0, 1, slopes).reshape(tuple(t.shape))
        return _make_op(y.reshape(tuple(t.shape)),
                       "RreluWithNoiseBackward1" if inplace else "RreluWithNoiseBackward0",
                       (t,), backward, (t,),
                       derivative=lambda g, ins, r: (g * _T.tensor(slope, dtype=g.dtype),))
    return _apply_inplace(x, apply) if inplace else apply(x)


def linear(input, weight, bias=None):
    """input @ weight.T + bias.  Rows of a batch are one addmm-like node whose
    backward writes weight's gradient in weight's own layout (g.T @ input);
    a 1-D or N-D input runs as rows and is viewed back, as PyTorch does."""
    out = _T.linear_rows(input, weight, bias)     # the common case, compiled
    if out is not None:
        return out
    x, w = _as_tensor(input), _as_tensor(weight)
    b = None if bias is None else _as_tensor(bias)
    xa, wa = _array_of(x), _array_of(w)
    if xa.dtype != wa.dtype and xa.dtype.kind == "f" and wa.dtype.kind == "f":
        names = {_np.dtype(_np.float32): "Float", _np.dtype(_np.float64): "Double"}
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got "
                           f"{names[xa.dtype]} and {names[wa.dtype]}")
    if wa.ndim != 2 or xa.ndim == 0 or xa.dtype != wa.dtype or (
            b is not None and (_array_of(b).ndim != 1 or _array_of(b).dtype != xa.dtype)):
        out = _matmul(x, w.t())
        return out if b is None else out + b
    if xa.ndim != 2:
        lead = tuple(x.shape)[:-1]
        if xa.shape[-1] != wa.shape[1]:
            rows = int(_np.prod(lead, dtype=_np.int64)) if xa.ndim > 1 else 1
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x"
                               f"{xa.shape[-1]} and {wa.shape[1]}x{wa.shape[0]})")
        y2 = linear(x.reshape(-1, xa.shape[-1]), w, b)
        name = ("ViewBackward0" if b is not None else
                "SqueezeBackward4" if xa.ndim == 1 else "UnsafeViewBackward0")
        rows_shape = tuple(y2.shape)
        return _make_op(_array_of(y2).reshape(lead + (wa.shape[0],)), name, (y2,),
                       lambda g: (g.reshape(rows_shape),),
                       derivative=lambda g, ins, r: (g.reshape(rows_shape),))
    if xa.shape[1] != wa.shape[1]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({xa.shape[0]}x{xa.shape[1]} "
                           f"and {wa.shape[1]}x{wa.shape[0]})")
    if b is not None and _array_of(b).shape[0] != wa.shape[0]:
        raise RuntimeError(f"The size of tensor a ({wa.shape[0]}) must match the size of tensor "
                           f"b ({_array_of(b).shape[0]}) at non-singleton dimension 1")
    return _T.linear_rows(x, w, b)


# ---------------------------------------------------------------- losses
def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _reduce(values, reduction, dtype):
    """The reduced loss value, and the factor each element's gradient gets."""
    if reduction == "none":
        return values, None
    n = values.size
    if reduction == "mean":
        if n == 0:
            return _np.asarray(_np.nan, dtype=dtype), _np.nan
        return _np.asarray(_np.add.reduce(values, None, _np.float64) / n, dtype=dtype), 1.0 / n
    return _np.asarray(_np.add.reduce(values, None, _np.float64), dtype=dtype), 1.0


def _flat(a, dt, shape):
    """a as a contiguous flat array of dtype dt, broadcast to shape if needed."""
    if a.shape != shape:
        a = _np.broadcast_to(a, shape)
    return _np.ascontiguousarray(a, dtype=dt).reshape(-1)


# losses whose common case (one dtype, one shape, no weights) _T.pointwise_loss runs
# in compiled code; binary_cross_entropy checks its input's range here first
_PLAIN_LOSSES = frozenset(["mse", "l1", "smooth_l1", "huber", "kl_div"])


def _pointwise_loss(kernel, grad_name, input, target, reduction, a=0.0, weight=None,
                    pos_weight=None):
    """An elementwise loss (fastad._kernels.LOSSES) with its reduction fused."""
    _check_reduction(reduction)
    if isinstance(grad_name, dict):  # PyTorch builds some losses from other ops
        grad_name = grad_name[reduction]
    if weight is None and pos_weight is None and kernel in _PLAIN_LOSSES:
        out = _T.pointwise_loss(kernel, grad_name, input, target, reduction, a)
        if out is not None:
            return out
    x, t = _as_tensor(input), _as_tensor(target)
    if not x.is_floating_point():
        raise RuntimeError(f"{kernel}: expected a floating point input, got {x.dtype}")
    xa, ta = _array_of(x), _array_of(t)
    dt = xa.dtype if (ta.dtype == xa.dtype or ta.dtype.kind != "f") else \
        _np.promote_types(xa.dtype, ta.dtype)
    shape = xa.shape
    if ta.shape != shape:
        try:
            shape = _np.broadcast_shapes(xa.shape, ta.shape)
        except ValueError:
            raise RuntimeError(_T._broadcast_msg(xa.shape, ta.shape)) from None
        warnings.warn(f"Using a target size ({t.shape}) that is different to the input size "
                      f"({x.shape}). This will likely lead to incorrect results due to "
                      "broadcasting. Please ensure they have the same size.", UserWarning,
                      stacklevel=3)
    xs, ts = xa.shape, ta.shape
    xa, ta = _flat(xa, dt, shape), _flat(ta, dt, shape)
    pw = None if pos_weight is None else _flat(_array_of(_as_tensor(pos_weight)), dt, shape)
    w = None if weight is None else _flat(_array_of(_as_tensor(weight)), dt, shape)
    out = _K.empty_like(xa)
    if kernel == "binary_cross_entropy_with_logits":
        _K.bce_logits_forward(xa, ta, pw, out)
    else:
        if kernel == "binary_cross_entropy" and xa.size and (
                _np.nanmin(xa) < 0 or _np.nanmax(xa) > 1):
            raise RuntimeError("all elements of input should be between 0 and 1")
        if kernel == "binary_cross_entropy" and ta.size and (
                _np.nanmin(ta) < 0 or _np.nanmax(ta) > 1):
            raise RuntimeError("all elements of target should be between 0 and 1")
        _K.loss_forward(kernel, xa, ta, out, a)
    if w is not None:
        out *= w
    value, scale = _reduce(out.reshape(shape), reduction, dt)
    t_grad = t.requires_grad

    def backward(g):
        if scale is not None:
            gout = _np.empty(xa.shape, dt)
            gout.fill(float(g) * scale)
        else:
            gout = _np.ascontiguousarray(g, dtype=dt).reshape(-1)
        if w is not None:
            gout = gout * w
        gx = _K.empty_like(xa)
        gt = _K.empty_like(ta) if t_grad else None
        if kernel == "binary_cross_entropy_with_logits":
            _K.bce_logits_backward(xa, ta, pw, gout, gx, gt)
        else:
            _K.loss_backward(kernel, xa, ta, gout, gx, gt, a)
        return (_unbroadcast_py(gx.reshape(shape), xs),
                None if gt is None else _unbroadcast_py(gt.reshape(shape), ts))
    return _make_op(value, grad_name, (x, t), backward, (x, t),
                   dt=1 if dt == _np.float64 else 0, derivative=_T._loss_derivative(
                       kernel, a, scale, w, pw, xs, ts, shape))


def mse_loss(input, target, reduction="mean"):
    return _pointwise_loss("mse", "MseLossBackward0", input, target, reduction)


def l1_loss(input, target, reduction="mean"):
    return _pointwise_loss("l1", {"mean": "MeanBackward0", "sum": "SumBackward0",
                                  "none": "AbsBackward0"}, input, target, reduction)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0:  # PyTorch computes l1_loss then
        return l1_loss(input, target, reduction)
    return _pointwise_loss("smooth_l1", "SmoothL1LossBackward0", input, target, reduction, beta)


def huber_loss(input, target, reduction="mean", delta=1.0):
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    return _pointwise_loss("huber", "HuberLossBackward0", input, target, reduction, delta)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    if tuple(_as_tensor(input).shape) != tuple(_as_tensor(target).shape):
        raise ValueError(f"Using a target size ({_as_tensor(target).shape}) that is different to "
                         f"the input size ({_as_tensor(input).shape}) is deprecated. Please ensure "
                         "they have the same size.")
    return _pointwise_loss("binary_cross_entropy", "BinaryCrossEntropyBackward0", input, target,
                           reduction, weight=weight)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean",
                                     pos_weight=None):
    if tuple(_as_tensor(input).shape) != tuple(_as_tensor(target).shape):
        raise ValueError(f"Target size ({_as_tensor(target).shape}) must be the same as input size "
                         f"({_as_tensor(input).shape})")
    return _pointwise_loss("binary_cross_entropy_with_logits",
                           "BinaryCrossEntropyWithLogitsBackward0", input, target, reduction,
                           weight=weight, pos_weight=pos_weight)


def kl_div(input, target, reduction="mean", log_target=False):
    if reduction == "batchmean":
        n = _as_tensor(input).shape[0] if _as_tensor(input).dim() else 1
        return kl_div(input, target, "sum", log_target) / n
    return _pointwise_loss("kl_div", {"mean": "MeanBackward0", "sum": "SumBackward0",
                                      "none": "MulBackward0" if log_target else "SubBackward0"},
                           input, target, reduction, float(log_target))


def _class_rows(x, t, fn):
    """(N, C, d1, ...) logits and (N, d1, ...) targets as (M, C) rows and (M,) targets."""
    shape = tuple(x.shape)
    if len(shape) == 0:
        raise RuntimeError(f"{fn}: input must have at least one dimension")
    if len(shape) == 1:  # unbatched (C,)
        return _array_of(x)[None, :], (), (1, shape[0]), 0
    if len(shape) == 2:  # (N, C): already rows
        return _array_of(x), shape[:1], shape, 0
    c_dim = 1
    moved = _np.moveaxis(_array_of(x), c_dim, -1)
    return moved.reshape(-1, shape[c_dim]), moved.shape[:-1], moved.shape, c_dim


def _check_targets(t, rows, batch_shape, fn):
    ta = _array_of(t)
    if ta.dtype != _np.int64:
        kind = {_np.dtype(_np.float32): "Float", _np.dtype(_np.float64): "Double",
                _np.dtype(_np.bool_): "Bool"}.get(ta.dtype, str(ta.dtype))
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {kind} "
                           f"({fn}: class-index targets must be int64)")
    if batch_shape == () and ta.shape in ((), (1,)):  # unbatched input, one target
        return _np.ascontiguousarray(ta).reshape(-1)
    if tuple(ta.shape) != tuple(batch_shape):
        if len(batch_shape) == 1 and ta.ndim > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if ta.ndim and batch_shape and ta.shape[0] != batch_shape[0]:
            raise ValueError(f"Expected input batch_size ({batch_shape[0]}) to match target "
                             f"batch_size ({ta.shape[0]}).")
        raise RuntimeError(f"Expected target size {list(batch_shape)}, got {list(ta.shape)}")
    return _np.ascontiguousarray(ta).reshape(-1)


def _nll_name(ndim, reduction, label_smoothing=0.0):
    """PyTorch's grad_fn name for a class-index loss over an ndim-D input."""
    if label_smoothing > 0:
        return "AddBackward0"
    if ndim <= 2:
        return "NllLossBackward0"
    return "ViewBackward0" if (ndim != 4 and reduction == "none") else "NllLoss2DBackward0"


def _class_loss_grad(glog2d, moved_shape, c_dim, in_shape):
    g = glog2d.reshape(moved_shape)
    if c_dim:
        g = _np.moveaxis(g, -1, c_dim)
    return _np.ascontiguousarray(g).reshape(in_shape)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """log_softmax over dim 1 fused with the negative log likelihood (class
    indices) or with a cross entropy against class probabilities."""
    _check_reduction(reduction)
    if weight is None:                 # (N, C) logits and class indices: compiled
        out = _T.class_cross_entropy(input, target, reduction, ignore_index, label_smoothing,
                                     _nll_name(2, reduction, label_smoothing))
        if out is not None:
            return out
    x, t = _float_input(input, "cross_entropy"), _as_tensor(target)
    rows, batch_shape, moved_shape, c_dim = _class_rows(x, t, "cross_entropy")
    rows = _np.ascontiguousarray(rows)
    n_classes = rows.shape[1]
    w = None if weight is None else _np.ascontiguousarray(_array_of(_as_tensor(weight)),
                                                         dtype=rows.dtype)
    if w is not None and w.shape != (n_classes,):
        raise RuntimeError(f"weight tensor should be defined either for all {n_classes} classes "
                           f"or no classes but got weight tensor of shape: {list(w.shape)}")
    lsm = _K.empty_like(rows)
    in_shape = tuple(x.shape)
    if t.is_floating_point() and tuple(t.shape) != in_shape:
        _check_targets(t, rows, batch_shape, "cross_entropy")  # raises PyTorch's dtype error
    if t.is_floating_point():  # class probabilities
        probs = _np.ascontiguousarray(_np.moveaxis(_array_of(t), c_dim, -1) if c_dim else _array_of(t),
                                     dtype=rows.dtype).reshape(rows.shape)
        value = _K.cross_entropy_prob_forward(rows, probs, w, label_smoothing, reduction, lsm)

        def backward(g):
            glog = _K.empty_like(rows)
            gout = float(g) if reduction != "none" else _np.ascontiguousarray(g, rows.dtype).reshape(-1)
            _K.cross_entropy_prob_backward(lsm, probs, w, label_smoothing, reduction, gout, glog)
            return (_class_loss_grad(glog, moved_shape, c_dim, in_shape), None)
        name = "DivBackward1" if reduction == "mean" else "NegBackward0"
        derivative = _T._class_loss_derivative(rows, probs, w, ignore_index, label_smoothing,
                                               reduction, True, moved_shape, False)
    else:
        ta = _check_targets(t, rows, batch_shape, "cross_entropy")
        value = _K.cross_entropy_forward(rows, ta, w, ignore_index, label_smoothing, reduction, lsm)

        def backward(g):
            glog = _K.empty_like(rows)
            gout = float(g) if reduction != "none" else _np.ascontiguousarray(g, rows.dtype).reshape(-1)
            _K.cross_entropy_backward(lsm, ta, w, ignore_index, label_smoothing, reduction, gout, glog)
            return (_class_loss_grad(glog, moved_shape, c_dim, in_shape), None)
        name = _nll_name(len(in_shape), reduction, label_smoothing)
        derivative = _T._class_loss_derivative(rows, ta, w, ignore_index, label_smoothing,
                                               reduction, False, moved_shape, False)
    value = _np.asarray(value, dtype=rows.dtype)
    if reduction == "none":
        value = value.reshape(batch_shape)
    return _make_op(value, name, (x, t), backward, (x,), derivative=derivative)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    _check_reduction(reduction)
    x, t = _float_input(input, "nll_loss"), _as_tensor(target)
    rows, batch_shape, moved_shape, c_dim = _class_rows(x, t, "nll_loss")
    rows = _np.ascontiguousarray(rows)
    n_classes = rows.shape[1]
    ta = _check_targets(t, rows, batch_shape, "nll_loss")
    w = None if weight is None else _np.ascontiguousarray(_array_of(_as_tensor(weight)),
                                                         dtype=rows.dtype)
    if w is not None and w.shape != (n_classes,):
        raise RuntimeError(f"weight tensor should be defined either for all {n_classes} classes "
                           f"or no classes but got weight tensor of shape: {list(w.shape)}")
    value = _np.asarray(_K.nll_loss_forward(rows, ta, w, ignore_index, reduction), dtype=rows.dtype)
    if reduction == "none":
        value = value.reshape(batch_shape)
    in_shape = tuple(x.shape)

    def backward(g):
        glog = _K.empty_like(rows)
        gout = float(g) if reduction != "none" else _np.ascontiguousarray(g, rows.dtype).reshape(-1)
        _K.nll_loss_backward(ta, w, ignore_index, reduction, gout, glog)
        return (_class_loss_grad(glog, moved_shape, c_dim, in_shape), None)
    return _make_op(value, _nll_name(len(in_shape), reduction), (x, t), backward, (),
                    derivative=_T._class_loss_derivative(rows, ta, w, ignore_index, 0.0, reduction,
                                                         False, moved_shape, True))


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
