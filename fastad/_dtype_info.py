"""finfo and iinfo: the numerical limits of fastad's dtypes (numpy's, in PyTorch's form)."""
import numpy as np

from fastad._tensor import dtype as _dtype, get_default_dtype


class finfo:
    __module__ = "fastad"

    def __init__(self, type=None):
        type = get_default_dtype() if type is None else type
        if not isinstance(type, _dtype) or not type.is_floating_point:
            raise TypeError(f"torch.finfo() requires a floating point input type. Use "
                            f"torch.iinfo to handle '{type}'")
        info = np.finfo(type.np_dtype)
        self.bits = info.bits
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -info.precision     # PyTorch: a power of ten, exactly
        self.dtype = type.name

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
                f"tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    __module__ = "fastad"

    def __init__(self, type):
        if not isinstance(type, _dtype) or type.is_floating_point or type.name == "bool":
            raise TypeError(f"torch.iinfo() requires an integer input type. Use torch.finfo to "
                            f"handle '{type}'")
        info = np.iinfo(type.np_dtype)
        self.bits, self.max, self.min, self.dtype = info.bits, int(info.max), int(info.min), type.name

    def __repr__(self):
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"
