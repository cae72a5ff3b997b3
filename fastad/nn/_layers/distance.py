"""CosineSimilarity and PairwiseDistance: the functional forms with their options."""
from fastad.nn import functional as F
from fastad.nn.modules import _module

__all__ = ["CosineSimilarity", "PairwiseDistance"]

CosineSimilarity = _module("CosineSimilarity", F.cosine_similarity, (("dim", 1), ("eps", 1e-8)),
                           "Cosine similarity of two inputs along dim.", show=False)
PairwiseDistance = _module("PairwiseDistance", F.pairwise_distance,
                           (("p", 2.0), ("eps", 1e-6), ("keepdim", False)),
                           "p-norm distance between two inputs, over their last dim.", show=False)
