"""Anomaly mode: PyTorch's error for a backward that gives nan, the warning
showing the forward call, and the switches (context managers, decorators)."""
import math
import warnings

import numpy as np
import pytest

import fastad
from fastad import autograd

NAN_MSG = "Function '{}' returned nan values in its {}th output."


@pytest.fixture(autouse=True)
def _anomaly_off():
    yield
    fastad.set_anomaly_enabled(False)


def _backward_error(y):
    """(the RuntimeError's message, the warnings' messages) of y.backward()."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError) as err:
            y.backward()
    assert type(err.value) is RuntimeError
    return str(err.value), [str(w.message) for w in caught if w.category is UserWarning]


def _line_of(text):
    with open(__file__) as f:
        for n, line in enumerate(f, 1):
            if text in line:
                return n
    raise AssertionError(text)


def test_array_op_nan_names_the_op_and_shows_the_forward_line():
    x = fastad.tensor([0.0, 1.0], requires_grad=True)
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        mode = autograd.detect_anomaly()
    with mode:
        y = (x.sqrt() * 0).sum()     # the forward line
        msg, warned = _backward_error(y)
    assert msg == NAN_MSG.format("SqrtBackward0", 0)
    assert len(warned) == 1
    head, _, stack = warned[0].partition("\n")
    assert head == "Error detected in SqrtBackward0. Traceback of forward call that caused the error:"
    assert f'File "{__file__}", line {_line_of("# the forward line")}, in ' \
           "test_array_op_nan_names_the_op_and_shows_the_forward_line" in stack
    assert "y = (x.sqrt() * 0).sum()     # the forward line" in stack


def test_scalar_tape_op_nan():
    x = fastad.tensor(0.0, requires_grad=True)
    with autograd.set_detect_anomaly(True):
        y = x.sqrt() * 0             # a 0-d graph: inline tape records
        msg, warned = _backward_error(y)
    assert msg == NAN_MSG.format("SqrtBackward0", 0)
    assert f"line {_line_of('# a 0-d graph')}," in warned[0]


def test_the_output_index_is_the_input_position():
    a = fastad.tensor(1.0)
    b = fastad.tensor(0.0, requires_grad=True)
    with autograd.set_detect_anomaly(True):
        y = a / b * 0                # DivBackward0's gradient for b: -0 * 1 / 0 = nan
        msg, _ = _backward_error(y)
    assert msg == NAN_MSG.format("DivBackward0", 1)


def test_custom_function_returning_nan():
    class Bad(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * math.nan

    x = fastad.ones(3, requires_grad=True)
    with autograd.set_detect_anomaly(True):
        y = Bad.apply(x).sum()
        msg, warned = _backward_error(y)
    assert msg == NAN_MSG.format("BadBackward", 0)
    assert "y = Bad.apply(x).sum()" in warned[0]


def test_off_returns_the_nan_gradient_as_pytorch_does():
    assert not fastad.is_anomaly_enabled()
    x = fastad.tensor(0.0, requires_grad=True)
    (x.sqrt() * 0).backward()
    assert math.isnan(x.grad.item())
    xs = fastad.tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(invalid="ignore"):
        (xs.sqrt() * 0).sum().backward()
    assert math.isnan(xs.grad[0].item())


def test_check_nan_false_keeps_the_traces_without_raising():
    x = fastad.tensor(0.0, requires_grad=True)
    with autograd.set_detect_anomaly(True, check_nan=False):
        assert fastad.is_anomaly_enabled() and not fastad.is_anomaly_check_nan_enabled()
        (x.sqrt() * 0).backward()
    assert math.isnan(x.grad.item())


def test_an_error_that_is_not_nan_also_shows_the_forward_call():
    x = fastad.ones(3, requires_grad=True)
    with autograd.set_detect_anomaly(True):
        y = x.exp()
        z = (y * y).sum()
        y.add_(1)            # an in-place change of a saved tensor
        msg, warned = _backward_error(z)
    assert "modified by an inplace operation" in msg
    assert warned[0].startswith("Error detected in MulBackward0. Traceback of forward call")
    assert "z = (y * y).sum()" in warned[0]


def test_forward_outside_the_mode_says_so():
    x = fastad.tensor(0.0, requires_grad=True)
    y = x.sqrt() * 0
    with autograd.set_detect_anomaly(True):
        msg, warned = _backward_error(y)
    assert msg == NAN_MSG.format("SqrtBackward0", 0)
    assert warned == ["Error detected in SqrtBackward0. No forward pass information available. "
                      "Enable detect anomaly during forward pass for more information."]


def test_decorator_forms():
    @autograd.set_detect_anomaly(True)
    def run(x):
        assert fastad.is_anomaly_enabled()
        (x.sqrt() * 0).backward()

    assert not fastad.is_anomaly_enabled()
    with pytest.raises(RuntimeError, match="returned nan values"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run(fastad.tensor(0.0, requires_grad=True))
    assert not fastad.is_anomaly_enabled()

    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        @autograd.detect_anomaly(check_nan=False)
        def quiet(x):
            assert fastad.is_anomaly_enabled() and not fastad.is_anomaly_check_nan_enabled()
            (x.sqrt() * 0).backward()
            return x.grad
    assert math.isnan(quiet(fastad.tensor(0.0, requires_grad=True)).item())
    assert not fastad.is_anomaly_enabled() and fastad.is_anomaly_check_nan_enabled()


def test_nested_set_detect_anomaly_puts_back_the_outer_state():
    autograd.set_detect_anomaly(True)          # called: switches at once
    assert fastad.is_anomaly_enabled()
    with autograd.set_detect_anomaly(False):
        assert not fastad.is_anomaly_enabled()
        with autograd.set_detect_anomaly(True, check_nan=False):
            assert fastad.is_anomaly_enabled() and not fastad.is_anomaly_check_nan_enabled()
        assert not fastad.is_anomaly_enabled() and fastad.is_anomaly_check_nan_enabled()
    assert fastad.is_anomaly_enabled()
    autograd.set_detect_anomaly(False)
    assert not fastad.is_anomaly_enabled()


def test_create_graph_backward_is_checked_too():
    x = fastad.tensor(0.0, requires_grad=True)
    with autograd.set_detect_anomaly(True):
        y = x.sqrt() * 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(RuntimeError) as err:
                autograd.grad(y, x, create_graph=True)
    assert str(err.value) == NAN_MSG.format("SqrtBackward0", 0)


def test_gradients_unchanged_while_on():
    x = fastad.tensor([0.5, 2.0], requires_grad=True)
    s = fastad.tensor(1.5, requires_grad=True)
    with autograd.set_detect_anomaly(True):
        ((x * s).tanh().sum() * s ** 2).backward()
    gx, gs = x.grad.numpy().copy(), s.grad.item()
    x.grad = s.grad = None
    ((x * s).tanh().sum() * s ** 2).backward()
    np.testing.assert_array_equal(gx, x.grad.numpy())
    assert gs == s.grad.item()


def _second_backward_warnings(lib):
    """The warnings of a nan in the backward of a record that a create_graph
    backward made (sqrt's derivative divides by 2 * sqrt(0) = 0)."""
    x = lib.tensor([0.0, 1.0], requires_grad=True)
    y = x.sqrt()                                   # the first forward
    g, = lib.autograd.grad(y.sum(), x, create_graph=True)   # the derivative's forward
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError) as err:
            (g * 0).sum().backward()
    return str(err.value), [str(w.message) for w in caught if w.category is UserWarning]


