"""fastad.compile and Module.compile: torch.compile's signature, checks and
module wrapping; a function's first call traced and later calls replayed, bit
for bit the eager calls' results, re-traced when a guard changes, run eagerly
when the trace meets what it does not follow."""
import operator
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import fastad
import fastad.nn as nn
from conftest import needs_torch
from fastad import _tensor, opdefs
from fastad._compile import Unsupported

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench" / "benchmarks"))
from workloads import w1_setup, w1_step  # noqa: E402


def test_a_compiled_function_gives_the_eager_values_and_gradients():
    def step(w, x):
        return ((w * x).tanh() ** 2).sum()

    w, x = fastad.tensor([0.5, -1.0], requires_grad=True), fastad.tensor([2.0, 3.0])
    warnings.simplefilter("ignore")     # sum() is not traced: these run eagerly
    for compiled in (fastad.compile(step), fastad.compile(mode="max-autotune")(step),
                     fastad.compile(fullgraph=False, dynamic=False, backend="eager")(step)):
        w.grad = None
        y = compiled(w, x)
        y.backward()
        w2 = w.detach().clone().requires_grad_()
        step(w2, x).backward()
        assert y.item() == step(w, x).item()
        np.testing.assert_array_equal(w.grad.numpy(), w2.grad.numpy())
    assert fastad.compile(step).__name__ == "step"


def test_compile_as_a_bare_decorator():
    @fastad.compile
    def double(t):
        return t * 2

    assert double(fastad.tensor(3.0)).item() == 6.0


def test_a_compiled_module_is_wrapped_as_pytorchs():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    om = fastad.compile(model)
    assert type(om).__name__ == "OptimizedModule" and isinstance(om, nn.Module)
    assert om._orig_mod is model
    lin = fastad.compile(nn.Linear(2, 3))
    assert lin.in_features == 2         # other attributes: the module's
    assert list(om.state_dict()) == ["_orig_mod." + k for k in model.state_dict()]
    assert [p is q for p, q in zip(om.parameters(), model.parameters())] == [True] * 4
    x = fastad.randn(5, 3)
    np.testing.assert_array_equal(om(x).detach().numpy(), model(x).detach().numpy())
    om.eval()
    assert not model.training and not om.training
    model.train()
    assert om.training
    assert model.compile() is None and list(model.state_dict())[0] == "0.weight"


def test_compile_checks_its_arguments():
    with pytest.raises(RuntimeError, match="Unrecognized mode=fast, should be one of: default"):
        fastad.compile(lambda: 0, mode="fast")
    with pytest.raises(RuntimeError, match="Either mode or options can be specified"):
        fastad.compile(lambda: 0, mode="default", options={"trace.enabled": True})
    with pytest.raises(RuntimeError, match="Invalid backend: 'gpu'"):
        fastad.compile(lambda: 0, backend="gpu")
    with pytest.raises(AssertionError, match="A callable function is expected"):
        fastad.compile(3)
    with pytest.raises(RuntimeError, match="Unrecognized mode"):
        nn.Linear(2, 2).compile(mode="fast")


@needs_torch
def test_same_wrapping_and_messages_as_torch():
    import torch
    ours, theirs = fastad.compile(nn.Linear(2, 3)), torch.compile(torch.nn.Linear(2, 3))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    for kw in ({"mode": "fast"}, {"mode": "default", "options": {}}, {"backend": "gpu"}):
        messages = []
        for lib in (fastad, torch):
            with pytest.raises(RuntimeError) as err:
                lib.compile(lambda: 0, **kw)
            messages.append((type(err.value).__name__, str(err.value)))
        assert messages[0] == messages[1]



def _bits(t):
    return np.asarray(t.detach().numpy()).tobytes()


class _Count:
    """Counts the calls that ran the function's Python (its attribute is not
    guarded: a list's length would be, and grow the key at each call)."""
    n = 0


