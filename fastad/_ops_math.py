"""Registry entries (fastad.ops.OPS) of the pointwise math written in Python
(fastad/_functions/pointwise.py), the in-place forms of the table's rows and of
those ops, and linear algebra (fastad/_functions/linalg.py, fastad.linalg)."""
import numpy as np

from fastad import ops as _registry
from fastad import opdefs as _opdefs
from fastad.ops import BINARY, OpInfo, _apart, _distinct, case

OPS = []

# ---- pointwise math written in Python (fastad/_functions/pointwise.py), in-place forms
def _in_place(method, **fixed):
    def call(lib, a, *rest, **kw):
        y = a * 1.0           # in place on a non-leaf, inside the graph
        return getattr(y, method)(*rest, **fixed, **kw)
    return call


def _mod_pair(rng, shapes, dtype):
    """input / other kept 0.2 away from an integer (remainder's jumps), other from 0
    (other's shape broadcasts to input's)."""
    b = rng.uniform(0.5, 1.5, shapes[1]) * rng.choice([-1.0, 1.0], shapes[1])
    q = rng.integers(-2, 3, shapes[0]) + rng.uniform(0.2, 0.8, shapes[0])
    return [q * np.broadcast_to(b, shapes[0]), b]


def _spd_free(rng, shapes, dtype):
    """Matrices near the identity: invertible, well conditioned."""
    return [np.eye(s[-2], s[-1]) + rng.uniform(-0.3, 0.3, s) for s in shapes]


def _sym(a):
    return (a + a.mT) / 2


def _spd(lib, a):
    return a @ a.mT + a.shape[-1] * lib.eye(a.shape[-1], dtype=a.dtype)


def _signed(lib, *parts):
    return lib.cat([p.flatten() for p in parts])


def _eigh_call(lib, a):
    w, v = lib.linalg.eigh(_sym(a))
    return _signed(lib, w, v * v[..., :1, :].sign())   # eigenvectors' signs fixed


def _svd_call(lib, a):
    u, s, vh = lib.linalg.svd(a, full_matrices=False)
    sign = u[..., :1, :].sign()
    return _signed(lib, s, u * sign, vh * sign.mT)


def _qr_call(lib, a, **kw):
    q, r = lib.linalg.qr(a, **kw)
    return _signed(lib, q, r)


_TRI = (case((3, 4), (3, 4), (3, 4)), case((3, 4), (4,), (3, 1)), case((), (3,), ()))
_MOD = (case((3, 4), (3, 4)), case((3, 4), (4,)), case((), ()))
OPS += [
    OpInfo("atan2", lambda lib, a, b: lib.atan2(a, b), BINARY, kinks=(0.0,),
           api=("atan2", "Tensor.atan2", "arctan2", "Tensor.arctan2")),
    OpInfo("hypot", lambda lib, a, b: lib.hypot(a, b), BINARY, kinks=(0.0,),
           api=("hypot", "Tensor.hypot")),
    OpInfo("logaddexp", lambda lib, a, b: lib.logaddexp(a, b), BINARY,
           api=("logaddexp", "Tensor.logaddexp")),
    OpInfo("xlogy", lambda lib, a, b: lib.xlogy(a, b), BINARY, domain=(0.2, 2.0),
           api=("xlogy", "Tensor.xlogy")),
    OpInfo("fmax", lambda lib, a, b: lib.fmax(a, b), BINARY, sampler=_apart,
           api=("fmax", "Tensor.fmax")),
    OpInfo("fmin", lambda lib, a, b: lib.fmin(a, b), BINARY, sampler=_apart,
           api=("fmin", "Tensor.fmin")),
    OpInfo("remainder", lambda lib, a, b: lib.remainder(a, b), _MOD, sampler=_mod_pair,
           api=("remainder", "Tensor.remainder")),
    OpInfo("remainder_scalar", lambda lib, a: lib.remainder(a, 1.0),
           (case((3, 4)),), kinks=(-2.0, -1.0, 0.0, 1.0, 2.0), api=("remainder",)),
    OpInfo("fmod", lambda lib, a, b: lib.fmod(a, b), _MOD, sampler=_mod_pair,
           api=("fmod", "Tensor.fmod")),
    OpInfo("true_divide", lambda lib, a, b: lib.true_divide(a, b), BINARY, kinks=(0.0,),
           api=("true_divide", "Tensor.true_divide")),
    OpInfo("lerp", lambda lib, a, b, w: lib.lerp(a, b, w), _TRI, api=("lerp", "Tensor.lerp")),
    OpInfo("lerp_scalar", lambda lib, a, b, weight: lib.lerp(a, b, weight),
           (case((3, 4), (3, 4), weight=0.3), case((3, 4), (4,), weight=0.8)), api=("lerp",)),
    OpInfo("addcmul", lambda lib, a, b, c, **kw: lib.addcmul(a, b, c, **kw),
           _TRI + (case((3, 4), (3, 4), (3, 4), value=0.5),), api=("addcmul", "Tensor.addcmul")),
    OpInfo("addcdiv", lambda lib, a, b, c, **kw: lib.addcdiv(a, b, c, **kw),
           _TRI + (case((3, 4), (3, 4), (3, 4), value=-2.0),), kinks=(0.0,),
           api=("addcdiv", "Tensor.addcdiv")),
    OpInfo("clamp_min", lambda lib, a: lib.clamp_min(a, 0.5), (case((3, 4)), case(())),
           kinks=(0.5,), api=("clamp_min", "Tensor.clamp_min")),
    OpInfo("clamp_max", lambda lib, a: lib.clamp_max(a, 0.5), (case((3, 4)), case(())),
           kinks=(0.5,), api=("clamp_max", "Tensor.clamp_max")),
    OpInfo("logit", lambda lib, a, **kw: lib.logit(a, **kw),
           (case((3, 4)), case(()), case((3, 4), eps=0.2)), domain=(0.05, 0.95),
           kinks=(0.2, 0.8), api=("logit", "Tensor.logit")),
    OpInfo("nan_to_num", lambda lib, a: lib.nan_to_num(a), (case((3, 4)), case(())),
           api=("nan_to_num", "Tensor.nan_to_num")),
    OpInfo("round", lambda lib, a, **kw: lib.round(a, **kw),
           (case((3, 4)), case(()), case((3, 4), decimals=1), case((3, 4), decimals=-1)),
           domain=(-2.6, 2.6), kinks=(-2.5, -1.5, -0.5, 0.5, 1.5, 2.5),
           api=("round", "Tensor.round")),
]
# Tensor.foo_ of the table's rows, and of the Python ops: one case each, as the
# out-of-place entry's first
# (PyTorch has no derivative for the in-place forms with their own grad_fn: asinh_, ...)
OPS += [OpInfo(f"Tensor.{op.name}_", _in_place(op.name + "_"), (case((3, 4)), case(())),
               domain=op.domain, kinks=op.kinks, api=(f"Tensor.{op.name}_",),
               torch=not op.inplace_grad_fn)
        for op in _opdefs.UNARY if op.method]
