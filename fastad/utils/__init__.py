"""fastad.utils, as torch.utils: hooks' handles and data loading."""
from fastad.utils import data, hooks  # noqa: F401