def _himmelblau_adam(compiled, steps, trace_log):
    x = fastad.tensor([0.0, 0.0], requires_grad=True)
    opt = fastad.optim.Adam([x], lr=1e-2)

    def step():
        trace_log.n += 1        # Python: runs at the traced call only
        f = (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2
        opt.zero_grad()
        f.backward()
        opt.step()
        return f

    run = fastad.compile(step, fullgraph=True) if compiled else step
    losses = [_bits(run()) for _ in range(steps)]
    st = opt.state[x]
    return losses, _bits(x), _bits(x.grad), [_bits(st[k]) for k in ("step", "exp_avg", "exp_avg_sq")]


@pytest.mark.parametrize("threads", [1, 2])
def test_w2_himmelblau_adam_compiled_is_bitwise_eager_over_100_steps(threads):
    before = fastad.get_num_threads()
    fastad.set_num_threads(threads)
    try:
        log = _Count()
        eager = _himmelblau_adam(False, 100, _Count())
        assert _himmelblau_adam(True, 100, log) == eager
        assert log.n == 1           # traced once, replayed 99 times
    finally:
        fastad.set_num_threads(before)


def test_an_optimizer_step_is_looked_up_at_each_replay():
    """A step hook registered after the trace runs at the replays, as eager."""
    x = fastad.tensor([1.0, 2.0], requires_grad=True)
    opt = fastad.optim.SGD([x], lr=0.1)
    seen = _Count()

    def step():
        loss = x[0] * x[1]
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    cf = fastad.compile(step, fullgraph=True)
    cf()
    handle = opt.register_step_post_hook(lambda *a: setattr(seen, "n", seen.n + 1))
    try:
        cf()
        cf()
    finally:
        handle.remove()
    assert seen.n == 2


_OPTIMIZERS = {
    "sgd": lambda groups: fastad.optim.SGD(groups, lr=0.1),
    "sgd nesterov, decay": lambda groups: fastad.optim.SGD(groups, lr=0.1, momentum=0.9,
                                                           nesterov=True, weight_decay=0.01),
    "sgd dampening": lambda groups: fastad.optim.SGD(groups, lr=0.1, momentum=0.5, dampening=0.3),
    "adam": lambda groups: fastad.optim.Adam(groups, lr=1e-2),
    "adam decay": lambda groups: fastad.optim.Adam(groups, lr=1e-2, weight_decay=0.1),
    "adamw": lambda groups: fastad.optim.AdamW(groups, lr=1e-2, betas=(0.8, 0.99)),
}
# what a training loop does to its optimizer at its 4th step: the compiled
# step must see it as eager's does (the replay runs eager's step where it must)
_CHANGES = {
    "nothing": lambda opt, params: None,
    "an lr": lambda opt, params: opt.param_groups[1].__setitem__("lr", 0.03),
    "a Tensor lr": lambda opt, params: opt.param_groups[0].__setitem__("lr", fastad.tensor(0.02)),
    "maximize": lambda opt, params: [g.__setitem__("maximize", True) for g in opt.param_groups],
    "state cleared": lambda opt, params: opt.state.clear(),
    "state loaded": lambda opt, params: opt.load_state_dict(opt.state_dict()),
    "a param's storage": lambda opt, params: params[0].data.__setitem__(
        slice(None), params[0].detach().t().contiguous().t()),
    "a new param group": lambda opt, params: opt.add_param_group({"params": [params[-1]]}),
    "a step hook": lambda opt, params: opt.register_step_post_hook(
        lambda *args: params[2].data.mul_(0.5)),
    "a step hook removed": lambda opt, params: opt.register_step_pre_hook(
        lambda *args: None).remove(),
    "an invalid option": lambda opt, params: opt.param_groups[0].update(
        nesterov=True, momentum=0.0, amsgrad=True),
}


def _train_with(make_opt, change, compiled, steps=8):
    rng = np.random.default_rng(5)
    w = fastad.tensor(rng.standard_normal((3, 4)), dtype=fastad.float32, requires_grad=True)
    b = fastad.tensor(rng.standard_normal(4), dtype=fastad.float32, requires_grad=True)
    v = fastad.tensor(rng.standard_normal(2), dtype=fastad.float64, requires_grad=True)
    unused = fastad.zeros(3, requires_grad=True)
    late = fastad.tensor(rng.standard_normal(2), requires_grad=True)
    params = [w, b, v, unused, late]
    opt = make_opt([{"params": [w, unused]}, {"params": [b, v], "lr": 0.05}])
    ones_y, ones_z = fastad.ones(3, 4), fastad.ones(2)

    def step():
        opt.zero_grad()
        y = (w * b).tanh() * (w - 1.0)
        y.backward(ones_y)
        z = (v * v).exp() + late * late
        z.backward(ones_z)
        opt.step()
        return y, z

    run = fastad.compile(step, fullgraph=True) if compiled else step
    out = []
    for i in range(steps):
        if i == 4:
            change(opt, params)
        try:
            out.append([_bits(t) for t in run()])
        except (ValueError, KeyError) as e:
            out.append(repr(e))
    state = [_bits(t) for st in opt.state.values() for t in st.values()
             if isinstance(t, fastad.Tensor)]
    return out, [_bits(p) for p in params], state


@pytest.mark.parametrize("change", list(_CHANGES))
@pytest.mark.parametrize("name", list(_OPTIMIZERS))
def test_an_optimizer_step_replayed_by_its_kernels_is_bitwise_eager(name, change, monkeypatch):
    """SGD's, Adam's and AdamW's step in a plan runs their kernels without their
    Python (the eager update's Python runs only at the trace), as eager's does
    when a loop changes the optimizer between steps."""
    eager_updates = _Count()
    cls = fastad.optim.SGD if name.startswith("sgd") else fastad.optim.Adam
    update = "_sgd" if cls is fastad.optim.SGD else "_step_group"
    python_update = getattr(cls, update)

    def counted(*args):
        eager_updates.n += 1
        return python_update(*args)

    monkeypatch.setattr(cls, update, counted)
    make = _OPTIMIZERS[name]
    eager = _train_with(make, _CHANGES[change], False)
    eager_updates.n = 0
    assert _train_with(make, _CHANGES[change], True) == eager
    if change in ("nothing", "a step hook removed"):
        # the trace's step only (one update per group): a step wrapped for hooks
        # that has none to run is the update kernels' too
        assert eager_updates.n == 2


def test_zero_grad_in_a_plan_is_looked_up_at_each_replay(monkeypatch):
    """Optimizer.zero_grad replays in C while it is the class's; a zero_grad put
    in its place after the trace runs at the replays, as eager's call would."""
    x = fastad.tensor([1.0, 2.0], requires_grad=True)
    opt = fastad.optim.SGD([x], lr=0.1)
    calls = _Count()

    def step():
        opt.zero_grad()
        loss = x[0] * x[1]
        loss.backward()
        opt.step()
        return loss

    cf = fastad.compile(step, fullgraph=True)
    cf()
    cf()
    assert x.grad is not None and calls.n == 0
    eager_zero_grad = fastad.optim.Optimizer.zero_grad

    def counted(self, set_to_none=True):
        calls.n += 1
        eager_zero_grad(self, set_to_none)

    monkeypatch.setattr(fastad.optim.Optimizer, "zero_grad", counted)
    cf()
    cf()
    assert calls.n == 2


def test_w1_scalar_mlp_with_sgd_compiled_is_bitwise_eager():
    def train(compiled):
        params, data = w1_setup(fastad, samples=4)
        flat = [w for layer in params for neuron in layer for w in neuron]
        opt = fastad.optim.SGD(flat, lr=0.05, momentum=0.9)

        def step(state):
            opt.zero_grad()
            loss = w1_step(state)
            opt.step()
            return loss

        run = fastad.compile(step, fullgraph=True) if compiled else step
        losses = [_bits(run((params, data))) for _ in range(10)]
        return losses, [_bits(w) for w in flat], [_bits(w.grad) for w in flat]

    assert train(True) == train(False)


def test_a_replay_records_the_tape_as_eager_does():
    """backward outside the compiled function: the replayed tape's gradients,
    grad_fn names and values are eager's."""
    def f(a, b):
        return ((a * b + 1.5) / (b - 4.0)).tanh() ** 3 - 2 / a

    cf = fastad.compile(f, fullgraph=True)
    for k in range(3):
        got, want = [], []
        for fn, out in ((cf, got), (f, want)):
            a = fastad.tensor(0.3 + k, dtype=fastad.float64, requires_grad=True)
            b = fastad.tensor(-1.2 * k, dtype=fastad.float64, requires_grad=True)
            y = fn(a, b)
            out.append((y.grad_fn.name(), _bits(y)))
            y.backward()
            out.append((_bits(a.grad), _bits(b.grad)))
        assert got == want


UNARY_ROWS = [op for op in opdefs.UNARY if not op.noise]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op", UNARY_ROWS, ids=lambda op: op.name)
def test_every_table_op_on_a_0d_tensor_replays_bitwise(op, dtype):
    lo, hi = op.domain
    values = [lo + (hi - lo) * q for q in (0.137, 0.61, 0.89)]
    fn = getattr(_tensor, op.name)

    def f(t):
        return fn(t) * 1.5

    cf = fastad.compile(f, fullgraph=True)
    for v in values:
        got, want = [], []
        for g, out in ((cf, got), (f, want)):
            t = fastad.tensor(v, dtype=getattr(fastad, dtype), requires_grad=True)
            y = g(t)
            y.backward()
            out += [_bits(y), _bits(t.grad), y.grad_fn.name()]
        assert got == want, op.name


BINARY = [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow]


@pytest.mark.parametrize("operands", ["tensor-tensor", "tensor-number", "number-tensor"])
@pytest.mark.parametrize("op", BINARY, ids=lambda op: op.__name__)
def test_every_arithmetic_operator_replays_bitwise(op, operands):
    def f(a, b):
        if operands == "tensor-tensor":
            return op(a, b)
        if operands == "tensor-number":
            return op(a, 1.7)
        return op(2.3, b)

    cf = fastad.compile(f, fullgraph=True)
    for va, vb in ((0.7, 1.3), (2.1, -0.4), (1.9, 0.25)):
        got, want = [], []
        for g, out in ((cf, got), (f, want)):
            a = fastad.tensor(va, requires_grad=True)
            b = fastad.tensor(vb, requires_grad=True)
            y = g(a, b)
            y.backward()
            out += [_bits(y)] + [_bits(t.grad) if t.grad is not None else None for t in (a, b)]
        assert got == want


def test_an_lr_scheduler_step_inside_replays():
    def train(compiled):
        x = fastad.tensor([1.0, -1.0], requires_grad=True)
        opt = fastad.optim.SGD([x], lr=0.5)
        sched = fastad.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)

        def step():
            loss = x[0] ** 2 + x[1] ** 2
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            return loss

        run = fastad.compile(step, fullgraph=True) if compiled else step
        return [_bits(run()) for _ in range(6)], _bits(x), opt.param_groups[0]["lr"]

    assert train(True) == train(False)


