"""Reductions over dims: sum, mean, prod, var/std, vector norms, cumulative ops, logsumexp.

``dim`` is an int, a tuple of ints or None (all dims; an empty tuple also means all);
``keepdim`` keeps reduced dims as size 1. Backward re-inserts the reduced dims and
broadcasts the gradient over them. Integer and bool sums and products are int64, as
in torch. Ops that save their output for backward save exactly the array they return,
so a derivative taken with ``create_graph=True`` stays connected to the graph.

max/min/amax/argmax/all/any live in ``extrema`` and are re-exported here.
"""
import math

from zerograd import dtypes
from zerograd.autograd.function import Function
from zerograd.backend import xp, errstate
from zerograd.ops._util import const, float_operand, normalize_dim, normalize_dims, shape_arg
from zerograd.ops.elementwise import _named, where
from zerograd.ops.extrema import *  # noqa: F401,F403  (re-exported: one reduction family)
from zerograd.ops.extrema import __all__ as _extrema_all, _expand_back, _keep

__all__ = _extrema_all + [
    "sum", "mean", "prod", "var", "std", "var_mean", "std_mean", "norm", "cumsum", "cumprod",
    "logsumexp", "sum_to_size", "count_nonzero",
]


def _count(shape, dims):
    n = 1
    for d in dims:
        n *= shape[d]
    return n


def _int_to_int64(input, dtype):
    """The accumulation dtype: as asked, else int64 for bool/integer input (torch's rule)."""
    if dtype is not None:
        return dtypes.as_dtype(dtype).np
    return xp.int64 if input._data.dtype.kind in "biu" else None


class Sum(Function):
    @staticmethod
    def forward(ctx, a, dims, keepdim, np_dtype):
        ctx.in_shape, ctx.dims, ctx.keepdim = a.shape, dims, keepdim
        return a.sum(axis=dims, keepdims=keepdim, dtype=np_dtype)

    @staticmethod
    def backward(ctx, grad_output):
        return _expand_back(grad_output, ctx.in_shape, ctx.dims, ctx.keepdim)


SumDim = _named(Sum, "SumBackward1")


def sum(input, dim=None, keepdim=False, dtype=None):
    """Sum over ``dim`` (all dims by default); bool and integer inputs sum as int64."""
    dims = normalize_dims(dim, input.ndim)
    return (Sum if dim is None else SumDim).apply(input, dims, keepdim,
                                                  _int_to_int64(input, dtype))


class Mean(Function):
    @staticmethod
    def forward(ctx, a, dims, keepdim):
        ctx.in_shape, ctx.dims, ctx.keepdim = a.shape, dims, keepdim
        ctx.count = _count(a.shape, dims)
        if ctx.count == 0:  # torch: the mean of nothing is nan
            with errstate(invalid="ignore"):
                return a.sum(axis=dims, keepdims=keepdim) / a.dtype.type(0)
        return a.mean(axis=dims, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad_output):
        g = _expand_back(grad_output, ctx.in_shape, ctx.dims, ctx.keepdim)
        return g / ctx.count if ctx.count else g


MeanDim = _named(Mean, "MeanBackward1")


def mean(input, dim=None, keepdim=False, dtype=None):
    """Arithmetic mean over ``dim``; the input (or ``dtype``) must be floating point."""
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either "
                           f"a floating point or complex dtype. Got: {input.dtype}. Convert "
                           "first, e.g. x.float().mean()")
    dims = normalize_dims(dim, input.ndim)
    return (Mean if dim is None else MeanDim).apply(input, dims, keepdim)


