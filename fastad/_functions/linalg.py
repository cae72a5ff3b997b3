"""Linear algebra: products (bmm, einsum, kron, ...) and the matrix functions of
fastad.linalg, each with its derivative in fastad ops (PyTorch's formulas in
FunctionsManual.cpp; the decompositions' for well-conditioned inputs)."""
import math
import string
from collections import namedtuple

import numpy as np

import fastad
from fastad._functions._args import dim as _dim, scalar_name
from fastad._functions.pointwise import _out, _sum_to
from fastad._functions.reductions import _vector_norm
from fastad import _tensor
from fastad._tensor import Tensor, array_of, make_op, quiet_fp


class LinAlgError(RuntimeError):
    """PyTorch's torch.linalg.LinAlgError: a singular or non-definite input."""


def _tensor_arg(name, x, pos=1, arg="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument '{arg}' (position {pos}) must be Tensor, not "
                        f"{type(x).__name__}")
    return x


def _same_dtype(name, a, b):
    if a.dtype != b.dtype:
        raise RuntimeError(f"{name}: expected {a.dtype} and {b.dtype} to have the same dtype")


def _no_half(A, kernel):
    """PyTorch's CPU LAPACK kernels have no float16 (inv says so in its own words)."""
    if A.dtype == fastad.float16:
        if kernel == "linalg.inv":
            raise RuntimeError("linalg.inv: Low precision dtypes not supported. Got Half")
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Half'")


def _square(name, A, kernel):
    if A.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{name}: A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")
    if not A.is_floating_point():
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. "
                           f"Got {str(A.dtype)[6:].capitalize()}")
    _no_half(A, kernel)


def _eye_like(A):
    return fastad.tensor(np.eye(A.shape[-1], dtype=array_of(A).dtype))


def _tril(X, k=0):
    """The lower triangle (below diagonal k) of the last two dims, as a product
    with a constant mask (differentiable through mul)."""
    return X * fastad.tensor(np.tri(X.shape[-2], X.shape[-1], k, dtype=array_of(X).dtype))


def _diag_embed(v):
    return v.unsqueeze(-2) * _eye_like(v.unsqueeze(-1).expand(*v.shape, v.shape[-1]))


def _diagonal(X):
    return (X * _eye_like(X)).sum(-1)


def _multi_output(arrays, name, inputs, derivative, dt):
    """An op with several results: recorded as one node over the results
    packed along a last axis, each returned as a view of it; derivative(grads,
    inputs, results) sees the results' gradients (zero where a result is unused)."""
    batch = arrays[0].shape[:-2] if arrays[0].ndim >= 2 else arrays[0].shape[:-1]
    shapes = [a.shape for a in arrays]
    sizes = [int(np.prod(s[len(batch):], dtype=np.int64)) for s in shapes]
    bounds = np.cumsum([0] + sizes)
    packed = np.concatenate([a.reshape(batch + (-1,)) for a in arrays], axis=-1)

    def unpack(p):
        return [p[..., lo:hi].reshape(s) for lo, hi, s in zip(bounds[:-1], bounds[1:], shapes)]

    def d(grad, ins, result):
        return derivative(unpack(grad), ins, unpack(result))
    return unpack(make_op(packed, name, inputs, derivative=d, dt=dt))


# ---------------------------------------------------------------- products
def matmul(input, other, *, out=None):
    return _out(_tensor.matmul(input, other), out)


mm = matmul


def bmm(input, mat2, *, out=None):
    _tensor_arg("bmm", input)
    _tensor_arg("bmm", mat2, 2, "mat2")
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError(f"batch1 must be a 3D tensor" if input.ndim != 3 else
                           "batch2 must be a 3D tensor")
    if input.shape[0] != mat2.shape[0] or input.shape[2] != mat2.shape[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{input.shape[0]}, {input.shape[2]}] but got: "
                           f"[{mat2.shape[0]}, {mat2.shape[1]}].")
    _same_dtype("bmm", input, mat2)
    r = np.matmul(array_of(input), array_of(mat2))
    d = lambda grad, ins, result: (grad.bmm(ins[1].mT), ins[0].mT.bmm(grad))
    return _out(make_op(r, "BmmBackward0", (input, mat2), derivative=d), out)


