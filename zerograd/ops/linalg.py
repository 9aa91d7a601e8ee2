"""Products of tensors (matmul and friends) and triangular/diagonal parts of matrices.

Backward formulas are written with matmul itself, so second derivatives come for free.
``einsum`` lives in ``ops.einsum`` and the matrix functions (inv, solve, det, pinv,
norms) in ``ops.decompositions``.
"""
from zerograd.autograd.function import Function
from zerograd.backend import array_module
from zerograd.ops._util import broadcast_shapes, normalize_dim
from zerograd.ops.indexing import Index, IndexAddInto
from zerograd.ops.shape import movedim

__all__ = ["matmul", "mm", "bmm", "mv", "dot", "vdot", "inner", "outer", "ger", "tril", "triu",
           "diag", "diagonal", "diag_embed", "trace", "addmm", "baddbmm"]


def _check_same_dtype(a, b, name):
    if a.dtype is not b.dtype:
        raise RuntimeError(f"{name}: expected both operands to have the same dtype, but got "
                           f"{a.dtype.name} != {b.dtype.name}; convert one, e.g. "
                           "b.to(a.dtype)")


class Matmul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.xp.matmul(a, b)

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        g = grad_output
        need_a, need_b = ctx.needs_input_grad
        if a.ndim == 1 and b.ndim == 1:  # dot product: g is a scalar
            return g * b if need_a else None, g * a if need_b else None
        if a.ndim == 1:  # (k) @ (..., k, n) -> (..., n); the engine sums batch dims away
            return (matmul(g.unsqueeze(-2), b.mT).squeeze(-2) if need_a else None,
                    matmul(a.unsqueeze(-1), g.unsqueeze(-2)) if need_b else None)
        if b.ndim == 1:  # (..., m, k) @ (k) -> (..., m)
            return (matmul(g.unsqueeze(-1), b.unsqueeze(-2)) if need_a else None,
                    matmul(a.mT, g.unsqueeze(-1)).squeeze(-1) if need_b else None)
        return matmul(g, b.mT) if need_a else None, matmul(a.mT, g) if need_b else None

    @staticmethod
    def jvp(ctx, t_a, t_b):
        a, b = ctx.fw_inputs
        parts = [matmul(t_a, b) if t_a is not None else None,
                 matmul(a, t_b) if t_b is not None else None]
        return parts[0] if parts[1] is None else (parts[1] if parts[0] is None else
                                                  parts[0] + parts[1])


def _shape_str(t):
    return "x".join(str(s) for s in t.shape) if t.ndim else "scalar"


def matmul(input, other):
    """Matrix product with NumPy/torch rules: 1-D operands are vectors, batch dims broadcast."""
    if input.ndim == 0 or other.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{input.ndim}D and {other.ndim}D")
    _check_same_dtype(input, other, "matmul")
    k_a = input.shape[-1]
    k_b = other.shape[0] if other.ndim == 1 else other.shape[-2]
    if k_a != k_b:
        if input.ndim == 1 and other.ndim == 1:
            raise RuntimeError(f"inconsistent tensor size, expected tensor [{k_a}] and src "
                               f"[{k_b}] to have the same number of elements, but got {k_a} and "
                               f"{k_b} elements respectively")
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({_shape_str(input)} and "
                           f"{_shape_str(other)}): the last dim of the first ({k_a}) must equal "
                           f"the {'first' if other.ndim == 1 else 'second-to-last'} dim of the "
                           f"second ({k_b})")
    if input.ndim > 2 and other.ndim > 2:
        try:
            broadcast_shapes(input.shape[:-2], other.shape[:-2])
        except ValueError:
            raise RuntimeError(f"matmul: the batch dimensions {list(input.shape[:-2])} and "
                               f"{list(other.shape[:-2])} of shapes {list(input.shape)} and "
                               f"{list(other.shape)} cannot be broadcast together") from None
    return Matmul.apply(input, other)


def mm(input, mat2):
    """Product of two matrices (no broadcasting)."""
    if input.ndim != 2:
        raise RuntimeError(f"self must be a matrix (got a {input.ndim}-D tensor)")
    if mat2.ndim != 2:
        raise RuntimeError(f"mat2 must be a matrix (got a {mat2.ndim}-D tensor)")
    return matmul(input, mat2)


def bmm(input, mat2):
    """Batched matrix product of (b, n, m) and (b, m, p) tensors (no broadcasting)."""
    if input.ndim != 3:
        raise RuntimeError(f"batch1 must be a 3D tensor (got {input.ndim}D)")
    if mat2.ndim != 3:
        raise RuntimeError(f"batch2 must be a 3D tensor (got {mat2.ndim}D)")
    if mat2.shape[:2] != (input.shape[0], input.shape[2]):
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{input.shape[0]}, {input.shape[2]}] but got: "
                           f"[{mat2.shape[0]}, {mat2.shape[1]}].")
    return matmul(input, mat2)


