"""Convolution, pooling and padding against PyTorch: values and gradients of
inputs, weights and biases (float32 and float64) over strides, padding
('same', 'valid', modes), dilation, groups, ceil_mode, return_indices;
Conv init equal to PyTorch's for the same seed; a small CNN trained a few SGD
steps gives PyTorch's losses."""
import numpy as np
import pytest

import fastad
import fastad.nn as nn
import fastad.nn.functional as F
from conftest import check_fn, needs_torch
from fastad.gradcheck import gradcheck

R = np.random.default_rng(0)
DT = [np.float32, np.float64]


def _a(*shape, dtype=np.float64):
    return R.standard_normal(shape).astype(dtype)


CONV = [
    ("conv2d", [(2, 3, 7, 6), (4, 3, 3, 2), (4,)], {}),
    ("conv2d", [(2, 3, 9, 8), (4, 3, 3, 2), (4,)], {"stride": 2, "padding": (1, 2),
                                                    "dilation": (2, 1)}),
    ("conv2d", [(2, 3, 9, 8), (4, 3, 4, 3)], {"padding": "same", "dilation": 2}),
    ("conv2d", [(2, 3, 5, 5), (4, 3, 2, 2)], {"padding": "valid"}),
    ("conv2d", [(2, 6, 5, 5), (9, 2, 3, 3), (9,)], {"groups": 3}),
    ("conv2d", [(3, 5, 5), (2, 3, 3, 3)], {}),
    ("conv1d", [(2, 3, 9), (4, 3, 3), (4,)], {"stride": 2, "padding": 1}),
    ("conv1d", [(2, 4, 9), (4, 2, 4), (4,)], {"padding": "same", "groups": 2}),
    ("conv1d", [(3, 9), (4, 3, 2)], {"dilation": 3}),
]


@needs_torch
@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("name,shapes,kw", CONV)
def test_conv_matches_torch(name, shapes, kw, dtype):
    check_fn(lambda lib, *ts: getattr(lib.nn.functional, name)(*ts, **kw),
             [_a(*s, dtype=dtype) for s in shapes], check_grad_fn=False)


