"""fastad.autograd: grad, backward, Function, gradcheck."""
import numpy as np

from fastad import _tensor
from fastad._tensor import Tensor, enable_grad, no_grad
from fastad.gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: F401

__all__ = ["grad", "backward", "Variable", "Function", "once_differentiable", "functional",
           "detect_anomaly", "set_detect_anomaly", "profiler"]


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


def once_differentiable(fn):
    """Marks a Function's backward as not differentiable: a recorded backward
    runs it without recording, and differentiating its result raises."""
    fn._once_differentiable = True
    return fn


def _raise_once(grad, inputs, result):
    raise RuntimeError("trying to differentiate twice a function that was marked with "
                       "@once_differentiable")


def _delayed_error(g, inputs):
    """g as the output of a node over inputs whose backward raises (PyTorch's DelayedError)."""
    if not inputs:
        return g
    return _tensor.make_op(_tensor.array_of(g), "DelayedError", (g.detach(),) + inputs,
                           derivative=_raise_once)


def Variable(data, requires_grad=False):
    """Legacy spelling: returns a tensor."""
    t = data if isinstance(data, Tensor) else _tensor.tensor(data)
    if requires_grad:
        t.requires_grad_(True)
    return t


class FunctionCtx:
    """The ctx of a custom Function: saved tensors are kept as arrays (never as
    tensors, which would tie the graph into a reference cycle)."""

    def __init__(self):
        self._saved = ()
        self._handles = None
        self.needs_input_grad = ()

    def save_for_backward(self, *tensors):
        self._saved = tuple(None if t is None else (t.detach().numpy(), t) for t in tensors)
        self._versions = tuple(None if t is None else t._version for t in tensors)

    @property
    def saved_tensors(self):
        if self._saved is None:
            raise RuntimeError(_tensor.SECOND_BACKWARD if hasattr(_tensor, "SECOND_BACKWARD")
                               else "saved tensors were freed")
        if self._handles is not None:       # inside a recorded (create_graph) backward
            return self._handles
        return tuple(None if s is None else _tensor.tensor(s[0]) for s in self._saved)

    def mark_non_differentiable(self, *args):
        pass

    def set_materialize_grads(self, value):
        pass


class Function:
    """Custom ops: subclass with static forward(ctx, ...) and backward(ctx, grad)."""

    @classmethod
    def apply(cls, *args):
        ctx = FunctionCtx()
        tensors = tuple(a if isinstance(a, Tensor) else None for a in args)
        ctx.needs_input_grad = tuple(t is not None and t.requires_grad for t in tensors)
        with no_grad():
            out = cls.forward(ctx, *args)
        if isinstance(out, tuple):
            raise NotImplementedError("fastad: custom Functions with several outputs are not "
                                      "supported yet")
        if not isinstance(out, Tensor):
            raise TypeError(f"{cls.__name__}.forward must return a Tensor, got {type(out).__name__}")
        out_before = out
        out = out.detach()
        saved = tuple(s[1] for s in ctx._saved if s is not None)
        # where each saved tensor comes from: an input's position, -1 for the
        # output, None for a tensor outside the op (a constant of its derivative)
        origin = tuple(None if s is None else
                       next((k for k, t in enumerate(tensors) if t is s[1]),
                            -1 if s[1] is out_before else None) for s in ctx._saved)
        # the saved tensors themselves are not kept: drop them from ctx now
        ctx._saved = tuple(None if s is None else (s[0], None) for s in ctx._saved)
        shapes = [None if t is None else tuple(t.shape) for t in tensors]
        name = cls.__name__ + "Backward"

        def backward(g):
            with no_grad():
                grads = cls.backward(ctx, _tensor.tensor(g))
            if not isinstance(grads, tuple):
                grads = (grads,)
            if len(grads) != len(args):
                raise RuntimeError(f"function {name} returned an incorrect number of gradients "
                                   f"(expected {len(args)}, got {len(grads)})")
            result = []
            for k, gk in enumerate(grads):
                if gk is None or shapes[k] is None:
                    result.append(None)
                    continue
                arr = np.asarray(gk.detach().numpy() if isinstance(gk, Tensor) else gk)
                if arr.shape != shapes[k]:
                    raise RuntimeError(f"Function {name} returned an invalid gradient at index {k} "
                                       f"- got {list(arr.shape)} but expected shape compatible "
                                       f"with {list(shapes[k])}")
                result.append(arr)
            return tuple(result)

        def derivative(g, inputs, result):
            """The user's backward run with recording on, ctx.saved_tensors being
            the op's inputs and output as tensors of the graph."""
            ctx._handles = tuple(
                None if s is None else
                (inputs[o] if o is not None and o >= 0 else result if o == -1 else
                 _tensor.tensor(s[0])) for s, o in zip(ctx._saved, origin))
            once = getattr(cls.backward, "_once_differentiable", False)
            try:
                with (no_grad() if once else enable_grad()):
                    grads = cls.backward(ctx, g)
            finally:
                ctx._handles = None
            if not isinstance(grads, tuple):
                grads = (grads,)
            if len(grads) != len(args):
                raise RuntimeError(f"function {name} returned an incorrect number of gradients "
                                   f"(expected {len(args)}, got {len(grads)})")
            grads = tuple(None if gk is None or shapes[k] is None else
                          (gk if isinstance(gk, Tensor) else _tensor.tensor(gk))
                          for k, gk in enumerate(grads))
            if once:
                live = tuple(x for x in inputs if x is not None and x.requires_grad)
                grads = tuple(None if gk is None else _delayed_error(gk, live) for gk in grads)
            return grads
        return _tensor.make_op(_tensor.array_of(out), name, tensors, backward, saved,
                               derivative=derivative)

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("You must implement the forward function for custom Function.")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("You must implement the backward function for custom Function.")
from fastad.autograd import functional, profiler  # noqa: E402,F401
from fastad.autograd.anomaly_mode import detect_anomaly, set_detect_anomaly  # noqa: E402,F401
