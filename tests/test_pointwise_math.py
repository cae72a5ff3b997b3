"""Issue 14, point 4: the pointwise math functions and their in-place forms,
against PyTorch: values, dtypes, gradients, 0-d, empty and broadcast inputs."""
import math

import numpy as np
import pytest

import fastad
from conftest import assert_same, check_fn, needs_torch

pytestmark = needs_torch

# (name, domain) of the one-input functions that are rows of the op table
UNARY = [("exp2", (-3, 3)), ("expm1", (-2, 2)), ("log2", (0.1, 4)), ("log10", (0.1, 4)),
         ("log1p", (-0.9, 3)), ("rsqrt", (0.1, 4)), ("tan", (-1.3, 1.3)), ("asin", (-0.95, 0.95)),
         ("acos", (-0.95, 0.95)), ("atan", (-4, 4)), ("sinh", (-3, 3)), ("cosh", (-3, 3)),
         ("asinh", (-4, 4)), ("acosh", (1.1, 4)), ("atanh", (-0.95, 0.95)), ("erf", (-3, 3)),
         ("erfc", (-3, 3)), ("erfinv", (-0.99, 0.99)), ("reciprocal", (0.2, 3)),
         ("sign", (-2, 2)), ("floor", (-3, 3)), ("ceil", (-3, 3)), ("trunc", (-3, 3)),
         ("frac", (-3, 3))]
SHAPES = [(), (7,), (3, 4), (0, 3)]


def _draw(domain, shape, dtype, seed=0):
    return np.random.default_rng(seed).uniform(*domain, shape).astype(dtype)


@pytest.mark.parametrize("name,domain", UNARY)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unary_values_and_gradients(name, domain, shape, dtype):
    tol = dict(rtol=2e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    check_fn(lambda lib, a: getattr(lib, name)(a), [_draw(domain, shape, dtype)], tol=tol,
             grad_tol=dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else None)


@pytest.mark.parametrize("name,domain", UNARY)
def test_unary_method_and_in_place(name, domain, torch):
    a = _draw(domain, (3, 4), np.float64)
    x, t = fastad.tensor(a), torch.tensor(a)
    assert_same(getattr(x, name)(), getattr(t, name)())
    y = fastad.tensor(a, requires_grad=True)
    ty = torch.tensor(a, requires_grad=True)
    z, tz = y * 2, ty * 2
    assert getattr(z, name + "_")() is z
    getattr(tz, name + "_")()
    assert_same(z, tz)
    assert z.grad_fn.name() == tz.grad_fn.name()
    (z * z).sum().backward()
    try:
        (tz * tz).sum().backward()
    except NotImplementedError:       # PyTorch has no derivative for asinh_, acosh_, atanh_
        tz = getattr(ty * 2, name)()
        (tz * tz).sum().backward()
    assert_same(y.grad, ty.grad)


def test_unary_special_values_match_torch(torch):
    special = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30, 1e30])
    for name, _ in UNARY:
        for dtype in (np.float32, np.float64):
            a = special.astype(dtype)
            assert_same(getattr(fastad, name)(fastad.tensor(a)),
                        getattr(torch, name)(torch.tensor(a)),
                        tol=dict(rtol=2e-6, atol=0))


@pytest.mark.parametrize("name", ["sign", "floor", "ceil", "trunc"])
def test_integer_inputs_keep_their_dtype(name, torch):
    a = np.array([-3, 0, 2, 7])
    assert_same(getattr(fastad, name)(fastad.tensor(a)), getattr(torch, name)(torch.tensor(a)))


@pytest.mark.parametrize("name", ["exp2", "log2", "sqrt", "erf", "reciprocal"])
def test_integer_inputs_promote_to_float(name, torch):
    a = np.array([1, 2, 4])
    assert_same(getattr(fastad, name)(fastad.tensor(a)), getattr(torch, name)(torch.tensor(a)))


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "abs", "sin", "cos", "sigmoid", "tanh",
                                  "relu", "neg", "tan"])