def mv(input, vec, *, out=None):
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input.ndim}, {vec.ndim}")
    return _out(fastad.matmul(input, vec), out)


def dot(input, tensor, *, out=None):
    if input.ndim != 1 or tensor.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {tensor.ndim}D tensors")
    if input.shape[0] != tensor.shape[0]:
        raise RuntimeError("inconsistent tensor size, expected tensor [%d] and src [%d] to have "
                           "the same number of elements, but got %d and %d elements respectively"
                           % (input.shape[0], tensor.shape[0], input.shape[0], tensor.shape[0]))
    _same_dtype("dot", input, tensor)
    return _out(fastad.matmul(input, tensor), out)


def outer(input, vec2, *, out=None):
    if input.ndim != 1 or vec2.ndim != 1:
        raise RuntimeError(f"outer: Expected 1-D argument self, but got {input.ndim}-D")
    return _out(input.reshape(-1, 1) * vec2, out)


ger = outer


def inner(input, other, *, out=None):
    if input.ndim == 0 or other.ndim == 0:
        return _out(input * other, out)
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got "
                           f"shapes {list(input.shape)} and {list(other.shape)}")
    return _out(tensordot(input, other, ([-1], [-1])), out)


def tensordot(a, b, dims=2, out=None):
    """Contraction over dims (a count of a's last / b's first dims, or two lists),
    as PyTorch: permute, reshape, one matmul, reshape."""
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
        if len(da) != len(db):
            raise RuntimeError("both dimension lists should have same length")
    da, db = [d % max(a.ndim, 1) for d in da], [d % max(b.ndim, 1) for d in db]
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{a.shape[i]} in dim {i} and second has size {b.shape[j]} in dim {j}")
    fa = [d for d in range(a.ndim) if d not in da]
    fb = [d for d in range(b.ndim) if d not in db]
    k = math.prod(a.shape[d] for d in da)
    left = a.permute(*fa, *da).reshape(-1, k)
    right = b.permute(*db, *fb).reshape(k, -1)
    return _out(fastad.matmul(left, right).reshape(*(a.shape[d] for d in fa),
                                                   *(b.shape[d] for d in fb)), out)


def _einsum_parse(equation, ndims):
    """Subscripts with each '...' spelled out as letters, and the output's."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        raise RuntimeError(f"einsum(): more operands were provided than specified in the equation"
                           if len(ndims) > len(terms) else
                           "einsum(): fewer operands were provided than specified in the equation")
    free = [c for c in string.ascii_letters if c not in eq]
    ell = max([nd - len(t.replace("...", "")) for t, nd in zip(terms, ndims) if "..." in t] + [0])
    fill = "".join(free[:ell])
    terms = [t.replace("...", fill[ell - (nd - len(t.replace("...", ""))):]) for t, nd in
             zip(terms, ndims)]
    if arrow:
        out = rhs.replace("...", fill)
    else:
        counts = {c: "".join(terms).count(c) for c in "".join(terms)}
        out = fill + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in fill))
    return terms, out


def einsum(equation, *operands):
    """np.einsum's value; the gradient of each operand is another einsum (its
    own repeated letters, a diagonal, are made distinct by identity operands)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    terms, out = _einsum_parse(equation, [o.ndim for o in operands])
    for t, o in zip(terms, operands):
        if len(t) != o.ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(t)}) "
                               f"does not match the number of dimensions ({o.ndim}) for operand")
    dt = fastad.result_type(*operands) if len(operands) > 1 else operands[0].dtype
    arrays = [array_of(o).astype(dt.np_dtype, copy=False) for o in operands]
    r = np.einsum(",".join(terms) + "->" + out, *arrays)
    return make_op(np.asarray(r), "EinsumBackward", tuple(operands),
                   derivative=lambda grad, ins, result: _einsum_grads(grad, ins, terms, out), dt=dt.code)


