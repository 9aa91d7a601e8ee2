"""Matrix functions: inverse, solve, determinant, pseudo-inverse, singular values, matrix norms.

All work on batches (the last two dims are the matrix) and are differentiable; the
backward formulas use matmul/solve/inv themselves, so second derivatives work too
(except through singular values, whose derivative needs the singular vectors' own).
"""
from collections import namedtuple

from zerograd import return_types
from zerograd.autograd.function import Function
from zerograd.backend import array_module
from zerograd.ops._util import broadcast_shapes, const, normalize_dim
from zerograd.ops.linalg import matmul
from zerograd.ops.reduce import norm as vector_norm

# The top-level names (torch.inverse, torch.det...); svdvals, eigvalsh and eigh are reached
# through ``zerograd.linalg``, as in torch.
__all__ = ["inv", "inverse", "solve", "det", "slogdet", "pinv", "pinverse", "matrix_norm"]

slogdet_result = namedtuple("slogdet", ["sign", "logabsdet"])


def _check_square(a, name):
    if a.ndim < 2:
        raise RuntimeError(f"linalg.{name}: The input tensor A must have at least 2 dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"linalg.{name}: A must be batches of square matrices, but they are "
                           f"{a.shape[-2]} by {a.shape[-1]} matrices")
    _check_float(a, name)


def _check_float(a, name):
    if not a.is_floating_point():
        raise RuntimeError(f"linalg.{name}: Expected a floating point or complex tensor as "
                           f"input. Got {a.dtype.name}; convert first, e.g. A.double()")


class Inv(Function):
    @staticmethod
    def forward(ctx, a):
        try:
            out = ctx.xp.linalg.inv(a)
        except ctx.xp.linalg.LinAlgError:
            raise RuntimeError("linalg.inv: The input matrix is singular (its LU factorization "
                               "has a zero on the diagonal), so it has no inverse; consider "
                               "linalg.pinv or linalg.solve") from None
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (inv_a,) = ctx.saved_tensors
        # d(A^-1) = -A^-1 dA A^-1  =>  grad_A = -A^-T G A^-T
        return -matmul(matmul(inv_a.mT, grad_output), inv_a.mT)

    @staticmethod
    def jvp(ctx, t_a):
        out = ctx.fw_output
        return -matmul(matmul(out, t_a), out)


def inv(input):
    """The inverse of a square matrix (or of each in a batch)."""
    _check_square(input, "inv")
    return Inv.apply(input)


inverse = inv  # torch.inverse


class Solve(Function):
    """X with A X = B for a matrix right-hand side B of shape (..., n, k)."""

    @staticmethod
    def forward(ctx, a, b):
        try:
            x = ctx.xp.linalg.solve(a, b)
        except ctx.xp.linalg.LinAlgError:
            raise RuntimeError("linalg.solve: The solver failed because the input matrix is "
                               "singular.") from None
        ctx.save_for_backward(a, x)
        return x

    @staticmethod
    def backward(ctx, grad_output):
        a, x = ctx.saved_tensors
        # A X = B: dX = A^-1 (dB - dA X)  =>  grad_B = A^-T G, grad_A = -grad_B X^T
        grad_b = Solve.apply(a.mT, grad_output)
        grad_a = -matmul(grad_b, x.mT) if ctx.needs_input_grad[0] else None
        return grad_a, grad_b if ctx.needs_input_grad[1] else None

    @staticmethod
    def jvp(ctx, t_a, t_b):
        a, _ = ctx.fw_inputs
        rhs = t_b if t_b is not None else None
        if t_a is not None:
            da_x = matmul(t_a, ctx.fw_output)
            rhs = -da_x if rhs is None else rhs - da_x
        return Solve.apply(a, rhs)


