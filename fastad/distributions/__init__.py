"""fastad.distributions: probability distributions with PyTorch's names and
semantics (torch.distributions), written in fastad Tensor ops so that
log_prob, entropy, rsample and kl_divergence are differentiable; samples are
drawn from fastad's generator as PyTorch draws them, so the same seed gives
the same samples."""
from fastad.distributions import constraints, kl, utils  # noqa: F401
from fastad.distributions.bernoulli import Bernoulli
from fastad.distributions.categorical import Categorical
from fastad.distributions.distribution import Distribution
from fastad.distributions.exponential import Exponential
from fastad.distributions.independent import Independent
from fastad.distributions.kl import kl_divergence, register_kl
from fastad.distributions.multivariate_normal import MultivariateNormal
from fastad.distributions.normal import Normal
from fastad.distributions.one_hot_categorical import OneHotCategorical
from fastad.distributions.uniform import Uniform

__all__ = ["Bernoulli", "Categorical", "Distribution", "Exponential", "Independent",
           "MultivariateNormal", "Normal",
           "OneHotCategorical", "Uniform", "kl_divergence", "register_kl"]
