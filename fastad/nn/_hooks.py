"""Module hooks as torch.nn.Module runs them: forward pre-hooks and forward
hooks (with_kwargs, always_call, prepend), full backward hooks and backward
pre-hooks.  A module with no hooks is called straight (Module.__call__ checks
three class-level empty dicts), so hooks cost nothing until registered.

Full backward hooks wrap, per call, the module's tensor inputs and its tensor
outputs each in ONE identity node (PyTorch's BackwardHookFunction): the
outputs' node sees grad_output first (backward pre-hooks may replace it),
the inputs' node then calls hook(module, grad_input, grad_output), which may
replace grad_input.  Both nodes' derivatives are slices in fastad ops.

Legacy hooks (register_backward_hook, deprecated in PyTorch) run through the
same wiring; PyTorch instead hooks the last autograd node of the output, and
passes that node's gradients.  They agree where the module's forward is one
op on its tensor inputs (the activations): grad_input has one entry per
positional input, None where it needs no gradient, and a returned tuple
replaces it.  They differ where the forward is several ops: fastad's
grad_input is still the gradient of the module's inputs (PyTorch's, of the
last op's inputs: for Linear, addmm's bias, input and transposed weight), and
when no input needs a gradient the hook gets None for each input (PyTorch's,
the last op's gradients of the parameters).  PyTorch's FutureWarnings about a
structure the legacy hook cannot see (inputs or outputs that are not tensors
or a tuple of them) are raised; the one about a forward of several autograd
nodes is not (fastad's nodes do not expose their inputs)."""
import warnings
from collections import OrderedDict

import numpy as np

from fastad._tensor import Tensor, array_of, make_op, zeros_like
from fastad.utils.hooks import RemovableHandle


_NO_INPUT_GRAD = ("Full backward hook is firing when gradients are computed with respect to "
                  "module outputs since no inputs require gradients. See https://docs.pytorch.org/"
                  "docs/main/generated/torch.nn.Module.html#torch.nn.Module."
                  "register_full_backward_hook for more details.")


def _table(module, name):
    """module's OrderedDict name, made on first use (the class's is an empty one)."""
    if name not in module.__dict__:
        object.__setattr__(module, name, OrderedDict())
    return module.__dict__[name]


def register(module, table, hook, prepend=False, flags=()):
    """hook added to module's table; flags: the tables that mark its handle id
    (with_kwargs, always_call), cleared with it by the handle."""
    hooks = _table(module, table)
    marks = [_table(module, f) for f in flags]
    handle = RemovableHandle(hooks, extra_dict=marks)
    hooks[handle.id] = hook
    for m in marks:
        m[handle.id] = True
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


_LEGACY_OUTPUT = ("Using non-full backward hooks on a Module that does not return a single "
                  "Tensor or a tuple of Tensors is deprecated and will be removed in future "
                  "versions. This hook will be missing some of the grad_output. Please use "
                  "register_full_backward_hook to get the documented behavior.")
_LEGACY_INPUT = ("Using non-full backward hooks on a Module that does not take as input a single "
                 "Tensor or a tuple of Tensors is deprecated and will be removed in future "
                 "versions. This hook will be missing some of the grad_input. Please use "
                 "register_full_backward_hook to get the documented behavior.")


def backward_kind(module, full):
    """Mark module's backward hooks full or legacy: a module has one kind only."""
    if module._is_full_backward_hook is (not full):
        raise RuntimeError("Cannot use both regular backward hooks and full backward hooks on a "
                           "single Module. Please use only one of them.")
    object.__setattr__(module, "_is_full_backward_hook", full)


def _all_tensors(obj):
    """Whether obj is a tensor or a tuple of tensors only."""
    return isinstance(obj, Tensor) or isinstance(obj, tuple) and all(
        isinstance(t, Tensor) for t in obj)


def hooked(module):
    """Whether module has hooks its __call__ must run."""
    return bool(module._forward_pre_hooks or module._forward_hooks or module._backward_hooks
                or module._backward_pre_hooks)


