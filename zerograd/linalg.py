"""``zerograd.linalg``: torch.linalg's matrix functions, all differentiable.

inv, solve, det, slogdet, pinv, svdvals, eigh, eigvalsh, matrix and vector norms, plus products
(matmul, multi_dot, matrix_power) and ``diagonal``.
"""
from zerograd.ops.creation import eye
from zerograd.ops.decompositions import (det, eigh, eigvalsh, inv, matrix_norm, pinv,  # noqa: F401
                                         slogdet, solve, svdvals)
from zerograd.ops.linalg import matmul  # noqa: F401
from zerograd.ops.linalg import diagonal as _diagonal
from zerograd.ops.reduce import norm as _vector_norm

__all__ = ["inv", "solve", "det", "slogdet", "pinv", "svdvals", "eigh", "eigvalsh", "matrix_norm",
           "vector_norm",
           "norm", "matmul", "multi_dot", "matrix_power", "diagonal"]


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """The vector ``ord``-norm over ``dim`` (all elements when None)."""
    return _vector_norm(x, ord, dim, keepdim, dtype=dtype)


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """torch.linalg.norm: a vector norm for an int ``dim`` or 1-D input, a matrix norm for a
    2-tuple ``dim`` or 2-D input; with neither ``ord`` nor ``dim``, the 2-norm of all entries."""
    if dim is not None and not isinstance(dim, int):
        dim = tuple(dim)
        if len(dim) == 1:
            dim = dim[0]
    if dim is None:
        if ord is None:
            return _vector_norm(A, 2, None, keepdim, dtype=dtype)
        if A.ndim not in (1, 2):
            raise RuntimeError("linalg.norm: If dim is not specified but ord is, the input must "
                               f"be 1D or 2D. Got {A.ndim}D.")
        if A.ndim == 2:
            return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
        dim = 0
    if isinstance(dim, int):
        if isinstance(ord, str):
            raise RuntimeError(f"linalg.vector_norm: ord {ord!r} is a matrix norm; pass a "
                               "2-tuple dim to compute it")
        return _vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
    if len(dim) != 2:
        raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got "
                           f"{list(dim)}")
    return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)


def multi_dot(tensors):
    """The product of a chain of matrices (the first/last may be vectors), left to right."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    out = tensors[0]
    for t in tensors[1:]:
        out = matmul(out, t)
    return out


def matrix_power(A, n):
    """``A`` multiplied by itself ``n`` times (the inverse's powers for negative ``n``)."""
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise RuntimeError("linalg.matrix_power: A must be batches of square matrices, got "
                           f"shape {list(A.shape)}")
    if n == 0:
        return eye(A.shape[-1], dtype=A.dtype, device=A.device).expand(*A.shape)
    base = inv(A) if n < 0 else A
    result, power = None, base
    n = abs(n)
    while n:  # square-and-multiply: log2(n) products
        if n & 1:
            result = power if result is None else matmul(result, power)
        n >>= 1
        if n:
            power = matmul(power, power)
    return result


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """The diagonals of the matrices in the last two dims (torch.linalg.diagonal)."""
    return _diagonal(A, offset, dim1, dim2)