class Prod(Function):
    @staticmethod
    def forward(ctx, a, dims, keepdim, np_dtype):
        ctx.dims, ctx.keepdim = dims, keepdim
        ctx.save_for_backward(a)
        return a.prod(axis=dims, keepdims=keepdim, dtype=np_dtype)

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        dims = ctx.dims
        g = _expand_back(grad_output, a.shape, dims, ctx.keepdim)
        # d prod / d a_i = prod of the others, found without dividing by zero: with no zero
        # in the group it is prod / a_i; with one zero only that element gets the product
        # of the rest; with two or more zeros every one is 0.
        x = a._data
        is_zero = x == 0
        zeros = is_zero.sum(axis=dims, keepdims=True)
        if not zeros.any():
            return g * (prod(a, dims, keepdim=True) / a)
        nonzero = where(const(is_zero), 1.0, a)
        prod_nonzero = prod(nonzero, dims, keepdim=True)
        others = where(const(zeros == 0), prod_nonzero / nonzero, 0.0)
        others = where(const(is_zero & (zeros == 1)), prod_nonzero, others)
        return g * others


ProdDim = _named(Prod, "ProdBackward1")


def prod(input, dim=None, keepdim=False, dtype=None):
    """Product over ``dim``; bool and integer inputs multiply as int64."""
    dims = normalize_dims(dim, input.ndim)
    return (Prod if dim is None else ProdDim).apply(input, dims, keepdim,
                                                    _int_to_int64(input, dtype))


# -- variance and standard deviation ------------------------------------------------------------
class Var(Function):
    """Variance with ``correction`` (1: unbiased, Bessel's; 0: population)."""

    @staticmethod
    def forward(ctx, a, dims, keepdim, correction, full):
        n = _count(a.shape, dims)
        ctx.dims, ctx.keepdim, ctx.correction, ctx.full = dims, keepdim, correction, full
        ctx.save_for_backward(a)
        with errstate(invalid="ignore", divide="ignore"):
            centered = a - a.sum(axis=dims, keepdims=True) / a.dtype.type(n)
            sq = (centered * centered).sum(axis=dims, keepdims=keepdim)
            return sq / a.dtype.type(n - correction if n > correction else 0)

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        return _var_backward(ctx, _expand_back(grad_output, a.shape, ctx.dims, ctx.keepdim), a)


def _var_backward(ctx, g, a):
    """d var / d a = 2 (a - mean) / (n - correction), with torch's rule for dof <= 0."""
    dof = _count(a.shape, ctx.dims) - ctx.correction
    centered = a - mean(a, ctx.dims, keepdim=True)
    if dof <= 0 and ctx.full:
        # 2 / 0 is inf: inf * 0 at the mean gives nan, elsewhere inf (as torch)
        x = centered._data
        return g * const(xp.where(x == 0, xp.nan, xp.inf).astype(x.dtype))
    scale = 2.0 / dof if dof != 0 else math.inf
    with errstate(invalid="ignore"):
        return g * centered * scale


class Std(Var):
    @staticmethod
    def forward(ctx, a, dims, keepdim, correction, full):
        out = xp.sqrt(Var.forward(ctx, a, dims, keepdim, correction, full))
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        a, out = ctx.saved_tensors
        # d std = d var / (2 std); where std == 0 torch takes the gradient as 0
        g = where(out == 0, 0.0, grad_output / (2 * out))
        return _var_backward(ctx, _expand_back(g, a.shape, ctx.dims, ctx.keepdim), a)


def _var_args(input, dim, unbiased, correction, op):
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"std and var only support floating point and complex dtypes (got "
                           f"{input.dtype}); convert first, e.g. x.float().{op}()")
    if unbiased is not None and correction is not None:
        raise RuntimeError(f"{op}: can't pass both unbiased and correction; use correction=")
    if correction is None:
        correction = 0 if unbiased is False else 1
    return normalize_dims(dim, input.ndim), correction, dim is None


def var(input, dim=None, unbiased=None, keepdim=False, correction=None):
    """Variance over ``dim``; unbiased (correction=1) by default."""
    if isinstance(dim, bool):  # the old overload var(input, unbiased)
        dim, unbiased = None, dim
    dims, correction, full = _var_args(input, dim, unbiased, correction, "var")
    return Var.apply(input, dims, keepdim, correction, full)


