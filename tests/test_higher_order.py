"""Higher-order gradients: create_graph=True for every registry op (second
derivatives against PyTorch's and against finite differences of the recorded
backward), the two first-order paths agreeing, third order for the smooth
activations, and PyTorch's semantics around create_graph."""
import sys

import numpy as np
import pytest

import fastad
from fastad import autograd, opdefs, ops
from fastad.autograd import gradgradcheck

from conftest import live_graphs, needs_torch  # noqa: E402


def _cases():
    for op in ops.OPS:
        for k, c in enumerate(op.cases):
            yield pytest.param(op, c, id=f"{op.name}-{k}")


def _float_outputs(out):
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if o.dtype.is_floating_point and o.requires_grad]


def _second_order(lib, op, c, seed):
    """(first derivative, second derivative) of op at one case: g = grad of
    the outputs against fixed random upstream gradients (create_graph), then the
    gradient of a fixed random linear functional of g."""
    rng = np.random.default_rng(seed)
    fn, inputs = op.instantiate(c, rng, lib=lib, dtype=np.float64)
    outs = _float_outputs(fn(*inputs))
    vrng = np.random.default_rng(seed + 1)
    vs = [lib.tensor(vrng.uniform(-1, 1, tuple(o.shape)), dtype=lib.float64) for o in outs]
    g = lib.autograd.grad(outs, inputs, vs, create_graph=True, allow_unused=True)
    ws = [None if gk is None else lib.tensor(vrng.uniform(-1, 1, tuple(gk.shape)),
                                             dtype=lib.float64) for gk in g]
    total = sum(((gk * w).sum() for gk, w in zip(g, ws) if gk is not None and gk.requires_grad),
                lib.tensor(0.0, dtype=lib.float64))
    first = [None if gk is None else np.asarray(gk.detach().numpy(force=True), dtype=np.float64) for gk in g]
    if not total.requires_grad:           # a linear op: its second derivative is zero
        return first, [None] * len(inputs)
    h = lib.autograd.grad(total, inputs, allow_unused=True)
    return first, [None if hk is None else np.asarray(hk.detach().numpy(force=True)) for hk in h]


# PyTorch's celu differs from the exact formula by float32 rounding (3e-8
# relative) whenever alpha != 1, in its first derivative already
LOOSE = {"celu": 1e-7, "F.celu": 1e-7, "nn.CELU": 1e-7}


def _same(a, b, what, rtol=1e-10):
    if a is None or b is None:   # PyTorch and fastad may differ on unused vs zero
        other = b if a is None else a
        assert other is None or np.allclose(other, 0, atol=1e-12), what
        return
    np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12, err_msg=what)


@needs_torch
@pytest.mark.parametrize("op,c", [p for p in _cases() if p.values[0].torch])
def test_second_derivative_matches_torch(op, c):
    torch = pytest.importorskip("torch")
    if op.missing():
        pytest.skip("not provided")
    try:
        t1, t2 = _second_order(torch, op, c, 7)
    except RuntimeError as e:
        if "is not implemented" in str(e):
            pytest.skip(f"PyTorch: {e}")      # hardsigmoid: gradgradcheck covers fastad's
        raise
    f1, f2 = _second_order(fastad, op, c, 7)
    rtol = LOOSE.get(op.name, 1e-10)
    for k, (a, b) in enumerate(zip(f1, t1)):
        _same(a, b, f"first derivative, input {k}", rtol)
    for k, (a, b) in enumerate(zip(f2, t2)):
        _same(a, b, f"second derivative, input {k}", rtol)


@pytest.mark.parametrize("op,c", list(_cases()))
def test_first_derivative_is_the_same_through_both_paths(op, c):
    """The fast first-order backward and the recorded one (create_graph) agree."""
    if op.missing():
        pytest.skip("not provided")
    grads = []
    for create in (False, True):
        fn, inputs = op.instantiate(c, np.random.default_rng(3), dtype=np.float64)
        outs = _float_outputs(fn(*inputs))
        vrng = np.random.default_rng(4)
        vs = [fastad.tensor(vrng.uniform(-1, 1, tuple(o.shape))) for o in outs]
        g = autograd.grad(outs, inputs, vs, create_graph=create, allow_unused=True)
        grads.append([None if gk is None else gk.detach().numpy() for gk in g])
    for a, b in zip(*grads):
        _same(a, b, "first derivative: fast path vs recorded path")