_BY = {op.name: op for op in _registry.OPS + OPS}
OPS += [OpInfo(f"Tensor.{name}_", _in_place(name + "_"), _BY[name].cases[:1],
               domain=_BY[name].domain, kinks=_BY[name].kinks, sampler=_BY[name].sampler,
               api=(f"Tensor.{name}_",))
        for name in ("atan2", "hypot", "xlogy", "remainder", "fmod", "true_divide", "lerp",
                     "addcmul", "addcdiv", "logit", "nan_to_num", "round")]
OPS += [
    OpInfo("Tensor.clamp_min_", _in_place("clamp_min_", min=0.5), (case((3, 4)),), kinks=(0.5,),
           api=("Tensor.clamp_min_",)),
    OpInfo("Tensor.clamp_max_", _in_place("clamp_max_", max=0.5), (case((3, 4)),), kinks=(0.5,),
           api=("Tensor.clamp_max_",)),
    OpInfo("Tensor.pow_", _in_place("pow_", exponent=3), (case((3, 4)), case(())),
           api=("Tensor.pow_",)),
    OpInfo("Tensor.square_", _in_place("square_"), (case((3, 4)), case(())),
           api=("Tensor.square_",)),
    OpInfo("Tensor.clip_", _in_place("clip_", min=-0.5, max=0.5), (case((3, 4)),),
           kinks=(-0.5, 0.5), api=("Tensor.clip_",)),
]

