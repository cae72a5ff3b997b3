"""Tensor.register_hook, retain_grad and backward(inputs=...) against PyTorch:
what each hook sees, what its replacement changes, .grad of leaves and
retaining non-leaves, the errors, and that hooks keep no graph alive."""
import gc
import warnings

import numpy as np
import pytest

import fastad


def _np(t):
    return np.array(t.detach().numpy(), dtype=np.float64)


def _run(lib, program):
    """program(lib, log) under one library: (what it returns, log), as arrays."""
    log = []
    out = program(lib, log)
    log = [(name, _np(g) if hasattr(g, "detach") else g) for name, g in log]
    return [None if x is None else _np(x) for x in out], log


def _seen(log, name, scale=None):
    """A hook that logs (name, its gradient) and returns scale * gradient (or None)."""
    def hook(g):
        log.append((name, g.clone()))
        return None if scale is None else g * scale
    return hook


def _same(program, rtol=1e-5):
    # float32: the sanitizer build (-O1) sums in another order than -O3, and
    # after cancellation its few ulp reach 1.5e-6 relative
    torch = pytest.importorskip("torch")
    (got, glog), (want, wlog) = _run(fastad, program), _run(torch, program)
    assert [n for n, _ in glog] == [n for n, _ in wlog]
    for (_, g), (_, w) in zip(glog, wlog):
        np.testing.assert_allclose(g, w, rtol=rtol)
    assert [x is None for x in got] == [x is None for x in want]
    for g, w in zip(got, want):
        if w is not None:
            np.testing.assert_allclose(g, w, rtol=rtol)


# ---------------------------------------------------------------- programs run under both libraries
def _leaf_nd(lib, log):
    x = lib.tensor([1.0, -2.0, 0.5], requires_grad=True)
    x.register_hook(_seen(log, "x", 3.0))
    (x * x).sum().backward()
    (x.exp() * 2).sum().backward()      # accumulates the hooked gradient
    return [x.grad]


def _leaf_0d(lib, log):
    a = lib.tensor(1.5, requires_grad=True)
    b = lib.tensor(-0.5, requires_grad=True)
    a.register_hook(_seen(log, "a", -2.0))
    b.register_hook(_seen(log, "b"))
    (a * a * b + a.sin()).backward()
    return [a.grad, b.grad]


def _intermediate_0d(lib, log):
    a = lib.tensor(0.7, requires_grad=True)
    y = a.tanh() * 3
    y.register_hook(_seen(log, "y", 10.0))
    z = y * y + y
    z.register_hook(_seen(log, "z"))
    z.backward()
    return [a.grad]


def _intermediate_nd(lib, log):
    w1 = lib.tensor([[0.5, -1.0], [2.0, 0.25], [0.3, 0.1]], requires_grad=True)
    w2 = lib.tensor([[1.5, -0.5, 0.2]], requires_grad=True)
    x = lib.tensor([[1.0, 2.0], [-1.0, 0.5], [3.0, 1.0], [0.0, -2.0]])
    h = lib.tanh(x @ w1.T)
    h.register_hook(_seen(log, "h", 0.5))
    out = h @ w2.T
    out.register_hook(_seen(log, "out"))
    w2.register_hook(_seen(log, "w2"))
    w1.register_hook(_seen(log, "w1"))
    out.pow(2).sum().backward()
    return [w1.grad, w2.grad]


def _several_in_order(lib, log):
    p = lib.tensor([1.5, -0.25], requires_grad=True)
    q = p.sin()
    q.register_hook(_seen(log, "first", 2.0))
    q.register_hook(_seen(log, "second"))          # sees the first one's replacement
    q.register_hook(lambda g: g + 1)
    q.register_hook(_seen(log, "fourth"))
    (q * q).sum().backward()
    return [p.grad]


def _removed(lib, log):
    p = lib.tensor([1.0, 2.0], requires_grad=True)
    y = p * 3
    handle = y.register_hook(_seen(log, "removed", 100.0))
    y.register_hook(_seen(log, "kept"))
    handle.remove()
    with p.register_hook(_seen(log, "context", 7.0)):
        (y * y).sum().backward(retain_graph=True)
    (y * y).sum().backward()
    return [p.grad]


def _gather_and_root(lib, log):
    v = lib.tensor([0.5, 2.0, -1.0], requires_grad=True)
    e = v[1]                                # a 0-d element of an array
    e.register_hook(_seen(log, "e", 4.0))
    r = e * v.sum()
    r.register_hook(_seen(log, "root", 0.5))   # the root's own gradient, the seed
    r.backward()
    return [v.grad]


