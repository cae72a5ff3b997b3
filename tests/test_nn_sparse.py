"""embedding / nn.Embedding and one_hot against PyTorch: values, the weight's
gradient (repeated indices summed, padding_idx row left out, scale_grad_by_freq),
max_norm's in-place renorm, init (N(0, 1), padding row zeroed) with the same seed."""
import numpy as np
import pytest

import fastad
import fastad.nn as nn
import fastad.nn.functional as F
from conftest import check_fn, needs_torch
from fastad.gradcheck import gradcheck

IDX = np.array([[0, 2, 5], [2, 2, 1], [5, 0, 3]])


@needs_torch
@pytest.mark.parametrize("kw", [{}, {"padding_idx": 2}, {"padding_idx": -1},
                                {"scale_grad_by_freq": True}])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_embedding_matches_torch(kw, dtype):
    w = np.random.default_rng(0).standard_normal((6, 4)).astype(dtype)
    check_fn(lambda lib, t: lib.nn.functional.embedding(lib.tensor(IDX), t, **kw), [w])


@needs_torch
def test_max_norm_renormalises_the_looked_up_rows_in_place():
    import torch
    w = np.random.default_rng(1).standard_normal((6, 4)) * 3
    a, b = fastad.tensor(w), torch.tensor(w)
    ya = F.embedding(fastad.tensor(IDX), a, max_norm=1.5)
    yb = torch.nn.functional.embedding(torch.tensor(IDX), b, max_norm=1.5)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ya.numpy(), yb.numpy(), rtol=1e-12)
    assert np.allclose(a.numpy()[4], w[4])   # a row not looked up is left alone


def test_embedding_is_differentiable_twice():
    w = fastad.tensor(np.random.default_rng(2).standard_normal((6, 3)), requires_grad=True)
    assert gradcheck(lambda t: F.embedding(fastad.tensor(IDX), t) ** 2, [w])
    g = fastad.autograd.grad(F.embedding(fastad.tensor(IDX), w).sum(), w)[0]
    np.testing.assert_array_equal(g.numpy()[:, 0], np.bincount(IDX.ravel(), minlength=6))


def test_embedding_errors():
    w = fastad.randn(4, 3)
    with pytest.raises(IndexError, match="index out of range in self"):
        F.embedding(fastad.tensor([4]), w)
    with pytest.raises(RuntimeError, match="Expected tensor for argument #1 'indices'"):
        F.embedding(fastad.tensor([1.0]), w)


@needs_torch
def test_module_init_state_dict_and_repr_match_torch():
    import torch
    for kw in ({}, {"padding_idx": 1, "max_norm": 2.0}):
        fastad.manual_seed(0)
        torch.manual_seed(0)
        a, b = nn.Embedding(10, 4, **kw), torch.nn.Embedding(10, 4, **kw)
        np.testing.assert_array_equal(a.weight.detach().numpy(), b.weight.detach().numpy())
        assert repr(a) == repr(b)
        assert {k: tuple(v.shape) for k, v in a.state_dict().items()} == \
            {k: tuple(v.shape) for k, v in b.state_dict().items()}
    assert (nn.Embedding(5, 3, padding_idx=2).weight.detach().numpy()[2] == 0).all()


def test_from_pretrained_freezes_by_default():
    w = fastad.randn(4, 3)
    e = nn.Embedding.from_pretrained(w)
    assert not e.weight.requires_grad and (e.weight.detach().numpy() == w.numpy()).all()
    assert nn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad
    out = e(fastad.tensor([3, 0]))
    np.testing.assert_array_equal(out.numpy(), w.numpy()[[3, 0]])


@needs_torch
def test_one_hot_matches_torch():
    import torch
    t = np.array([[0, 3], [2, 1]])
    for n in (-1, 5):
        a = F.one_hot(fastad.tensor(t), n)
        b = torch.nn.functional.one_hot(torch.tensor(t), n)
        assert a.dtype == fastad.int64
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes."):
        F.one_hot(fastad.tensor([3]), 2)
    with pytest.raises(RuntimeError, match="one_hot is only applicable to index tensor"):
        F.one_hot(fastad.tensor([1.0]))
