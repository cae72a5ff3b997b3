"""RNN, LSTM, GRU and their cells against PyTorch: parameters (names, shapes,
init values for the same seed), outputs and final states, gradients of the
input, the initial states and every parameter, over layers, directions,
batch_first, unbatched inputs, no bias, dropout; the recurrence primitive
against finite differences (every column of its result, gates included) and its
derivative in fastad ops against its array backward."""
import numpy as np
import pytest

import fastad
import fastad.nn as nn
from conftest import needs_torch
from fastad.gradcheck import gradcheck
from fastad.nn import _rnn


def _flat(out, lib):
    if isinstance(out, tuple):
        return lib.cat([_flat(o, lib) for o in out])
    return out.reshape(-1)


def _pair(name, kw, seed=0):
    import torch
    fastad.manual_seed(seed)
    torch.manual_seed(seed)
    return getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)


def _compare(name, kw, x_shape, states=None, dtype="float64", seed=0, atol=1e-9):
    import torch
    a, b = _pair(name, kw, seed)
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert tuple(sa[k].shape) == tuple(sb[k].shape)
        np.testing.assert_array_equal(sa[k].numpy(), sb[k].numpy())   # init, same seed
    if dtype == "float64":
        a.double(), b.double()
    npdt = np.float64 if dtype == "float64" else np.float32
    rng = np.random.default_rng(1)
    x = rng.standard_normal(x_shape).astype(npdt)
    xa, xb = fastad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    hs = [rng.standard_normal(s).astype(npdt) for s in (states or ())]
    ha = [fastad.tensor(h, requires_grad=True) for h in hs]
    hb = [torch.tensor(h, requires_grad=True) for h in hs]
    args_a = (xa,) if not hs else (xa, ha[0] if len(hs) == 1 else tuple(ha))
    args_b = (xb,) if not hs else (xb, hb[0] if len(hs) == 1 else tuple(hb))
    fa, fb = _flat(a(*args_a), fastad), _flat(b(*args_b), torch)
    np.testing.assert_allclose(fa.detach().numpy(), fb.detach().numpy(), atol=atol, rtol=1e-5)
    w = rng.standard_normal(fa.shape[0]).astype(npdt)
    (fa * fastad.tensor(w)).sum().backward()
    (fb * torch.tensor(w)).sum().backward()
    for u, v in zip([xa] + ha, [xb] + hb):
        np.testing.assert_allclose(u.grad.numpy(), v.grad.numpy(), atol=atol, rtol=1e-5)
    for (n, p), (m, q) in zip(a.named_parameters(), b.named_parameters()):
        assert n == m
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=atol * 10, rtol=1e-5,
                                   err_msg=n)


LAYERS = [
    ({}, (5, 2, 3), 1),
    ({"num_layers": 2, "bidirectional": True, "batch_first": True}, (2, 5, 3), 4),
    ({"bias": False, "num_layers": 2}, (4, 3), 2),
    ({"bidirectional": True}, (1, 3, 3), 2),
]


@needs_torch
@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("kw,x_shape,n_states", LAYERS)
@pytest.mark.parametrize("given_states", [False, True])
def test_recurrent_layer_matches_torch(name, kw, x_shape, n_states, given_states):
    kw = dict(kw, input_size=3, hidden_size=4)
    states = None
    if given_states:
        batched = len(x_shape) == 3
        batch = x_shape[0 if kw.get("batch_first") else 1]
        shape = (n_states,) + ((batch,) if batched else ()) + (4,)
        states = [shape] * (2 if name == "LSTM" else 1)
    _compare(name, kw, x_shape, states)


@needs_torch
def test_relu_rnn_and_float32():
    _compare("RNN", dict(input_size=3, hidden_size=4, nonlinearity="relu", num_layers=2),
             (6, 2, 3))
    _compare("LSTM", dict(input_size=3, hidden_size=5), (7, 3, 3), dtype="float32", atol=1e-5)
    _compare("GRU", dict(input_size=3, hidden_size=5), (7, 3, 3), dtype="float32", atol=1e-5)


@needs_torch
@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("x_shape", [(2, 3), (3,)])
@pytest.mark.parametrize("given", [False, True])
def test_cells_match_torch(name, x_shape, given):
    states = None
    if given:
        shape = x_shape[:-1] + (4,)
        states = [shape] * (2 if name == "LSTMCell" else 1)
    _compare(name, dict(input_size=3, hidden_size=4), x_shape, states)
    _compare(name, dict(input_size=3, hidden_size=4, bias=False), x_shape, states)


@needs_torch
def test_dropout_between_layers_matches_torch_masks():
    import torch
    for name in ("LSTM", "GRU"):
        a, b = _pair(name, dict(input_size=3, hidden_size=4, num_layers=3, dropout=0.4))
        x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
        fastad.manual_seed(7)
        torch.manual_seed(7)
        oa, ob = a(fastad.tensor(x))[0], b(torch.tensor(x))[0]
        np.testing.assert_allclose(oa.detach().numpy(), ob.detach().numpy(), atol=1e-5)
        a.eval(), b.eval()
        np.testing.assert_allclose(a(fastad.tensor(x))[0].detach().numpy(),
                                   b(torch.tensor(x))[0].detach().numpy(), atol=1e-5)


