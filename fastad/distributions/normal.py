"""Normal(loc, scale), as torch.distributions.Normal."""
import math
import numbers

import fastad
from fastad.distributions import constraints
from fastad.distributions.distribution import Distribution, _CentredAtLoc
from fastad.distributions.utils import _standard_normal, broadcast_all

__all__ = ["Normal"]


class Normal(_CentredAtLoc, Distribution):
    """The normal distribution with mean loc and standard deviation scale."""
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        scalars = isinstance(loc, numbers.Number) and isinstance(scale, numbers.Number)
        super().__init__(() if scalars else self.loc.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expanded(Normal, batch_shape, _instance, (("loc", 0), ("scale", 0)))

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.stddev.pow(2)

    def sample(self, sample_shape=()):
        # normal(mean, std) with tensors, as PyTorch draws it: the same bits
        shape = self._extended_shape(sample_shape)
        with fastad.no_grad():
            return fastad.normal(self.loc.expand(shape), self.scale.expand(shape))

    def rsample(self, sample_shape=()):
        eps = _standard_normal(self._extended_shape(sample_shape), self.loc.dtype)
        return self.loc + eps * self.scale

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        var = self.scale ** 2
        return (-((value - self.loc) ** 2) / (2 * var) - self.scale.log()
                - math.log(math.sqrt(2 * math.pi)))

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 * (1 + fastad.erf((value - self.loc) * self.scale.reciprocal()
                                     / math.sqrt(2)))

    def icdf(self, value):
        return self.loc + self.scale * fastad.erfinv(2 * value - 1) * math.sqrt(2)

    def entropy(self):
        return 0.5 + 0.5 * math.log(2 * math.pi) + fastad.log(self.scale)