def test_no_grad_in_place_updates_replay():
    w = fastad.tensor([1.0, -2.0], requires_grad=True)
    target = fastad.tensor(0.5)

    def step():
        loss = (w[0] - target) ** 2 + (w[1] * w[0]).sin()
        with fastad.no_grad():
            w0 = w[0] * 1.0
            target_new = target + 0.01 * w0
        return loss, target_new

    cf = fastad.compile(step, fullgraph=True)
    got = [tuple(_bits(t) for t in cf()) for _ in range(3)]
    assert got == [tuple(_bits(t) for t in step()) for _ in range(3)]
    y = fastad.tensor(3.0, requires_grad=True)

    def update(p):
        loss = p * p
        with fastad.no_grad():
            p2 = p * 1.0
            p2 -= 0.1 * p
        return loss, p2

    cu = fastad.compile(update, fullgraph=True)
    for _ in range(3):
        a, b = cu(y), update(y)
        assert [_bits(t) for t in a] == [_bits(t) for t in b]
        assert a[0].requires_grad and not a[1].requires_grad


def _counting(fn_body):
    log = _Count()

    def fn(*args):
        log.n += 1
        return fn_body(*args)
    return fn, log


def test_guards_retrace_on_shape_dtype_requires_grad_and_python_scalars():
    f, log = _counting(lambda t, c: t * c + 1)
    cf = fastad.compile(f)
    a = fastad.tensor(1.0, requires_grad=True)
    cf(a, 2.0)
    cf(fastad.tensor(5.0, requires_grad=True), 2.0)
    assert log.n == 1                                            # same guards: replayed
    assert cf(a, 3.0).item() == 4.0 and log.n == 2                 # a Python scalar
    assert cf(a, 2).item() == 3.0 and log.n == 3                   # its type
    cf(fastad.tensor([1.0, 2.0], requires_grad=True), 2.0)
    assert log.n == 4                                            # a shape
    cf(fastad.tensor(1.0, dtype=fastad.float64, requires_grad=True), 2.0)
    assert log.n == 5                                            # a dtype
    y = cf(fastad.tensor(1.0), 2.0)
    assert log.n == 6 and not y.requires_grad                    # requires_grad
    cf(fastad.tensor(7.0), 2.0)
    cf(a, 3.0)
    assert log.n == 6                                            # every key kept