def _graphs_held():
    """(tapes alive, whether anything but the thread holds the thread's tape:
    a held tape is never emptied for reuse, so it grows with every step)."""
    alive = live_graphs()
    tape = fastad._tape._owner.__dict__.get("graph")
    return alive, tape is not None and sys.getrefcount(tape) > 3   # _owner, tape, the argument


def test_no_op_keeps_its_graph_alive_after_a_double_backward():
    """Tensors are not GC-tracked, so a derivative closure that holds a tensor of
    its own graph makes a cycle no collection frees: the graph and every array
    of the step leak.  Every case is differentiated twice in turn; only where
    graphs are kept afterwards are the cases run again one by one, to name the
    first that keeps one."""
    cases = [(op, k, c) for op in ops.OPS if not op.missing() for k, c in enumerate(op.cases)]
    before = _graphs_held()
    for op, _, c in cases:
        _second_order(fastad, op, c, 7)
    if _graphs_held() == before:
        return
    for op, k, c in cases:
        kept = _graphs_held()
        _second_order(fastad, op, c, 7)
        assert _graphs_held() == kept, f"{op.name}-{k} keeps its graph alive"
    pytest.fail("graphs kept alive, though no case keeps one when run alone")


# the ops whose second derivative is zero or undefined (piecewise-linear, or a
# finite-difference step would cross a kink) still pass: their gradient is
# linear in the upstream gradient, which gradgradcheck also checks
def _input_elements(op):
    _, inputs = op.instantiate(op.cases[0], np.random.default_rng(0), dtype=np.float64)
    return sum(int(np.prod(tuple(t.shape))) for t in inputs)


# gradgradcheck's finite differences cost a Jacobian of the Jacobian: entries with
# more input elements (the larger nn modules) are checked against PyTorch's second
# derivatives above instead
GRADGRAD_ELEMENTS = 48


@pytest.mark.parametrize("op", [pytest.param(op, id=op.name) for op in ops.OPS
                                if not op.missing() and _input_elements(op) <= GRADGRAD_ELEMENTS])
def test_gradgradcheck_passes(op):
    fn, inputs = op.instantiate(op.cases[0], np.random.default_rng(0), dtype=np.float64)
    assert gradgradcheck(fn, inputs)


def test_a_wrong_second_derivative_fails_gradgradcheck():
    def wrong(grad, inputs, result):       # d/dx x**3 is 3x^2; 2x^2 is wrong
        return (grad * 2 * inputs[0] ** 2,)

    def cube(x):
        return fastad._tensor.make_op(fastad._tensor.array_of(x) ** 3, "CubeBackward0", (x,),
                                      lambda g: (g * 3 * fastad._tensor.array_of(x) ** 2,),
                                      derivative=wrong)
    x = fastad.tensor([0.5, -1.2, 2.0], dtype=fastad.float64, requires_grad=True)
    assert not gradgradcheck(cube, (x,), raise_exception=False)
    with pytest.raises(autograd.GradcheckError):
        gradgradcheck(cube, (x,))


def test_check_cli_order_2_fails_on_a_planted_wrong_second_derivative(monkeypatch, capsys):
    from fastad import __main__ as cli

    def wrong(grad, inputs, result):
        return (grad * 2 * inputs[0] ** 2,)

    def call(lib, a):
        return lib._tensor.make_op(lib._tensor.array_of(a) ** 3, "CubeBackward0", (a,),
                                   derivative=wrong)
    planted = ops.OpInfo("planted_cube", call, (ops.case((4,)),))
    monkeypatch.setattr(ops, "OPS", ops.OPS + [planted])
    assert cli.check(["--order", "2", "--op", "planted_cube"]) == 1
    assert cli.check(["--order", "2", "--op", "exp"]) == 0


# ---------------------------------------------------------------- third order
SMOOTH = [op.name for op in opdefs.UNARY if op.name in (
    "exp", "sin", "cos", "sigmoid", "tanh", "gelu", "gelu_tanh", "silu", "mish", "softplus",
    "softsign", "logsigmoid", "log", "sqrt")]


