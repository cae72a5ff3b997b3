"""nn.utils.rnn.pad_sequence against PyTorch: values, dtype, layout, padding
side and value, gradients, errors."""
import numpy as np
import pytest

import fastad
from conftest import assert_same, needs_torch
from fastad.nn.utils.rnn import pad_sequence

LENGTHS = [3, 1, 4, 0]


def _padded(lib, batch_first, padding_side, padding_value, trailing):
    rng = np.random.default_rng(0)
    seqs = [lib.tensor(rng.standard_normal((n,) + trailing), requires_grad=True)
            for n in LENGTHS]
    out = lib.nn.utils.rnn.pad_sequence(seqs, batch_first=batch_first,
                                        padding_value=padding_value, padding_side=padding_side)
    weights = lib.tensor(rng.standard_normal(tuple(out.shape)))
    grads = lib.autograd.grad((out * weights).sum(), seqs)
    return out, grads


@needs_torch
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("trailing", [(), (2, 3)])
def test_pad_sequence_as_pytorchs(batch_first, padding_side, trailing):
    import torch
    got, got_grads = _padded(fastad, batch_first, padding_side, -2.5, trailing)
    want, want_grads = _padded(torch, batch_first, padding_side, -2.5, trailing)
    assert_same(got, want)
    for g, w in zip(got_grads, want_grads):
        assert_same(g, w)


@needs_torch
def test_dtype_is_the_first_sequences_and_the_padding_is_cast():
    import torch
    for lib in (fastad, torch):
        out = lib.nn.utils.rnn.pad_sequence([lib.ones(2, dtype=lib.int64), lib.ones(3)],
                                            padding_value=-1.5)
        if lib is fastad:
            got = out
        else:
            want = out
    assert_same(got, want)


def test_errors():
    with pytest.raises(RuntimeError, match="received an empty list of sequences"):
        pad_sequence([])
    with pytest.raises(RuntimeError, match="Expected iterable"):
        pad_sequence(3)
    with pytest.raises(TypeError, match="expected Tensor as element 1 in argument 0, but got str"):
        pad_sequence([fastad.ones(2), "x"])
    with pytest.raises(RuntimeError, match="Expected padding_side to be one of left or right"):
        pad_sequence([fastad.ones(2)], padding_side="middle")
    with pytest.raises(RuntimeError, match="trailing sizes"):
        pad_sequence([fastad.ones(2, 3), fastad.ones(2, 4)])
    with pytest.raises(RuntimeError):
        pad_sequence([fastad.tensor(1.0), fastad.tensor(2.0)])
