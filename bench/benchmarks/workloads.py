"""The workloads W1-W7 and H1-H4 (higher-order gradients), each written once against the PyTorch API as a
function of the module T (fastad or torch); W1 and W7 also for micrograd.
Each returns the figure it measures for one run."""
import os
import random
import subprocess
import sys
import time

import numpy as np

W1_NODES_PER_SAMPLE = 16 * 7 + 16 * 33 + 32 + 3   # per layer: mul+add per input, tanh; loss


def w1_nodes(samples):
    """Records of W1: 3-16-16-1 tanh MLP of scalars, summed squared error."""
    return samples * W1_NODES_PER_SAMPLE


def _w1_data(samples):
    rng = random.Random(0)
    weights = [[[rng.uniform(-1, 1) for _ in range(n_in + 1)] for _ in range(n_out)]
               for n_in, n_out in ((3, 16), (16, 16), (16, 1))]
    xs = [[rng.uniform(-1, 1) for _ in range(3)] for _ in range(samples)]
    ys = [rng.choice((-1.0, 1.0)) for _ in range(samples)]
    return weights, xs, ys


def _micrograd_tanh(self):
    """tanh for micrograd's Value, as written in micrograd's lecture (the
    released package has only relu)."""
    import math
    from micrograd.engine import Value
    t = math.tanh(self.data)
    out = Value(t, (self,), "tanh")

    def _backward():
        self.grad += (1 - t * t) * out.grad
    out._backward = _backward
    return out


def w1_setup(T, samples=32):
    """Scalar parameters (each its own 0-d tensor with requires_grad) and data."""
    weights, xs, ys = _w1_data(samples)
    if T == "micrograd":
        from micrograd.engine import Value
        if not hasattr(Value, "tanh"):
            Value.tanh = _micrograd_tanh
        make_param, make_const = Value, Value
    else:
        def make_param(v):
            return T.tensor(v, requires_grad=True)
        make_const = T.tensor
    params = [[[make_param(w) for w in neuron] for neuron in layer] for layer in weights]
    data = [([make_const(v) for v in x], make_const(y)) for x, y in zip(xs, ys)]
    return params, data


def w1_step(state):
    """One forward + backward of W1 over all samples."""
    params, data = state
    loss = None
    for x, y in data:
        for li, layer in enumerate(params):
            out = []
            for neuron in layer:
                act = neuron[-1]
                for w, xi in zip(neuron, x):
                    act = act + w * xi
                out.append(act.tanh() if li < len(params) - 1 else act)
            x = out
        d = x[0] - y
        loss = d * d if loss is None else loss + d * d
    loss.backward()
    return loss


