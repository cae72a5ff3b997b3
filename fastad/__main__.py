"""python -m fastad check | bench"""
import argparse
import importlib.util
import sys
import time
import warnings
from pathlib import Path

import numpy as np

USAGE = """usage: python -m fastad check [--dtype float64] [--op NAME]
       python -m fastad bench [options of bench/compare.py]

check  gradient-checks every differentiable op in fastad.ops.OPS against
       central finite differences and prints one row per op and shape case
bench  times fastad next to PyTorch and micrograd (where installed)"""


def check(argv):
    from fastad.gradcheck import gradcheck
    from fastad.ops import OPS

    parser = argparse.ArgumentParser(prog="python -m fastad check")
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument("--op", action="append", help="only this op (repeatable)")
    args = parser.parse_args(argv)
    ops = [op for op in OPS if not args.op or op.name in args.op]
    if args.op and len(ops) != len(set(args.op)):
        known = {op.name for op in OPS}
        print(f"unknown op(s): {sorted(set(args.op) - known)}", file=sys.stderr)
        return 2
    dtype = np.float64 if args.dtype == "float64" else np.float32
    # float32 differences need a larger step and looser tolerances
    tol = dict(eps=1e-6, atol=1e-5, rtol=1e-3) if dtype == np.float64 else \
        dict(eps=1e-2, atol=1e-2, rtol=5e-2)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    print(f"{'op':<40} {'shapes':<34} {'max abs err':>11} {'max rel err':>11}  status")
    failed = missing = rows = 0
    for op in ops:
        absent = op.missing()
        if absent:
            print(f"{op.name:<40} {'-':<34} {'-':>11} {'-':>11}  MISSING: "
                  f"{', '.join(absent)} not provided by fastad")
            missing += 1
            rows += 1
            continue
        for c in op.cases:
            status, abs_err, rel_err = "PASS", 0.0, 0.0
            try:
                fn, inputs = op.instantiate(c, rng, dtype=dtype)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    report = gradcheck(fn, inputs, return_report=True, raise_exception=True,
                                       **tol)
                abs_err = max(r["max_abs_error"] for r in report)
                rel_err = max(r["max_rel_error"] for r in report)
            except Exception as e:  # noqa: BLE001 - every failure is a row of the table
                rep = getattr(e, "report", None) or []
                abs_err = max((r["max_abs_error"] for r in rep), default=float("nan"))
                rel_err = max((r["max_rel_error"] for r in rep), default=float("nan"))
                status = f"FAIL: {type(e).__name__}: {' '.join(str(e).split())[:300]}"
                failed += 1
            rows += 1
            print(f"{op.name:<40} {c.label():<34} {abs_err:>11.2e} {rel_err:>11.2e}  {status}")
    elapsed = time.perf_counter() - t0
    print(f"\n{rows - failed - missing} passed, {failed} failed, {missing} missing "
          f"({len(ops)} ops, {rows} cases, {args.dtype}, {elapsed:.1f} s)")
    return 1 if failed or missing else 0


def bench(argv):
    path = Path(__file__).resolve().parent.parent / "bench" / "compare.py"
    if not path.exists():
        print("The benchmark suite lives in the source repository (bench/compare.py); "
              "run this from a checkout.", file=sys.stderr)
        return 2
    spec = importlib.util.spec_from_file_location("fastad_bench_compare", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    spec.loader.exec_module(module)
    return module.main(argv) or 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    commands = {"check": check, "bench": bench}
    if argv[0] not in commands:
        print(USAGE, file=sys.stderr)
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
