"""Normalisation layers and distances against PyTorch: values and gradients of
inputs and parameters (float32 and float64), BatchNorm's running statistics
over several steps (momentum and momentum=None), eval mode,
track_running_stats=False, state_dict keys, shapes and dtypes."""
import numpy as np
import pytest

import fastad
import fastad.nn as nn
import fastad.nn.functional as F
from conftest import check_fn, needs_torch

R = np.random.default_rng(0)
DT = [np.float32, np.float64]


def _a(*shape, dtype=np.float64):
    return R.standard_normal(shape).astype(dtype)


@needs_torch
@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("name,fn,shapes", [
    ("layer_norm", lambda F, x, w, b: F.layer_norm(x, (3, 4), w, b), [(2, 5, 3, 4), (3, 4), (3, 4)]),
    ("layer_norm_eps", lambda F, x: F.layer_norm(x, (4,), eps=0.1), [(5, 4)]),
    ("rms_norm", lambda F, x, w: F.rms_norm(x, (4,), w), [(2, 5, 4), (4,)]),
    ("rms_norm_eps", lambda F, x: F.rms_norm(x, [2, 4], eps=1e-3), [(3, 2, 4)]),
    ("group_norm", lambda F, x, w, b: F.group_norm(x, 2, w, b), [(2, 6, 3, 4), (6,), (6,)]),
    ("instance_norm", lambda F, x, w, b: F.instance_norm(x, weight=w, bias=b),
     [(2, 6, 5), (6,), (6,)]),
    ("batch_norm", lambda F, x, w, b: F.batch_norm(x, None, None, w, b, True), [(4, 6, 3), (6,), (6,)]),
    ("normalize", lambda F, x: F.normalize(x), [(4, 6, 3)]),
    ("normalize_p", lambda F, x: F.normalize(x, p=3, dim=-1), [(4, 6, 3)]),
    ("cosine_similarity", lambda F, x, y: F.cosine_similarity(x, y), [(4, 6, 3), (4, 6, 3)]),
    ("cosine_similarity_bcast", lambda F, x, y: F.cosine_similarity(x, y, dim=-1), [(4, 6), (6,)]),
    ("pairwise_distance", lambda F, x, y: F.pairwise_distance(x, y), [(4, 6), (4, 6)]),
    ("pairwise_distance_p1", lambda F, x, y: F.pairwise_distance(x, y, p=1, keepdim=True),
     [(4, 6), (4, 6)]),
    ("pdist", lambda F, x: F.pdist(x), [(5, 3)]),
])
def test_functional_matches_torch(name, fn, shapes, dtype):
    check_fn(lambda lib, *ts: fn(lib.nn.functional, *ts), [_a(*s, dtype=dtype) for s in shapes],
             check_grad_fn=False)


def _torch():
    import torch
    return torch


@needs_torch
@pytest.mark.parametrize("cls,shape,kw", [
    ("BatchNorm1d", (8, 3), {}), ("BatchNorm1d", (8, 3, 5), {"momentum": None}),
    ("BatchNorm2d", (4, 3, 5, 5), {}), ("BatchNorm2d", (4, 3, 2, 2), {"momentum": 0.5}),
    ("BatchNorm3d", (2, 3, 2, 2, 2), {}),
    ("BatchNorm1d", (8, 3), {"affine": False}),
    ("BatchNorm1d", (8, 3), {"track_running_stats": False}),
    ("InstanceNorm1d", (2, 3, 5), {"affine": True, "track_running_stats": True}),
])
def test_batchnorm_steps_running_stats_and_eval(cls, shape, kw):
    torch = _torch()
    a, b = getattr(nn, cls)(3, **kw).double(), getattr(torch.nn, cls)(3, **kw).double()
    assert repr(a) == repr(b)
    for step in range(4):
        x = _a(*shape)
        xa, xb = fastad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ya, yb = a(xa), b(xb)
        g = _a(*shape)
        ya.backward(fastad.tensor(g))
        yb.backward(torch.tensor(g))
        np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(xa.grad.numpy(), xb.grad.numpy(), atol=1e-12)
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(pa.grad.numpy(), pb.grad.numpy(), atol=1e-12)
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sb:
        assert tuple(sa[k].shape) == tuple(sb[k].shape)
        assert str(sa[k].dtype).split(".")[-1] == str(sb[k].dtype).split(".")[-1], k
        np.testing.assert_allclose(sa[k].numpy(), sb[k].numpy(), atol=1e-14, err_msg=k)
    a.eval()
    b.eval()
    x = _a(*shape)
    np.testing.assert_allclose(a(fastad.tensor(x)).detach().numpy(),
                               b(torch.tensor(x)).detach().numpy(), atol=1e-12)