def _einsum_grads(grad, inputs, terms, out):
    grads = []
    for i, (t, x) in enumerate(zip(terms, inputs)):
        # a letter repeated in t: renamed, tied to the first by an identity operand
        fresh = iter(c for c in string.ascii_letters if c not in "".join(terms) + out)
        own, ties = "", []
        for c in t:
            if c in own:
                n = next(fresh)
                ties.append((c, n, x.shape[len(own)]))
                own += n
            else:
                own += c
        others = [(s, y) for j, (s, y) in enumerate(zip(terms, inputs)) if j != i]
        subs = [out] + [s for s, _ in others] + [c + n for c, n, _ in ties]
        ops = [grad] + [y for _, y in others] + [fastad.eye(k, dtype=x.dtype) for _, _, k in ties]
        kept = "".join(c for c in own if c in "".join(subs))
        g = fastad.einsum(",".join(subs) + "->" + kept, *ops)
        # letters only t sums over: the gradient is constant along them
        g = g.reshape([x.shape[k] if c in kept else 1 for k, c in enumerate(own)])
        grads.append(g.expand(*x.shape) if tuple(g.shape) != tuple(x.shape) else g)
    return tuple(grads)


def cross(input, other, dim=None, *, out=None):
    """The cross product along dim (None: the first dim of size 3, PyTorch's
    deprecated default; linalg.cross uses -1)."""
    shape = np.broadcast_shapes(tuple(input.shape), tuple(other.shape))
    if dim is None:
        dim = next((d for d, s in enumerate(shape) if s == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    if shape[dim] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{input.shape[dim]} and {other.shape[dim]}")
    a, b = array_of(input), array_of(other)
    with quiet_fp():
        r = np.cross(a, b, axis=dim)

    def d(grad, ins, result):
        x, y = ins
        return (_sum_to(cross(y, grad, dim), x.shape), _sum_to(cross(grad, x, dim), y.shape))
    return _out(make_op(r, "LinalgCrossBackward0", (input, other), derivative=d), out)


def kron(input, other, *, out=None):
    nd = max(input.ndim, other.ndim)
    a = input.reshape((1,) * (nd - input.ndim) + tuple(input.shape))
    b = other.reshape((1,) * (nd - other.ndim) + tuple(other.shape))
    inter_a = [s for k in a.shape for s in (k, 1)]
    inter_b = [s for k in b.shape for s in (1, k)]
    return _out((a.reshape(inter_a) * b.reshape(inter_b)).reshape(
        [i * j for i, j in zip(a.shape, b.shape)]), out)


def trace(input):
    if input.ndim != 2:
        raise RuntimeError("trace: expected a matrix, but got tensor with dim " + str(input.ndim))
    a = array_of(input)
    if not input.is_floating_point():
        return fastad.tensor(np.trace(a), dtype=fastad.int64)
    d = lambda grad, ins, result: (grad * fastad.tensor(np.eye(*a.shape, dtype=a.dtype)),)
    return make_op(np.asarray(np.trace(a), dtype=a.dtype), "TraceBackward0", (input,), derivative=d)


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    prod = fastad.matmul(mat1, mat2)
    prod = prod if alpha == 1 else alpha * prod
    return _out(prod if beta == 0 else (input if beta == 1 else beta * input) + prod, out)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    prod = bmm(batch1, batch2)
    prod = prod if alpha == 1 else alpha * prod
    return _out(prod if beta == 0 else (input if beta == 1 else beta * input) + prod, out)


def cdist(x1, x2, p=2.0, compute_mode=None):
    if x1.ndim < 2 or x2.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X{1 if x1.ndim < 2 else 2} "
                           f"got: {min(x1.ndim, x2.ndim)}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} "
                           f"X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    return vector_norm(x1.unsqueeze(-2) - x2.unsqueeze(-3), p, -1)


# ---------------------------------------------------------------- norms
def _norm_dtype(name, x, dtype):
    """x cast to a norm's dtype= argument, refused where PyTorch refuses it."""
    if dtype is None:
        return x
    if not dtype.is_floating_point:
        raise RuntimeError(f"{name}: dtype should be floating point or complex, but got "
                           f"{scalar_name(dtype)}")
    if fastad.promote_types(x.dtype, dtype) != dtype:
        raise RuntimeError(f"{name}: the dtype of the input ({scalar_name(x.dtype)}) should be "
                           f"convertible without narrowing to the specified dtype "
                           f"({scalar_name(dtype)})")
    return x.to(dtype)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):
    _tensor_arg("linalg.vector_norm", x)
    x = _norm_dtype("linalg.vector_norm", x, dtype)
    return _out(_vector_norm(x, ord, dim, keepdim, "LinalgVectorNormBackward0"), out)


def _matrix_norm_dims(A, ord, dim):
    """PyTorch's checks of linalg.matrix_norm's arguments, in its order; the two
    dims, non-negative."""
    if isinstance(ord, str) and ord not in ("fro", "nuc"):
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    if not isinstance(ord, str) and abs(ord) not in (1, 2, math.inf):
        raise RuntimeError(f"linalg.matrix_norm: Order {ord:g} not supported.")
    if A.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 "
                           "dimensions.")
    if not A.is_floating_point():
        raise RuntimeError(f"linalg.matrix_norm: Expected a floating point or complex tensor as "
                           f"input. Got {scalar_name(A.dtype)}")
    if A.dtype == fastad.float16 and ord in ("nuc", 2, -2):
        raise RuntimeError("linalg.matrix_norm: Low precision dtypes not supported. Got Half")
    if isinstance(dim, int):
        raise TypeError("linalg_matrix_norm(): argument 'dim' must be tuple of ints, not int")
    if len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got "
                           f"{' '.join(str(d) for d in dim)}")
    r, c = (_dim(d, A.ndim) for d in dim)
    if r == c:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({r}, {c})")
    return r, c


