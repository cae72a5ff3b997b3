"""torch.autograd.grad_mode's names: no_grad, enable_grad, set_grad_enabled
(compiled, fastad._tensor) and inference_mode."""
import functools
import threading

from fastad._tensor import _set_grad_enabled, enable_grad, no_grad, set_grad_enabled

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
           "is_inference_mode_enabled"]

_thread = threading.local()


def is_inference_mode_enabled():
    """Whether inference mode is on in this thread."""
    return getattr(_thread, "inference", False)


class inference_mode:
    """Context manager and decorator (with or without parentheses): inference_mode()
    turns recording off, as no_grad; inference_mode(False) turns it back on, as
    PyTorch's does inside no_grad or inference mode.  (PyTorch's inference tensors,
    which refuse later use by autograd, are ordinary tensors here.)"""

    def __new__(cls, mode=True):
        if callable(mode) and not isinstance(mode, type):    # @inference_mode
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode=True):
        self.mode = bool(mode)

    def __enter__(self):
        self._prev = (is_inference_mode_enabled(), _set_grad_enabled(not self.mode))
        _thread.inference = self.mode

    def __exit__(self, *exc):
        _thread.inference, grad = self._prev
        _set_grad_enabled(grad)
        return False

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return fn(*args, **kwargs)
        return wrapper

    def clone(self):
        return type(self)(self.mode)


for _cls in (no_grad, enable_grad, set_grad_enabled, inference_mode):
    _cls.__module__ = __name__
del _cls
