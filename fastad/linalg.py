"""fastad.linalg: PyTorch's torch.linalg (the functions live in
fastad/_functions/linalg.py)."""
from fastad._functions.linalg import (  # noqa: F401
    LinAlgError, cholesky, det, eigh, eigvalsh, inv, matrix_norm, norm, qr, solve, svd, svdvals,
    vector_norm)
from fastad._functions.linalg import cross as _cross
from fastad._tensor import matmul  # noqa: F401


def cross(input, other, *, dim=-1, out=None):
    return _cross(input, other, dim, out=out)
