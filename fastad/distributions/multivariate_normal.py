"""MultivariateNormal(loc, covariance_matrix=None, precision_matrix=None,
scale_tril=None), as torch.distributions.MultivariateNormal."""
import math

import fastad
from fastad.distributions import constraints
from fastad.distributions.distribution import Distribution, _CentredAtLoc
from fastad.distributions.utils import _standard_normal, lazy_property

__all__ = ["MultivariateNormal"]


def _batch_mv(bmat, bvec):
    """Matrix-vector products over broadcast batches, summed a column at a time
    in order, as PyTorch's CPU kernel sums them: its samples' bits."""
    out = bmat[..., 0] * bvec[..., :1]
    for k in range(1, bvec.shape[-1]):
        out = out + bmat[..., k] * bvec[..., k:k + 1]
    return out


def _batch_mahalanobis(bL, bx):
    """x^T (L L^T)^-1 x over the batches of x, L broadcast against them: the
    squared norm of L^-1 x."""
    # tril: PyTorch's triangular solve reads (and differentiates) the lower triangle only
    L = bL.tril().expand(tuple(bx.shape[:-1]) + tuple(bL.shape[-2:]))
    return fastad.linalg.solve(L, bx.unsqueeze(-1)).squeeze(-1).pow(2).sum(-1)


def _precision_to_scale_tril(P):
    """The lower Cholesky factor of P's inverse, through the Cholesky factor of
    P with its rows and columns reversed, as PyTorch computes it."""
    Lf = fastad.linalg.cholesky(fastad.flip(P, (-2, -1)))
    L_inv = fastad.transpose(fastad.flip(Lf, (-2, -1)), -2, -1)
    eye = fastad.eye(P.shape[-1], dtype=P.dtype)
    return fastad.linalg.solve(L_inv, eye.expand(L_inv.shape)).tril()


class MultivariateNormal(_CentredAtLoc, Distribution):
    """The normal distribution over vectors with mean loc and covariance
    L L^T, given as covariance_matrix, precision_matrix (its inverse) or its
    lower Cholesky factor scale_tril (exactly one). Samples are loc + L @ eps
    with eps the standard normal draws of PyTorch's, summed as PyTorch sums
    them, so the same seed gives the same samples bit for bit given the same L:
    from scale_tril always, from a float64 covariance_matrix too; a float32
    covariance_matrix and a precision_matrix factorise (numpy's LAPACK, a
    general solve) within an ulp of PyTorch's L, not always to its bits.
    rsample and log_prob are differentiable in every parameter."""
    arg_constraints = {"loc": constraints.real_vector,
                       "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        if loc.dim() < 1:
            raise ValueError("loc must be at least one-dimensional.")
        given = [m for m in (covariance_matrix, scale_tril, precision_matrix) if m is not None]
        if len(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or scale_tril "
                             "may be specified.")
        matrix = given[0]
        name = ("scale_tril" if scale_tril is not None else "covariance_matrix"
                if covariance_matrix is not None else "precision_matrix")
        if matrix.dim() < 2:
            raise ValueError(f"{'scale_tril matrix' if name == 'scale_tril' else name} must be "
                             "at least two-dimensional, with optional leading batch dimensions")
        batch_shape = fastad.broadcast_shapes(tuple(matrix.shape[:-2]), tuple(loc.shape[:-1]))
        setattr(self, name, matrix.expand(tuple(batch_shape) + (-1, -1)))
        self.loc = loc.expand(tuple(batch_shape) + (-1,))
        super().__init__(batch_shape, self.loc.shape[-1:], validate_args=validate_args)
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = fastad.linalg.cholesky(covariance_matrix)
        else:
            self._unbroadcasted_scale_tril = _precision_to_scale_tril(precision_matrix)

    def expand(self, batch_shape, _instance=None):
        new = self._expanded(MultivariateNormal, batch_shape, _instance,
                             (("loc", 1), ("covariance_matrix", 2), ("precision_matrix", 2),
                              ("scale_tril", 2)), self.event_shape)
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril
        return new

    def _full(self, *event):
        return tuple(self._batch_shape) + tuple(self._event_shape) * len(event)

    @lazy_property
    def scale_tril(self):
        return self._unbroadcasted_scale_tril.expand(self._full(1, 1))

    @lazy_property
    def covariance_matrix(self):
        L = self._unbroadcasted_scale_tril
        return fastad.matmul(L, L.mT).expand(self._full(1, 1))

    @lazy_property
    def precision_matrix(self):
        L = self._unbroadcasted_scale_tril
        return fastad.linalg.inv(fastad.matmul(L, L.mT)).expand(self._full(1, 1))

    @property
    def variance(self):
        return self._unbroadcasted_scale_tril.pow(2).sum(-1).expand(self._full(1))

    def rsample(self, sample_shape=()):
        eps = _standard_normal(self._extended_shape(sample_shape), self.loc.dtype)
        return self.loc + _batch_mv(self._unbroadcasted_scale_tril, eps)

    def _half_log_det(self):
        return self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        M = _batch_mahalanobis(self._unbroadcasted_scale_tril, value - self.loc)
        return -0.5 * (self._event_shape[0] * math.log(2 * math.pi) + M) - self._half_log_det()

    def entropy(self):
        H = 0.5 * self._event_shape[0] * (1.0 + math.log(2 * math.pi)) + self._half_log_det()
        return H if len(self._batch_shape) == 0 else H.expand(self._batch_shape)