@needs_torch
def test_batchnorm_float32_and_load_state_dict():
    torch = _torch()
    a, b = nn.BatchNorm2d(4), torch.nn.BatchNorm2d(4)
    x = _a(6, 4, 3, 3, dtype=np.float32)
    a(fastad.tensor(x))
    b(torch.tensor(x))
    np.testing.assert_allclose(a.running_var.numpy(), b.running_var.numpy(), rtol=1e-6)
    c = nn.BatchNorm2d(4)
    c.load_state_dict({k: fastad.tensor(v.numpy()) for k, v in b.state_dict().items()})
    assert int(c.num_batches_tracked) == 1
    np.testing.assert_allclose(c.running_mean.numpy(), b.running_mean.numpy())


def test_batchnorm_errors():
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        nn.BatchNorm2d(3)(fastad.randn(2, 3, 4))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm1d(3)(fastad.randn(1, 3))
    with pytest.raises(ValueError, match="num_channels must be divisible by num_groups"):
        nn.GroupNorm(4, 6)


@needs_torch
@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("cls,args,kw,shape", [
    ("LayerNorm", ((3, 4),), {}, (2, 5, 3, 4)), ("LayerNorm", (4,), {"bias": False}, (5, 4)),
    ("LayerNorm", (4,), {"elementwise_affine": False}, (5, 4)),
    ("RMSNorm", (4,), {}, (2, 5, 4)), ("RMSNorm", ([2, 4],), {"eps": 1e-4}, (3, 2, 4)),
    ("GroupNorm", (2, 6), {}, (2, 6, 3, 4)), ("GroupNorm", (3, 6), {"affine": False}, (2, 6, 4)),
    ("InstanceNorm2d", (3,), {"affine": True}, (2, 3, 4, 4)),
    ("CosineSimilarity", (), {"dim": 0}, None), ("PairwiseDistance", (), {"p": 3.0}, None),
])
def test_modules_match_torch(cls, args, kw, shape, dtype):
    torch = _torch()
    a, b = getattr(nn, cls)(*args, **kw), getattr(torch.nn, cls)(*args, **kw)
    assert repr(a) == repr(b)
    assert [(k, tuple(v.shape)) for k, v in a.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in b.state_dict().items()]
    params = [(p, q) for p, q in zip(a.parameters(), b.parameters())]
    with torch.no_grad(), fastad.no_grad():
        for p, q in params:       # non-trivial affine parameters, the same in both
            v = _a(*p.shape, dtype=np.float32)
            p.copy_(fastad.tensor(v))
            q.copy_(torch.tensor(v))
    if dtype == np.float64:
        a, b = a.double(), b.double()
    arrays = [_a(*(shape or (3, 4)), dtype=dtype) for _ in range(1 if shape else 2)]
    xa = [fastad.tensor(x, requires_grad=True) for x in arrays]
    xb = [torch.tensor(x, requires_grad=True) for x in arrays]
    ya, yb = a(*xa), b(*xb)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy(), **tol)
    g = _a(*yb.shape, dtype=dtype)
    ya.backward(fastad.tensor(g))
    yb.backward(torch.tensor(g))
    for p, q in list(zip(xa, xb)) + list(zip(a.parameters(), b.parameters())):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), **tol)


def test_normalize_rows_have_unit_norm():
    y = F.normalize(fastad.randn(5, 7), dim=1).numpy()
    np.testing.assert_allclose(np.linalg.norm(y, axis=1), 1, rtol=1e-6)


