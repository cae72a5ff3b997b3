"""The op table: one row per op, the facts everything else is generated from.

``setup.py`` renders the Tempita templates (``fastad/*.tp``) from these rows
before Cython runs: the op codes, the per-element dispatch of the kernels, the
0-d tape records, ``Tensor``'s methods and the compiled functions behind
``fastad.foo`` and ``nn.functional.foo``.  At import time ``nn`` builds the
activation modules and ``fastad.ops`` the registry entries from the same rows,
so a new elementwise op is its formula pair in ``fastad/_formulas.pxi`` and one
row here (CONTRIBUTING.md).

This module is plain Python with no fastad imports: the build reads it before
anything is compiled.

A ``Unary`` row is an elementwise op y = f(x) over float32/float64 with up to two
float parameters (``a``, ``b`` in the C formulas, the row's ``params`` in order):

- ``forward``: C expression for y from ``x``, ``a``, ``b`` (``s``: rrelu's slope).
- ``backward``: C expression for the gradient from ``x``, ``y``, ``gy``, ``a``, ``b``.
- ``saves``: what ``backward`` reads ("x", "y" or ""): the backward keeps only that.
- ``backward_from_x`` / ``from_x_when``: a second backward that reads x only, used
  when ``from_x_when`` (C, over ``a``) holds (elu's y-form is valid for alpha > 0).
- ``long`` / ``long_backward``: the forward / backward computes an exp, log or
  trig per element (its loop prefetches the next page; x-form backwards always do).
- ``masks``: the gradient is a mask (PyTorch's where): 0 * inf stays 0.
- ``params``: ((python name, default), ...); ``checks``: ((python condition over
  the names, exception class name, message), ...) raised before any work;
  ``guard``: (C-free Python condition over a, b, message) the kernels refuse.
- ``grad_fn`` / ``inplace_grad_fn``: PyTorch's grad_fn names.
- Every row but rrelu gets a compiled function ``fastad._tensor.<name>(input,
  *params, inplace=False)`` (``inplace`` only when the row says so); ``F``: it is
  also ``nn.functional.<name>``; ``function``: also ``fastad.<name>``;
  ``method``: ``Tensor.<name>()`` runs the same code.
- ``module``: the ``nn`` module class name (constructor: the F parameters, or
  ``module_args``, for a module over a hand-written F function).
- ``int_op``: numpy expression over ``x`` (and ``a``, ``b``) for integer inputs,
  which then keep their dtype (PyTorch clamps ints); without it integers are
  promoted to the default float dtype.  Bool inputs with an ``int_op`` raise.
- ``fuse``: ``nn.Sequential`` may run it fused into the ``Linear`` before it
  (its backward reads only y).
- ``domain`` / ``kinks``: where gradcheck draws inputs, and the points it keeps
  0.1 away from.  ``cases``: extra parameter sets the registry checks.
- ``derivative``: the gradient in Tensor ops (``grad``, ``self``, ``result``,
  ``a``, ``b``), as in PyTorch's derivatives.yaml: the form a recorded
  (create_graph) backward differentiates again.  It is a Python expression
  evaluated in ``fastad._tensor`` (``where``, ``softplus``, the Tensor methods,
  and the helpers of ``_derivatives.pxi``: ``_erf``, ``_sgn``, ``_SELU_SCALE``,
  ``_SELU_ALPHA``); ``setup.py`` renders it into one function per row.
- ``backward_derivative``: for a row whose backward reads y alone, the
  derivative of ``backward`` in y, times the gradient of its output, in Tensor
  ops (``grad``, ``gy``, ``result``, ``a``, ``b``; derivatives.yaml's
  ``tanh_backward`` entry), arithmetic only: a first-order backward evaluates
  it over numpy arrays.  With it, a recorded backward over arrays runs the
  compiled backward as one op (PyTorch's ``TanhBackwardBackward0``) instead of
  the ``derivative`` column's chain of elementwise ops, and that op's own
  derivative is the compiled backward again (in gy) and this formula (in y);
  0-d records still run the ``derivative`` column.

A ``PyOp`` row is an op written in Python (``fastad/_functions/<module>.py``),
over other fastad ops or ``make_op(..., derivative=...)``: ``fastad.<name>``
(``function``) and ``Tensor.<name>`` (``method``, generated into the Tensor
class) are that one function.
"""
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Unary:
    name: str
    forward: str
    backward: str
    saves: str
    derivative: str
    params: tuple = ()
    checks: tuple = ()
    guard: tuple = ()
    backward_from_x: str = ""
    from_x_when: str = ""
    long: bool = False
    long_backward: bool = False
    masks: bool = False
    grad_fn: str = ""
    inplace_grad_fn: str = ""
    F: bool = True
    inplace: bool = False
    function: bool = False
    method: bool = False
    module: str = ""
    int_op: str = ""
    fuse: bool = False
    domain: tuple = (-2.0, 2.0)
    kinks: tuple = ()
    cases: tuple = ()
    module_args: tuple = None
    backward_derivative: str = ""

    @property
    def code(self):
        """The C enum name of the op (A_SIGMOID)."""
        return "A_" + self.name.upper()

    @property
    def code_from_x(self):
        return self.code + "_X"

    @property
    def backward_name(self):
        return self.grad_fn or "".join(p.title() for p in self.name.split("_")) + "Backward0"

    @property
    def derivative_reads_self(self):
        """Whether the derivative column reads the input (else grad and result only)."""
        return re.search(r"\bself\b", self.derivative) is not None

    @property
    def param_names(self):
        return tuple(p for p, _ in self.params)

    @property
    def signature(self):
        """The F/function signature after ``input``, as Python source."""
        parts = [f"{p}={d!r}" for p, d in self.params]
        if self.inplace:
            parts.append("inplace=False")
        return "".join(", " + p for p in parts)

    @property
    def module_params(self):
        """The module's constructor parameters with defaults, in order."""
        if self.module_args is not None:
            return self.module_args
        return self.params + ((("inplace", False),) if self.inplace else ())

    @property
    def noise(self):
        """The op reads a per-element slope from the caller (no compiled function)."""
        return "s)" in self.forward


