"""The losses of fastad/nn/_losses.py and their modules against PyTorch: values
and the gradients of every differentiable input under each reduction, 1-D
(unbatched) inputs, the legacy size_average/reduce arguments, the modules'
state_dict (a class weight is a buffer) and errors."""
import numpy as np
import pytest

import fastad
from conftest import needs_torch

pytestmark = needs_torch
R = np.random.default_rng(0)
PM = np.where(R.random(5) > 0.5, 1.0, -1.0)
MT = np.array([[3, 0, -1, 1], [1, 2, 3, -1], [0, -1, 2, 2]])


def _compare(fn, arrays, consts=()):
    """fn(lib, *tensors) in both libraries; inputs at the indices in consts do
    not require grad (PyTorch refuses gradients for targets and class weights)."""
    import torch
    res = []
    for lib in (fastad, torch):
        ins = [lib.tensor(a, requires_grad=i not in consts) for i, a in enumerate(arrays)]
        out = fn(lib, *ins)
        w = np.cos(np.arange(out.numel())).reshape(tuple(out.shape))
        (out * lib.tensor(w)).sum().backward()
        res.append((out, ins))
    (oa, ia), (ob, ib) = res
    assert tuple(oa.shape) == tuple(ob.shape)
    np.testing.assert_allclose(oa.detach().numpy(), ob.detach().numpy(), atol=1e-10)
    for i, (a, b) in enumerate(zip(ia, ib)):
        if i not in consts:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-10)


def F(lib):
    return lib.nn.functional


LOSSES = [
    (lambda lib, a, b, t, **kw: F(lib).cosine_embedding_loss(a, b, t, margin=0.2, **kw),
     [R.standard_normal((5, 4)), R.standard_normal((5, 4)), PM], (2,)),
    (lambda lib, a, b, t, **kw: F(lib).margin_ranking_loss(a, b, t, margin=0.3, **kw),
     [R.standard_normal(5), R.standard_normal(5), PM], ()),
    (lambda lib, a, t, **kw: F(lib).hinge_embedding_loss(a, t, margin=0.8, **kw),
     [R.standard_normal(5), PM], (1,)),
    (lambda lib, a, t, **kw: F(lib).soft_margin_loss(a, t, **kw), [R.standard_normal(5), PM],
     (1,)),
    (lambda lib, a, t, w, **kw: F(lib).multilabel_soft_margin_loss(a, t, weight=w, **kw),
     [R.standard_normal((3, 4)), (R.random((3, 4)) > 0.5) * 1.0, R.random(4)], (1,)),
    (lambda lib, a, **kw: F(lib).multi_margin_loss(a, lib.tensor([1, 0, 3]), **kw),
     [R.standard_normal((3, 4))], ()),
    (lambda lib, a, w, **kw: F(lib).multi_margin_loss(a, lib.tensor([1, 0, 3]), p=2, margin=0.7,
                                                      weight=w, **kw),
     [R.standard_normal((3, 4)), R.random(4)], (1,)),
    (lambda lib, a, **kw: F(lib).multilabel_margin_loss(a, lib.tensor(MT), **kw),
     [R.standard_normal((3, 4))], ()),
    (lambda lib, a, p, n, **kw: F(lib).triplet_margin_loss(a, p, n, margin=0.5, p=1.5, swap=True,
                                                           **kw),
     [R.standard_normal((4, 3)) for _ in range(3)], ()),
    (lambda lib, a, p, n, **kw: F(lib).triplet_margin_with_distance_loss(
        a, p, n, distance_function=lambda x, y: 1 - F(lib).cosine_similarity(x, y), **kw),
     [R.standard_normal((4, 3)) for _ in range(3)], ()),
    (lambda lib, a, t, **kw: F(lib).poisson_nll_loss(a, t, **kw),
     [R.standard_normal(6), R.random(6) * 3], ()),
    (lambda lib, a, t, **kw: F(lib).poisson_nll_loss(a, t, log_input=False, full=True, **kw),
     [R.random(6) + 0.1, R.random(6) * 3], ()),
    (lambda lib, a, t, v, **kw: F(lib).gaussian_nll_loss(a, t, v, **kw),
     [R.standard_normal((4, 3)), R.standard_normal((4, 3)), R.random((4, 3))], ()),
    (lambda lib, a, t, v, **kw: F(lib).gaussian_nll_loss(a, t, v, full=True, eps=0.3, **kw),
     [R.standard_normal((4, 3)), R.standard_normal((4, 3)), R.random(4)], ()),
]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("k", range(len(LOSSES)))
def test_losses_match_torch(k, reduction):
    fn, arrays, consts = LOSSES[k]
    _compare(lambda lib, *ts: fn(lib, *ts, reduction=reduction), arrays, consts)


