"""Bad input gets a clear Python exception of PyTorch's class (the table in
issue 5), never a crash or an out-of-bounds read."""
import math

import numpy as np
import pytest

import fastad as T
import fastad.nn.functional as F

CASES = [
    # (what, callable, exception class, text the message must contain)
    ("class target out of range (cross_entropy)",
     lambda: F.cross_entropy(T.randn(3, 4), T.tensor([0, 4, 1])), IndexError, "4"),
    ("negative class target (cross_entropy)",
     lambda: F.cross_entropy(T.randn(3, 4), T.tensor([0, -3, 1])), IndexError, "-3"),
    ("class target out of range (nll_loss)",
     lambda: F.nll_loss(T.randn(2, 3), T.tensor([7, 0])), IndexError, "7"),
    ("float class targets (nll_loss)",
     lambda: F.nll_loss(T.randn(2, 3), T.tensor([1.0, 0.0])), RuntimeError, ""),
    ("shapes that cannot broadcast",
     lambda: T.ones(2, 3) + T.ones(4), RuntimeError, "3"),
    ("shapes that cannot multiply",
     lambda: T.ones(2, 3) @ T.ones(4, 5), RuntimeError, "2x3 and 4x5"),
    ("dim out of range", lambda: T.ones(2, 3).sum(5), IndexError, "5"),
    ("ragged data", lambda: T.tensor([[1, 2], [3]]), ValueError, ""),
    ("non-numeric data", lambda: T.tensor(["a", "b"]), ValueError, ""),
    ("requires_grad on an integer tensor",
     lambda: T.tensor([1, 2], requires_grad=True), RuntimeError, "floating point"),
    ("backward on a tensor that does not require grad",
     lambda: T.ones(2).sum().backward(), RuntimeError, "does not require grad"),
    ("implicit gradient of a non-scalar output",
     lambda: (T.ones(2, requires_grad=True) * 2).backward(), RuntimeError, "scalar outputs"),
    ("absurd size", lambda: T.zeros(10 ** 12), (MemoryError, RuntimeError), ""),
    ("negative size", lambda: T.zeros(-1), RuntimeError, "negative"),
    ("in-place op on a leaf that requires grad",
     lambda: T.ones(2, requires_grad=True).add_(1), RuntimeError, "leaf Variable"),
    ("bad loss reduction", lambda: F.mse_loss(T.ones(2), T.ones(2), reduction="avg"),
     ValueError, "avg"),
    ("negative learning rate", lambda: T.optim.SGD([T.ones(1, requires_grad=True)], lr=-1),
     ValueError, "-1"),
    ("Adam beta out of range",
     lambda: T.optim.Adam([T.ones(1, requires_grad=True)], betas=(1.0, 0.9)), ValueError, "1.0"),
    ("negative momentum", lambda: T.optim.SGD([T.ones(1, requires_grad=True)], lr=0.1,
                                              momentum=-0.5), ValueError, "-0.5"),
    ("nesterov without momentum",
     lambda: T.optim.SGD([T.ones(1, requires_grad=True)], lr=0.1, nesterov=True), ValueError, ""),
    ("index out of range", lambda: T.ones(3)[5], IndexError, "5"),
    ("index tensor out of range", lambda: T.ones(3)[T.tensor([0, 9])], IndexError, "9"),
]


@pytest.mark.parametrize("what,fn,exc,text", CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises(what, fn, exc, text):
    with pytest.raises(exc) as info:
        fn()
    assert text in str(info.value)


def test_saved_tensor_modified_in_place_then_backward():
    x = T.ones(3, requires_grad=True)
    y = x * 2
    z = y.sin()         # sin saves its input
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_second_backward_through_freed_graph():
    x = T.ones(3, requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_empty_tensors_work_where_pytorch_does():
    e = T.zeros(0)
    assert e.sum().item() == 0.0
    assert math.isnan(e.mean().item())
    assert tuple((e * 2).shape) == (0,)


def test_nan_and_inf_propagate_like_ieee():
    x = T.tensor([float("nan"), float("inf"), -float("inf"), 1.0], requires_grad=True)
    y = F.sigmoid(x)
    y.sum().backward()
    v = y.detach().numpy()
    assert math.isnan(v[0]) and v[1] == 1.0 and v[2] == 0.0
    assert math.isnan(x.grad.numpy()[0]) and np.isfinite(x.grad.numpy()[1:]).all()
    row = T.tensor([[-float("inf"), -float("inf")], [0.0, 1.0]])
    s = F.softmax(row, dim=1).numpy()
    assert np.isnan(s[0]).all() and np.isfinite(s[1]).all()
