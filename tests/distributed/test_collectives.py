"""Every collective of fastad.distributed against numpy, on the ranks that run
it: each rank's input is a known function of its rank, so every rank can
compute the expected result itself."""
import datetime
import time

import numpy as np
import pytest

import fastad
import fastad.distributed as dist

DTYPES = [(np.float32, fastad.float32), (np.float64, fastad.float64)]


def _data(r, shape=(3, 4), np_dtype=np.float64):
    return (np.arange(int(np.prod(shape))).reshape(shape) * 0.5 + r + 1).astype(np_dtype)


@pytest.mark.parametrize("np_dtype,dt", DTYPES)
@pytest.mark.parametrize("op,reduce", [
    (dist.ReduceOp.SUM, lambda a: a.sum(0)), (dist.ReduceOp.AVG, lambda a: a.mean(0)),
    (dist.ReduceOp.MAX, lambda a: a.max(0)), (dist.ReduceOp.MIN, lambda a: a.min(0)),
    (dist.ReduceOp.PRODUCT, lambda a: a.prod(0))])
def test_all_reduce(rank, world, np_dtype, dt, op, reduce):
    t = fastad.tensor(_data(rank, np_dtype=np_dtype), dtype=dt)
    alias = t.numpy()
    assert dist.all_reduce(t, op=op) is None
    want = reduce(np.stack([_data(r, np_dtype=np_dtype) for r in range(world)]))
    np.testing.assert_allclose(t.numpy(), want, rtol=1e-6)
    assert t.dtype == dt
    assert np.shares_memory(alias, t.numpy()) and (alias == t.numpy()).all()   # in place


def test_all_reduce_non_contiguous_and_0d(rank, world):
    base = fastad.tensor(_data(rank))
    view = base.t()
    dist.all_reduce(view)
    np.testing.assert_allclose(base.numpy(), sum(_data(r) for r in range(world)))
    s = fastad.tensor(float(rank + 1))
    dist.all_reduce(s, op=dist.ReduceOp.MAX)
    assert s.item() == world


def test_all_reduce_async_and_int64(rank, world):
    t = fastad.tensor([rank, 10 * rank])
    work = dist.all_reduce(t, async_op=True)
    assert work.wait() is True and work.is_completed()
    total = world * (world - 1) // 2
    assert t.tolist() == [total, 10 * total] and t.dtype == fastad.int64


@pytest.mark.parametrize("np_dtype,dt", DTYPES)
def test_broadcast(rank, world, np_dtype, dt):
    src = world - 1
    t = fastad.tensor(_data(rank, np_dtype=np_dtype), dtype=dt)
    dist.broadcast(t, src=src)
    np.testing.assert_array_equal(t.numpy(), _data(src, np_dtype=np_dtype))


@pytest.mark.parametrize("np_dtype,dt", DTYPES)
def test_all_gather(rank, world, np_dtype, dt):
    t = fastad.tensor(_data(rank, (2, 3), np_dtype), dtype=dt)
    out = [fastad.zeros(2, 3, dtype=dt) for _ in range(world)]
    dist.all_gather(out, t)
    for r in range(world):
        np.testing.assert_array_equal(out[r].numpy(), _data(r, (2, 3), np_dtype))
    whole = fastad.zeros(2 * world, 3, dtype=dt)
    dist.all_gather_into_tensor(whole, t)
    want = np.concatenate([_data(r, (2, 3), np_dtype) for r in range(world)])
    np.testing.assert_array_equal(whole.numpy(), want)


@pytest.mark.parametrize("np_dtype,dt", DTYPES)
def test_reduce_scatter(rank, world, np_dtype, dt):
    # rank r's input for destination d is _data(r * world + d)
    inputs = [fastad.tensor(_data(rank * world + d, (2,), np_dtype), dtype=dt)
              for d in range(world)]
    out = fastad.zeros(2, dtype=dt)
    dist.reduce_scatter(out, inputs)
    want = sum(_data(r * world + rank, (2,), np_dtype) for r in range(world))
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-6)
    flat = fastad.cat(inputs)
    out2 = fastad.zeros(2, dtype=dt)
    dist.reduce_scatter_tensor(out2, flat, op=dist.ReduceOp.AVG)
    np.testing.assert_allclose(out2.numpy(), want / world, rtol=1e-6)


def test_rank_world_backend(rank, world):
    from mpi4py import MPI
    assert (rank, world) == (MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size())
    assert dist.is_initialized() and dist.get_backend() == "mpi"
    with pytest.raises(ValueError, match="twice"):
        dist.init_process_group("mpi")
    dist.barrier()
    assert dist.barrier(async_op=True).wait()


def test_mismatched_shapes_and_dtypes_raise_on_every_rank(rank, world):
    if world == 1:
        pytest.skip("needs two ranks")
    t = fastad.zeros(3 if rank == 0 else 4)
    with pytest.raises(RuntimeError, match="differ in dtype or shape"):
        dist.all_reduce(t)
    t = fastad.zeros(3, dtype=fastad.float32 if rank == 0 else fastad.float64)
    with pytest.raises(RuntimeError, match="differ in dtype or shape"):
        dist.broadcast(t, src=0)
    ok = fastad.ones(2)   # the group still works
    dist.all_reduce(ok)
    assert ok.tolist() == [world, world]


def test_wait_times_out_when_a_rank_is_late(rank, world):
    if world == 1:
        pytest.skip("needs two ranks")
    if rank == 0:
        work = dist.barrier(async_op=True)
        with pytest.raises(dist.DistBackendError, match="did not complete within 0.3 s"):
            work.wait(timeout=datetime.timedelta(seconds=0.3))
        work.wait()   # the late ranks join: the collective then completes
        assert work.is_completed()
    else:
        time.sleep(1.0)
        dist.barrier()


def test_errors_before_init_and_bad_arguments(rank, world):
    dist.destroy_process_group()
    try:
        for call in (dist.get_rank, dist.get_world_size, dist.barrier,
                     lambda: dist.all_reduce(fastad.ones(2))):
            with pytest.raises(ValueError, match="has not been initialized"):
                call()
        with pytest.raises(ValueError, match="backend must be 'mpi'"):
            dist.init_process_group("nccl")
        with pytest.raises(ValueError, match="MPI gives this process rank"):
            dist.init_process_group("mpi", rank=rank + 1)
    finally:
        dist.init_process_group("mpi")
    with pytest.raises(ValueError, match="src must be a rank"):
        dist.broadcast(fastad.ones(2), src=world)
    with pytest.raises(TypeError, match="expected a fastad Tensor"):
        dist.all_reduce(np.ones(2))
