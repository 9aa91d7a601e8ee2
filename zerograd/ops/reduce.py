"""Reductions over dims: sum, mean, prod, var/std, vector norms, logsumexp.

``dim`` is an int, a tuple of ints or None (all dims; an empty tuple also means all);
``keepdim`` keeps reduced dims as size 1. Integer and bool sums and products are int64,
as in torch. Each op is linear (``jvp_linear``) or a ``_Reduction`` whose elementwise
derivative serves backward and forward mode alike.

The rest of the reduction family lives beside it, each file with its own ops:
max/min/amax/argmax/all/any in ``extrema``, cumsum/cumprod in ``cumulative``.
"""
import math

from zerograd._aliases import numpy_aliases
from zerograd import dtypes
from zerograd.autograd.function import Function
from zerograd.backend import array_module
from zerograd.ops._promote import _named
from zerograd.ops._reduction import _Reduction, _count, _expand_back, _expand_back_array
from zerograd.ops._util import broadcast_shapes, const, float_operand, normalize_dims, shape_arg
from zerograd.ops.cumulative import _accumulation_dtype
from zerograd.ops.selection import where

__all__ = ["sum", "mean", "prod", "var", "std", "var_mean", "std_mean", "norm", "logsumexp",
           "sum_to_size", "count_nonzero"]


# -- sum and mean (linear) ------------------------------------------------------------------------
class Sum(Function):
    jvp_linear = True

    @staticmethod
    def forward(ctx, a, dims, keepdim, np_dtype):
        ctx.in_shape, ctx.dims, ctx.keepdim = a.shape, dims, keepdim
        return a.sum(axis=dims, keepdims=keepdim, dtype=np_dtype)

    @staticmethod
    def backward(ctx, grad_output):
        return _expand_back(grad_output, ctx.in_shape, ctx.dims, ctx.keepdim)

    @staticmethod
    def backward_array(ctx, grad_output):
        return _expand_back_array(ctx.xp, grad_output, ctx.in_shape, ctx.dims, ctx.keepdim)


SumDim = _named(Sum, "SumBackward1")


@numpy_aliases
def sum(input, dim=None, keepdim=False, dtype=None):
    """Sum over ``dim`` (all dims by default); bool and integer inputs sum as int64."""
    dims = normalize_dims(dim, input.ndim)
    return (Sum if dim is None else SumDim).apply(input, dims, keepdim,
                                                  _accumulation_dtype(input, dtype))


class Mean(Function):
    jvp_linear = True

    @staticmethod
    def forward(ctx, a, dims, keepdim):
        ctx.in_shape, ctx.dims, ctx.keepdim = a.shape, dims, keepdim
        ctx.count = _count(a.shape, dims)
        if ctx.count == 0:  # torch: the mean of nothing is nan
            with ctx._backend.errstate(invalid="ignore"):
                return a.sum(axis=dims, keepdims=keepdim) / a.dtype.type(0)
        return a.mean(axis=dims, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad_output):
        g = _expand_back(grad_output, ctx.in_shape, ctx.dims, ctx.keepdim)
        return g / ctx.count if ctx.count else g

    @staticmethod
    def backward_array(ctx, grad_output):
        if ctx.count:
            grad_output = grad_output / grad_output.dtype.type(ctx.count)
        return _expand_back_array(ctx.xp, grad_output, ctx.in_shape, ctx.dims, ctx.keepdim)


MeanDim = _named(Mean, "MeanBackward1")


@numpy_aliases
def mean(input, dim=None, keepdim=False, dtype=None):
    """Arithmetic mean over ``dim``; the input (or ``dtype``) must be floating point."""
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either "
                           f"a floating point or complex dtype. Got: "
                           f"{dtypes.scalar_type_name(input.dtype)}. Convert first, e.g. "
                           "x.float().mean()")
    dims = normalize_dims(dim, input.ndim)
    return (Mean if dim is None else MeanDim).apply(input, dims, keepdim)


