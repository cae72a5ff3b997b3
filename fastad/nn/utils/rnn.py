"""torch.nn.utils.rnn: padding of variable-length sequences and PackedSequence,
the batch of sequences the recurrent layers run each to its own length."""
from collections import namedtuple
from collections.abc import Iterable

import numpy as np

import fastad

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence",
           "pad_sequence", "unpad_sequence", "pack_sequence", "unpack_sequence"]


class PackedSequence(namedtuple("PackedSequence_",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """Sequences sorted longest first and laid out step after step: data holds
    step t's batch_sizes[t] rows (the sequences still running) after step
    t-1's; sorted_indices is the sort (None: given sorted), unsorted_indices
    its inverse."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:      # PackedSequence(*pack_padded_sequence's pair), as PyTorch
            data, batch_sizes = data
        if batch_sizes.dtype != fastad.int64 or batch_sizes.dim() != 1:
            raise ValueError("batch_sizes should always be a 1D CPU int64 tensor, got "
                             f"{batch_sizes.dim()}D {batch_sizes.dtype}")
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else type(self)(
            data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def cpu(self):
        return self

    def pin_memory(self):
        return self

    def double(self):
        return self.to(dtype=fastad.float64)

    def float(self):
        return self.to(dtype=fastad.float32)

    def half(self):
        return self.to(dtype=fastad.float16)

    def long(self):
        return self.to(dtype=fastad.int64)

    def int(self):
        return self.to(dtype=fastad.int32)

    @property
    def is_cuda(self):
        return False

    def is_pinned(self):
        return False


def invert_permutation(permutation):
    """The permutation that undoes permutation (None stays None)."""
    if permutation is None:
        return None
    inverse = np.empty(permutation.numel(), dtype=np.int64)
    inverse[permutation.numpy()] = np.arange(permutation.numel())
    return fastad.from_numpy(inverse)


def _positions(batch_sizes, batch):
    """Where each row of a PackedSequence's data sits in its padded (T * B)
    time-major layout."""
    return np.concatenate([t * batch + np.arange(b) for t, b in enumerate(batch_sizes)])


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """A PackedSequence of the padded input (T x B x *, B x T x * with
    batch_first) whose sequence b is lengths[b] long; unless enforce_sorted, the
    sequences need not come longest first."""
    lengths = np.asarray(lengths.numpy() if isinstance(lengths, fastad.Tensor) else lengths,
                         dtype=np.int64)
    if lengths.ndim != 1:
        raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got "
                           f"{lengths.ndim}D tensor")
    sorted_indices = None
    if not enforce_sorted:
        order = np.argsort(-lengths, kind="stable")
        lengths, sorted_indices = lengths[order], fastad.from_numpy(order)
        input = input.index_select(0 if batch_first else 1, sorted_indices)
    if batch_first:
        input = input.transpose(0, 1)
    steps, batch = input.shape[:2]
    if len(lengths) != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{len(lengths)} (batch_size={batch})")
    if batch and lengths[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element "
                           "in 'lengths' that is <= 0")
    if np.any(np.diff(lengths) > 0):
        raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                           "`enforce_sorted` is True. You can pass `enforce_sorted=False` to "
                           "pack_padded_sequence and/or pack_sequence to sidestep this "
                           "requirement if you do not need ONNX exportability.")
    if batch and lengths[0] > steps:
        raise RuntimeError(f"Expected sequence length to be at most {steps}, but got "
                           f"{lengths[0]}")
    batch_sizes = (lengths[None, :] > np.arange(lengths[0] if batch else 0)[:, None]).sum(1)
    flat = input.reshape((steps * batch,) + tuple(input.shape[2:]))
    data = flat[fastad.from_numpy(_positions(batch_sizes, batch))]
    return PackedSequence(data, fastad.from_numpy(batch_sizes.astype(np.int64)), sorted_indices,
                          None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """The inverse of pack_padded_sequence: (padded, lengths), the sequences in
    their original order, padded with padding_value to the longest (or to
    total_length)."""
    data, batch_sizes = sequence.data, sequence.batch_sizes.numpy()
    steps = len(batch_sizes)
    if total_length is not None:
        if total_length < steps:
            raise ValueError("Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {steps}")
        steps = total_length
    batch = int(batch_sizes[0]) if len(batch_sizes) else 0
    rows = np.full(steps * batch, data.shape[0], dtype=np.int64)    # the padding row
    rows[_positions(batch_sizes, batch)] = np.arange(data.shape[0])
    fill = fastad.full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype)
    padded = fastad.cat([data, fill])[fastad.from_numpy(rows)]
    padded = padded.reshape((steps, batch) + tuple(data.shape[1:]))
    lengths = (batch_sizes[:, None] > np.arange(batch)[None, :]).sum(0).astype(np.int64)
    if batch_first:
        padded = padded.transpose(0, 1)
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(0 if batch_first else 1, sequence.unsorted_indices)
        lengths = lengths[sequence.unsorted_indices.numpy()]
    return padded, fastad.from_numpy(lengths)


def pack_sequence(sequences, enforce_sorted=True):
    """A PackedSequence of a list of sequences (each L_i x *)."""
    lengths = fastad.as_tensor([v.size(0) for v in sequences], dtype=fastad.int64)
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of sequences a padded batch holds, each cut to its length."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [seq[:int(length)] for seq, length in zip(padded_sequences, lengths)]


def unpack_sequence(packed_sequences):
    """The list of sequences a PackedSequence holds, in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """The sequences (each L_i x *) padded with padding_value to the longest, stacked
    as T x B x * (B x T x * with batch_first), in the first sequence's dtype; the
    padding goes after each sequence (padding_side="right") or before it."""
    if not isinstance(sequences, Iterable):
        raise RuntimeError("pad_sequence: Expected iterable for input sequences, but got arg of "
                           f"type: {type(sequences)}")
    sequences = tuple(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    for i, s in enumerate(sequences):
        if not isinstance(s, fastad.Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got "
                            f"{type(s).__name__}")
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got "
                           f"{padding_side}.")
    first = sequences[0]
    if first.dim() == 0:
        raise RuntimeError("pad_sequence: the sequences must have at least one dimension, "
                           "the first is 0-d")
    trailing = tuple(first.shape[1:])
    longest = max(s.shape[0] if s.dim() else 0 for s in sequences)
    padded = []
    for i, s in enumerate(sequences):
        shape = tuple(s.shape)
        if shape[1:] != trailing:
            raise RuntimeError(f"pad_sequence: the sequences must share the first's trailing "
                               f"sizes {list(trailing)}, sequence {i} has {list(shape[1:])}")
        s = s.to(first.dtype)
        n = longest - shape[0]
        if n:
            pad = fastad.full((n,) + trailing, padding_value).to(first.dtype)
            s = fastad.cat([s, pad] if padding_side == "right" else [pad, s])
        padded.append(s)
    return fastad.stack(padded, 0 if batch_first else 1)
