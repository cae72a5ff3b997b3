"""Grad modes under PyTorch's names: inference_mode (context manager and
decorator, with and without parentheses, nested with no_grad), and
torch.autograd's spellings of no_grad, enable_grad and set_grad_enabled."""
import threading

import pytest

import fastad
from conftest import needs_torch


def _modes(lib):
    seen = []

    def note():
        seen.append((lib.is_grad_enabled(), lib.is_inference_mode_enabled()))

    note()
    with lib.inference_mode():
        note()
        with lib.inference_mode(False):
            note()
        note()
        with lib.inference_mode(mode=True):
            note()
    note()
    with lib.no_grad():
        with lib.inference_mode(False):
            note()
        note()

    @lib.inference_mode
    def bare():
        note()
        return "bare"

    @lib.inference_mode()
    def called():
        note()
        return "called"

    @lib.inference_mode(False)
    def off():
        note()

    assert (bare(), called(), bare.__name__, called.__name__) == ("bare", "called", "bare",
                                                                   "called")
    with lib.no_grad():
        off()
    note()
    return seen


@needs_torch
def test_inference_mode_as_pytorchs():
    import torch
    assert _modes(fastad) == _modes(torch)


def test_inference_mode_turns_recording_off_and_restores_it():
    x = fastad.ones(3, requires_grad=True)
    with fastad.inference_mode():
        y = x * 2
        with fastad.inference_mode(False):
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None
    assert fastad.is_grad_enabled() and not fastad.is_inference_mode_enabled()


def test_inference_mode_is_per_thread():
    seen = []
    with fastad.inference_mode():
        t = threading.Thread(target=lambda: seen.append(
            (fastad.is_grad_enabled(), fastad.is_inference_mode_enabled())))
        t.start()
        t.join()
    assert seen == [(True, False)]


def test_autograd_spellings_are_the_same_objects():
    from fastad.autograd import grad_mode
    for name in ("no_grad", "enable_grad", "set_grad_enabled", "inference_mode"):
        assert getattr(fastad.autograd, name) is getattr(fastad, name)
        assert getattr(grad_mode, name) is getattr(fastad, name)
    assert fastad.no_grad.__module__ == "fastad.autograd.grad_mode"


def test_inference_mode_restores_modes_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with fastad.no_grad():
            with fastad.inference_mode(False):
                1 / 0
    assert fastad.is_grad_enabled() and not fastad.is_inference_mode_enabled()
