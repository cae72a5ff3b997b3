"""fastad.autograd.functional against torch.autograd.functional: the functions
of H1-H4, a non-square Jacobian, several inputs, create_graph and strict."""
import numpy as np
import pytest

import fastad
from conftest import needs_torch

torch = pytest.importorskip("torch")


def _np(x):
    if isinstance(x, tuple):
        return tuple(_np(e) for e in x)
    return np.asarray(x.detach().numpy())


def _close(a, b):
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            _close(x, y)
        return
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def himmelblau(lib):
    return lambda x: (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2


def tanh_sq(lib):
    A = lib.tensor(np.random.default_rng(0).standard_normal((6, 5)), dtype=lib.float64)
    return lambda x: (lib.tanh(A @ x) ** 2).sum()


def non_square(lib):
    W = lib.tensor(np.random.default_rng(1).standard_normal((3, 4)), dtype=lib.float64)
    return lambda x, y: ((W @ x).sin() * y, (x * x).sum())


def _args(lib, *shapes, seed=2):
    rng = np.random.default_rng(seed)
    return tuple(lib.tensor(rng.uniform(-1, 1, s), dtype=lib.float64) for s in shapes)


@needs_torch
@pytest.mark.parametrize("vectorize", [False, True])
@pytest.mark.parametrize("make,shapes", [(himmelblau, [(2,)]), (tanh_sq, [(5,)])])
def test_hessian(make, shapes, vectorize):
    out = [lib.autograd.functional.hessian(make(lib), _args(lib, *shapes)[0],
                                           vectorize=vectorize)
           for lib in (fastad, torch)]
    _close(_np(out[0]), _np(out[1]))


@needs_torch
@pytest.mark.parametrize("create_graph", [False, True])
def test_jacobian_non_square_two_inputs(create_graph):
    res = []
    for lib in (fastad, torch):
        x, y = _args(lib, (4,), (3,))
        res.append(lib.autograd.functional.jacobian(non_square(lib), (x, y),
                                                    create_graph=create_graph))
    _close(_np(res[0]), _np(res[1]))
    assert res[0][0][0].requires_grad == res[1][0][0].requires_grad


@needs_torch
def test_vjp_jvp_hvp_vhp():
    res = []
    for lib in (fastad, torch):
        F = lib.autograd.functional
        x, v = _args(lib, (5,), (5,))
        u, = _args(lib, (6,), seed=5)
        f = tanh_sq(lib)
        A = lib.tensor(np.random.default_rng(0).standard_normal((6, 5)), dtype=lib.float64)
        res.append((F.vjp(lambda x: lib.tanh(A @ x), x, u), F.jvp(lambda x: lib.tanh(A @ x), x, v),
                    F.hvp(f, x, v), F.vhp(f, x, v)))
    for a, b in zip(res[0], res[1]):
        _close(_np(a), _np(b))


def test_strict_raises_for_an_independent_input():
    x, y = _args(fastad, (3,), (3,))
    with pytest.raises(RuntimeError, match="independent of input 1"):
        fastad.autograd.functional.vjp(lambda a, b: (a * 2).sum(), (x, y), strict=True)
    _, g = fastad.autograd.functional.vjp(lambda a, b: (a * 2).sum(), (x, y))
    np.testing.assert_array_equal(g[1].numpy(), 0)


def test_create_graph_keeps_results_differentiable():
    x, = _args(fastad, (3,))
    x.requires_grad_(True)
    H = fastad.autograd.functional.hessian(lambda v: (v ** 3).sum(), x, create_graph=True)
    assert H.requires_grad
    d, = fastad.autograd.grad(H.sum(), x)
    np.testing.assert_allclose(d.numpy(), 6.0)


def _mlp(lib, x, w1, b1, w2, b2):
    F = lib.nn.functional
    return F.linear(lib.tanh(F.linear(x, w1, b1)), w2, b2)


def _mlp_params(lib, sizes, seed):
    rng = np.random.default_rng(seed)
    return tuple(lib.tensor(rng.uniform(-1, 1, s), dtype=lib.float64)
                 for s in ((sizes[1], sizes[0]), (sizes[1],), (sizes[2], sizes[1]), (sizes[2],)))


@needs_torch
@pytest.mark.parametrize("vectorize", [False, True])
def test_hvp_and_hessian_of_h2s_loss(vectorize):
    """H2's function: an MLP's cross-entropy as a function of its parameters
    (smaller: 6-5-3, batch 4), its Hessian-vector product and Hessian."""
    res = []
    for lib in (fastad, torch):
        rng = np.random.default_rng(3)
        x = lib.tensor(rng.standard_normal((4, 6)), dtype=lib.float64)
        y = lib.tensor(np.array([0, 2, 1, 2]))
        params = _mlp_params(lib, (6, 5, 3), 4)
        v = _mlp_params(lib, (6, 5, 3), 5)

        def loss(*p):
            return lib.nn.functional.cross_entropy(_mlp(lib, x, *p), y)
        res.append((lib.autograd.functional.hvp(loss, params, v),
                    lib.autograd.functional.hessian(
                        lambda w2, b2: loss(params[0], params[1], w2, b2), params[2:],
                        vectorize=vectorize)))
    _close(_np(res[0][0]), _np(res[1][0]))
    _close(_np(res[0][1]), _np(res[1][1]))


@needs_torch
@pytest.mark.parametrize("create_graph", [False, True])
def test_vjp_of_h3s_gradient_penalty(create_graph):
    """H3's function: a critic's gradient penalty, which differentiates the critic
    inside (create_graph), as a function of the critic's parameters; and the
    Jacobian of the critic's output in its input."""
    res = []
    for lib in (fastad, torch):
        x0 = lib.tensor(np.random.default_rng(6).standard_normal((5, 2)), dtype=lib.float64)
        params = _mlp_params(lib, (2, 4, 1), 7)

        def penalty(*p):
            x = x0.detach().requires_grad_(True)
            out = _mlp(lib, x, *p)
            g, = lib.autograd.grad(out.sum(), x, create_graph=True)
            return out.mean() + 10 * ((g.norm(dim=1) - 1) ** 2).mean()
        value, grads = lib.autograd.functional.vjp(penalty, params, create_graph=create_graph)
        jac = lib.autograd.functional.jacobian(lambda x: _mlp(lib, x, *params), x0,
                                               create_graph=create_graph)
        res.append((value, grads, jac, [g.requires_grad for g in grads] + [jac.requires_grad]))
    for got, want in zip(res[0][:3], res[1][:3]):
        _close(_np(got), _np(want))
    # (the bias of the last layer gets a constant gradient: it requires none)
    assert res[0][3] == res[1][3] == ([True, True, True, False, True] if create_graph
                                      else [False] * 5)