def test_guards_retrace_when_a_captured_tensor_is_swapped():
    log = _Count()
    box = fastad.tensor(2.0)

    def f(t):
        log.n += 1
        return t * box

    cf = fastad.compile(f)
    a = fastad.tensor(3.0)
    assert cf(a).item() == 6.0 and cf(a).item() == 6.0 and log.n == 1
    box.fill_(4.0)                      # the same tensor, new values: replayed, read live
    assert cf(a).item() == 12.0 and log.n == 1
    box = fastad.tensor(5.0)            # another tensor in the cell: traced again
    assert cf(a).item() == 15.0 and log.n == 2


SCALE = fastad.tensor(2.0)


def _global_scale(t):
    return t * SCALE


def _helper(t):
    return t * SCALE + 1


def _uses_a_helper(t):
    return _helper(t) * 2


@pytest.mark.parametrize("fn, before, after", [(_global_scale, 6.0, 30.0),
                                               (_uses_a_helper, 14.0, 62.0)],
                         ids=["global", "a helper's global"])
def test_guards_retrace_when_a_global_tensor_is_swapped(fn, before, after):
    global SCALE
    cf = fastad.compile(fn, fullgraph=True)
    a = fastad.tensor(3.0)
    assert cf(a).item() == before and cf(a).item() == before
    old = SCALE
    try:
        SCALE = fastad.tensor(10.0)
        assert cf(a).item() == after
    finally:
        SCALE = old


