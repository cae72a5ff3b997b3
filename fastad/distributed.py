"""fastad.distributed: torch.distributed's collectives over MPI (mpi4py).

Run a program under ``mpiexec -n N python train.py``: every process calls
``init_process_group(backend="mpi")`` and takes its rank and the world size
from MPI.  Collectives work in place on fastad tensors, passing their numpy
buffers to MPI without a copy (a non-contiguous or 0-d tensor goes through a
contiguous copy).  Before each collective the ranks exchange a short signature
of their tensors (dtype, shape), so a mismatch raises on every rank instead of
hanging or corrupting memory; waits end with a DistBackendError after the
group's timeout; an exception that no rank catches aborts the whole job
instead of leaving the other ranks waiting in a collective.
"""
import datetime
import enum
import os
import sys
import time
import zlib

import numpy as np

import fastad

__all__ = ["DistBackendError", "DistError", "ReduceOp", "Work", "all_gather",
           "all_gather_into_tensor", "all_reduce", "barrier", "broadcast",
           "destroy_process_group", "get_backend", "get_rank", "get_world_size",
           "init_process_group", "is_available", "is_initialized", "is_mpi_available",
           "reduce_scatter", "reduce_scatter_tensor"]

_NOT_INIT = ("Default process group has not been initialized, please make sure to call "
             "init_process_group.")
_INSTALL = 'fastad.distributed needs mpi4py and an MPI library: pip install "fastad[mpi]"'
_DEFAULT_TIMEOUT = datetime.timedelta(minutes=10)   # PyTorch's default for CPU backends


class DistError(RuntimeError):
    """An error of the distributed backend."""


class DistBackendError(DistError):
    """A collective failed or timed out in the backend."""


class ReduceOp(enum.Enum):
    SUM = "SUM"
    AVG = "AVG"
    PRODUCT = "PRODUCT"
    MIN = "MIN"
    MAX = "MAX"


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(_INSTALL) from e
    return MPI


def is_available():
    try:
        _mpi()
    except ImportError:
        return False
    return True


def is_mpi_available():
    return is_available()


class _Group:
    """The default process group: MPI's world communicator and the group's timeout."""

    def __init__(self, comm, timeout):
        self.comm = comm
        self.timeout = timeout
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()


_group = None


def _default():
    if _group is None:
        raise ValueError(_NOT_INIT)
    return _group


