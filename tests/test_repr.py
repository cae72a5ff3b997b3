"""repr strings exactly equal to PyTorch's."""
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastad
from conftest import needs_torch, optional_torch

torch = optional_torch()


def strip_addr(s):
    return re.sub(r"0x[0-9a-f]+", "0x", s)


def same_repr(prog):
    f, t = prog(fastad), prog(torch)
    assert repr(f) == repr(t), f"\nfastad: {f!r}\ntorch:  {t!r}"


VALUES = [
    [0.2689, 0.5, 0.7311], [1.0, 2.0, 3.0], [1.0], [2.0], [0.0], [-0.0, 1.0], [1e-5, 1.0],
    [1e-4, 1.0], [1e8, 1.0], [1e9, 1.0], [123456.789, 1.5], [1.5, 1000.25], [1.5, 1001.0],
    [0.001, 1.0], [1e-10], [12345.678], [float("nan"), 1.0], [float("inf"), -1.5],
    [float("-inf"), 2.0, float("nan")], [-1.0, -2.5], [0.1, 0.2, 0.3], [1e20, -1e-20],
    [3.14159265], [100.0, 2000.0], [1e15, 1.0], list(range(12)), [0.5] * 30,
    [1234.5678, 0.001234], [-123.456, 7.0],
]


@needs_torch
@pytest.mark.parametrize("vals", VALUES, ids=[str(i) for i in range(len(VALUES))])
@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_float_vectors(vals, dt):
    same_repr(lambda lib: lib.tensor(vals, dtype=getattr(lib, dt)))


@needs_torch
@pytest.mark.parametrize("v", [1.0, 0.5, -2.25, 1e-5, 1e10, 123456.0, float("nan"), 0.0,
                               3.14159, 1e-8, -0.0, float("inf")])
@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_scalars(v, dt):
    same_repr(lambda lib: lib.tensor(v, dtype=getattr(lib, dt)))


@needs_torch
def test_tutorial_reprs():
    same_repr(lambda lib: lib.sigmoid(lib.tensor([-1.0, 0.0, 1.0])))
    same_repr(lambda lib: lib.tensor([2.0], requires_grad=True))
    same_repr(lambda lib: lib.tensor(1.0, requires_grad=True))
    same_repr(lambda lib: lib.tensor(2.0, requires_grad=True) * 3)
    same_repr(lambda lib: (lib.tensor([1.0, 2.0], requires_grad=True) ** 2).sum())
    same_repr(lambda lib: (lib.tensor([1.0, 2.0], requires_grad=True) ** 2).mean())
    same_repr(lambda lib: lib.tensor([1.0, 2.0], requires_grad=True).sigmoid())
    same_repr(lambda lib: lib.tensor([[1.0, 2.0]], requires_grad=True) @ lib.ones(2, 2))
    same_repr(lambda lib: lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True) * 2)
    same_repr(lambda lib: lib.tensor(1.5, dtype=lib.float64, requires_grad=True))


@needs_torch
def test_grad_fn_repr():
    for prog in [lambda lib: lib.tensor([1.0], requires_grad=True).sigmoid(),
                 lambda lib: lib.tensor(1.0, requires_grad=True).exp(),
                 lambda lib: lib.tensor([1.0], requires_grad=True) * 2]:
        f, t = prog(fastad).grad_fn, prog(torch).grad_fn
        assert strip_addr(repr(f)) == strip_addr(repr(t))
    assert fastad.tensor([1.0], requires_grad=True).grad_fn is None


@needs_torch
@pytest.mark.parametrize("data", [[1, 2, 3], [-5, 100000], [0], [[1, 2], [30, 4]], 7,
                                  [True, False], True, [[True], [False]], list(range(-5, 20))])
def test_int_bool(data):
    same_repr(lambda lib: lib.tensor(data))


@needs_torch
@pytest.mark.parametrize("shape", [(2, 3), (3, 1), (1, 4), (2, 2, 2), (2, 1, 3), (4, 5)])
@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_2d_and_3d(shape, dt):
    a = np.random.default_rng(sum(shape)).standard_normal(shape)
    same_repr(lambda lib: lib.tensor(a, dtype=getattr(lib, dt)))
    same_repr(lambda lib: lib.tensor(a * 1000, dtype=getattr(lib, dt)))
    same_repr(lambda lib: lib.tensor(np.round(a * 3), dtype=getattr(lib, dt)))


@needs_torch
def test_empty_and_special_shapes():
    same_repr(lambda lib: lib.tensor([]))
    same_repr(lambda lib: lib.zeros(0, 3))
    same_repr(lambda lib: lib.zeros(2, 0, dtype=lib.int64))
    same_repr(lambda lib: lib.tensor([], dtype=lib.float64))
    same_repr(lambda lib: lib.zeros(1, 1, 1))


@needs_torch
def test_shape_and_dtype_reprs():
    assert repr(fastad.zeros(64, 1).shape) == repr(torch.zeros(64, 1).shape)
    assert repr(fastad.tensor(1.0).shape) == repr(torch.tensor(1.0).shape)
    for d in ["float32", "float64", "int64", "bool"]:
        assert repr(getattr(fastad, d)) == repr(getattr(torch, d))
    assert repr(fastad.float) == repr(torch.float) and repr(fastad.double) == repr(torch.double)
    assert repr(fastad.long) == repr(torch.long)


@needs_torch
def test_wide_rows_wrap():
    same_repr(lambda lib: lib.arange(30, dtype=lib.float32) / 7)
    same_repr(lambda lib: lib.arange(40))
    same_repr(lambda lib: lib.ones(3, 20) / 3)


@needs_torch
def test_default_dtype_float64_repr():
    fastad.set_default_dtype(fastad.float64)
    torch.set_default_dtype(torch.float64)
    try:
        same_repr(lambda lib: lib.tensor([1.5, 2.0]))
        same_repr(lambda lib: lib.tensor([1.5, 2.0], dtype=lib.float32))
    finally:
        fastad.set_default_dtype(fastad.float32)
        torch.set_default_dtype(torch.float32)


@needs_torch
def test_str_and_format():
    for prog in [lambda lib: lib.tensor([0.25, 1.0]), lambda lib: lib.tensor(2.5)]:
        assert str(prog(fastad)) == str(prog(torch))
    assert f"{fastad.tensor(2.5):.2f}" == f"{torch.tensor(2.5):.2f}"
    assert f"loss {fastad.tensor(0.123456).item():.4f}" == f"loss {torch.tensor(0.123456).item():.4f}"


@needs_torch
@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, width=32),
                min_size=1, max_size=8),
       st.sampled_from(["float32", "float64"]))
def test_random_vectors(vals, dt):
    same_repr(lambda lib: lib.tensor(vals, dtype=getattr(lib, dt)))


@needs_torch
def test_summarized_large_tensors():
    same_repr(lambda lib: lib.arange(2000))
    same_repr(lambda lib: lib.arange(3000, dtype=lib.float32).reshape(50, 60) / 7)
    same_repr(lambda lib: lib.arange(2400, dtype=lib.float64).reshape(2, 30, 40) * 1e-6)
    same_repr(lambda lib: lib.ones(1001) > 0)


@needs_torch
def test_suffix_wrapping():
    same_repr(lambda lib: lib.ones(3, 20, requires_grad=True) / 3)
    same_repr(lambda lib: lib.ones(2, 7, dtype=lib.float64, requires_grad=True) * 1.123)
    same_repr(lambda lib: lib.arange(17, dtype=lib.float64) * 1.5)
