"""Lifetime, memory, threads and processes: each check runs where it can fail."""
import gc
import multiprocessing
import os
import subprocess
import sys
import tempfile
import textwrap
import threading

import numpy as np
import pytest

import fastad as T


def run_py(code, timeout=120):
    """Runs code in a fresh interpreter; returns its stdout (asserting exit 0)."""
    # from a neutral directory (a repository root would shadow an installed fastad),
    # importing the fastad this test process imported
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(T.__file__))] + env.get("PYTHONPATH", "").split(os.pathsep))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, cwd=tempfile.gettempdir(), env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# sanitizer builds hold freed memory in quarantine: RSS says nothing there
needs_plain_rss = pytest.mark.skipif(
    not os.path.exists("/proc/self/status") or os.environ.get("FASTAD_SANITIZE") == "1",
    reason="needs /proc and a build without sanitizers")

RSS = """
def rss_kb():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS'):
                return int(line.split()[1])
"""


@needs_plain_rss
def test_training_loop_runs_in_flat_memory_without_the_gc():
    out = run_py(RSS + """
import gc
gc.disable()
import fastad as T
x = T.tensor([0., 0.], requires_grad=True)
W = T.randn(8, 4, requires_grad=True)
kept = []
for i in range(60001):
    f = (x[0]**2 + x[1] - 11)**2 + (x[0] + x[1]**2 - 7)**2
    h = (T.randn(3, 8) @ W).tanh().sum() + f
    h.backward()
    with T.no_grad():
        x -= 1e-3 * x.grad
        W -= 1e-3 * W.grad
    x.grad = None
    W.grad.zero_()
    if i % 100 == 0:
        kept.append(f)          # keeping old losses alive must not keep their graphs
    if i == 10000:
        base = rss_kb()
print(rss_kb() - base)
""")
    growth_kb = int(out.strip())
    assert growth_kb < 5 * 1024, f"RSS grew by {growth_kb} kB over 50,000 steps"


@needs_plain_rss
def test_graph_dropped_without_backward_is_freed():
    out = run_py(RSS + """
import gc
gc.disable()
import fastad as T
a = T.tensor(1.0, requires_grad=True)
for rep in range(3):
    y = a
    for i in range(300000):
        y = y * 1.0000001 + a
    if rep == 0:
        base = rss_kb()
    del y                      # never differentiated
print(rss_kb() - base)
""")
    assert int(out.strip()) < 4 * 1024


@needs_plain_rss
def test_tape_memory_per_scalar_node_is_small():
    out = run_py(RSS + """
import fastad as T
a = T.tensor(0.999999, requires_grad=True)
y = a
base = rss_kb()
for i in range(1000000):
    y = y * a
print((rss_kb() - base) * 1024 / 1e6)
y.backward()
""")
    assert float(out.strip()) <= 64.0


def _train_alone(seed, steps=3000):
    rng = np.random.default_rng(seed)
    w = T.tensor(rng.standard_normal((4, 3)), dtype=T.float64, requires_grad=True)
    s = T.tensor(float(seed), requires_grad=True)
    x = T.tensor(rng.standard_normal((5, 4)))
    for _ in range(steps):
        loss = ((x.double() @ w).tanh() * s).sum() + s * s
        loss.backward()
        with T.no_grad():
            w -= 0.01 * w.grad
            s -= 0.01 * s.grad
        w.grad = None
        s.grad = None
    return w.detach().numpy().copy(), s.item()


def test_two_threads_get_exactly_what_they_get_alone():
    alone = [_train_alone(1), _train_alone(2)]
    results = {}
    threads = [threading.Thread(target=lambda k=k: results.__setitem__(k, _train_alone(k)))
               for k in (1, 2)]
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)   # interleave the two threads as much as possible
    try:
        [t.start() for t in threads]
        [t.join() for t in threads]
    finally:
        sys.setswitchinterval(old)
    for k in (1, 2):
        np.testing.assert_array_equal(results[k][0], alone[k - 1][0])
        assert results[k][1] == alone[k - 1][1]


def test_no_grad_is_per_thread():
    seen = {}
    inside = threading.Event()
    done = threading.Event()

    def other():
        inside.wait()
        x = T.tensor(1.0, requires_grad=True)
        seen["other"] = (x * 2).requires_grad
        done.set()

    t = threading.Thread(target=other)
    t.start()
    with T.no_grad():
        inside.set()
        done.wait()
        x = T.tensor(1.0, requires_grad=True)
        seen["main"] = (x * 2).requires_grad
    t.join()
    assert seen == {"other": True, "main": False}


