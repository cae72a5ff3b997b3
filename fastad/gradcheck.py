"""gradcheck: analytic gradients against central finite differences."""
import warnings

import numpy as np

from fastad._tensor import Tensor, no_grad

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Raised by gradcheck when an analytic gradient disagrees with finite differences."""


def _outputs(fn, inputs):
    out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, Tensor) and o.requires_grad]


def _analytic(fn, inputs, diff):
    """Jacobian rows by one backward per output element (grad_outputs one-hot)."""
    from fastad import autograd
    outs = _outputs(fn, inputs)
    jac = [[] for _ in diff]
    for o in outs:
        n = o.numel()
        for j in range(n):
            seed = np.zeros(n, dtype=o.numpy(force=True).dtype)
            seed[j] = 1.0
            grads = autograd.grad(o, [inputs[i] for i in diff], seed.reshape(tuple(o.shape)),
                                  retain_graph=True, allow_unused=True)
            for k, (i, g) in enumerate(zip(diff, grads)):
                if g is not None and tuple(g.shape) != tuple(inputs[i].shape):
                    raise GradcheckError(f"Gradient of input {i} has shape {tuple(g.shape)}, "
                                         f"expected {tuple(inputs[i].shape)}")
                row = np.zeros(inputs[i].numel()) if g is None else g.numpy().reshape(-1)
                jac[k].append(np.array(row, dtype=np.float64))
    return [np.array(rows).T if rows else np.zeros((inputs[i].numel(), 0))
            for i, rows in zip(diff, jac)]


def _flat_outputs(fn, inputs):
    with no_grad():
        out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return np.concatenate([np.asarray(o.numpy(force=True), dtype=np.float64).reshape(-1)
                           for o in outs if isinstance(o, Tensor)] or [np.zeros(0)])


def _assign(x, values):
    """Writes values into x in place (0-d tensors keep their value inline)."""
    with no_grad():
        if values.ndim == 0:
            x.data.fill_(float(values))
        else:
            x.data.copy_(values)


def _numerical(fn, inputs, diff, eps):
    """Jacobian columns by central differences, perturbing each input in place."""
    jac = []
    for i in diff:
        x = inputs[i]
        base = np.array(x.numpy(force=True), dtype=np.float64)
        cols = []
        for k in range(base.size):
            vals = []
            for step in (eps, -eps):
                moved = base.copy()
                moved.reshape(-1)[k] += step
                _assign(x, moved)
                vals.append(_flat_outputs(fn, inputs))
            cols.append((vals[0] - vals[1]) / (2 * eps))
        _assign(x, base)
        jac.append(np.array(cols) if cols else np.zeros((0, 0)))
    return jac


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              return_report=False, nondet_tol=0.0):
    """Compares the gradients of fn at inputs with central finite differences.

    Returns True (or, with return_report=True, a list with the worst absolute and
    relative error per differentiable input).  On a mismatch it raises
    GradcheckError naming the input, the element and both values, or returns
    False when raise_exception is False."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient")
    for i in diff:
        if inputs[i].dtype.name != "float64":
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating "
                          "point. This check will likely fail if all the inputs are not of "
                          "double precision floating point.", UserWarning, stacklevel=2)
    try:
        analytic = _analytic(fn, inputs, diff)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    except RuntimeError as e:
        if raise_exception:
            raise GradcheckError(f"Backward failed: {e}") from e
        return False
    numerical = _numerical(fn, inputs, diff, eps)
    report = []
    for i, a, n in zip(diff, analytic, numerical):
        if a.shape != n.shape:
            msg = (f"Jacobian shape mismatch for input {i}: analytic {a.shape}, "
                   f"numerical {n.shape}")
            if raise_exception:
                raise GradcheckError(msg)
            return False
        err = np.abs(a - n)
        rel = err / np.maximum(np.abs(n), np.finfo(np.float64).tiny)
        bad = ~(err <= atol + rtol * np.abs(n))
        report.append({"input": i, "max_abs_error": float(err.max()) if err.size else 0.0,
                       "max_rel_error": float(np.where(err > 0, rel, 0).max()) if err.size else 0.0})
        if bad.any():
            k, j = np.unravel_index(np.argmax(np.where(bad, err, -1)), bad.shape)
            msg = (f"Jacobian mismatch for input {i} at element {k} (output element {j}): "
                   f"analytical {a[k, j]!r}, numerical {n[k, j]!r}, error {err[k, j]:.3e} "
                   f"(allowed {atol + rtol * abs(n[k, j]):.3e})")
            if raise_exception:
                raise GradcheckError(msg)
            return report if return_report else False
    return report if return_report else True


def gradgradcheck(fn, inputs, *args, **kwargs):
    raise NotImplementedError("fastad: gradgradcheck needs higher-order gradients "
                              "(create_graph=True), which are not supported yet")