def test_training_batch_norm_is_one_node_and_its_derivative_matches_its_backward():
    """The fused node's derivative in fastad ops (what a recorded backward will
    differentiate) gives its array backward's gradients."""
    from fastad.nn import _normalization as N
    r = np.random.default_rng(0)
    x = fastad.tensor(r.standard_normal((6, 3, 4)), requires_grad=True)
    w = fastad.tensor(r.random(3), requires_grad=True)
    y = F.batch_norm(x, None, None, w, None, True)
    assert y.grad_fn.name() == "NativeBatchNormBackward0"
    g = r.standard_normal((6, 3, 4))
    dims, shape = (0, 2), (1, -1, 1)
    a = x.detach().numpy()
    xc = a - a.mean(dims, keepdims=True)
    rstd = 1 / np.sqrt((xc * xc).mean(dims, keepdims=True) + 1e-5)
    by_arrays = N._batch_norm_grads(g, xc * rstd, rstd, w.detach().numpy(), False, dims, shape,
                                    "keepdims")
    with fastad.no_grad():
        xt = x.detach()
        xc_t = xt - xt.mean(dims, keepdim=True)
        r_t = ((xc_t * xc_t).mean(dims, keepdim=True) + 1e-5).pow(-0.5)
        by_tensors = N._batch_norm_grads(fastad.tensor(g), xc_t * r_t, r_t, w.detach(), False,
                                         dims, shape, "keepdim")
    for u, v in zip(by_arrays, by_tensors):
        assert (u is None) == (v is None)
        if u is not None:
            np.testing.assert_allclose(u, v.numpy(), atol=1e-12)


@needs_torch
@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("shape,normalized,affine", [
    ((2, 5, 3, 4), (3, 4), "wb"), ((7, 4), (4,), "w"), ((7, 4), (4,), "b"), ((3, 9), (9,), ""),
    ((3000, 64), (64,), "wb"),          # several blocks of rows: the weight's sums in blocks
    ((1, 1), (1,), "wb"),
])
def test_layer_norm_kernels_match_torch(shape, normalized, affine, dtype):
    import torch
    x, g = _a(*shape, dtype=dtype), _a(*shape, dtype=dtype)
    w = _a(*normalized, dtype=dtype) if "w" in affine else None
    b = _a(*normalized, dtype=dtype) if "b" in affine else None
    ours = [fastad.tensor(a, requires_grad=True) if a is not None else None for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) if a is not None else None for a in (x, w, b)]
    y = F.layer_norm(ours[0], normalized, ours[1], ours[2], eps=1e-4)
    ty = torch.nn.functional.layer_norm(theirs[0], normalized, theirs[1], theirs[2], eps=1e-4)
    assert y.grad_fn.name() == ty.grad_fn.name()
    y.backward(fastad.tensor(g))
    ty.backward(torch.tensor(g))
    tol = dict(rtol=2e-4, atol=2e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), **tol)
    for a, ta in zip(ours, theirs):
        if a is not None:
            assert a.grad.dtype == a.dtype
            np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), **tol)


def test_layer_norm_gradients_do_not_depend_on_the_thread_count():
    from fastad import _kernels as K
    x, g = _a(5000, 32, dtype=np.float32), _a(5000, 32, dtype=np.float32)
    w = _a(32, dtype=np.float32)
    mean, rstd, y = np.empty(5000), np.empty(5000), np.empty_like(x)
    K.layer_norm_forward(x, w, None, 1e-5, y, mean, rstd)
    n, results = K.get_num_threads(), []
    try:
        for threads in (1, 2):
            K.set_num_threads(threads)
            gx = np.empty_like(x)
            results.append((gx,) + K.layer_norm_backward(x, w, g, mean, rstd, gx, True, True))
    finally:
        K.set_num_threads(n)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_layer_norm_kernels_check_their_arrays():
    from fastad import _kernels as K
    x, y = np.zeros((3, 4), np.float32), np.zeros((3, 4), np.float32)
    mean, rstd = np.empty(3), np.empty(3)
    with pytest.raises(ValueError, match="w must be"):
        K.layer_norm_forward(x, np.ones(5, np.float32), None, 1e-5, y, mean, rstd)
    with pytest.raises(ValueError, match="mean must be"):
        K.layer_norm_forward(x, None, None, 1e-5, y, np.empty(2), rstd)
    with pytest.raises(ValueError, match="y must be"):
        K.layer_norm_forward(x, None, None, 1e-5, y.astype(np.float64), mean, rstd)
    with pytest.raises(ValueError, match="gx must be"):
        K.layer_norm_backward(x, None, x, mean, rstd, np.zeros((3, 5), np.float32), False, False)


