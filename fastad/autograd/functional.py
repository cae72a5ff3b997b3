"""fastad.autograd.functional: jacobian, hessian, vjp, jvp, hvp, vhp with
PyTorch's signatures, on the recorded backward (create_graph=True).

As in PyTorch, inputs and results keep their structure (a tensor for a
tensor, a tuple for a tuple), the inputs are differentiated as fresh leaves,
an input the output does not depend on gets zeros (strict=True: an error),
and without create_graph the results are detached.  vectorize=True is
accepted and computes the same values row by row (fastad has no batched
backward); jvp uses the double-vjp trick.
"""
import numpy as np

from fastad import _tensor
from fastad._tensor import Tensor, enable_grad

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _as_tuple(x, arg, fn):
    if isinstance(x, tuple):
        is_tuple = True
    elif isinstance(x, list):
        x, is_tuple = tuple(x), True
    else:
        x, is_tuple = (x,), False
    for k, t in enumerate(x):
        if not isinstance(t, Tensor):
            raise TypeError(f"The {arg} given to {fn} must be either a Tensor or a tuple of "
                            f"Tensors but the value at index {k} has type {type(t)}.")
    return is_tuple, x


def _prepare(inputs, create_graph):
    """The inputs as leaves of a new differentiation (kept in the graph when
    create_graph and they already require grad, as PyTorch's view_as)."""
    out = []
    for t in inputs:
        if create_graph and t.requires_grad:
            out.append(t.view_as(t))
        else:
            out.append(t.detach().requires_grad_(True))
    return tuple(out)


def _leaves(inputs, create_graph, fn):
    """(whether inputs is a tuple, its tensors as leaves of a new differentiation)."""
    in_tuple, inputs = _as_tuple(inputs, "inputs", fn)
    return in_tuple, _prepare(inputs, create_graph)


def _call(func, inputs, fn):
    """(whether func returned a tuple, its outputs as a tuple) at inputs."""
    return _as_tuple(func(*inputs), "outputs of the user-provided function", fn)


def _input_v(v, inputs, fn):
    """v as one tensor per input; None only for a single one-element input (ones)."""
    if v is None:
        if len(inputs) != 1 or inputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the input to the "
                               "user-provided function is a single Tensor with a single "
                               "element.")
        return (_tensor.ones_like(inputs[0]),)
    _, v = _as_tuple(v, "v", fn)
    _check_v(v, inputs, fn)
    return v


def _finish(x, create_graph):
    if isinstance(x, tuple):
        return tuple(_finish(e, create_graph) for e in x)
    return x if create_graph else x.detach()


def _unpack(is_tuple, x):
    return x if is_tuple else x[0]


def _grads(outputs, inputs, grad_outputs, create_graph, strict, fn, what="output"):
    """The gradients of outputs against inputs; zeros (or, strict, an error)
    for an input they do not depend on."""
    # a Jacobian or Hessian calls this once per row: the common case (every
    # output differentiable, every input reached) is kept to the one call
    if not all([o.requires_grad for o in outputs]):
        keep = [k for k, o in enumerate(outputs) if o.requires_grad]
        outputs, grad_outputs = [outputs[k] for k in keep], [grad_outputs[k] for k in keep]
    if not outputs:
        grads = (None,) * len(inputs)
    elif create_graph:
        grads = _tensor.run_grad_recorded(list(outputs), list(inputs), list(grad_outputs), True)
    else:
        grads = _tensor.run_grad(list(outputs), list(inputs), list(grad_outputs), True, True)
    for g in grads:
        if g is None:
            break
    else:
        return tuple(grads)
    out = []
    for k, (g, x) in enumerate(zip(grads, inputs)):
        if g is None:
            if strict:
                raise RuntimeError(f"The {what} of the user-provided function is independent of "
                                   f"input {k}. This is not allowed in strict mode.")
            g = _tensor.zeros_like(x)
        out.append(g)
    return tuple(out)


def _check_outputs(outputs, fn):
    for k, o in enumerate(outputs):
        if not isinstance(o, Tensor):
            raise TypeError(f"The outputs of the user-provided function given to {fn} must be "
                            f"either a Tensor or a tuple of Tensors but the value at index {k} "
                            f"has type {type(o)}.")


