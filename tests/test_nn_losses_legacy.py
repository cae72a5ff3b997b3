"""The losses' legacy size_average/reduce arguments and the weight of the
pointwise losses, against PyTorch (values, gradients, warnings, errors)."""
import warnings

import numpy as np
import pytest

import fastad
from conftest import assert_same, needs_torch

pytestmark = needs_torch

LEGACY = [(None, None), (True, None), (False, None), (None, False), (False, True), (True, False)]
POINTWISE = ["mse_loss", "l1_loss", "smooth_l1_loss", "binary_cross_entropy",
             "binary_cross_entropy_with_logits", "kl_div"]


def _run(lib, name, size_average, reduce, **kw):
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.uniform(0.1, 0.9, (3, 4)), requires_grad=True)
    if name == "cross_entropy" or name == "nll_loss":
        target = lib.tensor([0, 3, 1])
        inp = x.log_softmax(1) if name == "nll_loss" else x
    else:
        target = lib.tensor(rng.uniform(0.1, 0.9, (3, 4)))
        inp = x
    fn = getattr(lib.nn.functional, name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loss = fn(inp, target, size_average=size_average, reduce=reduce, **kw)
    g = lib.tensor(rng.standard_normal(tuple(loss.shape)))
    (gx,) = lib.autograd.grad(loss, x, g)
    return loss, gx, [str(w.message) for w in caught]


@pytest.mark.parametrize("name", POINTWISE + ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("size_average,reduce", LEGACY)
def test_legacy_reduction_arguments_as_pytorchs(name, size_average, reduce):
    import torch
    got = _run(fastad, name, size_average, reduce)
    want = _run(torch, name, size_average, reduce)
    assert_same(got[0], want[0])
    assert_same(got[1], want[1])
    assert got[2] == want[2]


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_weighted_pointwise_losses_as_pytorchs(name, reduction):
    import torch
    out = []
    for lib in (fastad, torch):
        rng = np.random.default_rng(1)
        x = lib.tensor(rng.standard_normal((2, 5)), requires_grad=True)
        t = lib.tensor(rng.standard_normal((2, 5)))
        w = lib.tensor(rng.uniform(0.5, 2.0, (2, 5)), requires_grad=True)
        loss = getattr(lib.nn.functional, name)(x, t, reduction=reduction, weight=w)
        gx, gw = lib.autograd.grad(loss.sum(), (x, w))
        out.append((loss, gx, gw))
    for g, w in zip(*out):
        assert_same(g, w)


def test_weight_of_another_shape_is_refused():
    for lib in (fastad, __import__("torch")):
        with pytest.raises(ValueError, match="Weights and input must have the same size."):
            lib.nn.functional.mse_loss(lib.ones(2, 3), lib.zeros(2, 3), weight=lib.ones(3))


MODULES = ["MSELoss", "L1Loss", "SmoothL1Loss", "BCELoss", "BCEWithLogitsLoss", "KLDivLoss",
           "CrossEntropyLoss", "NLLLoss", "SoftMarginLoss", "MarginRankingLoss"]


def _module_result(lib, name, args, kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = getattr(lib.nn, name)(*args, **kwargs)
    return m.reduction, [str(w.message) for w in caught], sorted(vars(m).keys() & {
        "size_average", "reduce"})


@pytest.mark.parametrize("name", MODULES)
@pytest.mark.parametrize("size_average,reduce", LEGACY)
def test_loss_modules_turn_legacy_arguments_into_a_reduction_at_construction(
        name, size_average, reduce):
    import torch
    kwargs = dict(size_average=size_average, reduce=reduce)
    assert _module_result(fastad, name, (), kwargs) == _module_result(torch, name, (), kwargs)


def test_loss_modules_take_pytorchs_positional_order():
    import torch
    for name, args in [("MSELoss", (False,)), ("CrossEntropyLoss", (None, None, 1, False)),
                       ("NLLLoss", (None, True, 2)), ("KLDivLoss", (None, None, "sum", True)),
                       ("SmoothL1Loss", (None, None, "sum", 0.5))]:
        ours, theirs = getattr(fastad.nn, name)(*args), getattr(torch.nn, name)(*args)
        for attr in ("reduction", "ignore_index", "log_target", "beta"):
            assert getattr(ours, attr, None) == getattr(theirs, attr, None), (name, attr)
    with pytest.raises(TypeError, match="takes from 1 to 4 positional arguments but 5"):
        fastad.nn.MSELoss(None, None, "mean", 1)


def test_class_weights_of_loss_modules_are_buffers():
    import torch
    for lib in (fastad, torch):
        w = lib.tensor([1.0, 2.0, 0.5])
        assert list(lib.nn.CrossEntropyLoss(w).state_dict()) == ["weight"]
        assert list(lib.nn.NLLLoss().state_dict()) == []
        m = lib.nn.BCEWithLogitsLoss(pos_weight=w)
        assert list(m.state_dict()) == ["pos_weight"] and "pos_weight" in dict(m.named_buffers())
    x, t = np.array([[0.3, -1.0, 2.0]]), np.array([[1.0, 0.0, 1.0]])
    assert_same(fastad.nn.BCEWithLogitsLoss(pos_weight=fastad.tensor([1.0, 2.0, 0.5]))(
        fastad.tensor(x), fastad.tensor(t)), torch.nn.BCEWithLogitsLoss(
            pos_weight=torch.tensor([1.0, 2.0, 0.5]))(torch.tensor(x), torch.tensor(t)))