def test_in_place_methods_of_the_older_rows(name, torch):
    a = np.random.default_rng(1).uniform(0.2, 2, (2, 3))
    x, t = fastad.tensor(a), torch.tensor(a)
    getattr(x, name + "_")()
    getattr(t, name + "_")()
    assert_same(x, t)


def test_in_place_float_op_on_an_integer_tensor_raises_like_torch(torch):
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2]).exp_()
    with pytest.raises(RuntimeError):
        fastad.tensor([1, 2]).exp_()


BINARY = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 3), (4, 1)), ((), (3,)), ((), ()),
          ((0, 3), (3,))]


def _pair(shapes, dtype=np.float64, lo=-2, hi=2, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(lo, hi, s).astype(dtype) for s in shapes]


@pytest.mark.parametrize("shapes", BINARY)
@pytest.mark.parametrize("name", ["atan2", "hypot", "logaddexp", "fmax", "fmin", "true_divide",
                                  "arctan2"])
def test_binary_functions(name, shapes):
    check_fn(lambda lib, a, b: getattr(lib, name)(a, b), _pair(shapes), check_grad_fn=name not in (
        "true_divide", "fmax", "fmin", "arctan2"))


@pytest.mark.parametrize("shapes", BINARY)
def test_xlogy(shapes):
    a, b = _pair(shapes, lo=0.1)
    if a.size:
        a.reshape(-1)[0] = 0.0
    check_fn(lambda lib, x, y: lib.xlogy(x, y), [a, b])


@pytest.mark.parametrize("name", ["remainder", "fmod"])
@pytest.mark.parametrize("shapes", BINARY[:4])
def test_remainder_and_fmod(name, shapes):
    a, b = _pair(shapes, lo=-5, hi=5)
    b = np.where(np.abs(b) < 0.5, 1.5, b)
    check_fn(lambda lib, x, y: getattr(lib, name)(x, y), [a, b])
    check_fn(lambda lib, x: getattr(lib, name)(x, -1.5), [a])


@pytest.mark.parametrize("name", ["remainder", "fmod", "floor_divide"])
def test_integer_division_family(name, torch):
    a, b = np.array([-7, -3, 0, 5, 9]), np.array([2, -2, 3, -4, 4])
    assert_same(getattr(fastad, name)(fastad.tensor(a), fastad.tensor(b)),
                getattr(torch, name)(torch.tensor(a), torch.tensor(b)))
    assert_same(getattr(fastad, name)(fastad.tensor(a), 3), getattr(torch, name)(torch.tensor(a), 3))


def test_floor_divide_has_no_derivative_as_in_torch(torch):
    a = np.array([-3.5, 2.25, 7.0])
    x = fastad.tensor(a, requires_grad=True)
    y = fastad.floor_divide(x, 2.0)
    assert_same(y, torch.floor_divide(torch.tensor(a), 2.0))
    assert y.requires_grad and y.grad_fn.name() == "NotImplemented"
    with pytest.raises(RuntimeError, match="derivative for 'floor_divide' is not implemented"):
        y.sum().backward()


def test_nextafter(torch):
    a, b = np.array([1.0, 0.0, -2.0]), np.array([2.0, -1.0, -2.0])
    for dtype in (np.float32, np.float64):
        assert_same(fastad.nextafter(fastad.tensor(a.astype(dtype)), fastad.tensor(b.astype(dtype))),
                    torch.nextafter(torch.tensor(a.astype(dtype)), torch.tensor(b.astype(dtype))),
                    tol=dict(rtol=0, atol=0))


@pytest.mark.parametrize("weight", [0.3, 0.7, "tensor"])
def test_lerp(weight):
    a, b, w = _pair([(3, 4), (4,), (3, 1)], seed=2)
    if weight == "tensor":
        check_fn(lambda lib, x, y, z: lib.lerp(x, y, z), [a, b, w], check_grad_fn=False)
    else:
        check_fn(lambda lib, x, y: lib.lerp(x, y, weight), [a, b], check_grad_fn=False,
                 tol=dict(rtol=0, atol=1e-15))


