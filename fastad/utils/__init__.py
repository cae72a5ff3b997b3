"""fastad.utils, as torch.utils: hooks' handles, data loading and checkpoint."""
from fastad.utils import checkpoint, data, hooks  # noqa: F401
