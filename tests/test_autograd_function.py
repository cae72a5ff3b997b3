"""Custom autograd.Function against PyTorch's: several outputs, non-differentiable
outputs, materialized gradients, in-place Functions (mark_dirty), setup_context
and keyword arguments; first and second derivatives, gradcheck, gradgradcheck."""
import numpy as np
import pytest

import fastad
from conftest import needs_torch, optional_torch

torch = optional_torch()


def both(fn):
    return fn(fastad), fn(torch)


def name(t):
    return None if t.grad_fn is None else t.grad_fn.name()


def listed(grads):
    return [g if g is None or isinstance(g, (int, str)) else (g.tolist(), str(g.dtype)[6:])
            for g in grads]


def functions(lib, seen):
    """Functions with several outputs, written once for both libraries; seen
    collects the gradients each backward receives."""
    class MulAdd(lib.autograd.Function):
        # two tensors and two non-tensors, which pass through
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x * y, x + y, 3, "s"

        @staticmethod
        def backward(ctx, gp, gs, g3, gstr):
            seen.append(listed((gp, gs, g3, gstr)))
            x, y = ctx.saved_tensors
            return gp * y + gs, gp * x + gs

    class ExpSin(lib.autograd.Function):
        # saves an output; its backward is differentiable
        @staticmethod
        def forward(ctx, x):
            e = x.exp()
            ctx.save_for_backward(x, e)
            return e, x.sin()

        @staticmethod
        def backward(ctx, ge, gs):
            seen.append(listed((ge, gs)))
            x, e = ctx.saved_tensors
            return ge * e + gs * x.cos()

    class SumProd(lib.autograd.Function):
        # 0-d outputs
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sum(), x.prod()

        @staticmethod
        def backward(ctx, gs, gp):
            x, = ctx.saved_tensors
            return gs * lib.ones_like(x) + gp * x.prod() / x

    class Sort(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            values, indices = x.sort()
            ctx.mark_non_differentiable(indices)
            ctx.save_for_backward(indices)
            return values, indices

        @staticmethod
        def backward(ctx, gv, gi):
            seen.append(listed((gv, gi)))
            indices, = ctx.saved_tensors
            g = lib.zeros_like(gv)
            g[indices] = gv
            return g
    return MulAdd, ExpSin, SumProd, Sort


@needs_torch
def test_several_outputs_values_gradients_and_grad_fn():
    def prog(lib):
        seen = []
        MulAdd = functions(lib, seen)[0]
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        y = lib.tensor([3.0, -4.0], dtype=lib.float64, requires_grad=True)
        p, s, three, string = MulAdd.apply(x, y)
        (p * s).sum().backward()
        return (p.tolist(), s.tolist(), three, string, p.requires_grad, s.requires_grad,
                name(p), name(s), p.is_leaf, seen, x.grad.tolist(), y.grad.tolist())
    f, t = both(prog)
    assert f == t
    assert f[6] == "MulAddBackward"


@needs_torch
@pytest.mark.parametrize("materialize", [True, False])
@pytest.mark.parametrize("used", ["first", "second", "both"])
def test_unused_outputs_get_zeros_or_none(materialize, used):
    def prog(lib):
        seen = []

        class Two(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.set_materialize_grads(materialize)
                return x * 2, (x * 3).sum()

            @staticmethod
            def backward(ctx, ga, gb):
                seen.append(listed((ga, gb)))
                g = lib.zeros(2)
                if ga is not None:
                    g = g + 2 * ga
                if gb is not None:
                    g = g + 3 * gb
                return g
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        a, b = Two.apply(x)
        loss = {"first": a.sum(), "second": b * 1, "both": a.sum() * b}[used]
        loss.backward()
        return seen, x.grad.tolist()
    assert prog(fastad) == prog(torch)


@needs_torch
def test_single_output_materialize_false_gets_the_gradient():
    def prog(lib):
        seen = []

        class Double(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.set_materialize_grads(False)
                return x * 2

            @staticmethod
            def backward(ctx, g):
                seen.append(listed((g,)))
                return g * 2
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        Double.apply(x).sum().backward()
        return seen, x.grad.tolist()
    assert prog(fastad) == prog(torch)


@needs_torch
def test_mark_non_differentiable():
    def prog(lib):
        seen = []
        Sort = functions(lib, seen)[3]
        x = lib.tensor([3.0, 1.0, 2.0], requires_grad=True)
        values, indices = Sort.apply(x)
        (values * lib.arange(3.0)).sum().backward()
        return (values.tolist(), indices.tolist(), values.requires_grad, indices.requires_grad,
                name(values), name(indices), indices.is_leaf, seen, x.grad.tolist())
    assert prog(fastad) == prog(torch)


@needs_torch
def test_non_differentiable_outputs_materialize_false_and_single():
    def prog(lib):
        seen = []

        class Marked(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.set_materialize_grads(False)
                a, b = x * 2, x * 3
                ctx.mark_non_differentiable(b)
                return a, b

            @staticmethod
            def backward(ctx, ga, gb):
                seen.append(listed((ga, gb)))
                return ga * 2

        class Only(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                b = x * 3
                ctx.mark_non_differentiable(b)
                return b

        class ArgMax(lib.autograd.Function):
            # an integer output is not differentiable, marked or not
            @staticmethod
            def forward(ctx, x):
                return x.argmax()
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        a, b = Marked.apply(x)
        a.sum().backward()
        only, arg = Only.apply(x), ArgMax.apply(x)
        return (seen, x.grad.tolist(), b.requires_grad, only.requires_grad, name(only),
                arg.requires_grad, arg.tolist(), str(arg.dtype)[6:])
    assert prog(fastad) == prog(torch)


@needs_torch
def test_integer_output_of_several_gets_integer_zeros():
    def prog(lib):
        seen = []

        class MaxArg(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2, x.argmax()

            @staticmethod
            def backward(ctx, ga, gi):
                seen.append(listed((ga, gi)))
                return ga * 2
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        a, i = MaxArg.apply(x)
        a.sum().backward()
        return seen, i.requires_grad, x.grad.tolist()
    assert prog(fastad) == prog(torch)


@needs_torch
def test_a_tensor_returned_twice_is_one_output():
    def prog(lib):
        seen = []

        class Dup(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y = x * 2
                return y, y

            @staticmethod
            def backward(ctx, g1, g2):
                seen.append(listed((g1, g2)))
                return g1 * 2 + g2 * 2
        x = lib.tensor([3.0, 1.0], requires_grad=True)
        p, q = Dup.apply(x)
        (p.sum() + 3 * q.sum()).backward()
        return p is q, seen, x.grad.tolist()
    assert prog(fastad) == prog(torch)


@needs_torch
@pytest.mark.parametrize("loss", ["exp", "sin", "sum", "product"])
def test_several_outputs_differentiated_twice(loss):
    def prog(lib):
        seen = []
        ExpSin = functions(lib, seen)[1]
        x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
        e, s = ExpSin.apply(x)
        out = {"exp": e, "sin": s, "sum": e * 0.3 + s * 0.7, "product": e * s}[loss]
        g, = lib.autograd.grad(out.sum(), x, create_graph=True)
        h, = lib.autograd.grad((g * g).sum(), x)
        return g.detach().numpy(), h.numpy(), g.requires_grad, name(e), name(s)
    f, t = both(prog)
    np.testing.assert_allclose(f[0], t[0], rtol=1e-13)
    np.testing.assert_allclose(f[1], t[1], rtol=1e-13)
    assert f[2:] == t[2:]


@needs_torch
def test_zero_dimensional_outputs_first_and_second_order():
    def prog(lib):
        SumProd = functions(lib, [])[2]
        x = lib.tensor([0.5, -1.5, 2.0], dtype=lib.float64, requires_grad=True)
        s, p = SumProd.apply(x)
        g, = lib.autograd.grad(s * p, x, create_graph=True)
        h, = lib.autograd.grad(g.sum(), x)
        return s.item(), p.item(), g.tolist(), h.tolist(), s.requires_grad
    f, t = both(prog)
    for a, b in zip(f[:4], t[:4]):
        np.testing.assert_allclose(a, b, rtol=1e-13)
    assert f[4] == t[4]


def test_gradcheck_and_gradgradcheck_of_several_outputs():
    MulAdd, ExpSin, SumProd, Sort = functions(fastad, [])
    rng = np.random.default_rng(0)
    x = fastad.tensor(rng.uniform(0.5, 1.5, 4), dtype=fastad.float64, requires_grad=True)
    y = fastad.tensor(rng.uniform(0.5, 1.5, 4), dtype=fastad.float64, requires_grad=True)
    assert fastad.autograd.gradcheck(lambda a, b: MulAdd.apply(a, b)[:2], (x, y))
    assert fastad.autograd.gradgradcheck(lambda a, b: MulAdd.apply(a, b)[:2], (x, y))
    for fn in (ExpSin.apply, SumProd.apply, lambda a: Sort.apply(a)[0]):
        assert fastad.autograd.gradcheck(fn, (x,))
        assert fastad.autograd.gradgradcheck(fn, (x,))


def test_gradgradcheck_catches_a_wrong_second_derivative():
    class Wrong(fastad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 2, x ** 3

        @staticmethod
        def backward(ctx, ga, gb):
            x, = ctx.saved_tensors
            # right values, but x.detach() hides the dependence on x
            return ga * 2 * x + gb * 3 * x.detach() ** 2
    x = fastad.tensor([0.5, 1.5], dtype=fastad.float64, requires_grad=True)
    assert fastad.autograd.gradcheck(Wrong.apply, (x,))
    with pytest.raises(fastad.autograd.GradcheckError):
        fastad.autograd.gradgradcheck(Wrong.apply, (x,))


@needs_torch
def test_several_outputs_of_mixed_dtypes():
    def prog(lib):
        class Split(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2, (x * 3).double()

            @staticmethod
            def backward(ctx, ga, gb):
                return ga * 2 + gb.float() * 3
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        a, b = Split.apply(x)
        (a.sum() + b.sum() * 5).backward()
        return str(a.dtype)[6:], str(b.dtype)[6:], b.tolist(), x.grad.tolist()
    assert prog(fastad) == prog(torch)


@needs_torch
def test_several_outputs_errors():
    from test_errors import same_error

    def wrong_count(lib):
        class Bad(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2, x * 3

            @staticmethod
            def backward(ctx, ga, gb):
                return ga, gb
        a, b = Bad.apply(lib.tensor([1.0], requires_grad=True))
        (a + b).sum().backward()
    same_error(wrong_count, "incorrect number of gradients")

    def twice(lib):
        a, b = functions(lib, [])[1].apply(lib.tensor([1.0], requires_grad=True))
        loss = (a * b).sum()
        loss.backward()
        loss.backward()
    same_error(twice, "second time")


def test_several_outputs_without_grad_do_not_record():
    ExpSin = functions(fastad, [])[1]
    x = fastad.tensor([1.0, 2.0], requires_grad=True)
    with fastad.no_grad():
        e, s = ExpSin.apply(x)
    assert not e.requires_grad and not s.requires_grad and e.grad_fn is None
    e, s = ExpSin.apply(x.detach())
    assert not e.requires_grad and fastad._tensor.graph_of(e) is None


def test_once_differentiable_with_several_outputs():
    class Square(fastad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x, x * 2

        @staticmethod
        @fastad.autograd.once_differentiable
        def backward(ctx, ga, gb):
            x, = ctx.saved_tensors
            return ga * 2 * x + gb * 2
    x = fastad.tensor([0.5, 2.0], dtype=fastad.float64, requires_grad=True)
    a, b = Square.apply(x)
    g, = fastad.autograd.grad((a + b).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), [3.0, 6.0])
    with pytest.raises(RuntimeError, match="once_differentiable"):
        fastad.autograd.grad(g.sum(), x)


# ---------------------------------------------------------------- how apply is called
@needs_torch
def test_setup_context_style():
    def prog(lib):
        seen = []

        class ExpSin(lib.autograd.Function):
            @staticmethod
            def forward(x, scale=2.0):
                return x.exp(), x.sin() * scale

            @staticmethod
            def setup_context(ctx, inputs, output):
                x, scale = inputs
                e, _ = output
                ctx.scale = scale
                ctx.save_for_backward(x, e)

            @staticmethod
            def backward(ctx, ge, gs):
                seen.append(tuple(ctx.needs_input_grad))
                x, e = ctx.saved_tensors
                return ge * e + gs * x.cos() * ctx.scale, None
        x = lib.tensor([0.5, 1.0], dtype=lib.float64, requires_grad=True)
        results = []
        for kwargs in ({}, {"scale": 3.0}):
            e, s = ExpSin.apply(x, **kwargs)
            g, = lib.autograd.grad((e * s).sum(), x, create_graph=True)
            h, = lib.autograd.grad(g.sum(), x)
            results.append((s.tolist(), name(e), g.tolist(), h.tolist()))
        checks = (lib.autograd.gradcheck(ExpSin.apply, (x,)),
                  lib.autograd.gradgradcheck(ExpSin.apply, (x,)))
        return results, seen, checks
    f, t = both(prog)
    np.testing.assert_allclose(np.array([r[2:] for r in f[0]]), np.array([r[2:] for r in t[0]]),
                               rtol=1e-13)
    assert [r[:2] for r in f[0]] == [r[:2] for r in t[0]]
    assert set(f[1]) == set(t[1]) == {(True, False)}
    assert f[2] == t[2] == (True, True)


@needs_torch
def test_apply_with_keyword_arguments():
    def prog(lib):
        seen = []

        class Scale(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, scale=2.0):
                ctx.scale = scale
                return x * scale

            @staticmethod
            def backward(ctx, g):
                seen.append(tuple(ctx.needs_input_grad))
                return g * ctx.scale, None
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        Scale.apply(x, scale=3.0).sum().backward()
        first = x.grad.tolist()
        x.grad = None
        Scale.apply(scale=4.0, x=x).sum().backward()
        return first, x.grad.tolist(), seen
    assert prog(fastad) == prog(torch)


@needs_torch
def test_apply_keyword_errors():
    from test_errors import same_error

    class Scale:
        @staticmethod
        def forward(ctx, x, scale=2.0):
            return x * scale

        @staticmethod
        def backward(ctx, g):
            return g

    def unknown(lib):
        type("S", (lib.autograd.Function,), dict(vars(Scale))).apply(
            lib.tensor([1.0], requires_grad=True), bogus=1)
    same_error(unknown, "unexpected keyword argument 'bogus'")

    def defaults_are_not_inputs(lib, extra):
        # without setup_context, a default is not an input: one gradient
        # expected, and extra ones must be None
        S = type("S", (lib.autograd.Function,), {
            "forward": staticmethod(lambda ctx, x, scale=2.0: x * scale),
            "backward": staticmethod(lambda ctx, g: (g * 2, extra(g)))})
        x = lib.tensor([1.0], requires_grad=True)
        S.apply(x).sum().backward()
        return x.grad.tolist()
    assert defaults_are_not_inputs(fastad, lambda g: None) == [2.0]
    assert defaults_are_not_inputs(torch, lambda g: None) == [2.0]
    same_error(lambda lib: defaults_are_not_inputs(lib, lambda g: g),
               "incorrect number of gradients")


@needs_torch
def test_non_tuple_non_tensor_outputs_pass_through():
    def prog(lib):
        class Listed(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return [x * 2, 3]

        class Number(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return 3.5
        x = lib.tensor([1.0], requires_grad=True)
        r = Listed.apply(x)
        return type(r).__name__, r[0].requires_grad, r[1], Number.apply(x)
    assert prog(fastad) == prog(torch)


# ---------------------------------------------------------------- in place: mark_dirty
def inplace_functions(lib):
    class Double_(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            ctx.save_for_backward(x)
            return x

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * 2 + 0 * x
    return Double_


@needs_torch
def test_mark_dirty():
    def prog(lib):
        Double_ = inplace_functions(lib)
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        a = x * 1
        b = Double_.apply(a)
        same, version, gfn = b is a, a._version, name(a)
        (b * b).sum().backward()
        return same, version, gfn, a.tolist(), x.grad.tolist()
    assert prog(fastad) == prog(torch)


@needs_torch
def test_mark_dirty_differentiated_twice():
    def prog(lib):
        class Square_(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x.clone())
                x.mul_(x)
                ctx.mark_dirty(x)
                return x

            @staticmethod
            def backward(ctx, g):
                x, = ctx.saved_tensors
                return g * 2 * x
        x = lib.tensor([1.0, -2.0], dtype=lib.float64, requires_grad=True)
        y = Square_.apply(x * 1)
        g, = lib.autograd.grad(y.sum(), x, create_graph=True)
        return y.tolist(), g.tolist()
    assert prog(fastad) == prog(torch)


@needs_torch
def test_mark_dirty_errors():
    from test_errors import same_error

    def leaf(lib):
        inplace_functions(lib).apply(lib.tensor([1.0], requires_grad=True))
    same_error(leaf, "leaf Variable that requires grad has been used in an in-place operation")

    def not_returned(lib):
        class D(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                y.add_(1)
                ctx.mark_dirty(y)
                return x * 2
        x = lib.tensor([1.0], requires_grad=True)
        D.apply(x * 1, x * 1)
    same_error(not_returned, "marked as dirty during the forward method were not returned")


def dirty_pair(lib):
    """An in-place Function of two inputs, both marked dirty, with a third, new output."""
    class Both_(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            a.mul_(2)
            b.add_(1)
            ctx.mark_dirty(a, b)
            ctx.save_for_backward(a)
            return a, b, a * b

        @staticmethod
        def backward(ctx, ga, gb, gc):
            a, = ctx.saved_tensors
            return ga * 2 + gc * (a + 1), gb + gc * a
    return Both_


@needs_torch
@pytest.mark.parametrize("create_graph", [False, True])
def test_mark_dirty_with_several_outputs(create_graph):
    def prog(lib):
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        y = lib.tensor([3.0, -4.0], dtype=lib.float64, requires_grad=True)
        a, b = x * 1, y * 1
        oa, ob, oc = dirty_pair(lib).apply(a, b)
        facts = (oa is a, ob is b, a._version, b._version, name(a), name(b), name(oc),
                 a.grad_fn == b.grad_fn, a.tolist(), b.tolist(), oc.tolist())
        loss = (oa * 3 + ob + oc * oc).sum()
        gx, gy = lib.autograd.grad(loss, (x, y), create_graph=create_graph)
        if create_graph:
            (gx * gy).sum().backward()
            return facts, gx.tolist(), gy.tolist(), x.grad.tolist(), y.grad.tolist()
        return facts, gx.tolist(), gy.tolist()
    assert prog(fastad) == prog(torch)


@needs_torch
def test_mark_dirty_with_several_outputs_without_recording():
    def prog(lib):
        y = lib.tensor([3.0, -4.0], requires_grad=True)
        out = []
        for a, b, grad in ((lib.tensor([1.0, 2.0]), y * 1, True),
                           (lib.tensor([1.0, 2.0]), lib.tensor([0.5, 1.0]), True),
                           (lib.tensor([1.0, 2.0]), y * 1, False)):
            with lib.set_grad_enabled(grad):
                oa, ob, oc = dirty_pair(lib).apply(a, b)
            out.append((oa is a, a._version, b._version, oa.requires_grad, name(oa),
                        ob.requires_grad, oc.requires_grad, a.tolist(), b.tolist()))
        return out
    assert prog(fastad) == prog(torch)


@needs_torch
def test_mark_dirty_with_several_outputs_errors():
    from test_errors import same_error

    def leaf(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        dirty_pair(lib).apply(x * 1, x)
    same_error(leaf, "leaf Variable that requires grad has been used in an in-place operation")

    def view(lib):
        base = lib.tensor([1.0, 2.0], requires_grad=True) * 1
        dirty_pair(lib).apply(base[:1], base[1:] * 1)
    same_error(view, "cannot return more than one Tensor")

    def not_returned(lib):
        class D(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                x.mul_(2)
                y.add_(1)
                ctx.mark_dirty(x, y)
                return x, x * y
        x = lib.tensor([1.0], requires_grad=True)
        D.apply(x * 1, x * 1)
    same_error(not_returned, "marked as dirty during the forward method were not returned")