def _long_chain(lib, log):
    a = lib.tensor(0.999, dtype=lib.float64, requires_grad=True)
    b = lib.tensor(1e-3, dtype=lib.float64, requires_grad=True)
    y = a
    for k in range(3000):                  # long enough for the sweep's no-GIL stretches
        y = y * a + b
        if k == 1000:
            y.register_hook(_seen(log, "mid", 2.0))
    y.backward()
    return [a.grad, b.grad]


def _unreached(lib, log):
    a = lib.tensor([1.0, 2.0], requires_grad=True)
    side = a * 5
    side.register_hook(_seen(log, "never"))
    (a * a).sum().backward()
    return [a.grad]


def _kept_after_tensor_is_gone(lib, log):
    x = lib.tensor([1.0, -1.0], requires_grad=True)

    def forward():
        h = x * 2
        h.register_hook(_seen(log, "h", 10.0))
        return (h * h).sum()
    forward().backward()
    return [x.grad]


def _leaf_root(lib, log):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(_seen(log, "x", 7.0))
    x.backward(lib.tensor([1.0, -1.0]))
    return [x.grad]


def _post_accumulate_sees_replacement(lib, log):
    x = lib.tensor(3.0, requires_grad=True)
    x.register_post_accumulate_grad_hook(lambda t: log.append(("post", t.grad.clone())))
    x.register_hook(_seen(log, "pre", 2.0))
    (x * x).backward()
    return [x.grad]


def _inplace_in_hook(lib, log):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.register_hook(lambda g: g.mul_(3))
    (y * 2).sum().backward()
    return [x.grad]


PROGRAMS = [_leaf_nd, _leaf_0d, _intermediate_0d, _intermediate_nd, _several_in_order, _removed,
            _gather_and_root, _long_chain, _unreached, _kept_after_tensor_is_gone, _leaf_root,
            _post_accumulate_sees_replacement, _inplace_in_hook]


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.__name__[1:] for p in PROGRAMS])
def test_hooks_see_and_replace_gradients_as_torch(program):
    _same(program)


@pytest.mark.parametrize("program", [_intermediate_0d, _intermediate_nd, _gather_and_root])
def test_hooks_under_anomaly_mode_and_profiler(program):
    # the record-at-a-time sweep pauses at the same records
    with fastad.autograd.detect_anomaly():
        _same(program)
    with fastad.profiler.profile():
        _same(program)


def test_observing_hooks_change_nothing():
    def grads(hooked):
        a = fastad.tensor(0.3, requires_grad=True)
        v = fastad.tensor([0.1, 0.7], requires_grad=True)
        y = (a * 1.1).sin() * 1.3
        h = (v * a).tanh()
        if hooked:
            y.register_hook(lambda g: None)
            h.register_hook(lambda g: None)
            a.register_hook(lambda g: None)
        (y * y * h.sum()).backward()
        return a.grad.item(), v.grad.tolist()
    assert grads(True) == grads(False)


# ---------------------------------------------------------------- autograd.grad
def _grad_inputs(lib, log):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    w = lib.tensor([0.5, -1.0], requires_grad=True)
    x.register_hook(_seen(log, "x", 10.0))
    w.register_hook(_seen(log, "w"))          # not an input: not run
    y = x * 2
    y.register_hook(_seen(log, "y", 3.0))
    u = w * 5
    u.register_hook(_seen(log, "u"))          # no input is reached through it: not run
    z = (y * y * u).sum()
    # PyTorch returns y's gradient before y's hooks where another input is reached
    # through y (its node runs on, its hooks with it), after them where none is
    gx, gy = lib.autograd.grad(z, [x, y], retain_graph=True)
    gy2, = lib.autograd.grad(z, [y], retain_graph=True)
    gx2, = lib.autograd.grad(z, [x])
    return [gx, gy, gy2, gx2, x.grad, w.grad]


def _grad_repeated_input(lib, log):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(_seen(log, "x", 2.0))
    return list(lib.autograd.grad((x * x).sum(), [x, x]))


@pytest.mark.parametrize("program", [_grad_inputs, _grad_repeated_input])
def test_autograd_grad_runs_the_hooks_on_the_way_to_its_inputs(program):
    _same(program)


