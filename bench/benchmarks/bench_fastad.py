"""asv benchmarks: the workloads of workloads.py on fastad (or on the library
named by FASTAD_BENCH_LIB, e.g. torch, to compare), by size and threads."""
import importlib
import os

from . import models as M
from . import workloads as W

LIB = os.environ.get("FASTAD_BENCH_LIB", "fastad")


def lib(threads=None):
    try:
        T = importlib.import_module(LIB)
    except ImportError:
        raise NotImplementedError(f"{LIB} is not installed")  # asv skips the benchmark
    if threads is not None:
        T.set_num_threads(threads)
    return T


class ScalarMLP:
    """W1: a micrograd-style MLP of 0-d tensors, forward + backward."""
    params = ([32, 1024], [1, 2])
    param_names = ["samples", "threads"]

    def setup(self, samples, threads):
        T = lib(threads)
        self.state = W.w1_setup(T, samples)
        self.compiled = T.compile(W.w1_step)
        self.compiled(self.state)       # traced here: timed are the replays

    def time_forward_backward(self, samples, threads):
        W.w1_step(self.state)

    def time_compiled_forward_backward(self, samples, threads):
        self.compiled(self.state)

    def peakmem_forward_backward(self, samples, threads):
        W.w1_step(self.state)


class Himmelblau:
    """W2: Adam on Himmelblau's function (2,000 steps)."""

    def setup(self):
        self.T = lib(1)

    def time_2000_steps(self):
        W.w2_himmelblau(self.T, 2000)

    def time_2000_compiled_steps(self):
        W.w2_himmelblau(self.T, 2000, compiled=True)


class Perceptrons:
    """W3: the tutorial perceptrons (a: cross-entropy, b: mse + autograd.grad, c: sigmoid)."""
    params = (["a", "b", "c"],)
    param_names = ["which"]

    def setup(self, which):
        self.T = lib(1)
        self.state = W.w3_setup(self.T)

    def time_iteration(self, which):
        W.w3_step(self.T, self.state, which)


class MLPStep:
    """W4: batch 64, 784-128-10 MLP, SGD training step."""
    params = ([1, 2],)
    param_names = ["threads"]

    def setup(self, threads):
        self.T = lib(threads)
        self.state = W.w4_setup(self.T)

    def time_step(self, threads):
        W.w4_step(self.T, self.state)


class LargeElementwise:
    """W5: activation forward + backward over 2**24 floats, softmax over (4096, 4096)."""
    params = (["sigmoid", "tanh", "relu", "softmax", "log_softmax"], [1, 2])
    param_names = ["op", "threads"]
    timeout = 240

    def setup(self, op, threads):
        self.T = lib(threads)
        self.state = W.w5_setup(self.T, op)

    def time_forward_backward(self, op, threads):
        W.w5_step(self.T, self.state, op)

    def track_fraction_of_copy_bandwidth(self, op, threads):
        import time
        t0 = time.perf_counter()
        W.w5_step(self.T, self.state, op)
        achieved = W.w5_bytes(op) / (time.perf_counter() - t0)
        return achieved / W.copy_bandwidth()
    track_fraction_of_copy_bandwidth.unit = "fraction"


class MatmulMLP:
    """W6: batch 512, 1024-1024-1024-10 MLP, forward + backward, and its GEMMs alone."""
    params = ([1, 2],)
    param_names = ["threads"]
    timeout = 240

    def setup(self, threads):
        self.T = lib(threads)
        self.state = W.w6_setup(self.T)
        self.gemms = W.w6_gemms_setup()

    def time_forward_backward(self, threads):
        W.w6_step(self.T, self.state)

    def time_gemms_alone(self, threads):
        W.w6_gemms(self.gemms)


class ScalarChain:
    """W7: a chain of 10**6 scalar ops, built then differentiated (in a fresh process)."""
    timeout = 300

    def setup(self):
        lib()

    def track_bytes_per_node(self):
        return W.w7_chain(LIB)[0]
    track_bytes_per_node.unit = "bytes"

    def track_build_ns_per_node(self):
        return W.w7_chain(LIB)[1]
    track_build_ns_per_node.unit = "ns"

    def track_backward_ns_per_node(self):
        return W.w7_chain(LIB)[2]
    track_backward_ns_per_node.unit = "ns"


class NewtonHimmelblau:
    """H1: one Newton step on Himmelblau's function (create_graph + 2 grads + solve)."""

    def setup(self):
        self.T = lib(1)

    def time_newton_step(self):
        W.h1_newton_step(self.T, W.h1_setup(self.T))


class HessianVectorProduct:
    """H2: a Hessian-vector product of an MLP 784-128-10's cross-entropy by double backward."""

    def setup(self):
        self.T = lib(1)
        self.state = W.h2_setup(self.T)

    def time_hvp(self):
        W.h2_hvp(self.T, self.state)


class GradientPenalty:
    """H3: WGAN-GP's gradient penalty on an MLP 2-64-64-1 critic, batch 256."""

    def setup(self):
        self.T = lib(1)
        self.state = W.h3_setup(self.T)

    def time_penalty_step(self):
        W.h3_penalty(self.T, self.state)


class Hessian:
    """H4: the full Hessian of sum(tanh(A @ x)^2), 32 variables."""
    params = [False, True]
    param_names = ["vectorize"]

    def setup(self, vectorize):
        self.T = lib(1)
        self.state = W.h4_setup(self.T)

    def time_hessian(self, vectorize):
        W.h4_hessian(self.T, self.state, vectorize)

class ModelSteps:
    """W8: SGD steps of a CNN, an LSTM, a makemore MLP and a transformer encoder layer."""
    params = (list(M.W8), [1])
    param_names = ["model", "threads"]
    timeout = 240

    def setup(self, model, threads):
        self.T = lib(threads)
        self.state = M.w8_setup(self.T, model)

    def time_step(self, model, threads):
        M.w8_step(self.T, self.state)


class ZeroDimSpellings:
    """An activation of a 0-d tensor, forward + backward, by spelling: F.foo,
    torch.foo and Tensor.foo run one implementation, so they cost the same."""
    params = (["sigmoid", "tanh", "relu"], ["F", "torch", "Tensor"])
    param_names = ["op", "spelling"]

    def setup(self, op, spelling):
        T = lib(1)
        self.x = T.tensor(0.3, requires_grad=True)
        self.f = getattr({"F": T.nn.functional, "torch": T, "Tensor": T.Tensor}[spelling], op)

    def time_forward_backward(self, op, spelling):
        self.f(self.x).backward()
