"""Every error of the contract raises the same exception class as PyTorch."""
import numpy as np
import pytest

import fastad
import fastad.autograd
from conftest import needs_torch, optional_torch

torch = optional_torch()


def same_error(prog, match=None):
    """prog(lib) raises in torch; fastad raises the same class (and, when
    given, a message matching `match` in both)."""
    with pytest.raises(Exception) as te:
        prog(torch)
    with pytest.raises(type(te.value)) as fe:
        prog(fastad)
    assert type(fe.value) is type(te.value), (fe.value, te.value)
    if match:
        import re
        assert re.search(match, str(te.value)), str(te.value)
        assert re.search(match, str(fe.value)), str(fe.value)
    return fe.value, te.value


# ---------------------------------------------------------------- graph errors
@needs_torch
@pytest.mark.parametrize("kind", ["scalar", "array", "matmul", "mixed"])
def test_second_backward_through_freed_graph(kind):
    def prog(lib):
        if kind == "scalar":
            x = lib.tensor(2.0, requires_grad=True)
            y = x * x
        elif kind == "array":
            x = lib.tensor([1.0, 2.0], requires_grad=True)
            y = x.exp().sum()
        elif kind == "matmul":
            x = lib.ones(2, 2, requires_grad=True)
            y = (x @ x).sum()
        else:
            x = lib.tensor([1.0, 2.0], requires_grad=True)
            y = (x * x).sum() * x[0]
        y.backward()
        y.backward()
    same_error(prog, "second time")


