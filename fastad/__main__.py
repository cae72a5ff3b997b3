"""python -m fastad check | bench"""
import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

USAGE = """usage: python -m fastad check [--dtype float64] [--op NAME]
       python -m fastad bench [options of bench/compare.py]

check  gradient-checks every differentiable op in fastad.ops.OPS against
       central finite differences and prints one row per op and shape case
bench  times fastad next to PyTorch and micrograd (where installed)"""


def check(argv):
    import fastad as T
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
    print(f"{'op':<36} {'shapes':<28} {'max abs err':>12} {'max rel err':>12}  status")
    failed = 0
    rows = 0
    for op in ops:
        for shapes in op.shapes:
            arrays = op.draw(rng, shapes, dtype)
            inputs = [T.tensor(a, requires_grad=True) for a in arrays]
            status, abs_err, rel_err = "PASS", 0.0, 0.0
            try:
                import warnings
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    report = gradcheck(op.fn, inputs, return_report=True, raise_exception=True,
                                       **tol)
                abs_err = max(r["max_abs_error"] for r in report)
                rel_err = max(r["max_rel_error"] for r in report)
            except Exception as e:  # noqa: BLE001 - every failure is a row of the table
                status = f"FAIL: {type(e).__name__}: {str(e).splitlines()[0][:120]}"
                failed += 1
            rows += 1
            shape_txt = " ".join("x".join(map(str, s)) or "()" for s in shapes)
            print(f"{op.name:<36} {shape_txt:<28} {abs_err:>12.2e} {rel_err:>12.2e}  {status}")
    elapsed = time.perf_counter() - t0
    print(f"\n{rows - failed} passed, {failed} failed ({len(ops)} ops, {rows} cases, "
          f"{args.dtype}, {elapsed:.1f} s)")
    return 1 if failed else 0


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
        return 0 if argv else 2
    commands = {"check": check, "bench": bench}
    if argv[0] not in commands:
        print(USAGE, file=sys.stderr)
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
