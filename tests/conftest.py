"""Shared helpers for the engine tests: torch is the oracle (tests skip, never
fail, without it); every comparison checks values, dtypes and gradients."""
import gc
import os

import numpy as np
import pytest

import fastad

TOL = {"float32": dict(rtol=1e-4, atol=1e-5), "float64": dict(rtol=1e-10, atol=1e-12)}
NP = {"float32": np.float32, "float64": np.float64}


def live_graphs():
    """How many tapes are alive after a full collection."""
    gc.collect()
    return sum(type(o) is fastad._tape.Graph for o in gc.get_objects())


def get_torch():
    return pytest.importorskip("torch")


def optional_torch():
    """torch, or None where it is not installed (mark its tests needs_torch)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


needs_torch = pytest.mark.skipif(optional_torch() is None,
                                 reason="compares with PyTorch, the test oracle, not installed")


# Under AddressSanitizer, time measures the instrumentation and RSS the freed
# memory held in quarantine: the timing and memory tests need the plain build.
plain_build = pytest.mark.skipif(os.environ.get("FASTAD_SANITIZE") == "1",
                                 reason="times and RSS mean nothing in a sanitizer build")


@pytest.fixture
def torch():
    return get_torch()


@pytest.fixture(autouse=True)
def _restore_grad_mode():
    fastad.set_default_dtype(fastad.float32)
    yield
    fastad.set_default_dtype(fastad.float32)
    fastad._tensor._set_grad_enabled(True)


def dtype_name(d):
    return str(d).replace("torch.", "")


def to_np(t):
    """Values of a fastad or torch tensor (or number) as an ndarray."""
    if hasattr(t, "detach"):
        t = t.detach()
    if hasattr(t, "numpy"):
        return np.asarray(t.numpy())
    return np.asarray(t)


def assert_same(f, t, tol=None, dtype=True):
    """fastad tensor f equals torch tensor t: shape, dtype and values."""
    torch = get_torch()
    if isinstance(t, torch.Tensor):
        assert isinstance(f, fastad.Tensor), type(f)
        assert tuple(f.shape) == tuple(t.shape), (f.shape, t.shape)
        if dtype:
            assert dtype_name(f.dtype) == dtype_name(t.dtype), (f.dtype, t.dtype)
        tol = tol or TOL.get(dtype_name(t.dtype), dict(rtol=0, atol=0))
        fa, ta = to_np(f), to_np(t)
        if ta.dtype.kind in "fc":
            np.testing.assert_allclose(fa, ta, equal_nan=True, **tol)
        else:
            np.testing.assert_array_equal(fa, ta)
    else:
        assert f == t


def pair(arr, requires_grad=True):
    """The same values as a fastad and a torch tensor."""
    torch = get_torch()
    arr = np.asarray(arr)
    rg = requires_grad and arr.dtype.kind == "f"
    f = fastad.tensor(arr.copy(), requires_grad=rg)
    t = torch.tensor(arr.copy(), requires_grad=rg)
    return f, t


def check_case(case, dt=None, check_grad_fn=True):
    """check_fn over one (fn, arrays) case, the arrays cast to dt."""
    fn, arrays = case
    return check_fn(fn, [a.astype(dt) for a in arrays] if dt else arrays,
                    check_grad_fn=check_grad_fn)


def check_fn(fn, arrays, tol=None, seed=0, grad_tol=None, check_grad_fn=True):
    """Runs fn(lib, *tensors) in fastad and torch on the same inputs; compares
    the output (value, shape, dtype, grad_fn name) and the gradient of every
    float input under a random upstream gradient."""
    torch = get_torch()
    pairs = [pair(a) for a in arrays]
    fs, ts = [p[0] for p in pairs], [p[1] for p in pairs]
    try:
        to = fn(torch, *ts)
    except Exception as e:  # torch refuses: fastad must refuse with the same class
        with pytest.raises(type(e)):
            fn(fastad, *fs)
        return None, None
    fo = fn(fastad, *fs)
    assert_same(fo, to, tol)
    assert fo.requires_grad == to.requires_grad
    if check_grad_fn:
        if to.grad_fn is None:
            assert fo.grad_fn is None
        else:
            assert fo.grad_fn is not None, to.grad_fn.name()
            assert fo.grad_fn.name() == to.grad_fn.name()
    if not to.requires_grad:
        return fo, to
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(tuple(to.shape)).astype(to_np(to).dtype)
    if g.ndim == 0:
        fo.backward(fastad.tensor(g))
    else:
        fo.backward(fastad.tensor(g))
    to.backward(torch.tensor(g))
    for f, t in zip(fs, ts):
        if t.grad is None:
            assert f.grad is None
        else:
            assert f.grad is not None
            assert_same(f.grad, t.grad, grad_tol or tol)
    return fo, to


def torch_oracle(op):
    """PyTorch's function for a row of the op table (fastad.opdefs.UNARY), called
    as fn(tensor, **the row's parameters): torch.nn.functional.<name>, else
    torch.<name>; gelu_tanh is F.gelu's approximate="tanh" form."""
    torch = get_torch()
    if op.name == "gelu_tanh":
        return lambda t: torch.nn.functional.gelu(t, approximate="tanh")
    return getattr(torch.nn.functional, op.name, None) or getattr(torch, op.name)


def row_params(op):
    """The parameter sets a row is checked at: its defaults, then its cases."""
    return [dict(op.params)] + [dict(dict(op.params), **c) for c in op.cases]
