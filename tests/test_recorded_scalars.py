"""The recorded backward of float64 scalar records in C (fastad/_recorded_scalars.pxi)
against the Tensor-op path it stands for (_scalar_vjp, which anomaly mode runs):
the same bits at every order, for every scalar record kind."""
import numpy as np
import pytest

import fastad as fd
from fastad import _tensor, autograd


def _funcs():
    c = fd.tensor(0.4, dtype=fd.float64)        # a tensor that does not require grad
    return {
        "mul_add_sub": lambda a, b: a * b + (a - b) * (a - 2.0) + (3.0 - a) * b,
        "div": lambda a, b: a / b + b / 2.0 + c / b + a / (a + b),
        "rdiv_pow": lambda a, b: 2.0 / b + a ** 3 + b ** 0 + (a * b) ** 2.5 + a ** 1,
        "act": lambda a, b: a.tanh() * b.exp() - b.sigmoid() / a + (-a) * b.sin(),
        "clone": lambda a, b: a.clone() * b + (a * c) * (c * b),
    }


def _derivatives(f, a0, b0, anomaly):
    """First, second and third derivatives of f at (a0, b0), as floats."""
    a = fd.tensor(a0, dtype=fd.float64, requires_grad=True)
    b = fd.tensor(b0, dtype=fd.float64, requires_grad=True)
    kw = dict(create_graph=True, allow_unused=True, materialize_grads=True)
    with autograd.set_detect_anomaly(anomaly):
        ga, gb = autograd.grad(f(a, b), (a, b), **kw)
        gaa, gab = autograd.grad(ga, (a, b), **kw)
        gbb, = autograd.grad(gb, b, **kw)
        gaaa, gaab = (autograd.grad(gaa, (a, b), allow_unused=True, materialize_grads=True)
                      if gaa.requires_grad else (fd.zeros(()), fd.zeros(())))
    return [t.item() for t in (ga, gb, gaa, gab, gbb, gaaa, gaab)]


@pytest.mark.parametrize("name", sorted(_funcs()))
def test_scalar_records_match_the_tensor_op_path(name):
    f = _funcs()[name]
    fast = _derivatives(f, 1.3, 0.7, False)
    slow = _derivatives(f, 1.3, 0.7, True)
    assert np.array(fast).tobytes() == np.array(slow).tobytes()


def _records_pushed(f, anomaly):
    """How many records a create_graph gradient for a alone adds to the tape."""
    a = fd.tensor(1.3, dtype=fd.float64, requires_grad=True)
    b = fd.tensor(0.7, dtype=fd.float64, requires_grad=True)
    with autograd.set_detect_anomaly(anomaly):
        y = f(a, b)
        n = len(_tensor.graph_of(y))
        autograd.grad(y, a, create_graph=True)
    return len(_tensor.graph_of(y)) - n


@pytest.mark.parametrize("name", sorted(_funcs()))
def test_the_c_sweep_skips_the_gradients_nobody_asked_for(name):
    """b's gradient is not computed (the Tensor-op path computes every
    partial of a record it runs): fewer records, and proof the C sweep ran."""
    f = _funcs()[name]
    assert _records_pushed(f, False) < _records_pushed(f, True)


def _newton_rows(anomaly):
    x = fd.tensor([0.5, 0.5], dtype=fd.float64, requires_grad=True)
    with autograd.set_detect_anomaly(anomaly):
        f = (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2
        g, = autograd.grad(f, x, create_graph=True)
        h0, = autograd.grad(g[0], x, retain_graph=True)
        h1, = autograd.grad(g[1], x, create_graph=True)
        h11, = autograd.grad(h1[1], x)
    return g, np.concatenate([g.detach().numpy(), h0.numpy(), h1.detach().numpy(),
                              h11.numpy()])


def test_reads_of_an_array_give_one_gradient_node():
    """x[0], x[1] read twice each: x's gradient is one node over the elements'
    records, with the values (and grad_fn name) of the sum of select_backwards."""
    g, fast = _newton_rows(False)
    _, slow = _newton_rows(True)
    assert fast.tobytes() == slow.tobytes()
    assert g.grad_fn.name() == "AddBackward0"
    np.testing.assert_array_equal(fast[:6], [-33.0, -33.0, -37.0, 4.0, 4.0, -21.0])


def test_one_read_and_unread_elements():
    x = fd.tensor([0.5, -0.0, 2.0], dtype=fd.float64, requires_grad=True)
    g, = autograd.grad(x[2] ** 3, x, create_graph=True)
    assert g.grad_fn.name() == "SelectBackwardBackward0"
    np.testing.assert_array_equal(g.detach().numpy(), [0.0, 0.0, 12.0])
    h, = autograd.grad(g[2], x)
    np.testing.assert_array_equal(h.numpy(), [0.0, 0.0, 12.0])


def test_float32_and_mixed_graphs_keep_the_tensor_op_path():
    for dt in (fd.float32, fd.float64):
        a = fd.tensor(1.5, dtype=fd.float32, requires_grad=True)
        b = fd.tensor(0.5, dtype=dt, requires_grad=True)
        ga, = autograd.grad(a ** 3 * b, a, create_graph=True)
        gaa, = autograd.grad(ga, a)
        assert ga.dtype == fd.promote_types(fd.float32, dt)
        assert gaa.item() == pytest.approx(6 * 1.5 * 0.5)


def test_a_freed_graph_raises():
    a = fd.tensor(1.5, dtype=fd.float64, requires_grad=True)
    y = a.exp() * a
    autograd.grad(y, a)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        autograd.grad(y, a, create_graph=True)