UNARY = (
    # ---- math ops (Tensor methods and fastad functions; no nn.functional form)
    Unary("exp", "f_exp(x)", "gy * y", "y", "grad * result", long=True,
          F=False, function=True, method=True),
    Unary("log", "f_log(x)", "gy / x", "x", "grad / self", long=True, domain=(0.2, 3.0),
          F=False, function=True, method=True),
    Unary("sqrt", "f_sqrt(x)", "gy / (<floating>2 * y)", "y", "grad / (2 * result)",
          domain=(0.2, 3.0), F=False, function=True, method=True),
    Unary("sin", "f_sin(x)", "gy * f_cos(x)", "x", "grad * self.cos()", long=True, long_backward=True,
          F=False, function=True, method=True),
    Unary("cos", "f_cos(x)", "gy * -f_sin(x)", "x", "grad * -self.sin()", long=True, long_backward=True,
          F=False, function=True, method=True),
    Unary("abs", "f_abs(x)", "gy * f_sgn(x)", "x", "grad * _sgn(self)", kinks=(0.0,),
          F=False, function=True, method=True, int_op="np.abs(x)"),
    Unary("neg", "-x", "-gy", "", "-grad", F=False, function=True, method=True, int_op="-x"),
    # ---- activations
    Unary("sigmoid", "sigmoid_forward(x)", "sigmoid_backward(y, gy)", "y",
          "grad * result * (1 - result)", long=True, function=True, method=True,
          module="Sigmoid", fuse=True, backward_derivative="grad * gy * (1 - 2 * result)"),
    Unary("tanh", "f_tanh(x)", "tanh_backward(y, gy)", "y", "grad * (1 - result * result)",
          long=True, function=True, method=True, module="Tanh", fuse=True,
          backward_derivative="grad * gy * (-2 * result)"),
    Unary("relu", "relu_forward(x)", "relu_backward(y, gy)", "y", "grad * (result > 0)",
          masks=True, inplace=True, function=True, method=True, module="ReLU",
          int_op="np.maximum(x, 0)", fuse=True, kinks=(0.0,)),
    Unary("relu6", "hardtanh_forward(x, <floating>0, <floating>6)",
          "hardtanh_backward(y, gy, <floating>0, <floating>6)", "y",
          "grad * ((result > 0) & (result < 6))", masks=True, grad_fn="HardtanhBackward0",
          inplace=True, module="ReLU6", int_op="np.clip(x, 0, 6)", fuse=True,
          domain=(-3.0, 8.0), kinks=(0.0, 6.0)),
    Unary("hardtanh", "hardtanh_forward(x, a, b)", "hardtanh_backward(y, gy, a, b)", "y",
          "grad * ((result > a) & (result < b))", params=(("min_val", -1.0), ("max_val", 1.0)),
          checks=(("min_val > max_val", "ValueError", "min_val cannot be greater than max_val"),),
          masks=True, inplace=True, module="Hardtanh", int_op="np.clip(x, int(a), int(b))",
          fuse=True, kinks=(-1.0, -0.5, 1.0, 1.5), cases=(dict(min_val=-0.5, max_val=1.5),)),
    Unary("leaky_relu", "leaky_relu_forward(x, a)", "leaky_relu_backward(x, gy, a)", "x",
          "where(self > 0, grad, grad * a)", params=(("negative_slope", 0.01),),
          grad_fn="LeakyReluBackward0", inplace_grad_fn="LeakyReluBackward1", inplace=True,
          module="LeakyReLU", kinks=(0.0,), cases=(dict(negative_slope=0.2),)),
    Unary("elu", "elu_forward(x, a, <floating>1, <floating>1)",
          "elu_backward_from_y(y, gy, a, <floating>1, <floating>1)", "y",
          "grad * where(self > 0, 1, where(self < 0, result, 0) + a)", params=(("alpha", 1.0),),
          backward_from_x="elu_backward_from_x(x, gy, a, <floating>1, <floating>1)",
          from_x_when="a <= 0", long=True, inplace_grad_fn="EluBackward1", inplace=True,
          module="ELU", kinks=(0.0,), cases=(dict(alpha=0.7),)),
    Unary("selu", "elu_forward(x, <floating>SELU_ALPHA, <floating>SELU_SCALE, <floating>1)",
          "elu_backward_from_y(y, gy, <floating>SELU_ALPHA, <floating>SELU_SCALE, <floating>1)",
          "y",
          "grad * _SELU_SCALE * where(self > 0, 1, where(self < 0, result / _SELU_SCALE, 0)"
          " + _SELU_ALPHA)",
          backward_from_x="elu_backward_from_x(x, gy, <floating>SELU_ALPHA, <floating>SELU_SCALE,"
                          " <floating>1)",
          from_x_when="False", long=True, grad_fn="EluBackward0", inplace_grad_fn="EluBackward1",
          inplace=True, function=True, module="SELU", fuse=True, kinks=(0.0,)),
    Unary("celu", "elu_forward(x, a, <floating>1, <floating>1 / a)",
          "elu_backward_from_y(y, gy, a, <floating>1, <floating>1 / a)", "y",
          "grad * where(self > 0, 1, where(self < 0, result / a, 0) + 1)", params=(("alpha", 1.0),),
          checks=(("alpha == 0", "ValueError", "ZeroDivisionError: alpha cannot be 0 for CELU"),),
          guard=("a == 0", "celu alpha must be nonzero"),
          backward_from_x="elu_backward_from_x(x, gy, a, <floating>1, <floating>1 / a)",
          from_x_when="a <= 0", long=True, inplace_grad_fn="CeluBackward1", inplace=True,
          function=True, module="CELU", kinks=(0.0,), cases=(dict(alpha=1.3),)),
    Unary("gelu", "gelu_forward(x)", "gelu_backward(x, gy)", "x",
          "grad * (0.5 * (1 + _erf(self * 0.7071067811865476))"
          " + self * (-0.5 * self * self).exp() * 0.3989422804014327)", long=True, long_backward=True,
          F=False, module="GELU", module_args=(("approximate", "none"),)),
    Unary("gelu_tanh", "gelu_tanh_forward(x)", "gelu_tanh_backward(x, gy)", "x",
          "grad * (0.5 * (1 + (0.7978845608028654 * (self + 0.044715 * self ** 3)).tanh())"
          " + 0.5 * self * (1 - (0.7978845608028654 * (self + 0.044715 * self ** 3)).tanh() ** 2)"
          " * 0.7978845608028654 * (1 + 0.134145 * self * self))", long=True, long_backward=True, grad_fn="GeluBackward0", F=False),
    Unary("silu", "silu_forward(x)", "silu_backward(x, gy)", "x",
          "grad * self.sigmoid() * (1 + self * (1 - self.sigmoid()))", long=True, long_backward=True, inplace=True,
          module="SiLU"),
    Unary("mish", "mish_forward(x)", "mish_backward(x, gy)", "x",
          "grad * (softplus(self).tanh() + self * self.sigmoid() * (1 - softplus(self).tanh() ** 2))",
          long=True, long_backward=True, inplace=True, module="Mish"),
    Unary("softplus", "softplus_forward(x, a, b)", "softplus_backward(x, gy, a, b)", "x",
          "grad * where(self * a > b, 1, where(self * a < b, self * a, b).sigmoid())",
          params=(("beta", 1.0), ("threshold", 20.0)), long=True, long_backward=True, module="Softplus",
          kinks=(1.5,), cases=(dict(beta=2.0, threshold=3.0),)),
    Unary("softsign", "softsign_forward(x)", "softsign_backward(x, gy)", "x",
          "grad / (1 + self.abs()) ** 2", grad_fn="DivBackward0", module="Softsign"),
    Unary("logsigmoid", "logsigmoid_forward(x)", "logsigmoid_backward(x, gy)", "x",
          "grad * (-self).sigmoid()", long=True, long_backward=True, grad_fn="LogSigmoidBackward0",
          module="LogSigmoid"),
    Unary("hardsigmoid", "hardsigmoid_forward(x)", "hardsigmoid_backward(x, gy)", "x",
          # PyTorch's backward multiplies by the float32 constant 1.0f / 6
          "grad * ((self > -3) & (self < 3)) * 0.1666666716337204", masks=True, inplace=True,
          module="Hardsigmoid", domain=(-4.0, 4.0), kinks=(-3.0, 3.0)),
    Unary("hardswish", "hardswish_forward(x)", "hardswish_backward(x, gy)", "x",
          "grad * where(self <= -3, 0, where(self < 3, self / 3 + 0.5, 1))", masks=True,
          inplace=True, module="Hardswish", domain=(-4.0, 4.0), kinks=(-3.0, 3.0)),
    # rrelu: the slope per element comes from the caller (random in training)
    Unary("rrelu", "rrelu_forward_elem(x, s)", "rrelu_backward_elem(x, gy, s)", "x",
          "grad * ((self > 0) + (self <= 0) * noise)", grad_fn="RreluWithNoiseBackward0",
          F=False),
)

