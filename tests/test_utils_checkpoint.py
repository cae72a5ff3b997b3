"""torch.utils.checkpoint's interface: values, gradients, warnings and errors
as PyTorch's (fastad keeps the activations instead of recomputing them)."""
import warnings

import numpy as np
import pytest

import fastad
from conftest import assert_same, needs_torch

pytestmark = needs_torch


def _run(lib, use_reentrant, requires_grad=True, segments=None):
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 4),
                              lib.nn.ReLU(), lib.nn.Linear(4, 1))
    x = lib.tensor(np.linspace(-1, 1, 6).reshape(2, 3), dtype=lib.float32,
                   requires_grad=requires_grad)
    kw = {} if use_reentrant == "unset" else {"use_reentrant": use_reentrant}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if segments is None:
            out = lib.utils.checkpoint.checkpoint(model, x, **kw)
        else:
            out = lib.utils.checkpoint.checkpoint_sequential(model, segments, x, **kw)
    # .backward(): PyTorch's reentrant variant hides the parameters from autograd.grad
    if out.requires_grad:
        out.sum().backward()
    grads = [p.grad for p in model.parameters()]
    return out, grads, [str(w.message)[:60] for w in caught]


@pytest.mark.parametrize("use_reentrant", ["unset", True, False])
@pytest.mark.parametrize("requires_grad", [True, False])
@pytest.mark.parametrize("segments", [None, 1, 2, 3])
def test_checkpoint_as_pytorchs(use_reentrant, requires_grad, segments):
    import torch
    got = _run(fastad, use_reentrant, requires_grad, segments)
    want = _run(torch, use_reentrant, requires_grad, segments)
    assert_same(got[0], want[0])
    assert len(got[1]) == len(want[1])
    for g, w in zip(got[1], want[1]):
        assert (g is None) == (w is None)
        if w is not None:
            assert_same(g, w)
    assert got[2] == want[2]


def test_keyword_arguments():
    import torch
    for lib in (fastad, torch):
        x = lib.ones(2, requires_grad=True)
        with pytest.raises(ValueError, match="Unexpected keyword arguments: scale"):
            lib.utils.checkpoint.checkpoint(lambda a, scale: a * scale, x, use_reentrant=True,
                                            scale=2.0)
        y = lib.utils.checkpoint.checkpoint(lambda a, scale: a * scale, x, use_reentrant=False,
                                            scale=2.0)
        assert y.detach().numpy().tolist() == [2.0, 2.0]
