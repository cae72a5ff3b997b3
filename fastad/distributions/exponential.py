"""Exponential(rate), as torch.distributions.Exponential."""
import numbers

import fastad
from fastad.distributions import constraints
from fastad.distributions.distribution import Distribution
from fastad.distributions.utils import broadcast_all

__all__ = ["Exponential"]


class Exponential(Distribution):
    """The exponential distribution with rate parameter rate (mean 1 / rate)."""
    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, rate, validate_args=None):
        self.rate, = broadcast_all(rate)
        batch_shape = () if isinstance(rate, numbers.Number) else self.rate.size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expanded(Exponential, batch_shape, _instance, (("rate", 0),))

    @property
    def mean(self):
        return self.rate.reciprocal()

    @property
    def mode(self):
        return fastad.zeros_like(self.rate)

    @property
    def stddev(self):
        return self.rate.reciprocal()

    @property
    def variance(self):
        return self.rate.pow(-2)

    def rsample(self, sample_shape=()):
        # exponential_ draws, then scaled, as PyTorch draws them: the same bits
        shape = self._extended_shape(sample_shape)
        return self.rate.new_empty(shape).exponential_() / self.rate

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self.rate.log() - self.rate * value

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return 1 - fastad.exp(-self.rate * value)

    def icdf(self, value):
        return -fastad.log1p(-value) / self.rate

    def entropy(self):
        return 1.0 - fastad.log(self.rate)
