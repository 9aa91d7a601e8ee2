"""Order-based and counting ops: sort, argsort, topk, unique, nonzero, bincount, histc.

Sorted values are a ``gather`` of the input at the sorting permutation, so their gradient
flows back to the positions the values came from; indices, unique values and nonzero
positions are integer results without gradient; so are counts and histograms (torch
defines no gradient for them either).
"""
import math

from zerograd._aliases import numpy_aliases
from zerograd import dtypes, return_types
from zerograd.backend import array_module
from zerograd.ops._util import const, normalize_dim
from zerograd.ops.scatter import gather

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


@numpy_aliases
def sort(input, dim=-1, descending=False, stable=False):
    """``(values, indices)`` sorted along ``dim``; values are differentiable."""
    indices = argsort(input, dim, descending)
    if input.ndim == 0:
        return return_types.sort(input.clone(), indices)
    return return_types.sort(gather(input, dim, indices), indices)


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (or smallest) entries along ``dim`` and their indices."""
    d = normalize_dim(dim, input.ndim) if input.ndim else 0
    n = input.shape[d] if input.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"selected index k out of range: k={k} but dimension {d} has size "
                           f"{n}")
    xp = array_module(input)
    if input.ndim == 0:
        return return_types.topk(input.clone(), const(xp.zeros((), _INT64)))
    order = _sort_index(input._data, d, largest)
    indices = const(xp.take(order, xp.arange(k), axis=d).astype(_INT64, copy=False))
    return return_types.topk(gather(input, d, indices), indices)


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
