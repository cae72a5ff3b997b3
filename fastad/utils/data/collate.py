"""default_collate and default_convert, as torch.utils.data._utils.collate."""
import collections.abc
import copy
import re

import numpy as np

import fastad

__all__ = ["default_collate", "default_convert"]

_STR_OBJ = re.compile(r"[SaUO]")   # numpy dtypes that do not become tensors

_ERR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        "found {}")


def _rebuild(elem, pairs):
    """A mapping like elem (same type when it allows) holding pairs."""
    try:
        if isinstance(elem, collections.abc.MutableMapping):
            clone = copy.copy(elem)
            clone.update(pairs)
            return clone
        return type(elem)(pairs)
    except TypeError:
        return dict(pairs)


def _resequence(elem, items):
    """A sequence like elem (same type when it allows) holding items."""
    try:
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            for i, item in enumerate(items):
                clone[i] = item
            return clone
        return type(elem)(items)
    except TypeError:
        return list(items)


def default_collate(batch):
    """Stacks a list of samples into a batch: tensors, numpy arrays and numbers
    become tensors with a leading batch dimension, and mappings, namedtuples and
    sequences are collated field by field (a tuple's fields come back as a list,
    as in PyTorch)."""
    elem = batch[0]
    if isinstance(elem, fastad.Tensor):
        return fastad.stack(batch, 0)
    if isinstance(elem, np.ndarray):
        if _STR_OBJ.search(elem.dtype.str) is not None:
            raise TypeError(_ERR.format(elem.dtype))
        return default_collate([fastad.as_tensor(b) for b in batch])
    if isinstance(elem, (np.bool_, np.number, np.object_)):
        return fastad.as_tensor(np.asarray(batch))
    if isinstance(elem, float):
        return fastad.tensor(batch, dtype=fastad.float64)
    if isinstance(elem, int):
        return fastad.tensor(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return _rebuild(elem, {key: default_collate([d[key] for d in batch]) for key in elem})
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(samples) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if not all(len(e) == size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [default_collate(samples) for samples in zip(*batch)]
        return columns if isinstance(elem, tuple) else _resequence(elem, columns)
    raise TypeError(_ERR.format(type(elem)))


def default_convert(data):
    """numpy arrays (and numpy scalars) in data become tensors; the rest is kept,
    containers converted element by element."""
    if isinstance(data, fastad.Tensor):
        return data
    if isinstance(data, (np.ndarray, np.bool_, np.number)):
        if isinstance(data, np.ndarray) and _STR_OBJ.search(data.dtype.str) is not None:
            return data
        return fastad.as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return _rebuild(data, {key: default_convert(data[key]) for key in data})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _resequence(data, [default_convert(d) for d in data])
    return data
