"""Issue 14, point 6: products and fastad.linalg against PyTorch: values and
gradients (decompositions on well-conditioned inputs), batches, errors."""
import numpy as np
import pytest

import fastad
from conftest import assert_same, check_fn, needs_torch

pytestmark = needs_torch


def _r(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape)


def _well(*shape, seed=0):
    return np.eye(shape[-2], shape[-1]) + 0.3 * _r(*shape, seed=seed)


@pytest.mark.parametrize("fn,arrays", [
    (lambda lib, a, b: lib.bmm(a, b), [_r(2, 3, 4), _r(2, 4, 5, seed=1)]),
    (lambda lib, a, b: a.bmm(b), [_r(2, 3, 4), _r(2, 4, 5, seed=1)]),
    (lambda lib, a, b: lib.mv(a, b), [_r(3, 4), _r(4, seed=1)]),
    (lambda lib, a, b: lib.dot(a, b), [_r(4), _r(4, seed=1)]),
    (lambda lib, a, b: a.dot(b), [_r(4), _r(4, seed=1)]),
    (lambda lib, a, b: lib.outer(a, b), [_r(3), _r(4, seed=1)]),
    (lambda lib, a, b: lib.trace(a) * b.sum(), [_r(3, 4), _r(2)]),
    (lambda lib, a, b: lib.addmm(a, b, b.mT), [_r(3, 3), _r(3, 2, seed=1)]),
    (lambda lib, a, b: lib.addmm(a, b, b.mT, beta=0.5, alpha=2), [_r(3), _r(3, 2, seed=1)]),
    (lambda lib, a, b: lib.baddbmm(a, b, b.mT, alpha=0.5), [_r(2, 3, 3), _r(2, 3, 2, seed=1)]),
    (lambda lib, a: lib.det(a), [_well(3, 3)]),
    (lambda lib, a: lib.linalg.det(a), [_well(2, 3, 3)]),
    (lambda lib, a: a.inverse(), [_well(3, 3)]),
    (lambda lib, a: lib.linalg.inv(a), [_well(2, 3, 3)]),
])
def test_products_and_matrix_functions(fn, arrays):
    check_fn(fn, arrays, check_grad_fn=False)


@pytest.mark.parametrize("fn,arrays", [
    (lambda lib, a, b: lib.inner(a, b), [_r(3, 4), _r(5, 4, seed=1)]),
    (lambda lib, a, b: lib.inner(a, b), [_r(), _r(3, seed=1)]),
    (lambda lib, a, b: lib.tensordot(a, b, 2), [_r(3, 4, 5), _r(4, 5, 2, seed=1)]),
    (lambda lib, a, b: lib.tensordot(a, b, ([0], [1])), [_r(3, 4), _r(2, 3, seed=1)]),
    (lambda lib, a, b: lib.tensordot(a, b, 0), [_r(2), _r(3, seed=1)]),
    (lambda lib, a, b: lib.kron(a, b), [_r(2, 3), _r(3, 2, seed=1)]),
    (lambda lib, a, b: lib.kron(a, b), [_r(2, 2), _r(3, seed=1)]),
    (lambda lib, a, b: lib.cross(a, b, dim=1), [_r(4, 3), _r(4, 3, seed=1)]),
    (lambda lib, a, b: lib.linalg.cross(a, b), [_r(4, 3), _r(1, 3, seed=1)]),
    (lambda lib, a, b: lib.cdist(a, b), [_r(4, 3), _r(5, 3, seed=1)]),
    (lambda lib, a, b: lib.cdist(a, b, p=1.0), [_r(2, 4, 3), _r(2, 5, 3, seed=1)]),
    (lambda lib, a, b: lib.cdist(a, b, p=float("inf")), [_r(4, 3), _r(5, 3, seed=1)]),
])
def test_composite_products(fn, arrays):
    check_fn(fn, arrays, check_grad_fn=False)


@pytest.mark.parametrize("equation,shapes", [
    ("ij,jk->ik", [(3, 4), (4, 5)]), ("ii->", [(3, 3)]), ("ii->i", [(3, 3)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]), ("i,i", [(4,), (4,)]), ("ij->", [(3, 4)]),
    ("...ij,jk->...ik", [(2, 3, 4), (4, 5)]), ("ij,j->i", [(3, 4), (4,)]), ("ij->ji", [(3, 4)]),
    ("i,j->ij", [(3,), (2,)]), ("ijk,ik->j", [(2, 3, 4), (2, 4)])])
