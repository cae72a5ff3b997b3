"""The checker itself: it must catch a wrong gradient, a wrong shape and a missing one."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest

import fastad as T
from fastad.autograd import Function, GradcheckError, gradcheck, gradgradcheck
from fastad.ops import OPS


def x64(*shape, seed=0):
    return T.tensor(np.random.default_rng(seed).uniform(-1, 1, shape), requires_grad=True)


class Square(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return 2 * x * g


class WrongSquare(Square):
    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return 3 * x * g          # wrong factor


class WrongShape(Square):
    @staticmethod
    def backward(ctx, g):
        return (2 * g).sum(0)     # drops a dimension


class MissingGrad(Function):
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(y)
        return x * y

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g * y, None        # y matters, but gets no gradient


def test_correct_function_passes():
    assert gradcheck(Square.apply, (x64(3, 2),))


def test_wrong_gradient_is_caught_and_named():
    with pytest.raises(GradcheckError, match=r"input 0 at element \d+.*analytical.*numerical"):
        gradcheck(WrongSquare.apply, (x64(3, 2),))
    assert gradcheck(WrongSquare.apply, (x64(3, 2),), raise_exception=False) is False


def test_wrong_shape_is_caught():
    with pytest.raises(GradcheckError):
        gradcheck(WrongShape.apply, (x64(3, 2),))


def test_missing_gradient_is_caught():
    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(MissingGrad.apply, (x64(4), x64(4, seed=1)))


def test_report_gives_worst_errors_per_input():
    report = gradcheck(lambda a, b: (a * b).sin(), (x64(3), x64(3, seed=2)), return_report=True)
    assert [r["input"] for r in report] == [0, 1]
    for r in report:
        assert 0 <= r["max_abs_error"] < 1e-6 and 0 <= r["max_rel_error"] < 1e-4


def test_scalar_inputs_are_perturbed_in_place():
    a = T.tensor(0.7, dtype=T.float64, requires_grad=True)
    assert gradcheck(lambda t: (t * t).exp(), (a,))
    assert a.item() == 0.7


def test_float32_inputs_warn():
    x = T.tensor([0.5, 1.0], requires_grad=True)
    with pytest.warns(UserWarning, match="not a double precision"):
        gradcheck(lambda t: t * 2, (x,), raise_exception=False)


def test_needs_an_input_requiring_grad():
    with pytest.raises(ValueError):
        gradcheck(lambda t: t * 2, (T.tensor([1.0], dtype=T.float64),))


def test_gradgradcheck_differentiates_a_function_backward():
    assert gradgradcheck(Square.apply, (x64(2),))
    assert not gradgradcheck(WrongSquare.apply, (x64(2),), raise_exception=False)


@pytest.mark.parametrize("op", OPS, ids=[op.name for op in OPS])
def test_every_registered_op_passes_gradcheck(op):
    assert not op.missing(), f"{op.name}: fastad lacks {op.missing()}"
    rng = np.random.default_rng(1)
    for c in op.cases:
        fn, inputs = op.instantiate(c, rng)
        assert gradcheck(fn, inputs), c


def test_report_when_failing_without_raising():
    report = gradcheck(WrongSquare.apply, (x64(3),), raise_exception=False, return_report=True)
    assert report[0]["passed"] is False and report[0]["max_abs_error"] > 0.1
    with pytest.raises(GradcheckError) as info:
        gradcheck(WrongSquare.apply, (x64(3),))
    assert info.value.report[0]["passed"] is False


def test_wrong_gradient_of_second_output_is_caught():
    with pytest.raises(GradcheckError, match=r"output 1, element \d+"):
        gradcheck(lambda t: (t * 2, WrongSquare.apply(t)), (x64(3),))
    assert gradcheck(lambda t: (t * 2, Square.apply(t), t.detach() > 0), (x64(3),))


def test_check_command_passes_every_op(monkeypatch):
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(T.__file__)))
    out = subprocess.run([sys.executable, "-m", "fastad", "check"], capture_output=True,
                         text=True, timeout=120, cwd=tempfile.gettempdir(), env=env)
    failing = {line.split()[0] for line in out.stdout.splitlines() if "FAIL" in line
               or "MISSING" in line}
    assert not failing, out.stdout[-3000:] + out.stderr[-2000:]
    assert out.returncode == 0
    summary = out.stdout.strip().splitlines()[-1]
    assert " missing (" in summary and " failed, " in summary


def test_check_command_exit_status(monkeypatch, capsys):
    from fastad import __main__ as cli
    from fastad import ops
    good = ops.OpInfo("good", lambda lib, a: Square.apply(a), (ops.case((3,)),))
    broken = ops.OpInfo("broken", lambda lib, a: WrongSquare.apply(a), (ops.case((3,)),))
    absent = ops.OpInfo("F.not_there", ops._F("not_there"), (ops.case((3,)),),
                        api=("F.not_there",))
    monkeypatch.setattr(ops, "OPS", [good])
    assert cli.check([]) == 0
    monkeypatch.setattr(ops, "OPS", [good, broken])
    assert cli.check([]) == 1
    monkeypatch.setattr(ops, "OPS", [good, absent])
    assert cli.check([]) == 1
    out = capsys.readouterr().out
    assert "MISSING: F.not_there" in out and "1 missing" in out
    assert cli.check(["--op", "nope"]) == 2


def test_bench_and_usage(capsys):
    from fastad import __main__ as cli
    assert cli.main([]) == 0
    assert "python -m fastad check" in capsys.readouterr().out
    assert cli.main(["frobnicate"]) == 2
