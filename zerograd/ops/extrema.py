"""Extreme-value reductions: max/min (with and without dim), amax/amin, argmax/argmin, all/any.

Gradient conventions follow torch: ``amax``/``amin`` and the full ``max()``/``min()``
share the gradient evenly among tied elements; ``max(dim)``/``min(dim)`` send it only
to the element whose index they return (the first of the ties). Part of the reduction
family (``ops.reduce``, ``ops.cumulative``).
"""
from collections import namedtuple

from zerograd._aliases import numpy_aliases
from zerograd import dtypes, return_types
from zerograd.autograd.function import Function
from zerograd.backend import array_module
from zerograd.ops._promote import _named
from zerograd.ops._reduction import _Reduction
from zerograd.ops._util import const, normalize_dim, normalize_dims
from zerograd.ops.selection import maximum, minimum
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

    reduce = "max"  # the array method

    @classmethod
    def forward(cls, ctx, a, dims, keepdim):
        out = getattr(a, cls.reduce)(axis=dims, keepdims=keepdim)
        ctx.dims, ctx.keepdim = dims, keepdim
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def derivative(ctx, a, out_k):
        x = a._data
        hit = x == out_k._data
        return const((hit / hit.sum(axis=ctx.dims, keepdims=True)).astype(x.dtype, copy=False))


class Amin(Amax):
    reduce = "min"


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
    """max over one dim: ``(values, indices)``, the indices an integer output without
    gradient; the gradient goes only to the element whose index is returned."""

    _pick = "argmax"

    @classmethod
    def forward(cls, ctx, a, dim, keepdim):
        ctx.in_shape, ctx.dim, ctx.keepdim = a.shape, dim, keepdim
        if a.ndim == 0:
            ctx.index = ctx.xp.zeros((), dtype=dtypes.int64.np)
            return a.copy(), ctx.index
        index = ctx.index = ctx.xp.expand_dims(getattr(a, cls._pick)(axis=dim), dim)
        values = ctx.xp.take_along_axis(a, index, axis=dim)
        return (values, index) if keepdim else (values.squeeze(dim), index.squeeze(dim))

    @staticmethod
    def backward(ctx, grad_output, grad_indices):
        if not ctx.in_shape:
            return grad_output
        dim = ctx.dim
        shape = [1] * len(ctx.in_shape)
        shape[dim] = ctx.in_shape[dim]
        onehot = array_module(ctx.index).arange(ctx.in_shape[dim]).reshape(shape) == ctx.index
        g = grad_output if ctx.keepdim else grad_output.unsqueeze(dim)
        return g * const(onehot.astype(grad_output._data.dtype))

    @staticmethod
    def jvp(ctx, tangent, *_):
        from zerograd.ops.scatter import Gather  # scatter builds on the reductions
        if not ctx.in_shape:
            return tangent, None
        picked = Gather.apply(tangent, ctx.index, ctx.dim)  # the winners' tangents
        return (picked if ctx.keepdim else picked.squeeze(ctx.dim)), None

    @classmethod
    def name(cls):
        return "MaxBackward0"


class MinDim(MaxDim):
    _pick = "argmin"

    @classmethod
    def name(cls):
        return "MinBackward0"


def _max_min(input, dim, keepdim, largest):
    name = "max" if largest else "min"
    if isinstance(dim, Tensor):  # max(a, b) is maximum(a, b)
        return (maximum if largest else minimum)(input, dim)
    if dim is None:
        _check_nonempty(name, input.shape, (), False)
        return (MaxAll if largest else MinAll).apply(input, tuple(range(input.ndim)), keepdim)
    d = normalize_dim(dim, input.ndim)
    result = return_types.max if largest else return_types.min
    if input.ndim:
        _check_nonempty(name, input.shape, (d,), True)
    return result(*(MaxDim if largest else MinDim).apply(input, d, keepdim))


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


def _arg(name, input, dim, keepdim):
    """argmax/argmin (``name``) as an int64 tensor on the input's device."""
    xp = array_module(input)
    if input._data.dtype == bool:
        raise RuntimeError(f"{name}(): does not support bool input; convert first, e.g. "
                           "x.long()")
    if dim is None:
        if input.numel() == 0:
            raise IndexError(f"{name}(): Expected reduction dim to be specified for "
                             "input.numel() == 0.")
        out = getattr(input._data.reshape(-1), name)()
        return const(xp.asarray(out).reshape((1,) * input.ndim if keepdim else ()))
    d = normalize_dim(dim, input.ndim)
    if input.ndim == 0:
        return const(xp.zeros((), dtype=dtypes.int64.np))
    _check_nonempty(name, input.shape, (d,), True)
    return const(xp.asarray(getattr(input._data, name)(axis=d, keepdims=keepdim)))


@numpy_aliases
def argmax(input, dim=None, keepdim=False):
    """Index of the largest element (of the flattened input when ``dim`` is None)."""
    return _arg("argmax", input, dim, keepdim)


@numpy_aliases
def argmin(input, dim=None, keepdim=False):
    """Index of the smallest element (of the flattened input when ``dim`` is None)."""
    return _arg("argmin", input, dim, keepdim)


def _logical_reduce(name, input, dim, keepdim):
    a = input._data
    out = getattr(a, name)(axis=normalize_dims(dim, input.ndim), keepdims=keepdim)
    out = array_module(a).asarray(out)
    # torch keeps uint8 for uint8 input (a legacy rule); everything else gives bool
    return const(out.astype(a.dtype) if a.dtype == dtypes.uint8.np else out)


@numpy_aliases
def all(input, dim=None, keepdim=False):
    """True where every element over ``dim`` is nonzero."""
    return _logical_reduce("all", input, dim, keepdim)


@numpy_aliases
def any(input, dim=None, keepdim=False):
    """True where some element over ``dim`` is nonzero."""
    return _logical_reduce("any", input, dim, keepdim)