@needs_torch
@pytest.mark.parametrize("name", SMOOTH)
@pytest.mark.parametrize("shape", [(), (4,)])
def test_third_derivative_of_smooth_activations(name, shape):
    torch = pytest.importorskip("torch")
    x0 = np.random.default_rng(1).uniform(0.3, 1.8, shape)
    results = []
    for lib in (fastad, torch):
        F = lib.nn.functional
        f = getattr(lib, name, None) or getattr(F, name, None)
        if name == "gelu_tanh":
            f = lambda t: F.gelu(t, approximate="tanh")  # noqa: E731
        x = lib.tensor(x0, dtype=lib.float64, requires_grad=True)
        y = f(x).sum()
        g1, = lib.autograd.grad(y, x, create_graph=True)
        g2, = lib.autograd.grad(g1.sum(), x, create_graph=True)
        g3, = lib.autograd.grad(g2.sum(), x)
        results.append([np.asarray(g.detach().numpy()) for g in (g1, g2, g3)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_compiled_backward_is_one_op_differentiable_in_both_inputs(name, dtype):
    """tanh's and sigmoid's recorded backward is their compiled backward as one op
    (PyTorch's TanhBackwardBackward0), differentiable in the incoming gradient
    and in the saved output, by a first-order and by a recorded backward."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x0, v0 = rng.uniform(-1.5, 1.5, (2, 3, 4))
    results = []
    for lib in (fastad, torch):
        dt = getattr(lib, dtype)
        x = lib.tensor(x0, dtype=dt, requires_grad=True)
        v = lib.tensor(v0, dtype=dt, requires_grad=True)
        g, = lib.autograd.grad(getattr(lib, name)(x), x, v, create_graph=True)
        first = lib.autograd.grad((g * g).sum(), (x, v), retain_graph=True)
        second = lib.autograd.grad((g * g).sum(), (x, v), create_graph=True)
        third, = lib.autograd.grad(second[0].sum() + second[1].sum(), x)
        values = [t.detach().numpy() for t in (g, *first, *second, third)]
        results.append((g.grad_fn.name(), second[0].grad_fn is not None, values))
    (fname, fgraph, fvals), (tname, tgraph, tvals) = results
    assert fname == tname == name.title() + "BackwardBackward0"
    assert fgraph and tgraph
    for a, b in zip(fvals, tvals):
        np.testing.assert_allclose(a, b, rtol=1e-10 if dtype == "float64" else 1e-5,
                                   atol=1e-12 if dtype == "float64" else 1e-6)


# ---------------------------------------------------------------- semantics
@pytest.mark.parametrize("start,end", [
    # Newton's method finds the nearest stationary point: from (0.5, 0.5), where
    # the Hessian is negative definite, that is the local maximum (f = 181.617)
    ((0.5, 0.5), (-0.27084459066734756, -0.9230385564799816)),
    ((4.0, 3.0), (3.0, 2.0)),
])
def test_newton_on_himmelblau_converges(start, end):
    x = fastad.tensor(start, dtype=fastad.float64, requires_grad=True)
    for _ in range(8):
        f = (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2
        g, = autograd.grad(f, x, create_graph=True)
        H = np.stack([autograd.grad(g[k], x, retain_graph=True)[0].numpy() for k in range(2)])
        with fastad.no_grad():
            x -= fastad.tensor(np.linalg.solve(H, g.detach().numpy()))
    np.testing.assert_allclose(x.detach().numpy(), end, atol=1e-12)
    assert np.abs(g.detach().numpy()).max() < 1e-10


def test_scalar_graph_second_derivatives():
    x = fastad.tensor(0.7, dtype=fastad.float64, requires_grad=True)
    y = fastad.tensor(-1.3, dtype=fastad.float64, requires_grad=True)
    f = x ** 3 * y + x / y - 2.0 / x + (x - y).tanh() * 3.0 + y.exp() / 2.0 - (1.5 - x) ** 2
    gx, gy = autograd.grad(f, (x, y), create_graph=True)
    xv, yv = 0.7, -1.3
    t = np.tanh(xv - yv)
    np.testing.assert_allclose(gx.item(), 3 * xv ** 2 * yv + 1 / yv + 2 / xv ** 2
                               + 3 * (1 - t * t) + 2 * (1.5 - xv), rtol=1e-13)
    hxx, hxy = autograd.grad(gx, (x, y), retain_graph=True)
    d2t = -2 * t * (1 - t * t)
    np.testing.assert_allclose(hxx.item(), 6 * xv * yv - 4 / xv ** 3 + 3 * d2t - 2, rtol=1e-12)
    np.testing.assert_allclose(hxy.item(), 3 * xv ** 2 - 1 / yv ** 2 - 3 * d2t, rtol=1e-12)
    hyy, = autograd.grad(gy, y)
    np.testing.assert_allclose(hyy.item(), 2 * xv / yv ** 3 + 3 * d2t + np.exp(yv) / 2,
                               rtol=1e-12)


def test_float32_scalar_records_keep_their_dtype():
    x = fastad.tensor(0.5, requires_grad=True)
    g, = autograd.grad((x * x).sin(), x, create_graph=True)
    assert g.dtype == fastad.float32 and g.requires_grad
    h, = autograd.grad(g, x)
    assert h.dtype == fastad.float32
    v = np.float32(0.5)
    np.testing.assert_allclose(h.item(), 2 * np.cos(v * v) - 4 * v * v * np.sin(v * v), rtol=1e-6)


@needs_torch
def test_semantics_match_torch():
    torch = pytest.importorskip("torch")
    out = {}
    for lib in (fastad, torch):
        r = {}
        x = lib.tensor([0.3, -0.8, 1.1], dtype=lib.float64, requires_grad=True)
        y = (x.sin() * x).sum()
        g, = lib.autograd.grad(y, x, create_graph=True)
        r["grad requires grad"] = g.requires_grad
        r["grad has grad_fn"] = g.grad_fn is not None
        # retain_graph defaults to create_graph: the graph is still there
        g2, = lib.autograd.grad(y, x)
        r["second grad"] = g2.numpy().tolist()
        # a gradient computed without create_graph cannot be differentiated
        with pytest.raises(RuntimeError, match="does not require grad"):
            lib.autograd.grad(g2.sum(), x)
        # .grad accumulation with create_graph: the accumulated grad has a grad_fn
        z = (x ** 3).sum()
        z.backward(create_graph=True)
        r["grad after one"] = x.grad.detach().numpy().tolist()
        r[".grad has grad_fn"] = x.grad.grad_fn is not None
        z.backward(create_graph=True)
        r["grad after two"] = x.grad.detach().numpy().tolist()
        hx, = lib.autograd.grad(x.grad.sum(), x)
        r["d(.grad)/dx"] = hx.numpy().tolist()
        x.grad = None
        # allow_unused
        u = lib.tensor(1.0, dtype=lib.float64, requires_grad=True)
        with pytest.raises(RuntimeError, match="appears to not have been used"):
            lib.autograd.grad((x * 2).sum(), (x, u), create_graph=True)
        r["unused"] = lib.autograd.grad((x * 2).sum(), (x, u), create_graph=True,
                                        allow_unused=True)[1]
        # grad_outputs that require grad: the gradient depends on them
        v = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
        gv, = lib.autograd.grad(x * 2, x, v, create_graph=True)
        r["gv requires grad"] = gv.requires_grad
        dv, = lib.autograd.grad(gv.sum(), v)
        r["d/dv"] = dv.numpy().tolist()
        # no_grad inside: a linear gradient does not require grad
        lin, = lib.autograd.grad((x * 3).sum(), x, create_graph=True)
        r["linear grad requires grad"] = lin.requires_grad
        out[lib.__name__] = r
    for key, value in out["torch"].items():
        if isinstance(value, list):
            np.testing.assert_allclose(out["fastad"][key], value, rtol=1e-14, err_msg=key)
        else:
            assert out["fastad"][key] == value, key


@needs_torch
def test_custom_function_differentiated_twice():
    torch = pytest.importorskip("torch")
    results = []
    for lib in (fastad, torch):
        class Cube(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x ** 3

            @staticmethod
            def backward(ctx, g):
                x, = ctx.saved_tensors
                return g * 3 * x ** 2
        x = lib.tensor([0.5, -1.5], dtype=lib.float64, requires_grad=True)
        g, = lib.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
        h, = lib.autograd.grad(g.sum(), x)
        results.append((g.detach().numpy().tolist(), h.numpy().tolist()))
    assert results[0] == results[1]


def test_once_differentiable_raises_on_double_backward():
    class Square(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @autograd.once_differentiable
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * 2 * x
    x = fastad.tensor([0.5, 2.0], dtype=fastad.float64, requires_grad=True)
    g, = autograd.grad(Square.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), [1.0, 4.0])
    with pytest.raises(RuntimeError, match="once_differentiable"):
        autograd.grad(g.sum(), x)


def test_an_op_without_a_derivative_raises_naming_it():
    x = fastad.tensor([0.5, 2.0], requires_grad=True)
    y = fastad._tensor.make_op(fastad._tensor.array_of(x) * 2, "MysteryBackward0", (x,),
                               lambda g: (g * 2,))
    with pytest.raises(RuntimeError, match="MysteryBackward0"):
        autograd.grad(y.sum(), x, create_graph=True)


@needs_torch
@pytest.mark.parametrize("workload", ["h2", "h3"])
def test_double_backward_workloads_give_torchs_gradients(workload):
    """bench's H2 (Hessian-vector product) and H3 (gradient penalty): the same
    initialisation and data (PyTorch's random streams), so the same gradients."""
    import importlib.util
    import os
    import torch
    path = os.path.join(os.path.dirname(__file__), "..", "bench", "benchmarks", "workloads.py")
    spec = importlib.util.spec_from_file_location("_bench_workloads", path)
    W = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(W)
    setup, run = {"h2": (W.h2_setup, W.h2_hvp), "h3": (W.h3_setup, W.h3_penalty)}[workload]
    got = run(fastad, setup(fastad))
    want = run(torch, setup(torch))
    assert len(got) == len(want) == {"h2": 4, "h3": 6}[workload]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=2e-4, atol=1e-6)


@needs_torch
@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_class_loss_second_derivative_with_ignored_rows_matches_torch(loss, reduction):
    """The unweighted class losses' recorded derivative (its one-hot of the
    rows kept) against PyTorch's, ignored rows and all."""
    import torch
    rng = np.random.default_rng(3)
    x0 = rng.standard_normal((6, 4))
    target = np.array([1, -100, 3, 0, -100, 2])
    upstream = rng.uniform(-1, 1, () if reduction != "none" else (6,))
    w = rng.uniform(-1, 1, (6, 4))
    results = []
    for lib in (fastad, torch):
        x = lib.tensor(x0, dtype=lib.float64, requires_grad=True)
        out = getattr(lib.nn.functional, loss)(x, lib.tensor(target), reduction=reduction)
        g, = lib.autograd.grad(out, x, lib.tensor(upstream, dtype=lib.float64),
                               create_graph=True)
        # (nll's gradient is constant in x: its first derivative only)
        h = (lib.autograd.grad((g * lib.tensor(w, dtype=lib.float64)).sum(), x)[0].numpy()
             if loss == "cross_entropy" else None)
        results.append((g.detach().numpy(), h))
    for got, want in zip(*results):
        if got is not None or want is not None:
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


@needs_torch
@pytest.mark.parametrize("act", ["Tanh", "SELU"])
def test_gradients_of_some_inputs_stay_differentiable_in_the_others(act):
    """autograd.grad(create_graph=True) for some inputs skips the records and
    gradients only the others need, yet its result still depends on them: the
    gradients of a penalty on it reach every parameter, as in PyTorch (fused
    Linear+activation layers, one whose derivative reads its input; a mul by a
    tensor that needs no gradient; a non-leaf input)."""
    import torch

    def run(T):
        gen = np.random.default_rng(0)
        D = T.nn.Sequential(T.nn.Linear(3, 5), getattr(T.nn, act)(), T.nn.Linear(5, 2))
        with T.no_grad():
            for p in D.parameters():
                p.copy_(T.tensor(gen.uniform(-1, 1, tuple(p.shape))))
        x = T.tensor(gen.uniform(-1, 1, (4, 3)), requires_grad=True)
        c = T.tensor(gen.uniform(-1, 1, (4, 2)))
        h = x * 2.0
        out = D(h) * c
        gh, gx = T.autograd.grad(out.sum(), [h, x], create_graph=True)
        loss = (gh ** 2).sum() + (gx * gx).sum()
        # (the last bias does not reach the penalty: None, as in PyTorch)
        return [gh, gx] + list(T.autograd.grad(loss, list(D.parameters()) + [x],
                                               allow_unused=True))

    fastad.set_default_dtype(fastad.float64)
    torch_dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        got, want = run(fastad), run(torch)
    finally:
        fastad.set_default_dtype(fastad.float32)
        torch.set_default_dtype(torch_dtype)
    assert [g is None for g in got] == [w is None for w in want] == [False] * 5 + [True, False]
    for g, w in zip(got, want):
        if g is not None:
            np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=1e-10,
                                       atol=1e-12)


def test_autograd_grad_returns_gradients_nothing_else_holds():
    """A gradient autograd.grad hands out as the sweep's own array is not shared
    with .grad, a seed or another returned gradient."""
    w = fastad.randn(300, 200, requires_grad=True)
    v = fastad.randn(300, 200)
    seed = fastad.ones(300, 200)
    g1, = autograd.grad(w * v, w, seed)
    g2, g3 = autograd.grad((w * v).sum(), [w, w])
    g1.mul_(0.0)
    g2.add_(1.0)
    np.testing.assert_array_equal(seed.numpy(), 1.0)
    np.testing.assert_array_equal(g3.numpy(), v.numpy())