def std(input, dim=None, unbiased=None, keepdim=False, correction=None):
    """Standard deviation over ``dim``; unbiased (correction=1) by default."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    dims, correction, full = _var_args(input, dim, unbiased, correction, "std")
    return Std.apply(input, dims, keepdim, correction, full)


def var_mean(input, dim=None, unbiased=None, keepdim=False, correction=None):
    return var(input, dim, unbiased, keepdim, correction), mean(input, dim, keepdim)


def std_mean(input, dim=None, unbiased=None, keepdim=False, correction=None):
    return std(input, dim, unbiased, keepdim, correction), mean(input, dim, keepdim)


# -- vector norms ------------------------------------------------------------------------------
class VectorNorm(Function):
    """(sum |a|^p)^(1/p) over dims, with the limits p = 0, inf, -inf; torch's subgradients."""

    @staticmethod
    def forward(ctx, a, p, dims, keepdim):
        ctx.p, ctx.dims, ctx.keepdim = p, dims, keepdim
        ab = xp.abs(a)
        if p == 2:
            out = xp.sqrt((a * a).sum(axis=dims, keepdims=keepdim))
        elif p == 1:
            out = ab.sum(axis=dims, keepdims=keepdim)
        elif p == math.inf:
            out = ab.max(axis=dims, keepdims=keepdim)
        elif p == -math.inf:
            out = ab.min(axis=dims, keepdims=keepdim)
        elif p == 0:
            out = (a != 0).sum(axis=dims, keepdims=keepdim).astype(a.dtype)
        else:
            with errstate(divide="ignore", over="ignore"):
                out = (ab ** p).sum(axis=dims, keepdims=keepdim) ** (1.0 / p)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        a, out = ctx.saved_tensors
        p = ctx.p
        if p == 0:
            return None
        g = _expand_back(grad_output, a.shape, ctx.dims, ctx.keepdim)
        if p == 1:
            return g * a.sign()
        norm_k = _keep(out, a.shape, ctx.dims, ctx.keepdim)
        if p == 2:
            return g * where(norm_k == 0, 0.0, a / norm_k)
        if p in (math.inf, -math.inf):
            # ties at the max |a| share the gradient evenly (nan entries count as ties)
            ab = xp.abs(a._data)
            mask = (ab == norm_k._data) | xp.isnan(ab)
            share = mask / mask.sum(axis=ctx.dims, keepdims=True)
            return g * a.sign() * const(share.astype(ab.dtype))
        if p < 1:
            scaled = where(a == 0, 0.0, a.sign() * a.abs() ** (p - 1))
            return scaled * g * norm_k ** (1 - p)
        scaled = a.sign() * a.abs() ** (p - 1) if p < 2 else a * a.abs() ** (p - 2)
        return scaled * where(norm_k == 0, 0.0, g / norm_k ** (p - 1))

    @classmethod
    def name(cls):
        return "LinalgVectorNormBackward0"


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """Vector p-norm over ``dim`` (all elements when None): p in 2, 'fro', 1, inf, -inf, 0, any real."""
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {dtypes.scalar_type_name(input.dtype)}")
    if p == "nuc":
        from zerograd.ops.linalg import matrix_norm
        return matrix_norm(input, "nuc", dim if dim is not None else (-2, -1), keepdim)
    if p in ("fro", None):
        p = 2
    if isinstance(p, str):
        raise RuntimeError(f"norm: unsupported p={p!r}; use a number, 'fro' or 'nuc'")
    dims = normalize_dims(dim, input.ndim)
    if abs(p) == math.inf and _count(input.shape, dims) == 0 and input.ndim:
        raise RuntimeError(f"linalg.vector_norm cannot compute the {p} norm on an empty tensor "
                           "because the operation does not have an identity")
    return VectorNorm.apply(input, float(p), dims, keepdim)


# -- cumulative ops ------------------------------------------------------------------------------
def _reverse_cumsum(t, dim):
    return t.flip(dim).cumsum(dim).flip(dim)


class Cumsum(Function):
    @staticmethod
    def forward(ctx, a, dim, np_dtype):
        ctx.dim = dim
        return xp.cumsum(a, axis=dim, dtype=np_dtype)

    @staticmethod
    def backward(ctx, grad_output):
        return _reverse_cumsum(grad_output, ctx.dim)


