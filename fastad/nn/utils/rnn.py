"""torch.nn.utils.rnn's padding of variable-length sequences."""
from collections.abc import Iterable

import fastad

__all__ = ["pad_sequence"]


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