def w2_setup(T):
    """W2's parameter and its step (Adam on Himmelblau's function), which returns f."""
    x = T.tensor([0.0, 0.0], requires_grad=True)
    opt = T.optim.Adam([x], lr=1e-2)

    def step():
        f = (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2
        opt.zero_grad()
        f.backward()
        opt.step()
        return f
    return x, step


def w2_himmelblau(T, steps=20000, compiled=False):
    """W2: steps of Adam from (0, 0); compiled: the step through T.compile."""
    x, step = w2_setup(T)
    if compiled:
        step = T.compile(step)
    for _ in range(steps):
        step()
    return x.detach().numpy().tolist()


def w2_first_call(T):
    """(seconds of a compiled W2 step's first call, which traces it, seconds of an
    eager step): each the median of 7 fresh setups."""
    first, eager = [], []
    for _ in range(7):
        _, step = w2_setup(T)
        compiled = T.compile(step)
        t0 = time.perf_counter()
        compiled()
        first.append(time.perf_counter() - t0)
        step()
        t0 = time.perf_counter()
        step()
        eager.append(time.perf_counter() - t0)
    return sorted(first)[3], sorted(eager)[3]


def h1_setup(T):
    return T.tensor([0.5, 0.5], dtype=T.float64, requires_grad=True)


def h1_newton_step(T, x):
    """H1: one Newton step on Himmelblau's function: the gradient with
    create_graph, the Hessian's two rows by two more grads, a 2x2 solve; x is
    updated in place (the step count is the caller's: it converges in ~6)."""
    f = (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2
    g, = T.autograd.grad(f, x, create_graph=True)
    h0, = T.autograd.grad(g[0], x, retain_graph=True)
    h1, = T.autograd.grad(g[1], x)
    H = np.array([h0.numpy(), h1.numpy()])
    step = np.linalg.solve(H, g.detach().numpy())
    with T.no_grad():
        x -= T.tensor(step, dtype=T.float64)
    return x


def h1_newton(T, steps=6):
    x = h1_setup(T)
    for _ in range(steps):
        h1_newton_step(T, x)
    return x.detach().numpy().tolist()


def h4_setup(T, n=32):
    rng = np.random.default_rng(0)
    A = T.tensor(rng.standard_normal((n, n)) / np.sqrt(n), dtype=T.float64)
    x = T.tensor(rng.standard_normal(n), dtype=T.float64)
    return A, x


def h4_hessian(T, state, vectorize=False):
    """H4: the full Hessian of sum(tanh(A @ x)^2) by autograd.functional.hessian."""
    A, x = state
    return T.autograd.functional.hessian(lambda v: (T.tanh(A @ v) ** 2).sum(), x,
                                         vectorize=vectorize)


def h2_setup(T):
    T.manual_seed(0)
    model = T.nn.Sequential(T.nn.Linear(784, 128), T.nn.Tanh(), T.nn.Linear(128, 10))
    params = list(model.parameters())
    return (model, T.randn(64, 784), T.randint(0, 10, (64,)), params,
            [T.randn(p.shape) for p in params])


def h2_hvp(T, state):
    """H2: a Hessian-vector product of an MLP's cross-entropy by double backward."""
    model, x, y, params, v = state
    loss = T.nn.functional.cross_entropy(model(x), y)
    grads = T.autograd.grad(loss, params, create_graph=True)
    return T.autograd.grad(sum((g * u).sum() for g, u in zip(grads, v)), params)


def h3_setup(T):
    T.manual_seed(0)
    D = T.nn.Sequential(T.nn.Linear(2, 64), T.nn.Tanh(), T.nn.Linear(64, 64), T.nn.Tanh(),
                        T.nn.Linear(64, 1))
    return D, T.randn(256, 2), list(D.parameters())


def h3_penalty(T, state):
    """H3: a gradient penalty (WGAN-GP's): the critic's parameters' gradients of
    mean(D(x)) + 10 mean((|dD/dx| - 1)^2)."""
    D, x, params = state
    x = x.detach().requires_grad_(True)
    out = D(x)
    g, = T.autograd.grad(out.sum(), x, create_graph=True)
    loss = out.mean() + 10 * ((g.norm(dim=1) - 1) ** 2).mean()
    return T.autograd.grad(loss, params)


def w3_setup(T):
    T.manual_seed(0)
    x = T.rand(100, 64)
    return {
        "a": (x, T.rand(64, 10, requires_grad=True), T.randint(0, 9, [100])),
        "b": (x, T.rand(64, 1, requires_grad=True), T.rand(100, 1)),
        "c": (T.randn(1, 10), T.rand(3, 10, requires_grad=True), T.ones(1, 3)),
    }


def w3_step(T, state, which):
    F = T.nn.functional
    if which == "a":
        x, w, y = state["a"]
        F.cross_entropy(x @ w, y).backward()
        w.grad = None
    elif which == "b":
        x, w, y = state["b"]
        T.autograd.grad(F.mse_loss(x @ w, y), w)
    else:
        x, w, y = state["c"]
        F.mse_loss(T.sigmoid(x @ w.t()), y).backward()
        w.grad = None


def w4_setup(T):
    T.manual_seed(0)
    nn = T.nn
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = T.optim.SGD(model.parameters(), lr=0.01)
    return model, opt, T.randn(64, 784), T.randint(0, 10, [64])


def w4_step(T, state):
    model, opt, x, y = state
    opt.zero_grad()
    T.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()


W5_N = 1 << 24
W5_SOFTMAX = (4096, 4096)


def w5_setup(T, op):
    rng = np.random.default_rng(0)
    shape = (W5_N,) if op in ("sigmoid", "tanh", "relu") else W5_SOFTMAX
    x = T.tensor(rng.standard_normal(shape, dtype=np.float32), requires_grad=True)
    g = T.tensor(rng.standard_normal(shape, dtype=np.float32))
    return x, g


def w5_step(T, state, op):
    x, g = state
    F = T.nn.functional
    y = {"sigmoid": F.sigmoid, "tanh": F.tanh, "relu": F.relu,
         "softmax": lambda t: F.softmax(t, dim=-1),
         "log_softmax": lambda t: F.log_softmax(t, dim=-1)}[op](x)
    y.backward(gradient=g)
    x.grad = None


def w5_bytes(op):
    """Bytes that must move: read x, write y, read g, read the saved tensor, write the grad."""
    n = W5_N if op in ("sigmoid", "tanh", "relu") else W5_SOFTMAX[0] * W5_SOFTMAX[1]
    return 5 * 4 * n


def copy_bandwidth(reps=7):
    """numpy's copy bandwidth in bytes/s (read + write), the floor's yardstick."""
    a = np.random.default_rng(0).standard_normal(W5_N, dtype=np.float32)
    b = np.empty_like(a)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        np.copyto(b, a)
        times.append(time.perf_counter() - t0)
    return 2 * a.nbytes / float(np.median(times))


W6_SIZES = (1024, 1024, 1024, 10)
W6_BATCH = 512


def w6_setup(T):
    T.manual_seed(0)
    nn = T.nn
    d0, d1, d2, d3 = W6_SIZES
    model = nn.Sequential(nn.Linear(d0, d1), nn.ReLU(), nn.Linear(d1, d2), nn.ReLU(),
                          nn.Linear(d2, d3))
    return model, T.randn(W6_BATCH, d0), T.randint(0, d3, [W6_BATCH])


def w6_step(T, state):
    model, x, y = state
    T.nn.functional.cross_entropy(model(x), y).backward()
    model.zero_grad()


def w6_gemms_setup():
    rng = np.random.default_rng(0)
    d0, d1, d2, d3 = W6_SIZES
    ws = [rng.standard_normal((o, i), dtype=np.float32) for i, o in ((d0, d1), (d1, d2), (d2, d3))]
    x = rng.standard_normal((W6_BATCH, d0), dtype=np.float32)
    return ws, x


def w6_gemms(state):
    """The GEMMs of W6 alone: 3 forward, 5 backward (3 weight grads, 2 input grads)."""
    ws, x = state
    h1 = x @ ws[0].T
    h2 = h1 @ ws[1].T
    out = h2 @ ws[2].T
    g2 = out @ ws[2]
    g1 = g2 @ ws[1]
    return out.T @ h2, g2.T @ h1, g1.T @ x


W7_CODE = r"""
import gc, sys, time
lib = sys.argv[1]
def rss():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS'):
                return int(line.split()[1]) * 1024
N = 10 ** 6
if lib == 'micrograd':
    # micrograd sorts the graph recursively: a shorter chain, a deeper stack
    N = 20000
    sys.setrecursionlimit(10 * N)
    import threading
    threading.stack_size(512 * 1024 * 1024)
    from micrograd.engine import Value
    a, b = Value(0.999999), Value(1e-6)
else:
    T = __import__(lib)
    a = T.tensor(0.999999, requires_grad=True)
    b = T.tensor(1e-6, requires_grad=True)
gc.collect()
r0 = rss()
def run():
    global t0, t1, t2, r1
    t0 = time.perf_counter()
    y = a
    for i in range(N // 2):
        y = y * a
        y = y + b
    t1 = time.perf_counter()
    r1 = rss()
    y.backward()
    t2 = time.perf_counter()
if lib == 'micrograd':
    th = threading.Thread(target=run)
    th.start()
    th.join()
else:
    run()
print((r1 - r0) / N, (t1 - t0) / N * 1e9, (t2 - t1) / N * 1e9)
"""


def w7_chain(lib):
    """(retained bytes per node, build ns per node, backward ns per node), in a fresh process."""
    out = subprocess.run([sys.executable, "-c", W7_CODE, lib], capture_output=True, text=True,
                         timeout=600, env=dict(os.environ))
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return tuple(float(v) for v in out.stdout.split())
