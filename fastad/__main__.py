"""python -m fastad check | bench"""
import argparse
import fnmatch
import importlib.util
import json
import sys
import time
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from fastad.gradcheck import gradcheck, gradgradcheck

USAGE = """usage: python -m fastad check [--dtype float64] [--order 1|2] [--op GLOB] [--json PATH]
                           [--junit-xml PATH]
       python -m fastad bench [options of bench/compare.py]

check  gradient-checks every differentiable op in fastad.ops.OPS against
       central finite differences and prints one row per op and shape case
       (a progress bar on a terminal) and the worst relative error per op
bench  times fastad next to PyTorch and micrograd (where installed)"""


def _select(ops, patterns):
    """The ops matching any glob, in registry order, or the patterns matching none."""
    if not patterns:
        return ops, []
    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(op.name, p) for op in ops)]
    return [op for op in ops if any(fnmatch.fnmatchcase(op.name, p) for p in patterns)], unmatched


def _run_case(op, c, rng, dtype, tol, order=1):
    """One row: (status, max abs error, max rel error, message)."""
    try:
        fn, inputs = op.instantiate(c, rng, dtype=dtype)
        check_fn = gradcheck if order == 1 else gradgradcheck
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = check_fn(fn, inputs, return_report=True, raise_exception=True, **tol)
        return ("pass", max(r["max_abs_error"] for r in report),
                max(r["max_rel_error"] for r in report), "")
    except Exception as e:  # noqa: BLE001 - every failure is a row of the table
        rep = getattr(e, "report", None) or []
        return ("fail", max((r["max_abs_error"] for r in rep), default=float("nan")),
                max((r["max_rel_error"] for r in rep), default=float("nan")),
                f"{type(e).__name__}: {' '.join(str(e).split())[:300]}")


class _Progress:
    """A bar redrawn under the table on a terminal; nothing otherwise."""

    def __init__(self, out, total):
        self.out, self.total, self.done, self.failed = out, total, 0, 0
        self.live = out.isatty()

    def row(self, line):
        if self.live:
            self.out.write("\r\033[K")
        print(line, file=self.out)

    def advance(self, name, failed):
        self.done += 1
        self.failed += failed
        if self.live:
            filled = 30 * self.done // max(self.total, 1)
            self.out.write(f"\r\033[K[{'#' * filled}{'.' * (30 - filled)}] "
                           f"{self.done}/{self.total} cases, {self.failed} failed  {name}")
            self.out.flush()

    def close(self):
        if self.live:
            self.out.write("\r\033[K")


def _num(x):
    return None if x != x else float(x)    # JSON has no NaN


def _write_json(path, rows, worst, meta):
    report = dict(meta, cases=[dict(op=op, shapes=shapes, status=status, max_abs_error=_num(a),
                                    max_rel_error=_num(r), message=msg)
                               for op, shapes, status, a, r, msg in rows],
                  ops=[dict(op=op, status=status, worst_rel_error=_num(r))
                       for op, (r, status) in worst.items()])
    Path(path).write_text(json.dumps(report, indent=1) + "\n")


def _write_junit(path, rows, elapsed):
    failures = sum(1 for row in rows if row[2] != "pass")
    suite = ET.Element("testsuite", name="fastad.check", tests=str(len(rows)),
                       failures=str(failures), errors="0", skipped="0", time=f"{elapsed:.3f}")
    for op, shapes, status, abs_err, rel_err, msg in rows:
        case = ET.SubElement(suite, "testcase", classname=f"fastad.check.{op}", name=shapes)
        if status != "pass":
            ET.SubElement(case, "failure", type=status, message=msg).text = (
                f"max abs err {abs_err:.3e}, max rel err {rel_err:.3e}: {msg}")
    root = ET.Element("testsuites")
    root.append(suite)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def check(argv, out=None):
    from fastad import ops as registry

    out = sys.stdout if out is None else out
    parser = argparse.ArgumentParser(prog="python -m fastad check")
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument("--op", action="append", metavar="GLOB",
                        help="only the ops whose name matches GLOB, e.g. 'nn.*' (repeatable)")
    parser.add_argument("--order", type=int, default=1, choices=[1, 2],
                        help="2: check second derivatives (gradgradcheck: finite differences "
                             "of the recorded backward)")
    parser.add_argument("--json", metavar="PATH", help="also write a JSON report to PATH")
    parser.add_argument("--junit-xml", metavar="PATH", help="also write a JUnit XML report to PATH")
    args = parser.parse_args(argv)
    ops, unmatched = _select(registry.OPS, args.op)
    if unmatched:
        print(f"unknown op(s): {sorted(unmatched)}", file=sys.stderr)
        return 2
    dtype = np.float64 if args.dtype == "float64" else np.float32
    # float32 differences need a larger step and looser tolerances
    tol = dict(eps=1e-6, atol=1e-5, rtol=1e-3) if dtype == np.float64 else \
        dict(eps=1e-2, atol=1e-2, rtol=5e-2)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    progress = _Progress(out, sum(1 if op.missing() else len(op.cases) for op in ops))
    progress.row(f"{'op':<40} {'shapes':<34} {'max abs err':>11} {'max rel err':>11}  status")
    rows = []
    for op in ops:
        absent = op.missing()
        if absent:
            msg = f"{', '.join(absent)} not provided by fastad"
            rows.append((op.name, "-", "missing", float("nan"), float("nan"), msg))
            progress.row(f"{op.name:<40} {'-':<34} {'-':>11} {'-':>11}  MISSING: {msg}")
            progress.advance(op.name, True)
            continue
        for c in op.cases:
            status, abs_err, rel_err, msg = _run_case(op, c, rng, dtype, tol, args.order)
            rows.append((op.name, c.label(), status, abs_err, rel_err, msg))
            progress.row(f"{op.name:<40} {c.label():<34} {abs_err:>11.2e} {rel_err:>11.2e}  "
                         + ("PASS" if status == "pass" else f"FAIL: {msg}"))
            progress.advance(op.name, status != "pass")
    progress.close()
    elapsed = time.perf_counter() - t0
    # op -> (its worst relative error, its status): nan (no report) counts as worst
    worst = {}
    for op, _, status, _, rel_err, _ in rows:
        prev_err, prev_status = worst.get(op, (-1.0, "pass"))
        err = rel_err if rel_err == rel_err else float("inf")
        worst[op] = (max(prev_err, err), prev_status if status == "pass" else status)
    ranked = sorted(worst.items(), key=lambda kv: -kv[1][0])
    shown = [kv for i, kv in enumerate(ranked) if i < 10 or kv[1][1] != "pass"]
    print(f"\nworst relative error per op ({len(shown)} of {len(worst)}, worst first"
          + (f"; all in {args.json}" if args.json else "") + "):", file=out)
    for op, (err, status) in shown:
        print(f"  {op:<40} {err:>11.2e}  {status}", file=out)
    failed = sum(1 for row in rows if row[2] == "fail")
    missing = sum(1 for row in rows if row[2] == "missing")
    meta = dict(dtype=args.dtype, order=args.order, elapsed_s=round(elapsed, 3), ops_checked=len(ops),
                cases_checked=len(rows), passed=len(rows) - failed - missing, failed=failed,
                missing=missing)
    if args.json:
        _write_json(args.json, rows, worst, meta)
    if args.junit_xml:
        _write_junit(args.junit_xml, rows, elapsed)
    print(f"\n{len(rows) - failed - missing} passed, {failed} failed, {missing} missing "
          f"({len(ops)} ops, {len(rows)} cases, {args.dtype}, order {args.order}, "
          f"{elapsed:.1f} s)", file=out)
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