# -- prod ------------------------------------------------------------------------------------
class Prod(_Reduction):
    @staticmethod
    def forward(ctx, a, dims, keepdim, np_dtype):
        ctx.dims, ctx.keepdim = dims, keepdim
        out = a.prod(axis=dims, keepdims=keepdim, dtype=np_dtype)
        ctx.save_for_backward(a, out)
        return out

    # Two rules for inputs with zeros: ``backward`` (recorded under create_graph) uses an
    # O(n^2) form whose own derivative is exact; the engine's plain backward goes through
    # ``backward_array``, which takes the O(n) zero-count rule (its derivative is not needed).
    _zero_count_rule = False

    @classmethod
    def backward_array(cls, ctx, grad_output):
        ctx._zero_count_rule = True  # for this call only: a retained graph may be
        try:                          # differentiated with create_graph later
            g = cls.backward(ctx, const(grad_output))
        finally:
            ctx._zero_count_rule = False
        return None if g is None else g._data

    @staticmethod
    def derivative(ctx, a, out_k):
        # d prod / d a_i is the product of the others
        x = a._data
        is_zero = x == 0
        if not is_zero.any():
            return out_k / a
        if not ctx._zero_count_rule:
            return _product_of_others(a, ctx.dims)
        # With one zero in a group only that element gets the product of the rest; with
        # two or more zeros every derivative is 0. No division by zero anywhere.
        zeros = is_zero.sum(axis=ctx.dims, keepdims=True)
        nonzero = where(const(is_zero), 1.0, a)
        prod_nonzero = prod(nonzero, ctx.dims, keepdim=True)
        others = where(const(zeros == 0), prod_nonzero / nonzero, 0.0)
        return where(const(is_zero & (zeros == 1)), prod_nonzero, others)


def _product_of_others(a, dims):
    """prod_{k != i} a_k over the reduced group, for every i, without division: O(n^2).

    The group is flattened to a last axis of length n; row i of an n x n matrix holds the
    group with a_i replaced by 1, and its product is the answer for i.
    """
    keep = [i for i in range(a.ndim) if i not in dims]
    moved = a.permute(*keep, *dims)
    n = _count(a.shape, dims)
    flat = moved.reshape(*moved.shape[:len(keep)], n)
    rows = where(const(array_module(a).eye(n, dtype=bool)), 1.0, flat.unsqueeze(-2))
    others = prod(rows, -1).reshape(moved.shape)
    inverse = [0] * a.ndim
    for pos, d in enumerate(keep + list(dims)):
        inverse[d] = pos
    return others.permute(*inverse)


ProdDim = _named(Prod, "ProdBackward1")


@numpy_aliases
def prod(input, dim=None, keepdim=False, dtype=None):
    """Product over ``dim``; bool and integer inputs multiply as int64."""
    dims = normalize_dims(dim, input.ndim)
    return (Prod if dim is None else ProdDim).apply(input, dims, keepdim,
                                                    _accumulation_dtype(input, dtype))


# -- variance and standard deviation ------------------------------------------------------------
class Var(_Reduction):
    """Variance with ``correction`` (1: unbiased, Bessel's; 0: population)."""

    @staticmethod
    def forward(ctx, a, dims, keepdim, correction, full):
        n = _count(a.shape, dims)
        ctx.dims, ctx.keepdim, ctx.correction, ctx.full = dims, keepdim, correction, full
        if n > correction:
            centered = a - a.mean(axis=dims, keepdims=True)
            out = (centered * centered).sum(axis=dims, keepdims=keepdim) / a.dtype.type(
                n - correction)
        else:  # no degrees of freedom left: inf or nan, as torch (which warns)
            with ctx._backend.errstate(invalid="ignore", divide="ignore"):
                centered = a - a.sum(axis=dims, keepdims=True) / a.dtype.type(n)
                out = (centered * centered).sum(axis=dims, keepdims=keepdim) / a.dtype.type(0)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def derivative(ctx, a, out_k):
        return _var_derivative(ctx, a)


