"""float16 tensors that require grad, as PyTorch's CPU half: an op computes in
float32 and rounds its result once to float16 (fastad's kernels take float32
and float64), and gradients come back in float16.  Against PyTorch for every
op of the registry and every case; torch-free against the same computation in
float32."""
import numpy as np
import pytest

import fastad
from conftest import needs_torch, optional_torch
from fastad.ops import OPS

# float16 keeps 11 significant bits (eps 9.8e-4): a few roundings apart, through
# chains of float16 intermediates
VALUE_TOL = dict(rtol=2e-2, atol=2e-2)
GRAD_TOL = dict(rtol=5e-2, atol=5e-2)

# PyTorch's CPU LAPACK kernels refuse float16; fastad raises the same errors
LAPACK_OPS = ("det", "inverse", "linalg.solve", "linalg.cholesky", "linalg.qr", "linalg.eigh",
              "linalg.svd", "linalg.svdvals")


def _half_inputs(op, c, rng):
    return [a.astype(np.float16) for a in op.draw(rng, c.shapes, np.float32)]


def _run(op, c, lib, arrays, params=None, dtype="float16"):
    """The case's outputs that require grad, and the gradients of their float32
    sum with respect to every input (None where unused), the inputs (float16
    arrays) and parameters taken to dtype."""
    inputs = [lib.tensor(a.copy(), requires_grad=True, dtype=getattr(lib, dtype))
              for a in arrays]
    kw = c.options
    if op.module is None:
        fn = lambda *ts: op.call(lib, *ts, **kw)  # noqa: E731
    else:
        m = op.module(lib).to(getattr(lib, dtype))
        with lib.no_grad():
            for p, v in zip(m.parameters(), params):
                p.copy_(lib.tensor(v))
        inputs += list(m.parameters())
        fn = lambda *ts: op.call(lib, m, *ts[:len(arrays)], **kw)  # noqa: E731
    out = fn(*inputs)
    outs = [o for o in (out if isinstance(out, (tuple, list)) else (out,))
            if isinstance(o, lib.Tensor) and o.requires_grad]
    assert outs, f"{op.name}: no output requires grad"
    total = sum(o.float().sum() for o in outs)
    grads = lib.autograd.grad(total, inputs, allow_unused=True)
    return ([(str(o.dtype).replace(dtype, "float16"), o.detach().float().numpy()) for o in outs],
            [None if g is None else (str(g.dtype).replace(dtype, "float16"), g.float().numpy())
             for g in grads])


@needs_torch
@pytest.mark.parametrize("op", [op for op in OPS if op.torch and op.name not in LAPACK_OPS],
                         ids=lambda op: op.name)
def test_op_in_float16_as_torch(op):
    torch = optional_torch()
    rng = np.random.default_rng(0)
    for c in op.cases:
        arrays = _half_inputs(op, c, rng)
        params = None
        if op.module is not None:
            torch.manual_seed(0)
            params = [p.detach().half().numpy() for p in op.module(torch).parameters()]
        try:
            torch.manual_seed(0)
            expected = _run(op, c, torch, arrays, params)
        except (RuntimeError, NotImplementedError) as e:
            fastad.manual_seed(0)
            try:
                _run(op, c, fastad, arrays, params)
            except type(e):
                continue                # refused in float16, as PyTorch refuses it
            # fastad computes what PyTorch has no half kernel for: PyTorch's float32
            # result from the same float16 values is what a half kernel would round
            torch.manual_seed(0)
            expected = _run(op, c, torch, arrays, params, "float32")
        fastad.manual_seed(0)
        got = _run(op, c, fastad, arrays, params)
        for (fd, fv), (td, tv) in zip(got[0], expected[0]):
            assert fd == td
            np.testing.assert_allclose(fv, tv, equal_nan=True, **VALUE_TOL)
        for f, t in zip(got[1], expected[1]):
            assert (f is None) == (t is None)
            if f is not None:
                assert f[0] == t[0] == "torch.float16"
                np.testing.assert_allclose(f[1], t[1], equal_nan=True, **GRAD_TOL)


@pytest.mark.parametrize("name", LAPACK_OPS)
def test_lapack_ops_refuse_float16_as_torch(name):
    op = next(op for op in OPS if op.name == name)
    arrays = _half_inputs(op, op.cases[0], np.random.default_rng(0))
    expected = RuntimeError if name == "inverse" else NotImplementedError
    with pytest.raises(expected, match="Half"):
        op.call(fastad, *[fastad.tensor(a) for a in arrays], **op.cases[0].options)


