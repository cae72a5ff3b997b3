"""Every example runs; where PyTorch is installed, the same program prints the
same numbers with torch (the examples read FASTAD_EXAMPLE_LIB)."""
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

import fastad

# make_figures.py writes the docs' pictures: tests/test_figures.py runs it
EXAMPLES = sorted(p for p in (Path(__file__).resolve().parent.parent / "examples").glob("*.py")
                  if p.name != "make_figures.py")
# programs without random draws: their output must match PyTorch's number for number
DETERMINISTIC = {"activations.py", "chain_rule.py", "losses_grad.py", "softmax_jacobian.py",
                 "himmelblau.py", "perceptron.py"}
PLOT = os.path.join(tempfile.gettempdir(), f"fastad-example-{os.getpid()}.png")
NUMBER = re.compile(r"-?\d+\.\d+(?:e[-+]\d+)?")


def run(path, lib):
    env = dict(os.environ, FASTAD_EXAMPLE_LIB=lib,
               FASTAD_EXAMPLE_OUT=PLOT)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(fastad.__file__)), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                          timeout=120, env=env, cwd=tempfile.gettempdir())
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(path):
    out = run(path, "fastad")
    assert out.strip()
    if path.name == "himmelblau.py":
        final = out.strip().splitlines()[-1]
        x0, x1, f = map(float, NUMBER.findall(final))
        assert abs(x0 - 3) < 1e-4 and abs(x1 - 2) < 1e-4 and f < 1e-8
    if path.name == "ddp_mlp.py":
        assert float(out.split("accuracy")[-1].split()[0]) > 0.9
    if path.name == "mlp.py":
        assert float(out.strip().split()[-1]) > 0.95
    if path.name == "activations.py":
        assert "sigmoid    f(1) = 0.731059   f'(1) = 0.196612" in out
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            assert "no plot" in out
        else:
            assert "saved the plot" in out and os.path.getsize(PLOT) > 1000
            os.remove(PLOT)
    if path.name == "chain_rule.py":
        values = dict(line.split(" = ") for line in out.strip().splitlines())
        assert float(values["dy2/dw1"]) == pytest.approx(float(values["dy2/dy1 * dy1/dw1"]))
    if path.name == "softmax_jacobian.py":
        assert float(out.strip().split()[-1]) < 1e-12
    if path.name == "losses_grad.py":
        lines = [line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith(
            ("d ", "2 ", "(softmax"))]
        for a, b in (lines[0:2], lines[2:4]):
            np.testing.assert_allclose(eval(a), eval(b), rtol=1e-12)
    if path.name == "perceptron.py":
        assert "predictions [0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0]" in out
        assert "predictions [0, 1, 1, 2, 0, 2, 1, 1]" in out


@pytest.mark.parametrize("path", [p for p in EXAMPLES if p.name in DETERMINISTIC],
                         ids=[p.name for p in EXAMPLES if p.name in DETERMINISTIC])
def test_example_prints_what_pytorch_prints(path):
    pytest.importorskip("torch")
    ours = [float(v) for v in NUMBER.findall(run(path, "fastad"))]
    theirs = [float(v) for v in NUMBER.findall(run(path, "torch"))]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a == pytest.approx(b, rel=1e-5, abs=1e-6)
