"""Order-based and counting ops: sort, argsort, topk, unique, nonzero, bincount, histc.

``sort`` and ``topk`` are one node with two outputs: the values, picked from the input at
the indices the op chose, and those indices (an integer output, without gradient); the
values' gradient flows back to the positions they came from. Unique values and nonzero
positions are integer results without gradient; so are counts and histograms (torch
defines no gradient for them either).
"""
import math

from zerograd._aliases import numpy_aliases
from zerograd import dtypes, return_types
from zerograd.autograd.function import Function
from zerograd.backend import array_module
from zerograd.ops._util import const, normalize_dim
from zerograd.ops.scatter import Gather, ScatterAdd

_INT64 = dtypes.int64.np

__all__ = ["sort", "argsort", "topk", "unique", "nonzero", "argwhere", "bincount", "histc"]


def _sort_index(a, dim, descending):
    """Stable permutation along ``dim``; NaN sorts as the largest value, like torch."""
    xp = array_module(a)
    if descending:
        # Stable descending order (ties keep their original order): sort the reversed
        # array ascending, map positions back, and reverse the result.
        j = xp.argsort(xp.flip(a, axis=dim), axis=dim, kind="stable")
        return xp.flip(a.shape[dim] - 1 - j, axis=dim)
    return xp.argsort(a, axis=dim, kind="stable")


@numpy_aliases
def argsort(input, dim=-1, descending=False, stable=False):
    """The permutation that sorts ``input`` along ``dim`` (ties keep their order)."""
    if input.ndim == 0:
        return const(array_module(input).zeros((), _INT64))
    d = normalize_dim(dim, input.ndim)
    return const(_sort_index(input._data, d, descending).astype(_INT64, copy=False))


class _Selection(Function):
    """``(values, indices)``: the input's values along ``ctx.dim`` at the indices forward
    chose (``ctx.indices``); the gradient goes back to where the values came from."""

    @staticmethod
    def _select(ctx, a, indices, dim):
        ctx.in_shape, ctx.dim, ctx.indices = a.shape, dim, indices
        return ctx.xp.take_along_axis(a, indices, axis=dim), indices

    @staticmethod
    def backward(ctx, grad_values, grad_indices):
        g = grad_values._data
        zeros = const(ctx.xp.zeros(ctx.in_shape, dtype=g.dtype))
        return ScatterAdd.apply(zeros, ctx.indices, grad_values, ctx.dim)

    @staticmethod
    def jvp(ctx, tangent, *_):
        return Gather.apply(tangent, ctx.indices, ctx.dim), None


class Sort(_Selection):
    @staticmethod
    def forward(ctx, a, dim, descending):
        return _Selection._select(ctx, a, _sort_index(a, dim, descending).astype(_INT64),
                                  dim)


class Topk(_Selection):
    @staticmethod
    def forward(ctx, a, k, dim, largest):
        order = _sort_index(a, dim, largest)
        indices = ctx.xp.take(order, ctx.xp.arange(k), axis=dim).astype(_INT64)
        return _Selection._select(ctx, a, indices, dim)


@numpy_aliases
def sort(input, dim=-1, descending=False, stable=False):
    """``(values, indices)`` sorted along ``dim``; values are differentiable."""
    if input.ndim == 0:
        return return_types.sort(input.clone(), argsort(input, dim, descending))
    return return_types.sort(*Sort.apply(input, normalize_dim(dim, input.ndim), descending))


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (or smallest) entries along ``dim`` and their indices."""
    d = normalize_dim(dim, input.ndim) if input.ndim else 0
    n = input.shape[d] if input.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"selected index k out of range: k={k} but dimension {d} has size "
                           f"{n}")
    if input.ndim == 0:
        return return_types.topk(input.clone(), const(array_module(input).zeros((), _INT64)))
    return return_types.topk(*Topk.apply(input, k, d, largest))


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values (sorted), optionally with inverse indices and counts."""
    a = input._data
    xp = array_module(a)
    if dim is None:
        values, inverse, counts = xp.unique(a.reshape(-1), return_inverse=True,
                                            return_counts=True)
        inverse = inverse.reshape(a.shape)
    else:
        d = normalize_dim(dim, input.ndim)
        values, inverse, counts = xp.unique(a, return_inverse=True, return_counts=True, axis=d)
        inverse = inverse.reshape(-1)
    out = [const(values)]
    if return_inverse:
        out.append(const(inverse.astype(_INT64)))
    if return_counts:
        out.append(const(counts.astype(_INT64)))
    return out[0] if len(out) == 1 else tuple(out)


def nonzero(input, as_tuple=False):
    """Indices of the nonzero entries: an ``(n, ndim)`` tensor, or one vector per dim."""
    a = input._data
    xp = array_module(a)
    if a.ndim == 0:  # NumPy refuses 0-d input; torch treats it as one element with no dims
        hit = int(bool(a))
        if as_tuple:
            return (const(xp.zeros(hit, _INT64)),)
        return const(xp.zeros((hit, 0), _INT64))
    found = xp.nonzero(a)
    if as_tuple:
        return tuple(const(i.astype(_INT64)) for i in found)
    return const(xp.stack(found, axis=1).astype(_INT64))


def argwhere(input):
    return nonzero(input)


def bincount(input, weights=None, minlength=0):
    """How often each value 0..max occurs in a 1-D non-negative integer tensor (the sum of
    ``weights`` at those positions when given; integer weights count in float64)."""
    a = input._data
    xp = array_module(a)
    if a.ndim != 1 or a.dtype.kind not in "iub" or (a.size and a.min() < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if weights is None or a.size == 0:  # torch counts an empty input in int64, weights or not
        return const(xp.bincount(a, minlength=minlength).astype(_INT64))
    w = weights._data
    if w.shape != a.shape:
        raise RuntimeError(f"weights should be 1-d and have the same length as input, got "
                           f"weights of shape {tuple(w.shape)} for input of shape "
                           f"{tuple(a.shape)}")
    dtype = w.dtype if w.dtype.kind == "f" else dtypes.float64.np
    return const(xp.bincount(a, weights=w, minlength=minlength).astype(dtype))


def histc(input, bins=100, min=0, max=0):
    """Counts in ``bins`` equal-width bins over ``[min, max]`` (the data's range when both
    are 0); values outside are ignored and ``max`` itself falls in the last bin."""
    a = input._data
    xp = array_module(a)
    if a.dtype.kind != "f":
        raise RuntimeError(f"torch.histc: input must be a floating point tensor, got "
                           f"{input.dtype}")
    if bins <= 0:
        raise RuntimeError(f"torch.histc: bins must be > 0, but got {bins} for dimension 0")
    low, high = float(min), float(max)
    if low > high:
        raise RuntimeError("torch.histc: max must be larger than min")
    if low == high and a.size:
        low, high = float(a.min()), float(a.max())
    if low == high:
        low, high = low - 1, high + 1
    if not (math.isfinite(low) and math.isfinite(high)):
        raise RuntimeError(f"torch.histc: range of [{low}, {high}] is not finite")
    flat = a.reshape(-1)
    flat = flat[(flat >= low) & (flat <= high)]
    # the bin position in the input's own float type, as torch's kernel computes it
    lo, hi = a.dtype.type(low), a.dtype.type(high)
    pos = xp.floor((flat - lo) * a.dtype.type(bins) / (hi - lo)).astype(_INT64)
    pos = xp.minimum(pos, bins - 1)
    return const(xp.bincount(pos, minlength=bins).astype(a.dtype))