def test_layer_norm_differentiates_twice():
    from fastad.autograd import gradcheck, gradgradcheck
    x = fastad.tensor(_a(3, 4, 5), requires_grad=True)
    w, b = (fastad.tensor(_a(4, 5), requires_grad=True) for _ in range(2))
    f = (lambda x, w, b: F.layer_norm(x, (4, 5), w, b))
    assert gradcheck(f, (x, w, b)) and gradgradcheck(f, (x, w, b))
    assert gradgradcheck(lambda x: F.layer_norm(x, (5,)), (x,))


@needs_torch
@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("shape,affine", [((32, 200), "wb"), ((4, 3, 5, 5), "w"), ((6, 4, 7), ""),
                                          ((2, 3), "wb"), ((3000, 5), "b")])
def test_batch_norm_kernels_match_torch(shape, affine, dtype):
    import torch
    c = shape[1]
    x, g = _a(*shape, dtype=dtype), _a(*shape, dtype=dtype)
    w = _a(c, dtype=dtype) if "w" in affine else None
    b = _a(c, dtype=dtype) if "b" in affine else None
    ours = [fastad.tensor(a, requires_grad=True) if a is not None else None for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) if a is not None else None for a in (x, w, b)]
    rm, rv = fastad.zeros(c, dtype=ours[0].dtype), fastad.ones(c, dtype=ours[0].dtype)
    trm, trv = torch.zeros(c, dtype=theirs[0].dtype), torch.ones(c, dtype=theirs[0].dtype)
    y = F.batch_norm(ours[0], rm, rv, ours[1], ours[2], True, 0.3, 1e-4)
    ty = torch.nn.functional.batch_norm(theirs[0], trm, trv, theirs[1], theirs[2], True, 0.3, 1e-4)
    assert y.grad_fn.name() == ty.grad_fn.name()
    y.backward(fastad.tensor(g))
    ty.backward(torch.tensor(g))
    tol = dict(rtol=2e-4, atol=2e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), **tol)
    np.testing.assert_allclose(rm.numpy(), trm.numpy(), **tol)
    np.testing.assert_allclose(rv.numpy(), trv.numpy(), **tol)
    for a, ta in zip(ours, theirs):
        if a is not None:
            assert a.grad.dtype == a.dtype
            np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), **tol)


def test_batch_norm_kernels_do_not_depend_on_the_thread_count():
    from fastad import _kernels as K
    x, g = _a(64, 40, 30, dtype=np.float32), _a(64, 40, 30, dtype=np.float32)
    w = _a(40, dtype=np.float32)
    n, results = K.get_num_threads(), []
    try:
        for threads in (1, 2):
            K.set_num_threads(threads)
            y, mean, var, gx = np.empty_like(x), np.empty(40), np.empty(40), np.empty_like(x)
            K.batch_norm_forward(x, w, None, 1e-5, y, mean, var)
            results.append((y, mean, var, gx) + K.batch_norm_backward(x, w, g, mean, var, 1e-5, gx))
    finally:
        K.set_num_threads(n)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_batch_norm_kernels_check_their_arrays():
    from fastad import _kernels as K
    x, y = np.zeros((3, 4, 2), np.float32), np.zeros((3, 4, 2), np.float32)
    mean, var = np.empty(4), np.empty(4)
    with pytest.raises(ValueError, match="x must be"):
        K.batch_norm_forward(x[0], None, None, 1e-5, y[0], mean, var)
    with pytest.raises(ValueError, match="w must be"):
        K.batch_norm_forward(x, np.ones(3, np.float32), None, 1e-5, y, mean, var)
    with pytest.raises(ValueError, match="b must be"):
        K.batch_norm_forward(x, None, np.ones(4), 1e-5, y, mean, var)
    with pytest.raises(ValueError, match="var must be"):
        K.batch_norm_forward(x, None, None, 1e-5, y, mean, np.empty(4, np.float32))
    with pytest.raises(ValueError, match="gx must be"):
        K.batch_norm_backward(x, None, x, mean, var, 1e-5, np.zeros((3, 4, 3), np.float32))