def test_parameter_names_repr_and_errors():
    m = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    names = [n for n, _ in m.named_parameters()]
    assert names[:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert names[4] == "weight_ih_l0_reverse" and names[-1] == "bias_hh_l1_reverse"
    assert tuple(m.weight_ih_l1.shape) == (16, 8)
    assert repr(m) == "LSTM(3, 4, num_layers=2, bidirectional=True)"
    assert repr(nn.RNN(2, 3, nonlinearity="relu")) == "RNN(2, 3, nonlinearity=relu)"
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        nn.RNN(2, 3, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="dropout should be a number"):
        nn.GRU(2, 3, dropout=2)
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers"):
        nn.GRU(2, 3, dropout=0.5)
    with pytest.raises(ValueError, match="Expected input to be 2D or 3D"):
        m(fastad.zeros(3))
    with pytest.raises(RuntimeError, match="Expected hidden size"):
        nn.GRU(3, 4)(fastad.zeros(2, 5, 3), fastad.zeros(1, 4, 4))


@pytest.mark.parametrize("mode", ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"])
@pytest.mark.parametrize("reverse", [False, True])
def test_recurrence_gradcheck_every_column(mode, reverse):
    """Gradients arriving at every column of the result (the gates too, as a
    recorded backward sends) are differentiated correctly."""
    g = {"LSTM": 4, "GRU": 3}.get(mode, 1)
    rng = np.random.default_rng(3)

    def t(*shape):
        return fastad.tensor(rng.uniform(-1, 1, shape), requires_grad=True)
    xp, h0, w = t(4, 2, g * 3), t(2, 3), t(g * 3, 3)
    c0 = t(2, 3) if mode == "LSTM" else None
    b = t(g * 3) if mode == "GRU" else None
    if mode == "RNN_RELU":         # keep pre-activations away from relu's kink
        with fastad.no_grad():
            xp.add_(fastad.tensor(np.sign(xp.detach().numpy()) * 0.5))
    ins = [v for v in (xp, h0, c0, w, b) if v is not None]

    def fn(*args):
        it = iter(args)
        return _rnn.recurrence(mode, next(it), next(it), next(it) if c0 is not None else None,
                               next(it), next(it) if b is not None else None, reverse)
    assert gradcheck(fn, ins, eps=1e-6, atol=1e-6)
    # the derivative in fastad ops gives the compiled first-order backward's gradients
    res = fn(*ins)
    grad = rng.standard_normal(tuple(res.shape))
    arrays = tuple(None if v is None else v.detach().numpy() for v in (xp, h0, c0, w, b))
    by_arrays = _rnn._backward(mode, grad, arrays, res.detach().numpy(), reverse)
    with fastad.no_grad():
        by_tensors = _rnn._bptt(mode, fastad.tensor(grad),
                                (xp, h0, c0, w, b), res.detach(), reverse)
    for u, v in zip(by_arrays, by_tensors):
        assert (u is None) == (v is None)
        if u is not None:
            np.testing.assert_allclose(np.asarray(u), v.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_same_bits_at_one_and_two_threads(name):
    res = []
    before = fastad.get_num_threads()
    try:
        for threads in (1, 2):
            fastad.set_num_threads(threads)
            fastad.manual_seed(0)
            m = getattr(nn, name)(16, 32, num_layers=2, bidirectional=True)
            x = fastad.randn(12, 8, 16, requires_grad=True)
            out, h_n = m(x)
            h_n = h_n[0] if name == "LSTM" else h_n
            (out.sum() + h_n.sum()).backward()
            res.append([out.detach().numpy().copy(), x.grad.numpy().copy()]
                       + [p.grad.numpy().copy() for p in m.parameters()])
    finally:
        fastad.set_num_threads(before)
    for a, b in zip(*res):
        np.testing.assert_array_equal(a, b)


def _packed_run(lib, name, lengths, hx_given):
    rng = np.random.default_rng(5)
    lib.manual_seed(0)
    layer = getattr(lib.nn, name)(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    layer.double()
    x = lib.tensor(rng.standard_normal((len(lengths), max(lengths), 3)), requires_grad=True)
    hx = None
    if hx_given:
        h = lib.tensor(rng.standard_normal((4, len(lengths), 4)), requires_grad=True)
        hx = (h, h * 0.5) if name == "LSTM" else h
    rnn = lib.nn.utils.rnn
    packed = rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, state = layer(packed, hx)
    padded, _ = rnn.pad_packed_sequence(out, batch_first=True)
    state = lib.cat([s.reshape(-1) for s in state]) if name == "LSTM" else state.reshape(-1)
    loss = (padded * lib.tensor(rng.standard_normal(tuple(padded.shape)))).sum() + \
        (state * lib.tensor(rng.standard_normal(tuple(state.shape)))).sum()
    loss.backward()
    return [padded, state, x.grad] + [p.grad for p in layer.parameters()]


@needs_torch
@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("hx_given", [False, True])
def test_packed_sequence_input_matches_torch(name, hx_given):
    """Each sequence runs to its own length (the reverse direction starts at its
    own end), in the caller's batch order; values and every gradient."""
    import torch
    got = _packed_run(fastad, name, [2, 5, 1, 5, 3], hx_given)
    want = _packed_run(torch, name, [2, 5, 1, 5, 3], hx_given)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-9, atol=1e-12)