def _env_int(name):
    value = os.environ.get(name)
    return None if value in (None, "") else int(value)


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):
    """Joins the default process group: MPI's COMM_WORLD.  ``backend`` is "mpi"
    (or None); ``init_method`` may be "env://" (or None), and a RANK/WORLD_SIZE
    given in the environment or as arguments must agree with MPI's."""
    global _group
    if _group is not None:
        raise ValueError("trying to initialize the default process group twice!")
    if backend not in (None, "mpi") and str(backend).lower() != "mpi":
        raise ValueError(f"fastad.distributed runs on MPI: backend must be 'mpi', got "
                         f"{backend!r}")
    if init_method not in (None, "env://"):
        raise ValueError(f"fastad.distributed: init_method {init_method!r} is not supported; "
                         "MPI's launcher (mpiexec) connects the processes (use None or "
                         "'env://')")
    # Open MPI's default non-blocking all-reduce took 2-3x its blocking one here (2.68 MB at
    # 2 ranks 0.63 vs 0.27 ms, 25 MB 36 vs 19 ms); its ring equals it (0.23 and 11.8 ms) and
    # is bandwidth-optimal.  Read by MPI_Init: no effect once mpi4py.MPI was imported.
    os.environ.setdefault("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "1")
    MPI = _mpi()
    comm = MPI.COMM_WORLD
    for name, given, actual in (("rank", rank, comm.Get_rank()),
                                ("world_size", world_size, comm.Get_size())):
        env = _env_int("RANK" if name == "rank" else "WORLD_SIZE")
        for source, value in ((f"{name}=", given if given != -1 else None),
                              ("RANK=" if name == "rank" else "WORLD_SIZE=", env)):
            if value is not None and value != actual:
                raise ValueError(f"fastad.distributed: {source}{value} but MPI gives this "
                                 f"process {name} {actual} (start the processes with mpiexec)")
    if timeout is None:
        timeout = _DEFAULT_TIMEOUT
    _group = _Group(comm, timeout)
    _abort_on_uncaught(MPI)


def _abort_on_uncaught(MPI):
    """An exception no rank catches ends every rank (MPI_Abort), not just this one,
    so the others do not wait forever in their next collective."""
    previous = sys.excepthook
    if getattr(previous, "_fastad_abort", False):
        return

    def hook(kind, value, tb):
        previous(kind, value, tb)
        if _group is not None and _group.size > 1:
            sys.stderr.flush()
            MPI.COMM_WORLD.Abort(1)
    hook._fastad_abort = True
    sys.excepthook = hook


def is_initialized():
    return _group is not None


def destroy_process_group(group=None):
    global _group
    if _group is None:
        raise AssertionError("Process group cannot be None")
    _group = None


def get_rank(group=None):
    return _default().rank


def get_world_size(group=None):
    return _default().size


def get_backend(group=None):
    _default()
    return "mpi"


# ---------------------------------------------------------------- buffers and requests
class _Buffer:
    """The contiguous numpy array MPI reads and writes for a tensor: its own
    memory when it is contiguous, else a copy written back by finish()."""

    def __init__(self, tensor):
        if not isinstance(tensor, fastad.Tensor):
            raise TypeError(f"fastad.distributed: expected a fastad Tensor, got "
                            f"{type(tensor).__name__}")
        self.tensor = tensor
        a = tensor.detach().numpy()
        self.shared = a.ndim > 0 and a.flags.c_contiguous and a.flags.writeable
        self.array = a if self.shared else np.ascontiguousarray(a).reshape(a.shape)

    def finish(self):
        if not self.shared:
            with fastad.no_grad():
                if self.array.ndim == 0:
                    self.tensor.fill_(self.array.item())
                else:
                    self.tensor.copy_(fastad.from_numpy(self.array))


class Work:
    """A running collective (async_op=True): wait() ends it."""

    def __init__(self, request, group, then=None):
        self._request = request
        self._group = group
        self._then = then
        self._done = request is None

    def is_completed(self):
        if not self._done and self._request.Test():
            self._finish()
        return self._done

    def wait(self, timeout=None):
        if self._done:
            return True
        limit = self._group.timeout if timeout is None else timeout
        seconds = limit.total_seconds() if isinstance(limit, datetime.timedelta) else limit
        deadline = time.monotonic() + seconds
        # Test() drives MPI's progress as Wait() does, and lets the wait end at the deadline
        while not self._request.Test():
            if time.monotonic() > deadline:
                raise DistBackendError(f"fastad.distributed: a collective did not complete "
                                       f"within {seconds:g} s (rank {self._group.rank} of "
                                       f"{self._group.size}): another rank did not join it")
        self._finish()
        return True

    def _finish(self):
        self._done = True
        if self._then is not None:
            self._then()


def _run(request, group, async_op, then=None):
    work = Work(request, group, then)
    if async_op:
        return work
    work.wait()
    return None


def _call(group, async_op, name, *args, then=None, **kwargs):
    """MPI's collective name on group: non-blocking (a Work) with async_op, else
    blocking.  A blocking call follows the shape check's timed handshake, so
    every rank is already in it and it cannot hang; it is MPI's own blocking
    algorithm, which Open MPI tunes better than the non-blocking one (a 25 MB
    all-reduce at 2 ranks took 1.5-1.8x longer as Iallreduce in this machine)."""
    if async_op:
        request = getattr(group.comm, "I" + name[0].lower() + name[1:])(*args, **kwargs)
        return _run(request, group, True, then)
    getattr(group.comm, name)(*args, **kwargs)
    if then is not None:
        then()
    return None


def _mpi_op(op):
    MPI = _mpi()
    if not isinstance(op, ReduceOp):
        raise ValueError(f"fastad.distributed: unsupported reduce op {op!r}")
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
            ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX}[op]


def _signature(arrays):
    """dtype and shapes of arrays, as a few int64s every rank can compare."""
    text = ";".join(f"{a.dtype.str}{a.shape}" for a in arrays)
    return np.array([len(arrays), sum(a.size for a in arrays), zlib.crc32(text.encode())],
                    dtype=np.int64), text


def _check_same(group, what, arrays):
    """Raises on every rank when the ranks' arrays differ in dtype or shape: a
    small allgather first, so a mismatch is an error, not a hang or an overrun."""
    if group.size == 1:
        return
    mine, text = _signature(arrays)
    every = np.empty((group.size, mine.size), dtype=np.int64)
    _run(group.comm.Iallgather(mine, every), group, False)
    if not (every == mine).all():
        texts = group.comm.allgather(text)
        ranks = ", ".join(f"rank {r}: {t}" for r, t in enumerate(texts))
        raise RuntimeError(f"fastad.distributed.{what}: the ranks' tensors differ in dtype or "
                           f"shape ({ranks})")