def _extreme(t, d, largest, keepdim):
    """amax (largest) or amin of t along d, as matrix_norm takes them: the amax of
    an empty dim is a constant 0 (as PyTorch returns it), the amin an error."""
    if t.shape[d] == 0:
        if not largest:
            raise IndexError(f"amin(): Expected reduction dim {d} to have non-zero size.")
        shape = list(t.shape)
        shape[d] = 1
        return fastad.zeros(shape if keepdim else shape[:d % t.ndim] + shape[d % t.ndim + 1:],
                            dtype=t.dtype)
    return t.amax(d, keepdim) if largest else t.amin(d, keepdim)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):
    """PyTorch's linalg_matrix_norm: 'fro' a vector norm; 'nuc' and +-2 from the
    singular values of the matrices moved last; +-1 and +-inf the extreme of the
    column (row) sums of absolute values."""
    _tensor_arg("linalg.matrix_norm", A)
    r, c = _matrix_norm_dims(A, ord, dim)
    A = _norm_dtype("linalg.matrix_norm", A, dtype)
    if ord == "fro":
        return _out(vector_norm(A, 2, (r, c), keepdim), out)
    if ord in ("nuc", 2, -2):
        perm = [k for k in range(A.ndim) if k not in (r, c)] + [r, c]
        s = svdvals(A.permute(*perm))
        res = s.sum(-1, keepdim) if ord == "nuc" else _extreme(s, -1, ord > 0, keepdim)
        if keepdim:
            res = res.unsqueeze(-1).permute(*np.argsort(perm).tolist())
        return _out(res, out)
    along, across = (c, r) if math.isinf(ord) else (r, c)
    if not keepdim and along < across:
        across -= 1
    return _out(_extreme(vector_norm(A, 1, along, keepdim), across, ord > 0, keepdim), out)


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None and len(dim) not in (1, 2):
        raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got "
                           f"{list(dim)}")
    if ord is not None and dim is None and A.ndim not in (1, 2):
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be "
                           f"1D or 2D. Got {A.ndim}D.")
    if isinstance(ord, str) or (ord is not None and len(dim or range(A.ndim)) == 2):
        return matrix_norm(A, ord, dim or (0, 1), keepdim, dtype=dtype, out=out)
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype, out=out)


# ---------------------------------------------------------------- matrix functions
def _lapack(name, f, *arrays):
    try:
        with np.errstate(all="ignore"):
            return f(*arrays)
    except np.linalg.LinAlgError as e:
        raise LinAlgError(f"{name}: {e}. The input matrix is singular or not positive "
                          f"definite.") from None


def inv(A, *, out=None):
    _tensor_arg("linalg.inv", A, arg="A")
    _square("linalg.inv", A, "linalg.inv")
    r = _lapack("linalg.inv", np.linalg.inv, array_of(A))
    d = lambda grad, ins, result: (-(result.mT @ grad @ result.mT),)
    return _out(make_op(r, "LinalgInvExBackward0", (A,), derivative=d), out)


