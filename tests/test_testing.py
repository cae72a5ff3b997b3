"""fastad.testing.assert_close against torch.testing.assert_close: the same
verdicts, error classes and messages (the library's name aside)."""
import pytest

import fastad
import fastad.testing
from conftest import needs_torch

pytestmark = needs_torch


def _cases(T):
    nan = float("nan")
    return [
        ((T.tensor([1., 2., 3.]), T.tensor([1., 2.5, 3.])), {}),
        ((T.tensor([[1., 2.], [3., 4.]]), T.tensor([[1., 2.], [3., 4.1]])), {}),
        ((1.0, 1.5), {}), ((1, 2), {}), ((3, 3), {}),
        ((T.tensor([1., 2.]), T.tensor([1., 2., 3.])), {}),
        ((T.tensor([1., 2.]), T.tensor([1., 2.], dtype=T.float64)), {}),
        ((T.tensor([1, 2]), T.tensor([1, 3])), {}),
        (([T.tensor(1.), T.tensor(2.)], [T.tensor(1.), T.tensor(2.5)]), {}),
        (([1.0, 2.0], [1.0]), {}),
        (({"a": T.tensor(1.)}, {"a": T.tensor(2.)}), {}),
        (({"a": 1}, {"b": 1}), {}),
        ((T.tensor([nan]), T.tensor([nan])), {}),
        ((T.tensor([nan]), T.tensor([nan])), {"equal_nan": True}),
        ((T.tensor([1., nan, 3.]), T.tensor([1., 2., 5.])), {}),
        ((T.tensor([0.]), T.tensor([1e-6])), {}),
        ((T.tensor([0.]), T.tensor([1.])), {}),
        ((T.tensor([True, False]), T.tensor([True, True])), {}),
        (((1, (2.0, T.tensor([3.0]))), (1, (2.0, T.tensor([3.5])))), {}),
        ((T.tensor([1., 2.]), T.tensor([1.4, 2.], dtype=T.float64)), {"check_dtype": False}),
        ((T.tensor([1., 2.]), T.tensor([1.4, 2.])), {"rtol": 0.5, "atol": 0.0}),
        ((T.tensor([1., 2.]), T.tensor([1.4, 2.])), {"msg": "custom"}),
        ((T.tensor([1., 2.]), T.tensor([1.4, 2.])), {"msg": lambda m: m.upper()}),
        ((T.tensor([1.]), T.tensor([1.])), {"rtol": 0.1}),
        (("a", "a"), {}),
        ((T.tensor(1.), 1.0), {}),
    ]


def _outcome(lib, args, kw):
    try:
        lib.testing.assert_close(*args, **kw)
    except Exception as e:      # the verdict is what is compared
        return type(e), str(e).replace("torch.", "fastad.")
    return None


@pytest.mark.parametrize("k", range(len(_cases(fastad))))
def test_assert_close_as_pytorchs(k):
    import torch
    import torch.testing  # noqa: F401
    (args, kw), (targs, tkw) = _cases(fastad)[k], _cases(torch)[k]
    got, want = _outcome(fastad, args, kw), _outcome(torch, targs, tkw)
    if got is not None and want is not None:     # both print sizes as torch.Size
        got = (got[0], got[1].replace("fastad.Size", "torch.Size"))
        want = (want[0], want[1].replace("fastad.Size", "torch.Size"))
    assert got == want
