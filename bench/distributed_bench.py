"""Data-parallel scaling of fastad.distributed on this machine.

    python bench/distributed_bench.py [--ranks 1,2,4] [--steps 30] [--bucket-cap-mb 25]
    (pip install ".[mpi]")

Starts one MPI job per rank count (ranks beyond the cores are oversubscribed
and reported so) and prints, for an MLP 784-512-512-10 trained with
DistributedDataParallel (batch 256 per rank, SGD, one kernel thread per rank):

- step: median time of a training step (forward, backward, all-reduce, SGD);
- local: the same step without gradient averaging (inside no_sync());
- allreduce: the gradients' all-reduce alone (every bucket of the DDP reducer,
  same sizes and path, nothing else running);
- exposed: the time a step spends waiting for the all-reduces at the end of
  backward (the part not hidden behind it), on the rank that waited least (the
  others also wait for the ranks still in backward);
- overlap: the share of the all-reduce hidden behind backward,
  1 - exposed / allreduce;
- throughput: samples per second over all ranks, and its ratio to one rank.

Then a 25 MB float32 bucket all-reduced by fastad (all_reduce of a Tensor,
and the reducer's Iallreduce path) against mpi4py's own Allreduce on a numpy
buffer of the same size, with the bus bandwidth 2(p-1)/p * n / t.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

BATCH = 256
MB25 = 25 * 1024 * 1024


def _median_time(fn, reps, barrier):
    """Median seconds of fn, each run started together on every rank."""
    times = []
    for _ in range(reps):
        barrier()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _timing_waits(dist, total):
    """dist._allreduce whose requests add the seconds spent in wait() to total[0]."""
    launch = dist._allreduce

    def timed(*args, **kwargs):
        work = launch(*args, **kwargs)
        if work is None:    # a blocking call
            return work
        wait = work.wait

        def timed_wait(timeout=None):
            t0 = time.perf_counter()
            try:
                return wait(timeout)
            finally:
                total[0] += time.perf_counter() - t0
        work.wait = timed_wait
        return work
    return timed


def worker(steps, bucket_cap_mb):
    import fastad
    import fastad.distributed as dist
    from fastad import nn

    fastad.set_num_threads(1)
    dist.init_process_group("mpi")   # before mpi4py.MPI is imported: it sets MPI's options
    from mpi4py import MPI
    rank, world = dist.get_rank(), dist.get_world_size()
    fastad.manual_seed(rank)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10))
    ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=bucket_cap_mb)
    waited = [0.0]
    dist._allreduce = _timing_waits(dist, waited)
    opt = fastad.optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)
    x = fastad.randn(BATCH, 784)
    y = fastad.randint(0, 10, (BATCH,))

    def step():
        opt.zero_grad()
        nn.functional.cross_entropy(ddp(x), y).backward()
        opt.step()

    def local_step():
        with ddp.no_sync():
            step()

    def bucket_allreduce():
        works = [dist._allreduce(dist._default(), b.flat, dist.ReduceOp.SUM, True)
                 for b in ddp._buckets]
        for w in works:
            w.wait()

    for _ in range(3):
        step()
        local_step()
    # alternate the three measurements so a slow phase of the machine hits them alike
    t_step, t_local, t_ar, t_exposed = [], [], [], []
    for _ in range(steps):
        waited[0] = 0.0
        t_step.append(_median_time(step, 1, dist.barrier))
        t_exposed.append(waited[0])
        t_local.append(_median_time(local_step, 1, dist.barrier))
        t_ar.append(_median_time(bucket_allreduce, 1, dist.barrier))
    # every rank's median, the slowest one counts (the ranks wait for each other);
    # but the wait at the end of backward is the least any rank waited: a rank that
    # finished backward first also waits for the others (their skew), the last one
    # only for the communication not yet done
    mine = np.array([np.median(t_step), np.median(t_local), np.median(t_ar),
                     -np.median(t_exposed)])
    slowest = np.empty_like(mine)
    MPI.COMM_WORLD.Allreduce(mine, slowest, op=MPI.MAX)
    slowest[3] = -slowest[3]

    # a 25 MB bucket: fastad's tensor all_reduce, the reducer's path, raw mpi4py on numpy
    n = MB25 // 4
    t = fastad.zeros(n)
    arr = np.zeros(n, dtype=np.float32)
    comm = MPI.COMM_WORLD
    calls = {"fastad all_reduce": lambda: dist.all_reduce(t),
             "fastad bucket Iallreduce":
                 lambda: dist._allreduce(dist._default(), arr, dist.ReduceOp.SUM, True).wait(),
             "mpi4py Allreduce": lambda: comm.Allreduce(MPI.IN_PLACE, arr)}
    times = {name: [] for name in calls}
    for name, fn in calls.items():
        fn()
    for _ in range(15):   # in turns, as above
        for name, fn in calls.items():
            times[name].append(_median_time(fn, 1, dist.barrier))
    local = np.array([np.median(times[name]) for name in calls])
    worst = np.empty_like(local)
    comm.Allreduce(local, worst, op=MPI.MAX)
    bucket = dict(zip(calls, worst.tolist()))
    if rank == 0:
        print(json.dumps(dict(ranks=world, step=slowest[0], local=slowest[1],
                              allreduce=slowest[2], exposed=slowest[3],
                              buckets=len(ddp._buckets),
                              grad_bytes=int(sum(b.flat.nbytes for b in ddp._buckets)),
                              bucket=bucket)))
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ranks", default="1,2,4")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--bucket-cap-mb", type=float, default=25.0)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args.steps, args.bucket_cap_mb)
    mpiexec = (shutil.which("mpiexec", path=os.path.dirname(sys.executable))
               or shutil.which("mpiexec"))
    if mpiexec is None:
        sys.exit('no mpiexec: pip install "fastad[mpi]"')
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    cores = os.cpu_count()
    rows = []
    for p in [int(r) for r in args.ranks.split(",")]:
        # within the cores Open MPI binds each rank to a core; oversubscribed it binds none
        # (unbound ranks at 2 on 2 cores: the gradients' all-reduce 12-16 ms instead of 0.6)
        extra = ["--oversubscribe"] if p > cores else []
        out = subprocess.run([mpiexec, *extra, "-n", str(p), sys.executable,
                              os.path.abspath(__file__), "--worker", "--steps", str(args.steps),
                              "--bucket-cap-mb", str(args.bucket_cap_mb)],
                             env=env, capture_output=True, text=True, timeout=900)
        if out.returncode != 0:
            sys.exit(out.stderr[-3000:])
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = rows[0]["ranks"] * BATCH / rows[0]["step"]
    print(f"MLP 784-512-512-10, batch {BATCH} per rank, SGD, 1 thread per rank, {cores} cores; "
          f"gradients {rows[0]['grad_bytes'] / 1e6:.2f} MB in {rows[0]['buckets']} bucket(s) "
          f"(bucket_cap_mb {args.bucket_cap_mb:g})")
    print("| ranks | step ms | local step ms | all-reduce ms | exposed ms | overlap | samples/s "
          "| vs 1 rank |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        p = r["ranks"]
        overlap = f"{max(0.0, 1 - r['exposed'] / r['allreduce']):.0%}" if p > 1 else "-"
        thr = p * BATCH / r["step"]
        note = " (oversubscribed)" if p > cores else ""
        print(f"| {p}{note} | {1e3 * r['step']:.2f} | {1e3 * r['local']:.2f} | "
              f"{1e3 * r['allreduce']:.3f} | {1e3 * r['exposed']:.3f} | {overlap} | {thr:,.0f} | "
              f"{thr / base:.2f}x |")
    print()
    print("25 MB float32 bucket all-reduce (median of 15, in turns):")
    print("| ranks | fastad all_reduce ms | reducer Iallreduce ms | mpi4py Allreduce ms | "
          "fastad / mpi4py | bus GB/s (mpi4py) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        p, b = r["ranks"], r["bucket"]
        raw = b["mpi4py Allreduce"]
        bus = 2 * (p - 1) / p * MB25 / raw / 1e9
        print(f"| {p} | {1e3 * b['fastad all_reduce']:.2f} | "
              f"{1e3 * b['fastad bucket Iallreduce']:.2f} | {1e3 * raw:.2f} | "
              f"{b['fastad all_reduce'] / raw:.2f}x | {bus:.1f} |")


if __name__ == "__main__":
    main()
