"""Running sums and products along one dim: cumsum and cumprod.

cumprod's derivative is exact at zeros too: no division by a zero input, and when the
backward itself is differentiated (create_graph) or used in forward mode with zeros, an
O(n^2) form built from differentiable ops (as torch does for double backward).
Part of the reduction family (``ops.reduce``, ``ops.extrema``).
"""
from zerograd._aliases import numpy_aliases
from zerograd import dtypes
from zerograd.autograd.function import Function
from zerograd.backend import array_module
from zerograd.ops._util import const, normalize_dim
from zerograd.ops.selection import where

__all__ = ["cumsum", "cumprod"]


def _accumulation_dtype(input, dtype):
    """As asked, else int64 for bool/integer input (torch's rule), else the input's."""
    if dtype is not None:
        return dtypes.as_dtype(dtype).np
    return dtypes.int64.np if input._data.dtype.kind in "biu" else None


def _reverse_cumsum(t, dim):
    return t.flip(dim).cumsum(dim).flip(dim)


class Cumsum(Function):
    jvp_linear = True

    @staticmethod
    def forward(ctx, a, dim, np_dtype):
        ctx.dim = dim
        return ctx.xp.cumsum(a, axis=dim, dtype=np_dtype)

    @staticmethod
    def backward(ctx, grad_output):
        return _reverse_cumsum(grad_output, ctx.dim)


@numpy_aliases
def cumsum(input, dim, dtype=None):
    """Running sum along ``dim``; bool and integer inputs accumulate as int64."""
    np_dtype = _accumulation_dtype(input, dtype)
    d = normalize_dim(dim, input.ndim)
    if input.ndim == 0:
        return input.to(dtypes.from_numpy_dtype(np_dtype)) if np_dtype else input.clone()
    return Cumsum.apply(input, d, np_dtype)


class Cumprod(Function):
    @staticmethod
    def forward(ctx, a, dim, np_dtype):
        out = ctx.xp.cumprod(a, axis=dim, dtype=np_dtype)
        ctx.dim = dim
        ctx.save_for_backward(a, out)
        return out

    # Two rules for inputs with zeros: ``backward`` (recorded under create_graph) uses a form
    # whose own derivative is exact; the engine's plain backward goes through
    # ``backward_array``, which takes the cheaper first-zero rule.
    _first_zero_rule = False

    @staticmethod
    def backward_array(ctx, grad_output):
        ctx._first_zero_rule = True  # for this call only (a retained graph may later be
        try:                         # differentiated with create_graph)
            return Cumprod.backward(ctx, const(grad_output))._data
        finally:
            ctx._first_zero_rule = False

    @staticmethod
    def backward(ctx, grad_output):
        # d out_j / d a_i = prod_{k <= j, k != i} a_k for j >= i
        a, out = ctx.saved_tensors
        d = ctx.dim
        x = a._data
        is_zero = x == 0
        if not is_zero.any():
            return _reverse_cumsum(grad_output * out, d) / a
        if not ctx._first_zero_rule:
            return _products_without(a, d, grad_output, transpose=True)
        # Before the first zero of a row the derivative is out_j / a_i; at the first zero
        # it is the running product with that zero replaced by 1; after it, every term
        # contains the zero and vanishes.
        zeros_so_far = is_zero.cumsum(axis=d)
        before = const(zeros_so_far == 0)
        first = const(is_zero & (zeros_so_far == 1))
        g_before = _reverse_cumsum(grad_output * out, d) / where(before, a, 1.0)
        g_first = _reverse_cumsum(grad_output * cumprod(where(first, 1.0, a), d), d)
        return where(before, g_before, where(first, g_first, 0.0))

    @staticmethod
    def jvp(ctx, tangent, *_):
        a, out = ctx.fw_inputs[0], ctx.fw_output
        d = ctx.dim
        if not (a._data == 0).any():
            return out * (tangent / a).cumsum(d)
        return _products_without(a, d, tangent, transpose=False)


def _products_without(a, d, v, transpose):
    """The Jacobian J[i, j] = prod_{k <= j, k != i} a_k (j >= i) applied to ``v``: O(n^2).

    Row i of an n x n matrix is the input with a_i replaced by 1; its running product at j
    is J[i, j]. ``transpose``: J v summed over j (backward), else over i (forward mode).
    Built from differentiable ops only, so it is exact to every order, zeros included.
    """
    x = a.movedim(d, -1)
    n = x.shape[-1]
    xp = array_module(x)
    rows = cumprod(where(const(xp.eye(n, dtype=bool)), 1.0, x.unsqueeze(-2)), -1)
    upper = const(xp.triu(xp.ones((n, n), dtype=x._data.dtype)))  # only j >= i counts
    v = v.movedim(d, -1)
    if transpose:
        out = (v.unsqueeze(-2) * rows * upper).sum(-1)
    else:
        out = (v.unsqueeze(-1) * rows * upper).sum(-2)
    return out.movedim(-1, d)


@numpy_aliases
def cumprod(input, dim, dtype=None):
    """Running product along ``dim``; bool and integer inputs accumulate as int64."""
    np_dtype = _accumulation_dtype(input, dtype)
    d = normalize_dim(dim, input.ndim)
    if input.ndim == 0:
        return input.to(dtypes.from_numpy_dtype(np_dtype)) if np_dtype else input.clone()
    return Cumprod.apply(input, d, np_dtype)
