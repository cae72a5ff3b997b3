"""The backward graph's nodes against PyTorch's: a custom Function runs where
only undefined gradients (a later backward's None) reach it, hooks see None
there; grad_fn.register_prehook / register_hook on every kind of record (0-d
scalar records, array ops, custom Functions), first order and create_graph."""
import pytest

import fastad
from conftest import needs_torch, optional_torch

torch = optional_torch()


def both(prog):
    return prog(fastad), prog(torch)


def plain(values):
    """Numbers to 10 significant digits: fastad's exp and tanh are PyTorch's to
    the bit in the plain build, not in the sanitizer's (no ISA clones)."""
    if isinstance(values, float):
        return float(f"{values:.10g}")
    if isinstance(values, list):
        return [plain(v) for v in values]
    return values


def show(x):
    """Gradients and nested tuples of them as plain values."""
    if x is None or isinstance(x, (int, float, str)):
        return plain(x)
    if isinstance(x, (tuple, list)):
        return type(x)(show(v) for v in x)
    return (plain(x.tolist()), str(x.dtype)[6:], x.requires_grad)


def grad_of(t):
    return None if t.grad is None else plain(t.grad.tolist())


def functions(lib, log):
    class Twice(lib.autograd.Function):
        # a backward that adds a constant: called with zeros, it still yields a gradient
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            log.append(("Twice", show(g)))
            return g * 2 + 1

    class Lazy(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            log.append(("Lazy", show(g)))
            return None if g is None else g * 2

    class Drop(lib.autograd.Function):
        # passes no gradient on: PyTorch's undefined gradient
        @staticmethod
        def forward(ctx, x):
            return x * 3

        @staticmethod
        def backward(ctx, g):
            log.append(("Drop", show(g)))
            return None

    class Pair(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(PAIR_MATERIALIZE[0])
            return x * 2, x.exp(), 7

        @staticmethod
        def backward(ctx, ga, gb, g7):
            log.append(("Pair", show((ga, gb, g7))))
            g = ga if ga is not None else gb
            return None if g is None else g + 1
    return Twice, Lazy, Drop, Pair


PAIR_MATERIALIZE = [True]


@needs_torch
@pytest.mark.parametrize("shape", [(), (2,)])
@pytest.mark.parametrize("between", [False, True])
@pytest.mark.parametrize("create_graph", [False, True])
def test_a_function_no_gradient_reaches_is_called_with_zeros(shape, between, create_graph):
    def prog(lib):
        log = []
        Twice, Lazy, Drop, _ = functions(lib, log)
        out = []
        for F in (Twice, Lazy):
            x = lib.ones(shape, dtype=lib.float64, requires_grad=True)
            y = F.apply(x)
            u = y * 3 if between else y
            z = Drop.apply(u)
            (z.sum() * x.sum()).backward(create_graph=create_graph)
            out.append((log[:], grad_of(x)))
            del log[:]
        return out
    f, t = both(prog)
    assert f == t


@needs_torch
@pytest.mark.parametrize("materialize", [True, False])
@pytest.mark.parametrize("used", ["dropped", "both dropped", "other"])
def test_several_outputs_some_reached_by_undefined_gradients(materialize, used):
    def prog(lib):
        log = []
        PAIR_MATERIALIZE[0] = materialize
        Twice, Lazy, Drop, Pair = functions(lib, log)
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        a, b, seven = Pair.apply(x)
        if used == "dropped":
            loss = Drop.apply(a).sum()
        elif used == "both dropped":
            loss = Drop.apply(a).sum() + Drop.apply(b).sum()
        else:
            loss = Drop.apply(a).sum() + b.sum()
        loss.backward()
        return log, grad_of(x)
    try:
        f, t = both(prog)
    finally:
        PAIR_MATERIALIZE[0] = True
    assert f == t


@needs_torch
@pytest.mark.parametrize("shape", [(), (2,)])
def test_hooks_where_only_undefined_gradients_arrive_get_none(shape):
    def prog(lib):
        log = []
        Drop = functions(lib, log)[2]
        x = lib.ones(shape, requires_grad=True)
        x.register_hook(lambda g: log.append(("x", show(g))))
        x.register_post_accumulate_grad_hook(lambda t: log.append(("x acc", grad_of(t))))
        y = x * 2
        y.register_hook(lambda g: log.append(("y", show(g))))
        y.retain_grad()
        y.grad_fn.register_prehook(lambda go: log.append(("y pre", show(go))))
        y.grad_fn.register_hook(lambda gi, go: log.append(("y post", show(gi), show(go))))
        e = y.exp() if shape else y.tanh()
        e.grad_fn.register_hook(lambda gi, go: log.append(("e post", show(gi), show(go))))
        Drop.apply(e).sum().backward()
        return log, grad_of(x), y.grad
    f, t = both(prog)
    assert f == t


@needs_torch
@pytest.mark.parametrize("where", ["tensor hook", "prehook", "post hook"])
def test_a_hook_cannot_replace_an_undefined_gradient(where):
    from test_errors import same_error

    def prog(lib):
        Drop = functions(lib, [])[2]
        x = lib.ones(2, requires_grad=True)
        y = x * 2
        if where == "tensor hook":
            y.register_hook(lambda g: lib.ones(2))
        elif where == "prehook":
            y.grad_fn.register_prehook(lambda go: (lib.ones(2),))
        else:
            y.grad_fn.register_hook(lambda gi, go: (lib.ones(2), None))
        Drop.apply(y).sum().backward()
    same_error(prog, "can't replace a None gradient with a non-None value")


@needs_torch
def test_autograd_grad_through_undefined_gradients():
    def prog(lib):
        log = []
        Twice, Lazy, Drop, _ = functions(lib, log)
        x = lib.ones(2, requires_grad=True)
        g, = lib.autograd.grad(Drop.apply(Twice.apply(x)).sum(), x)
        out = [g.tolist(), log[:]]
        x = lib.ones(2, requires_grad=True)
        try:
            lib.autograd.grad(Drop.apply(Lazy.apply(x)).sum(), x)
        except RuntimeError as e:
            out.append(str(e))
        out.append(lib.autograd.grad(Drop.apply(Lazy.apply(x)).sum(), x, allow_unused=True))
        return out, log
    f, t = both(prog)
    assert f == t


# ---------------------------------------------------------------- grad_fn hooks
def records(lib):
    """Ops whose grad_fn is each kind of fastad record: 0-d scalar records of one
    and two inputs (with a number), a scalar read from an array, array ops of
    one and two inputs, a custom Function."""
    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 3 * g * x * x
    return {
        "mul": lambda s, v, w: s * w[0],
        "mul number": lambda s, v, w: s * 3.0,
        "add number": lambda s, v, w: s + 2.0,
        "tanh": lambda s, v, w: s.tanh(),
        "pow": lambda s, v, w: s ** 2,
        "rsub": lambda s, v, w: 1.0 - s,
        "select": lambda s, v, w: v[1] * 1,
        "exp": lambda s, v, w: v.exp(),
        "array mul": lambda s, v, w: v * w,
        "sum": lambda s, v, w: v.sum(),
        "function": lambda s, v, w: Cube.apply(v),
        "scalar function": lambda s, v, w: Cube.apply(s),
    }


@needs_torch
@pytest.mark.parametrize("kind", sorted(records(fastad)))
@pytest.mark.parametrize("create_graph", [False, True])
def test_grad_fn_hooks_see_and_replace_gradients(kind, create_graph):
    def prog(lib):
        log = []
        s = lib.tensor(0.5, dtype=lib.float64, requires_grad=True)
        v = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
        w = lib.tensor([1.5, 2.0, -0.5], dtype=lib.float64, requires_grad=True)
        if kind == "select":
            r = v[1]
            out = r * 1
            node = r.grad_fn
        else:
            out = records(lib)[kind](s, v, w)
            node = out.grad_fn

        def pre(go):
            log.append(("pre", show(go)))
            return tuple(None if g is None else g * 2 for g in go)

        def post(gi, go):
            log.append(("post", show(gi), show(go)))
            return tuple(None if g is None else g * 3 + 1 for g in gi)
        h1 = node.register_prehook(pre)
        h2 = node.register_hook(post)
        loss = (out * out).sum()
        grads = lib.autograd.grad(loss, (s, v, w), retain_graph=True, create_graph=create_graph,
                                  allow_unused=True)
        result = [log[:], show(grads)]
        del log[:]
        h1.remove()
        h2.remove()
        if create_graph:
            # the hooks' own ops were recorded: the second derivative sees them
            second = sum(g.sum() for g in grads if g is not None)
            result.append(show(lib.autograd.grad(second, (s, v, w), retain_graph=True,
                                                   allow_unused=True)))
        result.append(show(lib.autograd.grad((out * out).sum(), (s, v, w), allow_unused=True)))
        result.append(log)
        return result
    f, t = both(prog)
    assert f == t


@needs_torch
@pytest.mark.parametrize("used", ["first", "both"])
def test_grad_fn_hooks_of_a_function_with_several_outputs(used):
    def prog(lib):
        log = []

        class Two(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                return x * 2, x * y, 5

            @staticmethod
            def backward(ctx, ga, gb, g5):
                log.append(("backward", show((ga, gb, g5))))
                return ga * 2 + gb * 0, None
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = lib.tensor([3.0, 4.0], requires_grad=True)
        a, b, five = Two.apply(x, y)
        node = a.grad_fn
        node.register_prehook(lambda go: log.append(("pre", show(go))) or
                              tuple(None if g is None else g * 2 for g in go))
        node.register_hook(lambda gi, go: log.append(("post", show(gi), show(go))))
        loss = a.sum() if used == "first" else (a + b).sum()
        loss.backward()
        return log, a.grad_fn == b.grad_fn, node.name(), x.grad.tolist(), y.grad
    f, t = both(prog)
    assert f == t


@needs_torch
def test_tensor_hooks_retain_grad_then_grad_fn_hooks():
    def prog(lib):
        log = []
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        v = (x * 3).exp()
        v.retain_grad()
        v.register_hook(lambda g: log.append(("tensor", show(g))) or g * 2)
        v.grad_fn.register_prehook(lambda go: log.append(("pre", show(go))) or (go[0] * 5,))
        v.grad_fn.register_hook(lambda gi, go: log.append(("post", show(gi), show(go))))
        v.sum().backward()
        return log, v.grad.tolist(), x.grad.tolist()
    f, t = both(prog)
    assert f == t


@needs_torch
@pytest.mark.parametrize("shape", [(), (2,)])
@pytest.mark.parametrize("bad", ["count", "not a tuple", "a list", "size", "dtype", "a number"])
@pytest.mark.parametrize("which", ["pre", "post"])
def test_grad_fn_hook_results_checked_as_pytorch_checks_them(shape, bad, which):
    from test_errors import same_error

    def prog(lib):
        x = lib.ones(shape, requires_grad=True)
        v = x.exp()
        g = lib.ones(shape)
        result = {"count": (g, g), "not a tuple": g, "a list": [g], "size": (lib.ones(3),),
                  "dtype": (g.double(),), "a number": (3,)}[bad]

        def hook(*grads):
            return result
        (v.grad_fn.register_prehook if which == "pre" else v.grad_fn.register_hook)(hook)
        v.sum().backward()
    fe, te = same_error(prog)
    assert str(fe) == str(te)


@needs_torch
def test_grad_fn_hook_handles_remove_and_outlive_the_tensor():
    def prog(lib):
        log = []
        x = lib.tensor(2.0, dtype=lib.float64, requires_grad=True)
        y = x * x
        z = y.tanh()
        node = y.grad_fn
        keep = node.register_prehook(lambda go: log.append("kept"))
        gone = node.register_hook(lambda gi, go: log.append("removed"))
        gone.remove()
        del y
        z.backward()
        keep.remove()
        return log, plain(x.grad.item())
    f, t = both(prog)
    assert f == t


@needs_torch
def test_next_functions_walk_to_accumulate_grad():
    """The Neural Networks tutorial prints loss.grad_fn.next_functions[0][0]."""
    def prog(lib):
        w = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        x = lib.tensor([[1.0, -1.0]])
        loss = lib.nn.functional.mse_loss(lib.tanh(x @ w), lib.zeros(1, 2))
        first = loss.grad_fn.next_functions[0][0]
        second = first.next_functions[0][0]
        leaf = [n for n, _ in second.next_functions if n is not None]
        return (type(loss.grad_fn.next_functions).__name__, first.name(), second.name(),
                [n.name() for n in leaf], leaf[0].variable is w,
                repr(leaf[0]).startswith("<AccumulateGrad object at 0x"), leaf[0].next_functions)
    got, want = both(prog)
    assert got == want