def _var_derivative(ctx, a):
    """d var / d a = 2 (a - mean) / (n - correction), with torch's rule for dof <= 0."""
    dof = _count(a.shape, ctx.dims) - ctx.correction
    centered = a - mean(a, ctx.dims, keepdim=True)
    if dof <= 0 and ctx.full:
        # 2 / 0 is inf: inf * 0 at the mean gives nan, elsewhere inf (as torch)
        x = centered._data
        return const(array_module(x).where(x == 0, math.nan, math.inf).astype(x.dtype))
    return centered * (2.0 / dof if dof != 0 else math.inf)


class Std(_Reduction):
    @staticmethod
    def forward(ctx, a, dims, keepdim, correction, full):
        out = ctx.xp.sqrt(Var.forward(ctx, a, dims, keepdim, correction, full))
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def derivative(ctx, a, out_k):
        # d std = d var / (2 std); where std == 0 torch takes the derivative as 0
        return where(out_k == 0, 0.0, (2 * out_k).reciprocal()) * _var_derivative(ctx, a)


def _var_args(input, dim, unbiased, correction, op):
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"std and var only support floating point and complex dtypes (got "
                           f"{input.dtype}); convert first, e.g. x.float().{op}()")
    if unbiased is not None and correction is not None:
        raise RuntimeError(f"{op}: can't pass both unbiased and correction; use correction=")
    if correction is None:
        correction = 0 if unbiased is False else 1
    # torch's 'full' reduction rule for dof <= 0 covers dim=None and 0-d input
    return normalize_dims(dim, input.ndim), correction, dim is None or input.ndim == 0


@numpy_aliases
def var(input, dim=None, unbiased=None, keepdim=False, correction=None):
    """Variance over ``dim``; unbiased (correction=1) by default."""
    if isinstance(dim, bool):  # the old overload var(input, unbiased)
        dim, unbiased = None, dim
    dims, correction, full = _var_args(input, dim, unbiased, correction, "var")
    return Var.apply(input, dims, keepdim, correction, full)


