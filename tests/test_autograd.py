"""Autograd semantics against PyTorch: grad mode, leaves, accumulation,
in-place ops, backward/grad options, custom Functions."""
import threading

import numpy as np
import pytest

import fastad
import fastad.autograd
from conftest import assert_same, needs_torch, optional_torch, pair

torch = optional_torch()
LIBS = [fastad, torch]


def both(fn):
    """fn(lib) for fastad and torch."""
    return fn(fastad), fn(torch)


# ---------------------------------------------------------------- grad mode
@needs_torch
def test_no_grad_context_and_decorator():
    def prog(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        with lib.no_grad():
            y = x * 2
            inner = lib.is_grad_enabled()
            with lib.enable_grad():
                z = x * 3
                inner2 = lib.is_grad_enabled()

        @lib.no_grad()
        def f(v):
            return v * 4, lib.is_grad_enabled()

        @lib.enable_grad()
        def g(v):
            return v * 5

        w, inside = f(x)
        with lib.no_grad():
            u = g(x)
        return (y.requires_grad, y.grad_fn is None, inner, z.requires_grad, inner2,
                w.requires_grad, inside, u.requires_grad, lib.is_grad_enabled())
    assert prog(fastad) == prog(torch)


@needs_torch
def test_set_grad_enabled():
    for lib in LIBS:
        x = lib.tensor([1.0], requires_grad=True)
        with lib.set_grad_enabled(False):
            assert not (x * 2).requires_grad
        assert (x * 2).requires_grad
        lib.set_grad_enabled(False)
        try:
            assert not lib.is_grad_enabled()
        finally:
            lib.set_grad_enabled(True)
        assert lib.is_grad_enabled()


@needs_torch
def test_grad_mode_restored_after_exception():
    for lib in LIBS:
        with pytest.raises(ValueError):
            with lib.no_grad():
                raise ValueError
        assert lib.is_grad_enabled()


def test_grad_mode_is_per_thread():
    x = fastad.tensor([1.0, 2.0], requires_grad=True)
    seen = {}
    ready, go = threading.Event(), threading.Event()

    def worker():
        ready.wait()
        seen["enabled"] = fastad.is_grad_enabled()
        y = (x * 2).sum()
        seen["rg"] = y.requires_grad
        go.set()

    t = threading.Thread(target=worker)
    t.start()
    with fastad.no_grad():
        ready.set()
        go.wait(10)
        assert not fastad.is_grad_enabled()
    t.join()
    assert seen == {"enabled": True, "rg": True}
    assert fastad.is_grad_enabled()


def test_no_grad_decorator_in_thread_leaves_main_alone():
    @fastad.no_grad()
    def f():
        return fastad.is_grad_enabled()
    out = []
    t = threading.Thread(target=lambda: out.append(f()))
    t.start()
    t.join()
    assert out == [False] and fastad.is_grad_enabled()


# ---------------------------------------------------------------- leaves, flags
@needs_torch
def test_requires_grad_propagation_and_is_leaf():
    def prog(lib):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([3.0, 4.0])
        c = a * b
        d = b * 2
        e = a.detach()
        f = c.detach().requires_grad_()
        g = lib.tensor(2.0, requires_grad=True) * 3
        return [(t.requires_grad, t.is_leaf, t.grad_fn is None)
                for t in (a, b, c, d, e, f, g)]
    assert prog(fastad) == prog(torch)


@needs_torch
def test_requires_grad_setter_and_ops_on_results():
    for lib in LIBS:
        x = lib.ones(3)
        x.requires_grad = True
        assert x.requires_grad and x.is_leaf
        y = (x * 2).sum()
        y.backward()
        assert x.grad.tolist() == [2.0, 2.0, 2.0]


@needs_torch
def test_detach_shares_storage_clone_does_not():
    for lib in LIBS:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        d = x.detach()
        with lib.no_grad():
            x.mul_(2)
        assert d.tolist() == [2.0, 4.0]
        c = x.clone()
        assert c.grad_fn.name() == "CloneBackward0"
        c.sum().backward()
        assert x.grad.tolist() == [1.0, 1.0]


@needs_torch
def test_data_attribute():
    for lib in LIBS:
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        d = x.data
        assert not d.requires_grad and d.is_leaf
        x.data.mul_(3)
        assert x.tolist() == [3.0, 6.0]
        s = lib.tensor(2.0, requires_grad=True)
        s.data -= 0.5
        assert s.item() == 1.5


# ---------------------------------------------------------------- accumulation
@needs_torch
def test_grad_accumulates_across_backward_calls():
    def prog(lib):
        x = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        s = lib.tensor(0.5, requires_grad=True)
        out = []
        for k in range(3):
            y = ((x * s) ** 2).sum() + s * k
            y.backward()
            out.append((x.grad.tolist(), s.grad.item()))
        x.grad.zero_()
        s.grad = None
        (x * s).sum().backward()
        out.append((x.grad.tolist(), s.grad.item()))
        return out
    f, t = both(prog)
    np.testing.assert_allclose(np.array([o[0] for o in f]), np.array([o[0] for o in t]), rtol=1e-6)
    np.testing.assert_allclose([o[1] for o in f], [o[1] for o in t], rtol=1e-6)


@needs_torch
def test_same_leaf_used_many_times_and_grad_identity():
    def prog(lib):
        x = lib.tensor([0.5, 1.5], requires_grad=True)
        y = x * x + x.exp() * x - x / (x + 1)
        y.sum().backward()
        g1 = x.grad
        (x * 2).sum().backward()
        return x.grad.tolist(), g1 is x.grad
    f, t = both(prog)
    np.testing.assert_allclose(f[0], t[0], rtol=1e-6)
    assert f[1] == t[1]


@needs_torch
def test_scalar_graph_gradient_values():
    # a long chain of 0-d ops (inline scalar records)
    def prog(lib):
        a = lib.tensor(0.3, dtype=lib.float64, requires_grad=True)
        b = lib.tensor(-1.2, dtype=lib.float64, requires_grad=True)
        v = a
        for k in range(50):
            v = (v * b + a).tanh() + (v * 0.5).sigmoid() - (a - b).abs() / (k + 1)
            v = v + (b ** 2 + 1).log() * (a.cos() - b.sin()) + (a * a + 1).sqrt().relu()
        v.backward()
        return v.item(), a.grad.item(), b.grad.item()
    np.testing.assert_allclose(prog(fastad), prog(torch), rtol=1e-10)


# ---------------------------------------------------------------- backward / grad
@needs_torch
def test_backward_with_gradient_argument():
    for g in [[1.0, 0.5, -2.0], [[1.0, 0.5, -2.0]]]:
        def prog(lib):
            x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
            y = x * x if len(g) == 3 else (x * x).unsqueeze(0)
            y.backward(lib.tensor(g))
            return x.grad.tolist()
        assert prog(fastad) == prog(torch)


@needs_torch
def test_backward_on_leaf_and_one_element_tensor():
    for lib in LIBS:
        x = lib.tensor([2.0], requires_grad=True)
        x.backward()
        assert x.grad.tolist() == [1.0]
        y = lib.tensor([[3.0]], requires_grad=True)
        (y * 2).backward()
        assert y.grad.tolist() == [[2.0]]


@needs_torch
def test_retain_graph_allows_second_backward():
    def prog(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        s = lib.tensor(1.5, requires_grad=True)
        y = (x.exp() * s * s).sum()
        y.backward(retain_graph=True)
        y.backward()
        return x.grad.tolist(), s.grad.item()
    f, t = both(prog)
    np.testing.assert_allclose(f[0], t[0], rtol=1e-6)
    np.testing.assert_allclose(f[1], t[1], rtol=1e-6)


@needs_torch
def test_tutorial_chain_rule():
    """The tutorial: y1 = w1*x, y2 = w2*y1; backward with retain_graph, then
    autograd.grad for dy2/dy1, dy1/dw1, dy2/dw1 on the same graph."""
    def prog(lib):
        x = lib.tensor(2.0)
        w1 = lib.tensor(3.0, requires_grad=True)
        w2 = lib.tensor(4.0, requires_grad=True)
        y1 = w1 * x
        y2 = w2 * y1
        y2.backward(retain_graph=True)
        out = [w1.grad.item(), w2.grad.item()]
        out.append(lib.autograd.grad(y2, y1, retain_graph=True)[0].item())
        out.append(lib.autograd.grad(y1, w1, retain_graph=True)[0].item())
        out.append(lib.autograd.grad(y2, w1, retain_graph=True)[0].item())
        out.append(lib.autograd.grad(y2, [w1, w2])[1].item())
        out.append((w1.grad.item(), w2.grad.item()))  # autograd.grad leaves .grad alone
        return out
    assert prog(fastad) == prog(torch)


@needs_torch
def test_tutorial_chain_rule_vectors():
    def prog(lib):
        x = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)
        w1 = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
        y1 = (w1 * x).sigmoid()
        y2 = (y1 * y1).sum()
        y2.backward(retain_graph=True)
        g_y1 = lib.autograd.grad(y2, y1, retain_graph=True)[0]
        g_w1 = lib.autograd.grad(y1, w1, grad_outputs=lib.ones_like(y1), retain_graph=True)[0]
        g2 = lib.autograd.grad(y2, w1)[0]
        return [w1.grad.tolist(), g_y1.tolist(), g_w1.tolist(), g2.tolist()]
    np.testing.assert_allclose(np.array(prog(fastad)), np.array(prog(torch)), rtol=1e-12)


@needs_torch
def test_grad_multiple_outputs_and_grad_outputs():
    def prog(lib):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor(3.0, requires_grad=True)
        o1 = (a * b).sum()
        o2 = a * a
        ga, gb = lib.autograd.grad([o1, o2], [a, b], grad_outputs=[lib.tensor(2.0),
                                                                 lib.tensor([1.0, -1.0])])
        return ga.tolist(), gb.item(), a.grad is None
    assert prog(fastad) == prog(torch)


@needs_torch
def test_autograd_backward_function():
    def prog(lib):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        o1 = (a * 3).sum()
        o2 = a * a
        lib.autograd.backward([o1, o2], [None, lib.tensor([1.0, 0.5])])
        lib.autograd.backward((a * 2).sum())
        return a.grad.tolist()
    assert prog(fastad) == prog(torch)


@needs_torch
def test_allow_unused():
    def prog(lib):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (a * 2).sum()
        ga, gb = lib.autograd.grad(y, [a, b], allow_unused=True)
        return ga.tolist(), gb
    assert prog(fastad) == prog(torch)


@needs_torch
def test_grad_wrt_leaf_output_and_intermediate():
    def prog(lib):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        (g,) = lib.autograd.grad(a, a, grad_outputs=lib.tensor([3.0, 4.0]))
        h = a * 2
        y = (h * h).sum()
        (gh,) = lib.autograd.grad(y, h)
        return g.tolist(), gh.tolist()
    assert prog(fastad) == prog(torch)


@needs_torch
def test_grads_of_unreached_leaf_stay_none():
    for lib in LIBS:
        a = lib.tensor([1.0], requires_grad=True)
        b = lib.tensor([1.0], requires_grad=True)
        (a * 2).sum().backward()
        assert b.grad is None and a.grad is not None


@needs_torch
def test_broadcast_grad_reduction_into_leaf():
    def prog(lib):
        w = lib.tensor([[1.0], [2.0]], requires_grad=True)  # (2, 1)
        b = lib.tensor(0.5, requires_grad=True)
        x = lib.tensor([[1.0, 2.0, 3.0]])
        y = ((w * x + b) ** 2).mean()
        y.backward()
        return w.grad.tolist(), b.grad.item()
    f, t = both(prog)
    np.testing.assert_allclose(f[0], t[0], rtol=1e-6)
    np.testing.assert_allclose(f[1], t[1], rtol=1e-6)


# ---------------------------------------------------------------- in place
@needs_torch
@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/="])
@pytest.mark.parametrize("other", ["tensor", "number", "scalar_tensor"])
def test_inplace_ops_in_graph(op, other):
    def prog(lib):
        x = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
        w = lib.tensor([0.5, -1.5, 2.0], dtype=lib.float64, requires_grad=True)
        o = {"tensor": w, "number": 2.5, "scalar_tensor": w[1]}[other]
        h = x * 2
        v0 = h._version
        if op == "+=":
            h += o
        elif op == "-=":
            h -= o
        elif op == "*=":
            h *= o
        else:
            h /= o
        v1 = h._version
        (h * h).sum().backward()
        return (h.tolist(), x.grad.tolist(), None if w.grad is None else w.grad.tolist(),
                v1 - v0, h.grad_fn.name(), h.is_leaf)
    f, t = both(prog)
    np.testing.assert_allclose(f[0], t[0], rtol=1e-12)
    np.testing.assert_allclose(f[1], t[1], rtol=1e-12)
    if t[2] is None:
        assert f[2] is None
    else:
        np.testing.assert_allclose(f[2], t[2], rtol=1e-12)
    assert f[3:] == t[3:]


@needs_torch
def test_inplace_methods_and_version_counter():
    def prog(lib):
        x = lib.tensor([1.0, 2.0])
        vs = [x._version]
        x += 1
        vs.append(x._version)
        x.mul_(2)
        vs.append(x._version)
        x.add_(1, alpha=2)
        x.sub_(lib.tensor([1.0, 1.0]))
        x.div_(2)
        vs.append(x._version)
        x.zero_()
        vs.append(x._version)
        x[0] = 5
        vs.append(x._version)
        return x.tolist(), vs
    assert prog(fastad) == prog(torch)


@needs_torch
@pytest.mark.parametrize("shape", [(), (2, 3)])
def test_overwriting_inplace_ops_are_recorded(shape):
    """copy_, fill_, zero_ and clamp_ on a tensor of the graph: the gradient
    reaches the new values' source, never the overwritten ones."""
    def prog(lib):
        a = lib.tensor(np.linspace(-1.0, 1.0, 6).reshape(2, 3)[(0,) * (2 - len(shape))],
                       dtype=lib.float64, requires_grad=True)
        src = lib.tensor([0.5, -2.0, 3.0][:shape[-1] if shape else 1], dtype=lib.float32,
                         requires_grad=True)
        v = lib.tensor(4.0, dtype=lib.float64, requires_grad=True)
        ys = [(a * 2).copy_(src if shape else src[0]), (a * 2).fill_(0.5), (a * 2).fill_(v),
              (a * 2).zero_(), (a * 2).clamp_(-0.5, 0.6), lib.zeros(shape).copy_(a)]
        total = sum((y * (i + 1.0) * a).sum() for i, y in enumerate(ys))
        total.backward()
        return ([(y.grad_fn.name(), repr(y.grad_fn).split(" object")[0], repr(y).split("grad_fn")[1])
                 for y in ys], [y.detach().numpy().tolist() for y in ys],
                a.grad.numpy(), src.grad.numpy(), v.grad.item())
    fa, ta = both(prog)
    assert fa[:2] == ta[:2]
    for f, t in zip(fa[2:], ta[2:]):
        np.testing.assert_allclose(f, t, rtol=1e-6, atol=1e-12)


@needs_torch
def test_overwriting_inplace_errors_match():
    for lib in LIBS:
        with pytest.raises(RuntimeError, match="0-dimension"):
            lib.zeros(3).fill_(lib.ones(2))
        with pytest.raises(RuntimeError):
            lib.zeros(3).copy_(lib.ones(2))
        with pytest.raises(RuntimeError, match="leaf Variable"):
            lib.zeros(3, requires_grad=True).clamp_(0, 1)


@needs_torch
def test_inplace_keeps_identity_and_dtype():
    for lib in LIBS:
        x = lib.tensor([1.0, 2.0])
        y = x
        x += 1
        assert y is x and x.dtype == lib.float32
        i = lib.tensor([1, 2])
        i *= 3
        assert i.tolist() == [3, 6] and i.dtype == lib.int64


@needs_torch
def test_inplace_on_leaf_under_no_grad_is_allowed():
    def prog(lib):
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        (w * w).sum().backward()
        with lib.no_grad():
            w -= 0.1 * w.grad
            w.grad.zero_()
        (w * 3).sum().backward()
        return w.tolist(), w.grad.tolist(), w.is_leaf, w.requires_grad
    f, t = both(prog)
    np.testing.assert_allclose(f[0], t[0], rtol=1e-6)
    assert f[1:] == t[1:]


@needs_torch
def test_training_loop_matches():
    def prog(lib):
        rng = np.random.default_rng(0)
        X = lib.tensor(rng.standard_normal((16, 3)))
        Y = lib.tensor(rng.standard_normal((16, 1)))
        W = lib.tensor(rng.standard_normal((3, 1)) * 0.1, requires_grad=True)
        b = lib.zeros(1, dtype=lib.float64, requires_grad=True)
        losses = []
        for _ in range(20):
            loss = ((X @ W + b - Y) ** 2).mean()
            loss.backward()
            with lib.no_grad():
                W -= 0.1 * W.grad
                b -= 0.1 * b.grad
            W.grad.zero_()
            b.grad.zero_()
            losses.append(loss.item())
        return losses, W.tolist()
    f, t = both(prog)
    np.testing.assert_allclose(f[0], t[0], rtol=1e-10)
    np.testing.assert_allclose(f[1], t[1], rtol=1e-10)


# ---------------------------------------------------------------- custom Function
def _make_functions(lib):
    class Exp(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    class MulConst(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, w, k):
            ctx.save_for_backward(x, w)
            ctx.k = k
            return x * w * k

        @staticmethod
        def backward(ctx, g):
            x, w = ctx.saved_tensors
            return g * w * ctx.k, (g * x * ctx.k).sum(0), None
    return Exp, MulConst


@needs_torch
def test_custom_function():
    def prog(lib):
        Exp, MulConst = _make_functions(lib)
        x = lib.tensor([[0.5, -1.0], [2.0, 0.0]], dtype=lib.float64, requires_grad=True)
        w = lib.tensor([1.5, -0.5], dtype=lib.float64, requires_grad=True)
        y = Exp.apply(x)
        z = MulConst.apply(y, w, 3.0)
        loss = (z * z).sum()
        loss.backward()
        return (y.tolist(), z.tolist(), x.grad.tolist(), w.grad.tolist(), y.requires_grad,
                z.is_leaf, y.grad_fn is not None)
    f, t = both(prog)
    for a, b in zip(f[:4], t[:4]):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert f[4:] == t[4:]


@needs_torch
def test_custom_function_needs_input_grad_and_no_grad_input():
    def prog(lib):
        seen = []

        class Sq(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                ctx.save_for_backward(x, y)
                return x * x + y

            @staticmethod
            def backward(ctx, g):
                seen.append(tuple(ctx.needs_input_grad))
                x, y = ctx.saved_tensors
                return 2 * x * g, g
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = lib.tensor([1.0, 1.0])
        Sq.apply(x, y).sum().backward()
        return x.grad.tolist(), seen
    assert prog(fastad) == prog(torch)


def test_backward_writes_only_into_gradients_the_sweep_owns():
    """Activation backwards reuse the incoming gradient array when the sweep
    allocated it; a gradient the caller passed in, one autograd.grad returns and
    one a second backward (retain_graph) needs again are never written into."""
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((4, 5))
    expect = (1 - np.tanh(1 / (1 + np.exp(-np.maximum(xv, 0)))) ** 2)
    s = 1 / (1 + np.exp(-np.maximum(xv, 0)))
    expect = expect * s * (1 - s) * (xv > 0)
    x = fastad.tensor(xv, requires_grad=True)
    h = fastad.sigmoid(fastad.relu(x))
    y = fastad.tanh(h)
    seed = np.ones((4, 5))
    seed_tensor = fastad.from_numpy(seed)
    y.backward(seed_tensor, retain_graph=True)
    np.testing.assert_array_equal(seed, np.ones((4, 5)))
    first = x.grad.numpy().copy()
    np.testing.assert_allclose(first, expect, rtol=1e-12)
    x.grad = None
    y.backward(seed_tensor)
    np.testing.assert_array_equal(x.grad.numpy(), first)
    # h's gradient is returned to the caller: relu's backward must not overwrite it
    x = fastad.tensor(xv, requires_grad=True)
    h = fastad.sigmoid(fastad.relu(x))
    gh, gx = fastad.autograd.grad(fastad.tanh(h).sum(), [h, x])
    np.testing.assert_allclose(gh.numpy(), 1 - np.tanh(s) ** 2, rtol=1e-12)
    np.testing.assert_allclose(gx.numpy(), expect, rtol=1e-12)


def _cube(x):
    """x ** 3 as a Python-level op whose derivative is written in fastad ops."""
    from fastad import _tensor
    return _tensor.make_op(_tensor.array_of(x) ** 3, "PowBackward0", (x,), saved=(x,),
                           derivative=lambda grad, inputs, result: (grad * 3 * inputs[0] ** 2,))


@pytest.mark.parametrize("shape", [(), (4,), (2, 3)])
def test_make_op_derivative_is_the_first_order_backward(shape):
    rng = np.random.default_rng(0)
    values = rng.uniform(-2, 2, shape)
    x = fastad.tensor(values, dtype=fastad.float64, requires_grad=True)
    y = _cube(x)
    assert y.grad_fn.name() == "PowBackward0"
    (y * fastad.tensor(np.arange(1.0, 1.0 + values.size).reshape(shape))).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * values ** 2 * np.arange(1.0, 1.0 + values.size)
                               .reshape(shape), rtol=1e-15)


def test_make_op_derivative_runs_without_recording_and_frees():
    x = fastad.tensor([1.0, 2.0], requires_grad=True)
    y = _cube(x).sum()
    y.backward()
    assert x.grad is not None and x.grad.grad_fn is None
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_make_op_needs_a_backward():
    from fastad import _tensor
    with pytest.raises(TypeError, match="needs a backward or a derivative"):
        _tensor.make_op(np.zeros(2), "X", (fastad.zeros(2),))


@needs_torch
def test_grad_takes_pytorchs_keywords_in_pytorchs_order():
    """WGAN-GP passes only_inputs=True; the sixth positional argument is only_inputs."""
    import warnings

    def prog(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (x ** 3).sum()
        g, = lib.autograd.grad(y, x, None, True, True, True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            h, = lib.autograd.grad(y, x, only_inputs=False, retain_graph=True)
        assert [w.category for w in caught] == [FutureWarning]
        with pytest.raises(ValueError, match="Expected allow_unused to be True"):
            lib.autograd.grad(y, x, allow_unused=False, materialize_grads=True)
        z = x * x
        jac, = lib.autograd.grad(z, x, lib.eye(2), retain_graph=True, is_grads_batched=True)
        return g.tolist(), h.tolist(), jac.tolist()
    assert prog(fastad) == prog(torch)


@needs_torch
def test_variable_is_a_new_leaf_sharing_the_values():
    def prog(lib):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        v = lib.autograd.Variable(a * 2, requires_grad=True)
        (v * v).sum().backward()
        with pytest.raises(TypeError, match="Variable data has to be a tensor, but got list"):
            lib.autograd.Variable([1.0])
        return v.is_leaf, v.grad.tolist(), a.grad, lib.autograd.Variable(a).requires_grad
    assert prog(fastad) == prog(torch)


@needs_torch
def test_float_of_a_tensor_requiring_grad_warns_once():
    import subprocess
    import sys
    code = ("import warnings, {0} as lib\nx = lib.tensor(1.5, requires_grad=True) * 2\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            "    float(lib.ones(1)); int(x); '%f' % x; float(x); x.item(); f'{{x:.1f}}'\n"
            "print(len(w), w[0].category.__name__, str(w[0].message).split('.')[0])\n")
    outs = [subprocess.run([sys.executable, "-c", code.format(lib)], capture_output=True,
                           text=True).stdout for lib in ("fastad", "torch")]
    assert outs[0] == outs[1] == \
        "1 UserWarning Converting a tensor with requires_grad=True to a scalar may lead to " \
        "unexpected behavior\n"
