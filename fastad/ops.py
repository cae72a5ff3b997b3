"""The registry of every differentiable op of fastad: ONE list, ``OPS``.

Each entry is an ``OpInfo``:

    OpInfo(name, call, cases, domain=(-2, 2), kinks=(), sampler=None,
           api=(...), module=None, torch=True)

- ``call(lib, *tensors, **kwargs)`` runs the op with ``lib`` the package
  (``fastad``, or ``torch`` as the oracle of the tests): ``lib.exp(a)``,
  ``lib.nn.functional.relu6(a)``.  ``op.fn`` is ``call`` bound to fastad.
- ``cases``: ``Case(shapes, kwargs)``, one per shape/option combination
  (broadcasting pairs, each dim of a reduction with and without keepdim, ...).
- how inputs are drawn: uniform in ``domain``, kept 0.1 away from each point of
  ``kinks`` (relu-like ops), or by ``sampler(rng, shapes, dtype)``.
- ``api``: the public names the entry checks ("exp", "Tensor.exp", "F.relu6",
  "nn.ReLU6").  ``op.missing()`` lists those fastad does not have: the check
  reports such an entry as MISSING (a failure), never skips it.
- ``module(lib)``: for nn modules, builds the module; its parameters become
  inputs of the check after the drawn input(s).

``NON_DIFFERENTIABLE`` names (with the reason) every public callable that has
no entry on purpose; tests/test_registry.py fails on a public function that is
in neither.  fastad.nn.functional is imported lazily, when an entry runs.
"""
import importlib
from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Optional, Tuple

import numpy as np

from fastad import opdefs as _opdefs


class Case(NamedTuple):
    shapes: tuple                 # one shape per drawn input
    kwargs: tuple = ()            # sorted (key, value) pairs passed to call

    @property
    def options(self):
        return dict(self.kwargs)

    def label(self):
        txt = " ".join("x".join(map(str, s)) or "()" for s in self.shapes)
        if self.kwargs:
            txt += " " + ",".join(f"{k}={v}" for k, v in self.kwargs)
        return txt


def case(*shapes, **kwargs):
    return Case(tuple(tuple(s) for s in shapes), tuple(sorted(kwargs.items())))


def _lib_fastad():
    import fastad
    return fastad


def functional(lib):
    """lib.nn.functional, imported when first needed."""
    return importlib.import_module(lib.__name__ + ".nn.functional")


def _resolve(lib, api_name):
    """The object a public name denotes in lib, or None."""
    parts = api_name.split(".")
    try:
        if parts[0] == "F":
            obj = functional(lib)
        elif parts[0] == "nn":
            obj = importlib.import_module(lib.__name__ + ".nn")
        elif parts[0] == "Tensor":
            obj = lib.Tensor
        else:
            obj, parts = lib, [""] + parts
    except ImportError:
        return None
    for p in parts[1:]:
        obj = getattr(obj, p, None)
        if obj is None:
            return None
    return obj


@dataclass(frozen=True)
class OpInfo:
    name: str
    call: Callable                          # call(lib, *tensors, **kwargs)
    cases: Tuple[Case, ...]
    domain: Tuple[float, float] = (-2.0, 2.0)
    kinks: Tuple[float, ...] = ()           # points the drawn values keep 0.1 away from
    sampler: Optional[Callable] = None      # sampler(rng, shapes, dtype) -> [arrays]
    api: Tuple[str, ...] = ()               # public names this entry checks
    module: Optional[Callable] = None       # module(lib) -> nn.Module (parameters as inputs)
    torch: bool = True                      # PyTorch computes the same function
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def fn(self):
        """call bound to fastad: fn(*tensors, **kwargs)."""
        lib = _lib_fastad()
        return lambda *ts, **kw: self.call(lib, *ts, **kw)

    def missing(self):
        """The api names of this entry that fastad does not provide."""
        lib = _lib_fastad()
        return [n for n in self.api if _resolve(lib, n) is None]

    def draw(self, rng, shapes, dtype=np.float64):
        """Arrays for one case: uniform in the domain, pushed off the kinks."""
        if self.sampler is not None:
            return [np.asarray(a, dtype=dtype) for a in self.sampler(rng, shapes, dtype)]
        out = []
        for s in shapes:
            a = rng.uniform(*self.domain, size=s)
            for k in self.kinks:
                near = np.abs(a - k) < 0.1
                a = np.where(near, k + np.where(a >= k, 0.1, -0.1), a)
            out.append(np.asarray(a, dtype=dtype))
        return out

    def instantiate(self, c, rng, lib=None, dtype=np.float64):
        """(fn, inputs) for one case: inputs are lib tensors requiring grad, fn
        takes them all (a module's parameters come after the drawn inputs)."""
        lib = lib or _lib_fastad()
        arrays = self.draw(rng, c.shapes, dtype)
        inputs = [lib.tensor(a, requires_grad=True) for a in arrays]
        kw = c.options
        if self.module is None:
            return (lambda *ts: self.call(lib, *ts, **kw)), inputs
        m = self.module(lib)
        m = m.double() if dtype == np.float64 else m.float()
        params = list(m.parameters())
        with lib.no_grad():
            for p in params:
                p.copy_(lib.tensor(np.asarray(rng.uniform(-1, 1, tuple(p.shape)), dtype=dtype)))
        n = len(inputs)
        return (lambda *ts: self.call(lib, m, *ts[:n], **kw)), inputs + params


# ---------------------------------------------------------------- samplers

def _apart(rng, shapes, dtype):
    """Two inputs whose difference keeps 0.1 away from 0 (l1-like kinks, ties)."""
    a = rng.uniform(-2, 2, shapes[0])
    b = rng.uniform(-2, 2, shapes[1])
    d = a - b
    b = np.where(np.abs(d) < 0.1, b - np.where(d >= 0, 0.1, -0.1) + d * 0, b)
    return [a, b]


def _distinct(rng, shapes, dtype):
    """Distinct values 0.05 apart (max/min have one arg per slice, no ties), input k
    shifted by k/60: any two values of two inputs are at least 1/60 - 0.01 apart too
    (their difference is a kink of maximum, and of |a - n|**p in triplet losses)."""
    out = []
    for k, s in enumerate(shapes):
        n = int(np.prod(s, dtype=np.int64))
        out.append((rng.permutation(n).reshape(s) - n / 2) / 20.0 + k / 60.0
                   + rng.uniform(0, 0.01, s))
    return out


def _classes(lib, shape, n_classes, seed=0):
    """Deterministic class-index targets for logits of shape (N, C, ...) or (C,)."""
    batch = (shape[0],) + tuple(shape[2:]) if len(shape) > 1 else ()
    t = np.random.default_rng(seed).integers(0, n_classes, batch)
    return lib.tensor(t, dtype=lib.int64)


def _probs(lib, shape, seed=0):
    p = np.random.default_rng(seed).uniform(0.1, 1.0, tuple(shape))
    return lib.tensor(p / p.sum(axis=1 if len(shape) > 1 else 0, keepdims=True))


def _unit(lib, shape, seed=1, dtype=None):
    return lib.tensor(np.random.default_rng(seed).uniform(0.05, 0.95, tuple(shape)), dtype=dtype)


def _mask(lib, shape):
    n = int(np.prod(shape, dtype=np.int64))
    return lib.tensor(np.arange(n).reshape(shape) % 3 != 1)


# ---------------------------------------------------------------- shape cases

UNARY = (case(()), case((5,)), case((3, 4)), case((2, 3, 2)))
BINARY = (case((3, 4), (3, 4)), case((3, 4), (4,)), case((4,), (3, 4)),
          case((2, 1, 3), (4, 1)), case((), (3,)), case((3, 1), ()), case((), ()))


def reduce_cases(shapes=((3, 4), (2, 3, 2)), keepdim=True, full=True):
    """The full reduction, then each dim (and one negative dim) with and without keepdim."""
    out = [case(s) for s in shapes] if full else []
    for s in shapes:
        for d in list(range(len(s))) + [-1]:
            for k in ((False, True) if keepdim else (None,)):
                out.append(case(s, dim=d) if k is None else case(s, dim=d, keepdim=k))
    return tuple(out)


def dim_cases(shapes=((5,), (3, 4), (2, 3, 2))):
    return tuple(case(s, dim=d) for s in shapes for d in list(range(len(s))) + [-1])


def _reduce(method):
    def call(lib, a, dim=None, keepdim=False):
        if dim is None:
            return getattr(a, method)()
        return getattr(a, method)(dim, keepdim=keepdim)
    return call


def _reduce_fn(fname):
    def call(lib, a, dim=None, keepdim=False):
        if dim is None:
            return getattr(lib, fname)(a)
        r = getattr(lib, fname)(a, dim, keepdim=keepdim)
        return r[0] if isinstance(r, tuple) else r
    return call


