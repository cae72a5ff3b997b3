"""Module hooks and traversal against PyTorch: the same program of forward
pre-hooks, forward hooks (with_kwargs, always_call, prepend, replacing
inputs and outputs), full backward hooks and backward pre-hooks (replacing
gradients, several inputs, inputs without gradients) logs the same calls and
values on fastad and torch; hooks inside nn.Sequential are not skipped by its
fused Linear + activation path; named_modules prefixes, apply's order, and
state_dict's key order (module by module, parameters then buffers) with
non-persistent buffers."""
import numpy as np
import pytest

import fastad
from conftest import needs_torch


def _round(v):
    return np.round(np.asarray(v, dtype=np.float64), 6).tolist()


def _program(L):
    L.manual_seed(0)
    log = []
    nn = L.nn
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.BatchNorm1d(2)).double()
    handles = [
        net[0].register_forward_pre_hook(lambda m, a: log.append(("pre", tuple(a[0].shape)))),
        net[0].register_forward_hook(lambda m, a, o: o * 2),
        net[1].register_forward_hook(lambda m, a, o: log.append(("relu out", _round(o.sum().item())))),
        net[2].register_forward_pre_hook(lambda m, a, k: ((a[0] + 1,), k), with_kwargs=True),
        net[2].register_forward_hook(lambda m, a, k, o: log.append(("kw", sorted(k))),
                                     with_kwargs=True),
        net[2].register_forward_hook(lambda m, a, o: log.append("first"), prepend=True),
        net[1].register_full_backward_hook(lambda m, gi, go: log.append(
            ("bwd relu", [_round(g.sum().item()) for g in gi], [_round(g.sum().item())
                                                                 for g in go]))),
        net[2].register_full_backward_hook(lambda m, gi, go: (gi[0] * 3,)),
        net[0].register_full_backward_pre_hook(lambda m, go: log.append(
            ("bpre", _round(go[0].sum().item())))),
    ]
    x = L.tensor(np.arange(15.0).reshape(5, 3) / 10, requires_grad=True)
    y = net(x)
    (y * y).sum().backward()
    log.append(("x.grad", _round(x.grad.numpy())))
    for h in handles:
        h.remove()
    log.append(("after removal", _round(net(x).detach().numpy())))
    net.apply(lambda m: log.append(type(m).__name__))
    log.append([n for n, _ in net.named_modules(prefix="root")])
    return log


@needs_torch
def test_hook_program_logs_what_torch_logs():
    import torch
    assert _program(fastad) == _program(torch)


def _multi_input(L):
    log = []
    L.manual_seed(0)
    m = L.nn.Bilinear(2, 3, 2).double()
    m.register_full_backward_hook(lambda mod, gi, go: log.append(
        ([None if g is None else _round(g.numpy()) for g in gi], [_round(g.numpy()) for g in go])))
    a = L.tensor(np.ones((2, 2)), requires_grad=True)
    b = L.tensor(np.arange(6.0).reshape(2, 3))        # no gradient wanted
    m(a, b).sum().backward()
    frozen = L.nn.Linear(2, 2).double()
    frozen.register_full_backward_hook(lambda mod, gi, go: log.append(("frozen", gi)))
    frozen(L.tensor(np.ones((1, 2)))).sum().backward()
    return log


@needs_torch
@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_backward_hook_with_several_inputs_and_none_needing_grad():
    import torch
    assert _multi_input(fastad) == _multi_input(torch)


def _always(L):
    log = []
    m = L.nn.Linear(2, 2)
    m.register_forward_hook(lambda mod, a, o: log.append(("always", o)), always_call=True)
    m.register_forward_hook(lambda mod, a, o: log.append("not"))
    with pytest.raises(RuntimeError):
        m(L.zeros(3, 5))
    return log


@needs_torch
def test_always_call_runs_when_forward_raises():
    import torch
    assert _always(fastad) == _always(torch) == [("always", None)]


def test_sequential_fusion_runs_hooks():
    net = fastad.nn.Sequential(fastad.nn.Linear(3, 4), fastad.nn.Sigmoid())
    seen = []
    net[1].register_forward_hook(lambda m, a, o: seen.append(o.shape))
    net(fastad.randn(2, 3))
    assert seen == [fastad.Size([2, 4])]


def _nested(L):
    nn = L.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("scale", L.ones(2))
            self.norm = nn.BatchNorm1d(2)
            self.lin = nn.Linear(2, 2)
            self.register_buffer("cache", L.zeros(2), persistent=False)
            self.gain = nn.Parameter(L.ones(1))

    model = nn.Sequential(nn.Linear(2, 2), Block(), nn.BatchNorm1d(2))
    return list(model.state_dict()), [n for n, _ in model.named_buffers()]


@needs_torch
def test_state_dict_key_order_is_torchs():
    import torch
    keys, buffers = _nested(fastad)
    assert keys == _nested(torch)[0]
    assert "1.cache" not in keys and "1.cache" in buffers


def test_load_state_dict_round_trip_keeps_order_and_skips_non_persistent():
    a, b = fastad.nn.BatchNorm1d(3), fastad.nn.BatchNorm1d(3)
    a.register_buffer("tmp", fastad.ones(1), persistent=False)
    b.register_buffer("tmp", fastad.zeros(1), persistent=False)
    a.running_mean.add_(1.0)
    assert repr(b.load_state_dict(a.state_dict())) == "<All keys matched successfully>"
    np.testing.assert_array_equal(b.running_mean.numpy(), a.running_mean.numpy())
    assert b.tmp.item() == 0.0