def test_a_create_graph_records_warning_names_the_backward_that_made_it():
    with autograd.set_detect_anomaly(True):
        msg, warned = _second_backward_warnings(fastad)
    assert msg == NAN_MSG.format("DivBackward0", 1)
    assert len(warned) == 2, warned
    head, _, stack = warned[0].partition("\n")
    assert head == "Error detected in DivBackward0. Traceback of forward call that caused the error:"
    assert f"line {_line_of('# the derivative' + chr(39) + 's forward')}, in _second_backward" in stack
    head, _, stack = warned[1].partition(":\n")
    assert head == ("\n\nPrevious calculation was induced by SqrtBackward0. Traceback of forward "
                    "call that induced the previous calculation")
    assert f"line {_line_of('# the first forward')}, in _second_backward" in stack
    assert "# the derivative" not in stack


def test_a_create_graph_records_chain_without_a_traced_first_forward():
    x = fastad.tensor([0.0, 1.0], requires_grad=True)
    y = x.sqrt()
    with autograd.set_detect_anomaly(True):
        g, = autograd.grad(y.sum(), x, create_graph=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(RuntimeError):
                (g * 0).sum().backward()
    warned = [str(w.message) for w in caught if w.category is UserWarning]
    assert [w.partition(".")[0] for w in warned] == ["Error detected in DivBackward0",
                                                     "Error detected in SqrtBackward0"]
    assert warned[1].endswith("No forward pass information available. Enable detect anomaly "
                              "during forward pass for more information.")


def test_create_graph_chain_as_torch():
    torch = pytest.importorskip("torch")
    heads = []
    for lib, mode in ((torch, torch.autograd.detect_anomaly), (fastad, autograd.detect_anomaly)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with mode():
                msg, warned = _second_backward_warnings(lib)
        heads.append((msg, [w.partition(":\n")[0] for w in warned]))
    assert heads[0] == heads[1]


@pytest.mark.parametrize("program", ["array", "scalar", "div"])
def test_same_message_as_torch(program):
    torch = pytest.importorskip("torch")

    def run(lib):
        x = lib.tensor([0.0, 1.0] if program == "array" else 0.0, requires_grad=True)
        if program == "div":
            y = lib.tensor(1.0) / x * 0
        else:
            y = x.sqrt() * 0
        y = y.sum()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(RuntimeError) as err:
                y.backward()
        warned = [str(w.message) for w in caught if str(w.message).startswith("Error detected")]
        return str(err.value), warned[0].split("\n")[0]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.autograd.detect_anomaly():
            theirs = run(torch)
        with autograd.detect_anomaly():
            ours = run(fastad)
    assert ours == theirs