def _argreduce(method):
    def call(lib, a, dim=None, keepdim=False):
        if dim is None:
            return getattr(a, method)()
        return getattr(a, method)(dim, keepdim=keepdim)[0]   # (values, indices)
    return call


def _index(key):
    def call(lib, a):
        k = key(lib) if callable(key) else key
        return a[k]
    return call


def _F(name, **fixed):
    def call(lib, *ts, **kw):
        return getattr(functional(lib), name)(*ts, **fixed, **kw)
    return call


def _nn(name, *args, **kwargs):
    return lambda lib: getattr(lib.nn, name)(*args, **kwargs)


def _module_call(lib, m, *ts, **kw):
    return m(*ts)


def _seeded_rrelu(lib, a):
    lib.manual_seed(0)        # the same random slopes at every evaluation
    return functional(lib).rrelu(a, 0.1, 0.3, training=True)


def _inplace(method):
    def call(lib, a, b=None):
        y = a * 1.0           # in place on a non-leaf, inside the graph
        return getattr(y, method)() if b is None else getattr(y, method)(b)
    return call


def _ce_target(kind):
    def call(lib, a, **kw):
        F = functional(lib)
        if kind == "probs":
            return F.cross_entropy(a, _probs(lib, a.shape), **kw)
        if kind == "weighted":
            w = lib.tensor([0.2, 1.0, 0.5], dtype=a.dtype)
            return F.cross_entropy(a, _classes(lib, a.shape, 3), weight=w, ignore_index=1,
                                   label_smoothing=0.1, **kw)
        if kind == "nll":
            return F.nll_loss(a, _classes(lib, a.shape, a.shape[1] if a.dim() > 1 else a.shape[0]),
                              **kw)
        if kind == "nll_weighted":
            w = lib.tensor([0.2, 1.0, 0.5], dtype=a.dtype)
            return F.nll_loss(a, _classes(lib, a.shape, 3), weight=w, ignore_index=2, **kw)
        return F.cross_entropy(a, _classes(lib, a.shape, a.shape[1] if a.dim() > 1 else a.shape[0]),
                               **kw)
    return call


REDUCTIONS = ("mean", "sum", "none")


def loss_cases(*shapes_list):
    return tuple(case(*shapes, reduction=r) for shapes in shapes_list for r in REDUCTIONS)


# ---------------------------------------------------------------- the registry