@numpy_aliases
def std(input, dim=None, unbiased=None, keepdim=False, correction=None):
    """Standard deviation over ``dim``; unbiased (correction=1) by default."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    dims, correction, full = _var_args(input, dim, unbiased, correction, "std")
    return Std.apply(input, dims, keepdim, correction, full)


@numpy_aliases
def var_mean(input, dim=None, unbiased=None, keepdim=False, correction=None):
    """``(var, mean)`` over ``dim``."""
    return var(input, dim, unbiased, keepdim, correction), mean(input, dim, keepdim)


@numpy_aliases
def std_mean(input, dim=None, unbiased=None, keepdim=False, correction=None):
    """``(std, mean)`` over ``dim``."""
    return std(input, dim, unbiased, keepdim, correction), mean(input, dim, keepdim)


# -- vector norms ------------------------------------------------------------------------------
class VectorNorm(_Reduction):
    """(sum |a|^p)^(1/p) over dims, with the limits p = 0, inf, -inf; torch's subgradients."""

    @staticmethod
    def forward(ctx, a, p, dims, keepdim):
        ctx.p, ctx.dims, ctx.keepdim = p, dims, keepdim
        xp = ctx.xp
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
            with ctx._backend.errstate(divide="ignore", over="ignore"):
                out = (ab ** p).sum(axis=dims, keepdims=keepdim) ** (1.0 / p)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def derivative(ctx, a, norm_k):
        p = ctx.p
        if p == 0:
            return None  # a count of nonzeros: no gradient
        if p == 1:
            return a.sign()
        if p == 2:
            return where(norm_k == 0, 0.0, a / norm_k)  # 0 at the zero vector, as torch
        if p in (math.inf, -math.inf):
            # ties at the max |a| share evenly (nan entries count as ties)
            xp = array_module(a)
            ab = xp.abs(a._data)
            mask = (ab == norm_k._data) | xp.isnan(ab)
            share = mask / mask.sum(axis=ctx.dims, keepdims=True)
            return a.sign() * const(share.astype(ab.dtype))
        if p < 1:
            scaled = where(a == 0, 0.0, a.sign() * a.abs() ** (p - 1))
            return scaled * norm_k ** (1 - p)
        scaled = a.sign() * a.abs() ** (p - 1) if p < 2 else a * a.abs() ** (p - 2)
        return scaled * where(norm_k == 0, 0.0, norm_k ** (1 - p))

    @classmethod
    def name(cls):
        return "LinalgVectorNormBackward0"


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """Vector p-norm over ``dim`` (all elements when None).

    ``p``: 2 or 'fro' (Euclidean), 1, inf, -inf, 0 (count of nonzeros) or any real number.
    """
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {dtypes.scalar_type_name(input.dtype)}")
    if p == "nuc":
        # Imported here: ops.decompositions builds on this module (a Frobenius norm is a
        # vector norm), and a nuclear norm is a matrix function.
        from zerograd.ops.decompositions import matrix_norm
        return matrix_norm(input, "nuc", dim if dim is not None else (-2, -1), keepdim)
    if p == "fro" and isinstance(dim, (tuple, list)) and len(dim) not in (1, 2):
        # torch's 'fro' over an explicit dim list is a matrix norm: one or two dims only
        raise RuntimeError("linalg.matrix_norm: dim must be a 2-tuple. Got "
                           + " ".join(str(int(d)) for d in dim))
    if p in ("fro", None):
        p = 2
    if isinstance(p, str):
        raise RuntimeError(f"norm: unsupported p={p!r}; use a number, 'fro' or 'nuc'")
    dims = normalize_dims(dim, input.ndim)
    if abs(p) == math.inf and _count(input.shape, dims) == 0 and input.ndim:
        raise RuntimeError(f"linalg.vector_norm cannot compute the {p} norm on an empty tensor "
                           "because the operation does not have an identity")
    return VectorNorm.apply(input, float(p), dims, keepdim)


# -- logsumexp -----------------------------------------------------------------------------------
class Logsumexp(_Reduction):
    @staticmethod
    def forward(ctx, a, dims, keepdim):
        # shift by the max so exp cannot overflow; rows that are all -inf give -inf, not nan
        xp = ctx.xp
        m = a.max(axis=dims, keepdims=True) if a.size else xp.zeros((1,) * a.ndim, a.dtype)
        m = xp.where(xp.isfinite(m), m, 0).astype(a.dtype, copy=False)
        with ctx._backend.errstate(divide="ignore", over="ignore", invalid="ignore"):
            out = xp.log(xp.exp(a - m).sum(axis=dims, keepdims=True)) + m
        ctx.dims, ctx.keepdim = dims, keepdim
        if not keepdim:
            out = out.reshape([n for i, n in enumerate(a.shape) if i not in dims])
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def derivative(ctx, a, out_k):
        return (a - out_k).exp()  # the softmax


@numpy_aliases
def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(input))) over ``dim``, computed without overflow."""
    input = float_operand(input)
    return Logsumexp.apply(input, normalize_dims(dim, input.ndim), keepdim)


# -- helpers -------------------------------------------------------------------------------------
class SumToSize(Function):
    jvp_linear = True

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
        ok = len(shape) <= input.ndim and broadcast_shapes(shape, input.shape) == input.shape
    except ValueError:
        ok = False
    if not ok:
        raise RuntimeError(f"size {list(shape)} is not expandable to size {list(input.shape)}")
    return SumToSize.apply(input, shape)


def count_nonzero(input, dim=None):
    """The number of nonzero elements over ``dim`` (int64)."""
    xp = array_module(input)
    counts = xp.count_nonzero(input._data, axis=normalize_dims(dim, input.ndim))
    return const(xp.asarray(counts, dtype=dtypes.int64.np))
