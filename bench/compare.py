"""Side-by-side timing of fastad, PyTorch and micrograd on W1-W8 and H1-H4.

    python bench/compare.py [--quick] [--threads 1,2] [--only W1,W5]
    python -m fastad bench [same options]
    python -m fastad bench --plot [PNG]   (the chart of the last table, no timing)

Libraries run alternately, round after round, in one process (W7 in fresh
processes), so that the machine's noise falls on all of them alike; the table
gives medians and the ratio of each library's time to fastad's.  Writes
bench/results/latest.md, and bench/results/ratios.png when matplotlib is
installed.
"""
import argparse
import importlib
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from benchmarks import models as M  # noqa: E402
from benchmarks import workloads as W  # noqa: E402

# workload -> (figure, unit, target for fastad: (kind, value)); kinds: "max" absolute,
# "faster" = at least value times faster than torch, "floor" = within value x the floor
TARGETS = {
    "W1": ("us per node", "max", 0.16, "faster", 50.0),
    "W2": ("s per 20,000 steps", "max", 0.2, "faster", 20.0),
    "W3a": ("us per iteration", None, None, "faster", 3.0),
    "W3b": ("us per iteration", None, None, "faster", 3.0),
    "W3c": ("us per iteration", None, None, "faster", 3.0),
    "W4": ("us per step", None, None, "faster", 1.5),
    "W5": ("ms", None, None, "floor", 1.3),
    "W6": ("ms", None, None, "floor", 1.05),
    "W7": ("bytes per node", "max", 64.0, None, None),
    "H1": ("us per Newton step", "max", 20.0, None, None),
    "H2": ("ms per Hessian-vector product", None, None, "faster", 1.3),
    "H3": ("ms per step", None, None, "faster", 1.5),
    "H4": ("ms per Hessian", "max", 0.5, None, None),
    "W8a": ("ms per step", None, None, "faster", 1.0),
    "W8b": ("ms per step", None, None, "faster", 1.5),
    "W8c": ("ms per step", None, None, "faster", 1.5),
    "W8d": ("ms per step", None, None, "faster", 1.0),
}


def load_libs(names):
    libs = {}
    for name in names:
        try:
            if name == "micrograd":
                importlib.import_module("micrograd.engine")
                libs[name] = "micrograd"
            else:
                libs[name] = importlib.import_module(name)
        except ImportError:
            print(f"({name} is not installed: skipped)")
    return libs


def set_threads(libs, n):
    for name, T in libs.items():
        if name != "micrograd":
            T.set_num_threads(n)


def median_of(fn, reps):
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def alternate(libs, make, rounds, reps):
    """{lib: median seconds}: each round runs every library once, in rotating order."""
    states = {name: make(name, T) for name, T in libs.items()}
    samples = {name: [] for name in libs}
    order = list(libs)
    for r in range(rounds):
        for name in order[r % len(order):] + order[:r % len(order)]:
            samples[name].append(median_of(states[name], reps))
    return {name: statistics.median(s) for name, s in samples.items()}


COMPILED = "fastad.compile"


def with_compiled(libs):
    """libs and fastad.compile's column (fastad, its workload's step compiled)."""
    return {**libs, COMPILED: libs["fastad"]}


def compiled(name, T, step):
    """step, through T.compile in fastad.compile's column (traced at its first call)."""
    return T.compile(step) if name == COMPILED else step


