"""fastad.cuda: PyTorch's torch.cuda as seen on a machine without CUDA."""
from fastad._device import NoCudaError


def is_available():
    return False


def device_count():
    return 0


def is_initialized():
    return False


def manual_seed(seed):
    """Silently ignored without CUDA, as in PyTorch."""


def manual_seed_all(seed):
    """Silently ignored without CUDA, as in PyTorch."""


def _no_cuda(*args, **kwargs):
    raise NoCudaError("Torch not compiled with CUDA enabled (fastad runs on the CPU only)")


current_device = synchronize = set_device = get_device_name = empty_cache = _no_cuda


from fastad.cuda import amp  # noqa: E402,F401
