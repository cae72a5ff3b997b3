"""fastad.nn.parallel, as torch.nn.parallel: data parallelism across processes."""
from fastad.nn.parallel.distributed import DistributedDataParallel  # noqa: F401

__all__ = ["DistributedDataParallel"]