def _check_dtype(array):
    if array.dtype not in (np.float32, np.float64, np.int64):
        raise TypeError(f"fastad.distributed: unsupported dtype {array.dtype}")


# ---------------------------------------------------------------- collectives
def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """tensor becomes the reduction (op) of every rank's tensor, in place."""
    g = _default()
    buf = _Buffer(tensor)
    _check_dtype(buf.array)
    _check_same(g, "all_reduce", [buf.array])
    return _allreduce(g, buf.array, op, async_op, buf.finish)


def _allreduce(g, array, op, async_op, then=None):
    """The in-place all-reduce of array (a contiguous ndarray)."""
    def finish():
        if op is ReduceOp.AVG:
            np.divide(array, g.size, out=array, casting="unsafe")
        if then is not None:
            then()
    return _call(g, async_op, "Allreduce", _mpi().IN_PLACE, array, op=_mpi_op(op), then=finish)


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """Every rank's tensor becomes rank src's, in place."""
    g = _default()
    src = group_src if src is None else src
    if src is None or not 0 <= src < g.size:
        raise ValueError(f"fastad.distributed.broadcast: src must be a rank in [0, {g.size}), "
                         f"got {src}")
    buf = _Buffer(tensor)
    _check_same(g, "broadcast", [buf.array])
    return _call(g, async_op, "Bcast", buf.array, root=src, then=buf.finish)


def barrier(group=None, async_op=False, device_ids=None):
    g = _default()
    return _run(g.comm.Ibarrier(), g, async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """tensor_list[r] becomes rank r's tensor, on every rank."""
    g = _default()
    if len(tensor_list) != g.size:
        raise ValueError(f"fastad.distributed.all_gather: tensor_list must hold world_size "
                         f"({g.size}) tensors, got {len(tensor_list)}")
    src = _Buffer(tensor)
    outs = [_Buffer(t) for t in tensor_list]
    if any(o.array.shape != src.array.shape or o.array.dtype != src.array.dtype for o in outs):
        raise RuntimeError("fastad.distributed.all_gather: every tensor of tensor_list must "
                           "have the input's shape and dtype")
    _check_same(g, "all_gather", [src.array])
    gathered = np.empty((g.size,) + src.array.shape, dtype=src.array.dtype)

    def then():
        for r, o in enumerate(outs):
            o.array[...] = gathered[r]
            o.finish()
    return _call(g, async_op, "Allgather", src.array, gathered, then=then)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """output_tensor (world_size times the input's first dimension, or an extra
    leading dimension of world_size) becomes every rank's input, concatenated."""
    g = _default()
    src, out = _Buffer(input_tensor), _Buffer(output_tensor)
    if out.array.size != src.array.size * g.size or out.array.dtype != src.array.dtype:
        raise ValueError("output tensor size must be equal to world_size times input tensor "
                         "size")
    _check_same(g, "all_gather_into_tensor", [src.array])
    return _call(g, async_op, "Allgather", src.array, out.array, then=out.finish)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """output becomes the reduction over the ranks of their input_list[rank]."""
    g = _default()
    if len(input_list) != g.size:
        raise ValueError(f"fastad.distributed.reduce_scatter: input_list must hold world_size "
                         f"({g.size}) tensors, got {len(input_list)}")
    out = _Buffer(output)
    stacked = np.stack([np.asarray(t.detach().numpy()) for t in input_list])
    if stacked.shape[1:] != out.array.shape or stacked.dtype != out.array.dtype:
        raise RuntimeError("fastad.distributed.reduce_scatter: every input must have the "
                           "output's shape and dtype")
    return _reduce_scatter(g, out, stacked, op, async_op, "reduce_scatter")


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """output becomes the reduction over the ranks of their input's rank-th
    chunk (input is world_size outputs long)."""
    g = _default()
    out, src = _Buffer(output), _Buffer(input)
    if src.array.size != out.array.size * g.size or src.array.dtype != out.array.dtype:
        raise ValueError("input tensor must be the same size as output size times world size")
    return _reduce_scatter(g, out, src.array, op, async_op, "reduce_scatter_tensor")


def _reduce_scatter(g, out, array, op, async_op, what):
    _check_dtype(out.array)
    _check_same(g, what, [array])

    def then():
        if op is ReduceOp.AVG:
            np.divide(out.array, g.size, out=out.array, casting="unsafe")
        out.finish()
    return _call(g, async_op, "Reduce_scatter_block", array, out.array, op=_mpi_op(op), then=then)
