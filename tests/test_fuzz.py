"""Random programs: each either raises a Python exception, or gives values and
gradients that match PyTorch (where installed) and central finite differences."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastad

try:
    import torch
except ImportError:  # the finite-difference half still runs
    torch = None

UNARY = ["exp", "tanh", "sigmoid", "sin", "cos", "relu", "abs", "neg"]
BINARY = ["add", "sub", "mul", "div"]
SHAPES = st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple)


@st.composite
def programs(draw):
    steps = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["unary", "binary", "reduce", "shape", "index", "matmul",
                                     "softmax", "clamp", "cat"]))
        if kind == "unary":
            steps.append(("unary", draw(st.sampled_from(UNARY))))
        elif kind == "binary":
            steps.append(("binary", draw(st.sampled_from(BINARY)), draw(SHAPES),
                          draw(st.integers(0, 2 ** 31 - 1)), draw(st.booleans())))
        elif kind == "reduce":
            steps.append(("reduce", draw(st.sampled_from(["sum", "mean", "max", "min"])),
                          draw(st.one_of(st.none(), st.integers(-4, 4))), draw(st.booleans())))
        elif kind == "shape":
            op = draw(st.sampled_from(["reshape", "transpose", "unsqueeze", "squeeze", "flatten", "t"]))
            steps.append(("shape", op, draw(st.integers(-4, 4)), draw(st.integers(-4, 4))))
        elif kind == "index":
            steps.append(("index", draw(st.integers(-5, 5)),
                          draw(st.lists(st.integers(-5, 5), min_size=1, max_size=3))))
        elif kind == "matmul":
            steps.append(("matmul", draw(SHAPES.filter(lambda s: len(s) >= 1)),
                          draw(st.integers(0, 2 ** 31 - 1))))
        elif kind == "softmax":
            steps.append(("softmax", draw(st.booleans()), draw(st.integers(-4, 4))))
        elif kind == "clamp":
            steps.append(("clamp",))
        else:
            steps.append(("cat", draw(st.integers(-4, 4))))
    return steps


def run(lib, steps, x):
    """Applies the program with lib (fastad or torch); constants come from seeds."""
    y = x
    for step in steps:
        kind = step[0]
        if kind == "unary":
            y = getattr(y, step[1])()
        elif kind == "binary":
            _, op, shape, seed, left = step
            other = lib.tensor(np.random.default_rng(seed).uniform(0.5, 2.0, shape))
            a, b = (y, other) if left else (other, y)
            y = getattr(a, op)(b)
        elif kind == "reduce":
            _, op, dim, keepdim = step
            if dim is None:
                y = getattr(y, op)()
            else:
                y = getattr(y, op)(dim, keepdim)
                if op in ("max", "min"):
                    y = y[0]
        elif kind == "shape":
            _, op, a, b = step
            if op == "reshape":
                y = y.reshape(-1, abs(a) + 1)
            elif op == "transpose":
                y = y.transpose(a, b)
            elif op == "unsqueeze":
                y = y.unsqueeze(a)
            elif op == "squeeze":
                y = y.squeeze(a)
            elif op == "flatten":
                y = y.flatten()
            else:
                y = y.t()
        elif kind == "index":
            _, i, idx = step
            y = y[i] if y.dim() < 2 else y[:, lib.tensor(idx)]
        elif kind == "matmul":
            _, shape, seed = step
            y = y @ lib.tensor(np.random.default_rng(seed).uniform(-1.0, 1.0, shape))
        elif kind == "softmax":
            _, take_log, dim = step
            y = y.log_softmax(dim) if take_log else y.softmax(dim)
        elif kind == "clamp":
            y = y.clamp(-0.7, 0.9)
        else:
            y = lib.cat([y, y * 2], step[1])
    return y.sum()


def finite_differences(steps, x0, eps=1e-6):
    grad = np.zeros_like(x0)
    flat = grad.reshape(-1)
    for k in range(x0.size):
        xp, xm = x0.copy(), x0.copy()
        xp.reshape(-1)[k] += eps
        xm.reshape(-1)[k] -= eps
        with fastad.no_grad():
            fp = run(fastad, steps, fastad.tensor(xp)).item()
            fm = run(fastad, steps, fastad.tensor(xm)).item()
        flat[k] = (fp - fm) / (2 * eps)
    return grad


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=SHAPES, seed=st.integers(0, 2 ** 31 - 1), steps=programs())
def test_random_programs(shape, seed, steps):
    x0 = np.random.default_rng(seed).uniform(-1.5, 1.5, shape)
    x = fastad.tensor(x0, requires_grad=True)
    try:
        out = run(fastad, steps, x)
        out.backward()
    except (RuntimeError, IndexError, ValueError, TypeError, NotImplementedError):
        # a clean Python exception is acceptable where PyTorch refuses the program too
        if torch is not None:
            with pytest.raises(Exception):
                run(torch, steps, torch.tensor(x0, requires_grad=True)).backward()
        return
    assert x.grad is not None and x.grad.shape == x.shape
    g = x.grad.numpy()
    if torch is not None:
        xt = torch.tensor(x0, requires_grad=True)
        outt = run(torch, steps, xt)
        outt.backward()
        np.testing.assert_allclose(out.item(), outt.item(), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-7, atol=1e-9)
    # kinks (relu, abs, clamp, max) make finite differences meaningless right at
    # them, and huge values or slopes (exp of exp, sin of exp of exp) swamp a
    # central difference's error bound
    if abs(out.item()) < 1e4 and np.abs(g).max(initial=0.0) < 1e4 and not any(s[0] in ("clamp", "reduce") or (s[0] == "unary" and s[1] in ("relu", "abs"))
               for s in steps):
        fd = finite_differences(steps, x0)
        np.testing.assert_allclose(g, fd, rtol=1e-4, atol=1e-5)