def inverse(input, *, out=None):
    return inv(input, out=out)


def det(A, *, out=None):
    _tensor_arg("linalg.det", A, arg="A")
    _square("linalg.det", A, "lu_cpu")
    r = np.asarray(np.linalg.det(array_of(A)))

    def d(grad, ins, result):
        return ((grad * result).unsqueeze(-1).unsqueeze(-1) * inv(ins[0]).mT,)
    return _out(make_op(r, "LinalgDetBackward0", (A,), derivative=d), out)


def solve(A, B, *, left=True, out=None):
    """X with A X = B (left) or X A = B."""
    _square("linalg.solve", A, "lu_cpu")
    if not left:
        return _out(solve(A.mT, B.mT).mT, out)
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    if vector:
        return _out(solve(A, B.unsqueeze(-1)).squeeze(-1), out)
    a, b = array_of(A), array_of(B)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    r = _lapack("linalg.solve", np.linalg.solve, np.broadcast_to(a, batch + a.shape[-2:]),
                np.broadcast_to(b, batch + b.shape[-2:]))

    def d(grad, ins, result):
        gB = solve(ins[0].mT, grad)
        return _sum_to(-(gB @ result.mT), ins[0].shape), _sum_to(gB, ins[1].shape)
    return _out(make_op(r, "LinalgSolveExBackward0", (A, B), derivative=d), out)


def cholesky(A, *, upper=False, out=None):
    _square("linalg.cholesky", A, "cholesky_cpu")
    L = _lapack("linalg.cholesky", np.linalg.cholesky, array_of(A))

    def d(grad, ins, result):
        # PyTorch's cholesky_backward, L lower triangular
        L = result.mT if upper else result
        gL = grad.mT if upper else grad
        gA = _tril(L.mT @ gL)
        gA = 0.5 * (gA + _tril(gA, -1).mT)
        gA = solve(L.mT, gA)
        return (solve(L.mT, gA.mT).mT,)
    r = np.swapaxes(L, -1, -2).copy() if upper else L
    return _out(make_op(r, "LinalgCholeskyExBackward0", (A,), derivative=d), out)


QR = namedtuple("QR", "Q R")
Eigh = namedtuple("Eigh", "eigenvalues eigenvectors")
SVD = namedtuple("SVD", "U S Vh")


def _qr_square_backward(gQ, gR, Q, R):
    """A's gradient for A = QR with R square (PyTorch's m >= n case):
    (gQ + Q copyltu(M)) R^-T, M = R gR^T - gQ^T Q."""
    M = R @ gR.mT - gQ.mT @ Q
    low = _tril(M, -1)
    sym = low + low.mT + M * _eye_like(M)
    return solve(R, (gQ + Q @ sym).mT).mT


def qr(A, mode="reduced", *, out=None):
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           f"'reduced' (default), 'r', or 'complete'")
    _tensor_arg("linalg.qr", A, arg="A")
    if A.ndim < 2:
        raise RuntimeError("linalg.qr: The input tensor A must have at least 2 dimensions.")
    if not A.is_floating_point():
        raise RuntimeError(f"linalg.qr: Expected a floating point or complex tensor as input. "
                           f"Got {scalar_name(A.dtype)}")
    _no_half(A, "geqrf_cpu")
    q, r = np.linalg.qr(array_of(A), mode="complete" if mode == "complete" else "reduced")
    m, n = A.shape[-2:]

    def d(grads, ins, results):
        if mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed "
                               "when mode='r'. Please use linalg.qr(A, mode='reduced') if you are "
                               "going to differentiate through linalg.qr.")
        if mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' "
                               "and nrows > ncols.")
        gQ, gR = grads
        Q, R = results
        if m >= n:
            return (_qr_square_backward(gQ, gR, Q, R),)
        # wide: A = Q [R1 | R2] with [X | Y] = A, X = Q R1 square and R2 = Q^T Y,
        # so R2's gradient reaches Y (as Q gR2) and Q (as Y gR2^T)
        Y = ins[0][..., m:]
        gX = _qr_square_backward(gQ + Y @ gR[..., m:].mT, gR[..., :m], Q, R[..., :m])
        return (fastad.cat([gX, Q @ gR[..., m:]], -1),)
    Q, R = _multi_output([q, r], "LinalgQrBackward0", (A,), d, A.dtype.code)
    return QR(fastad.zeros(0, dtype=A.dtype), R) if mode == "r" else QR(Q, R)


