"""torch.testing.assert_close: tensors, Python numbers and (nested) sequences and
mappings of them compared with PyTorch's per-dtype tolerances and messages."""
import collections.abc
import numbers

import numpy as np

import fastad

__all__ = ["assert_close"]

# dtype -> (rtol, atol), PyTorch's defaults; other dtypes compare exactly
_TOLERANCES = {fastad.float16: (1e-3, 1e-5), fastad.float32: (1.3e-6, 1e-5),
               fastad.float64: (1e-7, 1e-7)}


class _Mismatch(AssertionError):
    pass


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None,
                 equal_nan=False, check_device=True, check_dtype=True, check_layout=True,
                 check_stride=False, msg=None):
    if (rtol is None) != (atol is None):
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got "
                         f"no {'rtol' if rtol is None else 'atol'}.")
    try:
        _compare(actual, expected, (), rtol, atol, equal_nan, check_dtype)
    except _Mismatch as e:
        text, where = e.args
        if callable(msg):
            text = msg(text)
        elif msg is not None:
            text = msg
        if where:
            text += "\n\nThe failure occurred for item " + "".join(f"[{k!r}]" for k in where)
        raise AssertionError(text) from None


def _compare(actual, expected, where, rtol, atol, equal_nan, check_dtype):
    if isinstance(actual, fastad.Tensor) and isinstance(expected, fastad.Tensor):
        return _compare_tensors(actual, expected, where, rtol, atol, equal_nan, check_dtype)
    if _is_number(actual) and _is_number(expected):
        dt = fastad.int64 if isinstance(actual, numbers.Integral) else fastad.float64
        return _compare_tensors(fastad.tensor(actual, dtype=dt),
                                fastad.tensor(expected, dtype=dt), where, rtol, atol, equal_nan,
                                False)
    if _is_sequence(actual) and _is_sequence(expected):
        if len(actual) != len(expected):
            raise _Mismatch(f"The length of the sequences mismatch: {len(actual)} != "
                            f"{len(expected)}", where)
        for k, (a, e) in enumerate(zip(actual, expected)):
            _compare(a, e, where + (k,), rtol, atol, equal_nan, check_dtype)
        return
    if (isinstance(actual, collections.abc.Mapping)
            and isinstance(expected, collections.abc.Mapping)):
        missing, extra = set(expected) - set(actual), set(actual) - set(expected)
        if missing or extra:
            raise _Mismatch(f"The keys of the mappings do not match:\nMissing keys in the actual "
                            f"mapping: {sorted(missing)}\nAdditional keys in the actual mapping: "
                            f"{sorted(extra)}", where)
        for key in expected:
            _compare(actual[key], expected[key], where + (key,), rtol, atol, equal_nan,
                     check_dtype)
        return
    raise TypeError(f"No comparison pair was able to handle inputs of type {type(actual)} and "
                    f"{type(expected)}.")


def _is_number(x):
    return isinstance(x, numbers.Number) and not isinstance(x, bool)


def _is_sequence(x):
    return isinstance(x, collections.abc.Sequence) and not isinstance(x, str)


def _compare_tensors(actual, expected, where, rtol, atol, equal_nan, check_dtype):
    if actual.shape != expected.shape:
        raise _Mismatch(f"The values for attribute 'shape' do not match: {actual.shape} != "
                        f"{expected.shape}.", where)
    if actual.dtype != expected.dtype and check_dtype:
        raise _Mismatch(f"The values for attribute 'dtype' do not match: {actual.dtype} != "
                        f"{expected.dtype}.", where)
    if rtol is None:    # the looser of the two dtypes' tolerances
        rtol, atol = (max(pair) for pair in zip(_TOLERANCES.get(actual.dtype, (0.0, 0.0)),
                                                _TOLERANCES.get(expected.dtype, (0.0, 0.0))))
    if actual.dtype != expected.dtype:
        common = fastad.promote_types(actual.dtype, expected.dtype)
        actual, expected = actual.to(common), expected.to(common)
    a, e = actual.detach().numpy(), expected.detach().numpy()
    if a.dtype.kind not in "fc":       # exact types: differences in int64, ratios in float32
        a, e = a.astype(np.int64), e.astype(np.int64)
    with np.errstate(all="ignore"):
        close = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan)
        if close.all():
            return
        if a.ndim == 0:
            raise _Mismatch(_scalar_message(a.item(), e.item(), rtol, atol), where)
        abs_diff = np.abs(a - e).reshape(-1)
        rel_diff = abs_diff / np.abs(e).reshape(-1)
        if a.dtype.kind not in "fc":
            rel_diff = abs_diff.astype(np.float32) / np.abs(e).reshape(-1).astype(np.float32)
    matched = close.reshape(-1)
    abs_diff[matched] = 0
    rel_diff[matched] = 0
    bad = int((~close).sum())
    ia, ir = _argmax(abs_diff), _argmax(rel_diff)
    text = _message("Tensor-likes", f"Mismatched elements: {bad} / {close.size} "
                                    f"({bad / close.size:.1%})",
                    (abs_diff[ia].item(), _index(ia, a.shape), atol),
                    (rel_diff[ir].item(), _index(ir, a.shape), rtol), rtol, atol)
    raise _Mismatch(text, where)


def _index(flat, shape):
    return tuple(int(i) for i in np.unravel_index(flat, shape))


def _argmax(values):
    """The first position of the greatest value, nan counting as greatest (torch.max's)."""
    nans = np.flatnonzero(np.isnan(values))
    return int(nans[0]) if nans.size else int(np.argmax(values))


def _scalar_message(actual, expected, rtol, atol):
    abs_diff = abs(actual - expected)
    rel_diff = float("inf") if expected == 0 else abs_diff / abs(expected)
    return _message("Scalars", f"Expected {expected} but got {actual}.", (abs_diff, None, atol),
                    (rel_diff, None, rtol), rtol, atol)


def _message(kind, extra, absolute, relative, rtol, atol):
    text = f"{kind} are not {'equal' if rtol == 0 and atol == 0 else 'close'}!\n\n{extra}\n"
    for name, (diff, index, tol) in (("absolute", absolute), ("relative", relative)):
        text += (f"{name.title()} difference: {diff}" if index is None else
                 f"Greatest {name} difference: {diff} at index {index}")
        if tol > 0:
            text += f" (up to {tol} allowed)"
        text += "\n"
    return text.strip()
