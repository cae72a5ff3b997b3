"""Registry entries (fastad.ops.OPS) of the indexing, joining, reshaping,
reduction and order-statistic ops of fastad._functions.  Each call returns one
tensor (the pieces of a split are concatenated), so that gradcheck and the
comparison with PyTorch see one output."""
import numpy as np

from fastad.ops import OpInfo, _distinct, case, reduce_cases


def _joined(fn):
    """The pieces fn returns, flattened and concatenated into one tensor."""
    def call(lib, *ts, **kw):
        return lib.cat([p.reshape(-1) for p in fn(lib, *ts, **kw)])
    return call


def _ix(values):
    return lambda lib: lib.tensor(values)


def _with_zeros(rng, shapes, dtype):
    """Values with exact zeros: one in the first row, two in the second (products)."""
    out = []
    for s in shapes:
        a = rng.uniform(0.5, 1.5, s) * rng.choice([-1, 1], s)
        flat = a.reshape(-1)
        flat[[1, s[-1] + 1, s[-1] + 2][:flat.size - 1 if flat.size > 2 else 1]] = 0
        out.append(a)
    return out


def _weighted(t):
    """t times weights laid out along its shape: a wrong layout changes the gradient."""
    return t * (t.new_tensor(np.arange(1.0, t.numel() + 1)).reshape(t.shape) if t.dim() else 1.0)


def _method(name, *args, **fixed):
    def call(lib, a, *rest, **kw):
        return getattr(a, name)(*args, *rest, **fixed, **kw)
    return call


def _fn(name, *args, **fixed):
    def call(lib, *ts, **kw):
        return getattr(lib, name)(*ts, *args, **fixed, **kw)
    return call


def _values(name, *args, **fixed):
    """The values of an op returning (values, indices)."""
    def call(lib, a, **kw):
        return getattr(lib, name)(a, *args, **fixed, **kw)[0]
    return call


def _fresh(method, *args):
    """An in-place method applied to a non-leaf copy of a (inside the graph)."""
    def call(lib, a, *rest):
        y = a * 1.0
        return getattr(y, method)(*[x(lib) if callable(x) else x for x in args], *rest)
    return call


