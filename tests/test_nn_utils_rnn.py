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


def _packed_round_trip(lib, batch_first, enforce_sorted, lengths):
    rng = np.random.default_rng(3)
    steps, batch = max(lengths) + 1, len(lengths)
    shape = (batch, steps, 2) if batch_first else (steps, batch, 2)
    x = lib.tensor(rng.standard_normal(shape), requires_grad=True)
    rnn = lib.nn.utils.rnn
    packed = rnn.pack_padded_sequence(x, lib.tensor(lengths), batch_first=batch_first,
                                      enforce_sorted=enforce_sorted)
    padded, out_lengths = rnn.pad_packed_sequence(packed, batch_first=batch_first,
                                                  padding_value=-1.0, total_length=steps)
    weights = lib.tensor(rng.standard_normal(tuple(padded.shape)))
    grad, = lib.autograd.grad((padded * weights).sum() + packed.data.sum(), x)
    return packed, padded, out_lengths, grad


@needs_torch
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted,lengths", [(True, [4, 4, 2, 1]), (False, [2, 4, 1, 4])])
def test_pack_and_pad_packed_sequence_as_pytorchs(batch_first, enforce_sorted, lengths):
    import torch
    got = _packed_round_trip(fastad, batch_first, enforce_sorted, lengths)
    want = _packed_round_trip(torch, batch_first, enforce_sorted, lengths)
    for a, b in zip(got[0], want[0]):       # data, batch_sizes, sorted and unsorted indices
        assert (a is None) == (b is None)
        if a is not None:
            assert_same(a, b)
    for a, b in zip(got[1:], want[1:]):
        assert_same(a, b)


@needs_torch
def test_pack_sequence_unpack_and_errors():
    import torch
    seqs = [[1.0, 2.0, 3.0], [4.0], [5.0, 6.0]]
    for lib in (fastad, torch):
        rnn = lib.nn.utils.rnn
        packed = rnn.pack_sequence([lib.tensor(s) for s in seqs], enforce_sorted=False)
        assert packed.data.tolist() == [1.0, 5.0, 4.0, 2.0, 6.0, 3.0]
        assert packed.batch_sizes.tolist() == [3, 2, 1]
        assert [t.tolist() for t in rnn.unpack_sequence(packed)] == seqs
        assert type(packed).__name__ == "PackedSequence"
        assert packed.to(lib.float64).data.dtype == lib.float64
        with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
            rnn.pack_sequence([lib.tensor(s) for s in seqs])
        with pytest.raises(RuntimeError, match="Length of all samples has to be greater than 0"):
            rnn.pack_padded_sequence(lib.zeros(3, 2), [2, 0])
        with pytest.raises(ValueError, match="Expected total_length to be at least"):
            rnn.pad_packed_sequence(packed, total_length=2)
