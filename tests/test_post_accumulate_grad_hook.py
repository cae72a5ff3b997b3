"""Tensor.register_post_accumulate_grad_hook against PyTorch: when it runs,
what .grad it sees, in which order, its handle and its errors."""
import numpy as np
import pytest

import fastad


def _run(lib, program):
    """program(lib, log) under each library; log records (name, grad) per hook call."""
    log = []
    program(lib, log)
    return [(name, np.array(g)) for name, g in log]


def _hooked(lib, log, name, value):
    t = lib.tensor(value, requires_grad=True)
    t.register_post_accumulate_grad_hook(lambda p: log.append((name, p.grad.detach().numpy().copy())))
    return t


def _mlp(lib, log):
    w1 = _hooked(lib, log, "w1", [[0.5, -1.0], [2.0, 0.25]])
    b1 = _hooked(lib, log, "b1", [0.1, -0.2])
    w2 = _hooked(lib, log, "w2", [[1.5, -0.5]])
    x = lib.tensor([[1.0, 2.0], [-1.0, 0.5], [3.0, 1.0]])
    for _ in range(2):   # the second backward accumulates: the hooks see the sum
        h = lib.tanh(x @ w1.T + b1)
        (h @ w2.T).pow(2).sum().backward()


def _leaf_root(lib, log):
    a = _hooked(lib, log, "a", [1.0, 2.0])
    a.backward(lib.tensor([3.0, 4.0]))


def _shared_leaf(lib, log):
    a = _hooked(lib, log, "a", [1.0, 2.0])
    b = _hooked(lib, log, "b", [0.5, 0.5])
    ((a * b).sum() * (a * 3).sum()).backward()


@pytest.mark.parametrize("program", [_mlp, _leaf_root, _shared_leaf])
def test_calls_order_and_grads_match_torch(program):
    torch = pytest.importorskip("torch")
    got, want = _run(fastad, program), _run(torch, program)
    if program is _shared_leaf:
        # leaves ready at the same moment: PyTorch's order among them is its engine's; a
        # layered model's (_mlp) is the same in both
        got, want = sorted(got, key=lambda e: e[0]), sorted(want, key=lambda e: e[0])
    assert [n for n, _ in got] == [n for n, _ in want]
    for (_, g), (_, w) in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6)


def test_not_called_by_autograd_grad_and_removable():
    calls = []
    a = fastad.tensor([1.0, 2.0], requires_grad=True)
    handle = a.register_post_accumulate_grad_hook(lambda t: calls.append(t.grad.tolist()))
    fastad.autograd.grad((a * a).sum(), a)
    assert calls == [] and a.grad is None
    (a * a).sum().backward()
    assert calls == [[2.0, 4.0]]
    handle.remove()
    (a * a).sum().backward()
    assert calls == [[2.0, 4.0]] and a.grad.tolist() == [4.0, 8.0]


def test_hook_may_change_grad_in_place():
    a = fastad.tensor([1.0, 2.0], requires_grad=True)
    a.register_post_accumulate_grad_hook(lambda t: t.grad.mul_(0.5))
    (a * 4).sum().backward()
    assert a.grad.tolist() == [2.0, 2.0]


def test_errors_as_torch():
    with pytest.raises(RuntimeError, match="non-leaf"):
        (fastad.ones(2, requires_grad=True) * 2).register_post_accumulate_grad_hook(print)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        fastad.ones(2).register_post_accumulate_grad_hook(print)
    a = fastad.ones(2, requires_grad=True)
    a.register_post_accumulate_grad_hook(lambda t: 5)
    with pytest.raises(TypeError, match="hook returned 'int'"):
        a.sum().backward()
    assert a.grad.tolist() == [1.0, 1.0]
    (a * 1).sum()   # the engine is usable after the failed hook


def _layers(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.Tanh(), lib.nn.Linear(8, 8),
                             lib.nn.ReLU(), lib.nn.Linear(8, 2))


@pytest.mark.parametrize("lib_name", ["fastad", "torch"])
def test_hook_runs_while_backward_still_runs(lib_name):
    """The last layer's weight is complete first: its hook runs before the first
    layer's gradient is computed (what lets DDP all-reduce during backward)."""
    lib = fastad if lib_name == "fastad" else pytest.importorskip("torch")
    model = _layers(lib)
    first, last = model[0].weight, model[4].weight
    seen = []
    last.register_post_accumulate_grad_hook(
        lambda p: seen.append((p.grad is not None, first.grad is None)))
    first.register_post_accumulate_grad_hook(
        lambda p: seen.append((p.grad is not None, last.grad is not None)))
    x = lib.ones(3, 4)
    for _ in range(2):   # again with every .grad set: each hook still runs once per backward
        model(x).pow(2).sum().backward()
        first.grad = None
    assert seen == [(True, True), (True, True)] * 2


@pytest.mark.parametrize("lib_name", ["fastad", "torch"])
def test_hook_that_raises_mid_backward(lib_name):
    """The exception stops the backward: leaves below are not deposited, the
    swept part of the graph is freed, and a new graph works."""
    lib = fastad if lib_name == "fastad" else pytest.importorskip("torch")
    model = _layers(lib)
    first, last = model[0].weight, model[4].weight

    def boom(p):
        raise ValueError("boom")

    handle = last.register_post_accumulate_grad_hook(boom)
    loss = model(lib.ones(3, 4)).pow(2).sum()
    with pytest.raises(ValueError, match="boom"):
        loss.backward()
    assert last.grad is not None and first.grad is None
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()
    handle.remove()
    model(lib.ones(3, 4)).pow(2).sum().backward()
    want = _layers(lib)
    want(lib.ones(3, 4)).pow(2).sum().backward()
    np.testing.assert_allclose(first.grad.detach().numpy(), want[0].weight.grad.detach().numpy(),
                               rtol=1e-6)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
@pytest.mark.parametrize("create_graph", [False, True])
def test_leaf_root_also_in_the_graph_is_accumulated_once(create_graph):
    torch = pytest.importorskip("torch")
    out = {}
    for lib in (fastad, torch):
        log = []
        a = _hooked(lib, log, "a", [1.0, 2.0])
        lib.autograd.backward([(a * a).sum(), a], [None, lib.tensor([3.0, 4.0])],
                              create_graph=create_graph)
        out[lib] = [(n, g.tolist()) for n, g in log] + [a.grad.tolist()]
    assert out[fastad] == out[torch]


def test_create_graph_deposits_as_the_sweep_passes():
    model = _layers(fastad)
    first, last = model[0].weight, model[4].weight
    seen = []
    last.register_post_accumulate_grad_hook(lambda p: seen.append(first.grad is None))
    model(fastad.ones(3, 4)).pow(2).sum().backward(create_graph=True)
    assert seen == [True] and first.grad.requires_grad
