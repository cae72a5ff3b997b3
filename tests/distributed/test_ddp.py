"""DistributedDataParallel: N ranks training on their shards of a batch give the
parameters that one process gets training on the whole batch."""
import numpy as np
import pytest

import fastad
from fastad import nn
from fastad.nn.parallel import DistributedDataParallel as DDP
from fastad.utils.data import DataLoader, DistributedSampler, TensorDataset

BATCH = 12   # divisible by 1, 2 and 3 ranks: every shard's mean has the same weight


def _mlp(seed):
    fastad.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(),
                         nn.Linear(16, 3))


def _data():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((BATCH, 5)).astype(np.float32)
    y = rng.standard_normal((BATCH, 3)).astype(np.float32)
    return fastad.tensor(x), fastad.tensor(y)


def _train(model, opt, batches, steps):
    for step in range(steps):
        for x, y in batches(step):
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()


@pytest.mark.parametrize("bucket_cap_mb,as_view", [(25, False), (0.001, False), (0.001, True)])
def test_twenty_steps_equal_single_process_on_the_whole_batch(rank, world, bucket_cap_mb, as_view):
    x, y = _data()
    single = _mlp(0)
    opt1 = fastad.optim.SGD(single.parameters(), lr=0.05, momentum=0.9)
    _train(single, opt1, lambda step: [(x, y)], 20)

    local = _mlp(100 + rank)   # a different init per rank: DDP broadcasts rank 0's...
    if rank == 0:
        local = _mlp(0)        # ...which is the single process's
    ddp = DDP(local, bucket_cap_mb=bucket_cap_mb, gradient_as_bucket_view=as_view)
    # 1048-byte buckets: [b3, w3, b2], [w2], [b1, w1] (reverse order, 4-byte floats)
    assert [len(b.params) for b in ddp._buckets] == ([6] if bucket_cap_mb == 25 else [3, 1, 2])
    loader = DataLoader(TensorDataset(x, y), batch_size=BATCH // world,
                        sampler=DistributedSampler(TensorDataset(x, y), shuffle=False))
    opt = fastad.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
    _train(ddp, opt, lambda step: loader, 20)
    for (name, p), q in zip(local.named_parameters(), single.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=name)


def test_no_sync_accumulates_then_averages(rank, world):
    x, y = _data()
    ref = _mlp(0)
    for half in (slice(0, BATCH // 2), slice(BATCH // 2, BATCH)):
        nn.functional.mse_loss(ref(x[half]), y[half]).backward()
    ddp = DDP(_mlp(0))
    shard = slice(rank * BATCH // world, (rank + 1) * BATCH // world)
    xs, ys = x[shard], y[shard]
    n = xs.shape[0] // 2
    with ddp.no_sync():
        nn.functional.mse_loss(ddp(xs[:n]), ys[:n]).backward()
    local_first = [p.grad.numpy().copy() for p in ddp.parameters()]
    nn.functional.mse_loss(ddp(xs[n:]), ys[n:]).backward()
    if world > 1:   # inside no_sync the gradients were this rank's own
        other = DDP(_mlp(0))
        with other.no_sync():
            nn.functional.mse_loss(other(xs[:n]), ys[:n]).backward()
        for a, p in zip(local_first, other.parameters()):
            np.testing.assert_array_equal(a, p.grad.numpy())
    for p, q in zip(ddp.parameters(), ref.parameters()):
        # each rank's two micro-batch means, averaged: the whole batch's two half means
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-6)


class _Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 2)
        self.b = nn.Linear(3, 2)       # used by rank 0 only
        self.never = nn.Linear(3, 2)   # used by no rank

    def forward(self, x, use_b):
        out = self.a(x)
        return out + self.b(x) if use_b else out


def test_find_unused_parameters(rank, world):
    fastad.manual_seed(0)
    ddp = DDP(_Branchy(), find_unused_parameters=True)
    x = fastad.ones(4, 3) * (rank + 1)
    for _ in range(2):   # a second iteration starts cleanly
        ddp.zero_grad()
        ddp(x, use_b=rank == 0).sum().backward()
    m = ddp.module
    assert m.never.weight.grad is None and m.never.bias.grad is None
    # d sum / d b.weight on rank 0 is 4 * (rank 0's x) per row: averaged over the world
    np.testing.assert_allclose(m.b.weight.grad.numpy(), np.full((2, 3), 4.0 / world))
    want_a = sum(4.0 * (r + 1) for r in range(world)) / world
    np.testing.assert_allclose(m.a.weight.grad.numpy(), np.full((2, 3), want_a))


def test_unused_parameter_without_find_unused_raises_next_forward(rank, world):
    ddp = DDP(_Branchy())
    ddp(fastad.ones(1, 3), use_b=False).sum().backward()
    with pytest.raises(RuntimeError, match="Expected to have finished reduction"):
        ddp(fastad.ones(1, 3), use_b=False)


def test_parameters_broadcast_and_shape_mismatch(rank, world):
    ddp = DDP(_mlp(rank))
    w = ddp.module[0].weight.detach().numpy()
    np.testing.assert_array_equal(w, _mlp(0)[0].weight.detach().numpy())
    assert list(ddp.state_dict())[0] == "module.0.weight"
    if world > 1:
        with pytest.raises(RuntimeError, match="differ in dtype or shape"):
            DDP(nn.Linear(3, 2 + (rank == 0)))


class _Mark(fastad.autograd.Function):
    """The identity, logging when its backward runs."""
    log = None

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        _Mark.log.append("first layer's backward")
        return grad


class _Marked(nn.Module):
    def forward(self, x):
        return _Mark.apply(x)


def test_buckets_launch_while_backward_still_runs(rank, world, monkeypatch):
    """With small buckets, the last layers' bucket is all-reduced before the
    backward reaches the first layer: the all-reduce overlaps the backward."""
    from fastad import distributed as dist
    log = _Mark.log = []
    launch = dist._allreduce

    def logged(group, array, op, async_op):
        log.append("all-reduce launched")
        return launch(group, array, op, async_op)

    monkeypatch.setattr(dist, "_allreduce", logged)
    fastad.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), _Marked(), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(),
                          nn.Linear(16, 3))
    ddp = DDP(model, bucket_cap_mb=0.001)
    x, y = _data()
    nn.functional.mse_loss(ddp(x), y).backward()
    assert log == ["all-reduce launched", "all-reduce launched", "first layer's backward",
                   "all-reduce launched"]
    ref = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(),
                        nn.Linear(16, 3))
    ref.load_state_dict({k.replace("3.", "2.").replace("5.", "4."): v
                         for k, v in model.state_dict().items()})
    nn.functional.mse_loss(ref(x), y).backward()
    for p, q in zip(model.parameters(), ref.parameters()):   # same data on every rank
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-7)
