"""Linear algebra: matmul and friends, einsum, and ``zerograd.linalg`` (inv, solve, det, pinv, norms).

Backward formulas are written with matmul itself, so second derivatives come for free.
"""
from zerograd import dtypes
from zerograd.autograd.function import Function
from zerograd.backend import xp
from zerograd.ops._util import const

__all__ = ["matmul", "mm", "bmm", "mv", "dot", "vdot", "inner", "outer", "ger", "einsum",
           "inv", "solve", "det", "pinv", "matrix_norm", "tril", "triu", "diag", "trace",
           "addmm", "baddbmm", "slogdet"]


def _check_same_dtype(a, b, name):
    if a.dtype is not b.dtype:
        raise RuntimeError(f"{name}: expected both operands to have the same dtype, but got "
                           f"{a.dtype} and {b.dtype}; convert one, e.g. b.to(a.dtype)")


class Matmul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return xp.matmul(a, b)

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        g = grad_output
        grad_a = grad_b = None
        if a.ndim == 1 and b.ndim == 1:
            return (g * b if ctx.needs_input_grad[0] else None,
                    g * a if ctx.needs_input_grad[1] else None)
        if a.ndim == 1:  # (k) @ (..., k, n) -> (..., n)
            if ctx.needs_input_grad[0]:
                grad_a = matmul(g.unsqueeze(-2), b.mT).squeeze(-2)
            if ctx.needs_input_grad[1]:
                grad_b = matmul(a.unsqueeze(-1), g.unsqueeze(-2))
            return grad_a, grad_b
        if b.ndim == 1:  # (..., m, k) @ (k) -> (..., m)
            if ctx.needs_input_grad[0]:
                grad_a = matmul(g.unsqueeze(-1), b.unsqueeze(-2))
            if ctx.needs_input_grad[1]:
                grad_b = matmul(a.mT, g.unsqueeze(-1)).squeeze(-1)
            return grad_a, grad_b
        if ctx.needs_input_grad[0]:
            grad_a = matmul(g, b.mT)
        if ctx.needs_input_grad[1]:
            grad_b = matmul(a.mT, g)
        return grad_a, grad_b


def _shape_str(t):
    return "x".join(str(s) for s in t.shape) if t.ndim else "scalar"


def matmul(input, other):
    if input.ndim == 0 or other.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{input.ndim}D and {other.ndim}D")
    _check_same_dtype(input, other, "matmul")
    k_a = input.shape[-1]
    k_b = other.shape[0] if other.ndim == 1 else other.shape[-2]
    if k_a != k_b:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({_shape_str(input)} and "
                           f"{_shape_str(other)}): the last dim of the first ({k_a}) must equal "
                           f"the {'first' if other.ndim == 1 else 'second-to-last'} dim of the "
                           f"second ({k_b})")
    if input.ndim > 2 and other.ndim > 2:
        try:
            xp.broadcast_shapes(input.shape[:-2], other.shape[:-2])
        except ValueError:
            raise RuntimeError(f"matmul: batch dimensions {list(input.shape[:-2])} and "
                               f"{list(other.shape[:-2])} cannot be broadcast") from None
    return Matmul.apply(input, other)


def mm(input, mat2):
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: expected 2D tensors, got {input.ndim}D and {mat2.ndim}D")
    return matmul(input, mat2)


def bmm(input, mat2):
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError(f"bmm: expected 3D tensors, got {input.ndim}D and {mat2.ndim}D")
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm: batch sizes differ: {input.shape[0]} and {mat2.shape[0]}")
    return matmul(input, mat2)


def mv(input, vec):
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"mv: expected a 2D matrix and a 1D vector, got {input.ndim}D and "
                           f"{vec.ndim}D")
    return matmul(input, vec)


def dot(input, other):
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D "
                           "tensors")
    if input.shape[0] != other.shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{input.shape[0]}] and "
                           f"src [{other.shape[0]}] to have the same number of elements, but got "
                           f"{input.shape[0]} and {other.shape[0]} elements respectively")
    return matmul(input, other)


vdot = dot


