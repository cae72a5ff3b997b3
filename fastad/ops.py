"""The registry of every differentiable op: its name, how to call it, where its
inputs may be drawn for a finite-difference check, and the shapes to check.

`python -m fastad check`, the tests and the docs iterate over OPS; an op that
is not listed here is reported as unchecked by the registry test.
"""
from dataclasses import dataclass
from typing import Callable, Tuple

import numpy as np

import fastad as T
from fastad.nn import functional as F


@dataclass(frozen=True)
class OpInfo:
    name: str
    fn: Callable                       # fn(*float tensors) -> tensor
    shapes: Tuple[tuple, ...]          # one tuple of input shapes per case
    domain: Tuple[float, float] = (-2.0, 2.0)
    kinks: Tuple[float, ...] = ()      # points the inputs keep 0.1 away from

    def draw(self, rng, shapes, dtype=np.float64):
        """Inputs for one case: uniform in the domain, pushed off the kinks."""
        out = []
        for s in shapes:
            a = rng.uniform(*self.domain, size=s)
            for k in self.kinks:
                near = np.abs(a - k) < 0.1
                a = np.where(near, k + np.where(a >= k, 0.1, -0.1), a)
            out.append(np.asarray(a, dtype=dtype))
        return out


def _classes(shape, n_classes, seed=0):
    """Deterministic class-index targets for logits of shape (N, C, ...)."""
    batch = (shape[0],) + tuple(shape[2:]) if len(shape) > 1 else ()
    return T.tensor(np.random.default_rng(seed).integers(0, n_classes, batch), dtype=T.int64)


def _probs(shape, seed=0):
    p = np.random.default_rng(seed).uniform(0.1, 1.0, shape)
    return T.tensor(p / p.sum(axis=1 if len(shape) > 1 else 0, keepdims=True))


def _same(shape, lo=0.05, hi=0.95, seed=1):
    return T.tensor(np.random.default_rng(seed).uniform(lo, hi, shape))


UNARY_SHAPES = (((),), ((5,),), ((3, 4),))
BINARY_SHAPES = (((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 3), (4, 1)), ((), (3,)))
REDUCE_SHAPES = (((3, 4),), ((2, 3, 2),))

