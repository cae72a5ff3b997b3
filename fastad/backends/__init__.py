"""fastad.backends: the flags PyTorch programs set, on a CPU-only engine."""
from fastad.backends import cudnn, mps  # noqa: F401
