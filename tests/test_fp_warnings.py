"""PyTorch computes in IEEE arithmetic without a word: an overflow gives inf, 0/0
gives nan, and nothing is printed.  fastad computes with numpy, which warns;
these tests check that no numpy RuntimeWarning reaches the user, from any op of
the registry or from the compiled core's numpy calls made on the user's behalf
(attributed to the user's own line), while the values stay IEEE's."""
import json
import subprocess
import sys
import textwrap

# Each check runs in a fresh interpreter that imports fastad at top level, as a
# program does: pytest runs every test (and its own collection) inside
# warnings.catch_warnings, which drops filters installed meanwhile, fastad's too.
_PRELUDE = """
import json, re, sys, warnings
import numpy as np
import fastad
from fastad import ops
NUMPY_FP = re.compile(r"(overflow|invalid value|divide by zero|underflow) encountered in")

def numpy_warnings(run):
    with warnings.catch_warnings(record=True) as caught:
        run()
    return [f"{w.message} ({w.filename}:{w.lineno})" for w in caught
            if issubclass(w.category, RuntimeWarning) and NUMPY_FP.search(str(w.message))]
"""


def _run(body):
    out = subprocess.run([sys.executable, "-c", _PRELUDE + textwrap.dedent(body)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_no_registry_op_warns_at_extreme_values():
    leaks = _run("""
        def forward_backward(fn, inputs):
            try:
                out = fn(*inputs)
                if isinstance(out, (tuple, list)):
                    out = out[0]
                if out.requires_grad:
                    out.sum().backward()
            except (RuntimeError, ValueError, IndexError):
                pass        # an op refusing the value is its own test's business

        leaks, ran = {}, 0
        for value in (1e30, -1e30, 0.0):
            for op in ops.OPS:
                if op.sampler is not None or op.missing():
                    continue
                fn, inputs = op.instantiate(op.cases[0], np.random.default_rng(0),
                                            dtype=np.float32)
                with fastad.no_grad():
                    for t in inputs:
                        t.fill_(value)
                found = numpy_warnings(lambda: forward_backward(fn, inputs))
                if found:
                    leaks[f"{op.name} at {value}"] = found
                ran += 1
        print(json.dumps([ran, leaks]))
    """)
    ran, found = leaks
    assert ran > 900 and found == {}


def test_the_users_own_line_gets_no_warning_and_ieee_values():
    assert _run("""
        x = fastad.full((4,), 1e30, requires_grad=True)
        values = []

        def run():
            big = x * x                                   # overflow: inf
            nan = (big - big).sum()                       # inf - inf: nan
            q = x / fastad.zeros(4)                       # division by zero: inf
            values.extend([np.isinf(big.detach().numpy()).all(), np.isnan(nan.item()),
                           np.isinf((x @ x).item()), np.isinf(q.detach().numpy()).all()])
            (big.mean() + q.sum()).backward()
            values.append(np.isinf(x.grad.numpy()).all())
        print(json.dumps([numpy_warnings(run), [bool(v) for v in values]]))
    """) == [[], [True] * 5]


def test_numpy_warnings_of_the_users_own_code_still_show():
    assert len(_run("""
        print(json.dumps(numpy_warnings(lambda: np.float32(1e30) * np.float32(1e30))))
    """)) == 1
