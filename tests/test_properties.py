"""Property tests over the op registry: random values for every op (kept off the
kinks of relu-like ops only), random shapes and broadcasting pairs for the
elementwise ops, random dims for the reductions; each compared with finite
differences (gradcheck) and, where PyTorch is installed, with PyTorch's values
and gradients."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import fastad as T
from fastad.gradcheck import gradcheck
from fastad.ops import BY_NAME, OPS, case

SEEDS = st.integers(0, 2 ** 32 - 1)
QUICK = settings(max_examples=4, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])
BINARY = ["add", "sub", "mul", "div", "pow_tensor", "maximum", "minimum", "where"]
REDUCE = ["sum", "mean", "max", "min", "softmax", "log_softmax", "F.softmax", "F.log_softmax"]


def check_fd(op, c, seed):
    fn, inputs = op.instantiate(c, np.random.default_rng(seed))
    assert gradcheck(fn, inputs), (op.name, c)


def compare_torch(torch, op, c, seed):
    """Same draws in both libraries: same values, same vector-Jacobian products.
    (Tolerances allow for PyTorch's own float64 rounding: its CELU backward
    with alpha=1.3 is 3e-8 off exp(x / alpha), fastad's 1e-16.)"""
    fa, xa = op.instantiate(c, np.random.default_rng(seed))
    fb, xb = op.instantiate(c, np.random.default_rng(seed), lib=torch)
    ya, yb = fa(*xa), fb(*xb)
    np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy(), rtol=1e-7, atol=1e-10,
                               err_msg=f"{op.name} {c.label()}: value")
    g = np.random.default_rng(seed + 1).normal(size=tuple(yb.shape))
    ga = T.autograd.grad(ya, xa, T.tensor(g), allow_unused=True)
    gb = torch.autograd.grad(yb, xb, torch.tensor(g), allow_unused=True)
    for i, (a, b) in enumerate(zip(ga, gb)):
        a = np.zeros(tuple(xa[i].shape)) if a is None else a.numpy()
        b = np.zeros(tuple(xb[i].shape)) if b is None else b.numpy()
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9,
                                   err_msg=f"{op.name} {c.label()}: gradient of input {i}")


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("op", OPS, ids=[op.name for op in OPS])
@QUICK
@given(seed=SEEDS)
def test_every_op_at_random_points(op, seed):
    check_fd(op, op.cases[seed % len(op.cases)], seed)


@pytest.mark.parametrize("op", [op for op in OPS if op.torch],
                         ids=[op.name for op in OPS if op.torch])
@QUICK
@given(seed=SEEDS)
def test_every_op_matches_torch(torch, op, seed):
    compare_torch(torch, op, op.cases[seed % len(op.cases)], seed)


@pytest.mark.parametrize("name", BINARY)
@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3), seed=SEEDS)
def test_broadcasting_pairs(torch, name, shapes, seed):
    op = BY_NAME[name]
    c = case(*shapes.input_shapes)
    check_fd(op, c, seed)
    compare_torch(torch, op, c, seed)


@pytest.mark.parametrize("name", ["exp", "abs", "relu", "sigmoid", "F.gelu", "F.elu",
                                  "F.hardswish"])
@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4), seed=SEEDS)
def test_unary_random_shapes(torch, name, shape, seed):
    op = BY_NAME[name]
    c = case(shape)
    check_fd(op, c, seed)
    compare_torch(torch, op, c, seed)


@pytest.mark.parametrize("name", REDUCE)
@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=array_shapes(min_dims=1, max_dims=3, max_side=3), data=st.data(), seed=SEEDS)
def test_reductions_over_each_dim(torch, name, shape, data, seed):
    op = BY_NAME[name]
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    if name in ("sum", "mean", "max", "min"):
        c = case(shape, dim=dim, keepdim=data.draw(st.booleans()))
    else:
        c = case(shape, dim=dim)
    check_fd(op, c, seed)
    compare_torch(torch, op, c, seed)


def test_fd_property_needs_no_torch():
    """The finite-difference half runs without PyTorch (the other half skips)."""
    check_fd(BY_NAME["mul"], case((2, 3), (3,)), 0)