_M34 = case((3, 4))
OPS = [
    # ---- joining and splitting
    OpInfo("concat", lambda lib, a, b, dim: lib.concat([a, b], dim=dim),
           (case((2, 3), (2, 1), dim=1), case((2, 3), (1, 3), dim=-2)),
           api=("concat", "concatenate")),
    OpInfo("hstack", lambda lib, a, b: lib.hstack([a, b]),
           (case((3,), (2,)), case((2, 3), (2, 1)), case((), (2,))), api=("hstack",)),
    OpInfo("vstack", lambda lib, a, b: lib.vstack([a, b]),
           (case((3,), (3,)), case((2, 3), (1, 3))), api=("vstack", "row_stack")),
    OpInfo("dstack", lambda lib, a, b: lib.dstack([a, b]), (case((3,), (3,)), case((2, 3), (2, 3))),
           api=("dstack",)),
    OpInfo("column_stack", lambda lib, a, b: lib.column_stack([a, b]),
           (case((3,), (3, 2)), case((), ())), api=("column_stack",)),
    OpInfo("atleast", lambda lib, a: lib.atleast_1d(a) * lib.atleast_2d(a) * lib.atleast_3d(a),
           (case(()), case((3,))), api=("atleast_1d", "atleast_2d", "atleast_3d")),
    OpInfo("split", _joined(lambda lib, a, size, dim: lib.split(a, size, dim)),
           (case((5, 3), size=2, dim=0), case((2, 5), size=[1, 4], dim=-1)),
           api=("split", "Tensor.split")),
    OpInfo("chunk", _joined(lambda lib, a, n, dim: a.chunk(n, dim)),
           (case((5, 3), n=2, dim=0), case((2, 6), n=3, dim=1)), api=("chunk", "Tensor.chunk")),
    OpInfo("tensor_split", _joined(lambda lib, a, s, dim: lib.tensor_split(a, s, dim)),
           (case((7, 2), s=3, dim=0), case((2, 6), s=[1, 4], dim=1),
            case((2, 6), s=[4, 1, 9], dim=-1)), api=("tensor_split", "Tensor.tensor_split")),
    OpInfo("unbind", _joined(lambda lib, a, dim: a.unbind(dim)),
           (case((3, 2), dim=0), case((3, 2), dim=-1), case((4,), dim=0)),
           api=("unbind", "Tensor.unbind")),
    OpInfo("narrow", lambda lib, a, dim, start, length: lib.narrow(a, dim, start, length),
           (case((5, 3), dim=0, start=1, length=3), case((2, 5), dim=-1, start=-2, length=2)),
           api=("narrow", "Tensor.narrow")),
    OpInfo("select", lambda lib, a, dim, index: a.select(dim, index),
           (case((3, 4), dim=1, index=2), case((3, 4), dim=0, index=-1)),
           api=("select", "Tensor.select")),
    OpInfo("slice_scatter", lambda lib, a, b: lib.slice_scatter(a, b, 1, 1, 4, 2),
           (case((3, 5), (3, 2)),), api=("slice_scatter", "Tensor.slice_scatter")),
    # ---- reordering and reshaping
    OpInfo("fliplr_flipud", lambda lib, a: lib.fliplr(a) * a.flipud(), (_M34,),
           api=("fliplr", "Tensor.fliplr", "flipud", "Tensor.flipud")),
    OpInfo("roll", lambda lib, a, shifts, dims=None: lib.roll(a, shifts, dims),
           (case((3, 4), shifts=1, dims=0), case((3, 4), shifts=(2, -1), dims=(1, 0)),
            case((3, 4), shifts=5)), api=("roll", "Tensor.roll")),
    OpInfo("rot90", lambda lib, a, k, dims=(0, 1): lib.rot90(a, k, dims),
           (case((3, 4), k=1), case((3, 4), k=2), case((2, 3, 4), k=-1, dims=(2, 0)),
            case((3, 4), k=0)), api=("rot90", "Tensor.rot90")),
    OpInfo("swapaxes", lambda lib, a: lib.swapaxes(a, 0, -1) * a.swapdims(-1, 0),
           (case((3, 3),),), api=("swapaxes", "Tensor.swapaxes", "swapdims", "Tensor.swapdims")),
    OpInfo("movedim", lambda lib, a, s, d: lib.movedim(a, s, d),
           (case((2, 3, 4), s=0, d=-1), case((2, 3, 4), s=(0, 1), d=(2, 0))),
           api=("movedim", "Tensor.movedim", "moveaxis", "Tensor.moveaxis")),
    OpInfo("unflatten", lambda lib, a, dim, sizes: a.unflatten(dim, sizes),
           (case((2, 6), dim=1, sizes=(3, -1)), case((6,), dim=0, sizes=(2, 3))),
           api=("unflatten", "Tensor.unflatten")),
    OpInfo("broadcast_to", lambda lib, a: lib.broadcast_to(a, (2, 3, 4)) * a.broadcast_to((3, 4)),
           (case((3, 1),), case((4,),), case(())), api=("broadcast_to", "Tensor.broadcast_to")),
    OpInfo("broadcast_tensors", lambda lib, a, b: lib.stack(lib.broadcast_tensors(a, b)),
           (case((3, 1), (4,)), case((), (2, 2))), api=("broadcast_tensors",)),
    OpInfo("meshgrid", lambda lib, a, b, indexing: lib.stack(lib.meshgrid(a, b, indexing=indexing)),
           (case((3,), (2,), indexing="ij"), case((3,), (2,), indexing="xy")),
           api=("meshgrid",)),
    OpInfo("repeat", lambda lib, a, sizes: a.repeat(*sizes),
           (case((2, 3), sizes=(2, 1)), case((3,), sizes=(2, 2)), case((), sizes=(3,))),
           api=("Tensor.repeat",)),
    OpInfo("tile", lambda lib, a, dims: lib.tile(a, dims),
           (case((2, 3), dims=(2,)), case((3,), dims=(2, 2))), api=("tile", "Tensor.tile")),
    OpInfo("repeat_interleave", lambda lib, a, r, dim=None: lib.repeat_interleave(
        a, r(lib) if callable(r) else r, dim),
           (case((2, 3), r=2, dim=0), case((2, 3), r=_ix([1, 0, 2]), dim=-1), case((2, 3), r=2)),
           api=("repeat_interleave", "Tensor.repeat_interleave")),
    OpInfo("tril_triu", lambda lib, a, k: lib.tril(a, k) + a.triu(-k) * 2,
           (case((3, 4), k=0), case((2, 4, 3), k=1), case((4, 3), k=-1)),
           api=("tril", "Tensor.tril", "triu", "Tensor.triu")),
    OpInfo("fill_diagonal_", lambda lib, a, **kw: (a * 1.0).fill_diagonal_(0.5, **kw),
           (case((3, 4),), case((5, 2), wrap=True), case((3, 3, 3),)),
           api=("Tensor.fill_diagonal_",)),
    # the in-place views, on a non-leaf inside the graph; the product keeps their layout
    OpInfo("t_", lambda lib, a: _weighted((a * 1.0).t_()), (case((3, 4),), case((4,),)),
           api=("Tensor.t_",)),
    OpInfo("transpose_", lambda lib, a, name, d0, d1: _weighted(getattr(a * 1.0, name)(d0, d1)),
           (case((3, 4), name="transpose_", d0=0, d1=1),
            case((2, 3, 4), name="swapaxes_", d0=-1, d1=0),
            case((2, 3, 4), name="swapdims_", d0=1, d1=2)),
           api=("Tensor.transpose_", "Tensor.swapaxes_", "Tensor.swapdims_")),
    OpInfo("squeeze_", lambda lib, a, dim=None: _weighted(
        (a * 1.0).squeeze_() if dim is None else (a * 1.0).squeeze_(dim)),
           (case((3, 1, 2),), case((3, 1, 2), dim=1), case((1, 3, 1), dim=(0, 2))),
           api=("Tensor.squeeze_",)),
    OpInfo("unsqueeze_", lambda lib, a, dim: _weighted((a * 1.0).unsqueeze_(dim)),
           (case((3, 2), dim=1), case((3, 2), dim=-1), case((), dim=0)),
           api=("Tensor.unsqueeze_",)),
    OpInfo("diagonal", lambda lib, a, **kw: lib.diagonal(a, **kw),
           (case((3, 4),), case((3, 4), offset=1), case((2, 3, 4), offset=-1, dim1=2, dim2=0)),
           api=("diagonal", "Tensor.diagonal")),
    OpInfo("diagonal_scatter", lambda lib, a, b: lib.diagonal_scatter(a, b, 1),
           (case((3, 4), (3,)),), api=("diagonal_scatter", "Tensor.diagonal_scatter")),
    OpInfo("diag_embed", lambda lib, a, **kw: lib.diag_embed(a, **kw),
           (case((2, 3),), case((3,), offset=-1), case((2, 3), offset=1, dim1=0, dim2=2)),
           api=("diag_embed", "Tensor.diag_embed")),
    OpInfo("diag", lambda lib, a, k: lib.diag(a, k),
           (case((3,), k=0), case((3, 4), k=-1), case((3,), k=1)), api=("diag", "Tensor.diag")),
    OpInfo("unfold", lambda lib, a, dim, size, step: a.unfold(dim, size, step),
           (case((7,), dim=0, size=2, step=1), case((3, 7), dim=1, size=3, step=2),
            case((5, 2), dim=0, size=2, step=3)), api=("Tensor.unfold",)),
    # ---- indexing: advanced keys and assignment through them
    OpInfo("index_range_target", lambda lib, a: a[range(3), lib.tensor([1, 0, 3])],
           (_M34,)),
    OpInfo("setitem_mask_iadd", lambda lib, a: _mask_iadd(lib, a), (_M34,),
           api=("Tensor.__setitem__",)),
    OpInfo("setitem_index_value", lambda lib, a, v: _set(a * 1.0, (lib.tensor([0, 2]),), v),
           (case((3, 4), (2, 4)), case((3, 4), (4,))), api=("Tensor.__setitem__",)),
    # ---- index_*, gather, scatter, take, masks
    OpInfo("index_select", lambda lib, a, dim: lib.index_select(a, dim, lib.tensor([2, 0, 2])),
           (case((3, 4), dim=0), case((3, 4), dim=-1)),
           api=("index_select", "Tensor.index_select")),
    OpInfo("index_add", lambda lib, a, b, alpha=1: lib.index_add(
        a, 0, lib.tensor([1, 0, 1]), b, alpha=alpha), (case((3, 4), (3, 4)),
                                                      case((2, 4), (3, 4), alpha=-2.0)),
           api=("index_add", "Tensor.index_add")),
    OpInfo("index_add_", _fresh("index_add_", 1, _ix([3, 3]), ), (case((3, 4), (3, 2)),),
           api=("Tensor.index_add_",)),
    OpInfo("index_fill", lambda lib, a, dim: lib.index_fill(a, dim, lib.tensor([1]), -1.0),
           (case((3, 4), dim=0), case((3, 4), dim=1)), api=("index_fill", "Tensor.index_fill")),
    OpInfo("index_fill_tensor", lambda lib, a, v: (a * 1.0).index_fill_(1, lib.tensor([0, 2]), v),
           (case((3, 4), ()),), api=("Tensor.index_fill_",)),
    OpInfo("gather", lambda lib, a, dim: lib.gather(a, dim, lib.tensor([[0, 1], [2, 0]])),
           (case((3, 4), dim=0), case((3, 4), dim=1), case((2, 3), dim=-1)),
           api=("gather", "Tensor.gather")),
    OpInfo("scatter", lambda lib, a, b: lib.scatter(a, 1, lib.tensor([[0, 2], [1, 3]]), b),
           (case((2, 4), (2, 2)),), api=("scatter", "Tensor.scatter")),
    # a src larger than the index: PyTorch's backward refuses it; fastad pads the gradient
    OpInfo("scatter_larger_src", lambda lib, a, b: lib.scatter(a, 1, lib.tensor([[0, 2]]), b),
           (case((3, 4), (2, 3)),), torch=False),
    OpInfo("scatter_value", lambda lib, a: a.scatter(0, lib.tensor([[1, 0]]), 2.5), (_M34,),
           api=("scatter", "Tensor.scatter")),
    OpInfo("scatter_", _fresh("scatter_", 0, _ix([[1, 0, 2, 1]])), (case((3, 4), (1, 4)),),
           api=("Tensor.scatter_",)),
    OpInfo("scatter_add", lambda lib, a, b: lib.scatter_add(a, 0, lib.tensor([[1, 1, 0]]), b),
           (case((3, 4), (1, 3)),), api=("scatter_add", "Tensor.scatter_add")),
    OpInfo("scatter_add_", _fresh("scatter_add_", 1, _ix([[0, 0], [3, 0]])),
           (case((2, 4), (2, 2)),), api=("Tensor.scatter_add_",)),
    OpInfo("take", lambda lib, a: lib.take(a, lib.tensor([[0, 5], [-1, 5]])), (_M34, case((6,))),
           api=("take", "Tensor.take")),
    OpInfo("take_along_dim", lambda lib, a, dim=None: lib.take_along_dim(
        a, lib.tensor([[0], [2], [1]]), dim), (case((3, 4), dim=1), case((3, 4)),
                                               case((1, 4), dim=1)),
           api=("take_along_dim", "Tensor.take_along_dim")),
    OpInfo("masked_fill", lambda lib, a: lib.masked_fill(a, _mask(lib, (3, 4)), 0.5),
           (_M34, case((4,))), api=("masked_fill", "Tensor.masked_fill")),
    OpInfo("masked_fill_tensor", lambda lib, a, v: (a * 1.0).masked_fill_(_mask(lib, (3, 4)), v),
           (case((3, 4), ()),), api=("Tensor.masked_fill_",)),
    OpInfo("masked_select", lambda lib, a: lib.masked_select(a, _mask(lib, (3, 4))),
           (_M34, case((1, 4))), api=("masked_select", "Tensor.masked_select")),
    # ---- reductions
    OpInfo("prod", lambda lib, a, dim=None, keepdim=False: (
        lib.prod(a) if dim is None else a.prod(dim, keepdim=keepdim)),
           (case((3, 4)), case((3, 4), dim=1), case((3, 4), dim=-2, keepdim=True), case(())),
           api=("prod", "Tensor.prod")),
    OpInfo("prod_zeros", lambda lib, a, dim=None: lib.prod(a) if dim is None else a.prod(dim),
           (case((3, 4), dim=1), case((3, 4))), sampler=_with_zeros),
    OpInfo("var", lambda lib, a, **kw: lib.var(a, **kw),
           reduce_cases() + (case((3, 4), dim=(0, 1), correction=0),
                             case((3, 4), dim=1, unbiased=False), case((5,), correction=2)),
           api=("var", "Tensor.var")),
    OpInfo("std", lambda lib, a, **kw: a.std(**kw),
           reduce_cases(((3, 4),)) + (case((2, 3, 2), dim=(0, 2), keepdim=True, correction=0),),
           api=("std", "Tensor.std")),
    OpInfo("var_mean", lambda lib, a, **kw: lib.stack(lib.var_mean(a, **kw)),
           (case((3, 4)), case((3, 4), dim=1, correction=0)), api=("var_mean",)),
    OpInfo("std_mean", lambda lib, a, **kw: lib.stack(lib.std_mean(a, **kw)),
           (case((3, 4)), case((3, 4), dim=0, keepdim=True)), api=("std_mean",)),
    OpInfo("amax_amin", lambda lib, a, **kw: lib.amax(a, **kw) * a.amin(**kw),
           reduce_cases() + (case((2, 3, 2), dim=(0, -1)),), sampler=_distinct,
           api=("amax", "Tensor.amax", "amin", "Tensor.amin")),
    OpInfo("logsumexp", lambda lib, a, dim, keepdim=False: lib.logsumexp(a, dim, keepdim),
           (case((3, 4), dim=1), case((3, 4), dim=0, keepdim=True), case((2, 3, 2), dim=(0, 2)),
            case((), dim=0)), api=("logsumexp", "Tensor.logsumexp")),
    OpInfo("norm", lambda lib, a, **kw: a.norm(**kw),
           (case((3, 4)), case((3, 4), p=1, dim=1), case((3, 4), p=3, dim=0, keepdim=True),
            case((3, 4), p=float("inf"), dim=1), case((2, 3, 2), p="fro", dim=(0, 2)),
            case((3, 4), p=0.5), case(()), case((3, 4), p="nuc"),
            case((2, 3, 4), p="nuc", dim=(2, 0), keepdim=True)), sampler=_distinct,
           api=("norm", "Tensor.norm")),
    OpInfo("dist", lambda lib, a, b, p=2: lib.dist(a, b, p), (case((3, 4), (4,)),
                                                                case((3, 4), (3, 4), p=1)),
           sampler=_distinct, api=("dist", "Tensor.dist")),
    OpInfo("nansum_nanmean", lambda lib, a, **kw: lib.nansum(a, **kw) + a.nanmean(**kw),
           reduce_cases(((3, 4),)), api=("nansum", "Tensor.nansum", "nanmean", "Tensor.nanmean")),
    OpInfo("diff", lambda lib, a, b=None, **kw: lib.diff(a, prepend=b, **kw) + a.diff(**kw).sum(),
           (case((3, 4),), case((3, 4), (3, 2), n=2), case((2, 3, 4), (1, 3, 4), dim=0),
            case((5,), n=6), case((4, 3), dim=-2, n=0)),
           api=("diff", "Tensor.diff")),
    OpInfo("cumsum", lambda lib, a, dim: lib.cumsum(a, dim),
           (case((3, 4), dim=1), case((3, 4), dim=-2), case((), dim=0)),
           api=("cumsum", "Tensor.cumsum")),
    OpInfo("cumprod", lambda lib, a, dim: a.cumprod(dim),
           (case((3, 4), dim=1), case((3, 4), dim=0), case((), dim=0)),
           api=("cumprod", "Tensor.cumprod")),
    OpInfo("cumprod_zeros", lambda lib, a, dim: lib.cumprod(a, dim), (case((3, 4), dim=1),),
           sampler=_with_zeros),
    OpInfo("cummax_cummin", lambda lib, a, dim: lib.cummax(a, dim)[0] * a.cummin(dim)[0],
           (case((3, 4), dim=1), case((5,), dim=0)), sampler=_distinct,
           api=("cummax", "Tensor.cummax", "cummin", "Tensor.cummin")),
    # ---- order statistics
    OpInfo("sort", lambda lib, a, **kw: lib.sort(a, **kw)[0],
           (case((3, 4)), case((3, 4), dim=0, descending=True), case((5,), stable=True),
            case(())), sampler=_distinct, api=("sort", "Tensor.sort")),
    OpInfo("msort", lambda lib, a: lib.msort(a), (_M34,), sampler=_distinct,
           api=("msort", "Tensor.msort")),
    OpInfo("topk", lambda lib, a, k, **kw: a.topk(k, **kw)[0],
           (case((3, 4), k=2), case((3, 4), k=1, dim=0, largest=False), case((5,), k=5),
            case((2, 6), k=4, sorted=False)), sampler=_distinct, api=("topk", "Tensor.topk")),
    OpInfo("kthvalue", lambda lib, a, k, **kw: lib.kthvalue(a, k, **kw)[0],
           (case((3, 4), k=2), case((3, 4), k=3, dim=0, keepdim=True)), sampler=_distinct,
           api=("kthvalue", "Tensor.kthvalue")),
    OpInfo("median", lambda lib, a, dim=None, keepdim=False: (
        lib.median(a) if dim is None else a.median(dim, keepdim)[0]),
           (case((3, 4)), case((3, 4), dim=1), case((3, 4), dim=0, keepdim=True), case(())),
           sampler=_distinct, api=("median", "Tensor.median")),
    OpInfo("mode", lambda lib, a, **kw: lib.mode(a, **kw)[0],
           (case((3, 4)), case((3, 4), dim=0, keepdim=True)), sampler=_distinct,
           api=("mode", "Tensor.mode")),
    OpInfo("quantile", lambda lib, a, q, **kw: lib.quantile(
        a, lib.tensor(q, dtype=a.dtype) if isinstance(q, tuple) else q, **kw),
           (case((3, 4), q=0.3), case((3, 4), q=(0.2, 0.5, 1.0), dim=1),
            case((3, 4), q=0.7, dim=0, keepdim=True, interpolation="midpoint"),
            case((5,), q=0.4, interpolation="nearest"), case((5,), q=0.6, interpolation="lower"),
            case((3, 4), q=0.5, keepdim=True)),
           sampler=_distinct, api=("quantile", "Tensor.quantile")),
]


def _mask(lib, shape):
    n = int(np.prod(shape))
    return lib.tensor(np.arange(n).reshape(shape) % 3 != 1)


def _mask_iadd(lib, a):
    y = a * 2.0
    y[_mask(lib, (3, 4))] += a[0, 0]
    y[lib.tensor([2, 0])] *= 3.0
    return y


def _set(y, key, value):
    y[key] = value
    return y
