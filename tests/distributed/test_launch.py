"""Whole jobs started with mpiexec from a one-process world: a rank that raises
ends the job instead of leaving the others waiting in a collective."""
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import fastad.distributed as dist

PROGRAM = textwrap.dedent("""
    import fastad, fastad.distributed as dist
    dist.init_process_group("mpi")
    if dist.get_rank() == 1:
        raise ValueError("rank 1 fails")
    dist.all_reduce(fastad.ones(3))   # rank 0 would wait here forever
    print("unreachable")
""")


def test_an_uncaught_exception_aborts_every_rank():
    if dist.get_world_size() > 1:
        pytest.skip("starts its own mpiexec: run from a one-process world")
    mpiexec = (shutil.which("mpiexec", path=os.path.dirname(sys.executable))
               or shutil.which("mpiexec"))
    if mpiexec is None:
        pytest.skip("no mpiexec")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    for name in list(env):   # this process's own MPI singleton must not leak into the job
        if name.startswith(("OMPI_COMM", "PMIX_", "PRTE_", "OMPI_MCA_ess")):
            del env[name]
    done = subprocess.run([mpiexec, "--oversubscribe", "-n", "2", sys.executable, "-c", PROGRAM],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "rank 1 fails" in done.stderr and "unreachable" not in done.stdout