def inner(input, other):
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    return matmul(input, other.mT if other.ndim > 1 else other) if other.ndim <= 2 else \
        einsum("...i,...ji->...j", input, other)


def outer(input, vec2):
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


ger = outer


def addmm(input, mat1, mat2, beta=1, alpha=1):
    return beta * input + alpha * mm(mat1, mat2)


def baddbmm(input, batch1, batch2, beta=1, alpha=1):
    return beta * input + alpha * bmm(batch1, batch2)


class Einsum(Function):
    @staticmethod
    def forward(ctx, *arrays, equation):
        ctx.equation = equation
        ctx.save_for_backward(*arrays)
        return xp.einsum(equation, *arrays, optimize=len(arrays) > 2)

    @staticmethod
    def backward(ctx, grad_output):
        operands = ctx.saved_tensors
        inputs, output = ctx.equation.split("->")
        specs = inputs.split(",")
        grads = []
        for i, need in enumerate(ctx.needs_input_grad):
            if not need:
                grads.append(None)
                continue
            # d/d(operand i): contract the gradient with every other operand, producing the
            # subscripts of operand i; letters it repeats (a diagonal) are handled by einsum.
            others = [s for j, s in enumerate(specs) if j != i]
            target = specs[i]
            if len(set(target)) != len(target):
                raise RuntimeError("einsum backward does not support repeated subscripts within "
                                   f"one operand ({target!r})")
            missing = [c for c in target if c not in output and all(c not in o for o in others)]
            eq = ",".join([output] + others) + "->" + "".join(c for c in target if c not in missing)
            g = einsum(eq, grad_output, *[operands[j] for j in range(len(specs)) if j != i])
            if missing:  # summed-out letters found only in this operand: broadcast back
                kept = [k for k, c in enumerate(target) if c not in missing]
                g = g.reshape([operands[i].shape[k] if k in kept else 1
                               for k in range(len(target))]).expand(*operands[i].shape)
            grads.append(g)
        return tuple(grads)


def _normalize_equation(equation, operands):
    eq = equation.replace(" ", "")
    if "->" not in eq:  # implicit output: letters seen exactly once, alphabetically
        letters = eq.replace(",", "").replace(".", "")
        eq += "->" + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    if "." in eq:
        inputs, out = eq.split("->")
        specs = inputs.split(",")
        max_ell = max((op.ndim - (len(s) - 3) for s, op in zip(specs, operands) if "..." in s),
                      default=0)
        free = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in eq][:max_ell]
        new_specs = []
        for s, op in zip(specs, operands):
            if "..." in s:
                n = op.ndim - (len(s) - 3)
                s = s.replace("...", "".join(free[max_ell - n:]))
            new_specs.append(s)
        out = out.replace("...", "".join(free))
        eq = ",".join(new_specs) + "->" + out
    return eq


def einsum(equation, *operands):
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    eq = _normalize_equation(equation, operands)
    specs = eq.split("->")[0].split(",")
    if len(specs) != len(operands):
        raise RuntimeError(f"einsum(): {len(specs)} operands in the equation but "
                           f"{len(operands)} given")
    for s, op in zip(specs, operands):
        if len(s) != op.ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(s)}) "
                               f"does not match the number of dimensions ({op.ndim}) for operand "
                               f"{specs.index(s)}")
    common = dtypes.result_type(*operands)
    operands = [op if op.dtype is common else op.to(common) for op in operands]
    return Einsum.apply(*operands, equation=eq)


# -- zerograd.linalg -----------------------------------------------------------------------------
def _check_square(a, name):
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"linalg.{name}: A must be batches of square matrices, but they are "
                           f"{a.shape[-2] if a.ndim >= 2 else '?'} by "
                           f"{a.shape[-1] if a.ndim else '?'} matrices")
    if not a.is_floating_point():
        raise RuntimeError(f"linalg.{name}: Expected a floating point tensor, got {a.dtype}")