# ---- math functions (issue 14): libm in double (_formulas.pxi) unless a vectorised
# helper exists; rounding ops have a zero gradient (PyTorch's zeros_like).  Tensor.foo_
# is generated for every row with a method.
_ROUNDING = dict(F=False, function=True, method=True, int_op="x.copy()", masks=True,
                 domain=(-2.6, 2.6))
_MATH = dict(F=False, function=True, method=True, long=True)
UNARY += (
    Unary("exp2", "<floating>exp2(x)", "gy * y * <floating>LN2", "y",
          "grad * result * 0.6931471805599453", **_MATH),
    Unary("expm1", "f_expm1(x)", "gy * (y + <floating>1)", "y", "grad * (result + 1)", **_MATH),
    Unary("log2", "<floating>log2(x)", "gy / (x * <floating>LN2)", "x",
          "grad / (self * 0.6931471805599453)", domain=(0.2, 3.0), **_MATH),
    Unary("log10", "<floating>log10(x)", "gy / (x * <floating>LN10)", "x",
          "grad / (self * 2.302585092994046)", domain=(0.2, 3.0), **_MATH),
    Unary("log1p", "f_log1p(x)", "gy / (x + <floating>1)", "x", "grad / (self + 1)",
          domain=(-0.8, 3.0), **_MATH),
    Unary("rsqrt", "<floating>1 / f_sqrt(x)", "<floating>-0.5 * gy * y * y * y", "y",
          "-0.5 * grad * result ** 3", domain=(0.2, 3.0), **_MATH),
    Unary("tan", "<floating>tan(x)", "gy * (<floating>1 + y * y)", "y",
          "grad * (1 + result * result)", domain=(-1.2, 1.2), **_MATH),
    Unary("asin", "<floating>asin(x)", "gy / f_sqrt(<floating>1 - x * x)", "x",
          "grad * (1 - self * self).rsqrt()", domain=(-0.9, 0.9), **_MATH),
    Unary("acos", "<floating>acos(x)", "-gy / f_sqrt(<floating>1 - x * x)", "x",
          "-grad * (1 - self * self).rsqrt()", domain=(-0.9, 0.9), **_MATH),
    Unary("atan", "<floating>atan(x)", "gy / (<floating>1 + x * x)", "x",
          "grad / (self * self + 1)", **_MATH),
    Unary("sinh", "<floating>sinh(x)", "gy * <floating>cosh(x)", "x", "grad * self.cosh()",
          long_backward=True, **_MATH),
    Unary("cosh", "<floating>cosh(x)", "gy * <floating>sinh(x)", "x", "grad * self.sinh()",
          long_backward=True, **_MATH),
    Unary("asinh", "<floating>asinh(x)", "gy / f_sqrt(x * x + <floating>1)", "x",
          "grad * (self * self + 1).rsqrt()", inplace_grad_fn="AsinhBackward1", **_MATH),
    Unary("acosh", "<floating>acosh(x)", "gy / f_sqrt(x * x - <floating>1)", "x",
          "grad * (self * self - 1).rsqrt()", domain=(1.2, 3.0), inplace_grad_fn="AcoshBackward1",
          **_MATH),
    Unary("atanh", "<floating>atanh(x)", "gy / (<floating>1 - x * x)", "x",
          "grad / (1 - self * self)", domain=(-0.9, 0.9), inplace_grad_fn="AtanhBackward1",
          **_MATH),
    Unary("erf", "f_erf(x)", "gy * <floating>TWO_OVER_SQRT_PI * f_exp(-x * x)", "x",
          "grad * 1.1283791670955126 * (-self * self).exp()", long_backward=True, **_MATH),
    Unary("erfc", "<floating>erfc(x)", "-gy * <floating>TWO_OVER_SQRT_PI * f_exp(-x * x)", "x",
          "grad * -1.1283791670955126 * (-self * self).exp()", long_backward=True, **_MATH),
    Unary("erfinv", "<floating>erfinv_double(x)",
          "gy * <floating>(1 / TWO_OVER_SQRT_PI) * f_exp(y * y)", "y",
          "grad * 0.886226925452758 * (result * result).exp()", domain=(-0.9, 0.9),
          long_backward=True, **_MATH),
    Unary("reciprocal", "<floating>1 / x", "-gy * y * y", "y", "-grad * result * result",
          domain=(0.3, 3.0), F=False, function=True, method=True),
    Unary("sign", "f_sgn(x)", "<floating>0", "", "zeros_like(grad)", kinks=(0.0,), masks=True,
          F=False, function=True, method=True, int_op="np.sign(x)"),
    Unary("floor", "<floating>floor(x)", "<floating>0", "", "zeros_like(grad)",
          kinks=(-2.0, -1.0, 0.0, 1.0, 2.0), **_ROUNDING),
    Unary("ceil", "<floating>ceil(x)", "<floating>0", "", "zeros_like(grad)",
          kinks=(-2.0, -1.0, 0.0, 1.0, 2.0), **_ROUNDING),
    Unary("trunc", "<floating>trunc(x)", "<floating>0", "", "zeros_like(grad)",
          kinks=(-2.0, -1.0, 0.0, 1.0, 2.0), **_ROUNDING),
    # round's decimals= form is fastad._functions.pointwise.round, over this kernel
    Unary("round", "<floating>nearbyint(x)", "<floating>0", "", "zeros_like(grad)",
          kinks=(-2.5, -1.5, -0.5, 0.5, 1.5, 2.5), **dict(_ROUNDING, function=False, method=False)),
    Unary("frac", "x - <floating>trunc(x)", "gy", "", "grad",
          kinks=(-2.0, -1.0, 0.0, 1.0, 2.0), F=False, function=True, method=True),
)

