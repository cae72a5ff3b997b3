"""Dropout modules: the functional form with the module's training flag."""
from fastad.nn import functional as F
from fastad.nn._dropout import _check_p
from fastad.nn.modules import Module, _variants


class _DropoutNd(Module):
    _fn = None

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        _check_p(p)
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return type(self)._fn(input, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


# the modules by name: (their base, the functional their forward calls)
_MODULES = {
    "Dropout": (_DropoutNd, F.dropout), "Dropout1d": (_DropoutNd, F.dropout1d),
    "Dropout2d": (_DropoutNd, F.dropout2d), "Dropout3d": (_DropoutNd, F.dropout3d),
    "AlphaDropout": (_DropoutNd, F.alpha_dropout),
    "FeatureAlphaDropout": (_DropoutNd, F.feature_alpha_dropout)}
__all__ = list(_MODULES)
globals().update(_variants(_MODULES))
