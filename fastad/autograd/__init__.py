"""fastad.autograd: grad, backward, Function, gradcheck."""
from fastad import _tensor
from fastad._tensor import Tensor
from fastad.gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: F401
from fastad.autograd import grad_mode  # noqa: F401
from fastad.autograd.grad_mode import (  # noqa: F401
    enable_grad, inference_mode, no_grad, set_grad_enabled)

__all__ = ["grad", "backward", "Variable", "Function", "once_differentiable", "functional",
           "detect_anomaly", "set_detect_anomaly", "profiler", "no_grad", "enable_grad",
           "set_grad_enabled", "inference_mode"]


def _as_list(x):
    if x is None:
        return None
    return list(x) if isinstance(x, (list, tuple)) else [x]


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulates the gradients of tensors into the leaves' .grad (with inputs:
    into those tensors' .grad only).  With create_graph=True the backward is
    itself recorded (the graph is kept, as retain_graph defaults to
    create_graph), so .grad can be differentiated."""
    tensors = _as_list(tensors)
    grad_tensors = _as_list(grad_tensors) or [None] * len(tensors)
    if len(grad_tensors) != len(tensors):
        raise RuntimeError(f"grad_tensors has {len(grad_tensors)} entries, tensors has {len(tensors)}")
    _tensor.run_backward(tensors, grad_tensors, bool(retain_graph), inputs, bool(create_graph))


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=None, materialize_grads=False):
    """Gradients of outputs with respect to inputs, as a tuple; .grad is untouched.
    With create_graph=True they are tensors of the graph (a recorded backward),
    differentiable again; retain_graph then defaults to True."""
    outputs = _as_list(outputs)
    inputs = _as_list(inputs)
    grad_outputs = _as_list(grad_outputs) or [None] * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad requires one grad_output per output: got {len(grad_outputs)} "
                           f"for {len(outputs)} outputs")
    allow_unused = bool(allow_unused) or materialize_grads
    if create_graph:
        result = _tensor.run_grad_recorded(outputs, inputs, grad_outputs, allow_unused)
    else:
        result = _tensor.run_grad(outputs, inputs, grad_outputs, bool(retain_graph), allow_unused)
    if materialize_grads:
        result = tuple(_tensor.zeros_like(x) if g is None else g for x, g in zip(inputs, result))
    return result


def Variable(data, requires_grad=False):
    """Legacy spelling: returns a tensor."""
    t = data if isinstance(data, Tensor) else _tensor.tensor(data)
    if requires_grad:
        t.requires_grad_(True)
    return t


from fastad.autograd import functional, profiler  # noqa: E402,F401
from fastad.autograd.function import Function, once_differentiable  # noqa: E402,F401
from fastad.autograd.anomaly_mode import detect_anomaly, set_detect_anomaly  # noqa: E402,F401