UNARY_BY_NAME = {op.name: op for op in UNARY}


def unary_codes():
    """(C enum name, value) of every kernel op code: each row, then the
    backward-from-x variants."""
    names = [op.code for op in UNARY] + [op.code_from_x for op in UNARY if op.backward_from_x]
    return list(zip(names, range(len(names))))


@dataclass(frozen=True)
class PyOp:
    name: str
    module: str            # fastad._functions.<module> defines it
    function: bool = True
    method: bool = True

    @property
    def path(self):
        return "fastad._functions." + self.module


def _py_ops(module, *names, function=True, method=True):
    return tuple(PyOp(n, module, function, method) for n in names)


# One group per file of fastad/_functions, each kept by the file's owner.
SHAPE_OPS = (_py_ops("shapes", "flip", "fliplr", "flipud", "roll", "rot90", "swapaxes", "swapdims",
                     "movedim", "moveaxis", "unflatten", "broadcast_to", "tile",
                     "repeat_interleave", "tril", "triu", "diagonal", "diagonal_scatter",
                     "diag_embed", "diag")
             + _py_ops("shapes", "broadcast_shapes", "broadcast_tensors", "meshgrid", method=False)
             + _py_ops("shapes", "tril_indices", "triu_indices", method=False)
             + _py_ops("shapes", "repeat", "unfold", "t_", "transpose_", "swapaxes_", "swapdims_",
                       "squeeze_", "unsqueeze_", "fill_diagonal_", function=False))
