"""Reductions over dims: sum, mean, prod, var/std, max/min, norms, cumulative ops, logsumexp.

``dim`` is an int, a tuple of ints or None (all dims); ``keepdim`` keeps reduced dims as
size 1. Backward re-inserts the reduced dims and broadcasts the gradient over them.
"""
import builtins
import math

from zerograd import dtypes, return_types
from zerograd.autograd.function import Function
from zerograd.backend import xp, errstate
from zerograd.ops._util import const, normalize_dim, normalize_dims
from zerograd.tensor import Tensor

__all__ = ["sum", "mean", "prod", "var", "std", "var_mean", "std_mean", "max", "min", "amax",
           "amin", "argmax", "argmin", "all", "any", "norm", "cumsum", "cumprod", "logsumexp",
           "sum_to_size", "count_nonzero", "aminmax"]


def _kept_shape(shape, dims):
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def _expand_back(grad, in_shape, dims, keepdim):
    """A reduced gradient broadcast back over the reduced dims of the input."""
    from zerograd.ops.shape import Expand, Reshape
    if not keepdim and grad.ndim:  # a 0-d gradient broadcasts as it is
        grad = Reshape.apply(grad, _kept_shape(in_shape, dims))
    return Expand.apply(grad, in_shape)


class Sum(Function):
    @staticmethod
    def forward(ctx, a, dims, keepdim, np_dtype):
        ctx.in_shape, ctx.dims, ctx.keepdim = a.shape, dims, keepdim
        return a.sum(axis=dims, keepdims=keepdim, dtype=np_dtype)

    @staticmethod
    def backward(ctx, grad_output):
        return _expand_back(grad_output, ctx.in_shape, ctx.dims, ctx.keepdim)


def sum(input, dim=None, keepdim=False, dtype=None):
    dims = normalize_dims(dim, input.ndim)
    if dtype is not None:
        np_dtype = dtypes.as_dtype(dtype).np
    elif input._data.dtype.kind in "biu":
        np_dtype = xp.int64  # torch sums bool and integers as int64
    else:
        np_dtype = None
    return Sum.apply(input, dims, keepdim, np_dtype)


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
    from zerograd.ops._util import shape_arg
    shape = shape_arg(size)
    if tuple(input.shape) == shape:
        return input
    try:
        xp.broadcast_shapes(shape, input.shape)
        ok = len(shape) <= input.ndim and xp.broadcast_shapes(shape, input.shape) == input.shape
    except ValueError:
        ok = False
    if not ok:
        raise RuntimeError(f"size {list(shape)} is not expandable to size {list(input.shape)}")
    return SumToSize.apply(input, shape)


def mean(input, dim=None, keepdim=False, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    if not input.is_floating_point():
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either "
                           f"a floating point or complex dtype. Got: {input.dtype}. Convert "
                           "first, e.g. x.float().mean()")
    dims = normalize_dims(dim, input.ndim)
    count = 1
    for d in dims:
        count *= input.shape[d]
    with errstate(invalid="ignore", divide="ignore"):
        return sum(input, dims, keepdim) / (count if count else float("nan"))


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
        # prod_{j != i} a_j, computed without dividing by zero: with no zero it is
        # prod/a_i; with one zero only that element gets the product of the others.
        is_zero = a == 0
        nonzero = a.masked_fill(is_zero, 1.0)
        prod_nonzero = prod(nonzero, dims, keepdim=True)
        zeros = sum(is_zero, dims, keepdim=True)
        others = (prod_nonzero / nonzero).masked_fill(zeros != 0, 0.0)
        others = others + (prod_nonzero * (is_zero & (zeros == 1))).masked_fill(zeros != 1, 0.0)
        return g * others


def prod(input, dim=None, keepdim=False, dtype=None):
    dims = normalize_dims(dim, input.ndim)
    np_dtype = dtypes.as_dtype(dtype).np if dtype is not None else (
        xp.int64 if input._data.dtype.kind in "biu" else None)
    return Prod.apply(input, dims, keepdim, np_dtype)


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    return 0 if unbiased is False else 1


def var(input, dim=None, unbiased=None, keepdim=False, correction=None):
    if isinstance(dim, bool):  # the old overload var(input, unbiased)
        dim, unbiased = None, dim
    dims = normalize_dims(dim, input.ndim)
    n = 1
    for d in dims:
        n *= input.shape[d]
    centered = input - mean(input, dims, keepdim=True)
    with errstate(invalid="ignore", divide="ignore"):
        return sum(centered * centered, dims, keepdim) / builtins.max(
            n - _correction(unbiased, correction), 0)