@pytest.mark.parametrize("name", ["addcmul", "addcdiv"])
@pytest.mark.parametrize("value", [1, 0.5])
def test_addcmul_addcdiv(name, value):
    arrays = _pair([(3, 4), (4,), (3, 1)], seed=3, lo=0.5)
    check_fn(lambda lib, x, y, z: getattr(lib, name)(x, y, z, value=value), arrays,
             check_grad_fn=False)


def test_clamp_min_max_and_nan_to_num():
    a = np.array([-1.0, 0.2, 0.7, np.inf, -np.inf, np.nan])
    check_fn(lambda lib, x: lib.clamp_min(x, 0.5), [a[:3]], check_grad_fn=False)
    check_fn(lambda lib, x: lib.clamp_max(x, 0.5), [a[:3]], check_grad_fn=False)
    check_fn(lambda lib, x: lib.nan_to_num(x), [a])
    check_fn(lambda lib, x: lib.nan_to_num(x, nan=1.0, posinf=2.0, neginf=-3.0), [a])
    check_fn(lambda lib, x: lib.nan_to_num(x), [a.astype(np.float32)])


@pytest.mark.parametrize("eps", [None, 0.1])
def test_logit(eps):
    a = np.array([0.05, 0.3, 0.5, 0.95, 0.0, 1.0])
    check_fn(lambda lib, x: lib.logit(x, eps), [a])


@pytest.mark.parametrize("decimals", [0, 2, -1])
def test_round(decimals):
    a = np.array([0.5, 1.5, 2.5, -0.5, 1.2345, 123.456, -17.5])
    for dtype in (np.float32, np.float64):
        check_fn(lambda lib, x: lib.round(x, decimals=decimals), [a.astype(dtype)],
                 tol=dict(rtol=1e-6, atol=0))
    check_fn(lambda lib, x: x.round(decimals=decimals), [a])


@pytest.mark.parametrize("method,args", [
    ("atan2_", (0.5,)), ("hypot_", (0.5,)), ("remainder_", (0.7,)), ("fmod_", (0.7,)),
    ("lerp_", (2.0, 0.25)), ("clamp_min_", (0.1,)), ("clamp_max_", (0.1,)), ("pow_", (3,)),
    ("square_", ()), ("clip_", (-0.5, 0.5)), ("round_", ()), ("nan_to_num_", ()),
    ("true_divide_", (3.0,)), ("xlogy_", (2.0,)), ("logit_", ())])
def test_in_place_spellings(method, args, torch):
    a = np.array([0.1, 0.35, 0.8, 0.45])
    x = fastad.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    y, ty = x * 1, t * 1
    # PyTorch takes only tensors for these
    as_tensors = method in ("atan2_", "hypot_", "lerp_")
    fargs = [fastad.tensor(v, dtype=fastad.float64) if as_tensors and i == 0 else v
             for i, v in enumerate(args)]
    targs = [torch.tensor(v, dtype=torch.float64) if as_tensors and i == 0 else v
             for i, v in enumerate(args)]
    assert getattr(y, method)(*fargs) is y
    getattr(ty, method)(*targs)
    assert_same(y, ty)
    if ty.requires_grad:
        (y * y).sum().backward()
        (ty * ty).sum().backward()
        assert_same(x.grad, t.grad)


def test_in_place_with_a_tensor_that_requires_grad(torch):
    a, b = np.array([0.3, 1.0]), np.array([2.0, -1.0])
    x, t = fastad.tensor(a), torch.tensor(a)
    w, tw = fastad.tensor(b, requires_grad=True), torch.tensor(b, requires_grad=True)
    x.addcmul_(w, w, value=0.5)
    t.addcmul_(tw, tw, value=0.5)
    assert_same(x, t)
    x.sum().backward()
    t.sum().backward()
    assert_same(w.grad, tw.grad)


def test_out_keyword(torch):
    a, b = np.array([1.0, -2.0]), np.array([0.5, 3.0])
    out, tout = fastad.empty(2, dtype=fastad.float64), torch.empty(2, dtype=torch.float64)
    assert fastad.atan2(fastad.tensor(a), fastad.tensor(b), out=out) is out
    torch.atan2(torch.tensor(a), torch.tensor(b), out=tout)
    assert_same(out, tout)