OPS = [
    # ---- arithmetic (operators, functions and methods)
    OpInfo("add", lambda lib, a, b: a + b, BINARY, api=("add", "Tensor.add")),
    OpInfo("add_alpha", lambda lib, a, b: lib.add(a, b, alpha=-0.5), BINARY[:3], api=("add",)),
    OpInfo("radd_number", lambda lib, a: 1.5 + a, UNARY),
    OpInfo("sub", lambda lib, a, b: a - b, BINARY,
           api=("sub", "Tensor.sub", "subtract", "Tensor.subtract")),
    OpInfo("rsub_number", lambda lib, a: 1.5 - a, UNARY),
    OpInfo("mul", lambda lib, a, b: a * b, BINARY,
           api=("mul", "Tensor.mul", "multiply", "Tensor.multiply")),
    OpInfo("mul_number", lambda lib, a: a * -2.5, UNARY),
    OpInfo("div", lambda lib, a, b: a / b, BINARY, kinks=(0.0,), domain=(-2.0, 2.0),
           api=("div", "Tensor.div", "divide", "Tensor.divide")),
    OpInfo("rdiv_number", lambda lib, a: 2.0 / a, UNARY, kinks=(0.0,)),
    OpInfo("pow_number", lambda lib, a: a ** 3, UNARY, api=("pow", "Tensor.pow")),
    OpInfo("pow_fraction", lambda lib, a: a ** 1.5, UNARY, domain=(0.2, 3.0)),
    OpInfo("pow_negative", lambda lib, a: a.pow(-2), UNARY, kinks=(0.0,)),
    OpInfo("rpow_number", lambda lib, a: 2.0 ** a, UNARY),
    OpInfo("pow_tensor", lambda lib, a, b: a ** b, BINARY, domain=(0.5, 2.0)),
    OpInfo("pow_fn", lambda lib, a, b: lib.pow(a, b), BINARY[:2], domain=(0.5, 2.0)),
    OpInfo("neg_operator", lambda lib, a: -a, UNARY, api=("Tensor.__neg__",)),
    OpInfo("negative", lambda lib, a: lib.negative(a), UNARY, api=("negative", "Tensor.negative")),
    OpInfo("absolute", lambda lib, a: a.absolute(), UNARY, kinks=(0.0,),
           api=("absolute", "Tensor.absolute")),
    OpInfo("square", lambda lib, a: lib.square(a), UNARY, api=("square", "Tensor.square")),
    # ---- unary math
    OpInfo("exp_method_chain", lambda lib, a: a.exp().sin().tanh(), UNARY),
    # ---- reductions: whole tensor, each dim, with and without keepdim
    OpInfo("sum", _reduce("sum"), reduce_cases(), api=("Tensor.sum",)),
    OpInfo("sum_fn", _reduce_fn("sum"), reduce_cases(((3, 4),)), api=("sum",)),
    OpInfo("mean", _reduce("mean"), reduce_cases(), api=("Tensor.mean",)),
    OpInfo("mean_fn", _reduce_fn("mean"), reduce_cases(((3, 4),)), api=("mean",)),
    OpInfo("max", _argreduce("max"), reduce_cases(), sampler=_distinct, api=("Tensor.max",)),
    OpInfo("max_fn", _reduce_fn("max"), reduce_cases(((3, 4),)), sampler=_distinct,
           api=("max",)),
    OpInfo("min", _argreduce("min"), reduce_cases(), sampler=_distinct, api=("Tensor.min",)),
    OpInfo("min_fn", _reduce_fn("min"), reduce_cases(((3, 4),)), sampler=_distinct,
           api=("min",)),
    OpInfo("sum_1d_scalar", _reduce("sum"), (case((5,), dim=0), case((), dim=0, keepdim=True))),
    # ---- linear algebra
    OpInfo("matmul", lambda lib, a, b: lib.matmul(a, b),
           (case((3, 4), (4, 2)), case((4,), (4,)), case((3, 4), (4,)), case((4,), (4, 2)),
            case((2, 3, 4), (4, 2)), case((4,), (2, 4, 3)), case((2, 3, 4), (2, 4, 2)),
            case((2, 3, 4), (4,)), case((2, 1, 3, 4), (3, 4, 2))),
           api=("matmul", "Tensor.matmul")),
    OpInfo("matmul_op", lambda lib, a, b: a @ b, (case((3, 4), (4, 2)), case((2, 3, 4), (4,)))),
    OpInfo("mm", lambda lib, a, b: lib.mm(a, b), (case((3, 4), (4, 2)),), api=("mm", "Tensor.mm")),
    # ---- shapes and views
    OpInfo("transpose", lambda lib, a, d0, d1: a.transpose(d0, d1),
           (case((3, 4), d0=0, d1=1), case((2, 3, 4), d0=0, d1=2), case((2, 3, 4), d0=-1, d1=1)),
           api=("transpose", "Tensor.transpose")),
    OpInfo("t", lambda lib, a: a.t(), (case((3, 4),), case((4,),)), api=("t", "Tensor.t")),
    OpInfo("T", lambda lib, a: a.T, (case((3, 4),),), api=("Tensor.T",)),
    OpInfo("mT", lambda lib, a: a.mT, (case((2, 3, 4),),), api=("Tensor.mT",)),
    OpInfo("reshape", lambda lib, a, shape: a.reshape(*shape),
           (case((3, 4), shape=(-1, 2)), case((3, 4), shape=(12,)), case((), shape=(1, 1)),
            case((2, 3, 2), shape=(6, 2))), api=("reshape", "Tensor.reshape")),
    OpInfo("view", lambda lib, a, shape: a.view(*shape),
           (case((3, 4), shape=(2, 6)), case((3, 4), shape=(-1,))), api=("Tensor.view",)),
    OpInfo("view_as", lambda lib, a, b: a.view_as(b.detach()) * b,
           (case((3, 4), (2, 6)),), api=("Tensor.view_as",)),
    OpInfo("reshape_as", lambda lib, a, b: a.reshape_as(b.detach()) + b,
           (case((3, 4), (4, 3)),), api=("Tensor.reshape_as",)),
    OpInfo("flatten", lambda lib, a, start_dim=0, end_dim=-1: a.flatten(start_dim, end_dim),
           (case((2, 3, 2),), case((2, 3, 2), start_dim=1), case((2, 3, 2, 2), start_dim=1,
                                                                end_dim=2), case((),)),
           api=("flatten", "Tensor.flatten")),
    OpInfo("ravel", lambda lib, a: a.ravel(), (case((3, 4),), case((),)), api=("Tensor.ravel",)),
    OpInfo("squeeze", lambda lib, a, dim=None: a.squeeze() if dim is None else a.squeeze(dim),
           (case((3, 1, 2), dim=1), case((3, 1, 2), dim=0), case((1, 3, 1),), case((1,),)),
           api=("squeeze", "Tensor.squeeze")),
    OpInfo("unsqueeze", lambda lib, a, dim: a.unsqueeze(dim),
           (case((3, 2), dim=0), case((3, 2), dim=2), case((3, 2), dim=-1), case((), dim=0)),
           api=("unsqueeze", "Tensor.unsqueeze")),
    OpInfo("permute", lambda lib, a, dims: a.permute(*dims),
           (case((2, 3, 4), dims=(2, 0, 1)), case((3, 4), dims=(1, 0))),
           api=("permute", "Tensor.permute")),
    OpInfo("flip", lambda lib, a, dims: lib.flip(a, dims),
           (case((2, 3, 4), dims=(0, 2)), case((5,), dims=(-1,)), case((), dims=())),
           api=("flip", "Tensor.flip")),
    OpInfo("expand", lambda lib, a, sizes: a.expand(*sizes),
           (case((1, 4), sizes=(3, 4)), case((3, 1), sizes=(2, 3, 5)), case((4,), sizes=(3, -1)),
            case((), sizes=(2, 2))), api=("Tensor.expand",)),
    OpInfo("expand_as", lambda lib, a, b: a.expand_as(b.detach()) * b,
           (case((3, 1), (3, 4)),), api=("Tensor.expand_as",)),
    OpInfo("contiguous", lambda lib, a: a.t().contiguous() * 2, (case((3, 4),),),
           api=("Tensor.contiguous",)),
    OpInfo("clone", lambda lib, a: a.clone() * a, UNARY, api=("clone", "Tensor.clone")),
    OpInfo("to_double", lambda lib, a: a.to(lib.float64).double() * 2, UNARY[:2],
           api=("Tensor.to", "Tensor.double")),
    # ---- indexing: basic and advanced
    OpInfo("index_int", _index(1), (case((3, 4),), case((4,),)), api=("Tensor.__getitem__",)),
    OpInfo("index_slices", _index((slice(None), slice(1, 3))), (case((3, 4),),)),
    OpInfo("index_step", _index((slice(None, None, 2), -1)), (case((5, 3),),)),
    OpInfo("index_none_ellipsis", _index((Ellipsis, None, 1)), (case((2, 3, 4),),)),
    OpInfo("index_scalar_product", lambda lib, a: a[2] * a[0], (case((4,),),)),
    OpInfo("index_list", _index([0, 2, 0]), (case((3, 4),),)),
    OpInfo("index_tensor", _index(lambda lib: lib.tensor([[0, 2], [1, 0]])), (case((3, 4),),)),
    OpInfo("index_two_tensors", _index(lambda lib: (lib.tensor([0, 2, 2]), lib.tensor([1, 3, 1]))),
           (case((3, 4),),)),
    OpInfo("index_slice_tensor", _index(lambda lib: (slice(None), lib.tensor([3, 0, 3]))),
           (case((3, 4),),)),
    OpInfo("index_mask", lambda lib, a: a[_mask(lib, tuple(a.shape))], (case((3, 4),),)),
    # ---- joining, selecting, clamping
    OpInfo("cat", lambda lib, a, b, dim: lib.cat([a, b], dim),
           (case((2, 3), (4, 3), dim=0), case((2, 3), (2, 1), dim=1), case((2, 3), (2, 2), dim=-1),
            case((4,), (2,), dim=0)), api=("cat",)),
    OpInfo("cat_three", lambda lib, a, b, c: lib.cat((a, b, c), 1),
           (case((2, 1, 2), (2, 3, 2), (2, 2, 2)),), api=("cat",)),
    OpInfo("stack", lambda lib, a, b, dim: lib.stack([a, b], dim),
           (case((2, 3), (2, 3), dim=0), case((2, 3), (2, 3), dim=1), case((2, 3), (2, 3), dim=2),
            case((), (), dim=0)), api=("stack",)),
    OpInfo("where", lambda lib, a, b: lib.where(_mask(lib, tuple(a.shape)), a, b),
           (case((3, 4), (3, 4)), case((3, 4), (4,)), case((3, 4), ())), api=("where",)),
    OpInfo("where_method", lambda lib, a, b: a.where(_mask(lib, tuple(a.shape)), b),
           (case((3, 4), (4,)),), api=("Tensor.where",)),
    OpInfo("where_scalar", lambda lib, a: lib.where(_mask(lib, tuple(a.shape)), a, 0.5),
           (case((3, 4),),), api=("where",)),
    OpInfo("clamp", lambda lib, a, min=None, max=None: lib.clamp(a, min=min, max=max),
           (case((3, 4), min=-0.5, max=0.7), case((5,), min=-0.5), case((5,), max=0.7),
            case((), min=-0.5, max=0.7)), kinks=(-0.5, 0.7),
           api=("clamp", "clip", "Tensor.clamp", "Tensor.clip")),
    OpInfo("maximum", lambda lib, a, b: lib.maximum(a, b),
           (case((3, 4), (3, 4)), case((3, 4), (4,)), case((), (3,))), sampler=_apart,
           api=("maximum", "Tensor.maximum")),
    OpInfo("minimum", lambda lib, a, b: lib.minimum(a, b),
           (case((3, 4), (3, 4)), case((3, 4), (4,)), case((), (3,))), sampler=_apart,
           api=("minimum", "Tensor.minimum")),
    OpInfo("softmax", lambda lib, a, dim: lib.softmax(a, dim), dim_cases(),
           api=("softmax", "Tensor.softmax")),
    OpInfo("log_softmax", lambda lib, a, dim: lib.log_softmax(a, dim), dim_cases(),
           api=("log_softmax", "Tensor.log_softmax")),
    # ---- in place on a tensor of the graph
    OpInfo("add_", _inplace("add_"), (case((3, 4), (3, 4)), case((3, 4), (4,))),
           api=("Tensor.add_",)),
    OpInfo("sub_", _inplace("sub_"), (case((3, 4), (4,)),), api=("Tensor.sub_",)),
    OpInfo("mul_", _inplace("mul_"), (case((3, 4), (3, 4)),), api=("Tensor.mul_",)),
    OpInfo("div_", _inplace("div_"), (case((3, 4), (3, 4)),), kinks=(0.0,),
           api=("Tensor.div_",)),
    OpInfo("clamp_", lambda lib, a: (a * 1.0).clamp_(-0.5, 0.7), (case((3, 4),),),
           kinks=(-0.5, 0.7), api=("Tensor.clamp_",)),
    OpInfo("iadd", lambda lib, a, b: _iops(a, b), (case((3, 4), (3, 4)),)),
    # overwriting a tensor of the graph cuts the gradient to its old value
    OpInfo("copy_", lambda lib, a, b: (a * 1.0).copy_(b) * a, (case((3, 4), (3, 4)),
                                                               case((3, 4), (4,))),
           api=("Tensor.copy_",)),
    OpInfo("fill_", lambda lib, a: (a * 1.0).fill_(0.5), (case((3, 4),),), api=("Tensor.fill_",)),
    OpInfo("zero_", lambda lib, a: (a * 1.0).zero_() + a * a, (case((3, 4),),),
           api=("Tensor.zero_",)),
]


def _iops(a, b):
    y = a * 1.0
    y += b
    y *= b
    y -= a
    y /= 2.0
    return y