class Inv(Function):
    @staticmethod
    def forward(ctx, a):
        try:
            out = xp.linalg.inv(a)
        except xp.linalg.LinAlgError:
            raise RuntimeError("linalg.inv: The diagonal element of the LU factorization is "
                               "zero: the input matrix is singular (not invertible).") from None
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (inv_a,) = ctx.saved_tensors
        # d(A^-1) = -A^-1 dA A^-1  =>  grad_A = -A^-T G A^-T
        return -matmul(matmul(inv_a.mT, grad_output), inv_a.mT)


def inv(input):
    _check_square(input, "inv")
    return Inv.apply(input)


def solve(A, B, left=True):
    """x with A x = B, differentiable through ``inv`` (small matrices, as in textbooks)."""
    _check_square(A, "solve")
    if B.ndim == A.ndim - 1:
        return matmul(inv(A), B.unsqueeze(-1)).squeeze(-1)
    if not left:
        return matmul(B, inv(A))
    return matmul(inv(A), B)


class Det(Function):
    @staticmethod
    def forward(ctx, a):
        out = xp.linalg.det(a)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        a, out = ctx.saved_tensors
        # d det(A) / dA = det(A) A^-T (Jacobi's formula)
        return (grad_output * out).unsqueeze(-1).unsqueeze(-1) * inv(a).mT


def det(input):
    _check_square(input, "det")
    return Det.apply(input)


def slogdet(input):
    _check_square(input, "slogdet")
    sign, _ = xp.linalg.slogdet(input._data)
    return const(sign), det(input).abs().log()


def pinv(input, rcond=None, hermitian=False, atol=None, rtol=None):
    """Moore-Penrose pseudo-inverse, differentiable for full-rank inputs via its normal-equation
    formula: (A^T A)^-1 A^T for tall A, A^T (A A^T)^-1 for wide A."""
    if input.ndim < 2:
        raise RuntimeError("linalg.pinv: The input tensor A must have at least 2 dimensions.")
    if not input._requires_grad:
        return const(xp.linalg.pinv(input._data).astype(input._data.dtype))
    at = input.mT
    if input.shape[-2] >= input.shape[-1]:
        return matmul(inv(matmul(at, input)), at)
    return matmul(at, inv(matmul(input, at)))


def matrix_norm(input, ord="fro", dim=(-2, -1), keepdim=False):
    if ord == "fro":
        from zerograd.ops.reduce import norm
        return norm(input, 2, dim, keepdim)
    if ord == "nuc":
        raise RuntimeError("linalg.matrix_norm: ord='nuc' needs an SVD with gradient, which "
                           "zerograd does not provide; use ord='fro'")
    raise RuntimeError(f"linalg.matrix_norm: unsupported ord {ord!r}; use 'fro'")


class _TriMask(Function):
    @staticmethod
    def forward(ctx, a, diagonal, upper):
        ctx.diagonal, ctx.upper = diagonal, upper
        return xp.triu(a, diagonal) if upper else xp.tril(a, diagonal)

    @staticmethod
    def backward(ctx, grad_output):
        return _TriMask.apply(grad_output, ctx.diagonal, ctx.upper)


def tril(input, diagonal=0):
    return _TriMask.apply(input, diagonal, False)


def triu(input, diagonal=0):
    return _TriMask.apply(input, diagonal, True)


def diag(input, diagonal=0):
    if input.ndim == 1:
        n = input.shape[0] + abs(diagonal)
        eye = const(xp.eye(n, k=diagonal, dtype=input._data.dtype))
        rows = xp.arange(input.shape[0]) + max(-diagonal, 0)
        cols = xp.arange(input.shape[0]) + max(diagonal, 0)
        from zerograd.ops.indexing import index_put
        zeros = eye * 0
        return index_put(zeros, (const(rows), const(cols)), input)
    if input.ndim == 2:
        n = min(input.shape[0] - max(-diagonal, 0), input.shape[1] - max(diagonal, 0))
        rows = xp.arange(max(n, 0)) + max(-diagonal, 0)
        cols = xp.arange(max(n, 0)) + max(diagonal, 0)
        return input[const(rows), const(cols)]
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")


def trace(input):
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    return diag(input).sum()