@needs_torch
def test_autograd_grad_then_backward_freed():
    def prog(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (x.sigmoid() * x).sum()
        lib.autograd.grad(y, x)
        y.backward()
    same_error(prog, "second time")


@needs_torch
def test_grad_of_tensor_not_requiring_grad():
    same_error(lambda lib: lib.tensor([1.0, 2.0]).sum().backward(), "does not require grad")

    def prog(lib):
        x = lib.tensor([1.0], requires_grad=True)
        return lib.autograd.grad((x * 2).sum(), lib.tensor([1.0]))
    same_error(prog, "does not require grad")

    def prog2(lib):
        x = lib.tensor([1.0], requires_grad=True)
        with lib.no_grad():
            y = (x * 2).sum()
        y.backward()
    same_error(prog2, "does not require grad")


@needs_torch
def test_unused_input_without_allow_unused():
    def prog(lib):
        a = lib.tensor([1.0], requires_grad=True)
        b = lib.tensor([1.0], requires_grad=True)
        return lib.autograd.grad((a * 2).sum(), [a, b])
    same_error(prog, "allow_unused")


@needs_torch
def test_implicit_gradient_for_non_scalar():
    def prog(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        (x * 2).backward()
    same_error(prog, "implicitly created only for scalar outputs")

    def prog2(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        lib.autograd.grad(x * 2, x)
    same_error(prog2, "implicitly created only for scalar outputs")


@needs_torch
def test_gradient_shape_mismatch():
    def prog(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        (x * 2).backward(lib.tensor([1.0, 2.0, 3.0]))
    same_error(prog, "Mismatch in shape")


@needs_torch
@pytest.mark.parametrize("op", ["exp", "mul", "sigmoid", "pow", "div", "matmul"])
def test_saved_tensor_modified_in_place(op):
    def prog(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        h = x * 1.0
        if op == "exp":
            y = h.exp()
            y += 1          # exp saves its output
        elif op == "mul":
            y = h * x
            h += 1          # mul saves both inputs
        elif op == "sigmoid":
            y = h.sigmoid()
            y *= 2
        elif op == "pow":
            y = h ** 2
            h.mul_(3)
        elif op == "div":
            y = x / h
            h /= 2
        else:
            y = h @ h
            h -= 1
        y.sum().backward()
    same_error(prog, "modified by an inplace operation")


@needs_torch
def test_saved_tensor_modified_through_detach():
    def prog(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x.exp()
        y.detach().zero_()
        y.sum().backward()
    same_error(prog, "modified by an inplace operation")


@needs_torch
def test_modification_not_saved_is_fine():
    for lib in (fastad, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        h = x * 2
        y = h + 1   # add saves nothing
        h += 5
        y.sum().backward()
        assert x.grad.tolist() == [2.0, 2.0]


@needs_torch
@pytest.mark.parametrize("op", ["+=", "mul_", "zero_", "setitem", "fill_"])
def test_inplace_on_leaf_requiring_grad(op):
    def prog(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        if op == "+=":
            x += 1
        elif op == "mul_":
            x.mul_(2)
        elif op == "zero_":
            x.zero_()
        elif op == "fill_":
            x.fill_(1.0)
        else:
            x[0] = 3.0
    same_error(prog, "leaf Variable that requires grad")


@needs_torch
def test_inplace_on_scalar_leaf_requiring_grad():
    def prog(lib):
        x = lib.tensor(1.0, requires_grad=True)
        x -= 1
    same_error(prog, "leaf Variable that requires grad")


@needs_torch
def test_requires_grad_on_int_tensor():
    same_error(lambda lib: lib.tensor([1, 2], requires_grad=True), "floating point")
    same_error(lambda lib: lib.tensor([1, 2]).requires_grad_(), "floating point")
    same_error(lambda lib: lib.zeros(2, dtype=lib.int64, requires_grad=True), "floating point")

    def prog(lib):
        t = lib.tensor([True])
        t.requires_grad = True
    same_error(prog, "floating point")


@needs_torch
def test_requires_grad_false_on_non_leaf():
    def prog(lib):
        x = lib.tensor([1.0], requires_grad=True)
        (x * 2).requires_grad_(False)
    same_error(prog, "leaf variables")


@needs_torch
def test_numpy_of_tensor_requiring_grad():
    same_error(lambda lib: lib.tensor([1.0], requires_grad=True).numpy(), "detach")


# ---------------------------------------------------------------- shapes
@needs_torch
def test_bad_broadcast_names_both_shapes():
    f, t = same_error(lambda lib: lib.ones(2, 3) + lib.ones(4))
    assert "[2, 3]" in str(f) and "[4]" in str(f)
    assert str(t) in str(f)
    same_error(lambda lib: lib.ones(2, 3) * lib.ones(3, 2))
    same_error(lambda lib: lib.ones(2, 3) ** lib.ones(2))
    same_error(lambda lib: lib.ones(2, 3) == lib.ones(2))


@needs_torch
def test_bad_matmul_names_both_shapes():
    f, t = same_error(lambda lib: lib.ones(2, 3) @ lib.ones(4, 5))
    assert "2x3" in str(f) and "4x5" in str(f), str(f)
    for sa, sb in [((3,), (4,)), ((2, 3), (4,)), ((3,), (4, 5)), ((5, 2, 3), (4, 2)),
                   ((2, 2, 3), (3, 3, 4))]:
        fe, te = same_error(lambda lib: lib.ones(*sa) @ lib.ones(*sb))
        for n in set(sa + sb):
            assert str(n) in str(fe), (sa, sb, str(fe))
    same_error(lambda lib: lib.ones(3) @ lib.tensor(2.0))


@needs_torch
def test_dim_out_of_range():
    for prog in [lambda lib: lib.ones(2, 3).sum(2), lambda lib: lib.ones(2, 3).mean(-3),
                 lambda lib: lib.ones(2, 3).max(5), lambda lib: lib.ones(2, 3).argmax(2),
                 lambda lib: lib.ones(2, 3).transpose(0, 2), lambda lib: lib.ones(2, 3).unsqueeze(3),
                 lambda lib: lib.ones(2, 3).squeeze(2), lambda lib: lib.cat([lib.ones(2)], 1),
                 lambda lib: lib.stack([lib.ones(2)], 2), lambda lib: lib.ones(2, 3).size(2),
                 lambda lib: lib.softmax(lib.ones(2, 3), 2), lambda lib: lib.ones(2).flatten(0, 1),
                 lambda lib: lib.ones(2, 3).permute(0, 2)]:
        same_error(prog, "out of range")


@needs_torch
def test_shape_errors():
    same_error(lambda lib: lib.ones(2, 3).reshape(4, 2))
    same_error(lambda lib: lib.ones(2, 3).view(7))
    same_error(lambda lib: lib.ones(2, 3).t().view(6), "view size is not compatible")
    same_error(lambda lib: lib.ones(2, 3, 4).t())
    same_error(lambda lib: lib.cat([lib.ones(2, 3), lib.ones(2, 4)]))
    same_error(lambda lib: lib.stack([lib.ones(2), lib.ones(3)]))
    same_error(lambda lib: lib.ones(3, 1).expand(2, 4))
    same_error(lambda lib: lib.ones(2, 3)[2])
    same_error(lambda lib: lib.ones(3)[lib.tensor([0, 5])])
    same_error(lambda lib: lib.ones(3)[lib.tensor([0.0])])
    same_error(lambda lib: lib.ones(2).item())
    same_error(lambda lib: bool(lib.ones(2)))
    same_error(lambda lib: len(lib.tensor(1.0)))
    same_error(lambda lib: lib.tensor([True]) - lib.tensor([False]))
    same_error(lambda lib: lib.ones(2) - True)
    same_error(lambda lib: lib.tensor([1, 2]) ** -1, "negative integer powers")
    same_error(lambda lib: lib.ones(2, 2) @ lib.ones(2, 2, dtype=lib.float64), "same dtype")


# ---------------------------------------------------------------- tensor()
@needs_torch
@pytest.mark.parametrize("data", [[[1, 2], [3]], [[1.0], [2.0, 3.0]], [1, [2]], [[1, 2], 3]])
def test_ragged_data(data):
    same_error(lambda lib: lib.tensor(data))


@needs_torch
@pytest.mark.parametrize("data", [["a", "b"], "abc", [1, "x"], {"a": 1}, [None], object(),
                                  [1.0, None], ["a", 1]])
def test_non_numeric_data(data):
    same_error(lambda lib: lib.tensor(data))


@needs_torch
def test_inplace_promotion_error():
    def prog(lib):
        x = lib.tensor([1, 2])
        x += 1.5
    same_error(prog, "can't be cast")


@needs_torch
def test_grad_assignment_errors():
    def prog(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        x.grad = lib.tensor([1.0])
    same_error(prog)


@needs_torch
def test_custom_function_wrong_number_of_grads():
    def prog(lib):
        class Bad(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                return x * y

            @staticmethod
            def backward(ctx, g):
                return g
        x = lib.tensor([1.0], requires_grad=True)
        Bad.apply(x, x).sum().backward()
    same_error(prog, "incorrect number of gradients")


def test_cross_thread_graph_usable_after_errors():
    # after every error above the thread's graph still works
    x = fastad.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError):
        (x * 2).backward()
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