# ---- nn.functional: one entry per function (and per option that changes the
# derivative); functional(lib) is imported when an entry runs, so that a
# function missing from fastad.nn.functional is reported as missing.
_ACT = UNARY[1:3] + (case(()),)
OPS += [
    OpInfo("F.prelu", _F("prelu"), (case((2, 3, 4), (3,)), case((5,), (1,)), case((2, 3), (1,))),
           kinks=(0.0,), api=("F.prelu",)),
    OpInfo("F.rrelu", _F("rrelu"), _ACT + (case((3, 4), lower=0.1, upper=0.3),), kinks=(0.0,),
           api=("F.rrelu",)),
    OpInfo("F.rrelu_training", _seeded_rrelu, _ACT, kinks=(0.0,), torch=False,
           api=("F.rrelu",)),
    OpInfo("F.gelu", _F("gelu"), _ACT + (case((3, 4), approximate="tanh"),), api=("F.gelu",)),
    OpInfo("F.softmax", _F("softmax"), dim_cases(((3, 4), (2, 3, 2))), api=("F.softmax",)),
    OpInfo("F.log_softmax", _F("log_softmax"), dim_cases(((3, 4), (2, 3, 2))),
           api=("F.log_softmax",)),
    OpInfo("F.linear", _F("linear"),
           (case((5, 3), (2, 3), (2,)), case((3,), (2, 3), (2,)), case((2, 4, 3), (2, 3), (2,)),
            case((5, 3), (2, 3))), api=("F.linear",)),
    # ---- losses (targets are fixed functions of the input's shape)
    OpInfo("F.mse_loss", _F("mse_loss"), loss_cases(((3, 4), (3, 4)), ((5,), (5,))),
           api=("F.mse_loss",)),
    OpInfo("F.l1_loss", _F("l1_loss"), loss_cases(((3, 4), (3, 4))), sampler=_apart,
           api=("F.l1_loss",)),
    OpInfo("F.smooth_l1_loss", _F("smooth_l1_loss", beta=0.5), loss_cases(((3, 4), (3, 4))),
           sampler=_apart, api=("F.smooth_l1_loss",)),
    OpInfo("F.huber_loss", _F("huber_loss", delta=0.7), loss_cases(((3, 4), (3, 4))),
           sampler=_apart, api=("F.huber_loss",)),
    OpInfo("F.cross_entropy", _ce_target("index"), loss_cases(((4, 3),), ((2, 3, 2),), ((3,),)),
           api=("F.cross_entropy",)),
    OpInfo("F.cross_entropy_weighted", _ce_target("weighted"), loss_cases(((5, 3),)),
           api=("F.cross_entropy",)),
    OpInfo("F.cross_entropy_probs", _ce_target("probs"), loss_cases(((4, 3),)),
           api=("F.cross_entropy",)),
    OpInfo("F.nll_loss", _ce_target("nll"), loss_cases(((4, 3),), ((2, 3, 2),)),
           api=("F.nll_loss",)),
    OpInfo("F.nll_loss_weighted", _ce_target("nll_weighted"), loss_cases(((5, 3),)),
           api=("F.nll_loss",)),
    OpInfo("F.binary_cross_entropy",
           lambda lib, a, **kw: functional(lib).binary_cross_entropy(
               a, _unit(lib, a.shape, dtype=a.dtype), **kw),
           loss_cases(((3, 4),)), domain=(0.05, 0.95), api=("F.binary_cross_entropy",)),
    OpInfo("F.binary_cross_entropy_weight",
           lambda lib, a: functional(lib).binary_cross_entropy(
               a, _unit(lib, a.shape, dtype=a.dtype),
               weight=lib.tensor([0.5, 1.0, 2.0, 0.1], dtype=a.dtype)),
           (case((3, 4),),), domain=(0.05, 0.95), api=("F.binary_cross_entropy",)),
    OpInfo("F.binary_cross_entropy_with_logits",
           lambda lib, a, **kw: functional(lib).binary_cross_entropy_with_logits(
               a, _unit(lib, a.shape), pos_weight=lib.tensor([1.5, 0.5, 1.0, 2.0],
                                                             dtype=a.dtype), **kw),
           loss_cases(((3, 4),)), api=("F.binary_cross_entropy_with_logits",)),
    OpInfo("F.binary_cross_entropy_with_logits_target",
           lambda lib, a, t: functional(lib).binary_cross_entropy_with_logits(a, t),
           (case((3, 4), (3, 4)),), api=("F.binary_cross_entropy_with_logits",)),
    OpInfo("F.kl_div", lambda lib, a, **kw: functional(lib).kl_div(a, _unit(lib, a.shape), **kw),
           loss_cases(((3, 4),)) + (case((3, 4), reduction="batchmean"),), api=("F.kl_div",)),
    OpInfo("F.kl_div_target", lambda lib, a, t: functional(lib).kl_div(a, t, reduction="sum"),
           (case((3, 4), (3, 4)),), domain=(0.1, 1.0), api=("F.kl_div",)),
    OpInfo("F.kl_div_log_target",
           lambda lib, a, t: functional(lib).kl_div(a, t, reduction="sum", log_target=True),
           (case((3, 4), (3, 4)),), api=("F.kl_div",)),
]

# ---- the elementwise rows of the op table: fastad.foo / Tensor.foo, and nn.functional.foo
def _unary_call(name):
    def call(lib, a, **kw):
        return getattr(lib, name)(a, **kw)
    return call


OPS += [OpInfo(op.name, _unary_call(op.name),
               UNARY + tuple(case((3, 4), **c) for c in op.cases), domain=op.domain,
               kinks=op.kinks, api=(op.name,) + (("Tensor." + op.name,) if op.method else ()))
        for op in _opdefs.UNARY if op.function]
OPS += [OpInfo("F." + op.name, _F(op.name), _ACT + tuple(case((3, 4), **c) for c in op.cases),
               domain=op.domain, kinks=op.kinks, api=("F." + op.name,))
        for op in _opdefs.UNARY if op.F]

# ---- nn modules: activation and loss modules call nn.functional, but their
# constructor arguments are mapped by the module; modules with parameters
# check the gradient of each parameter too.
_MODULE_ACT = [
    (op.module, tuple(op.cases[0].values()) if op.cases else (), op.kinks)
    for op in _opdefs.UNARY if op.module] + [
    ("RReLU", (0.1, 0.3), (0.0,)), ("Softmax", (1,), ()), ("LogSoftmax", (0,), ()),
    ("Identity", (), ()), ("Flatten", (), ()),
]


def _eval(factory):
    def build(lib):
        m = factory(lib)
        return m.eval()
    return build


OPS += [OpInfo(f"nn.{name}", _module_call, (case((3, 4),),), domain=(-4.0, 4.0), kinks=kinks,
               module=_eval(_nn(name, *args)), api=(f"nn.{name}",))
        for name, args, kinks in _MODULE_ACT]

def _positive_target(rng, shapes, dtype):
    return [rng.uniform(-2, 2, shapes[0]), rng.uniform(0.1, 1.0, shapes[1])]


_MODULE_LOSS = [("MSELoss", None), ("L1Loss", _apart), ("SmoothL1Loss", _apart),
                ("HuberLoss", _apart), ("KLDivLoss", _positive_target)]
OPS += [OpInfo(f"nn.{name}", _module_call, (case((3, 4), (3, 4)),), sampler=sampler,
               module=_nn(name), api=(f"nn.{name}",))
        for name, sampler in _MODULE_LOSS]
OPS += [
    OpInfo("nn.CrossEntropyLoss", lambda lib, m, a: m(a, _classes(lib, a.shape, a.shape[1])),
           (case((4, 3),),), module=_nn("CrossEntropyLoss", label_smoothing=0.1),
           api=("nn.CrossEntropyLoss",)),
    OpInfo("nn.NLLLoss", lambda lib, m, a: m(a, _classes(lib, a.shape, a.shape[1])),
           (case((4, 3),),), module=_nn("NLLLoss"), api=("nn.NLLLoss",)),
    OpInfo("nn.BCELoss", lambda lib, m, a: m(a, _unit(lib, a.shape, dtype=a.dtype)),
           (case((3, 4),),),
           domain=(0.05, 0.95), module=_nn("BCELoss"), api=("nn.BCELoss",)),
    OpInfo("nn.BCEWithLogitsLoss", lambda lib, m, a: m(a, _unit(lib, a.shape)), (case((3, 4),),),
           module=_nn("BCEWithLogitsLoss"), api=("nn.BCEWithLogitsLoss",)),
    OpInfo("nn.Linear", _module_call, (case((5, 3),), case((3,),)), module=_nn("Linear", 3, 2),
           api=("nn.Linear",)),
    OpInfo("nn.Linear_nobias", _module_call, (case((5, 3),),),
           module=_nn("Linear", 3, 2, bias=False), api=("nn.Linear",)),
    OpInfo("nn.PReLU", _module_call, (case((2, 3, 4),),), kinks=(0.0,),
           module=_nn("PReLU", 3), api=("nn.PReLU",)),
    OpInfo("nn.Sequential", _module_call, (case((4, 3),),),
           module=lambda lib: lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(),
                                                lib.nn.Linear(4, 2)),
           api=("nn.Sequential",)),
    # a Linear and the activation after it run as one fused node
    OpInfo("nn.Sequential_relu_sigmoid", _module_call, (case((6, 3),),),
           module=lambda lib: lib.nn.Sequential(lib.nn.Linear(3, 5), lib.nn.ReLU(),
                                                lib.nn.Linear(5, 4, bias=False),
                                                lib.nn.Sigmoid(), lib.nn.Linear(4, 2)),
           api=("nn.Sequential",)),
]

# ---- nn layers: dropout (seeded: the same mask at every evaluation, and the
# same as PyTorch's), lookups, normalisation, distances, convolution, pooling, padding
def _seeded(fn, *args, **fixed):
    def call(lib, *ts, **kw):
        lib.manual_seed(0)
        if isinstance(fn, str):
            return getattr(functional(lib), fn)(*ts, *args, **fixed, **kw)
        return fn(lib, *ts, *args, **fixed, **kw)
    return call