def cumsum(input, dim, dtype=None):
    """Running sum along ``dim``; bool and integer inputs accumulate as int64."""
    np_dtype = _int_to_int64(input, dtype)
    d = normalize_dim(dim, input.ndim)
    if input.ndim == 0:
        return input.to(dtypes.from_numpy_dtype(xp.dtype(np_dtype))) if np_dtype else \
            input.clone()
    return Cumsum.apply(input, d, np_dtype)


class Cumprod(Function):
    @staticmethod
    def forward(ctx, a, dim, np_dtype):
        out = xp.cumprod(a, axis=dim, dtype=np_dtype)
        ctx.dim = dim
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        # d out_j / d a_i = prod_{k <= j, k != i} a_k for j >= i. Before the first zero of
        # a row that is out_j / a_i; at the first zero it is the running product with that
        # zero replaced by 1; after it, every term contains the zero and vanishes.
        a, out = ctx.saved_tensors
        d = ctx.dim
        x = a._data
        is_zero = x == 0
        if not is_zero.any():
            return _reverse_cumsum(grad_output * out, d) / a
        zeros_so_far = xp.cumsum(is_zero, axis=d)
        before = const(zeros_so_far == 0)
        first = is_zero & (zeros_so_far == 1)
        g_before = _reverse_cumsum(grad_output * out, d) / where(before, a, 1.0)
        g_first = _reverse_cumsum(grad_output * cumprod(where(const(first), 1.0, a), d), d)
        return where(before, g_before, where(const(first), g_first, 0.0))


def cumprod(input, dim, dtype=None):
    """Running product along ``dim``; bool and integer inputs accumulate as int64."""
    np_dtype = _int_to_int64(input, dtype)
    d = normalize_dim(dim, input.ndim)
    if input.ndim == 0:
        return input.to(dtypes.from_numpy_dtype(xp.dtype(np_dtype))) if np_dtype else \
            input.clone()
    return Cumprod.apply(input, d, np_dtype)


# -- logsumexp -----------------------------------------------------------------------------------
class Logsumexp(Function):
    @staticmethod
    def forward(ctx, a, dims, keepdim):
        # shift by the max so exp cannot overflow; rows that are all -inf give -inf, not nan
        m = a.max(axis=dims, keepdims=True) if a.size else xp.zeros((1,) * a.ndim, a.dtype)
        m = xp.where(xp.isfinite(m), m, 0).astype(a.dtype, copy=False)
        with errstate(divide="ignore", over="ignore", invalid="ignore"):
            s = xp.exp(a - m).sum(axis=dims, keepdims=True)
            out = xp.log(s) + m
        ctx.dims, ctx.keepdim = dims, keepdim
        out = out if keepdim else out.reshape([n for i, n in enumerate(a.shape) if i not in dims])
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        a, out = ctx.saved_tensors
        g = _expand_back(grad_output, a.shape, ctx.dims, ctx.keepdim)
        return g * (a - _keep(out, a.shape, ctx.dims, ctx.keepdim)).exp()


def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(input))) over ``dim``, computed without overflow."""
    input = float_operand(input)
    return Logsumexp.apply(input, normalize_dims(dim, input.ndim), keepdim)


# -- helpers without gradient --------------------------------------------------------------------
class SumToSize(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        lead = a.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape)
                                          if s == 1 and a.shape[lead + i] != 1)
        out = a.sum(axis=axes, keepdims=True) if axes else a
        return out.reshape(shape)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output.expand(ctx.in_shape)


def sum_to_size(input, *size):
    """Sum ``input`` down to ``size`` (the reverse of broadcasting ``size`` to its shape)."""
    shape = shape_arg(size)
    if tuple(input.shape) == shape:
        return input
    try:
        ok = len(shape) <= input.ndim and xp.broadcast_shapes(shape, input.shape) == input.shape
    except ValueError:
        ok = False
    if not ok:
        raise RuntimeError(f"size {list(shape)} is not expandable to size {list(input.shape)}")
    return SumToSize.apply(input, shape)


def count_nonzero(input, dim=None):
    counts = xp.count_nonzero(input._data, axis=normalize_dims(dim, input.ndim))
    return const(xp.asarray(counts, dtype=xp.int64))