def test_einsum(equation, shapes):
    check_fn(lambda lib, *ts: lib.einsum(equation, *ts),
             [_r(*s, seed=i) for i, s in enumerate(shapes)], check_grad_fn=False)


@pytest.mark.parametrize("kw", [{}, dict(dim=1), dict(ord=1, dim=0, keepdim=True),
                                dict(ord=float("inf")), dict(ord=3.0, dim=(0, 1)), dict(ord=0),
                                dict(ord=-float("inf"), dim=1)])
def test_vector_norm(kw):
    check_fn(lambda lib, a: lib.linalg.vector_norm(a, **kw), [_r(3, 4)], check_grad_fn=False)


def test_vector_norm_gradient_at_zero_is_zero_as_in_torch():
    check_fn(lambda lib, a: lib.linalg.vector_norm(a), [np.zeros(3)], check_grad_fn=False)


@pytest.mark.parametrize("ord", ["fro", "nuc", 2, -2, 1, -1, float("inf"), float("-inf")])
def test_matrix_norm(ord):
    check_fn(lambda lib, a: lib.linalg.matrix_norm(a, ord=ord), [_r(3, 4)], check_grad_fn=False)
    check_fn(lambda lib, a: lib.linalg.matrix_norm(a, ord=ord, keepdim=True), [_r(2, 3, 3)],
             check_grad_fn=False)


@pytest.mark.parametrize("args", [dict(), dict(ord=1), dict(dim=(0, 1)), dict(ord="fro"),
                                  dict(ord=2), dict(dim=1)])
def test_linalg_norm(args):
    shape = (5,) if args.get("ord") == 1 else (3, 4)
    check_fn(lambda lib, a: lib.linalg.norm(a, **args), [_r(*shape)], check_grad_fn=False)


@pytest.mark.parametrize("bshape,kw", [((3, 2), {}), ((3,), {}), ((2, 3, 2), {}),
                                       ((2, 3), dict(left=False))])
def test_solve(bshape, kw):
    check_fn(lambda lib, a, b: lib.linalg.solve(a, b, **kw), [_well(3, 3), _r(*bshape, seed=1)],
             check_grad_fn=False)


def _spd(lib, a):
    return a @ a.mT + 3 * lib.eye(3, dtype=a.dtype)


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky(upper):
    check_fn(lambda lib, a: lib.linalg.cholesky(_spd(lib, a), upper=upper), [_r(3, 3)],
             check_grad_fn=False)
    check_fn(lambda lib, a: lib.linalg.cholesky(_spd(lib, a)), [_r(2, 3, 3)], check_grad_fn=False)


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (2, 4, 2)])
def test_qr(shape):
    def f(lib, a):
        q, r = lib.linalg.qr(a)
        return lib.cat([q.flatten(), r.flatten()])
    check_fn(f, [_well(*shape)], check_grad_fn=False)


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)])
def test_eigh(shape):
    def f(lib, a):
        w, v = lib.linalg.eigh(a + a.mT)
        return lib.cat([w.flatten(), (v * v[..., :1, :].sign()).flatten()])
    check_fn(f, [_r(*shape)], check_grad_fn=False)
    check_fn(lambda lib, a: lib.linalg.eigvalsh(a + a.mT), [_r(*shape)], check_grad_fn=False)


@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (2, 3, 3)])
def test_svd(shape):
    def f(lib, a):
        u, s, vh = lib.linalg.svd(a, full_matrices=False)
        sign = u[..., :1, :].sign()
        return lib.cat([s.flatten(), (u * sign).flatten(), (vh * sign.mT).flatten()])
    check_fn(f, [_r(*shape)], check_grad_fn=False)
    check_fn(lambda lib, a: lib.linalg.svdvals(a), [_r(*shape)], check_grad_fn=False)


def test_gradients_pass_gradcheck():
    from fastad.autograd import gradcheck
    a = fastad.tensor(_r(3, 3), requires_grad=True)
    assert gradcheck(lambda x: fastad.linalg.cholesky(x @ x.mT + 3 * fastad.eye(3, dtype=x.dtype)),
                     (a,))
    assert gradcheck(lambda x: fastad.linalg.eigh(x + x.mT).eigenvalues, (a,))


