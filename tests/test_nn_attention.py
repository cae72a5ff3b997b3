"""Attention against PyTorch: scaled_dot_product_attention (masks, causal,
scale, grouped-query heads, dropout with the same seed), MultiheadAttention
(packed and separate projections, masks, bias_kv, zero_attn, need_weights,
average_attn_weights, batch_first, unbatched), TransformerEncoderLayer and
TransformerEncoder (norm_first, gelu), Bilinear and LazyLinear: values,
gradients of inputs and parameters, state_dict keys and init for the same seed."""
import numpy as np
import pytest

import fastad
import fastad.nn as nn
from conftest import needs_torch

pytestmark = needs_torch


def _libs():
    import torch
    return fastad, torch


def _close(a, b, atol=1e-9):
    a, b = a.detach().numpy(), b.detach().numpy()
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, atol=atol, rtol=1e-6)


def _weighted_sum(o, lib):
    return (o * lib.tensor(np.cos(np.arange(o.numel())).reshape(tuple(o.shape)))).sum()


SDPA = [
    ({}, (2, 4, 5, 3), (2, 4, 6, 3), None),
    ({"is_causal": True}, (2, 4, 5, 3), (2, 4, 5, 3), None),
    ({"scale": 0.3}, (3, 5, 3), (3, 7, 3), None),
    ({}, (2, 4, 5, 3), (2, 4, 6, 3), "bool"),
    ({}, (2, 4, 5, 3), (2, 4, 6, 3), "float"),
    ({"enable_gqa": True}, (2, 4, 5, 3), (2, 2, 6, 3), None),
]


@pytest.mark.parametrize("kw,q_shape,k_shape,mask", SDPA)
def test_sdpa_matches_torch(kw, q_shape, k_shape, mask):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(q_shape), rng.standard_normal(k_shape),
              rng.standard_normal(k_shape[:-1] + (4,))]
    m = rng.random((q_shape[-2], k_shape[-2])) > 0.3
    m[:, 0] = True
    mf = rng.standard_normal(m.shape)
    res = []
    for lib in _libs():
        ins = [lib.tensor(a, requires_grad=True) for a in arrays]
        extra = {"bool": {"attn_mask": lib.tensor(m)}, "float": {"attn_mask": lib.tensor(mf)},
                 None: {}}[mask]
        o = lib.nn.functional.scaled_dot_product_attention(*ins, **kw, **extra)
        _weighted_sum(o, lib).backward()
        res.append((o, ins))
    _close(res[0][0], res[1][0])
    for a, b in zip(res[0][1], res[1][1]):
        _close(a.grad, b.grad)


def test_sdpa_dropout_draws_torchs_mask():
    q = np.random.default_rng(0).standard_normal((2, 2, 5, 4)).astype(np.float32)
    outs = []
    for lib in _libs():
        lib.manual_seed(3)
        x = lib.tensor(q)
        outs.append(lib.nn.functional.scaled_dot_product_attention(x, x, x, dropout_p=0.3))
    _close(outs[0], outs[1], 1e-6)
    with pytest.raises(RuntimeError, match="Explicit attn_mask"):
        x = fastad.tensor(q)
        fastad.nn.functional.scaled_dot_product_attention(x, x, x, attn_mask=x[0, 0, :, :4] > 0,
                                                         is_causal=True)


KPM = np.zeros((3, 5), bool)
KPM[0, 3:] = True
CAUSAL = np.triu(np.ones((5, 5), bool), 1)


def _self(lib, m, xs, **kw):
    return m(xs[0], xs[0], xs[0], **kw)


MHA = [
    ({}, _self, [(5, 3, 8)], {}),
    ({"batch_first": True}, _self, [(3, 5, 8)], {}),
    ({"batch_first": True}, _self, [(3, 5, 8)], {"need_weights": False}),
    ({}, lambda lib, m, xs, **kw: m(xs[0], xs[1], xs[2], **kw), [(5, 3, 8), (6, 3, 8), (6, 3, 8)],
     {"need_weights": False}),
    ({}, lambda lib, m, xs, **kw: m(xs[0], xs[1], xs[1], **kw), [(5, 3, 8), (6, 3, 8)],
     {"average_attn_weights": False}),
    ({"num_heads": 4, "kdim": 5, "vdim": 3}, lambda lib, m, xs, **kw: m(*xs, **kw),
     [(5, 3, 8), (6, 3, 5), (6, 3, 3)], {}),
    ({}, _self, [(5, 3, 8)], {"key_padding_mask": KPM, "attn_mask": CAUSAL}),
    ({}, _self, [(5, 3, 8)], {"key_padding_mask": KPM, "attn_mask": CAUSAL, "need_weights": False}),
    ({}, _self, [(5, 3, 8)], {"attn_mask": CAUSAL, "is_causal": True, "need_weights": False}),
    ({"add_bias_kv": True, "add_zero_attn": True}, _self, [(5, 3, 8)], {"key_padding_mask": KPM}),
    ({"bias": False}, _self, [(5, 8)], {}),
]


