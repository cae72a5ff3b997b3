"""torch.autograd.profiler's names: the profiler of fastad.profiler."""
from fastad.profiler import profile, record_function  # noqa: F401

__all__ = ["profile", "record_function"]
