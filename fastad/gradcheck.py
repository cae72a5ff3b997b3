"""gradcheck and gradgradcheck: analytic gradients against central finite
differences.

The analytic Jacobian takes one backward sweep per output element (the
upstream gradient one-hot), which for the scalar outputs of losses is one
sweep in all; the numerical Jacobian perturbs each input element in place
(through ``t.data``, under no_grad) by +-eps and differences the outputs.
"""
import warnings

import numpy as np

from fastad import _tensor
from fastad._tensor import Tensor, no_grad

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Raised by gradcheck when an analytic gradient disagrees with finite
    differences.  ``report`` holds the per-input errors measured so far."""

    def __init__(self, msg, report=None):
        super().__init__(msg)
        self.report = report or []


def _is_float(t):
    return isinstance(t, Tensor) and t.dtype.name in ("float32", "float64")


def _outputs(fn, inputs):
    out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if _is_float(o)]


def _index(shape, k):
    return tuple(int(i) for i in np.unravel_index(k, shape)) if shape else ()


def _analytic(fn, inputs, diff):
    """Jacobian of each differentiable input, shape (input numel, output numel):
    one backward per output element with a one-hot upstream gradient."""
    outs = _outputs(fn, inputs)
    targets = [inputs[i] for i in diff]
    cols = [[] for _ in diff]
    for o in outs:
        n = o.numel()
        if not o.requires_grad:                  # constant output: zero rows
            for k, i in enumerate(diff):
                cols[k].extend(np.zeros(inputs[i].numel()) for _ in range(n))
            continue
        for j in range(n):
            seed = np.zeros(n, dtype=np.float64 if o.dtype.name == "float64" else np.float32)
            seed[j] = 1.0
            grads = _tensor.run_grad([o], targets, [seed.reshape(tuple(o.shape))], True, True)
            for k, (i, g) in enumerate(zip(diff, grads)):
                if g is not None and tuple(g.shape) != tuple(inputs[i].shape):
                    raise GradcheckError(
                        f"Gradient of input {i} has shape {tuple(g.shape)}, expected "
                        f"{tuple(inputs[i].shape)} (the backward returned a gradient of the "
                        f"wrong shape)")
                cols[k].append(np.zeros(inputs[i].numel()) if g is None
                               else np.asarray(g.numpy(), dtype=np.float64).reshape(-1))
    return [np.array(c).T if c else np.zeros((inputs[i].numel(), 0))
            for i, c in zip(diff, cols)], [tuple(o.shape) for o in outs]


def _flat_outputs(fn, inputs):
    with no_grad():
        outs = _outputs(fn, inputs)
    return np.concatenate([np.asarray(o.detach().numpy(), dtype=np.float64).reshape(-1)
                           for o in outs]
                          or [np.zeros(0)])


def _assign(x, values):
    """Writes values into x's storage in place (0-d tensors keep their value inline)."""
    with no_grad():
        if values.ndim == 0:
            x.data.fill_(float(values))
        else:
            x.data.copy_(values)


