"""save/load: numpy's .npz plus a JSON manifest, read with allow_pickle=False,
so that loading a file never runs code."""
import json
import numbers
import zipfile

import numpy as np

from fastad._tensor import Tensor, _dtype_by_name, tensor

_MANIFEST = "__fastad_manifest__"


def _encode(obj, arrays):
    if isinstance(obj, Tensor):
        key = f"t{len(arrays)}"
        arrays[key] = np.asarray(obj.detach().numpy())
        return {"tensor": key, "dtype": obj.dtype.name, "requires_grad": obj.requires_grad}
    if isinstance(obj, dict):
        items = list(obj.items())
        for k, _ in items:
            if not isinstance(k, (str, int)):
                raise TypeError(f"fastad.save: dict keys must be str or int, got {type(k).__name__}")
        return {"dict": [[k, _encode(v, arrays)] for k, v in items]}
    if isinstance(obj, (list, tuple)):
        return {"list" if isinstance(obj, list) else "tuple": [_encode(v, arrays) for v in obj]}
    if obj is None or isinstance(obj, (bool, str)):
        return {"value": obj}
    if isinstance(obj, numbers.Integral):
        return {"value": int(obj)}
    if isinstance(obj, numbers.Real):
        return {"float": repr(float(obj))}
    raise TypeError(f"fastad.save: cannot store an object of type {type(obj).__name__} "
                    "(tensors, numbers, strings and nested dicts/lists of them only)")


def _decode(node, arrays):
    if not isinstance(node, dict) or len(node) == 0:
        raise ValueError("fastad.load: corrupt manifest")
    if "tensor" in node:
        arr = arrays[node["tensor"]]
        t = tensor(arr, dtype=_dtype_by_name(node["dtype"]))
        if node.get("requires_grad"):
            t.requires_grad_(True)
        return t
    if "dict" in node:
        return {k: _decode(v, arrays) for k, v in node["dict"]}
    if "list" in node:
        return [_decode(v, arrays) for v in node["list"]]
    if "tuple" in node:
        return tuple(_decode(v, arrays) for v in node["tuple"])
    if "float" in node:
        return float(node["float"])
    if "value" in node:
        return node["value"]
    raise ValueError(f"fastad.load: corrupt manifest entry {node!r}")


def save(obj, f):
    arrays = {}
    manifest = _encode(obj, arrays)
    arrays[_MANIFEST] = np.frombuffer(json.dumps(manifest).encode(), dtype=np.uint8)
    if isinstance(f, str):
        with open(f, "wb") as fh:
            np.savez(fh, **arrays)
    else:
        np.savez(f, **arrays)


def load(f, map_location=None, weights_only=True):
    try:
        with np.load(f, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise RuntimeError(f"fastad.load: not a fastad file or truncated ({e})") from None
    except ValueError as e:
        raise RuntimeError(f"fastad.load: refused to load ({e})") from None
    if _MANIFEST not in arrays:
        raise RuntimeError("fastad.load: not a fastad file (no manifest)")
    try:
        manifest = json.loads(arrays.pop(_MANIFEST).tobytes().decode())
        return _decode(manifest, arrays)
    except (ValueError, KeyError, TypeError) as e:
        raise RuntimeError(f"fastad.load: corrupt file ({e})") from None