def solve(A, B, *, left=True):
    """X with ``A @ X = B`` (``X @ A = B`` when ``left=False``); B may be a (batch of) vectors."""
    _check_square(A, "solve")
    if A.dtype is not B.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A "
                           f"of type {A.dtype.name} and B of type {B.dtype.name} instead")
    if not left:
        return solve(A.mT, B.mT).mT
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    rhs = B.unsqueeze(-1) if vector else B
    n = A.shape[-1]
    if rhs.shape[-2] != n:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                           f"AX = B ({n}x{n} and {rhs.shape[-2]}x{rhs.shape[-1]})")
    try:
        broadcast_shapes(tuple(A.shape[:-2]), tuple(rhs.shape[:-2]))
    except ValueError:
        raise RuntimeError(f"linalg.solve: the batch dimensions of A {list(A.shape)} and B "
                           f"{list(B.shape)} cannot be broadcast together") from None
    x = Solve.apply(A, rhs)
    return x.squeeze(-1) if vector else x


def _cofactor(a):
    """The cofactor matrix (transposed adjugate) of possibly singular matrices, from the SVD."""
    xp = array_module(a)
    u, s, vh = xp.linalg.svd(a)
    n = s.shape[-1]
    # others[..., i]: the product of the singular values but the i-th
    others = xp.where(xp.eye(n, dtype=bool), 1, s[..., None, :]).prod(axis=-1)
    sign = xp.linalg.det(u) * xp.linalg.det(vh)
    return sign[..., None, None] * ((u * others[..., None, :]) @ vh)


class Det(Function):
    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.asarray(ctx.xp.linalg.det(a))  # an array, not a scalar: saved as output
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        a, out = ctx.saved_tensors
        g = grad_output.unsqueeze(-1).unsqueeze(-1)
        if (out._data == 0).any():
            # Jacobi's formula needs the adjugate; A^-1 does not exist here.
            return g * const(_cofactor(a._data))
        # d det(A) / dA = det(A) A^-T (Jacobi's formula)
        return g * out.unsqueeze(-1).unsqueeze(-1) * inv(a).mT

    @staticmethod
    def jvp(ctx, t_a):
        (a,) = ctx.fw_inputs
        if (ctx.fw_output._data == 0).any():
            return (const(_cofactor(a._data)) * t_a).sum((-2, -1))
        return ctx.fw_output * (inv(a).mT * t_a).sum((-2, -1))  # det(A) tr(A^-1 dA)


def det(input):
    """The determinant of a square matrix (or of each in a batch)."""
    _check_square(input, "det")
    return Det.apply(input)


