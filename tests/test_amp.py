"""torch.amp's GradScaler (the same scales, skipped steps and parameters as
PyTorch's on the CPU, its errors and state dict) and autocast's interface."""
import warnings

import numpy as np
import pytest

import fastad
from conftest import needs_torch


def _train(lib, grads, **kw):
    """Runs the scaler over steps whose gradient (before scaling) is grads[k]."""
    w = lib.tensor([1.0, -2.0, 0.5], requires_grad=True)
    opt = lib.optim.SGD([w], lr=0.1)
    scaler = lib.amp.GradScaler("cpu", **kw)
    seen = []
    for g in grads:
        opt.zero_grad()
        loss = (w * lib.tensor(g, dtype=lib.float32)).sum()
        scaler.scale(loss).backward()
        seen.append(w.grad.numpy().copy())
        scaler.unscale_(opt)
        seen.append(w.grad.numpy().copy())
        scaler.step(opt)
        scaler.update()
        seen.append((w.detach().numpy().copy(), scaler.get_scale(), scaler.state_dict()))
    return seen


GRADS = [[1.0, 2.0, 3.0], [np.inf, 1.0, 0.0], [0.5, np.nan, 1.0], [1.0, 1.0, 1.0],
         [2.0, 0.0, -1.0], [1.0, 2.0, 3.0]]


@needs_torch
@pytest.mark.parametrize("kw", [{}, {"init_scale": 3.3, "growth_interval": 2},
                                {"init_scale": 2.0**127, "growth_interval": 1}])
def test_grad_scaler_as_pytorchs(kw):
    import torch
    got, want = _train(fastad, GRADS, **kw), _train(torch, GRADS, **kw)
    for g, w in zip(got, want):
        if isinstance(g, tuple):
            np.testing.assert_allclose(g[0], w[0], rtol=1e-6)  # the SGD steps: 1 ulp
            assert g[1:] == w[1:]
        else:
            np.testing.assert_array_equal(g, w)


@needs_torch
def test_grad_scaler_errors_and_disabled_forms():
    import torch
    for lib in (fastad, torch):
        w = lib.ones(2, requires_grad=True)
        opt = lib.optim.SGD([w], lr=0.1)
        s = lib.amp.GradScaler("cpu")
        with pytest.raises(AssertionError, match="did not use scaler.scale"):
            s.step(opt)
        s.scale(w.sum()).backward()
        s.unscale_(opt)
        with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called"):
            s.unscale_(opt)
        s.step(opt)
        with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
            s.step(opt)
        with pytest.raises(RuntimeError, match="Closure use is not currently supported"):
            s.step(opt, closure=lambda: 0)
        with pytest.raises(AssertionError, match="growth factor must be > 1.0"):
            lib.amp.GradScaler("cpu", growth_factor=1.0)
        with pytest.raises(RuntimeError, match="source state dict is empty"):
            lib.amp.GradScaler("cpu").load_state_dict({})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            off = lib.amp.GradScaler()              # "cuda", not available: disabled
            legacy = lib.cuda.amp.GradScaler(enabled=False)
        assert [str(c.message)[:39] for c in caught] == [
            "torch.cuda.amp.GradScaler is enabled, b", "`torch.cuda.amp.GradScaler(args...)` is"]
        loss = w.sum()
        assert off.scale(loss) is loss and legacy.scale(loss) is loss
        assert (off.get_scale(), off.state_dict(), off.is_enabled()) == (1.0, {}, False)


@needs_torch
def test_autocast_checks_as_pytorchs():
    import torch
    for lib in (fastad, torch):
        with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
            lib.autocast(3)
        with pytest.raises(RuntimeError, match="device type at start of device string: tpu"):
            lib.autocast("tpu")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.autocast("cuda")
            lib.autocast("cpu", dtype=lib.float64)
        assert [str(c.message)[:30] for c in caught] == [
            "CUDA is not available or torch", "In CPU autocast, but the targe"]


def test_autocast_runs_ops_in_their_dtype():
    x = fastad.ones(2, 3, requires_grad=True)

    @fastad.autocast("cpu")
    def f(x):
        return x @ x.T

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with fastad.amp.autocast("cpu", dtype=fastad.bfloat16):
            y = x @ x.T
        z = f(x)
    assert y.dtype == z.dtype == fastad.float32
    z.sum().backward()
    assert x.grad is not None