_IDX = np.array([[0, 2, 4], [4, 1, 0]])


def _embedding(lib, w, **kw):
    return functional(lib).embedding(lib.tensor(_IDX), w, **kw)


def _running(lib, a, w, b, **kw):
    """batch_norm / instance_norm with running statistics as constants."""
    c = a.shape[1]
    mean = lib.tensor(np.linspace(-0.5, 0.5, c), dtype=a.dtype)
    var = lib.tensor(np.linspace(0.5, 1.5, c), dtype=a.dtype)
    return functional(lib).batch_norm(a, mean, var, w, b, **kw)


OPS += [
    *(OpInfo(f"F.{name}", _seeded(name, 0.4, True), (case(shape),), api=(f"F.{name}",))
      for name, shape in (("dropout", (3, 4)), ("dropout1d", (2, 3, 4)),
                          ("dropout2d", (2, 3, 2, 2)), ("dropout3d", (2, 3, 2, 1, 2)),
                          ("alpha_dropout", (3, 4)), ("feature_alpha_dropout", (2, 3, 2)))),
    OpInfo("F.embedding", _embedding, (case((5, 3)),), api=("F.embedding",)),
    OpInfo("F.layer_norm", lambda lib, a, w, b, shape: functional(lib).layer_norm(a, shape, w, b),
           (case((4, 3), (3,), (3,), shape=(3,)), case((2, 3, 2), (3, 2), (3, 2), shape=(3, 2))),
           api=("F.layer_norm",)),
    OpInfo("F.layer_norm_plain", lambda lib, a: functional(lib).layer_norm(a, (4,), eps=1e-3),
           (case((3, 4),),), api=("F.layer_norm",)),
    OpInfo("F.rms_norm", lambda lib, a, w: functional(lib).rms_norm(a, (4,), w),
           (case((3, 4), (4,)),), api=("F.rms_norm",)),
    OpInfo("F.batch_norm", lambda lib, a, w, b: functional(lib).batch_norm(a, None, None, w, b,
                                                                           True),
           (case((4, 3), (3,), (3,)), case((3, 2, 4), (2,), (2,))), api=("F.batch_norm",)),
    OpInfo("F.batch_norm_eval", _running, (case((4, 3), (3,), (3,)), case((2, 3, 2, 2), (3,),
                                                                          (3,))),
           api=("F.batch_norm",)),
    OpInfo("F.instance_norm", lambda lib, a, w, b: functional(lib).instance_norm(
        a, weight=w, bias=b), (case((2, 3, 4), (3,), (3,)),), api=("F.instance_norm",)),
    OpInfo("F.group_norm", lambda lib, a, w, b: functional(lib).group_norm(a, 2, w, b),
           (case((2, 4, 3), (4,), (4,)),), api=("F.group_norm",)),
    OpInfo("F.normalize", _F("normalize"), (case((3, 4)), case((3, 4), p=1.5, dim=0)),
           api=("F.normalize",)),
    OpInfo("F.cosine_similarity", _F("cosine_similarity"),
           (case((3, 4), (3, 4)), case((3, 4), (4,), dim=-1)), api=("F.cosine_similarity",)),
    OpInfo("F.pairwise_distance", _F("pairwise_distance"),
           (case((3, 4), (3, 4)), case((3, 4), (3, 4), p=1.5, keepdim=True)),
           api=("F.pairwise_distance",)),
    OpInfo("F.pdist", _F("pdist"), (case((4, 3)),), api=("F.pdist",)),
    OpInfo("F.conv2d", _F("conv2d"),
           (case((2, 3, 5, 4), (4, 3, 3, 2), (4,)),
            case((1, 2, 6, 5), (3, 2, 2, 3), stride=2, padding=1, dilation=(1, 2)),
            case((2, 4, 4, 4), (4, 2, 3, 3), padding="same", groups=2),
            case((3, 5, 4), (2, 3, 2, 2))), api=("F.conv2d",)),
    OpInfo("F.conv1d", _F("conv1d"),
           (case((2, 3, 7), (4, 3, 3), (4,)), case((2, 2, 6), (2, 2, 2), stride=2, padding=1)),
           api=("F.conv1d",)),
    OpInfo("F.unfold", _F("unfold"), (case((1, 2, 4, 5), kernel_size=(2, 3), padding=1),),
           api=("F.unfold",)),
    OpInfo("F.pad", _F("pad"), (case((2, 3, 4), pad=(1, 2)), case((2, 3, 4), pad=(-1, 2, 1, 0)),
                                case((1, 2, 3, 4), pad=(2, 1, 1, 2), mode="reflect"),
                                case((1, 2, 3, 4), pad=(2, 1, 0, 3), mode="replicate"),
                                case((1, 2, 3, 4), pad=(2, 1, 3, 1), mode="circular")),
           api=("F.pad",)),
    OpInfo("F.max_pool2d", _F("max_pool2d"),
           (case((2, 3, 4, 4), kernel_size=2), case((1, 2, 5, 6), kernel_size=3, stride=2,
                                                    padding=1, ceil_mode=True),
            case((2, 5, 5), kernel_size=2, stride=1, dilation=2)), sampler=_distinct,
           api=("F.max_pool2d",)),
    OpInfo("F.max_pool1d", _F("max_pool1d"), (case((2, 3, 7), kernel_size=3, stride=2),),
           sampler=_distinct, api=("F.max_pool1d",)),
    OpInfo("F.avg_pool2d", _F("avg_pool2d"),
           (case((2, 3, 4, 4), kernel_size=2), case((1, 2, 5, 6), kernel_size=3, stride=2,
                                                    padding=1, ceil_mode=True,
                                                    count_include_pad=False)),
           api=("F.avg_pool2d",)),
    OpInfo("F.avg_pool1d", _F("avg_pool1d"), (case((2, 3, 7), kernel_size=3, stride=2),),
           api=("F.avg_pool1d",)),
    OpInfo("F.adaptive_avg_pool2d", _F("adaptive_avg_pool2d"),
           (case((2, 3, 5, 7), output_size=(2, 3)), case((2, 4, 4), output_size=1)),
           api=("F.adaptive_avg_pool2d",)),
    OpInfo("F.adaptive_avg_pool1d", _F("adaptive_avg_pool1d"),
           (case((2, 3, 7), output_size=3),), api=("F.adaptive_avg_pool1d",)),
]
OPS += [OpInfo(f"nn.{name}", _seeded(_module_call), (case(shape),), module=_nn(name, 0.3),
               api=(f"nn.{name}",))
        for name, shape in (("Dropout", (3, 4)), ("Dropout1d", (2, 3, 4)),
                            ("Dropout2d", (2, 3, 2, 2)), ("Dropout3d", (2, 3, 2, 1, 2)),
                            ("AlphaDropout", (3, 4)), ("FeatureAlphaDropout", (2, 3, 2)))]
OPS += [OpInfo(f"nn.{name}", _module_call, (case(shape),), module=_nn(name, *args, **kw),
               sampler=_distinct if "Max" in name else None, api=(f"nn.{name}",))
        for name, shape, args, kw in (
            ("LayerNorm", (3, 4), (4,), {}), ("RMSNorm", (3, 4), ((4,),), {}),
            ("GroupNorm", (2, 4, 3), (2, 4), {}), ("BatchNorm1d", (5, 3), (3,), {}),
            ("BatchNorm2d", (2, 3, 2, 2), (3,), {}), ("BatchNorm3d", (2, 3, 2, 1, 2), (3,), {}),
            ("InstanceNorm1d", (2, 3, 4), (3,), {"affine": True}),
            ("InstanceNorm2d", (2, 3, 2, 2), (3,), {"affine": True}),
            ("InstanceNorm3d", (2, 3, 2, 1, 2), (3,), {"affine": True}),
            ("Conv1d", (2, 2, 6), (2, 4, 3), {"padding": 1}),
            ("Conv2d", (2, 2, 5, 4), (2, 3, (3, 2)), {"stride": 2, "padding_mode": "reflect",
                                                      "padding": 1}),
            ("MaxPool1d", (2, 3, 6), (2,), {}), ("MaxPool2d", (2, 3, 4, 4), (2,), {}),
            ("AvgPool1d", (2, 3, 6), (3,), {}), ("AvgPool2d", (2, 3, 4, 4), (2,), {}),
            ("AdaptiveAvgPool1d", (2, 3, 7), (3,), {}),
            ("AdaptiveAvgPool2d", (2, 3, 5, 4), ((2, 3),), {}),
            ("ZeroPad1d", (2, 3), (1,), {}), ("ZeroPad2d", (2, 3, 2), ((1, 0, 2, 1),), {}),
            ("ConstantPad1d", (2, 3), (2, 0.5), {}), ("ConstantPad2d", (2, 3, 2), (1, 0.5), {}),
            ("ReflectionPad1d", (2, 4), (2,), {}), ("ReflectionPad2d", (1, 3, 3), (2,), {}),
            ("ReplicationPad1d", (2, 3), (2,), {}), ("ReplicationPad2d", (1, 3, 3), (2,), {}),
            ("CircularPad1d", (2, 3), (2,), {}), ("CircularPad2d", (1, 3, 3), (2,), {}))]