@pytest.mark.parametrize("fn,exc", [
    (lambda lib: lib.linalg.inv(lib.zeros(3, 3)), "LinAlgError"),
    (lambda lib: lib.linalg.cholesky(-lib.eye(3)), "LinAlgError"),
    (lambda lib: lib.bmm(lib.zeros(2, 3), lib.zeros(2, 3)), RuntimeError),
    (lambda lib: lib.dot(lib.zeros(3), lib.zeros(4)), RuntimeError),
    (lambda lib: lib.dot(lib.zeros(3, 1), lib.zeros(3, 1)), RuntimeError),
    (lambda lib: lib.linalg.det(lib.zeros(2, 3)), RuntimeError),
    (lambda lib: lib.cross(lib.zeros(4), lib.zeros(4)), RuntimeError),
])
def test_errors_have_torch_classes(fn, exc, torch):
    if exc == "LinAlgError":
        with pytest.raises(torch.linalg.LinAlgError):
            fn(torch)
        with pytest.raises(fastad.linalg.LinAlgError):
            fn(fastad)
        assert issubclass(fastad.linalg.LinAlgError, RuntimeError)
    else:
        with pytest.raises(exc):
            fn(torch)
        with pytest.raises(exc):
            fn(fastad)


# ---------------------------------------------------------------- nuclear and spectral norms
@pytest.mark.parametrize("fn,shape", [
    (lambda lib, a: lib.norm(a, p="nuc"), (3, 4)),
    (lambda lib, a: a.norm(p="nuc"), (4, 3)),
    (lambda lib, a: a.norm("nuc", (2, 0), True), (3, 2, 4)),
    (lambda lib, a: lib.norm(a, p="nuc", dim=(1, 2)), (2, 3, 4)),
    (lambda lib, a: lib.linalg.norm(a, "nuc"), (3, 4)),
    (lambda lib, a: lib.linalg.norm(a, "nuc", dim=(0, 2)), (3, 2, 4)),
    (lambda lib, a: lib.linalg.matrix_norm(a, "nuc"), (2, 4, 3)),
    (lambda lib, a: lib.linalg.matrix_norm(a, "nuc", dim=(-1, 0), keepdim=True), (4, 2, 3)),
    (lambda lib, a: lib.linalg.matrix_norm(a, 2, dim=(2, 1)), (2, 3, 4)),
    (lambda lib, a: lib.linalg.matrix_norm(a, -2, keepdim=True), (2, 3, 4)),
    (lambda lib, a: lib.linalg.norm(a, -2, dim=(0, 1)), (4, 3, 2)),
    (lambda lib, a: lib.linalg.norm(a, 2), (3, 5)),
    (lambda lib, a: lib.linalg.svdvals(a), (2, 3, 4)),
])
@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_nuclear_and_spectral_norms(fn, shape, dt):
    check_fn(fn, [_r(*shape).astype(dt)])


@pytest.mark.parametrize("ord", ["nuc", 2, -2])
def test_nuclear_and_spectral_norms_pass_gradcheck(ord):
    from fastad.autograd import gradcheck, gradgradcheck
    a = fastad.tensor(_r(2, 3, 4), requires_grad=True)
    assert gradcheck(lambda x: fastad.linalg.matrix_norm(x, ord), (a,))
    assert gradgradcheck(lambda x: fastad.linalg.matrix_norm(x, ord), (a,))


def test_svdvals_gradient_is_finite_where_singular_values_repeat(torch):
    # the identity: every singular value 1; svd's full formula would divide by 0
    check_fn(lambda lib, a: lib.linalg.svdvals(a), [np.eye(3)])
    check_fn(lambda lib, a: lib.norm(a, "nuc"), [np.eye(3)])