def std(input, dim=None, unbiased=None, keepdim=False, correction=None):
    return var(input, dim, unbiased, keepdim, correction).sqrt()


def var_mean(input, dim=None, unbiased=None, keepdim=False, correction=None):
    return var(input, dim, unbiased, keepdim, correction), mean(input, dim, keepdim)


def std_mean(input, dim=None, unbiased=None, keepdim=False, correction=None):
    return std(input, dim, unbiased, keepdim, correction), mean(input, dim, keepdim)


class Amax(Function):
    """max over dims; ties share the gradient evenly (torch's amax/amin rule)."""

    reduce = staticmethod(xp.max)

    @classmethod
    def forward(cls, ctx, a, dims, keepdim):
        if a.size == 0:
            raise RuntimeError("max(): Expected reduction dim to be specified for input.numel() "
                               "== 0. Specify the reduction dim with the 'dim' argument.")
        out = cls.reduce(a, axis=dims, keepdims=True)
        ctx.dims, ctx.keepdim = dims, keepdim
        ctx.save_for_backward(a, out)
        return out if keepdim else out.reshape(_reduced_shape(a.shape, dims))

    @staticmethod
    def backward(ctx, grad_output):
        a, out = ctx.saved_tensors
        hit = a == out
        share = hit / sum(hit, ctx.dims, keepdim=True)
        return _expand_back(grad_output, a.shape, ctx.dims, ctx.keepdim) * share


class Amin(Amax):
    reduce = staticmethod(xp.min)


def _reduced_shape(shape, dims):
    return tuple(s for i, s in enumerate(shape) if i not in dims)


def amax(input, dim=(), keepdim=False):
    return Amax.apply(input, normalize_dims(dim, input.ndim), keepdim)


def amin(input, dim=(), keepdim=False):
    return Amin.apply(input, normalize_dims(dim, input.ndim), keepdim)


class SelectAlongDim(Function):
    """Values at given indices along one dim (max/min with dim, kthvalue, median)."""

    @staticmethod
    def forward(ctx, a, index, dim, keepdim):
        ctx.in_shape, ctx.dim, ctx.keepdim = a.shape, dim, keepdim
        ctx.index = index
        out = xp.take_along_axis(a, index, axis=dim)
        return out if keepdim else out.squeeze(dim)

    @staticmethod
    def backward(ctx, grad_output):
        dim = ctx.dim
        shape = [1] * len(ctx.in_shape)
        shape[dim] = ctx.in_shape[dim]
        onehot = xp.arange(ctx.in_shape[dim]).reshape(shape) == ctx.index
        g = grad_output if ctx.keepdim else grad_output.unsqueeze(dim)
        return g * const(onehot)


def _max_min(input, dim, keepdim, other, largest):
    if isinstance(dim, Tensor):  # max(a, b) is maximum(a, b)
        from zerograd.ops.elementwise import maximum, minimum
        return (maximum if largest else minimum)(input, dim)
    if dim is None:
        return (amax if largest else amin)(input, None, keepdim)
    d = normalize_dim(dim, input.ndim)
    if input.ndim == 0:
        return (return_types.max if largest else return_types.min)(input, const(xp.asarray(0)))
    if input.shape[d] == 0:
        raise IndexError(f"max(): Expected reduction dim {d} to have non-zero size.")
    pick = xp.argmax if largest else xp.argmin
    index = xp.expand_dims(pick(input._data, axis=d), d)
    values = SelectAlongDim.apply(input, index, d, keepdim)
    indices = const(index if keepdim else index.squeeze(d))
    return (return_types.max if largest else return_types.min)(values, indices)


def max(input, dim=None, keepdim=False):
    return _max_min(input, dim, keepdim, None, True)


def min(input, dim=None, keepdim=False):
    return _max_min(input, dim, keepdim, None, False)


def aminmax(input, dim=None, keepdim=False):
    return amin(input, dim, keepdim), amax(input, dim, keepdim)


def _arg(fn, input, dim, keepdim):
    if dim is None:
        out = fn(input._data.reshape(-1))
        return const(xp.asarray(out).reshape((1,) * input.ndim if keepdim else ()))
    d = normalize_dim(dim, input.ndim)
    if input.ndim == 0:
        return const(xp.asarray(0))
    return const(fn(input._data, axis=d, keepdims=keepdim))


def argmax(input, dim=None, keepdim=False):
    return _arg(xp.argmax, input, dim, keepdim)


def argmin(input, dim=None, keepdim=False):
    return _arg(xp.argmin, input, dim, keepdim)


def all(input, dim=None, keepdim=False):
    return const(xp.asarray(xp.all(input._data, axis=normalize_dims(dim, input.ndim),
                                   keepdims=keepdim)))


