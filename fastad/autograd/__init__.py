"""fastad.autograd: grad, backward, Function, gradcheck."""
import warnings

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
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of outputs with respect to inputs, as a tuple; .grad is untouched.
    With create_graph=True they are tensors of the graph (a recorded backward),
    differentiable again; retain_graph then defaults to True.  With
    is_grads_batched, each grad_output's first dim is a batch of vectors, and
    each gradient gets that dim in front (one backward per vector)."""
    if not only_inputs:
        warnings.warn("only_inputs argument is deprecated and is ignored now (defaults to "
                      "True). To accumulate gradient for other parts of the graph, please use "
                      "torch.autograd.backward.", FutureWarning, stacklevel=2)
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when "
                         "materialize_grads=True, but got: allow_unused=False.")
    # a single tensor is the common spelling: listed without a call (Newton's
    # method and Hessian rows call grad several times a step)
    outputs = [outputs] if type(outputs) is Tensor else _as_list(outputs)
    inputs = [inputs] if type(inputs) is Tensor else _as_list(inputs)
    grad_outputs = _as_list(grad_outputs) or [None] * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad requires one grad_output per output: got {len(grad_outputs)} "
                           f"for {len(outputs)} outputs")
    allow_unused = bool(allow_unused) or materialize_grads
    if is_grads_batched:
        return _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph,
                             allow_unused, materialize_grads)
    if create_graph:
        result = _tensor.run_grad_recorded(outputs, inputs, grad_outputs, allow_unused)
    else:
        result = _tensor.run_grad(outputs, inputs, grad_outputs, bool(retain_graph), allow_unused)
    if materialize_grads:
        result = tuple(_tensor.zeros_like(x) if g is None else g for x, g in zip(inputs, result))
    return result


def _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused,
                  materialize_grads):
    """grad with is_grads_batched: one backward per vector of the batch, the graph
    kept for all but the last (as retain_graph asks for it), the results stacked."""
    if any(g is None for g in grad_outputs):
        raise RuntimeError("If `is_grads_batched=True`, we interpret the first dimension of "
                           "each grad_output as the batch dimension. The sizes of the "
                           "remaining dimensions are expected to match the shape of "
                           "corresponding output, but a mismatch was detected: grad_output is "
                           "None")
    sizes = {g.shape[0] if g.dim() else None for g in grad_outputs}
    if len(sizes) != 1 or None in sizes:
        raise RuntimeError("If `is_grads_batched=True`, every grad_output must have the same "
                           "first (batch) dimension")
    n = sizes.pop()
    keep = retain_graph if retain_graph is not None else create_graph
    rows = [grad(outputs, inputs, [g[i] for g in grad_outputs],
                 retain_graph=True if i < n - 1 else keep, create_graph=create_graph,
                 allow_unused=allow_unused, materialize_grads=materialize_grads)
            for i in range(n)]
    return tuple(None if any(r[k] is None for r in rows) else _tensor.stack([r[k] for r in rows])
                 for k in range(len(inputs)))


def Variable(data, requires_grad=False):
    """Legacy spelling: a new leaf sharing data's values (PyTorch's Variable
    detaches), requiring grad if asked."""
    if not isinstance(data, Tensor):
        raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
    return data.detach().requires_grad_(bool(requires_grad))


from fastad.autograd import functional, profiler  # noqa: E402,F401
from fastad.autograd.function import Function, once_differentiable  # noqa: E402,F401
from fastad.autograd.anomaly_mode import detect_anomaly, set_detect_anomaly  # noqa: E402,F401