def eigh(A, UPLO="L", *, out=None):
    """Eigenvalues ascending and orthonormal eigenvectors of the symmetric A (its
    UPLO triangle read)."""
    _square("linalg.eigh", A, "linalg_eigh_cpu")
    w, v = np.linalg.eigh(array_of(A), UPLO=UPLO)

    def d(grads, ins, results):
        gL, gV = grads
        L, V = results
        E = L.unsqueeze(-2) - L.unsqueeze(-1)
        eye = _eye_like(V)
        inner = (V.mT @ gV) * (1 - eye) / (E + eye) + _diag_embed(gL)
        return (V @ inner @ V.mT,)
    return Eigh(*_multi_output([w, v], "LinalgEighBackward0", (A,), d, A.dtype.code))


def eigvalsh(A, UPLO="L", *, out=None):
    return _out(eigh(A, UPLO).eigenvalues, out)


def _svd_checks(A):
    if A.ndim < 2:
        raise RuntimeError("linalg.svd: The input tensor A must have at least 2 dimensions.")
    if not A.is_floating_point():
        raise RuntimeError(f"linalg.svd: Expected a floating point or complex tensor as input. "
                           f"Got {scalar_name(A.dtype)}")
    _no_half(A, "linalg_svd_cpu")


def svd(A, full_matrices=True, *, driver=None, out=None):
    _svd_checks(A)
    u, s, vh = np.linalg.svd(array_of(A), full_matrices=full_matrices)

    def d(grads, ins, results):
        gU, gS, gVh = grads
        U, S, Vh = results
        m, n = ins[0].shape[-2:]
        k = S.shape[-1]
        if full_matrices and m != n:
            raise RuntimeError("linalg.svd: The derivative of linalg.svd is not implemented when "
                               "full_matrices=True and the input is not square. Use "
                               "full_matrices=False.")
        U, Vh, gU, gVh = U[..., :k], Vh[..., :k, :], gU[..., :k], gVh[..., :k, :]
        V, gV = Vh.mT, gVh.mT
        # PyTorch's svd_backward (real case)
        skew = lambda X: X - X.mT
        S2 = S * S
        eye = _eye_like(fastad.zeros(k, k))
        E = S2.unsqueeze(-2) - S2.unsqueeze(-1) + eye
        UhgU, VhgV = U.mT @ gU, V.mT @ gV
        inner = ((skew(UhgU) / E) * S.unsqueeze(-2) + S.unsqueeze(-1) * (skew(VhgV) / E)
                 + _diag_embed(gS))
        gA = U @ inner @ Vh
        if m > k:
            gA = gA + ((gU - U @ UhgU) / S.unsqueeze(-2)) @ Vh
        if n > k:
            gA = gA + U @ ((gV - V @ VhgV) / S.unsqueeze(-2)).mT
        return (gA,)
    return SVD(*_multi_output([u, s, vh], "LinalgSvdBackward0", (A,), d, A.dtype.code))


def svdvals(A, *, driver=None, out=None):
    """The singular values, with PyTorch's derivative for them alone, U diag(gS) Vh
    (svd's full formula divides by differences of singular values: NaN where
    they repeat or vanish)."""
    _tensor_arg("linalg.svdvals", A, arg="A")
    _svd_checks(A)
    u, s, vh = np.linalg.svd(array_of(A), full_matrices=False)

    def d(grad, ins, result):
        if fastad.is_grad_enabled():    # create_graph: U and Vh depend on A too
            U, _, Vh = svd(ins[0], full_matrices=False)
        else:
            U, Vh = fastad.tensor(u), fastad.tensor(vh)
        return ((U * grad.unsqueeze(-2)) @ Vh,)
    return _out(make_op(s, "LinalgSvdBackward0", (A,), derivative=d), out)
