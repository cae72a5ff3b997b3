"""The distributed tests run in every rank of `mpiexec -n N python -m pytest
tests/distributed`, and under plain pytest as a world of one process; they
skip without mpi4py.  Each test runs under a deadline: a rank that would wait
forever dumps its stack and exits, and mpiexec then ends the others."""
import faulthandler
import importlib.util
import os

import pytest

import fastad.distributed as dist

DEADLINE = 60   # seconds per test, for every rank
HERE = os.path.dirname(__file__)


def pytest_collection_modifyitems(config, items):
    if importlib.util.find_spec("mpi4py") is None:
        skip = pytest.mark.skip(reason='needs mpi4py: pip install "fastad[mpi]"')
        for item in items:
            if str(item.fspath).startswith(HERE):
                item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _world():
    if not dist.is_initialized():
        dist.init_process_group(backend="mpi")
    yield
    if dist.is_initialized():
        dist.barrier()


@pytest.fixture(autouse=True)
def _deadline():
    faulthandler.dump_traceback_later(DEADLINE, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()
    dist.barrier()   # the next test starts together on every rank


@pytest.fixture
def rank():
    return dist.get_rank()


@pytest.fixture
def world():
    return dist.get_world_size()