@pytest.mark.parametrize("ord", ["nuc", "fro", 2, -2, 1, -1, float("inf"), float("-inf")])
@pytest.mark.parametrize("shape", [(3, 0), (0, 3), (2, 3, 0), (2, 0, 3), (0, 2, 3)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_matrix_norms_of_empty_matrices(ord, shape, keepdim):
    # PyTorch: a max over an empty dim is a constant 0 there, a min an IndexError
    check_fn(lambda lib, a: lib.linalg.matrix_norm(a, ord, keepdim=keepdim), [np.zeros(shape)])


def _a(lib):
    return lib.tensor(_r(2, 3, 4))


@pytest.mark.parametrize("fn", [
    lambda lib: lib.norm(_a(lib), p="nuc"),
    lambda lib: lib.norm(_a(lib), p="fro", dim=(0, 1, 2)),
    lambda lib: lib.norm(_a(lib)[0], "foo"),
    lambda lib: _a(lib).norm("nuc", dim=1),
    lambda lib: _a(lib).norm("nuc", dim=(1, -2)),
    lambda lib: lib.norm(_a(lib)[0], p="nuc", dtype=lib.float32),
    lambda lib: lib.linalg.matrix_norm(_a(lib), 3),
    lambda lib: lib.linalg.matrix_norm(_a(lib), "nuc", dim=(0, 3)),
    lambda lib: lib.linalg.matrix_norm(_a(lib), "nuc", dtype=lib.int64),
    lambda lib: lib.linalg.matrix_norm(_a(lib).long(), "nuc"),
    lambda lib: lib.linalg.matrix_norm(_a(lib).half(), "nuc"),
    lambda lib: lib.linalg.matrix_norm(_a(lib).half(), -2),
    lambda lib: lib.linalg.matrix_norm(_a(lib)[0, 0], "nuc"),
    lambda lib: lib.linalg.matrix_norm(lib.zeros(0, 3), -2),
    lambda lib: lib.linalg.matrix_norm(lib.zeros(2, 3, 0), -1, keepdim=True),
    lambda lib: lib.linalg.norm(_a(lib), "nuc"),
    lambda lib: lib.linalg.norm(_a(lib), 2, dim=(0, 1, 2)),
    lambda lib: lib.linalg.norm(_a(lib)[0], "nuc", dim=0),
    lambda lib: lib.linalg.vector_norm(_a(lib), dtype=lib.float32),
    lambda lib: lib.linalg.svdvals(_a(lib).long()),
    lambda lib: lib.linalg.svdvals(_a(lib)[0, 0]),
])
def test_norm_errors_are_torchs(fn, torch):
    with pytest.raises(Exception) as expected:
        fn(torch)
    with pytest.raises(type(expected.value)) as got:
        fn(fastad)
    assert str(got.value) == str(expected.value)


# ---------------------------------------------------------------- QR beyond tall matrices
def _qr_flat(mode):
    def f(lib, a):
        q, r = lib.linalg.qr(a, mode=mode)
        return lib.cat([q.flatten(), r.flatten()])
    return f


@pytest.mark.parametrize("shape,mode", [((3, 5), "reduced"), ((2, 3, 5), "reduced"),
                                        ((2, 4), "complete"), ((3, 3), "complete"),
                                        ((4, 3), "reduced")])
@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_qr_gradients(shape, mode, dt):
    # (Q and R are views of one record here, not the record itself: grad_fn names differ)
    for fn in (_qr_flat(mode), lambda lib, a: lib.linalg.qr(a, mode=mode).R,
               lambda lib, a: lib.linalg.qr(a, mode=mode).Q):
        check_fn(fn, [_well(*shape).astype(dt)], check_grad_fn=False)


@pytest.mark.parametrize("shape,mode", [((3, 5), "reduced"), ((2, 3, 4), "reduced"),
                                        ((2, 4), "complete")])
def test_qr_gradients_pass_gradcheck(shape, mode):
    from fastad.autograd import gradcheck, gradgradcheck
    a = fastad.tensor(_well(*shape), requires_grad=True)
    assert gradcheck(lambda x: _qr_flat(mode)(fastad, x), (a,))
    assert gradgradcheck(lambda x: _qr_flat(mode)(fastad, x), (a,))


@pytest.mark.parametrize("shape,mode", [((4, 3), "complete"), ((4, 3), "r"), ((3, 4), "r")])
def test_qr_gradients_pytorch_refuses(shape, mode, torch):
    messages = []
    for lib in (fastad, torch):
        a = lib.tensor(_well(*shape), requires_grad=True)
        q, r = lib.linalg.qr(a, mode=mode)
        assert r.requires_grad
        if mode == "r":
            assert tuple(q.shape) == (0,) and str(q.dtype).endswith("float64")
        with pytest.raises(RuntimeError) as e:
            r.sum().backward()
        messages.append(str(e.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("fn", [lambda lib: lib.linalg.qr(lib.tensor(_r(3))),
                                lambda lib: lib.linalg.qr(lib.tensor(_r(3, 3)).long()),
                                lambda lib: lib.linalg.qr(lib.tensor(_r(3, 3)), mode="foo")])
def test_qr_errors_are_torchs(fn, torch):
    with pytest.raises(RuntimeError) as expected:
        fn(torch)
    with pytest.raises(RuntimeError) as got:
        fn(fastad)
    assert str(got.value) == str(expected.value)
