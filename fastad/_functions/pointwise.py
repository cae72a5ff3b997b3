"""Pointwise math over two or more tensors, and the in-place spellings.

The one-input functions with a C formula (tan, erfinv, floor, ...) are rows of
opdefs.UNARY; these are the ones numpy computes in one call, recorded with a
derivative in fastad ops, or compositions of fastad ops."""
import numpy as np

import fastad
from fastad._tensor import Tensor, apply_inplace, array_of, make_op, result_type


def _sum_to(grad, shape):
    """grad summed over the dims that broadcasting added or stretched: the
    gradient of an input of this shape."""
    shape = tuple(shape)
    if tuple(grad.shape) == shape:
        return grad
    lead = grad.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape)
                                      if s == 1 and grad.shape[lead + i] != 1)
    return grad.sum(dims, keepdim=True).reshape(shape) if dims else grad.reshape(shape)


def _shape(x):
    return tuple(x.shape) if isinstance(x, Tensor) else ()


def _arrays(name, *operands, floating=True):
    """The operands as ndarrays of their promoted dtype (PyTorch's rules; an
    integer result becomes the default float dtype where floating), that dtype,
    and the tensors among them (None for numbers)."""
    if not isinstance(operands[0], Tensor) and not any(isinstance(o, Tensor) for o in operands):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(operands[0]).__name__}")
    dt = result_type(*operands)
    if floating and not dt.is_floating_point:
        dt = fastad.get_default_dtype()
    arrays = [np.asarray(array_of(o) if isinstance(o, Tensor) else o, dtype=dt.np_dtype)
              for o in operands]
    try:
        np.broadcast_shapes(*[a.shape for a in arrays])
    except ValueError:
        raise RuntimeError(fastad._tensor._broadcast_msg(arrays[0].shape, arrays[1].shape)) from None
    tensors = tuple(o if isinstance(o, Tensor) else None for o in operands)
    return arrays, dt, tensors


def _binary(name, grad_fn, f, input, other, derivative, floating=True):
    """f(input, other) over numpy, recorded under grad_fn with derivative(grad,
    x, y, result) -> (gx, gy) before unbroadcasting."""
    (a, b), dt, inputs = _arrays(name, input, other, floating=floating)
    with np.errstate(all="ignore"):
        r = f(a, b)
    if not dt.is_floating_point:
        return fastad.tensor(r, dtype=dt)
    shapes = (_shape(input), _shape(other))

    def grads(grad, ins, result):
        x, y = (t if t is not None else fastad.tensor(v, dtype=dt) for t, v in zip(ins, (a, b)))
        return tuple(None if t is None else _sum_to(g, s)
                     for t, g, s in zip(ins, derivative(grad, x, y, result), shapes))
    return make_op(r, grad_fn, inputs, derivative=grads, dt=dt.code)


def atan2(input, other, *, out=None):
    """The angle of (other, input): atan(input / other) in the right quadrant."""
    def d(grad, x, y, result):
        r2 = x * x + y * y
        return grad * y / r2, grad * -x / r2
    return _out(_binary("atan2", "Atan2Backward0", np.arctan2, input, other, d), out)


arctan2 = atan2


def hypot(input, other, *, out=None):
    def d(grad, x, y, result):
        return grad * x / result, grad * y / result
    return _out(_binary("hypot", "HypotBackward0", np.hypot, input, other, d), out)


def logaddexp(input, other, *, out=None):
    def d(grad, x, y, result):
        return grad * (x - result).exp(), grad * (y - result).exp()
    return _out(_binary("logaddexp", "LogaddexpBackward0", np.logaddexp, input, other, d), out)


def _xlogy(a, b):
    # 0 where x == 0 unless y is NaN: PyTorch's xlogy
    return np.where((a == 0) & ~np.isnan(b), 0, a * np.log(b)).astype(a.dtype, copy=False)


def xlogy(input, other, *, out=None):
    def d(grad, x, y, result):
        # PyTorch: log(y) where x == 0 too, unless y <= 0 there
        return fastad.where((x == 0) & (y <= 0), 0.0, grad * y.log()), grad * x / y
    return _out(_binary("xlogy", "XlogyBackward0", _xlogy, input, other, d), out)


def _fminmax(name, f, pick_self):
    def op(input, other, *, out=None):
        def d(grad, x, y, result):
            # PyTorch: the gradient goes to input where it is picked, else to other
            own = pick_self(x, y) | (y != y)
            return grad * own, grad * ~own
        return _out(_binary(name, name.capitalize() + "Backward0", f, input, other, d,
                            floating=False), out)
    op.__name__ = name
    return op