OPS += [
    OpInfo("nn.Embedding", lambda lib, m: m(lib.tensor(_IDX)), (case(),),
           module=_nn("Embedding", 5, 3), api=("nn.Embedding",)),
    OpInfo("nn.Unflatten", _module_call, (case((2, 6, 2),),), module=_nn("Unflatten", 1, (2, 3)),
           api=("nn.Unflatten",)),
    OpInfo("nn.CosineSimilarity", _module_call, (case((3, 4), (3, 4)),),
           module=_nn("CosineSimilarity", dim=0), api=("nn.CosineSimilarity",)),
    OpInfo("nn.PairwiseDistance", _module_call, (case((3, 4), (3, 4)),),
           module=_nn("PairwiseDistance", p=3.0), api=("nn.PairwiseDistance",)),
]

from fastad._ops_arrays import OPS as _ARRAY_OPS  # noqa: E402 (it builds on the above)
OPS += _ARRAY_OPS


# ---- recurrent layers, attention, bilinear: a module's outputs joined into one tensor
def _joined(lib, out):
    """The tensors of a nested output (output, (h_n, c_n)) flattened into one."""
    if isinstance(out, tuple):
        return lib.cat([_joined(lib, o) for o in out if o is not None])
    return out.reshape(-1)


def _joined_call(lib, m, *ts, **kw):
    return _joined(lib, m(*ts, **kw))


def _self_attention(lib, m, x, **kw):
    return _joined(lib, m(x, x, x, **kw))


def _lazy(lib, in_features, out_features):
    m = lib.nn.LazyLinear(out_features)
    m(lib.zeros(1, in_features))           # its parameters are made at the first call
    return m


_CAUSAL = np.triu(np.ones((4, 4), bool), 1)
OPS += [
    *(OpInfo(f"nn.{name}", _joined_call, (case((4, 2, 3),),), module=_nn(name, 3, 2),
             api=(f"nn.{name}",)) for name in ("RNN", "LSTM", "GRU")),
    *(OpInfo(f"nn.{name}_2layer_bidirectional", _joined_call, (case((2, 3, 3),),),
             module=_nn(name, 3, 2, num_layers=2, bidirectional=True, batch_first=True),
             api=(f"nn.{name}",)) for name in ("RNN", "LSTM", "GRU")),
    *(OpInfo(f"nn.{name}", _joined_call, (case((2, 3),), case((3,),)), module=_nn(name, 3, 2),
             api=(f"nn.{name}",)) for name in ("RNNCell", "LSTMCell", "GRUCell")),
    OpInfo("F.scaled_dot_product_attention", _F("scaled_dot_product_attention"),
           (case((2, 4, 3), (2, 5, 3), (2, 5, 2)), case((2, 4, 3), (2, 4, 3), (2, 4, 2),
                                                        is_causal=True, scale=0.7)),
           api=("F.scaled_dot_product_attention",)),
    OpInfo("nn.MultiheadAttention", _self_attention, (case((4, 2, 4),),
                                                      case((4, 2, 4), need_weights=False)),
           module=_nn("MultiheadAttention", 4, 2),
           api=("nn.MultiheadAttention", "F.multi_head_attention_forward")),
    OpInfo("nn.MultiheadAttention_masked", lambda lib, m, x: _self_attention(
        lib, m, x, attn_mask=lib.tensor(_CAUSAL)), (case((4, 2, 4),),),
        module=_nn("MultiheadAttention", 4, 2, add_bias_kv=True),
        api=("nn.MultiheadAttention",)),
    OpInfo("nn.TransformerEncoderLayer", _module_call, (case((4, 2, 4),),),
           module=_nn("TransformerEncoderLayer", 4, 2, dim_feedforward=6, dropout=0.0,
                      activation="gelu"), api=("nn.TransformerEncoderLayer",)),
    OpInfo("nn.TransformerEncoder", _module_call, (case((2, 3, 4),),),
           module=lambda lib: lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(
               4, 2, dim_feedforward=6, dropout=0.0, norm_first=True, batch_first=True), 2),
           api=("nn.TransformerEncoder",)),
    OpInfo("nn.TransformerDecoderLayer", _module_call, (case((3, 2, 4), (4, 2, 4)),),
           module=_nn("TransformerDecoderLayer", 4, 2, dim_feedforward=6, dropout=0.0),
           api=("nn.TransformerDecoderLayer",)),
    OpInfo("nn.TransformerDecoder", _module_call, (case((2, 3, 4), (2, 4, 4)),),
           module=lambda lib: lib.nn.TransformerDecoder(lib.nn.TransformerDecoderLayer(
               4, 2, dim_feedforward=6, dropout=0.0, norm_first=True, batch_first=True), 2),
           api=("nn.TransformerDecoder",)),
    OpInfo("nn.Transformer", _module_call, (case((3, 2, 4), (2, 2, 4)),),
           module=_nn("Transformer", 4, 2, 1, 1, dim_feedforward=6, dropout=0.0),
           api=("nn.Transformer",)),
    OpInfo("F.bilinear", _F("bilinear"), (case((3, 2), (3, 4), (5, 2, 4), (5,)),
                                          case((2, 3, 2), (2, 3, 4), (5, 2, 4))),
           api=("F.bilinear",)),
    OpInfo("nn.Bilinear", _module_call, (case((3, 2), (3, 4)),), module=_nn("Bilinear", 2, 4, 3),
           api=("nn.Bilinear",)),
    OpInfo("nn.LazyLinear", _module_call, (case((5, 3),),), module=lambda lib: _lazy(lib, 3, 2),
           api=("nn.LazyLinear",)),
]

# ---- more activations, resampling, transposed convolution, adaptive max pooling
def _seeded_gumbel(lib, a, **kw):
    lib.manual_seed(0)        # the same noise at every evaluation
    return functional(lib).gumbel_softmax(a, tau=0.7, **kw)