def _numerical(fn, inputs, diff, eps):
    """Jacobian of each input by central differences, perturbing it in place."""
    jac = []
    for i in diff:
        x = inputs[i]
        base = np.array(x.detach().numpy(), dtype=np.float64)
        dtype = base.dtype if x.dtype.name == "float64" else np.float32
        cols = []
        try:
            for k in range(base.size):
                vals = []
                for step in (eps, -eps):
                    moved = base.copy()
                    moved.reshape(-1)[k] += step
                    _assign(x, moved.astype(dtype))
                    vals.append(_flat_outputs(fn, inputs))
                cols.append((vals[0] - vals[1]) / (2 * eps))
        finally:
            _assign(x, base.astype(dtype))
        jac.append(np.array(cols) if cols else np.zeros((0, _flat_outputs(fn, inputs).size)))
    return jac


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              return_report=False, nondet_tol=0.0):
    """Compares the gradients of fn at inputs with central finite differences.

    Every tensor of ``inputs`` that requires grad is checked, against every
    floating output of ``fn``; the check passes where
    ``|analytic - numerical| <= atol + rtol * |numerical|``.

    Returns True, or with ``return_report=True`` a list with one dict per
    differentiable input: ``{"input": i, "max_abs_error": a, "max_rel_error": r,
    "passed": bool}``.  On a mismatch it raises GradcheckError naming the input,
    the element of the input and of the output, both values and the error (or,
    with raise_exception=False, returns False, or the report)."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, "
                         "but none of the them have requires_grad=True.")
    for i in diff:
        if inputs[i].dtype.name != "float64":
            # the same warning as torch.autograd.gradcheck; float32 differences are
            # swamped by rounding at eps=1e-6
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating "
                          "point or complex. This check will likely fail if all the inputs are "
                          "not of double precision floating point or complex. ",
                          UserWarning, stacklevel=2)

    def fail(msg, report):
        if raise_exception:
            raise GradcheckError(msg, report)
        return report if return_report else False

    try:
        analytic, out_shapes = _analytic(fn, inputs, diff)
    except GradcheckError as e:
        return fail(str(e), [])
    except RuntimeError as e:
        return fail(f"Backward failed: {type(e).__name__}: {e}", [])
    numerical = _numerical(fn, inputs, diff, eps)
    report, first_bad = [], None
    for i, a, n in zip(diff, analytic, numerical):
        if a.shape != n.shape:
            return fail(f"Jacobian shape mismatch for input {i}: analytical {a.shape}, "
                        f"numerical {n.shape} (an output changes size or is not differentiable)",
                        report)
        err = np.abs(a - n)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(err > 0, err / np.abs(n), 0.0)
        bad = ~(err <= atol + rtol * np.abs(n))       # NaN counts as bad
        report.append({"input": i,
                       "max_abs_error": float(np.nanmax(err, initial=0.0)) if err.size else 0.0,
                       "max_rel_error": float(np.nanmax(rel, initial=0.0)) if rel.size else 0.0,
                       "passed": not bad.any()})
        if bad.any() and first_bad is None:
            k, j = np.unravel_index(np.argmax(np.where(bad, np.nan_to_num(err, nan=np.inf), -1)),
                                    bad.shape)
            out_elem = j
            for o, shp in enumerate(out_shapes):
                size = int(np.prod(shp, dtype=np.int64))
                if out_elem < size:
                    break
                out_elem -= size
            first_bad = (
                f"Jacobian mismatch for input {i} at element {k} {_index(tuple(inputs[i].shape), k)} "
                f"(output {o}, element {out_elem} {_index(shp, out_elem)}): "
                f"analytical {float(a[k, j])!r}, numerical {float(n[k, j])!r}, "
                f"error {float(err[k, j]):.3e} (allowed {atol + rtol * abs(float(n[k, j])):.3e})")
    if first_bad is not None:
        return fail(first_bad, report)
    return report if return_report else True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, nondet_tol=0.0,
                  check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
                  check_fwd_over_rev=False, check_rev_over_rev=True, fast_mode=False,
                  masked=False, return_report=False):
    """Second-order check (PyTorch's signature): gradcheck of the function
    (inputs, grad_outputs) -> the gradients of func's outputs at inputs,
    computed with create_graph=True, so the derivative of every backward is
    compared with finite differences of the backward itself.

    grad_outputs default to fixed random tensors (seeded, so a failure
    reproduces) that require grad, as in PyTorch."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    diff = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        with no_grad():
            outs = _outputs(func, inputs)
        grad_outputs = [_tensor.tensor(rng.uniform(-1.0, 1.0, tuple(o.shape)), dtype=o.dtype,
                                       requires_grad=True) for o in outs]
    else:
        grad_outputs = list(grad_outputs) if isinstance(grad_outputs, (tuple, list)) \
            else [grad_outputs]
    n_in = len(inputs)

    def first_derivative(*args):
        xs, gs = args[:n_in], args[n_in:]
        with _tensor.enable_grad():         # finite differences call this under no_grad
            return _recorded_grads(func, xs, gs)

    if not diff:
        raise ValueError("gradgradcheck expects at least one input tensor to require gradient")
    # the recorded backward's values first: a derivative formula that disagrees
    # with the function is consistent with its own finite differences
    bad = _recorded_vjp_mismatch(func, inputs, grad_outputs, eps, atol, rtol)
    if bad is not None:
        if raise_exception:
            raise GradcheckError(bad)
        return [] if return_report else False
    return gradcheck(first_derivative, inputs + tuple(grad_outputs), eps=eps, atol=atol,
                     rtol=rtol, raise_exception=raise_exception, return_report=return_report,
                     nondet_tol=nondet_tol)


def _recorded_vjp_mismatch(func, inputs, grad_outputs, eps, atol, rtol):
    """A message if the gradients of the recorded backward (create_graph) at
    inputs differ from grad_outputs^T times the finite-difference Jacobian."""
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    with _tensor.enable_grad():
        outs = _outputs(func, inputs)
        live = [(o, g) for o, g in zip(outs, grad_outputs) if o.requires_grad]
        if not live:
            return None
        grads = _tensor.run_grad_recorded([o for o, _ in live], [inputs[i] for i in diff],
                                          [g for _, g in live], True)
    v = np.concatenate([np.asarray(g.detach().numpy(), dtype=np.float64).reshape(-1)
                        if o.requires_grad else np.zeros(o.numel())
                        for o, g in zip(outs, grad_outputs)] or [np.zeros(0)])
    for i, jac, g in zip(diff, _numerical(func, inputs, diff, eps), grads):
        want = jac @ v if jac.size else np.zeros(inputs[i].numel())
        got = np.zeros(inputs[i].numel()) if g is None else \
            np.asarray(g.detach().numpy(), dtype=np.float64).reshape(-1)
        err = np.abs(got - want)
        if not np.all(err <= atol + rtol * np.abs(want)):
            k = int(np.argmax(np.nan_to_num(err, nan=np.inf)))
            return (f"Recorded backward (create_graph=True) mismatch for input {i} at element {k}: "
                    f"analytical {float(got[k])!r}, numerical {float(want[k])!r}")
    return None


def _recorded_grads(func, xs, gs):
    """The gradients of func's outputs at xs for the upstream gradients gs, as
    tensors of the graph (create_graph=True)."""
    outs = _outputs(func, xs)
    live = [(o, g) for o, g in zip(outs, gs) if o.requires_grad]
    if not live:
        return ()
    targets = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
    grads = _tensor.run_grad_recorded([o for o, _ in live], targets, [g for _, g in live], True)
    return tuple(g for g in grads if g is not None)