def any(input, dim=None, keepdim=False):
    return const(xp.asarray(xp.any(input._data, axis=normalize_dims(dim, input.ndim),
                                   keepdims=keepdim)))


def count_nonzero(input, dim=None):
    return const(xp.asarray(xp.count_nonzero(input._data, axis=normalize_dims(dim, input.ndim)),
                            dtype=xp.int64))


class Norm2(Function):
    """Euclidean norm; the gradient at the zero vector is 0 (a subgradient), as in torch."""

    @staticmethod
    def forward(ctx, a, dims, keepdim):
        out = xp.sqrt((a * a).sum(axis=dims, keepdims=True))
        ctx.dims, ctx.keepdim = dims, keepdim
        ctx.save_for_backward(a, out)
        return out if keepdim else out.reshape(_reduced_shape(a.shape, dims))

    @staticmethod
    def backward(ctx, grad_output):
        a, out = ctx.saved_tensors
        g = _expand_back(grad_output, a.shape, ctx.dims, ctx.keepdim)
        return (g * a / out).masked_fill(out == 0, 0.0)


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """Vector p-norm over ``dim`` (all elements when None): p in 2, 'fro', 1, inf, -inf, 0, any real."""
    if dtype is not None:
        input = input.to(dtype)
    if not input.is_floating_point():
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point tensor as input. Got "
                           f"{input.dtype}")
    if p == "nuc":
        from zerograd.ops.linalg import matrix_norm
        return matrix_norm(input, "nuc", dim if dim is not None else (-2, -1), keepdim)
    dims = normalize_dims(dim, input.ndim)
    if p in ("fro", 2, 2.0, None):
        return Norm2.apply(input, dims, keepdim)
    a = input.abs()
    if p == math.inf:
        return amax(a, dims, keepdim)
    if p == -math.inf:
        return amin(a, dims, keepdim)
    if p == 0:
        return sum((a != 0).to(input.dtype), dims, keepdim)
    if p == 1:
        return sum(a, dims, keepdim)
    return sum(a ** p, dims, keepdim) ** (1.0 / p)


class Cumsum(Function):
    @staticmethod
    def forward(ctx, a, dim, np_dtype):
        ctx.dim = dim
        return xp.cumsum(a, axis=dim, dtype=np_dtype)

    @staticmethod
    def backward(ctx, grad_output):
        d = ctx.dim
        return grad_output.flip(d).cumsum(d).flip(d)


def cumsum(input, dim, dtype=None):
    np_dtype = dtypes.as_dtype(dtype).np if dtype is not None else (
        xp.int64 if input._data.dtype.kind in "biu" else None)
    if input.ndim == 0:
        return input.clone()
    return Cumsum.apply(input, normalize_dim(dim, input.ndim), np_dtype)


class Cumprod(Function):
    @staticmethod
    def forward(ctx, a, dim, np_dtype):
        out = xp.cumprod(a, axis=dim, dtype=np_dtype)
        ctx.dim = dim
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        # d out_j / d a_i = out_j / a_i for j >= i (inputs are assumed nonzero here)
        a, out = ctx.saved_tensors
        d = ctx.dim
        return (grad_output * out).flip(d).cumsum(d).flip(d) / a


def cumprod(input, dim, dtype=None):
    np_dtype = dtypes.as_dtype(dtype).np if dtype is not None else (
        xp.int64 if input._data.dtype.kind in "biu" else None)
    if input.ndim == 0:
        return input.clone()
    return Cumprod.apply(input, normalize_dim(dim, input.ndim), np_dtype)


class LogSumExp(Function):
    @staticmethod
    def forward(ctx, a, dims, keepdim):
        m = a.max(axis=dims, keepdims=True) if a.size else xp.zeros((1,) * a.ndim, a.dtype)
        m = xp.where(xp.isfinite(m), m, 0)  # all -inf rows give -inf, not nan
        with errstate(divide="ignore"):
            out = xp.log(xp.exp(a - m).sum(axis=dims, keepdims=True)) + m
        ctx.dims, ctx.keepdim = dims, keepdim
        ctx.save_for_backward(a, out)
        return out if keepdim else out.reshape(_reduced_shape(a.shape, dims))

    @staticmethod
    def backward(ctx, grad_output):
        a, out = ctx.saved_tensors
        g = _expand_back(grad_output, a.shape, ctx.dims, ctx.keepdim)
        return g * (a - out).exp()


def logsumexp(input, dim, keepdim=False):
    from zerograd.ops._util import float_operand
    input = float_operand(input)
    return LogSumExp.apply(input, normalize_dims(dim, input.ndim), keepdim)
