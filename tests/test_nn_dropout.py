"""Dropout and its variants against PyTorch: the same seed gives the same mask
(fastad's generator reproduces PyTorch's bernoulli_ stream), the same values and
gradients; training flag, p = 0 / 1, in place, the modules' modes."""
import numpy as np
import pytest

import fastad
import fastad.nn as nn
import fastad.nn.functional as F
from conftest import check_fn, needs_torch

VARIANTS = [("dropout", (4, 5, 3)), ("dropout1d", (4, 5, 3)), ("dropout1d", (5, 3)),
            ("dropout2d", (2, 5, 3, 2)), ("dropout3d", (2, 3, 2, 2, 2)),
            ("alpha_dropout", (4, 6)), ("feature_alpha_dropout", (2, 5, 3))]


@needs_torch
@pytest.mark.parametrize("name,shape", VARIANTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_mask_values_and_gradients_as_torch(name, shape, dtype):
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)

    def fn(lib, t):
        lib.manual_seed(7)
        return getattr(lib.nn.functional, name)(t, 0.3, True)
    check_fn(fn, [x], tol=dict(rtol=0, atol=0), grad_tol=dict(rtol=0, atol=0))


def test_eval_and_p_zero_return_the_input():
    x = fastad.randn(3, 4)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x


def test_p_one_zeroes_and_bad_p_raises():
    x = fastad.randn(3, 4, requires_grad=True)
    y = F.dropout(x, 1.0)
    assert (y.detach().numpy() == 0).all()
    y.sum().backward()
    assert (x.grad.numpy() == 0).all()
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        F.dropout(x, 1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(-0.1)
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input"):
        F.dropout1d(fastad.randn(2, 3, 4, 5))


def test_kept_fraction_and_scale():
    fastad.manual_seed(0)
    y = F.dropout(fastad.ones(200, 500), 0.3).numpy()
    assert set(np.unique(y).tolist()) == {0.0, np.float32(1 / np.float32(0.7))}
    assert abs((y == 0).mean() - 0.3) < 0.01


def test_channel_dropout_zeroes_whole_channels():
    fastad.manual_seed(1)
    y = F.dropout2d(fastad.ones(8, 16, 3, 3), 0.5).numpy()
    per_channel = y.reshape(8, 16, -1)
    assert ((per_channel == 0).all(-1) | (per_channel == 2).all(-1)).all()


def test_inplace_modifies_the_input():
    x = fastad.ones(4, 4) * 1.0
    fastad.manual_seed(0)
    y = F.dropout(x, 0.5, inplace=True)
    assert y is x and set(np.unique(x.numpy()).tolist()) <= {0.0, 2.0}


@needs_torch
def test_module_follows_train_and_eval():
    import torch
    x = np.random.default_rng(0).standard_normal((6, 7)).astype(np.float32)
    for cls in ("Dropout", "AlphaDropout"):
        a, b = getattr(nn, cls)(0.25), getattr(torch.nn, cls)(0.25)
        assert repr(a) == repr(b)
        fastad.manual_seed(3)
        torch.manual_seed(3)
        np.testing.assert_array_equal(a(fastad.tensor(x)).numpy(), b(torch.tensor(x)).numpy())
        a.eval()
        np.testing.assert_array_equal(a(fastad.tensor(x)).numpy(), x)
