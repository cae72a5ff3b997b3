"""Anomaly mode (PyTorch's torch.autograd.anomaly_mode): while it is on, every
recorded op keeps the Python stack of its forward call, and a backward whose
formula gives nan raises, naming the op, after a warning that shows where the
op was called."""
import functools
import warnings

from fastad import _tensor

__all__ = ["detect_anomaly", "set_detect_anomaly"]


# fastad.is_anomaly_enabled, ... (torch's names are at the package level)
def is_anomaly_enabled():
    """Whether anomaly mode is on."""
    return _tensor._anomaly_state()[0]


def is_anomaly_check_nan_enabled():
    """Whether anomaly mode, when on, checks backward results for nan."""
    return _tensor._anomaly_state()[1]


def set_anomaly_enabled(enabled, check_nan=True):
    """Turns anomaly mode on or off (what set_detect_anomaly does, without the
    context manager)."""
    _tensor._set_anomaly_enabled(enabled, check_nan)


class _AnomalyMode:
    """What both context managers share: the state before, put back at exit,
    and the decorator form (the state switched around each call)."""

    def __exit__(self, *exc):
        set_anomaly_enabled(self.prev, self.prev_check_nan)
        return False

    def __call__(self, fn):
        mode, check_nan = self._mode, self.check_nan
        self.__exit__()     # set_detect_anomaly switched at construction

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_detect_anomaly(mode, check_nan):
                return fn(*args, **kwargs)
        return wrapper


class detect_anomaly(_AnomalyMode):
    """Context manager and decorator that turns anomaly detection on: ops
    recorded inside keep the stack of their forward call, and a backward
    computation that gives nan (with check_nan) raises a RuntimeError naming
    the op, after a warning showing that stack.  Slows everything down: for
    debugging only."""

    def __init__(self, check_nan=True):
        self.prev, self.prev_check_nan = _tensor._anomaly_state()
        self._mode = True
        self.check_nan = check_nan
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime "
                      "and should only be enabled for debugging.", stacklevel=2)

    def __enter__(self):
        set_anomaly_enabled(True, self.check_nan)


class set_detect_anomaly(_AnomalyMode):
    """Turns anomaly detection on or off: at once when called, until the end of
    the with block when used as a context manager (then the previous state is
    put back), or around each call of a function it decorates."""

    def __init__(self, mode, check_nan=True):
        self.prev, self.prev_check_nan = _tensor._anomaly_state()
        self._mode = bool(mode)
        self.check_nan = check_nan
        set_anomaly_enabled(mode, check_nan)

    def __enter__(self):
        pass
