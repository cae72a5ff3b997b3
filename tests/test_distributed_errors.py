"""fastad.distributed's errors that need no MPI: collectives before
init_process_group, and the ImportError without mpi4py."""
import sys

import pytest

import fastad
import fastad.distributed as dist


def test_collectives_before_init_raise_value_error(monkeypatch):
    monkeypatch.setattr(dist, "_group", None)
    for call in (dist.get_rank, dist.get_world_size, dist.barrier, dist.get_backend,
                 lambda: dist.all_reduce(fastad.ones(2)),
                 lambda: dist.broadcast(fastad.ones(2), 0)):
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            call()
    assert not dist.is_initialized()
    with pytest.raises(AssertionError):
        dist.destroy_process_group()


def test_without_mpi4py_import_error_names_the_extra(monkeypatch):
    monkeypatch.setattr(dist, "_group", None)
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", None)
    with pytest.raises(ImportError, match=r'pip install "fastad\[mpi\]"'):
        dist.init_process_group("mpi")
    assert dist.is_available() is False
    from fastad.nn.parallel import DistributedDataParallel
    with pytest.raises(ValueError, match="has not been initialized"):
        DistributedDataParallel(fastad.nn.Linear(2, 2))
