"""examples/make_figures.py writes valid PNGs, and its optimisers reach Himmelblau's minima."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import fastad

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "make_figures.py"
MINIMA = [(3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)]


def png_size(path):
    """(width, height) from a PNG's IHDR chunk; fails on anything else."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_make_figures_writes_pngs(tmp_path):
    pytest.importorskip("matplotlib")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(Path(fastad.__file__).resolve().parent.parent), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True,
                          text=True, timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    names = ["activations.png", "himmelblau.png", "bench_ratios.png"]
    try:
        import graphviz  # noqa: F401
        if shutil.which("dot"):
            names.append("mlp_graph.png")
    except ImportError:
        pass
    for name in names:
        w, h = png_size(tmp_path / name)
        assert w > 200 and h > 200 and (tmp_path / name).stat().st_size < 300_000
    finals = re.findall(r"^(.*): .* -> \((-?\d+\.\d+), (-?\d+\.\d+)\)$", proc.stdout, re.M)
    assert len(finals) == 6 + 6 + 8
    for _, x, y in finals:
        assert min(abs(float(x) - a) + abs(float(y) - b) for a, b in MINIMA) < 1e-5
    # every minimum is reached by each method: gradient descent, Adam, Newton's
    for method in {m for m, _, _ in finals}:
        assert len({(round(float(x), 3), round(float(y), 3)) for m, x, y in finals
                    if m == method}) == 4, method