@pytest.mark.parametrize("kw,call,shapes,fkw", MHA)
def test_multihead_attention_matches_torch(kw, call, shapes, fkw):
    res = []
    for lib in _libs():
        lib.manual_seed(0)
        m = lib.nn.MultiheadAttention(**dict({"embed_dim": 8, "num_heads": 2}, **kw))
        init = {k: v.clone() for k, v in m.state_dict().items()}
        m = m.double()
        rng = np.random.default_rng(1)
        xs = [lib.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
        args = {k: lib.tensor(v) if isinstance(v, np.ndarray) else v for k, v in fkw.items()}
        o, w = call(lib, m, xs, **args)
        total = _weighted_sum(o, lib) + (0 if w is None else (w * w).sum())
        total.backward()
        res.append((m, init, o, w, xs))
    (ma, ia, oa, wa, xa), (mb, ib, ob, wb, xb) = res
    assert list(ia) == list(ib)
    for k in ia:
        np.testing.assert_array_equal(ia[k].numpy(), ib[k].numpy())
    _close(oa, ob)
    assert (wa is None) == (wb is None)
    if wb is not None:
        _close(wa, wb)
    for a, b in zip(xa, xb):
        _close(a.grad, b.grad)
    for (n, p), (n2, q) in zip(ma.named_parameters(), mb.named_parameters()):
        assert n == n2
        _close(p.grad, q.grad)


def test_multihead_attention_dropout_matches_torch():
    x = np.random.default_rng(0).standard_normal((5, 2, 4)).astype(np.float32)
    outs = []
    for lib in _libs():
        lib.manual_seed(3)
        m = lib.nn.MultiheadAttention(4, 2, dropout=0.3)
        t = lib.tensor(x)
        outs.append(m(t, t, t) + (m(t, t, t, need_weights=False)[0],))
    for a, b in zip(outs[0], outs[1]):
        _close(a, b, 1e-6)


@pytest.mark.parametrize("kw", [{}, {"norm_first": True, "activation": "gelu",
                                     "batch_first": True}])
def test_transformer_encoder_matches_torch(kw):
    res = []
    for lib in _libs():
        lib.manual_seed(0)
        layer = lib.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, **kw)
        enc = lib.nn.TransformerEncoder(layer, 2, norm=lib.nn.LayerNorm(8),
                                        enable_nested_tensor=False).double()
        shape = (3, 5, 8) if kw.get("batch_first") else (5, 3, 8)
        x = lib.tensor(np.random.default_rng(2).standard_normal(shape), requires_grad=True)
        mask = lib.tensor(CAUSAL)
        o = enc(x, mask=mask)
        _weighted_sum(o, lib).backward()
        res.append((enc, o, x))
    (ea, oa, xa), (eb, ob, xb) = res
    sa, sb = ea.state_dict(), eb.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        np.testing.assert_array_equal(sa[k].numpy(), sb[k].numpy())
    _close(oa, ob)
    _close(xa.grad, xb.grad)
    for (n, p), (n2, q) in zip(ea.named_parameters(), eb.named_parameters()):
        assert n == n2
        _close(p.grad, q.grad)


def test_transformer_layer_dropout_draws_torchs_masks():
    x = np.random.default_rng(0).standard_normal((4, 2, 8)).astype(np.float32)
    outs = []
    for lib in _libs():
        lib.manual_seed(0)
        layer = lib.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.2)
        outs.append(layer(lib.tensor(x)))
    _close(outs[0], outs[1], 1e-5)


def test_bilinear_and_lazy_linear_match_torch():
    res = []
    rng = np.random.default_rng(3)
    x1, x2 = rng.standard_normal((2, 6, 3)), rng.standard_normal((2, 6, 4))
    for lib in _libs():
        lib.manual_seed(0)
        m = lib.nn.Bilinear(3, 4, 5)
        w0 = m.weight.detach().clone()
        m = m.double()
        a, b = lib.tensor(x1, requires_grad=True), lib.tensor(x2, requires_grad=True)
        o = m(a, b)
        _weighted_sum(o, lib).backward()
        res.append((w0, o, a.grad, b.grad, m.weight.grad, m.bias.grad))
    for u, v in zip(*res):
        _close(u, v)
    outs = []
    for lib in _libs():
        lib.manual_seed(0)
        lazy = lib.nn.LazyLinear(4)
        outs.append((lazy(lib.randn(2, 3)), lazy.weight, lazy.bias, type(lazy).__name__))
    for u, v in zip(outs[0][:3], outs[1][:3]):
        _close(u, v, 1e-6)
    assert outs[0][3] == outs[1][3] == "Linear"


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("kw", [{}, {"norm_first": True, "batch_first": True,
                                     "activation": "gelu"}])
def test_transformer_matches_torch(kw):
    res = []
    for lib in _libs():
        lib.manual_seed(0)
        m = lib.nn.Transformer(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=2,
                               dim_feedforward=16, dropout=0.0, **kw).double()
        rng = np.random.default_rng(1)
        bf = kw.get("batch_first")
        src = lib.tensor(rng.standard_normal((3, 5, 8) if bf else (5, 3, 8)), requires_grad=True)
        tgt = lib.tensor(rng.standard_normal((3, 4, 8) if bf else (4, 3, 8)), requires_grad=True)
        mask = lib.nn.Transformer.generate_square_subsequent_mask(4, dtype=lib.float64)
        kpm = lib.tensor(np.array([[False] * 5, [False] * 3 + [True] * 2, [False] * 5]))
        o = m(src, tgt, tgt_mask=mask, src_key_padding_mask=kpm, memory_key_padding_mask=kpm)
        _weighted_sum(o, lib).backward()
        res.append((m, o, src, tgt))
    (ma, oa, sa, ta), (mb, ob, sb, tb) = res
    assert list(ma.state_dict()) == list(mb.state_dict())
    for k in ma.state_dict():
        np.testing.assert_array_equal(ma.state_dict()[k].numpy(), mb.state_dict()[k].numpy())
    for u, v in ((oa, ob), (sa.grad, sb.grad), (ta.grad, tb.grad)):
        _close(u, v)
    for (n, p), (n2, q) in zip(ma.named_parameters(), mb.named_parameters()):
        assert n == n2
        _close(p.grad, q.grad)
