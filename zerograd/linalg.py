"""``zerograd.linalg``: inverse, solve, determinant, pseudo-inverse and norms (differentiable)."""
import math

from zerograd.ops.linalg import det, inv, matrix_norm, pinv, slogdet, solve  # noqa: F401
from zerograd.ops.reduce import norm as _vector_norm


def vector_norm(x, ord=2, dim=None, keepdim=False, dtype=None):
    return _vector_norm(x, ord, dim, keepdim, dtype=dtype)


def norm(A, ord=None, dim=None, keepdim=False, dtype=None):
    """Vector norm for 1-D input or an int ``dim``; Frobenius for matrices by default."""
    if ord is None or (dim is not None and isinstance(dim, int)) or A.ndim == 1:
        return _vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
    if ord in ("fro", "nuc"):
        return matrix_norm(A, ord, dim if dim is not None else (-2, -1), keepdim)
    if ord in (1, -1, math.inf, -math.inf):
        rows, cols = (dim if dim is not None else (-2, -1))
        reduce_over, then = (rows, cols) if ord in (1, -1) else (cols, rows)
        sums = A.abs().sum(reduce_over, keepdim=True)
        out = sums.amax(then, keepdim=True) if ord > 0 else sums.amin(then, keepdim=True)
        return out if keepdim else out.squeeze((rows, cols))
    raise RuntimeError(f"linalg.norm: unsupported ord {ord!r} for matrices")