OPS = [
    # ---- arithmetic
    OpInfo("add", lambda a, b: a + b, BINARY_SHAPES),
    OpInfo("sub", lambda a, b: a - b, BINARY_SHAPES),
    OpInfo("mul", lambda a, b: a * b, BINARY_SHAPES),
    OpInfo("div", lambda a, b: a / b, BINARY_SHAPES, domain=(0.5, 2.0)),
    OpInfo("pow_number", lambda a: a ** 3, UNARY_SHAPES),
    OpInfo("rpow_number", lambda a: 2.0 ** a, UNARY_SHAPES),
    OpInfo("pow_tensor", lambda a, b: a ** b, BINARY_SHAPES, domain=(0.5, 2.0)),
    OpInfo("neg", lambda a: -a, UNARY_SHAPES),
    # ---- unary math (the engine's scalar fast paths and array kernels)
    OpInfo("exp", T.exp, UNARY_SHAPES),
    OpInfo("log", T.log, UNARY_SHAPES, domain=(0.2, 3.0)),
    OpInfo("sqrt", T.sqrt, UNARY_SHAPES, domain=(0.2, 3.0)),
    OpInfo("abs", T.abs, UNARY_SHAPES, kinks=(0.0,)),
    OpInfo("sin", T.sin, UNARY_SHAPES),
    OpInfo("cos", T.cos, UNARY_SHAPES),
    OpInfo("sigmoid", T.sigmoid, UNARY_SHAPES),
    OpInfo("tanh", T.tanh, UNARY_SHAPES),
    OpInfo("relu", T.relu, UNARY_SHAPES, kinks=(0.0,)),
    # ---- reductions
    OpInfo("sum", lambda a: a.sum(), REDUCE_SHAPES),
    OpInfo("sum_dim", lambda a: a.sum(1), REDUCE_SHAPES),
    OpInfo("sum_dim_keepdim", lambda a: a.sum(-1, keepdim=True), REDUCE_SHAPES),
    OpInfo("mean", lambda a: a.mean(), REDUCE_SHAPES),
    OpInfo("mean_dim", lambda a: a.mean(0), REDUCE_SHAPES),
    OpInfo("max", lambda a: a.max(), REDUCE_SHAPES),
    OpInfo("max_dim", lambda a: a.max(1)[0], REDUCE_SHAPES),
    OpInfo("min", lambda a: a.min(), REDUCE_SHAPES),
    OpInfo("min_dim", lambda a: a.min(0, keepdim=True)[0], REDUCE_SHAPES),
    # ---- linear algebra and shapes
    OpInfo("matmul", T.matmul, (((3, 4), (4, 2)), ((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 2)),
                                ((2, 3, 4), (4, 2)), ((2, 3, 4), (2, 4, 2)))),
    OpInfo("transpose", lambda a: a.transpose(0, 1), (((3, 4),), ((2, 3, 4),))),
    OpInfo("t", lambda a: a.t(), (((3, 4),),)),
    OpInfo("reshape", lambda a: a.reshape(-1, 2), (((3, 4),),)),
    OpInfo("flatten", lambda a: a.flatten(), (((2, 3, 2),),)),
    OpInfo("squeeze", lambda a: a.squeeze(1), (((3, 1, 2),),)),
    OpInfo("unsqueeze", lambda a: a.unsqueeze(0), (((3, 2),),)),
    OpInfo("permute", lambda a: a.permute(2, 0, 1), (((2, 3, 4),),)),
    OpInfo("expand", lambda a: a.expand(3, 4), (((1, 4),),)),
    OpInfo("index_basic", lambda a: a[1, 1:3], (((3, 4),),)),
    OpInfo("index_scalar", lambda a: a[2] * a[0], (((4,),),)),
    OpInfo("index_advanced", lambda a: a[T.tensor([0, 2, 0])], (((3, 4),),)),
    OpInfo("index_mask", lambda a: a[a.detach() > 0], (((3, 4),),), kinks=(0.0,)),
    OpInfo("cat", lambda a, b: T.cat([a, b], 0), (((2, 3), (4, 3)),)),
    OpInfo("stack", lambda a, b: T.stack([a, b], 1), (((2, 3), (2, 3)),)),
    OpInfo("where", lambda a, b: T.where(a.detach() > 0, a, b), (((3, 4), (3, 4)),),
           kinks=(0.0,)),
    OpInfo("clamp", lambda a: a.clamp(-0.5, 0.7), UNARY_SHAPES, kinks=(-0.5, 0.7)),
    OpInfo("maximum", T.maximum, (((3, 4), (3, 4)),)),
    OpInfo("minimum", T.minimum, (((3, 4), (3, 4)),)),
    OpInfo("softmax", lambda a: T.softmax(a, 1), (((3, 4),), ((2, 3, 2),))),
    OpInfo("log_softmax", lambda a: T.log_softmax(a, 0), (((3, 4),), ((5,),))),
    # ---- nn.functional activations
    OpInfo("F.sigmoid", F.sigmoid, UNARY_SHAPES),
    OpInfo("F.tanh", F.tanh, UNARY_SHAPES),
    OpInfo("F.relu", F.relu, UNARY_SHAPES, kinks=(0.0,)),
    OpInfo("F.relu6", F.relu6, UNARY_SHAPES, domain=(-3.0, 8.0), kinks=(0.0, 6.0)),
    OpInfo("F.hardtanh", lambda a: F.hardtanh(a, -0.5, 1.5), UNARY_SHAPES, kinks=(-0.5, 1.5)),
    OpInfo("F.leaky_relu", lambda a: F.leaky_relu(a, 0.1), UNARY_SHAPES, kinks=(0.0,)),
    OpInfo("F.prelu", F.prelu, (((2, 3, 4), (3,)), ((5,), (1,))), kinks=(0.0,)),
    OpInfo("F.rrelu", lambda a: F.rrelu(a, 0.1, 0.3, training=False), UNARY_SHAPES,
           kinks=(0.0,)),
    OpInfo("F.elu", lambda a: F.elu(a, 0.7), UNARY_SHAPES, kinks=(0.0,)),
    OpInfo("F.selu", F.selu, UNARY_SHAPES, kinks=(0.0,)),
    OpInfo("F.celu", lambda a: F.celu(a, 1.3), UNARY_SHAPES, kinks=(0.0,)),
    OpInfo("F.gelu", F.gelu, UNARY_SHAPES),
    OpInfo("F.gelu_tanh", lambda a: F.gelu(a, approximate="tanh"), UNARY_SHAPES),
    OpInfo("F.silu", F.silu, UNARY_SHAPES),
    OpInfo("F.mish", F.mish, UNARY_SHAPES),
    OpInfo("F.softplus", lambda a: F.softplus(a, 2.0, 3.0), UNARY_SHAPES, kinks=(1.5,)),
    OpInfo("F.softsign", F.softsign, UNARY_SHAPES),
    OpInfo("F.logsigmoid", F.logsigmoid, UNARY_SHAPES),
    OpInfo("F.hardsigmoid", F.hardsigmoid, UNARY_SHAPES, domain=(-4.0, 4.0), kinks=(-3.0, 3.0)),
    OpInfo("F.hardswish", F.hardswish, UNARY_SHAPES, domain=(-4.0, 4.0), kinks=(-3.0, 3.0)),
    OpInfo("F.softmax", lambda a: F.softmax(a, dim=-1), (((3, 4),),)),
    OpInfo("F.log_softmax", lambda a: F.log_softmax(a, dim=1), (((3, 4),),)),
    OpInfo("F.linear", F.linear, (((5, 3), (2, 3), (2,)), ((3,), (2, 3), (2,)))),
    # ---- losses (targets are fixed, drawn from the inputs' shapes)
    OpInfo("F.mse_loss", F.mse_loss, (((3, 4), (3, 4)), ((5,), (5,)))),
    OpInfo("F.l1_loss", F.l1_loss, (((3, 4), (3, 4)),)),
    OpInfo("F.smooth_l1_loss", lambda a, b: F.smooth_l1_loss(a, b, beta=0.5), (((3, 4), (3, 4)),)),
    OpInfo("F.huber_loss", lambda a, b: F.huber_loss(a, b, delta=0.7), (((3, 4), (3, 4)),)),
    OpInfo("F.cross_entropy", lambda a: F.cross_entropy(a, _classes(a.shape, a.shape[1])),
           (((4, 3),), ((2, 3, 2),))),
    OpInfo("F.cross_entropy_weighted", lambda a: F.cross_entropy(
        a, _classes(a.shape, 3), weight=T.tensor([0.2, 1.0, 0.5], dtype=T.float64),
        ignore_index=1, label_smoothing=0.1), (((5, 3),),)),
    OpInfo("F.cross_entropy_probs", lambda a: F.cross_entropy(a, _probs(a.shape)), (((4, 3),),)),
    OpInfo("F.nll_loss", lambda a: F.nll_loss(a, _classes(a.shape, a.shape[1]), reduction="sum"),
           (((4, 3),),)),
    OpInfo("F.binary_cross_entropy", lambda a: F.binary_cross_entropy(a, _same(a.shape)),
           (((3, 4),),), domain=(0.05, 0.95)),
    OpInfo("F.binary_cross_entropy_with_logits", lambda a: F.binary_cross_entropy_with_logits(
        a, _same(a.shape), pos_weight=T.tensor(1.5, dtype=T.float64)), (((3, 4),),)),
    OpInfo("F.kl_div", lambda a: F.kl_div(a, _same(a.shape), reduction="batchmean"),
           (((3, 4),),)),
]

# tests/test_gradcheck.py checks that every function of nn.functional and every
# differentiable math function has an entry here, so a new op cannot be forgotten.

BY_NAME = {op.name: op for op in OPS}
