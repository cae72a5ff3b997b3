"""Each loss and linear is one compiled node with two backwards: the fast
compiled one the first-order sweep runs, and its derivative written in fastad
ops (derivatives.yaml style) that a recorded backward differentiates again.
They must agree."""
import gc

import numpy as np
import pytest

import fastad
import fastad.nn.functional as F


def _node(t):
    """The tape node behind t, the last one its graph recorded (its derivative
    and primal are read-only attributes)."""
    nodes = [o for ref in gc.get_referents(t.grad_fn._graph) if isinstance(ref, list)
             for o in ref if type(o).__name__ == "Node"]
    assert nodes and nodes[-1].name == t.grad_fn.name()
    return nodes[-1]


def _derivative_grads(out, g):
    """The node's derivative at its recorded values, run without recording."""
    node = _node(out)
    arrays, dts, result, _ = node.primal
    # as the recorded sweep hands them over: inputs that need a gradient require grad
    inputs = tuple(None if a is None else fastad.tensor(a, requires_grad=a.dtype.kind == "f")
                   for a in arrays)
    with fastad.no_grad():
        grads = node.derivative(fastad.tensor(g), inputs, fastad.tensor(result))
    return [None if gr is None else np.broadcast_to(gr.numpy(), a.shape)
            for gr, a in zip(grads, arrays)]


def _check(fn, tensors, seed=0):
    """fn(*tensors)'s compiled backward and its derivative give the same gradients."""
    out = fn(*tensors)
    g = np.random.default_rng(seed).uniform(0.5, 1.5, tuple(out.shape))
    want = _derivative_grads(out, g)
    out.backward(fastad.tensor(g))
    got = [t.grad.numpy() if t.requires_grad else None for t in tensors]
    for w, h in zip(want, got):
        if h is not None:
            np.testing.assert_allclose(w, h, rtol=1e-12, atol=0)


rng = np.random.default_rng(7)
SHAPE = (6, 5)
X = rng.uniform(-2, 2, SHAPE)
T = rng.uniform(-2, 2, SHAPE)
P = rng.uniform(0.02, 0.98, SHAPE)       # probabilities
Q = rng.uniform(0.0, 1.0, SHAPE)         # targets in [0, 1]
W = rng.uniform(0.2, 2.0, SHAPE)
PW = rng.uniform(0.5, 3.0, SHAPE[-1:])

POINTWISE = {
    "mse": (lambda x, t, r: F.mse_loss(x, t, reduction=r), X, T),
    "l1": (lambda x, t, r: F.l1_loss(x, t, reduction=r), X, T),
    "smooth_l1": (lambda x, t, r: F.smooth_l1_loss(x, t, reduction=r, beta=0.7), X, T),
    "huber": (lambda x, t, r: F.huber_loss(x, t, reduction=r, delta=0.6), X, T),
    "bce": (lambda x, t, r: F.binary_cross_entropy(x, t, reduction=r), P, Q),
    "bce_weight": (lambda x, t, r: F.binary_cross_entropy(x, t, fastad.tensor(W), r), P, Q),
    "bce_logits": (lambda x, t, r: F.binary_cross_entropy_with_logits(x, t, reduction=r), X, Q),
    "bce_logits_weights": (lambda x, t, r: F.binary_cross_entropy_with_logits(
        x, t, fastad.tensor(W), r, pos_weight=fastad.tensor(PW)), X, Q),
    "kl_div": (lambda x, t, r: F.kl_div(x, t, reduction=r), X, Q),
    "kl_div_log_target": (lambda x, t, r: F.kl_div(x, t, reduction=r, log_target=True), X, T),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", sorted(POINTWISE))
def test_pointwise_loss_derivative_is_its_backward(name, reduction):
    fn, x, t = POINTWISE[name]
    _check(lambda a, b: fn(a, b, reduction),
           [fastad.tensor(x, requires_grad=True), fastad.tensor(t, requires_grad=True)])


N, C = 7, 4
LOGITS = rng.uniform(-3, 3, (N, C))
LABELS = rng.integers(0, C, N)
LABELS[2] = -100                         # an ignored row
CLASS_W = rng.uniform(0.2, 2.0, C)
PROBS = rng.dirichlet(np.ones(C), N)

CLASS = {
    "cross_entropy": lambda x, r: F.cross_entropy(x, fastad.tensor(LABELS), reduction=r),
    "cross_entropy_weighted_smoothed": lambda x, r: F.cross_entropy(
        x, fastad.tensor(LABELS), fastad.tensor(CLASS_W), reduction=r, label_smoothing=0.2),
    "cross_entropy_probabilities": lambda x, r: F.cross_entropy(
        x, fastad.tensor(PROBS), fastad.tensor(CLASS_W), reduction=r, label_smoothing=0.1),
    "nll_loss": lambda x, r: F.nll_loss(x, fastad.tensor(LABELS), reduction=r),
    "nll_loss_weighted": lambda x, r: F.nll_loss(x, fastad.tensor(LABELS),
                                                 fastad.tensor(CLASS_W), reduction=r),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", sorted(CLASS))
def test_class_loss_derivative_is_its_backward(name, reduction):
    _check(lambda x: CLASS[name](x, reduction), [fastad.tensor(LOGITS, requires_grad=True)])


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (3,), (2, 4, 3)])
def test_linear_derivative_is_its_backward(shape, bias):
    x = fastad.tensor(rng.standard_normal(shape), requires_grad=True)
    w = fastad.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    b = fastad.tensor(rng.standard_normal(4), requires_grad=True) if bias else None
    _check(lambda *t: F.linear(*t), [x, w] + ([b] if bias else []))