POOL = [
    ("max_pool2d", (2, 3, 7, 8), {"kernel_size": 2}),
    ("max_pool2d", (2, 3, 7, 8), {"kernel_size": 3, "stride": 2, "padding": 1}),
    ("max_pool2d", (2, 3, 7, 8), {"kernel_size": (3, 2), "stride": 2, "ceil_mode": True}),
    ("max_pool2d", (2, 3, 7, 8), {"kernel_size": 3, "dilation": 2, "padding": 1,
                                  "return_indices": True}),
    ("max_pool2d", (3, 7, 8), {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True,
                               "return_indices": True}),
    ("max_pool1d", (2, 3, 9), {"kernel_size": 3, "stride": 2, "padding": 1,
                               "return_indices": True}),
    ("avg_pool2d", (2, 3, 7, 8), {"kernel_size": 2}),
    ("avg_pool2d", (2, 3, 7, 8), {"kernel_size": 3, "stride": 2, "padding": 1,
                                  "count_include_pad": False}),
    ("avg_pool2d", (2, 3, 7, 8), {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True,
                                  "count_include_pad": False}),
    ("avg_pool2d", (2, 3, 7, 8), {"kernel_size": (3, 2), "stride": 2, "ceil_mode": True}),
    ("avg_pool2d", (2, 3, 7, 8), {"kernel_size": 3, "divisor_override": 5}),
    ("avg_pool1d", (2, 3, 10), {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
    ("adaptive_avg_pool2d", (2, 3, 7, 8), {"output_size": (3, None)}),
    ("adaptive_avg_pool2d", (3, 7, 8), {"output_size": 1}),
    ("adaptive_avg_pool1d", (2, 3, 7), {"output_size": 4}),
]


@needs_torch
@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("name,shape,kw", POOL)
def test_pool_matches_torch(name, shape, kw, dtype):
    torch = pytest.importorskip("torch")
    x = _a(*shape, dtype=dtype)
    if kw.get("return_indices"):
        fa, fb = fastad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        (va, ia), (vb, ib) = getattr(F, name)(fa, **kw), getattr(torch.nn.functional, name)(fb, **kw)
        np.testing.assert_array_equal(ia.numpy(), ib.numpy())
        assert ia.dtype == fastad.int64
        kw = dict(kw, return_indices=False)
    check_fn(lambda lib, t: getattr(lib.nn.functional, name)(t, **kw), [x],
             check_grad_fn=name == "max_pool2d" and len(shape) == 4)


@needs_torch
@pytest.mark.parametrize("mode,pad", [("constant", (1, 2, 0, 1)), ("constant", (-1, 2, 1, -1)),
                                      ("reflect", (2, 1, 1, 2)), ("replicate", (2, 3, 1, 0)),
                                      ("circular", (2, 1, 1, 3)), ("reflect", (1, 2))])
def test_pad_matches_torch(mode, pad):
    kw = {"value": 1.5} if mode == "constant" else {}
    check_fn(lambda lib, t: lib.nn.functional.pad(t, pad, mode, **kw), [_a(2, 3, 4, 5)],
             check_grad_fn=False)


def test_conv_pool_pad_differentiate_twice():
    x = fastad.tensor(_a(1, 2, 5, 5), requires_grad=True)
    w = fastad.tensor(_a(3, 2, 2, 2), requires_grad=True)
    assert gradcheck(lambda x, w: F.conv2d(x, w, padding=1) ** 2, [x, w])
    # the gradient's own graph: d/dw of sum(d out / d x) runs the fold's derivative
    gx, = fastad.autograd.grad((F.conv2d(x, w) ** 2).sum(), x, create_graph=True) \
        if _create_graph() else (None,)
    if gx is not None:
        gw, = fastad.autograd.grad(gx.sum(), w)
        assert tuple(gw.shape) == (3, 2, 2, 2)


def _create_graph():
    try:
        x = fastad.tensor([1.0, 2.0], requires_grad=True)
        g, = fastad.autograd.grad((x ** 3).sum(), x, create_graph=True)
        return g.requires_grad
    except Exception:   # noqa: BLE001 - create_graph not on this branch yet
        return False


def test_conv_errors():
    with pytest.raises(RuntimeError, match="expected input.* to have 3 channels, but got 2"):
        F.conv2d(fastad.randn(1, 2, 5, 5), fastad.randn(4, 3, 3, 3))
    with pytest.raises(RuntimeError, match="padding='same' is not supported for strided"):
        F.conv2d(fastad.randn(1, 3, 5, 5), fastad.randn(4, 3, 3, 3), stride=2, padding="same")
    with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
        F.conv2d(fastad.randn(1, 3, 2, 2), fastad.randn(4, 3, 3, 3))
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel size"):
        F.max_pool2d(fastad.randn(1, 1, 5, 5), 2, padding=2)
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        F.pad(fastad.randn(2, 3), (1,))


@needs_torch
@pytest.mark.parametrize("cls,args,kw", [
    ("Conv2d", (3, 8, 3), {}), ("Conv2d", (4, 6, (3, 2)), {"stride": 2, "padding": 1,
                                                           "groups": 2, "bias": False}),
    ("Conv2d", (3, 4, 3), {"padding": "same", "padding_mode": "reflect"}),
    ("Conv2d", (3, 4, 3), {"padding": 1, "padding_mode": "circular", "dilation": 2}),
    ("Conv1d", (3, 5, 3), {"padding": 2, "padding_mode": "replicate"}),
    ("Conv1d", (2, 4, 4), {"padding": "same"}),
])
def test_conv_modules_init_state_dict_and_forward_match_torch(cls, args, kw):
    torch = pytest.importorskip("torch")
    fastad.manual_seed(0)
    torch.manual_seed(0)
    a, b = getattr(nn, cls)(*args, **kw), getattr(torch.nn, cls)(*args, **kw)
    assert repr(a) == repr(b)
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sb:   # PyTorch's kaiming-uniform init, drawn from the same stream
        np.testing.assert_array_equal(sa[k].numpy(), sb[k].numpy())
    x = _a(2, args[0], 9, 8)[..., 0] if cls == "Conv1d" else _a(2, args[0], 9, 8)
    xa, xb = fastad.tensor(x.astype(np.float32)), torch.tensor(x.astype(np.float32))
    ya, yb = a(xa), b(xb)
    np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy(), rtol=1e-5, atol=1e-5)
    ya.sum().backward()
    yb.sum().backward()
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(pa.grad.numpy(), pb.grad.numpy(), rtol=1e-4, atol=1e-4)


@needs_torch
def test_pool_and_pad_module_reprs_match_torch():
    torch = pytest.importorskip("torch")
    for cls, args in [("MaxPool2d", (2,)), ("MaxPool1d", (3, 2)), ("AvgPool2d", (2,)),
                      ("AvgPool1d", (3,)), ("AdaptiveAvgPool2d", ((2, None),)),
                      ("AdaptiveAvgPool1d", (3,)), ("ZeroPad2d", (1,)),
                      ("ConstantPad1d", (2, 3.0)), ("ReflectionPad2d", ((1, 2, 0, 1),)),
                      ("ReplicationPad1d", (2,)), ("CircularPad2d", (1,))]:
        assert repr(getattr(nn, cls)(*args)) == repr(getattr(torch.nn, cls)(*args))


def _cnn(lib):
    lib.manual_seed(0)
    m = lib.nn
    return m.Sequential(m.Conv2d(1, 4, 3), m.ReLU(), m.MaxPool2d(2), m.Conv2d(4, 8, 3, padding=1),
                        m.BatchNorm2d(8), m.ReLU(), m.AvgPool2d(2), m.Flatten(),
                        m.Dropout(0.2), m.Linear(8 * 3 * 3, 5))


@needs_torch
def test_small_cnn_trains_like_torch():
    torch = pytest.importorskip("torch")
    x = _a(16, 1, 14, 14, dtype=np.float32)
    y = R.integers(0, 5, 16)
    losses = {}
    for lib in (fastad, torch):
        model = _cnn(lib)
        opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        losses[lib.__name__] = []
        for step in range(5):
            lib.manual_seed(step)      # the same dropout masks
            loss = lib.nn.functional.cross_entropy(model(lib.tensor(x)), lib.tensor(y))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses[lib.__name__].append(loss.item())
    np.testing.assert_allclose(losses["fastad"], losses["torch"], rtol=1e-4)


# ---------------------------------------------------------------- the compiled conv2d
from fastad import _kernels as K  # noqa: E402

GEOMETRIES = [   # x shape, w shape, stride, padding, dilation
    ((9, 3, 7, 9), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1)),      # 9 images: 3 blocks, one short
    ((5, 2, 8, 6), (3, 2, 2, 3), (2, 1), (0, 2), (1, 2)),
    ((2, 1, 5, 5), (6, 1, 5, 5), (3, 2), (2, 2), (1, 1)),      # padding as wide as the kernel
    ((1, 2, 4, 4), (2, 2, 1, 1), (1, 1), (0, 0), (1, 1)),
]