def test_a_callable_that_is_not_a_function_runs_eagerly():
    class Scale:
        def __call__(self, t):
            return t * 3

        def method(self, t):
            return t * 4

    s = Scale()
    assert fastad.compile(s)(fastad.tensor(2.0)).item() == 6.0
    assert fastad.compile(s.method)(fastad.tensor(2.0)).item() == 8.0


def test_an_aliased_argument_is_guarded():
    cf = fastad.compile(lambda a, b: a * 2 + b)
    x, y = fastad.tensor(1.0), fastad.tensor(10.0)
    assert cf(x, x).item() == 3.0
    assert cf(x, y).item() == 12.0 and cf(y, x).item() == 21.0


@pytest.mark.parametrize("n", [9, 40, 300])
def test_an_alias_among_many_tensors_is_guarded(n):
    """Past 8 tensors the guards find aliases through a table of addresses."""
    def f(ts, u):
        return sum(ts[1:], ts[0] * 2) + u * 3

    cf = fastad.compile(f)
    ts = [fastad.tensor(float(k)) for k in range(n)]
    for u in (fastad.tensor(0.5), ts[-1], ts[n // 2], fastad.tensor(0.25), ts[0], ts[-1]):
        assert cf(ts, u).item() == f(ts, u).item()
    assert len(cf._plans) == 4      # u fresh, then aliasing ts[-1], ts[n // 2], ts[0]


def test_a_python_int_past_a_c_integer_in_the_guards_retraces():
    """A key's int of any size, where the call walks a C integer, is a mismatch."""
    def f(a, b):
        return a * 2 if isinstance(b, int) else a * 3

    cf = fastad.compile(f)
    x = fastad.tensor(1.0)
    for b in (2 ** 80, [1], 2 ** 80, -1, [1]):
        assert cf(x, b).item() == f(x, b).item()


EXITS = {
    "item": lambda t: t.item(),
    "float": float,
    "bool": bool,
    "tolist": lambda t: t.tolist(),
    "numpy": lambda t: t.detach().numpy(),
    "print": lambda t: repr(t),
    "grad": lambda t: t.grad,
}


@pytest.mark.parametrize("exit_", EXITS, ids=list(EXITS))
def test_an_exit_to_python_falls_back_with_a_warning_and_raises_under_fullgraph(exit_):
    log = _Count()

    def f(t):
        log.n += 1
        y = t * 2.0
        EXITS[exit_](y)
        return y + 1.0

    cf = fastad.compile(f)
    with pytest.warns(UserWarning, match="runs eagerly"):
        assert cf(fastad.tensor(1.5)).item() == 4.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # once
        assert cf(fastad.tensor(2.5)).item() == 6.0
    assert log.n == 2                    # eager, both
    with pytest.raises(Unsupported, match="fullgraph"):
        fastad.compile(f, fullgraph=True)(fastad.tensor(1.5))


@pytest.mark.parametrize("body", [
    lambda t: t.sum() * 2,                      # an op the tracer does not follow
    lambda t: t.add_(1.0) * 2,                  # an in-place write it does not follow
    lambda t: fastad.tensor(3.0) * t,           # a tensor made inside
    lambda t: t.detach() * 2,
    lambda t: [t * 2, object()],                # a result it cannot rebuild
], ids=["sum", "add_", "tensor", "detach", "result"])
def test_what_the_tracer_does_not_follow_falls_back_with_eager_results(body):
    cf = fastad.compile(body)
    for k in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = cf(fastad.tensor([1.0, 2.0 + k]))
        want = body(fastad.tensor([1.0, 2.0 + k]))
        if isinstance(want, list):
            got, want = got[0], want[0]
        assert _bits(got) == _bits(want)


def test_a_random_op_falls_back_and_draws_as_eager():
    def f(t):
        fastad.randn(3)             # drawn, not used
        return t * 2

    states = []
    for fn in (fastad.compile(f), f):
        fastad.manual_seed(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(3):
                fn(fastad.tensor(1.0))
        states.append(fastad.randn(4).numpy().tobytes())
    assert states[0] == states[1]


def _sgd_step():
    x = fastad.tensor(1.0, requires_grad=True)
    opt = fastad.optim.SGD([x], lr=0.1)

    def step():
        loss = (x - 3.0) ** 2
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    return x, step


def test_a_compiled_function_called_inside_another_is_not_replayed_in_its_trace():
    """Inside the outer trace the inner function runs its Python (a replay
    would hide its steps from the outer plan); its tensors are not the outer
    function's to read, so the outer one falls back, and the steps are eager's."""
    x, step = _sgd_step()
    inner = fastad.compile(step, fullgraph=True)
    inner()                         # traced: later calls of it replay

    def two_steps():
        return inner(), inner()

    outer = fastad.compile(two_steps)
    with pytest.warns(UserWarning, match="runs eagerly"):
        outer()
    for _ in range(2):
        outer()
    y, eager = _sgd_step()
    for _ in range(7):
        eager()
    assert _bits(x) == _bits(y)


def test_an_op_raising_inside_ends_the_trace():
    def f(t, k):
        try:
            return t[k] * 2
        except IndexError:
            return t[0] * 3

    cf = fastad.compile(f)
    with pytest.warns(UserWarning, match="an op raised"):
        assert cf(fastad.tensor([1.0, 2.0]), 5).item() == 3.0
    assert cf(fastad.tensor([1.0, 2.0]), 5).item() == 3.0


def test_recompile_limit_runs_eagerly_past_it():
    f, log = _counting(lambda t, c: t * c)
    cf = fastad.compile(f, recompile_limit=2)
    t = fastad.tensor(1.0)
    cf(t, 1.0)
    cf(t, 2.0)
    with pytest.warns(UserWarning, match="recompile_limit"):
        assert cf(t, 3.0).item() == 3.0
    cf(t, 1.0)
    cf(t, 2.0)
    assert log.n == 3


def test_a_change_of_grad_mode_outliving_the_call_is_not_replayed():
    def f(t):
        fastad.set_grad_enabled(False)
        return t * 2

    cf = fastad.compile(f)
    try:
        with pytest.warns(UserWarning, match="grad mode"):
            cf(fastad.tensor(1.0, requires_grad=True))
    finally:
        fastad.set_grad_enabled(True)


def test_the_grad_mode_is_part_of_the_guard():
    cf = fastad.compile(lambda t: t * 2)
    t = fastad.tensor(1.0, requires_grad=True)
    assert cf(t).requires_grad
    with fastad.no_grad():
        assert not cf(t).requires_grad
    assert cf(t).requires_grad


def test_a_replay_raises_where_eager_raises():
    """A captured non-leaf's graph is freed by the first call's backward: the
    second call raises, replayed or eager."""
    messages = []
    for compiled in (True, False):
        w = fastad.tensor(2.0, requires_grad=True)
        h = w * 3

        def f():
            y = h * h
            y.backward()
            return y

        run = fastad.compile(f, fullgraph=True) if compiled else f
        assert run().item() == 36.0
        with pytest.raises(RuntimeError) as err:
            run()
        messages.append(str(err.value))
    assert messages[0] == messages[1]


def test_compile_disable_returns_the_function():
    def f(t):
        return t

    assert fastad.compile(f, disable=True) is f


# ---- scalar blocks: runs of 0-d ops replayed in C, without a Tensor per op

def _block_fn(w, v, h):
    """0-d ops of both dtypes, numbers, element views of v, the table's ops with
    parameters (softplus keeps its threshold on the graph), kept intermediates."""
    a = w * v[0] + 2 - v[1] / 3.0
    b = (a ** 2).tanh() * h + 1.5 / (a - 7)
    c = 3 - F.softplus(b, beta=2.0, threshold=5.0) ** 3
    d = F.leaky_relu(c * v[1], 0.2) - F.hardtanh(b, -0.5, 0.5) + (-c).sigmoid()
    return d / (h + 2), a, b


F = nn.functional


@pytest.mark.parametrize("threads", [1, 2])
def test_a_scalar_block_replays_bitwise(threads):
    before = fastad.get_num_threads()
    fastad.set_num_threads(threads)
    try:
        cf = fastad.compile(_block_fn, fullgraph=True)
        for k in range(4):
            got, want = [], []
            for fn, out in ((cf, got), (_block_fn, want)):
                w = fastad.tensor(0.3 + 0.4 * k, requires_grad=True)
                v = fastad.tensor([1.1 - k, 0.7 * k], requires_grad=True)
                h = fastad.tensor(-0.2 * k, dtype=fastad.float64, requires_grad=True)
                d, a, b = fn(w, v, h)
                out += [(_bits(t), t.dtype, t.grad_fn.name()) for t in (d, a, b)]
                (d * a + b).backward()
                out += [_bits(t.grad) for t in (w, v, h)]
            assert got == want
    finally:
        fastad.set_num_threads(before)
    # every 0-d op in a block: the element reads (v[0], v[1]) run as steps between them
    assert _tensor._block_sizes(cf._last[1][0]) == [2, 11, 9]


def test_a_block_records_what_a_double_backward_differentiates():
    cf = fastad.compile(_block_fn, fullgraph=True)
    for _ in range(2):
        got, want = [], []
        for fn, out in ((cf, got), (_block_fn, want)):
            w = fastad.tensor(0.8, dtype=fastad.float64, requires_grad=True)
            v = fastad.tensor([0.4, -1.3], dtype=fastad.float64, requires_grad=True)
            h = fastad.tensor(0.6, dtype=fastad.float64, requires_grad=True)
            d, _, _ = fn(w, v, h)
            gw, gv = fastad.autograd.grad(d, (w, v), create_graph=True)
            (gw * gv[0] + gv[1] ** 2).backward()
            out += [_bits(gw), _bits(gv)] + [_bits(t.grad) for t in (w, v, h)]
        assert got == want


def test_a_block_saves_element_views_as_eager_does():
    """A write into v after the forward makes the backward refuse, as in eager
    (mul saved v[0] and v[1])."""
    def f(w, v):
        return w * v[0] * v[1] + 1

    cf = fastad.compile(f, fullgraph=True)
    for fn in (cf, cf, f):
        w = fastad.tensor(0.5, requires_grad=True)
        v = fastad.tensor([2.0, 3.0], requires_grad=True)
        y = fn(w, v)
        with fastad.no_grad():
            v.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.backward()


def test_a_block_whose_operands_are_not_as_traced_runs_its_steps():
    """The guards do not tell an element view from a 0-d tensor, nor a live
    graph from a freed one: the block sees it, and runs its ops one by one."""
    def f(a, b):
        return (a * b + 1) * b - a

    cf = fastad.compile(f, fullgraph=True)
    for make in ("view", "plain", "freed", "plain"):
        got, want = [], []
        for fn, out in ((cf, got), (f, want)):
            p = fastad.tensor([0.5, -2.0], requires_grad=True)
            q = fastad.tensor(1.5, requires_grad=True)
            if make == "view":
                a, b = p[0], p[1]
            elif make == "freed":
                a, b = p[0] * 1, q * 2
                (a + b).backward()
            else:
                a, b = p[0] * 1, q * 2
            y = fn(a, b)
            out.append((_bits(y), y.requires_grad))
            if make == "freed":
                with pytest.raises(RuntimeError) as e:
                    y.backward()
                out.append((type(e.value), str(e.value)))
            else:
                y.backward()
                out += [_bits(p.grad), None if q.grad is None else _bits(q.grad)]
        assert got == want, make


def test_a_block_grows_the_tape_as_eager_does():
    """Blocks of 3,000 records on a graph that keeps every call's records (the
    results stay alive): 60,000 records, more than earlier tests leave the
    thread's recycled arrays room for, so they grow inside the blocks."""
    def f(a, b):
        x = a
        for _ in range(1500):
            x = x * b + 0.25
        return x

    cf = fastad.compile(f, fullgraph=True)
    got, want = [], []
    for fn, out in ((cf, got), (f, want)):
        b = fastad.tensor(0.999, dtype=fastad.float64, requires_grad=True)
        leaves = [fastad.tensor(0.1 * k, dtype=fastad.float64, requires_grad=True)
                  for k in range(20)]
        ys = [fn(a, b) for a in leaves]
        sum(ys).backward()
        out += [_bits(y) for y in ys] + [_bits(a.grad) for a in leaves] + [_bits(b.grad)]
    assert got == want