# ---- linear algebra (fastad/_functions/linalg.py, fastad.linalg)
_linalg = lambda name: (lambda lib, *ts, **kw: getattr(lib.linalg, name)(*ts, **kw))
OPS += [
    OpInfo("bmm", lambda lib, a, b: lib.bmm(a, b), (case((2, 3, 4), (2, 4, 5)),),
           api=("bmm", "Tensor.bmm")),
    OpInfo("mv", lambda lib, a, b: lib.mv(a, b), (case((3, 4), (4,)),), api=("mv", "Tensor.mv")),
    OpInfo("dot", lambda lib, a, b: lib.dot(a, b), (case((4,), (4,)),),
           api=("dot", "Tensor.dot")),
    OpInfo("outer", lambda lib, a, b: lib.outer(a, b), (case((3,), (4,)),),
           api=("outer", "Tensor.outer", "ger", "Tensor.ger")),
    OpInfo("inner", lambda lib, a, b: lib.inner(a, b),
           (case((3, 4), (5, 4)), case((4,), (4,)), case((), (3,))),
           api=("inner", "Tensor.inner")),
    OpInfo("einsum", lambda lib, *ts, equation: lib.einsum(equation, *ts),
           (case((3, 4), (4, 5), equation="ij,jk->ik"), case((3, 3), equation="ii->"),
            case((3, 3), equation="ii->i"), case((2, 3, 4), (2, 4, 2), equation="bij,bjk->bik"),
            case((4,), (4,), equation="i,i"), case((3, 4), equation="ij->"),
            case((2, 3, 4), (4, 5), equation="...ij,jk->...ik"),
            case((3, 4), (4,), equation="ij,j->i")), api=("einsum",)),
    OpInfo("tensordot", lambda lib, a, b, dims: lib.tensordot(a, b, dims),
           (case((3, 4, 5), (4, 5, 2), dims=2), case((3, 4), (4, 3), dims=((1,), (0,))),
            case((2, 3), (3, 2), dims=0)), api=("tensordot",)),
    OpInfo("cross", lambda lib, a, b, **kw: lib.cross(a, b, **kw),
           (case((3,), (3,)), case((4, 3), (4, 3), dim=1), case((3, 2), (3, 2), dim=0)),
           api=("cross", "Tensor.cross")),
    OpInfo("linalg.cross", lambda lib, a, b: lib.linalg.cross(a, b),
           (case((4, 3), (1, 3)),), api=("linalg.cross",)),
    OpInfo("kron", lambda lib, a, b: lib.kron(a, b),
           (case((2, 3), (3, 2)), case((2,), (3,)), case((2, 2), (3,))),
           api=("kron", "Tensor.kron")),
    OpInfo("trace", lambda lib, a: lib.trace(a), (case((3, 4)), case((3, 3))),
           api=("trace", "Tensor.trace")),
    OpInfo("det", lambda lib, a: lib.det(a), (case((3, 3)), case((2, 3, 3))), sampler=_spd_free,
           api=("det", "Tensor.det", "linalg.det")),
    OpInfo("inverse", lambda lib, a: lib.inverse(a), (case((3, 3)), case((2, 3, 3))),
           sampler=_spd_free, api=("inverse", "Tensor.inverse", "linalg.inv")),
    OpInfo("addmm", lambda lib, a, b, c, **kw: lib.addmm(a, b, c, **kw),
           (case((2, 4), (2, 3), (3, 4)), case((4,), (2, 3), (3, 4), beta=0.5, alpha=2.0)),
           api=("addmm", "Tensor.addmm")),
    OpInfo("baddbmm", lambda lib, a, b, c, **kw: lib.baddbmm(a, b, c, **kw),
           (case((2, 3, 5), (2, 3, 4), (2, 4, 5)), case((3, 5), (2, 3, 4), (2, 4, 5), alpha=0.5)),
           api=("baddbmm", "Tensor.baddbmm")),
    OpInfo("cdist", lambda lib, a, b, **kw: lib.cdist(a, b, **kw),
           (case((4, 3), (5, 3)), case((2, 4, 3), (2, 5, 3), p=1.0), case((4, 3), (5, 3), p=3.0)),
           api=("cdist",)),
    OpInfo("linalg.vector_norm", _linalg("vector_norm"),
           (case((3, 4)), case((3, 4), dim=1), case((3, 4), ord=1, dim=0, keepdim=True),
            case((3, 4), ord=float("inf")), case((3, 4), ord=3.0, dim=(0, 1)), case(())),
           kinks=(0.0,), api=("linalg.vector_norm",)),
    OpInfo("linalg.matrix_norm", _linalg("matrix_norm"),
           (case((3, 4)), case((2, 3, 4), ord="nuc"), case((3, 4), ord=2), case((3, 4), ord=1),
            case((3, 4), ord=float("-inf"), keepdim=True),
            case((2, 3, 4), ord=-2, dim=(2, 0), keepdim=True)), sampler=_distinct,
           api=("linalg.matrix_norm",)),
    OpInfo("linalg.norm", _linalg("norm"),
           (case((3, 4)), case((5,), ord=1), case((3, 4), dim=(0, 1)), case((3, 4), ord="fro"),
            case((4, 3), ord="nuc")),
           kinks=(0.0,), api=("linalg.norm",)),
    OpInfo("linalg.solve", _linalg("solve"),
           (case((3, 3), (3, 2)), case((3, 3), (3,)), case((2, 3, 3), (3, 2)),
            case((3, 3), (2, 3), left=False)), sampler=lambda rng, shapes, dt: (
               _spd_free(rng, shapes[:1], dt) + [rng.uniform(-1, 1, shapes[1])]),
           api=("linalg.solve",)),
    OpInfo("linalg.cholesky", lambda lib, a, **kw: lib.linalg.cholesky(_spd(lib, a), **kw),
           (case((3, 3)), case((2, 3, 3)), case((3, 3), upper=True)), api=("linalg.cholesky",)),
    OpInfo("linalg.qr", _qr_call, (case((4, 3)), case((3, 3)), case((2, 4, 2)), case((3, 5)),
                                   case((2, 2, 4)), case((2, 4), mode="complete")),
           sampler=_spd_free, api=("linalg.qr",)),
    OpInfo("linalg.eigh", _eigh_call, (case((3, 3)), case((2, 4, 4))), sampler=_distinct,
           api=("linalg.eigh", "linalg.eigvalsh")),
    OpInfo("linalg.svd", _svd_call, (case((4, 3)), case((3, 4)), case((2, 3, 3))),
           sampler=_distinct, api=("linalg.svd",)),
    OpInfo("linalg.svdvals", _linalg("svdvals"), (case((4, 3)),), sampler=_distinct,
           api=("linalg.svdvals",)),
]