OPS += [
    OpInfo("F.glu", _F("glu"), (case((3, 4)), case((4, 2, 3), dim=0)), api=("F.glu",)),
    OpInfo("F.softmin", _F("softmin"), (case((3, 4), dim=1),), api=("F.softmin",)),
    OpInfo("F.hardshrink", _F("hardshrink"), (case((3, 4)),), kinks=(-0.5, 0.5),
           api=("F.hardshrink",)),
    OpInfo("F.softshrink", _F("softshrink"), (case((3, 4), lambd=0.3),), kinks=(-0.3, 0.3),
           api=("F.softshrink",)),
    OpInfo("F.tanhshrink", _F("tanhshrink"), (case((3, 4)),), api=("F.tanhshrink",)),
    OpInfo("F.threshold", _F("threshold", threshold=0.2, value=-1.5), (case((3, 4)),),
           kinks=(0.2,), api=("F.threshold",)),
    OpInfo("F.threshold_", lambda lib, a: functional(lib).threshold_(a * 1.0, 0.2, -1.5),
           (case((3, 4)),), kinks=(0.2,), api=("F.threshold_",)),
    *(OpInfo(f"F.{name}_", lambda lib, a, n=name: getattr(functional(lib), n + "_")(a * 1.0),
             (case((3, 4)),), kinks=(0.0,), api=(f"F.{name}_",))
      for name in ("relu", "elu", "leaky_relu", "selu", "celu")),
    OpInfo("F.hardtanh_", lambda lib, a: functional(lib).hardtanh_(a * 1.0), (case((3, 4)),),
           kinks=(-1.0, 1.0), api=("F.hardtanh_",)),
    OpInfo("F.rrelu_", lambda lib, a: functional(lib).rrelu_(a * 1.0), (case((3, 4)),),
           kinks=(0.0,), api=("F.rrelu_",)),
    # (hard=True is straight-through: its gradient is the soft sample's, not the
    # finite differences of a piecewise-constant one-hot; tested against PyTorch)
    OpInfo("F.gumbel_softmax", _seeded_gumbel, (case((3, 4)),), api=("F.gumbel_softmax",)),
    OpInfo("F.pixel_shuffle", _F("pixel_shuffle", upscale_factor=2), (case((2, 8, 2, 3)),),
           api=("F.pixel_shuffle",)),
    OpInfo("F.pixel_unshuffle", _F("pixel_unshuffle", downscale_factor=2), (case((2, 2, 4, 6)),),
           api=("F.pixel_unshuffle",)),
    OpInfo("F.interpolate", _F("interpolate"),
           (case((2, 3, 4, 5), scale_factor=2), case((2, 3, 4, 5), size=(3, 7), mode="bilinear"),
            case((2, 3, 4, 5), size=(6, 3), mode="bilinear", align_corners=True),
            case((2, 3, 5), scale_factor=1.5, mode="linear"),
            case((2, 3, 4, 5), size=(2, 3), mode="area")), api=("F.interpolate",)),
    *(OpInfo(f"F.{name}", _F(name, size=(3, 7)), (case((1, 2, 2, 3)),), api=(f"F.{name}",))
      for name in ("upsample", "upsample_nearest", "upsample_bilinear")),
    OpInfo("F.fold", _F("fold"), (case((2, 12, 18), output_size=(5, 6), kernel_size=(2, 3),
                                       padding=1, stride=(2, 1)),), api=("F.fold",)),
    OpInfo("F.conv_transpose2d", _F("conv_transpose2d"),
           (case((2, 4, 3, 4), (4, 3, 3, 2), (3,)),
            case((1, 4, 3, 3), (4, 2, 3, 3), stride=2, padding=1, output_padding=1, groups=2)),
           api=("F.conv_transpose2d",)),
    OpInfo("F.conv_transpose1d", _F("conv_transpose1d"),
           (case((2, 4, 5), (4, 3, 4), (3,), stride=3, padding=1),), api=("F.conv_transpose1d",)),
    OpInfo("F.adaptive_max_pool2d", _F("adaptive_max_pool2d"),
           (case((2, 3, 5, 7), output_size=(2, 3)),), sampler=_distinct,
           api=("F.adaptive_max_pool2d",)),
    OpInfo("F.adaptive_max_pool1d", _F("adaptive_max_pool1d"), (case((2, 3, 7), output_size=3),),
           sampler=_distinct, api=("F.adaptive_max_pool1d",)),
]
OPS += [OpInfo(f"nn.{name}", _module_call, (case(shape),), module=_nn(name, *args, **kw),
               sampler=_distinct if "Max" in name else None, kinks=kinks, api=(f"nn.{name}",))
        for name, shape, args, kw, kinks in (
            ("GLU", (3, 4), (), {}, ()), ("Softmin", (3, 4), (1,), {}, ()),
            ("Hardshrink", (3, 4), (), {}, (-0.5, 0.5)), ("Softshrink", (3, 4), (), {}, (-0.5, 0.5)),
            ("Tanhshrink", (3, 4), (), {}, ()), ("Threshold", (3, 4), (0.1, 2.0), {}, (0.1,)),
            ("Softmax2d", (2, 3, 2, 2), (), {}, ()),
            ("PixelShuffle", (1, 4, 2, 3), (2,), {}, ()),
            ("PixelUnshuffle", (1, 1, 4, 2), (2,), {}, ()),
            ("Upsample", (1, 2, 2, 3), (), {"scale_factor": 2, "mode": "bilinear"}, ()),
            ("UpsamplingNearest2d", (1, 2, 2, 3), (), {"scale_factor": 2}, ()),
            ("UpsamplingBilinear2d", (1, 2, 2, 3), (), {"size": (3, 5)}, ()),
            ("Fold", (2, 8, 6), ((3, 4), 2), {}, ()), ("Unfold", (2, 2, 3, 4), (2,), {}, ()),
            ("AdaptiveMaxPool1d", (2, 3, 7), (3,), {}, ()),
            ("AdaptiveMaxPool2d", (2, 3, 5, 4), ((2, 3),), {}, ()),
            ("ConvTranspose1d", (2, 2, 5), (2, 4, 3), {"stride": 2}, ()),
            ("ConvTranspose2d", (2, 2, 3, 4), (2, 3, (3, 2)), {"stride": 2, "padding": 1,
                                                             "output_padding": 1}, ()))]

# ---- losses composed of fastad ops (targets as constants)
_PM = np.array([1.0, -1.0, 1.0, -1.0, -1.0])
_MT = np.array([[3, 0, -1, 1], [1, 2, 3, -1], [0, -1, 2, 2]])


def _signs(lib, a):
    return lib.tensor(_PM[:a.shape[0]], dtype=a.dtype)


OPS += [
    OpInfo("F.cosine_embedding_loss", lambda lib, a, b, **kw: functional(lib).cosine_embedding_loss(
        a, b, _signs(lib, a), margin=0.2, **kw), loss_cases(((5, 3), (5, 3))),
        api=("F.cosine_embedding_loss",)),
    OpInfo("F.margin_ranking_loss", lambda lib, a, b, **kw: functional(lib).margin_ranking_loss(
        a, b, _signs(lib, a), margin=0.3, **kw), loss_cases(((5,), (5,))), sampler=_apart,
        api=("F.margin_ranking_loss",)),
    OpInfo("F.hinge_embedding_loss", lambda lib, a, **kw: functional(lib).hinge_embedding_loss(
        a, _signs(lib, a), margin=0.8, **kw), loss_cases(((5,),)), kinks=(0.8,),
        api=("F.hinge_embedding_loss",)),
    OpInfo("F.soft_margin_loss", lambda lib, a, **kw: functional(lib).soft_margin_loss(
        a, _signs(lib, a), **kw), loss_cases(((5,),)), api=("F.soft_margin_loss",)),
    OpInfo("F.multilabel_soft_margin_loss", lambda lib, a, w, **kw:
           functional(lib).multilabel_soft_margin_loss(a, _mask(lib, a.shape).to(a.dtype), w,
                                                       **kw),
           loss_cases(((3, 4), (4,))), api=("F.multilabel_soft_margin_loss",)),
    OpInfo("F.multi_margin_loss", lambda lib, a, **kw: functional(lib).multi_margin_loss(
        a, lib.tensor([1, 0, 3]), **kw), loss_cases(((3, 4),)) + (case((3, 4), p=2, margin=0.5),),
        sampler=_distinct, api=("F.multi_margin_loss",)),
    OpInfo("F.multilabel_margin_loss", lambda lib, a, **kw: functional(lib).multilabel_margin_loss(
        a, lib.tensor(_MT), **kw), loss_cases(((3, 4),)), sampler=_distinct,
        api=("F.multilabel_margin_loss",)),
    OpInfo("F.triplet_margin_loss", _F("triplet_margin_loss"),
           loss_cases(((4, 3), (4, 3), (4, 3))) + (case((4, 3), (4, 3), (4, 3), p=1.5,
                                                         swap=True),), sampler=_distinct,
           api=("F.triplet_margin_loss",)),
    OpInfo("F.triplet_margin_with_distance_loss", _F("triplet_margin_with_distance_loss"),
           (case((4, 3), (4, 3), (4, 3), margin=2.0),), sampler=_distinct,
           api=("F.triplet_margin_with_distance_loss",)),
    OpInfo("F.poisson_nll_loss", _F("poisson_nll_loss"),
           loss_cases(((6,), (6,))) + (case((6,), (6,), log_input=False, full=True),),
           domain=(0.5, 3.0), api=("F.poisson_nll_loss",)),
    OpInfo("F.gaussian_nll_loss", _F("gaussian_nll_loss"),
           loss_cases(((4, 3), (4, 3), (4, 3))) + (case((4, 3), (4, 3), (4,), full=True),),
           domain=(0.5, 2.0), api=("F.gaussian_nll_loss",)),
]
OPS += [OpInfo(f"nn.{name}", _module_call, (case(*shapes),), module=_nn(name, **kw),
               sampler=_distinct, api=(f"nn.{name}",))
        for name, shapes, kw in (("TripletMarginLoss", ((4, 3), (4, 3), (4, 3)), {"margin": 2.0}),
                                 ("TripletMarginWithDistanceLoss", ((4, 3), (4, 3), (4, 3)),
                                  {"margin": 2.0}),
                                 )]
OPS += [OpInfo(f"nn.{name}", _module_call, (case(*shapes),), module=_nn(name), domain=(0.5, 2.0),
               api=(f"nn.{name}",))
        for name, shapes in (("GaussianNLLLoss", ((4, 3), (4, 3), (4, 3))),
                             ("PoissonNLLLoss", ((6,), (6,))))]
OPS += [OpInfo(f"nn.{name}", lambda lib, m, a, t=target: m(a, t(lib, a)), (case(shape),),
               module=_nn(name), sampler=_distinct, api=(f"nn.{name}",))
        for name, shape, target in (
            ("SoftMarginLoss", (5,), _signs), ("HingeEmbeddingLoss", (5,), _signs),
            ("MultiLabelSoftMarginLoss", (3, 4), lambda lib, a: _mask(lib, a.shape).to(a.dtype)),
            ("MultiMarginLoss", (3, 4), lambda lib, a: lib.tensor([1, 0, 3])),
            ("MultiLabelMarginLoss", (3, 4), lambda lib, a: lib.tensor(_MT)))]