@needs_torch
@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("xs,ws,s,p,d", GEOMETRIES)
def test_compiled_conv2d_kernels_match_torch(xs, ws, s, p, d, dtype):
    import torch
    x, w, b = _a(*xs, dtype=dtype), _a(*ws, dtype=dtype), _a(ws[0], dtype=dtype)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ty = torch.nn.functional.conv2d(tx, tw, torch.tensor(b), s, p, d)
    g = _a(*ty.shape, dtype=dtype)
    ty.backward(torch.tensor(g))
    out, gx, gw = np.empty(ty.shape, dtype), np.empty_like(x), np.empty_like(w)
    assert K.conv2d_forward(x, w, b, out, s, p, d)
    assert K.conv2d_backward(x, w, g, gx, gw, s, p, d)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out, ty.detach().numpy(), **tol)
    np.testing.assert_allclose(gx, tx.grad.numpy(), **tol)
    np.testing.assert_allclose(gw, tw.grad.numpy(), **tol)
    only_x = np.empty_like(x)       # one gradient asked for: the same values
    assert K.conv2d_backward(x, w, g, only_x, None, s, p, d)
    np.testing.assert_array_equal(only_x, gx)


def test_compiled_conv2d_gradients_do_not_depend_on_the_thread_count():
    x, w = _a(10, 3, 12, 12, dtype=np.float32), _a(8, 3, 3, 3, dtype=np.float32)
    g = _a(10, 8, 12, 12, dtype=np.float32)
    n = K.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            K.set_num_threads(threads)
            gx, gw = np.empty_like(x), np.empty_like(w)
            K.conv2d_backward(x, w, g, gx, gw, (1, 1), (1, 1), (1, 1))
            results.append((gx, gw))
    finally:
        K.set_num_threads(n)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_compiled_conv2d_checks_its_arrays_before_it_starts():
    x, w = np.zeros((2, 3, 5, 5), np.float32), np.zeros((4, 3, 3, 3), np.float32)
    out = np.empty((2, 4, 3, 3), np.float32)
    one = (1, 1)
    with pytest.raises(TypeError, match="one dtype"):
        K.conv2d_forward(x, w.astype(np.float64), None, out, one, (0, 0), one)
    with pytest.raises(ValueError, match="C-contiguous"):
        K.conv2d_forward(x[:, :, ::2], w, None, out, one, (0, 0), one)
    with pytest.raises(ValueError, match="output shape"):
        K.conv2d_forward(x, w, None, out, one, one, one)          # padding 1 gives 5 x 5
    with pytest.raises(ValueError, match="stride"):
        K.conv2d_forward(x, w, None, out, (0, 1), (0, 0), one)
    with pytest.raises(ValueError, match="must be"):
        K.conv2d_forward(x, w[:, :2], None, out, one, (0, 0), one)
    with pytest.raises(ValueError, match="b must be"):
        K.conv2d_forward(x, w, np.zeros(3, np.float32), out, one, (0, 0), one)
    with pytest.raises(ValueError, match="gx must be"):
        K.conv2d_backward(x, w, out, np.zeros((2, 3, 5, 4), np.float32), None, one, (0, 0), one)