def _mlp(dtype, rng):
    """A two-layer tanh MLP's loss and its parameters, in dtype."""
    x = fastad.tensor(rng.uniform(-1, 1, (8, 5)).astype(np.float16), dtype=dtype)
    target = fastad.tensor(rng.integers(0, 3, 8))
    model = fastad.nn.Sequential(fastad.nn.Linear(5, 16), fastad.nn.Tanh(),
                                 fastad.nn.Linear(16, 3))
    with fastad.no_grad():
        for p in model.parameters():
            p.copy_(fastad.tensor(rng.uniform(-0.5, 0.5, tuple(p.shape)).astype(np.float16)))
    model.to(dtype)
    return model, fastad.nn.functional.cross_entropy(model(x), target)


def test_float16_gradients_are_float32_gradients_rounded():
    grads = {}
    for dtype in (fastad.float16, fastad.float32):
        model, loss = _mlp(dtype, np.random.default_rng(3))
        assert loss.dtype == dtype and loss.requires_grad
        loss.backward()
        assert all(p.grad.dtype == dtype for p in model.parameters())
        grads[dtype] = [p.grad.float().numpy() for p in model.parameters()]
    for g16, g32 in zip(grads[fastad.float16], grads[fastad.float32]):
        np.testing.assert_allclose(g16, g32, rtol=1e-2, atol=2e-3)


def test_a_float16_model_trains():
    model, _ = _mlp(fastad.float16, np.random.default_rng(4))
    rng = np.random.default_rng(5)
    x = fastad.tensor(rng.uniform(-1, 1, (8, 5)), dtype=fastad.float16)
    target = fastad.tensor(rng.integers(0, 3, 8))
    opt = fastad.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = fastad.nn.functional.cross_entropy(model(x), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(p.dtype == fastad.float16 for p in model.parameters())
    assert losses[-1] < 0.5 * losses[0]


def test_zero_dim_float16_gradients_accumulate():
    # a 0-d float16 tensor's values are an array (not an inline scalar): two uses
    # sum two 0-d gradient arrays, which numpy turns into a scalar
    x = fastad.tensor(2.0, dtype=fastad.float16, requires_grad=True)
    y = x * x + x * 3.0 + x.exp()
    y.backward()
    assert x.grad.dtype == fastad.float16 and x.grad.dim() == 0
    assert x.grad.item() == pytest.approx(4 + 3 + np.exp(2.0), rel=2e-3)


def test_casts_between_float16_and_float32_carry_gradients():
    x = fastad.tensor([0.5, -1.5], dtype=fastad.float16, requires_grad=True)
    y = x.float() * fastad.tensor([2.0, 3.0])
    assert y.grad_fn.name() == "MulBackward0"
    y.half().sum().backward()
    assert x.grad.dtype == fastad.float16
    np.testing.assert_array_equal(x.grad.numpy(), np.array([2.0, 3.0], np.float16))


@needs_torch
@pytest.mark.parametrize("make", [
    lambda L, ps: L.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
    lambda L, ps: L.optim.Adam(ps, lr=0.01),
    lambda L, ps: L.optim.AdamW(ps, lr=0.01),
    lambda L, ps: L.optim.RMSprop(ps, lr=0.01),
], ids=["SGD", "Adam", "AdamW", "RMSprop"])
def test_float16_training_steps_as_torch(make):
    torch = optional_torch()
    x = np.linspace(-1, 1, 8).reshape(2, 4)
    result = {}
    for L in (fastad, torch):
        L.manual_seed(0)
        m = L.nn.Linear(4, 3).half()
        opt = make(L, m.parameters())
        for _ in range(5):
            opt.zero_grad()
            loss = (m(L.tensor(x, dtype=L.float16)) ** 2).sum()
            loss.backward()
            opt.step()
        assert m.weight.dtype == L.float16
        result[L] = (loss.item(), m.weight.detach().float().numpy())
    assert result[fastad][0] == pytest.approx(result[torch][0], rel=2e-3)
    np.testing.assert_allclose(result[fastad][1], result[torch][1], rtol=2e-3, atol=2e-3)
