"""Modules of the losses in fastad/nn/_losses.py, built by modules._module
with PyTorch's constructor parameters in PyTorch's order; a class weight is a
buffer, as in PyTorch's _WeightedLoss (so it is in the state_dict)."""
from fastad.nn import functional as F
from fastad.nn.modules import _LEGACY, NLLLoss, _module, _weighted

_LOSSES = {
    "CosineEmbeddingLoss": (F.cosine_embedding_loss, (("margin", 0.0),) + _LEGACY),
    "MarginRankingLoss": (F.margin_ranking_loss, (("margin", 0.0),) + _LEGACY),
    "HingeEmbeddingLoss": (F.hinge_embedding_loss, (("margin", 1.0),) + _LEGACY),
    "SoftMarginLoss": (F.soft_margin_loss, _LEGACY),
    "MultiLabelMarginLoss": (F.multilabel_margin_loss, _LEGACY),
    "MultiLabelSoftMarginLoss": (F.multilabel_soft_margin_loss, (("weight", None),) + _LEGACY),
    "MultiMarginLoss": (F.multi_margin_loss, (("p", 1), ("margin", 1.0), ("weight", None))
                        + _LEGACY),
    "TripletMarginLoss": (F.triplet_margin_loss, (("margin", 1.0), ("p", 2.0), ("eps", 1e-6),
                                                  ("swap", False)) + _LEGACY),
    "TripletMarginWithDistanceLoss": (F.triplet_margin_with_distance_loss,
                                      (("distance_function", None), ("margin", 1.0),
                                       ("swap", False), ("reduction", "mean"))),
    "PoissonNLLLoss": (F.poisson_nll_loss, (("log_input", True), ("full", False),
                                            ("size_average", None), ("eps", 1e-8),
                                            ("reduce", None), ("reduction", "mean"))),
    "GaussianNLLLoss": (F.gaussian_nll_loss, (("full", False), ("eps", 1e-6),
                                              ("reduction", "mean"))),
}

__all__ = list(_LOSSES) + ["NLLLoss2d"]


for _name, (_fn, _params) in _LOSSES.items():
    globals()[_name] = _weighted(_module(_name, _fn, _params,
                                         f"Module form of F.{_fn.__name__}.", show=False))


class NLLLoss2d(NLLLoss):
    """PyTorch's deprecated name of NLLLoss for image-shaped inputs."""