def test_unbatched_inputs_match_torch():
    _compare(lambda lib, a: F(lib).multi_margin_loss(a, lib.tensor(2)), [R.standard_normal(4)])
    _compare(lambda lib, a: F(lib).multilabel_margin_loss(a, lib.tensor([2, 0, -1, 1])),
             [R.standard_normal(4)])
    _compare(lambda lib, a, b, t: F(lib).cosine_embedding_loss(a, b, t),
             [R.standard_normal(4), R.standard_normal(4), np.array(1.0)], (2,))


def test_legacy_reduction_arguments():
    x, y = fastad.randn(5), fastad.tensor(PM)
    with pytest.warns(UserWarning, match="reduction='sum'"):
        total = F(fastad).soft_margin_loss(x, y, size_average=False)
    np.testing.assert_allclose(total.item(), F(fastad).soft_margin_loss(x, y, reduction="sum")
                               .item(), rtol=1e-6)
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F(fastad).margin_ranking_loss(x, x, y, reduction="avg")
    with pytest.raises(ValueError, match="var has negative"):
        F(fastad).gaussian_nll_loss(x, x, -fastad.ones(5))
    with pytest.raises(ValueError, match="var is of incorrect size"):
        F(fastad).gaussian_nll_loss(fastad.zeros(4, 3), fastad.zeros(4, 3), fastad.ones(2))


@pytest.mark.parametrize("name,kw,arrays,consts", [
    ("CosineEmbeddingLoss", {"margin": 0.1}, [R.standard_normal((5, 3)),
                                             R.standard_normal((5, 3)), PM], (2,)),
    ("MarginRankingLoss", {}, [R.standard_normal(5), R.standard_normal(5), PM], ()),
    ("HingeEmbeddingLoss", {"reduction": "sum"}, [R.standard_normal(5), PM], (1,)),
    ("SoftMarginLoss", {}, [R.standard_normal(5), PM], (1,)),
    ("MultiLabelSoftMarginLoss", {}, [R.standard_normal((3, 4)), (R.random((3, 4)) > .5) * 1.0],
     (1,)),
    ("TripletMarginLoss", {"margin": 0.7, "swap": True}, [R.standard_normal((4, 3))
                                                         for _ in range(3)], ()),
    ("TripletMarginWithDistanceLoss", {"margin": 0.7}, [R.standard_normal((4, 3))
                                                       for _ in range(3)], ()),
    ("PoissonNLLLoss", {"full": True}, [R.standard_normal(6), R.random(6) * 3], ()),
    ("GaussianNLLLoss", {"full": True}, [R.standard_normal((4, 3)), R.standard_normal((4, 3)),
                                         R.random((4, 3))], ()),
])
def test_loss_modules_match_torch(name, kw, arrays, consts):
    _compare(lambda lib, *ts: getattr(lib.nn, name)(**kw)(*ts), arrays, consts)


def test_weighted_loss_modules_keep_the_weight_as_a_buffer():
    import torch
    for name in ("MultiMarginLoss", "MultiLabelSoftMarginLoss"):
        a = getattr(fastad.nn, name)(weight=fastad.tensor([1.0, 2.0, 3.0, 4.0]))
        b = getattr(torch.nn, name)(weight=torch.tensor([1.0, 2.0, 3.0, 4.0]))
        assert list(a.state_dict()) == list(b.state_dict()) == ["weight"]
        assert repr(a) == repr(b)
    _compare(lambda lib, x: lib.nn.MultiMarginLoss(p=2, weight=lib.tensor([1.0, 2.0, 3.0, 4.0],
                                                                          dtype=x.dtype))(
        x, lib.tensor([1, 0, 3])), [R.standard_normal((3, 4))])
    _compare(lambda lib, x: lib.nn.MultiLabelMarginLoss()(x, lib.tensor(MT)),
             [R.standard_normal((3, 4))])