# ---------------------------------------------------------------- retain_grad
def _retain(lib, log):
    x = lib.tensor([1.0, -2.0], requires_grad=True)
    s = lib.tensor(0.5, requires_grad=True)
    y = x * s
    m = y.sum()
    y.retain_grad()
    m.retain_grad()
    log.append(("flags", np.array([y.retains_grad, m.retains_grad, x.retains_grad], float)))
    z = (y * y).sum() * m
    z.backward(retain_graph=True)
    first = y.grad
    z.backward(retain_graph=True)           # accumulates (out of place: first is unchanged)
    lib.autograd.grad(z, x)                 # fills retained gradients too, as PyTorch's does
    return [y.grad, m.grad, first, x.grad, s.grad]


def _retain_after_hook(lib, log):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()                          # runs after the hooks, whenever registered
    y.register_hook(lambda g: g * 100)
    (y * 1).sum().backward()
    return [y.grad, x.grad]


def _retain_0d_float64(lib, log):
    a = lib.tensor(0.25, dtype=lib.float64, requires_grad=True)
    y = a.exp()
    y.retain_grad()
    (y * y * y).backward()
    return [y.grad, a.grad]


def _retain_inplace(lib, log):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.register_hook(_seen(log, "old"))
    y.mul_(3)                                # retain_grad follows y; the hook stays behind
    y.register_hook(_seen(log, "new"))
    (y * y).sum().backward()
    return [y.grad, x.grad]


@pytest.mark.parametrize("program", [_retain, _retain_after_hook, _retain_0d_float64,
                                     _retain_inplace])
def test_retain_grad_matches_torch(program):
    _same(program)


def test_non_leaf_grad_warns_unless_retained():
    x = fastad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.sum().backward(retain_graph=True)
    with pytest.warns(UserWarning, match=r"^The \.grad attribute of a Tensor that is not a leaf "
                                         r"Tensor is being accessed\."):
        assert y.grad is None
    y.retain_grad()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert y.grad is None               # retained, not yet filled: no warning
        y.sum().backward()
        assert y.grad.tolist() == [1.0, 1.0]
        y.grad = None
        assert y.grad is None
        assert x.grad.tolist() == [4.0, 4.0]


def test_retained_grad_readable_after_the_graph_is_consumed():
    x = fastad.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.retain_grad()
    (y * 3).sum().backward()
    gc.collect()
    assert y.grad.tolist() == [3.0, 3.0]


# ---------------------------------------------------------------- create_graph
def _create_graph(lib, log):
    a = lib.tensor(2.0, dtype=lib.float64, requires_grad=True)
    v = lib.tensor([0.5, -1.5], dtype=lib.float64, requires_grad=True)
    b = a ** 3
    h = (v * a).sin()

    def times_a(g):
        log.append(("b", g.clone()))
        log.append(("b has grad_fn", np.array(float(g.grad_fn is not None))))
        return g * a                         # differentiated further
    b.register_hook(times_a)
    h.register_hook(lambda g: g * h.cos())
    b.retain_grad()
    (b * 2 + (h * h).sum() * b).backward(create_graph=True)
    log.append(("retained has grad_fn", np.array(float(b.grad.grad_fn is not None))))
    ga, gv = lib.autograd.grad(a.grad + v.grad.sum(), [a, v])
    return [a.grad, v.grad, b.grad, ga, gv]


def _create_graph_grad(lib, log):
    x = lib.tensor([0.3, 0.9], dtype=lib.float64, requires_grad=True)
    y = x.tanh()
    y.register_hook(_seen(log, "y", 2.0))
    x.register_hook(lambda g: g * x)
    gx, = lib.autograd.grad((y * y).sum(), x, create_graph=True)
    hx, = lib.autograd.grad(gx.sum(), x)
    return [gx, hx]


@pytest.mark.parametrize("program", [_create_graph, _create_graph_grad])
def test_hooks_with_create_graph_match_torch(program):
    _same(program, rtol=1e-12)


# ---------------------------------------------------------------- backward(inputs=...)
def _inputs(lib, log):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    w = lib.tensor([3.0, 4.0], requires_grad=True)
    w.register_hook(_seen(log, "w"))          # not an input: its AccumulateGrad does not run
    x.register_hook(_seen(log, "x", 2.0))
    y = x * w
    z = (y * y).sum()
    z.backward(inputs=[x, y], retain_graph=True)
    log.append(("y retains", np.array(float(y.retains_grad))))
    z.backward(inputs=x, retain_graph=True)
    lib.autograd.backward([z], [None], inputs=(w, w), retain_graph=True)
    u = lib.tensor(1.0, requires_grad=True)     # unused: its .grad stays None
    lib.autograd.backward(z, inputs=[u])
    return [x.grad, w.grad, y.grad, u.grad]


