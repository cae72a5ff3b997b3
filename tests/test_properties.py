"""Property tests over the op registry: random values for every op, and random
shapes, broadcasting pairs and dims for the elementwise ops and reductions."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import fastad as T
from fastad.gradcheck import gradcheck
from fastad.ops import BY_NAME, OPS


def tensors(arrays):
    return [T.tensor(a, requires_grad=True) for a in arrays]


@pytest.mark.parametrize("op", OPS, ids=[op.name for op in OPS])
@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_every_op_at_random_points(op, seed):
    rng = np.random.default_rng(seed)
    shapes = op.shapes[seed % len(op.shapes)]
    assert gradcheck(op.fn, tensors(op.draw(rng, shapes)))


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow_tensor", "maximum", "minimum"])
@settings(max_examples=15, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       seed=st.integers(0, 2 ** 32 - 1))
def test_broadcasting_pairs(name, shapes, seed):
    op = BY_NAME[name]
    arrays = op.draw(np.random.default_rng(seed), shapes.input_shapes)
    if name in ("maximum", "minimum"):  # keep the two sides apart: no ties
        arrays[1] = arrays[1] + np.where(arrays[1] >= 0, 3.0, -3.0)
    assert gradcheck(op.fn, tensors(arrays))


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min", "softmax", "log_softmax"])
@settings(max_examples=15, deadline=None)
@given(shape=array_shapes(min_dims=1, max_dims=3, max_side=3), data=st.data(),
       seed=st.integers(0, 2 ** 32 - 1))
def test_reductions_over_each_dim(reduce, shape, data, seed):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    keepdim = data.draw(st.booleans())
    # distinct values: max/min have a unique arg at every slice
    a = np.random.default_rng(seed).permutation(np.prod(shape)).reshape(shape) / 7.0
    x = T.tensor(a, requires_grad=True)
    if reduce in ("softmax", "log_softmax"):
        fn = lambda t: getattr(t, reduce)(dim)  # noqa: E731
    elif reduce in ("max", "min"):
        fn = lambda t: getattr(t, reduce)(dim, keepdim)[0]  # noqa: E731
    else:
        fn = lambda t: getattr(t, reduce)(dim, keepdim)  # noqa: E731
    assert gradcheck(fn, (x,))
