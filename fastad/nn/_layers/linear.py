"""Bilinear and LazyLinear, initialised as PyTorch does."""
import math

from fastad.nn import functional as F
from fastad.nn import init
from fastad.nn.modules import Linear, Module, _weight_and_bias

__all__ = ["Bilinear", "LazyLinear"]


class Bilinear(Module):
    """y = x1^T A x2 + b; weight (out, in1, in2) and bias U(-1/sqrt(in1), 1/sqrt(in1))."""

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None,
                 dtype=None):
        super().__init__()
        self.in1_features, self.in2_features = in1_features, in2_features
        self.out_features = out_features
        _weight_and_bias(self, (out_features, in1_features, in2_features), out_features, bias,
                         dtype)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class LazyLinear(Linear):
    """A Linear whose in_features is the last dim of its first input: its
    parameters are made and initialised at that call, then it becomes a Linear
    (PyTorch's cls_to_become), so the same seed at that point gives PyTorch's."""

    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        Module.__init__(self)
        self.in_features, self.out_features, self._dtype = 0, out_features, dtype
        _weight_and_bias(self, 0, 0, bias, dtype)

    def has_uninitialized_params(self):
        return self.in_features == 0

    def initialize_parameters(self, input):
        self.in_features = input.shape[-1]
        _weight_and_bias(self, (self.out_features, self.in_features), self.out_features,
                         self.bias is not None, self._dtype)
        self.reset_parameters()
        del self._dtype
        self.__class__ = self.cls_to_become

    def forward(self, input):
        if self.has_uninitialized_params():
            self.initialize_parameters(input)
        return F.linear(input, self.weight, self.bias)