def test_math_constants_of_backward_formulas(torch):
    assert math.isclose(fastad.erfinv(fastad.tensor(0.5, dtype=fastad.float64)).item(),
                        torch.erfinv(torch.tensor(0.5, dtype=torch.float64)).item(), rel_tol=1e-15)


def test_arithmetic_functions_take_out_and_pytorchs_aliases():
    """The 60 Minute Blitz writes torch.matmul(a, b, out=y3), torch.mul(a, b, out=z3)."""
    import torch
    x = np.arange(1.0, 7.0, dtype=np.float32).reshape(2, 3)
    for name, args, kwargs in [("matmul", (x, x.T), {}), ("mm", (x, x.T), {}),
                               ("mul", (x, x), {}), ("multiply", (x, 2.0), {}),
                               ("add", (x, x), {"alpha": 2}), ("sub", (x, x), {"alpha": 3}),
                               ("subtract", (x, 1.5), {}), ("div", (x, x + 1), {}),
                               ("divide", (x, 4.0), {})]:
        outs = []
        for lib in (fastad, torch):
            targs = [lib.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
            out = lib.zeros(1)
            result = getattr(lib, name)(*targs, out=out, **kwargs)
            assert result is out
            outs.append((out, getattr(lib, name)(*targs, **kwargs)))
        assert_same(outs[0][0], outs[1][0])
        assert_same(outs[0][1], outs[1][1])
    for lib in (fastad, torch):
        assert (lib.negative(lib.tensor([1.0, -2.0])).tolist(),
                lib.absolute(lib.tensor([1.0, -2.0])).tolist()) == ([-1.0, 2.0], [1.0, 2.0])


@pytest.mark.parametrize("mode", ["trunc", "floor"])
@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_div_rounding_mode(mode, dtype):
    import torch
    a = np.array([-7, 7, -8, 5, 0, -1], dtype=dtype)
    b = np.array([2, -2, 4, 3, 5, 3], dtype=dtype)
    for other in (b, 2):
        got = fastad.div(fastad.tensor(a), fastad.tensor(other) if isinstance(other, np.ndarray)
                         else other, rounding_mode=mode)
        want = torch.div(torch.tensor(a), torch.tensor(other) if isinstance(other, np.ndarray)
                         else other, rounding_mode=mode)
        assert_same(got, want)
        assert_same(fastad.tensor(a).div(other if not isinstance(other, np.ndarray)
                                         else fastad.tensor(other), rounding_mode=mode), want)
    if dtype == np.float32:
        x = fastad.tensor(a, requires_grad=True)
        y = fastad.div(x, 2, rounding_mode=mode)
        assert y.grad_fn.name() == "DivBackward2"
        y.sum().backward()
        assert x.grad.tolist() == [0.0] * 6
    with pytest.raises(RuntimeError, match="div expected rounding_mode to be one of None"):
        fastad.div(fastad.tensor(a), 2, rounding_mode="round")


def test_logical_functions():
    import torch
    a = np.array([[0.0, 1.5, -2.0], [0.0, 0.0, 3.0]], dtype=np.float32)
    b = np.array([1, 0, 2])
    for name in ("logical_and", "logical_or", "logical_xor"):
        assert_same(getattr(fastad, name)(fastad.tensor(a), fastad.tensor(b)),
                    getattr(torch, name)(torch.tensor(a), torch.tensor(b)))
        assert_same(getattr(fastad.tensor(a), name)(fastad.tensor(b)),
                    getattr(torch.tensor(a), name)(torch.tensor(b)))
    assert_same(fastad.logical_not(fastad.tensor(a)), torch.logical_not(torch.tensor(a)))
    assert_same(fastad.tensor(b).logical_not(), torch.tensor(b).logical_not())
    with pytest.raises(RuntimeError):
        fastad.logical_and(fastad.ones(2), fastad.ones(3))
    assert (fastad.inf, fastad.pi, fastad.e, fastad.newaxis) == (torch.inf, torch.pi, torch.e,
                                                                 torch.newaxis)
    assert math.isnan(fastad.nan)