def test_big_backward_in_one_thread_while_another_records():
    stop = threading.Event()
    errors = []

    def recorder():
        try:
            a = T.tensor(1.0, requires_grad=True)
            while not stop.is_set():
                y = a
                for _ in range(2000):
                    y = y * 1.0001
                y.backward()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    t = threading.Thread(target=recorder)
    t.start()
    try:
        for _ in range(5):
            b = T.tensor(0.5, requires_grad=True)
            y = b
            for _ in range(200000):
                y = y * 1.000001 + b
            y.backward()
            assert np.isfinite(b.grad.item())
    finally:
        stop.set()
        t.join()
    assert not errors


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_child_can_use_fastad_after_parent_used_threads():
    out = run_py("""
import os, sys
import fastad as T
T.set_num_threads(2)
x = T.randn(1 << 20, requires_grad=True)
x.sigmoid().sum().backward()          # large enough to start the OpenMP pool
pid = os.fork()
if pid == 0:
    y = T.randn(1 << 20, requires_grad=True)
    y.sigmoid().sum().backward()
    s = y.detach().sigmoid()
    ok = abs(y.grad.sum().item() - (s * (1 - s)).sum().item()) < 1.0
    os._exit(0 if ok else 3)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
""", timeout=60)
    assert out.strip() == "0"


def _spawn_child(q):
    import fastad as T2
    x = T2.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    q.put(x.grad.tolist())


def test_works_under_multiprocessing_spawn():
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_spawn_child, args=(q,))
    p.start()
    got = q.get(timeout=60)
    p.join(timeout=60)
    assert p.exitcode == 0
    assert got == [2.0, 4.0]


def test_absurd_size_raises_promptly():
    with pytest.raises((MemoryError, RuntimeError)):
        T.zeros(10 ** 12)
    with pytest.raises((MemoryError, RuntimeError)):
        T.ones(10 ** 6, 10 ** 6)


def test_no_thread_pool_at_import():
    out = run_py("""
import os
before = len(os.listdir('/proc/self/task'))
import fastad
after = len(os.listdir('/proc/self/task'))
print(after - before)
""")
    # numpy's BLAS may start its own threads at import; fastad must add none:
    base = run_py("""
import os
before = len(os.listdir('/proc/self/task'))
import numpy
print(len(os.listdir('/proc/self/task')) - before)
""")
    assert int(out.strip()) <= int(base.strip())


def test_mlp_gradients_are_bitwise_identical_at_one_and_two_threads():
    # linear layers run on numpy's OpenBLAS (called directly for bias + GEMM),
    # relu and cross_entropy on fastad's kernels, split from 4096 elements on here
    import fastad.nn as nn
    n_threads = T.get_num_threads()
    threshold = T._kernels._set_parallel_threshold(4096)
    # 784 inputs: a GEMM inner dimension numpy's OpenBLAS rounds differently on
    # 2 threads (bench/prototypes/blas_threads_bitwise.py); batch 64: x transposed
    # first; batch 512: the GEMMs split over fastad's threads; the hidden layer's
    # two backward GEMMs at batch 256 and 512: one on each thread at once
    grads = {}
    shapes = ((256, 300, 256), (64, 784, 128), (512, 784, 1024))
    try:
        for batch, d_in, d_hidden in shapes:
            for threads in (1, 2):
                T.set_num_threads(threads)
                T.manual_seed(0)
                model = nn.Sequential(nn.Linear(d_in, d_hidden), nn.ReLU(),
                                      nn.Linear(d_hidden, d_hidden), nn.Tanh(),
                                      nn.Linear(d_hidden, 10))
                x, y = T.randn(batch, d_in), T.randint(0, 10, [batch])
                loss = nn.functional.cross_entropy(model(x), y) + (x @ model[0].weight.t()).sum()
                loss.backward()
                grads[batch, threads] = [p.grad.numpy().copy() for p in model.parameters()]
    finally:
        T.set_num_threads(n_threads)
        T._kernels._set_parallel_threshold(threshold)
    for batch, _, _ in shapes:
        for a, b in zip(grads[batch, 1], grads[batch, 2]):
            np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))


def test_numpy_blas_threads_are_restored_after_fastad_gemms():
    get = T._numpy_blas_symbol("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                               "openblas_get_num_threads")
    if get is None:
        pytest.skip("numpy's OpenBLAS thread count is not readable here")
    import ctypes
    import fastad.nn as nn
    get.restype = ctypes.c_int
    n_threads = T.get_num_threads()
    try:
        T.set_num_threads(2)
        layer = nn.Linear(784, 1024)
        x = T.randn(512, 784, requires_grad=True)
        (layer(x).sum() + (x @ layer.weight.t()).sum()).backward()
        assert get() == 2
    finally:
        T.set_num_threads(n_threads)