OPS += [OpInfo(f"nn.{name}", lambda lib, m, a, b: m(a, b, _signs(lib, a)), (case(*shapes),),
               module=_nn(name), sampler=_distinct, api=(f"nn.{name}",))
        for name, shapes in (("CosineEmbeddingLoss", ((5, 3), (5, 3))),
                             ("MarginRankingLoss", ((5,), (5,))))]

# ---- channel ops, Lp pooling, unpooling
def _unpooled(lib, a, **kw):
    F = functional(lib)
    values, index = F.max_pool2d_with_indices(a.detach(), 2)
    return F.max_unpool2d(a[:, :, ::2, ::2] * 1.0 + 0 * values, index, 2, **kw)


OPS += [
    OpInfo("F.local_response_norm", _F("local_response_norm", size=3),
           (case((2, 4, 3, 3)), case((2, 5, 4), alpha=0.1, beta=0.5, k=2.0)),
           api=("F.local_response_norm", "nn.LocalResponseNorm")),
    OpInfo("F.lp_pool2d", _F("lp_pool2d", norm_type=2, kernel_size=2), (case((2, 3, 4, 4)),),
           api=("F.lp_pool2d", "nn.LPPool2d")),
    OpInfo("F.lp_pool1d", _F("lp_pool1d", norm_type=3, kernel_size=2), (case((2, 3, 6)),),
           domain=(0.5, 2.0), api=("F.lp_pool1d", "nn.LPPool1d")),
    OpInfo("F.channel_shuffle", _F("channel_shuffle", groups=2), (case((2, 4, 3)),),
           api=("F.channel_shuffle", "F.native_channel_shuffle", "nn.ChannelShuffle")),
    OpInfo("F.max_unpool2d", _unpooled, (case((1, 2, 4, 4)),), sampler=_distinct,
           api=("F.max_unpool2d", "F.max_pool2d_with_indices", "nn.MaxUnpool2d")),
    OpInfo("F.max_unpool1d", lambda lib, a: functional(lib).max_unpool1d(
        a, lib.tensor([[0, 3, 5], [1, 2, 4]]), 2), (case((2, 3),),),
        api=("F.max_unpool1d", "F.max_pool1d_with_indices", "nn.MaxUnpool1d")),
    OpInfo("F.adaptive_max_pool2d_with_indices", lambda lib, a: functional(
        lib).adaptive_max_pool2d_with_indices(a, 2)[0], (case((1, 2, 4, 5)),), sampler=_distinct,
        api=("F.adaptive_max_pool2d_with_indices", "F.adaptive_max_pool1d_with_indices")),
]

from fastad._ops_math import OPS as _MATH_OPS  # noqa: E402 (it builds on the above)
OPS += _MATH_OPS

BY_NAME = {op.name: op for op in OPS}
assert len(BY_NAME) == len(OPS), "duplicate registry names"

# Public callables that have no entry on purpose, with the reason.  The
# registry test fails on any public function of fastad, Tensor or
# nn.functional that is neither covered by an entry's `api` nor listed here.
_CREATION = "creates a tensor from numbers: no input to differentiate"
_INTEGER = "integer or boolean result: zero gradient everywhere"
_META = "reads metadata or converts out of the graph"
_INPLACE_INIT = "in-place initialisation, outside the graph"
_MODE = "grad-mode, thread or dtype setting"
_COUNTS = "counts values: PyTorch does not differentiate it"
NON_DIFFERENTIABLE = {
    **{n: _CREATION for n in (
        "tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty", "zeros_like",
        "ones_like", "full_like", "empty_like", "arange", "linspace", "logspace", "eye", "rand", "randn",
        "randint", "randperm", "rand_like", "randn_like", "load",
        "randint_like", "poisson", "bernoulli", "Tensor.bernoulli", "tril_indices",
        "triu_indices")},
    **{n: _INTEGER for n in (
        "argmax", "argmin", "Tensor.argmax", "Tensor.argmin", "eq", "equal", "allclose",
        "Tensor.eq", "Tensor.equal", "Tensor.allclose", "Tensor.ge", "Tensor.gt", "Tensor.le",
        "Tensor.lt", "Tensor.ne", "Tensor.long", "Tensor.int", "Tensor.bool", "long",
        "Tensor.__eq__", "Tensor.__ne__", "Tensor.__lt__", "Tensor.__le__", "Tensor.__gt__",
        "Tensor.__ge__", "multinomial", "Tensor.multinomial", "F.one_hot")},
    **{n: _META for n in (
        "numel", "is_tensor", "is_floating_point", "Tensor.numel", "Tensor.nelement",
        "Tensor.dim", "Tensor.size", "Tensor.element_size", "Tensor.is_contiguous",
        "Tensor.is_floating_point", "Tensor.item", "Tensor.tolist", "Tensor.numpy",
        "Tensor.type", "Tensor.cpu", "detach", "Tensor.detach", "Tensor.detach_", "save",
        "Tensor.requires_grad_", "Tensor.retain_grad", "Tensor.backward", "get_default_dtype",
        "Tensor.float", "float", "double", "Tensor.__array__", "Tensor.__len__",
        "Tensor.__iter__", "Tensor.register_post_accumulate_grad_hook", "Tensor.register_hook",
        "Tensor.retains_grad", "Tensor.stride",
        "Tensor.storage_offset", "broadcast_shapes")},
    **{n: _INPLACE_INIT for n in (
        "Tensor.normal_", "Tensor.uniform_", "Tensor.random_", "Tensor.bernoulli_",
        "Tensor.exponential_", "Tensor.cauchy_", "Tensor.log_normal_", "Tensor.geometric_")},
    **{n: _MODE for n in (
        "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode",
        "is_inference_mode_enabled", "autocast", "use_deterministic_algorithms",
        "are_deterministic_algorithms_enabled", "is_deterministic_algorithms_warn_only_enabled",
        "set_float32_matmul_precision", "get_float32_matmul_precision", "set_num_threads",
        "get_num_threads", "set_default_dtype", "manual_seed", "gradcheck", "dtype", "Size",
        "Tensor", "seed", "initial_seed", "get_rng_state", "set_rng_state", "Generator",
        "is_anomaly_enabled", "is_anomaly_check_nan_enabled", "set_anomaly_enabled")},
    **{n: _INTEGER for n in (
        "argsort", "nonzero", "argwhere", "count_nonzero", "all", "any", "ne", "lt", "le", "gt",
        "ge", "not_equal", "less", "less_equal", "greater", "greater_equal", "isclose", "isnan",
        "isinf", "isfinite", "isposinf", "isneginf", "logical_and", "logical_or", "logical_xor",
        "logical_not")
       for n in (n, "Tensor." + n)},
    **{n: _COUNTS for n in ("unique", "histc", "histogram", "bincount")
       for n in (n, "Tensor." + n)},
    **{n: _INTEGER for n in (
        "floor_divide", "Tensor.floor_divide", "Tensor.floor_divide_", "nextafter",
        "Tensor.nextafter", "Tensor.nextafter_")},
    **{n: _META for n in (
        "Tensor.half", "Tensor.short", "Tensor.char", "Tensor.byte", "Tensor.type_as",
        "Tensor.bfloat16", "Tensor.ndimension", "Tensor.get_device", "Tensor.is_sparse",
        "Tensor.itemsize", "Tensor.nbytes",
        "Tensor.cuda", "Tensor.data_ptr", "Tensor.share_memory_",
        "Tensor.pin_memory", "Tensor.is_pinned", "Tensor.is_cuda", "result_type",
        "promote_types", "can_cast", "finfo", "iinfo")},
    **{n: _CREATION for n in (
        "FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "BoolTensor", "HalfTensor",
        "ShortTensor", "CharTensor", "ByteTensor", "Tensor.new_tensor", "Tensor.new_zeros",
        "Tensor.new_ones", "Tensor.new_empty", "Tensor.new_full")},
    **{n: _MODE for n in ("device", "set_default_device", "get_default_device",
                          "set_printoptions")},
    "normal": "a draw: PyTorch's gradients to mean and std are zero (not reparameterised)",
    "compile": "wraps a function or module (its ops are checked)",
    "F.Tensor": "the Tensor class, re-exported",
    "nn.Module": "base class (its subclasses are checked)",
    "nn.Parameter": "a leaf tensor",
    "nn.ModuleList": "a container that is not callable",
    "nn.ModuleDict": "a container that is not callable",
    "nn.ParameterList": "a container of leaf tensors",
    "nn.ParameterDict": "a container of leaf tensors",
    "nn.RNNBase": "base class (RNN, LSTM and GRU are checked)",
    "nn.NLLLoss2d": "PyTorch's deprecated name of NLLLoss (checked)",
    "nn.RNNCellBase": "base class (the cells are checked)",
}


def covered():
    """Every public name some entry checks."""
    return {n for op in OPS for n in op.api}
