"""Conv1d and Conv2d: weight (out, in / groups, *kernel) and bias initialised
as PyTorch does (kaiming_uniform_ with a = sqrt(5); bias U(-1/sqrt(fan_in), ...)),
so the same manual_seed gives the same parameters."""
import math

from fastad.nn import functional as F
from fastad.nn import init
from fastad.nn.modules import Module, _non_defaults, _weight_and_bias

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]


class _ConvNd(Module):
    _n, _fn = 0, None       # the spatial dims and the functional (F.conv2d, ...)
    _transposed = False     # weight (in, out / groups, *kernel) instead of (out, in / groups, ...)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        n = self._n
        tup = (lambda v: (v,) * n if isinstance(v, int) else tuple(v))
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 "{'valid', 'same'}")
            if padding == "same" and any(s != 1 for s in tup(stride)):
                raise ValueError("padding='same' is not supported for strided convolutions")
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(f"padding_mode must be one of ['zeros', 'reflect', 'replicate', "
                             f"'circular'], but got padding_mode='{padding_mode}'")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.dilation = tup(kernel_size), tup(stride), tup(dilation)
        self.padding = padding if isinstance(padding, str) else tup(padding)
        self.groups, self.padding_mode = groups, padding_mode
        self.output_padding, self.transposed = (0,) * n, self._transposed
        # F.pad's (last dim first) form of the padding, for the non-zero padding modes
        if padding == "same":
            total = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            self._reversed_padding_repeated_twice = [
                v for t in reversed(total) for v in (t // 2, t - t // 2)]
        elif padding == "valid":
            self._reversed_padding_repeated_twice = [0, 0] * n
        else:
            self._reversed_padding_repeated_twice = [p for p in reversed(self.padding)
                                                     for _ in range(2)]
        rows, cols = (in_channels, out_channels) if self._transposed else (out_channels,
                                                                           in_channels)
        _weight_and_bias(self, (rows, cols // groups) + self.kernel_size, out_channels, bias,
                         dtype)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias)

    def _conv_forward(self, input, weight, bias):
        fn = type(self)._fn
        if self.padding_mode != "zeros":
            input = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return fn(input, weight, bias, self.stride, 0, self.dilation, self.groups)
        return fn(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self):
        zeros, ones = (0,) * self._n, (1,) * self._n
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        s += _non_defaults(self, (("padding", zeros), ("dilation", ones),
                                  ("output_padding", zeros), ("groups", 1)))
        s += ", bias=False" if self.bias is None else ""
        return s + _non_defaults(self, (("padding_mode", "zeros"),))


class Conv1d(_ConvNd):
    _n, _fn = 1, staticmethod(F.conv1d)


class Conv2d(_ConvNd):
    _n, _fn = 2, staticmethod(F.conv2d)


class _ConvTransposeNd(_ConvNd):
    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, device, dtype)
        n = self._n
        self.output_padding = ((output_padding,) * n if isinstance(output_padding, int)
                               else tuple(output_padding))

    def _output_padding(self, input, output_size):
        """The output_padding that makes the output output_size (PyTorch's rule)."""
        if output_size is None:
            return self.output_padding
        n = self._n
        size = list(output_size)[-n:]
        spatial = list(input.shape)[-n:]
        out = []
        for d in range(n):
            least = ((spatial[d] - 1) * self.stride[d] - 2 * self.padding[d]
                     + self.dilation[d] * (self.kernel_size[d] - 1) + 1)
            if not least <= size[d] < least + max(self.stride[d], self.dilation[d]):
                raise ValueError(f"requested an output size of {size}, but valid sizes range "
                                 f"from {least} to {least + self.stride[d] - 1} (for an input "
                                 f"of {spatial})")
            out.append(size[d] - least)
        return tuple(out)

    def forward(self, input, output_size=None):
        return type(self)._fn(input, self.weight, self.bias, self.stride, self.padding,
                              self._output_padding(input, output_size), self.groups,
                              self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    _n, _fn = 1, staticmethod(F.conv_transpose1d)


class ConvTranspose2d(_ConvTransposeNd):
    _n, _fn = 2, staticmethod(F.conv_transpose2d)
