"""Public PyTorch programs (tests/programs/, written from the tutorials and
repositories each names), run unchanged with fastad and with torch in one
process: both print the same text, and the same numbers to float32 tolerance
(the seeded random draws included: fastad follows PyTorch's generator)."""
import contextlib
import io
import re
import runpy
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

PROGRAMS = sorted((Path(__file__).resolve().parent / "programs").glob("*.py"))
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
# what a program prints that differs by name only: PyTorch's grad_fn of its fused kernels
RENAMED = [(re.compile(r"grad_fn=<MkldnnRnnLayerBackward0>"), "grad_fn=<SliceBackward0>")]


def run(path, lib):
    """The program's standard output under lib ("fastad" or "torch")."""
    out = io.StringIO()
    argv = sys.argv
    sys.argv = [str(path), lib]
    try:
        with contextlib.redirect_stdout(out), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            runpy.run_path(str(path), run_name="__main__")
    finally:
        sys.argv = argv
    return out.getvalue()


def split(text):
    """(the text with each number replaced by #, whitespace runs made one
    space; the numbers).  Objects' addresses are not compared."""
    text = re.sub(r" at 0x[0-9a-f]+>", " at 0x>", text)
    for pattern, name in RENAMED:
        text = pattern.sub(name, text)
    numbers = [float(n) for n in NUMBER.findall(text)]
    return " ".join(NUMBER.sub("#", text).split()), np.array(numbers)


def test_programs_are_here():
    assert len(PROGRAMS) >= 8


@pytest.mark.parametrize("path", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_program_prints_what_pytorch_prints(path):
    pytest.importorskip("torch")
    mine, theirs = split(run(path, "fastad")), split(run(path, "torch"))
    assert mine[0] == theirs[0]
    np.testing.assert_allclose(mine[1], theirs[1], rtol=2e-4, atol=1e-5)