def _inputs_0d(lib, log):
    a = lib.tensor(0.5, requires_grad=True)
    b = lib.tensor(1.5, requires_grad=True)
    m = a * b
    (m.sin() * b).backward(inputs=[b, m])
    return [a.grad, b.grad, m.grad]


def _inputs_create_graph(lib, log):
    a = lib.tensor(0.5, dtype=lib.float64, requires_grad=True)
    b = lib.tensor(1.5, dtype=lib.float64, requires_grad=True)
    (a ** 3 * b).backward(inputs=[a], create_graph=True)
    ga, = lib.autograd.grad(a.grad, a)
    return [a.grad, b.grad, ga]


@pytest.mark.parametrize("program", [_inputs, _inputs_0d, _inputs_create_graph])
def test_backward_inputs_matches_torch(program):
    _same(program)


def test_backward_inputs_errors():
    x = fastad.tensor([1.0, 2.0], requires_grad=True)
    z = (x * x).sum()
    for bad in ([], ()):
        with pytest.raises(RuntimeError, match=r"^`inputs` argument to `backward\(\)` cannot be "
                                               r"empty\.$"):
            z.backward(inputs=bad, retain_graph=True)
        with pytest.raises(RuntimeError, match=r"^`inputs` argument to `backward\(\)` cannot be "
                                               r"empty\.$"):
            fastad.autograd.backward(z, inputs=bad, retain_graph=True)
    with pytest.raises(RuntimeError, match=r"^all inputs have to be Tensors or GradientEdges, but "
                                           r"got int$"):
        z.backward(inputs=[3], retain_graph=True)
    with pytest.raises(RuntimeError, match=r"^can't retain_grad on Tensor that has "
                                           r"requires_grad=False$"):
        z.backward(inputs=[fastad.ones(2)], retain_graph=True)
    assert x.grad is None


# ---------------------------------------------------------------- errors
def test_registration_errors():
    with pytest.raises(RuntimeError, match=r"^cannot register a hook on a tensor that doesn't "
                                           r"require gradient$"):
        fastad.ones(2).register_hook(print)
    with pytest.raises(RuntimeError, match=r"^cannot register a hook on a tensor that doesn't "
                                           r"require gradient$"):
        fastad.tensor(1.0).register_hook(print)
    with pytest.raises(RuntimeError, match=r"^can't retain_grad on Tensor that has "
                                           r"requires_grad=False$"):
        fastad.ones(2).retain_grad()
    x = fastad.ones(2, requires_grad=True)
    x.retain_grad()                           # a leaf keeps its .grad anyway
    assert not x.retains_grad


def _raises(hook, error, message, value=(1.0, 2.0)):
    x = fastad.tensor(list(value) if len(value) > 1 else value[0], requires_grad=True)
    y = x * 2
    y.register_hook(hook)
    with pytest.raises(error, match=message):
        (y * 1).sum().backward()


def test_hook_result_errors():
    _raises(lambda g: 5, TypeError, r"^expected Variable, but hook returned 'int'$")
    _raises(lambda g: g.double(), RuntimeError,
            r"^hook '<lambda>' has changed the type of value \(was torch\.FloatTensor got "
            r"torch\.DoubleTensor\)$")

    def shrink(g):
        return g[:1]
    _raises(shrink, RuntimeError, r"^hook 'shrink' has changed the size of value$")
    _raises(lambda g: fastad.ones(3), RuntimeError,
            r"^hook '<lambda>' has changed the size of value$", value=(1.0,))


def test_a_raising_hook_leaves_the_graph_usable_with_retain_graph():
    x = fastad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    handle = y.register_hook(lambda g: 1 / 0)
    z = (y * y).sum()
    with pytest.raises(ZeroDivisionError):
        z.backward(retain_graph=True)
    handle.remove()
    x.grad = None
    z.backward()
    assert x.grad.tolist() == [18.0, 36.0]


# ---------------------------------------------------------------- lifetime
def test_hooks_keep_no_graph_alive():
    graph_of = fastad._tensor.graph_of
    x = fastad.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g * 2)
    for _ in range(3):
        y = x * 2
        y.register_hook(lambda g: g * 2)
        y.retain_grad()
        m = y.sum()
        m.register_hook(lambda g: None)
        z = m * y.sum()
        assert len(graph_of(z)) > 2
        del y, m, z
        gc.collect()
        # nothing but the thread refers to the graph: the next op finds it emptied
        w = x * 3
        assert len(graph_of(w)) == 2
        del w