class LogAbsDet(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.linalg.slogdet(a)[1]

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        return grad_output.unsqueeze(-1).unsqueeze(-1) * inv(a).mT

    @staticmethod
    def jvp(ctx, t_a):
        (a,) = ctx.fw_inputs
        return (inv(a).mT * t_a).sum((-2, -1))  # tr(A^-1 dA)


def slogdet(input):
    """``(sign, logabsdet)`` of the determinant, stable where det itself over/underflows."""
    _check_square(input, "slogdet")
    sign = array_module(input).linalg.slogdet(input._data)[0]
    return slogdet_result(const(sign), LogAbsDet.apply(input))


class Pinv(Function):
    @staticmethod
    def forward(ctx, a, atol, rtol):
        xp = ctx.xp
        u, s, vh = xp.linalg.svd(a, full_matrices=False)
        if rtol is None:
            rtol = 0.0 if atol else xp.finfo(a.dtype).eps * max(a.shape[-2:])
        smax = s.max(axis=-1, keepdims=True) if s.shape[-1] else s
        cutoff = xp.maximum(atol or 0.0, rtol * smax)
        with ctx._backend.errstate(divide="ignore"):
            s_inv = xp.where(s > cutoff, 1.0 / s, 0.0).astype(a.dtype)
        out = xp.swapaxes(vh, -1, -2) @ (s_inv[..., :, None] * xp.swapaxes(u, -1, -2))
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        a, p = ctx.saved_tensors
        g = grad_output
        pt = p.mT
        # Golub & Pereyra's derivative of the pseudo-inverse (valid while the rank is fixed):
        # grad_A = -P^T G P^T + (I - A P) G^T P P^T + P^T P G^T (I - P A)
        term1 = -matmul(matmul(pt, g), pt)
        left = g.mT - matmul(a, matmul(p, g.mT))        # (I - A P) G^T
        term2 = matmul(left, matmul(p, pt))
        right = g.mT - matmul(matmul(g.mT, p), a)       # G^T (I - P A)
        term3 = matmul(matmul(pt, p), right)
        return term1 + term2 + term3

    @staticmethod
    def jvp(ctx, t_a, _, __):
        a, p = ctx.fw_inputs[0], ctx.fw_output
        # dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P
        dat = t_a.mT
        term1 = -matmul(matmul(p, t_a), p)
        term2 = matmul(matmul(p, p.mT), dat - matmul(matmul(dat, a), p))
        term3 = matmul(dat - matmul(matmul(p, a), dat), matmul(p.mT, p))
        return term1 + term2 + term3


def pinv(input, rcond=None, hermitian=False, *, atol=None, rtol=None):
    """Moore-Penrose pseudo-inverse; singular values below ``max(atol, rtol * s_max)`` are
    treated as zero (``rcond`` is the older name of ``rtol``)."""
    if input.ndim < 2:
        raise RuntimeError("linalg.pinv: The input tensor A must have at least 2 dimensions.")
    _check_float(input, "pinv")
    if rcond is not None:
        rtol = rcond
    return Pinv.apply(input, atol, rtol)


def pinverse(input, rcond=1e-15):
    """``torch.pinverse``: the pseudo-inverse with relative cutoff ``rcond``."""
    return pinv(input, rtol=rcond)


class Svdvals(Function):
    @staticmethod
    def forward(ctx, a):
        u, s, vh = ctx.xp.linalg.svd(a, full_matrices=False)
        ctx.u, ctx.vh = u, vh
        return s

    @staticmethod
    def backward(ctx, grad_output):  # only with create_graph: backward_array serves the rest
        raise RuntimeError("zerograd cannot differentiate singular values twice "
                           "(create_graph=True through svdvals, nuclear or spectral norms)")

    @staticmethod
    def backward_array(ctx, grad_output):
        # ds_i = u_i^T dA v_i  =>  grad_A = U diag(g) V^T
        return (ctx.u * grad_output[..., None, :]) @ ctx.vh

    @staticmethod
    def jvp(ctx, t_a):
        # ds_i = u_i^T dA v_i
        return (matmul(const(ctx.u).mT, t_a) * const(ctx.vh)).sum(-1)


def svdvals(A):
    """Singular values in descending order, for each matrix in the batch."""
    if A.ndim < 2:
        raise RuntimeError("linalg.svdvals: The input tensor A must have at least 2 dimensions.")
    _check_float(A, "svdvals")
    return Svdvals.apply(A)


class Eigvalsh(Function):
    @staticmethod
    def forward(ctx, a, uplo):
        w, v = ctx.xp.linalg.eigh(a, UPLO=uplo)
        ctx.v = v
        return w

    @staticmethod
    def backward(ctx, grad_output):  # only with create_graph: backward_array serves the rest
        raise RuntimeError("zerograd cannot differentiate eigvalsh twice (create_graph=True "
                           "needs the eigenvectors' own derivative)")

    @staticmethod
    def backward_array(ctx, grad_output):
        # dw_i = v_i^T dA v_i  =>  grad_A = V diag(g) V^T
        v = ctx.v
        return (v * grad_output[..., None, :]) @ ctx.xp.swapaxes(v, -1, -2), None

    @staticmethod
    def jvp(ctx, t_a, _):
        v = const(ctx.v)
        return (matmul(v.mT, t_a) * v.mT).sum(-1)


def eigvalsh(A, UPLO="L"):
    """Eigenvalues, ascending, of each symmetric matrix in the batch; only the ``UPLO``
    ('L' lower or 'U' upper) triangle is read."""
    _check_square(A, "eigvalsh")
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return Eigvalsh.apply(A, UPLO)


class Eigh(Function):
    """``(eigenvalues, eigenvectors)``: one node with two outputs, saved for backward (the
    derivative is written with them, so it is differentiable again)."""

    @staticmethod
    def forward(ctx, a, uplo):
        w, v = ctx.xp.linalg.eigh(a, UPLO=uplo)
        ctx.save_for_backward(w, v)
        return w, v

    @classmethod
    def name(cls):
        return "LinalgEighBackward0"

    @staticmethod
    def _eye(w):
        """The identity matrix of the size of ``w``'s last dim, on its device and in its dtype."""
        return const(array_module(w).eye(w.shape[-1], dtype=w.dtype.np))

    @staticmethod
    def _gaps(w):
        # E_ij = w_j - w_i off the diagonal, 1 on it (where the numerators are 0 anyway)
        return w.unsqueeze(-2) - w.unsqueeze(-1) + Eigh._eye(w)

    @staticmethod
    def backward(ctx, g_w, g_v):
        w, v = ctx.saved_tensors
        # torch's rule: the skew part of V^T gV divided by the eigenvalue gaps, g_w on the
        # diagonal, rotated back: grad_A = V (skew(V^T gV) / E + diag(g_w)) V^T
        vt_gv = matmul(v.mT, g_v)
        inner = 0.5 * (vt_gv - vt_gv.mT) / Eigh._gaps(w)
        inner = inner + g_w.unsqueeze(-1) * Eigh._eye(w)
        return matmul(matmul(v, inner), v.mT), None

    @staticmethod
    def jvp(ctx, t_a, _):
        w, v = ctx.fw_output
        # dw_i = v_i^T dA v_i;  dV = V (V^T dA V / E) off the diagonal
        rotated = matmul(matmul(v.mT, t_a), v)
        eye = Eigh._eye(w)
        t_v = matmul(v, rotated * (1 - eye) / Eigh._gaps(w))
        t_w = (rotated * eye).sum(-1)
        return t_w, t_v


def eigh(A, UPLO="L"):
    """``(eigenvalues, eigenvectors)`` of each symmetric matrix: eigenvalues ascending,
    eigenvectors as the columns of an orthogonal matrix; only the ``UPLO`` triangle is read.
    Differentiable (also twice); the gradient is undefined where eigenvalues repeat."""
    _check_square(A, "eigh")
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return return_types.linalg_eigh(*Eigh.apply(A, UPLO))


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, dtype=None):
    """Matrix norms: 'fro', 'nuc', 1/-1 (max/min column sum), inf/-inf (rows), 2/-2 (singular)."""
    if A.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 "
                           "dimensions.")
    if dtype is not None:
        A = A.to(dtype)
    _check_float(A, "matrix_norm")
    inf = float("inf")
    if ord not in ("fro", "nuc", 1, -1, 2, -2, inf, -inf):
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    if isinstance(dim, int) or len(dim) != 2:
        got = " ".join(str(int(d)) for d in ((dim,) if isinstance(dim, int) else dim))
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {got}")
    rows, cols = (normalize_dim(d, A.ndim) for d in dim)
    if rows == cols:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, "
                           f"{dim[1]})")
    if ord == "fro":
        return vector_norm(A, 2, (rows, cols), keepdim)
    if ord in (1, -1, inf, -inf):
        over, then = (rows, cols) if ord in (1, -1) else (cols, rows)
        sums = A.abs().sum(over, keepdim=True)
        out = sums.amax(then, keepdim=True) if ord > 0 else sums.amin(then, keepdim=True)
    else:
        s = svdvals(A.movedim((rows, cols), (-2, -1)))
        out = s.sum(-1) if ord == "nuc" else (s.amax(-1) if ord == 2 else s.amin(-1))
        for d in sorted((rows, cols)):
            out = out.unsqueeze(d)
    return out if keepdim else out.squeeze((rows, cols))
