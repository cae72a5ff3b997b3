"""Can a parallel sweep across independent scalar records beat the serial one?

Builds W1 wide (3-16-16-1 tanh MLP of 0-d tensors, 1,024 samples), exports its
tape, and times the engine-style serial push sweep against a level-scheduled
pull sweep (no atomics, bitwise reproducible) at 1 and 2 threads, including
what the parallel sweep must build first (levels, consumer lists).
Run: python bench/prototypes/measure_levels.py
"""
import os
import random
import sys
import time

import numpy as np
import pyximport

pyximport.install(setup_args={"include_dirs": np.get_include()}, language_level=3,
                  build_in_temp=True, inplace=False)
os.environ.setdefault("CFLAGS", "-O3 -fopenmp")
os.environ.setdefault("LDFLAGS", "-fopenmp")
sys.path.insert(0, os.path.dirname(__file__))
import level_sweep as P  # noqa: E402

import fastad as T  # noqa: E402
from fastad._tensor import graph_of  # noqa: E402


def wide_w1(samples=1024):
    random.seed(0)
    sizes, n = [16, 16, 1], 3
    layers = []
    for s in sizes:
        layers.append([([T.tensor(random.uniform(-1, 1), requires_grad=True) for _ in range(n)],
                        T.tensor(0.0, requires_grad=True)) for _ in range(s)])
        n = s
    loss = T.tensor(0.0)
    for _ in range(samples):
        x = [T.tensor(random.uniform(-1, 1)) for _ in range(3)]
        for li, layer in enumerate(layers):
            out = []
            for w, b in layer:
                act = b
                for wi, xi in zip(w, x):
                    act = act + wi * xi
                out.append(act.tanh() if li < len(layers) - 1 else act)
            x = out
        d = x[0] - 1.0
        loss = loss + d * d
    return loss


def median_time(f, reps=9):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return sorted(ts)[reps // 2]


def main():
    loss = wide_w1()
    rec = graph_of(loss).records()
    n = len(rec["op"])
    in0, in1, d0, d1 = rec["in0"], rec["in1"], rec["d0"], rec["d1"]
    seed = np.zeros(n)
    seed[-1] = 1.0

    def serial():
        adj = seed.copy()
        P.serial_sweep(in0, in1, d0, d1, adj)
        return adj
    t_serial = median_time(serial)
    t_levels = median_time(lambda: P.build_levels(in0, in1))
    t_csr = median_time(lambda: P.build_consumers(in0, in1, d0, d1))
    order, start = P.build_levels(in0, in1)
    ptr, cons, part = P.build_consumers(in0, in1, d0, d1)
    ref = serial()
    rows = [("records", n, ""), ("levels", len(start) - 1, "")]
    rows.append(("serial push sweep", f"{t_serial / n * 1e9:.2f} ns/record", "the engine's"))
    rows.append(("build levels", f"{t_levels / n * 1e9:.2f} ns/record", "once per graph"))
    rows.append(("build consumer lists", f"{t_csr / n * 1e9:.2f} ns/record", "once per graph"))
    for threads in (1, 2):
        def par():
            adj = seed.copy()
            P.level_sweep(order, start, ptr, cons, part, adj, threads)
            return adj
        t = median_time(par)
        got = par()
        same = np.array_equal(got, par())
        close = np.allclose(got, ref, rtol=1e-9, atol=1e-12)
        rows.append((f"level pull sweep, {threads} thread(s)", f"{t / n * 1e9:.2f} ns/record",
                     f"reproducible={same}, matches serial={close}; per level "
                     f"{t / (len(start) - 1) * 1e6:.2f} us"))
    for r in rows:
        print(f"{r[0]:<36} {r[1]!s:<22} {r[2]}")


if __name__ == "__main__":
    main()