JOIN_OPS = (_py_ops("joining", "split", "chunk", "tensor_split", "unbind", "narrow", "select",
                    "slice_scatter")
            + _py_ops("joining", "concat", "concatenate", "atleast_1d", "atleast_2d", "atleast_3d",
                      "hstack", "vstack", "row_stack", "dstack", "column_stack", method=False))
INDEXING_OPS = (_py_ops("indexing", "index_select", "index_add", "index_fill", "gather", "scatter",
                        "scatter_add", "take", "take_along_dim", "masked_fill", "masked_select",
                        "nonzero", "argwhere")
                + _py_ops("indexing", "index_add_", "index_fill_", "scatter_", "scatter_add_",
                          "masked_fill_", function=False))
REDUCTION_OPS = (_py_ops("reductions", "prod", "var", "std", "amax", "amin", "logsumexp", "norm",
                         "dist", "nansum", "nanmean", "count_nonzero", "all", "any", "cumsum",
                         "cumprod", "cummax", "cummin", "diff")
                 + _py_ops("reductions", "var_mean", "std_mean", method=False))
SORTING_OPS = _py_ops("sorting", "sort", "argsort", "msort", "topk", "kthvalue", "median", "mode",
                      "quantile")
COUNTING_OPS = _py_ops("counting", "unique", "histc", "histogram", "bincount")
# eq ... ge are hand-written Tensor methods (the operators' code); the functions are these
COMPARISON_OPS = (_py_ops("comparison", "eq", "ne", "lt", "le", "gt", "ge", method=False)
                  + _py_ops("comparison", "not_equal", "less", "less_equal", "greater",
                            "greater_equal", "isclose", "isnan", "isinf", "isfinite", "isposinf",
                            "isneginf"))