fmax = _fminmax("fmax", np.fmax, lambda x, y: x >= y)
fmin = _fminmax("fmin", np.fmin, lambda x, y: x <= y)


def _remainder(a, b):
    # PyTorch: a - b * floor(a / b) for floats; numpy's remainder for integers
    if a.dtype.kind != "f":
        return np.remainder(a, b)
    m = np.fmod(a, b)
    return np.where((m != 0) & ((m < 0) != (b < 0)), m + b, m).astype(a.dtype, copy=False)


def remainder(input, other, *, out=None):
    def d(grad, x, y, result):
        # PyTorch's div(rounding_mode="floor") has no derivative: the quotient is a
        # constant (also where y == 0, whose 1 / y would otherwise make nan of 0)
        return grad, -grad * (x / y).detach().floor()
    grad_fn = "RemainderBackward1" if isinstance(other, Tensor) else "RemainderBackward0"
    return _out(_binary("remainder", grad_fn, _remainder, input, other, d, floating=False), out)


def fmod(input, other, *, out=None):
    def d(grad, x, y, result):
        return grad, -grad * (x / y).detach().trunc()      # as remainder's
    grad_fn = "FmodBackward1" if isinstance(other, Tensor) else "FmodBackward0"
    return _out(_binary("fmod", grad_fn, np.fmod, input, other, d, floating=False), out)


def _not_differentiable(name, r, dt, inputs):
    """PyTorch records these with a NotImplemented node: the result requires
    grad, and a backward through it raises."""
    if not dt.is_floating_point:
        return fastad.tensor(r, dtype=dt)

    def derivative(grad, ins, result):
        raise RuntimeError(f"the derivative for '{name}' is not implemented.")
    return make_op(r, "NotImplemented", inputs, derivative=derivative, dt=dt.code)


def floor_divide(input, other, *, out=None):
    (a, b), dt, inputs = _arrays("floor_divide", input, other, floating=False)
    if not dt.is_floating_point and np.any(b == 0):
        raise RuntimeError("ZeroDivisionError")
    with np.errstate(all="ignore"):
        return _out(_not_differentiable("floor_divide", np.floor_divide(a, b), dt, inputs), out)


def true_divide(dividend, divisor, *, out=None):
    return _out(dividend / divisor, out)


def add(input, other, *, alpha=1, out=None):
    return _out(input + (other if alpha == 1 else other * alpha), out)


def sub(input, other, *, alpha=1, out=None):
    return _out(input - (other if alpha == 1 else other * alpha), out)


def mul(input, other, *, out=None):
    return _out(input * other, out)


def div(input, other, *, rounding_mode=None, out=None):
    """input / other, or its quotient rounded toward zero ('trunc') or down
    ('floor'), whose gradient is zero (PyTorch's DivBackward2)."""
    if rounding_mode is None:
        return _out(input / other, out)
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError("div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                           f"but found '{rounding_mode}'")
    (a, b), dt, inputs = _arrays("div", input, other, floating=False)
    if not dt.is_floating_point:
        if np.any(b == 0):
            raise RuntimeError("ZeroDivisionError")
        q = np.floor_divide(a, b)
        if rounding_mode == "trunc":    # a floored quotient below zero that left a remainder
            q += (q < 0) & (q * b != a)
        return _out(fastad.tensor(q, dtype=dt), out)
    with np.errstate(all="ignore"):
        q = np.floor_divide(a, b) if rounding_mode == "floor" else np.trunc(a / b)
    zero = lambda grad, ins, result: tuple(  # noqa: E731
        None if t is None else fastad.zeros(_shape(t), dtype=grad.dtype) for t in ins)
    return _out(make_op(q, "DivBackward2", inputs, derivative=zero, dt=dt.code), out)


def negative(input, *, out=None):
    return _out(-input, out)


def absolute(input, *, out=None):
    return _out(fastad.abs(input), out)


def logical_not(input, *, out=None):
    return _out(fastad.tensor(np.logical_not(array_of(input))), out)


def _logical(name, f):
    def op(input, other, *, out=None):
        a = array_of(input)
        b = array_of(other) if isinstance(other, Tensor) else np.asarray(other)
        try:
            return _out(fastad.tensor(f(a, b)), out)
        except ValueError:
            raise RuntimeError(fastad._tensor._broadcast_msg(a.shape, b.shape)) from None
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name.split('_')[1]} of the operands' truth values (a bool tensor)."
    return op


logical_and = _logical("logical_and", np.logical_and)
logical_or = _logical("logical_or", np.logical_or)
logical_xor = _logical("logical_xor", np.logical_xor)
multiply, subtract, divide = mul, sub, div


