"""The tape's lifetime: graphs are freed or reused when nothing refers to them,
retained graphs stay usable, threads have their own graph."""
import gc
import threading

import numpy as np
import pytest

import fastad
from conftest import get_torch, live_graphs


def test_many_independent_graphs_give_correct_grads():
    torch = get_torch()
    for k in range(200):
        a = fastad.tensor(float(k) / 100, requires_grad=True)
        v = fastad.tensor([1.0, 2.0], requires_grad=True)
        y = (a * a * 3 + (v * a).sum()).exp() / 1e3
        y.backward()
        ta = torch.tensor(float(k) / 100, requires_grad=True)
        tv = torch.tensor([1.0, 2.0], requires_grad=True)
        ty = (ta * ta * 3 + (tv * ta).sum()).exp() / 1e3
        ty.backward()
        np.testing.assert_allclose(a.grad.item(), ta.grad.item(), rtol=1e-5)
        np.testing.assert_allclose(v.grad.tolist(), tv.grad.tolist(), rtol=1e-5)


def test_graph_kept_alive_by_a_surviving_output():
    x = fastad.tensor([1.0, 2.0], requires_grad=True)
    keep = (x * x).sum()          # graph 1 stays reachable through keep
    for _ in range(5):            # other graphs come and go meanwhile
        (x * 3).sum().backward()
    keep.backward()
    assert x.grad.tolist() == [15 + 2.0, 15 + 4.0]


def test_dropped_graph_does_not_leak_into_next_backward():
    x = fastad.tensor(2.0, requires_grad=True)
    for _ in range(10):
        _ = x * x * x            # built and dropped, never differentiated
    y = x * 5
    y.backward()
    assert x.grad.item() == 5.0


def test_retained_graph_many_backwards():
    torch = get_torch()
    out = []
    for lib in (fastad, torch):
        x = lib.tensor([0.5, -1.0], requires_grad=True)
        s = lib.tensor(2.0, requires_grad=True)
        y = ((x * s).tanh() * s).sum()
        for _ in range(4):
            y.backward(retain_graph=True)
        out.append((x.grad.tolist(), s.grad.item()))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-6)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-6)


def test_partial_backward_then_rest_of_graph():
    # backward from an intermediate (retained), then from the final output
    torch = get_torch()
    res = []
    for lib in (fastad, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        h = (x * x).sum()
        y = h * 3 + x.sum()
        h.backward(retain_graph=True)
        y.backward()
        res.append(x.grad.tolist())
    assert res[0] == res[1]


def test_two_outputs_of_one_graph_backward_separately():
    torch = get_torch()
    res = []
    for lib in (fastad, torch):
        x = lib.tensor([1.0, 3.0], requires_grad=True)
        h = x.exp()
        a = h.sum()
        b = (h * 2).sum()
        a.backward(retain_graph=True)
        b.backward()
        res.append(x.grad.tolist())
    np.testing.assert_allclose(res[0], res[1], rtol=1e-6)


def test_leaf_reusable_after_a_big_graph_is_dropped():
    x = fastad.tensor([1.0, 2.0], requires_grad=True)
    big = fastad.ones(1000, 100)
    y = (x.sum() * big).sum()
    probe = y.grad_fn
    y.backward()
    del y, probe
    gc.collect()
    z = (x * 2).sum()
    z.backward()
    assert x.grad.tolist() == [100000 + 2.0, 100000 + 2.0]


def test_threads_build_and_differentiate_their_own_graphs():
    errors = []
    results = {}

    def worker(k):
        try:
            for it in range(50):
                x = fastad.tensor([float(k), 1.0], requires_grad=True)
                s = fastad.tensor(float(it), requires_grad=True)
                y = (x * x).sum() * s + s * s
                y.backward()
                assert x.grad.tolist() == [2.0 * k * it, 2.0 * it]
                assert s.grad.item() == k * k + 1 + 2 * it
            results[k] = True
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    assert len(results) == 4


def test_leaf_used_in_two_threads():
    x = fastad.tensor([1.0, 2.0], requires_grad=True)
    grads = []

    def worker():
        y = (x * 3).sum()
        (g,) = fastad.autograd.grad(y, x)
        grads.append(g.tolist())

    ts = [threading.Thread(target=worker) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert grads == [[3.0, 3.0]] * 3
    assert x.grad is None


def test_nograd_results_do_not_hold_graphs():
    x = fastad.tensor([1.0, 2.0], requires_grad=True)
    with fastad.no_grad():
        ys = [x * k for k in range(100)]
    assert all(y.grad_fn is None and not y.requires_grad for y in ys)
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_detached_values_survive_backward():
    x = fastad.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    d = y.detach()
    y.sum().backward()
    np.testing.assert_allclose(d.numpy(), np.exp([1.0, 2.0]), rtol=1e-6)
    assert y.tolist() == d.tolist()


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_double_backward_through_a_class_loss_frees_its_graph(loss):
    # a second backward that does not reach every record hands the thread a fresh
    # graph: the old one must then be freed (a record's closure holding a tensor
    # kept it alive, with every array of the step)
    F = fastad.nn.functional
    x = fastad.randn(8, 5)
    w = fastad.randn(5, 3, requires_grad=True)
    y = fastad.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    v = fastad.randn(5, 3)

    def step():
        z = x @ w
        out = getattr(F, loss)(z if loss == "cross_entropy" else F.log_softmax(z, 1), y)
        g, = fastad.autograd.grad(out, w, create_graph=True)
        fastad.autograd.grad((g * v).sum(), w)
    step()
    before = live_graphs()
    for _ in range(5):
        step()
    assert live_graphs() == before