def run(args):
    libs = load_libs(["fastad", "torch", "micrograd"])
    if "fastad" not in libs:
        raise SystemExit("fastad is not importable: install it first (pip install .)")
    tensor_libs = {k: v for k, v in libs.items() if k != "micrograd"}
    only = set(args.only.split(",")) if args.only else None
    rounds = 3 if args.quick else 7
    rows = []  # (workload, threads, variant, {lib: value}, unit, note)

    def want(w):
        return only is None or w in only or w[:2] in only

    for threads in [int(t) for t in args.threads.split(",")]:
        set_threads(libs, threads)
        if want("W1"):
            samples = 32
            nodes = W.w1_nodes(samples)
            t = alternate(with_compiled(libs), lambda name, T: (
                lambda st=W.w1_setup(T, samples), step=compiled(name, T, W.w1_step): step(st)),
                          rounds, 3)
            rows.append(("W1", threads, "scalar MLP, 32 samples",
                         {k: v / nodes * 1e6 for k, v in t.items()}, "us per node",
                         f"{nodes} nodes"))
        if want("W2"):
            steps = 2000 if args.quick else 20000
            t = alternate(with_compiled(tensor_libs), lambda name, T: (
                lambda: W.w2_himmelblau(T, steps, name == COMPILED)), max(2, rounds // 2), 1)
            first, eager = W.w2_first_call(libs["fastad"])
            rows.append(("W2", threads, "Himmelblau, Adam",
                         {k: v * 20000 / steps for k, v in t.items()}, "s per 20,000 steps",
                         f"x -> {[round(v, 4) for v in W.w2_himmelblau(libs['fastad'], steps)]}; "
                         f"fastad.compile's first call (the trace) {first / eager:.1f} eager steps"))
        for which in "abc":
            if want("W3" + which):
                t = alternate(tensor_libs, lambda name, T, w=which: (
                    lambda st=W.w3_setup(T): W.w3_step(T, st, w)), rounds, 50)
                rows.append(("W3" + which, threads, "tutorial perceptron",
                             {k: v * 1e6 for k, v in t.items()}, "us per iteration", ""))
        if want("W4"):
            t = alternate(tensor_libs, lambda name, T: (lambda st=W.w4_setup(T): W.w4_step(T, st)),
                          rounds, 20)
            rows.append(("W4", threads, "MLP 784-128-10 SGD step",
                         {k: v * 1e6 for k, v in t.items()}, "us per step", ""))
        if want("W5"):
            bw = W.copy_bandwidth()
            for op in ("sigmoid", "tanh", "relu", "softmax", "log_softmax"):
                t = alternate(tensor_libs, lambda name, T, o=op: (
                    lambda st=W.w5_setup(T, o): W.w5_step(T, st, o)), rounds, 2)
                floor = W.w5_bytes(op) / bw
                vals = {k: v * 1e3 for k, v in t.items()}
                vals["floor"] = floor * 1e3
                rows.append(("W5", threads, op, vals, "ms",
                             f"fastad {W.w5_bytes(op) / t['fastad'] / 1e9:.1f} GB/s, "
                             f"copy {bw / 1e9:.1f} GB/s"))
        if want("W6"):
            t = alternate(tensor_libs, lambda name, T: (lambda st=W.w6_setup(T): W.w6_step(T, st)),
                          rounds, 2)
            gemm_state = W.w6_gemms_setup()
            vals = {k: v * 1e3 for k, v in t.items()}
            vals["floor"] = median_of(lambda: W.w6_gemms(gemm_state), 2 * rounds) * 1e3
            rows.append(("W6", threads, "MLP 1024x3 fwd+bwd", vals, "ms", "floor = numpy GEMMs"))
        if want("H1"):
            # each timed step starts from (0.5, 0.5): the same work every time
            t = alternate(tensor_libs, lambda name, T: (
                lambda: W.h1_newton_step(T, W.h1_setup(T))), rounds, 200)
            rows.append(("H1", threads, "Newton step on Himmelblau, float64",
                         {k: v * 1e6 for k, v in t.items()}, "us per Newton step",
                         f"x -> {[round(v, 6) for v in W.h1_newton(libs['fastad'])]}"))
        if want("H2"):
            t = alternate(tensor_libs, lambda name, T: (
                lambda st=W.h2_setup(T): W.h2_hvp(T, st)), rounds, 10)
            rows.append(("H2", threads, "Hessian-vector product, MLP 784-128-10 tanh, batch 64",
                         {k: v * 1e3 for k, v in t.items()}, "ms per Hessian-vector product",
                         "double backward of cross-entropy"))
        if want("H3"):
            t = alternate(tensor_libs, lambda name, T: (
                lambda st=W.h3_setup(T): W.h3_penalty(T, st)), rounds, 10)
            rows.append(("H3", threads, "gradient penalty, MLP 2-64-64-1 tanh, batch 256",
                         {k: v * 1e3 for k, v in t.items()}, "ms per step",
                         "grads of mean(D(x)) + 10 mean((|dD/dx| - 1)^2)"))
        if want("H4"):
            t = alternate(tensor_libs, lambda name, T: (
                lambda st=W.h4_setup(T): W.h4_hessian(T, st)), rounds, 10)
            rows.append(("H4", threads, "Hessian of sum(tanh(A@x)^2), 32 variables",
                         {k: v * 1e3 for k, v in t.items()}, "ms per Hessian", ""))
        for w, what in M.W8.items():
            if want(w):
                t = alternate(tensor_libs, lambda name, T, w=w: (
                    lambda st=M.w8_setup(T, w): M.w8_step(T, st)), rounds, 5)
                rows.append((w, threads, what, {k: v * 1e3 for k, v in t.items()},
                             "ms per step", ""))
    if want("W7"):
        vals, note = {}, []
        for name in libs:
            retained, build, back = W.w7_chain(name)
            vals[name] = retained
            note.append(f"{name}: build {build:.0f} ns, backward {back:.1f} ns per node")
        rows.append(("W7", 1, "chain of scalar ops", vals, "bytes per node", "; ".join(note)))
    return rows, libs


def verdict(w, vals):
    unit, kind, limit, rkind, ratio = TARGETS.get(w if w in TARGETS else w[:2])
    checks = []
    ours = vals["fastad"]
    if kind == "max":
        checks.append(ours <= limit)
    if rkind == "faster" and "torch" in vals:
        checks.append(vals["torch"] / ours >= ratio)
    if rkind == "floor":
        checks.append(ours <= ratio * vals["floor"])
    return "PASS" if all(checks) and checks else ("FAIL" if checks else "-")


def table(rows, libs):
    cols = ["fastad"] + [k for k in (COMPILED, "torch", "micrograd")
                         if k in libs or any(k in vals for *_, vals, _, _ in rows)]
    head = ("| workload | threads | what | unit | " + " | ".join(cols) + " | floor | "
            + " | ".join(f"{c}/fastad" for c in cols[1:]) + " | target | note |")
    lines = [head, "|" + " --- |" * (head.count("|") - 1)]
    for w, threads, what, vals, unit, note in rows:
        cells = [f"{vals[c]:.4g}" if c in vals else "-" for c in cols]
        ratios = [f"{vals[c] / vals['fastad']:.1f}x" if c in vals else "-" for c in cols[1:]]
        floor = f"{vals['floor']:.4g}" if "floor" in vals else "-"
        lines.append(f"| {w} | {threads} | {what} | {unit} | " + " | ".join(cells)
                     + f" | {floor} | " + " | ".join(ratios) + f" | {verdict(w, vals)} | {note} |")
    return "\n".join(lines)


def read_table(path):
    """The rows of a table that table() wrote, as run() returns them."""
    lines = Path(path).read_text().splitlines()
    head = next(line for line in lines if line.startswith("| workload"))
    cols = [c.strip() for c in head.strip("|").split("|")]
    rows = []
    for line in (line for line in lines if line.startswith(("| W", "| H"))):
        cells = dict(zip(cols, (c.strip() for c in line.strip("|").split("|"))))
        vals = {k: float(cells[k]) for k in ("fastad", COMPILED, "torch", "micrograd", "floor")
                if cells.get(k, "-") != "-"}
        rows.append((cells["workload"], int(cells["threads"]), cells["what"], vals, cells["unit"],
                     cells["note"]))
    return rows


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    labels = [f"{w} {what} ({t}t)" for w, t, what, vals, _, _ in rows if "torch" in vals]
    ratios = [vals["torch"] / vals["fastad"] for _, _, _, vals, _, _ in rows if "torch" in vals]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(labels) + 1))
    bars = ax.barh(labels, ratios, color=["tab:blue" if r >= 1 else "tab:red" for r in ratios])
    ax.bar_label(bars, fmt="%.1fx", padding=2, fontsize=8)
    ax.axvline(1, color="0.5", lw=0.8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlim(right=max(ratios) * 2.5)
    ax.set_xlabel("PyTorch / fastad: time (W7: bytes per node); higher is better for fastad")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bench/compare.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and W2 steps")
    parser.add_argument("--threads", default="1", help="comma-separated thread counts")
    parser.add_argument("--only", help="comma-separated workloads, e.g. W1,W3a,W5")
    parser.add_argument("--out", default=str(HERE / "results" / "latest.md"))
    parser.add_argument("--plot", nargs="?", const=str(HERE / "results" / "ratios.png"),
                        metavar="PNG", help="only draw the chart of the table in --out into PNG")
    args = parser.parse_args(argv)
    if args.plot:
        if not plot(read_table(args.out), args.plot):
            print("--plot needs matplotlib: pip install matplotlib", file=sys.stderr)
            return 2
        print(f"wrote {args.plot} from {args.out}")
        return 0
    rows, libs = run(args)
    versions = ", ".join(f"{k} {getattr(v, '__version__', '')}".strip() for k, v in libs.items()
                         if k != "micrograd") + (", micrograd" if "micrograd" in libs else "")
    text = (f"# fastad side by side\n\n{platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores, Python {platform.python_version()}; {versions}; "
            f"{'quick' if args.quick else 'full'} run, medians of alternating rounds.\n\n"
            + table(rows, libs) + "\n")
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    if plot(rows, out.with_name("ratios.png")):
        print(f"wrote {out} and {out.with_name('ratios.png')}")
    else:
        print(f"wrote {out} (no plot: matplotlib is not installed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