_POINTWISE = ("atan2", "hypot", "logaddexp", "xlogy", "fmax", "fmin", "remainder", "fmod",
              "floor_divide", "true_divide", "nextafter", "lerp", "addcmul", "addcdiv", "clamp_min",
              "clamp_max", "logit", "nan_to_num", "round")
POINTWISE_OPS = (_py_ops("pointwise", *_POINTWISE, "arctan2", "multiply", "subtract", "divide",
                          "negative", "absolute", "logical_not", "logical_and", "logical_or",
                          "logical_xor")
                 # Tensor's add, sub, mul and div are the operators' code (and div's rounding_mode
                 # comes here)
                 + _py_ops("pointwise", "add", "sub", "mul", "div", method=False)
                 + _py_ops("pointwise", *[n + "_" for n in _POINTWISE if n not in (
                     "logaddexp", "fmax", "fmin")], "pow_", "square_", "clip_", function=False))
LINALG_OPS = (_py_ops("linalg", "bmm", "mv", "dot", "outer", "ger", "inner", "cross", "kron",
                      "trace", "det", "inverse", "addmm", "baddbmm")
              + _py_ops("linalg", "einsum", "tensordot", "cdist", "matmul", "mm", method=False))
PY_OPS = (SHAPE_OPS + JOIN_OPS + INDEXING_OPS + REDUCTION_OPS + SORTING_OPS + COUNTING_OPS
          + COMPARISON_OPS + POINTWISE_OPS + LINALG_OPS)