def mv(input, vec):
    """Matrix-vector product."""
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got input of {input.ndim}D and "
                           f"vec of {vec.ndim}D")
    if input.shape[1] != vec.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({input.shape[0]}), mat "
                           f"({_shape_str(input)}), vec ({vec.shape[0]})")
    return matmul(input, vec)


def dot(input, other):
    """Inner product of two 1-D tensors of the same dtype."""
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D "
                           "tensors")
    if input.dtype is not other.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                           f"{input.dtype.name} and {other.dtype.name}")
    return matmul(input, other)


vdot = dot


def inner(input, other):
    """Sum over the last dims: result shape is ``input.shape[:-1] + other.shape[:-1]``."""
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but "
                           f"got shapes {list(input.shape)} and {list(other.shape)}")
    k = input.shape[-1]
    out = matmul(input.reshape(-1, k), other.reshape(-1, k).mT)
    return out.reshape(tuple(input.shape[:-1]) + tuple(other.shape[:-1]))


def outer(input, vec2):
    """``out[i, j] = input[i] * vec2[j]`` for 1-D tensors."""
    for name, v in (("self", input), ("vec2", vec2)):
        if v.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {v.ndim}-D")
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


ger = outer


def _scaled(t, factor):
    return t if factor == 1 else t * factor


def addmm(input, mat1, mat2, beta=1, alpha=1):
    """``beta * input + alpha * (mat1 @ mat2)``."""
    product = _scaled(mm(mat1, mat2), alpha)
    return product if beta == 0 else _scaled(input, beta) + product


def baddbmm(input, batch1, batch2, beta=1, alpha=1):
    """``beta * input + alpha * bmm(batch1, batch2)``."""
    product = _scaled(bmm(batch1, batch2), alpha)
    return product if beta == 0 else _scaled(input, beta) + product


# -- triangular and diagonal parts ------------------------------------------------------------
class _TriMask(Function):
    jvp_linear = True

    @staticmethod
    def forward(ctx, a, diagonal, upper):
        ctx.diagonal, ctx.upper = diagonal, upper
        return ctx.xp.triu(a, diagonal) if upper else ctx.xp.tril(a, diagonal)

    @staticmethod
    def backward(ctx, grad_output):
        return _TriMask.apply(grad_output, ctx.diagonal, ctx.upper)


def tril(input, diagonal=0):
    """Lower triangle of the last two dims (entries with ``col - row <= diagonal``)."""
    if input.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    return _TriMask.apply(input, int(diagonal), False)


def triu(input, diagonal=0):
    """Upper triangle of the last two dims (entries with ``col - row >= diagonal``)."""
    if input.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    return _TriMask.apply(input, int(diagonal), True)


def _diag_positions(xp, rows, cols, offset):
    """Row and column indices (arrays of ``xp``) of the ``offset``-th diagonal."""
    n = max(min(rows - max(-offset, 0), cols - max(offset, 0)), 0)
    return xp.arange(n) + max(-offset, 0), xp.arange(n) + max(offset, 0)


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal of the (dim1, dim2) planes, as the last dim of the result."""
    d1, d2 = normalize_dim(dim1, input.ndim), normalize_dim(dim2, input.ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    planes = movedim(input, (d1, d2), (-2, -1))
    rows, cols = _diag_positions(array_module(input), planes.shape[-2], planes.shape[-1], offset)
    return Index.apply(planes, (Ellipsis, rows, cols))


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Matrices with the last dim of ``input`` on their ``offset``-th diagonal, in the new
    dims ``dim1`` (rows) and ``dim2`` (columns) of a result with one dim more; the adjoint
    of ``diagonal``."""
    ndim = input.ndim + 1
    d1, d2 = normalize_dim(dim1, ndim), normalize_dim(dim2, ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    n = input.shape[-1] + abs(offset)
    rows, cols = _diag_positions(array_module(input), n, n, offset)
    planes = IndexAddInto.apply(input, tuple(input.shape[:-1]) + (n, n), (Ellipsis, rows, cols))
    return movedim(planes, (-2, -1), (d1, d2))


def diag(input, diagonal=0):
    """A 1-D input becomes a square matrix with it on the ``diagonal``-th diagonal; a 2-D
    input gives that diagonal as a vector."""
    xp = array_module(input)
    if input.ndim == 1:
        n = input.shape[0] + abs(diagonal)
        rows, cols = _diag_positions(xp, n, n, diagonal)
        return IndexAddInto.apply(input, (n, n), (rows, cols))
    if input.ndim == 2:
        rows, cols = _diag_positions(xp, input.shape[0], input.shape[1], diagonal)
        return Index.apply(input, (rows, cols))
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")


def trace(input):
    """Sum of the main diagonal of a matrix."""
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    return diag(input).sum()
