"""The smaller functionals and their modules against PyTorch: glu, softmin, the
shrinks, threshold, gumbel_softmax (same noise for the same seed, hard and
soft), the in-place spellings, pixel_shuffle/unshuffle, interpolate and
Upsample, fold/unfold, conv_transpose1d/2d and their modules (init, output_size),
adaptive max pooling: values and the gradients of every input."""
import warnings

import numpy as np
import pytest

import fastad
from conftest import needs_torch

pytestmark = needs_torch
R = np.random.default_rng(0)


def _compare(fn, arrays, atol=1e-9, grads=True):
    import torch
    res = []
    for lib in (fastad, torch):
        ins = [lib.tensor(a, requires_grad=grads) for a in arrays]
        out = fn(lib, *ins)
        out = out[0] if isinstance(out, tuple) else out
        if grads:
            w = np.cos(np.arange(out.numel())).reshape(tuple(out.shape))
            (out * lib.tensor(w)).sum().backward()
        res.append((out, ins))
    (oa, ia), (ob, ib) = res
    assert tuple(oa.shape) == tuple(ob.shape)
    np.testing.assert_allclose(oa.detach().numpy(), ob.detach().numpy(), atol=atol)
    for a, b in zip(ia, ib):
        if grads:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=atol)


def F(lib):
    return lib.nn.functional


X = R.standard_normal((2, 4, 5, 6))
ACTIVATIONS = [
    lambda lib, a: F(lib).glu(a, 1), lambda lib, a: F(lib).glu(a),
    lambda lib, a: F(lib).softmin(a, 1), lambda lib, a: F(lib).hardshrink(a, 0.7),
    lambda lib, a: F(lib).softshrink(a, 0.3), lambda lib, a: F(lib).tanhshrink(a),
    lambda lib, a: F(lib).threshold(a, 0.2, -3.0),
    lambda lib, a: F(lib).threshold(a * 1, 0.2, -3.0, True),
    lambda lib, a: F(lib).threshold_(a * 1, 0.2, -3.0),
    lambda lib, a: F(lib).relu_(a * 1), lambda lib, a: F(lib).elu_(a * 1, 0.5),
    lambda lib, a: F(lib).leaky_relu_(a * 1, 0.2), lambda lib, a: F(lib).hardtanh_(a * 1, -.5, .5),
    lambda lib, a: F(lib).selu_(a * 1), lambda lib, a: F(lib).celu_(a * 1, 0.5),
    lambda lib, a: F(lib).rrelu_(a * 1),
    lambda lib, a: lib.nn.Softmax2d()(a), lambda lib, a: lib.nn.GLU(3)(a),
    lambda lib, a: lib.nn.Threshold(0.1, 2.0)(a), lambda lib, a: lib.nn.Softshrink(0.2)(a),
]


@pytest.mark.parametrize("k", range(len(ACTIVATIONS)))
def test_activations_match_torch(k):
    _compare(ACTIVATIONS[k], [X])


@pytest.mark.parametrize("hard", [False, True])
def test_gumbel_softmax_draws_torchs_noise(hard):
    def fn(lib, a):
        lib.manual_seed(4)
        return F(lib).gumbel_softmax(a, tau=0.5, hard=hard)
    _compare(fn, [R.standard_normal((3, 5))], atol=1e-7)


def test_in_place_spellings_write_their_input():
    x = fastad.randn(5)
    assert F(fastad).relu_(x) is x and (x.numpy() >= 0).all()
    assert F(fastad).threshold_(x, 0.5, 9.0) is x


RESAMPLE = [
    (lambda lib, a: F(lib).pixel_shuffle(a, 2), (2, 8, 3, 3)),
    (lambda lib, a: F(lib).pixel_shuffle(a, 2), (8, 3, 3)),
    (lambda lib, a: F(lib).pixel_unshuffle(a, 2), (2, 3, 4, 6)),
    (lambda lib, a: lib.nn.PixelShuffle(3)(a), (1, 9, 2, 2)),
    *((lambda lib, a, kw=kw: F(lib).interpolate(a, **kw), (2, 3, 4, 6)) for kw in (
        {"scale_factor": 2}, {"size": (5, 7)}, {"scale_factor": 1.7, "mode": "nearest-exact"},
        {"size": (5, 9), "mode": "bilinear", "align_corners": True},
        {"size": (5, 9), "mode": "bilinear"}, {"scale_factor": (2.3, 0.6), "mode": "bilinear"},
        {"size": (2, 3), "mode": "area"},
        {"scale_factor": 1.5, "mode": "bilinear", "recompute_scale_factor": True})),
    *((lambda lib, a, kw=kw: F(lib).interpolate(a, **kw), (2, 3, 4)) for kw in (
        {"scale_factor": 2.5, "mode": "linear"}, {"size": 9, "mode": "linear",
                                                  "align_corners": True}, {"size": 7})),
    (lambda lib, a: lib.nn.Upsample(scale_factor=2, mode="bilinear")(a), (1, 2, 3, 3)),
    (lambda lib, a: lib.nn.UpsamplingBilinear2d(size=(4, 5))(a), (1, 2, 3, 3)),
    (lambda lib, a: lib.nn.UpsamplingNearest2d(scale_factor=3)(a), (1, 2, 3, 3)),
    (lambda lib, a: F(lib).fold(a, (5, 6), (2, 3), padding=1, stride=(2, 1)), (2, 12, 18)),
    (lambda lib, a: F(lib).fold(a, (4, 5), 2, dilation=2), (12, 6)),
    (lambda lib, a: lib.nn.Fold((3, 4), 2)(a), (2, 8, 6)),
    (lambda lib, a: lib.nn.Unfold(2, padding=1)(a), (2, 2, 3, 4)),
    (lambda lib, a: F(lib).adaptive_max_pool2d(a, (3, 4)), (2, 3, 7, 9)),
    (lambda lib, a: F(lib).adaptive_max_pool2d(a, (3, None), True)[1].double() * a.sum(),
     (3, 7, 9)),
    (lambda lib, a: F(lib).adaptive_max_pool1d(a, 4), (2, 3, 9)),
    (lambda lib, a: lib.nn.AdaptiveMaxPool2d(2)(a), (2, 3, 5, 5)),
]