def call(module, args, kwargs):
    """module.forward(*args, **kwargs) with its hooks around it."""
    with_kwargs = module.__dict__.get("_forward_pre_hooks_with_kwargs", {})
    for hid, hook in list(module._forward_pre_hooks.items()):
        if hid in with_kwargs:
            res = hook(module, args, kwargs)
            if res is not None:
                if not (isinstance(res, tuple) and len(res) == 2):
                    raise RuntimeError("forward pre-hook must return None or a tuple of "
                                       f"(new_args, new_kwargs), but got {res}.")
                args, kwargs = res
        else:
            res = hook(module, args)
            if res is not None:
                args = res if isinstance(res, tuple) else (res,)
    state = None
    if module._backward_hooks or module._backward_pre_hooks:
        state = _BackwardState(module)
        args = state.wrap_inputs(args)
    hooks_kw = module.__dict__.get("_forward_hooks_with_kwargs", {})
    always = module.__dict__.get("_forward_hooks_always_called", {})
    try:
        result = module.forward(*args, **kwargs)
    except Exception:
        for hid, hook in module._forward_hooks.items():
            if hid in always:
                try:
                    hook(module, args, kwargs, None) if hid in hooks_kw else hook(module, args,
                                                                                   None)
                except Exception:
                    pass       # the forward's error is the one raised, as in PyTorch
        raise
    for hid, hook in list(module._forward_hooks.items()):
        res = hook(module, args, kwargs, result) if hid in hooks_kw else hook(module, args, result)
        if res is not None:
            result = res
    if state is not None:
        result = state.wrap_outputs(result)
        first = _tensors(result)[:1]      # PyTorch hooks the node of the first one
        if state.legacy and first and first[0].requires_grad:
            for ok, message in ((_all_tensors(result), _LEGACY_OUTPUT),
                                (_all_tensors(args), _LEGACY_INPUT)):
                if not ok:
                    warnings.warn(message, FutureWarning, stacklevel=3)
                    break
    return result


def _tensors(obj):
    """The tensors of obj (a tensor, or a tuple or list of them and others), in order."""
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [t for t in obj if isinstance(t, Tensor)]
    return []


def _identity(tensors, on_backward):
    """tensors through one node: returns their replacements, whose gradients
    reach on_backward(grads) (a list, None where no gradient) together; what
    it returns is what the originals receive."""
    live = [t for t in tensors if t.requires_grad]
    if not live:
        return tensors
    shapes = [tuple(t.shape) for t in live]
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    ends = np.cumsum(sizes)
    packed = np.concatenate([array_of(t).reshape(-1) for t in live])

    def derivative(grad, inputs, result):
        grads = [grad[e - n:e].reshape(s) for e, n, s in zip(ends, sizes, shapes)]
        return tuple(on_backward(grads))
    node = make_op(packed, "BackwardHookFunctionBackward", tuple(live), derivative=derivative)
    out = iter([node[e - n:e].reshape(s) for e, n, s in zip(ends, sizes, shapes)])
    return [next(out) if t.requires_grad else t for t in tensors]


def _replace(obj, new):
    """obj with its tensors replaced by new, in order."""
    if isinstance(obj, Tensor):
        return new[0]
    it = iter(new)
    items = [next(it) if isinstance(t, Tensor) else t for t in obj]
    return type(obj)(items)


class _BackwardState:
    """One call's wiring of full backward hooks."""

    def __init__(self, module):
        self.module = module
        self.legacy = module._is_full_backward_hook is False and bool(module._backward_hooks)
        self.grad_outputs = None
        self.n_inputs = 0
        self.inputs_wrapped = False

    def wrap_inputs(self, args):
        """args with their tensors through one node; grad_input has one entry
        per positional argument: None for non-tensors, zeros for tensors that
        need no gradient (as PyTorch materialises them; legacy hooks: None)."""
        self.n_inputs = len(args)
        live = [isinstance(a, Tensor) and a.requires_grad for a in args]
        self.inputs_wrapped = any(live)
        if not self.inputs_wrapped:
            return args

        def on_backward(grads):
            it = iter(grads)
            full = tuple(next(it) if flag else (zeros_like(a) if isinstance(a, Tensor)
                                                and not self.legacy else None)
                         for a, flag in zip(args, live))
            full = self._run_hooks(full)
            return [g for g, flag in zip(full, live) if flag]
        return _replace(args, _identity(_tensors(args), on_backward))

    def wrap_outputs(self, result):
        tensors = _tensors(result)
        if not tensors:
            return result

        def on_backward(grads):
            grads = tuple(grads)
            for hook in self.module._backward_pre_hooks.values():
                res = hook(self.module, grads)
                if res is not None:
                    grads = tuple(res) if isinstance(res, (tuple, list)) else (res,)
            self.grad_outputs = grads
            if not self.inputs_wrapped:      # no input needs a gradient: the hooks run now
                if not self.legacy:
                    warnings.warn(_NO_INPUT_GRAD)
                self._run_hooks((None,) * self.n_inputs)
            return list(grads)
        return _replace(result, _identity(tensors, on_backward))

    def _run_hooks(self, grad_input):
        for hook in self.module._backward_hooks.values():
            res = hook(self.module, grad_input, self.grad_outputs)
            if res is not None:
                res = tuple(res) if isinstance(res, (tuple, list)) else (res,)
                if len(res) != len(grad_input) and self.legacy:
                    raise RuntimeError(f"hook '{getattr(hook, '__name__', hook)}' has returned an "
                                       f"incorrect number of values (got {len(res)}, but "
                                       f"expected {len(grad_input)})")
                if len(res) != len(grad_input):
                    raise RuntimeError(f"Backward hook returned an invalid number of grad_input, "
                                       f"got {len(res)}, but expected {len(grad_input)}")
                grad_input = res
        return grad_input
