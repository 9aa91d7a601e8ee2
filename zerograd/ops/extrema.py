"""Extreme-value reductions: max/min (with and without dim), amax/amin, argmax/argmin, all/any.

Gradient conventions follow torch: ``amax``/``amin`` and the full ``max()``/``min()``
share the gradient evenly among tied elements; ``max(dim)``/``min(dim)`` send it only
to the element whose index they return (the first of the ties). Part of the reduction
family: ``zerograd.ops.reduce`` re-exports everything here.
"""
from collections import namedtuple

from zerograd._aliases import numpy_aliases
from zerograd import return_types
from zerograd.autograd.function import Function
from zerograd.backend import xp
from zerograd.ops._promote import _named
from zerograd.ops._reduction import _Reduction
from zerograd.ops._util import const, normalize_dim, normalize_dims
from zerograd.tensor import Tensor

__all__ = ["max", "min", "amax", "amin", "aminmax", "argmax", "argmin", "all", "any"]

_aminmax = namedtuple("aminmax", ["min", "max"])


def _check_nonempty(name, shape, dims, dim_given):
    if not dim_given and 0 in shape:
        raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() "
                           "== 0. Specify the reduction dim with the 'dim' argument.")
    for d in dims:
        if shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


class Amax(_Reduction):
    """max over dims; ties share the gradient evenly (torch's amax/amin rule)."""

    reduce = staticmethod(xp.max)

    @classmethod
    def forward(cls, ctx, a, dims, keepdim):
        out = cls.reduce(a, axis=dims, keepdims=keepdim)
        ctx.dims, ctx.keepdim = dims, keepdim
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def derivative(ctx, a, out_k):
        x = a._data
        hit = x == out_k._data
        return const((hit / hit.sum(axis=ctx.dims, keepdims=True)).astype(x.dtype, copy=False))


class Amin(Amax):
    reduce = staticmethod(xp.min)


MaxAll = _named(Amax, "MaxBackward1")
MinAll = _named(Amin, "MinBackward1")


@numpy_aliases
def amax(input, dim=(), keepdim=False):
    """Maximum over ``dim`` (all dims for ``()``); ties share the gradient evenly."""
    dims = normalize_dims(dim, input.ndim)
    _check_nonempty("amax", input.shape, dims, dim not in ((), None, []))
    return Amax.apply(input, dims, keepdim)


@numpy_aliases
def amin(input, dim=(), keepdim=False):
    """Minimum over ``dim`` (all dims for ``()``); ties share the gradient evenly."""
    dims = normalize_dims(dim, input.ndim)
    _check_nonempty("amin", input.shape, dims, dim not in ((), None, []))
    return Amin.apply(input, dims, keepdim)


class MaxDim(Function):
    """Values at given indices along one dim (max/min with dim): the gradient goes there."""

    jvp_linear = True  # for fixed indices, picking values is linear

    @staticmethod
    def forward(ctx, a, index, dim, keepdim):
        ctx.in_shape, ctx.dim, ctx.keepdim, ctx.index = a.shape, dim, keepdim, index
        if a.ndim == 0:
            return a.copy()
        out = xp.take_along_axis(a, index, axis=dim)
        return out if keepdim else out.squeeze(dim)

    @staticmethod
    def backward(ctx, grad_output):
        if not ctx.in_shape:
            return grad_output
        dim = ctx.dim
        shape = [1] * len(ctx.in_shape)
        shape[dim] = ctx.in_shape[dim]
        onehot = xp.arange(ctx.in_shape[dim]).reshape(shape) == ctx.index
        g = grad_output if ctx.keepdim else grad_output.unsqueeze(dim)
        return g * const(onehot.astype(grad_output._data.dtype))

    @classmethod
    def name(cls):
        return "MaxBackward0"


class MinDim(MaxDim):
    @classmethod
    def name(cls):
        return "MinBackward0"


def _max_min(input, dim, keepdim, largest):
    name = "max" if largest else "min"
    if isinstance(dim, Tensor):  # max(a, b) is maximum(a, b)
        from zerograd.ops.elementwise import maximum, minimum
        return (maximum if largest else minimum)(input, dim)
    if dim is None:
        _check_nonempty(name, input.shape, (), False)
        return (MaxAll if largest else MinAll).apply(input, tuple(range(input.ndim)), keepdim)
    d = normalize_dim(dim, input.ndim)
    result = return_types.max if largest else return_types.min
    if input.ndim == 0:
        index = xp.zeros((), dtype=xp.int64)
    else:
        _check_nonempty(name, input.shape, (d,), True)
        pick = xp.argmax if largest else xp.argmin
        index = xp.expand_dims(pick(input._data, axis=d), d)
    values = (MaxDim if largest else MinDim).apply(input, index, d, keepdim)
    indices = index if keepdim or input.ndim == 0 else index.squeeze(d)
    return result(values, const(indices))


@numpy_aliases
def max(input, dim=None, keepdim=False):
    """``max(x)``: the largest element; ``max(x, dim)``: (values, indices);
    ``max(a, b)``: elementwise maximum."""
    return _max_min(input, dim, keepdim, True)


@numpy_aliases
def min(input, dim=None, keepdim=False):
    """``min(x)``: the smallest element; ``min(x, dim)``: (values, indices);
    ``min(a, b)``: elementwise minimum."""
    return _max_min(input, dim, keepdim, False)


def aminmax(input, *, dim=None, keepdim=False):
    """(amin, amax) over ``dim`` as a named tuple ``(min, max)``."""
    dims = () if dim is None else dim
    return _aminmax(amin(input, dims, keepdim), amax(input, dims, keepdim))


def _arg(fn, name, input, dim, keepdim):
    if input._data.dtype == bool:
        raise RuntimeError(f"{name}(): does not support bool input; convert first, e.g. "
                           "x.long()")
    if dim is None:
        if input.numel() == 0:
            raise IndexError(f"{name}(): Expected reduction dim to be specified for "
                             "input.numel() == 0.")
        out = fn(input._data.reshape(-1))
        return const(xp.asarray(out).reshape((1,) * input.ndim if keepdim else ()))
    d = normalize_dim(dim, input.ndim)
    if input.ndim == 0:
        return const(xp.zeros((), dtype=xp.int64))
    _check_nonempty(name, input.shape, (d,), True)
    return const(xp.asarray(fn(input._data, axis=d, keepdims=keepdim)))


@numpy_aliases
def argmax(input, dim=None, keepdim=False):
    """Index of the largest element (of the flattened input when ``dim`` is None)."""
    return _arg(xp.argmax, "argmax", input, dim, keepdim)


@numpy_aliases
def argmin(input, dim=None, keepdim=False):
    """Index of the smallest element (of the flattened input when ``dim`` is None)."""
    return _arg(xp.argmin, "argmin", input, dim, keepdim)


def _logical_reduce(fn, input, dim, keepdim):
    out = xp.asarray(fn(input._data, axis=normalize_dims(dim, input.ndim), keepdims=keepdim))
    # torch keeps uint8 for uint8 input (a legacy rule); everything else gives bool
    return const(out.astype(xp.uint8) if input._data.dtype == xp.uint8 else out)


@numpy_aliases
def all(input, dim=None, keepdim=False):
    """True where every element over ``dim`` is nonzero."""
    return _logical_reduce(xp.all, input, dim, keepdim)


@numpy_aliases
def any(input, dim=None, keepdim=False):
    """True where some element over ``dim`` is nonzero."""
    return _logical_reduce(xp.any, input, dim, keepdim)
