"""Padding modules: F.pad with a fixed padding and mode."""
from fastad.nn import functional as F
from fastad.nn.modules import Module

__all__ = ["ZeroPad1d", "ZeroPad2d", "ConstantPad1d", "ConstantPad2d", "ReflectionPad1d",
           "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d", "CircularPad1d",
           "CircularPad2d"]


class _Pad(Module):
    _dims, _mode = 1, "constant"

    def __init__(self, padding, value=None):
        super().__init__()
        self.padding = (padding,) * (2 * self._dims) if isinstance(padding, int) else \
            tuple(padding)
        if value is not None:
            self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, self._mode, getattr(self, "value", None))

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPad(_Pad):
    def __init__(self, padding, value):
        super().__init__(padding, value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class _ZeroPad(_ConstantPad):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


def _pad_class(name, base, dims, mode="constant"):
    return type(name, (base,), {"_dims": dims, "_mode": mode, "__module__": __name__,
                                "__doc__": f"F.pad over the last {dims} dim(s), mode {mode!r}."})


ZeroPad1d = _pad_class("ZeroPad1d", _ZeroPad, 1)
ZeroPad2d = _pad_class("ZeroPad2d", _ZeroPad, 2)
ConstantPad1d = _pad_class("ConstantPad1d", _ConstantPad, 1)
ConstantPad2d = _pad_class("ConstantPad2d", _ConstantPad, 2)
ReflectionPad1d = _pad_class("ReflectionPad1d", _Pad, 1, "reflect")
ReflectionPad2d = _pad_class("ReflectionPad2d", _Pad, 2, "reflect")
ReplicationPad1d = _pad_class("ReplicationPad1d", _Pad, 1, "replicate")
ReplicationPad2d = _pad_class("ReplicationPad2d", _Pad, 2, "replicate")
CircularPad1d = _pad_class("CircularPad1d", _Pad, 1, "circular")
CircularPad2d = _pad_class("CircularPad2d", _Pad, 2, "circular")
