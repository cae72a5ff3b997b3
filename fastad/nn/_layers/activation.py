"""Modules of the functionals in fastad/nn/_activation.py, _shuffle.py,
_conv.py's fold/unfold and local_response_norm: each forward is the one functional with the module's
hyper-parameters (built by modules._module, as the table's activations are)."""
from fastad.nn import functional as F
from fastad.nn.modules import Module, _module

# name -> (functional, hyper-parameters with PyTorch's defaults, in order)
_SIMPLE = {
    "GLU": (F.glu, (("dim", -1),)),
    "Softmin": (F.softmin, (("dim", None),)),
    "Hardshrink": (F.hardshrink, (("lambd", 0.5),)),
    "Softshrink": (F.softshrink, (("lambd", 0.5),)),
    "Tanhshrink": (F.tanhshrink, ()),
    "Threshold": (F.threshold, (("threshold", None), ("value", None), ("inplace", False))),
    "PixelShuffle": (F.pixel_shuffle, (("upscale_factor", None),)),
    "PixelUnshuffle": (F.pixel_unshuffle, (("downscale_factor", None),)),
    "Upsample": (F.interpolate, (("size", None), ("scale_factor", None), ("mode", "nearest"),
                                 ("align_corners", None), ("recompute_scale_factor", None))),
    "Fold": (F.fold, (("output_size", None), ("kernel_size", None), ("dilation", 1),
                      ("padding", 0), ("stride", 1))),
    "ChannelShuffle": (F.channel_shuffle, (("groups", None),)),
    "LocalResponseNorm": (F.local_response_norm, (("size", None), ("alpha", 1e-4), ("beta", 0.75),
                                                  ("k", 1.0))),
    "Unfold": (F.unfold, (("kernel_size", None), ("dilation", 1), ("padding", 0), ("stride", 1))),
}

__all__ = list(_SIMPLE) + ["Softmax2d", "UpsamplingNearest2d", "UpsamplingBilinear2d"]

for _name, (_fn, _params) in _SIMPLE.items():
    globals()[_name] = _module(_name, _fn, _params, f"Module form of F.{_fn.__name__}.")


class Softmax2d(Module):
    """Softmax over the channels (dim -3) of (N, C, H, W) or (C, H, W) input."""

    def forward(self, input):
        if input.dim() not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.dim()}D "
                             "instead")
        return F.softmax(input, -3)


class Upsample(globals()["Upsample"]):
    """Module form of F.interpolate."""

    def extra_repr(self):
        if self.scale_factor is not None:
            info = f"scale_factor={_floats(self.scale_factor)!r}"
        else:
            info = f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


def _floats(v):
    return tuple(float(f) for f in v) if isinstance(v, (tuple, list)) else float(v)


class UpsamplingNearest2d(Upsample):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, "nearest")


class UpsamplingBilinear2d(Upsample):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, "bilinear", True)
