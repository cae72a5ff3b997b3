"""PyTorch's global numerics switches (use_deterministic_algorithms,
set_float32_matmul_precision): kept and read back as PyTorch does, with its
errors; fastad computes the same way whatever they say."""
import warnings

import pytest

import fastad
from conftest import needs_torch


def _switches(lib):
    seen = [(lib.are_deterministic_algorithms_enabled(),
             lib.is_deterministic_algorithms_warn_only_enabled(),
             lib.get_float32_matmul_precision())]
    try:
        lib.use_deterministic_algorithms(True, warn_only=True)
        lib.set_float32_matmul_precision("high")
        seen.append((lib.are_deterministic_algorithms_enabled(),
                     lib.is_deterministic_algorithms_warn_only_enabled(),
                     lib.get_float32_matmul_precision()))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.set_float32_matmul_precision("fastest")
        seen.append((len(caught), lib.get_float32_matmul_precision()))
        for bad in (lambda: lib.use_deterministic_algorithms("yes"),
                    lambda: lib.use_deterministic_algorithms(True, warn_only=1),
                    lambda: lib.set_float32_matmul_precision(3)):
            with pytest.raises((TypeError, RuntimeError)) as info:
                bad()
            seen.append((info.type, str(info.value)))
    finally:
        lib.use_deterministic_algorithms(False)
        lib.set_float32_matmul_precision("highest")
    return seen


@needs_torch
def test_switches_as_pytorchs():
    import torch
    assert _switches(fastad) == _switches(torch)


def test_results_do_not_depend_on_the_switches():
    x = fastad.randn(8, 16, generator=fastad.Generator().manual_seed(0))
    w = fastad.randn(16, 4, generator=fastad.Generator().manual_seed(1))
    before = (x @ w).numpy().copy()
    try:
        fastad.set_float32_matmul_precision("medium")
        fastad.use_deterministic_algorithms(True)
        assert ((x @ w).numpy() == before).all()
    finally:
        fastad.use_deterministic_algorithms(False)
        fastad.set_float32_matmul_precision("highest")