def test_conv2d_takes_the_compiled_node_where_it_can():
    x = fastad.randn(2, 6, 5, 5, requires_grad=True)
    assert F.conv2d(x, fastad.randn(4, 6, 3, 3), padding=1).grad_fn.name() == "ConvolutionBackward0"
    # several groups, and 'same' padding that is wider after than before: the ops' path
    assert F.conv2d(x, fastad.randn(6, 2, 3, 3), groups=3).grad_fn.name() != "ConvolutionBackward0"
    assert F.conv2d(x, fastad.randn(4, 6, 2, 2), padding="same").grad_fn.name() != \
        "ConvolutionBackward0"


@needs_torch
@pytest.mark.parametrize("dtype", DT)
@pytest.mark.parametrize("kw", [dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=(3, 2), stride=2, ceil_mode=True),
                                dict(kernel_size=3, dilation=2, padding=1),
                                dict(kernel_size=2)])
def test_max_pool_kernel_takes_torchs_maximum_and_index(kw, dtype):
    """NaNs (the last one wins), ties (the first), a plane of -inf (its first
    in-bounds cell, never the padding), against PyTorch's values and indices."""
    import torch
    x = _a(2, 3, 7, 8, dtype=dtype)
    x[0, 0, 1, 1] = x[0, 0, 1, 2] = np.nan
    x[1, 1, 2:4, 2:4] = 5.0
    x[1, 2] = -np.inf
    ours = F.max_pool2d(fastad.tensor(x), return_indices=True, **kw)
    theirs = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    np.testing.assert_array_equal(ours[0].numpy(), theirs[0].numpy())
    np.testing.assert_array_equal(ours[1].numpy(), theirs[1].numpy())


def test_max_pool_kernel_checks_its_arrays():
    x = np.zeros((2, 5, 5), np.float32)
    v, f = np.empty((2, 2, 2), np.float32), np.empty((2, 2, 2), np.int64)
    two, one, zero = (2, 2), (1, 1), (0, 0)
    with pytest.raises(TypeError, match="values must be"):
        K.max_pool2d_forward(x, v.astype(np.float64), f, two, two, zero, one)
    with pytest.raises(TypeError, match="int64"):
        K.max_pool2d_forward(x, v, f.astype(np.int32), two, two, zero, one)
    with pytest.raises(ValueError, match="planes"):
        K.max_pool2d_forward(x, v[:1], f[:1], two, two, zero, one)
    with pytest.raises(ValueError, match="bad kernel"):
        K.max_pool2d_forward(x, v, f, (0, 2), two, zero, one)
    with pytest.raises(ValueError, match="outside the input"):
        K.max_pool2d_forward(x, v, f, two, (9, 9), zero, one)