@pytest.mark.parametrize("k", range(len(RESAMPLE)))
def test_resampling_matches_torch(k):
    fn, shape = RESAMPLE[k]
    _compare(fn, [R.standard_normal(shape)])


def test_deprecated_upsample_spellings_warn_and_match():
    for name in ("upsample", "upsample_nearest", "upsample_bilinear"):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            _compare(lambda lib, a: getattr(F(lib), name)(a, size=(3, 5)),
                     [R.standard_normal((1, 2, 2, 3))])
        assert any("deprecated" in str(m.message) for m in w)


TRANSPOSED = [
    ("conv_transpose2d", [(2, 4, 5, 6), (4, 3, 3, 2), (3,)], {}),
    ("conv_transpose2d", [(2, 4, 5, 6), (4, 3, 3, 2), (3,)],
     {"stride": 2, "padding": 1, "output_padding": 1}),
    ("conv_transpose2d", [(2, 4, 5, 6), (4, 3, 3, 2), (3,)],
     {"stride": (2, 3), "dilation": (2, 1), "padding": (1, 2)}),
    ("conv_transpose2d", [(2, 4, 5, 6), (4, 3, 3, 3)], {"groups": 2, "stride": 2}),
    ("conv_transpose2d", [(4, 5, 6), (4, 3, 3, 3)], {}),
    ("conv_transpose1d", [(2, 4, 5), (4, 3, 4), (3,)],
     {"stride": 3, "padding": 1, "output_padding": 2}),
    ("conv_transpose1d", [(4, 5), (4, 3, 4)], {}),
]


@pytest.mark.parametrize("name,shapes,kw", TRANSPOSED)
def test_conv_transpose_matches_torch(name, shapes, kw):
    _compare(lambda lib, *ts: getattr(F(lib), name)(*ts, **kw),
             [R.standard_normal(s) for s in shapes])


@pytest.mark.parametrize("cls,args,kw,x_shape,out_size", [
    ("ConvTranspose2d", (4, 6, 3), {"stride": 2, "groups": 2, "padding": 1}, (2, 4, 5, 5),
     (10, 10)),
    ("ConvTranspose1d", (4, 6, 3), {"stride": 2, "bias": False}, (2, 4, 5), [12]),
])
def test_conv_transpose_modules_match_torch(cls, args, kw, x_shape, out_size):
    import torch
    mods = []
    for lib in (fastad, torch):
        lib.manual_seed(0)
        mods.append(getattr(lib.nn, cls)(*args, **kw))
    a, b = mods
    assert repr(a) == repr(b)
    assert list(a.state_dict()) == list(b.state_dict())
    for k in a.state_dict():
        np.testing.assert_allclose(a.state_dict()[k].numpy(), b.state_dict()[k].numpy(), atol=1e-7)
    _compare(lambda lib, x: (a if lib is fastad else b)(x.float(), output_size=out_size),
             [R.standard_normal(x_shape)], atol=1e-5)


def _unpool(lib, a):
    v, i = F(lib).max_pool2d_with_indices(a, 2)
    return F(lib).max_unpool2d(v, i, 2)


def _unpool_size(lib, a):
    v, i = F(lib).max_pool2d(a, 2, return_indices=True)
    return lib.nn.MaxUnpool2d(2)(v, i, output_size=(7, 7))


def _unpool1(lib, a):
    v, i = F(lib).max_pool1d_with_indices(a, 3, 2)
    return F(lib).max_unpool1d(v, i, 3, 2)


MORE = [
    (lambda lib, a: F(lib).local_response_norm(a, 3), (2, 4, 6, 6)),
    (lambda lib, a: F(lib).local_response_norm(a, 2, 0.1, 0.5, 2.0), (2, 5, 7)),
    (lambda lib, a: lib.nn.LocalResponseNorm(4)(a), (2, 6, 3, 2, 2)),
    (lambda lib, a: F(lib).lp_pool2d(a, 2, 2), (2, 4, 6, 6)),
    (lambda lib, a: F(lib).lp_pool2d(a.abs() + 0.1, 1.5, (3, 2), stride=2, ceil_mode=True),
     (2, 4, 6, 6)),
    (lambda lib, a: lib.nn.LPPool1d(3, 2)(a), (2, 3, 8)),
    (lambda lib, a: F(lib).channel_shuffle(a, 2), (2, 4, 3, 3)),
    (lambda lib, a: lib.nn.ChannelShuffle(3)(a), (2, 6, 5)),
    (_unpool, (2, 4, 6, 6)), (_unpool_size, (1, 2, 7, 7)), (_unpool1, (2, 3, 9)),
    (lambda lib, a: F(lib).adaptive_max_pool2d_with_indices(a, 3)[0], (2, 4, 6, 6)),
]


@pytest.mark.parametrize("k", range(len(MORE)))
def test_pooling_and_channel_ops_match_torch(k):
    fn, shape = MORE[k]
    _compare(fn, [R.standard_normal(shape)])