def nextafter(input, other, *, out=None):
    (a, b), dt, inputs = _arrays("nextafter", input, other, floating=False)
    if not dt.is_floating_point:
        raise RuntimeError(f"\"nextafter_cpu\" not implemented for '{dt.name.capitalize()}'")
    return _out(_not_differentiable("nextafter", np.nextafter(a, b), dt, inputs), out)


def lerp(input, end, weight, *, out=None):
    """input + weight * (end - input), by PyTorch's two-sided formula (exact at
    both ends)."""
    diff = end - input
    if isinstance(weight, Tensor):
        return _out(fastad.where(weight.abs() < 0.5, input + weight * diff,
                                 end - diff * (1 - weight)), out)
    return _out(input + weight * diff if abs(weight) < 0.5 else end - diff * (1 - weight), out)


def addcmul(input, tensor1, tensor2, *, value=1, out=None):
    return _out(input + value * tensor1 * tensor2 if value != 1 else input + tensor1 * tensor2, out)


def addcdiv(input, tensor1, tensor2, *, value=1, out=None):
    return _out(input + value * tensor1 / tensor2 if value != 1 else input + tensor1 / tensor2, out)


def clamp_min(input, min):
    return fastad.clamp(input, min=min)


def clamp_max(input, max):
    return fastad.clamp(input, max=max)


def logit(input, eps=None, *, out=None):
    """log(z / (1 - z)) with z = input clamped to [eps, 1 - eps] when eps is given."""
    a = array_of(input)
    z = a if eps is None else np.clip(a, eps, 1 - eps)
    with np.errstate(all="ignore"):
        r = np.log(z / (1 - z))

    def d(grad, inputs, result):
        x, = inputs
        g = grad / (x * (1 - x))
        if eps is None:
            return (g,)
        return (fastad.where((x < eps) | (x > 1 - eps), 0.0, g),)
    return _out(make_op(r.astype(a.dtype, copy=False), "LogitBackward0", (input,), derivative=d)
                if input.is_floating_point() else logit(input.float(), eps), out)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None, *, out=None):
    a = array_of(input)
    if a.dtype.kind != "f":
        return _out(input.clone(), out)
    r = np.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)
    finite = lambda grad, inputs, result: (grad * ((inputs[0] - inputs[0]) == 0),)
    return _out(make_op(r, "NanToNumBackward0", (input,), derivative=finite), out)


def round(input, *, decimals=None, out=None):
    """Half to even; with decimals (PyTorch's other overload, even for 0), its
    scaled form: x * 10**d rounded, then divided back."""
    if decimals is None:
        return _out(fastad._tensor.round(input), out)
    a = array_of(input)
    scale = 10.0 ** abs(decimals)
    r = np.rint(a * scale) / scale if decimals > 0 else np.rint(a / scale) * scale
    zero = lambda grad, inputs, result: (fastad.zeros_like(grad),)
    return _out(make_op(r.astype(a.dtype, copy=False), "RoundBackward1", (input,),
                        derivative=zero), out)


def _out(result, out):
    """PyTorch's out=: result written into out (resized when its shape differs)."""
    if out is None:
        return result
    with fastad.no_grad():
        if tuple(out.shape) != tuple(result.shape):
            out.data = fastad.empty(tuple(result.shape), dtype=out.dtype)
        out.copy_(result)
    return out


def _in_place(fn, name):
    """Tensor.<name>: fn's result written into input's storage (recorded as fn's
    node, so the gradient flows as PyTorch's in-place op's)."""
    def inplace(input, *args, **kwargs):
        others = [a for a in args + tuple(kwargs.values()) if isinstance(a, Tensor)]
        return apply_inplace(input, lambda t: fn(t, *args, **kwargs), *others)
    inplace.__name__ = inplace.__qualname__ = name
    inplace.__doc__ = f"In-place {fn.__name__}: input is overwritten with the result."
    return inplace


# the in-place spellings PyTorch has for the functions here and the operators
for _f in (atan2, hypot, xlogy, remainder, fmod, floor_divide, true_divide, nextafter, lerp,
           addcmul, addcdiv, clamp_min, clamp_max, logit, nan_to_num, round):
    globals()[_f.__name__ + "_"] = _in_place(_f, _f.__name__ + "_")
pow_ = _in_place(lambda input, exponent: input ** exponent, "pow_")
square_ = _in_place(lambda input: input * input, "square_")
clip_ = _in_place(lambda input, min=None, max=None: fastad.clamp(input, min, max), "clip_")
del _f