def _check_v(v, like, fn, arg="v"):
    if len(v) != len(like):
        raise RuntimeError(f"The given {arg} should contain a single Tensor per input, but got "
                           f"{len(v)}")
    for k, (a, b) in enumerate(zip(v, like)):
        if tuple(a.shape) != tuple(b.shape):
            raise RuntimeError(f"Entry {k} in {arg} has invalid size: should be {b.shape} but got "
                               f"{a.shape}.")


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product at inputs."""
    with enable_grad():
        in_tuple, inputs = _leaves(inputs, create_graph, "vjp")
        out_tuple, outputs = _call(func, inputs, "vjp")
        if v is None:
            if len(outputs) != 1 or outputs[0].numel() != 1:
                raise RuntimeError("The vector v can only be None if the user-provided function "
                                   "returns a single Tensor with a single element.")
            v = (None,)
        else:
            _, v = _as_tuple(v, "v", "vjp")
            _check_v(v, outputs, "vjp")
        res = _grads(outputs, inputs, v, create_graph, strict, "vjp")
    return _finish(_unpack(out_tuple, outputs), create_graph), \
        _finish(_unpack(in_tuple, res), create_graph)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product, by the double-vjp trick
    (the vjp is linear in its upstream gradient u, so J v = d(u^T J)/du . v)."""
    with enable_grad():
        in_tuple, inputs = _leaves(inputs, create_graph, "jvp")
        v = _input_v(v, inputs, "jvp")
        out_tuple, outputs = _call(func, inputs, "jvp")
        us = tuple(_tensor.zeros_like(o).requires_grad_(True) for o in outputs)
        g = _grads(outputs, inputs, us, True, strict, "jvp")
        res = _grads([gk for gk in g], us, v, create_graph, False, "jvp")
        if strict and create_graph:
            for k, r in enumerate(res):
                if not r.requires_grad:
                    raise RuntimeError(f"The jacobian of the user-provided function is "
                                       f"independent of input {k}. This is not allowed in strict "
                                       "mode when create_graph=True.")
    return _finish(_unpack(out_tuple, outputs), create_graph), \
        _finish(_unpack(out_tuple, res), create_graph)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of func at inputs: for output i and input j a tensor of
    shape output_i.shape + input_j.shape, nested as PyTorch nests them."""
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: '
                         'If your function is not vectorizable, use "reverse-mode".')
    if strategy == "forward-mode" and not vectorize:
        raise NotImplementedError("torch.autograd.functional.jacobian: `strategy=\"forward-mode\"`"
                                  " is only implemented together with `vectorize=True`.")
    with enable_grad():
        in_tuple, inputs = _leaves(inputs, create_graph, "jacobian")
        out_tuple, outputs = _call(func, inputs, "jacobian")
        _check_outputs(outputs, "jacobian")
        jac = []
        for i, o in enumerate(outputs):
            rows = [[] for _ in inputs]
            n = o.numel()
            np_dt = np.float64 if o.dtype == _tensor.float64 else np.float32
            shape = tuple(o.shape)
            for j in range(n):
                # an array seed (a constant): no tensor to build per row
                seed = np.zeros(n, np_dt)
                seed[j] = 1.0
                g = _grads([o], inputs, [seed.reshape(shape)], create_graph, False, "jacobian")
                for k, gk in enumerate(g):
                    rows[k].append(gk)
            blocks = []
            for k, x in enumerate(inputs):
                if n == 0:
                    blk = _tensor.zeros(tuple(o.shape) + tuple(x.shape), dtype=x.dtype)
                else:
                    blk = _tensor.stack(rows[k]).reshape(tuple(o.shape) + tuple(x.shape))
                if strict and n and not any(_depends(o, x, r) for r in rows[k]):
                    raise RuntimeError(f"Output {i} of the user-provided function is independent "
                                       f"of input {k}. This is not allowed in strict mode.")
                blocks.append(blk)
            jac.append(tuple(blocks))
    jac = tuple(_unpack(in_tuple, b) for b in jac)
    return _finish(_unpack(out_tuple, jac), create_graph)


def _depends(o, x, row):
    return o.requires_grad and bool(np.any(row.detach().numpy() != 0)) or row.requires_grad


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a function with one scalar output: the Jacobian of its
    gradient (recorded with create_graph)."""
    in_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*inp):
        out_tuple, out = _call(func, inp, "hessian")
        if out_tuple or len(out) != 1 or out[0].numel() != 1:
            raise RuntimeError("The function given to hessian should return a single Tensor "
                               "with a single element")
        if out[0].dim() != 0:
            out = (out[0].reshape(()),)
        return _grads(out, inp, [None], True, strict, "hessian")

    res = jacobian(gradient, inputs, create_graph=create_graph, strict=strict,
                   vectorize=vectorize, strategy=outer_jacobian_strategy)
    return res if in_tuple else res[0][0]


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H) for a function with one scalar output."""
    with enable_grad():
        in_tuple, inputs = _leaves(inputs, create_graph, "vhp")
        v = _input_v(v, inputs, "vhp")
        out_tuple, outputs = _call(func, inputs, "vhp")
        if out_tuple or len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError("The function given to vhp should return a single Tensor with a "
                               "single element")
        g = _grads(outputs, inputs, [None], True, strict, "vhp")
        live = [(gk, vk) for gk, vk in zip(g, v) if gk.requires_grad]
        if live:
            res = _grads([gk for gk, _ in live], inputs, [vk for _, vk in live], create_graph,
                         strict, "vhp", "jacobian")
        else:
            if strict:
                raise RuntimeError("The jacobian of the user-provided function is independent "
                                   "of input 0. This is not allowed in strict mode.")
            res = tuple(_tensor.zeros_like(x) for x in inputs)
    return _finish(outputs[0], create_graph), _finish(_unpack(in_tuple, res), create_graph)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v): the Hessian of a twice-differentiable function is
    symmetric, so this is vhp."""
    return vhp(func, inputs, v, create_graph, strict)
