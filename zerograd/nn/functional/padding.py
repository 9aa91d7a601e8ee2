"""``F.pad``: constant padding of any trailing dims (negative amounts crop), and
reflect / replicate / circular padding of the 1-3 trailing spatial dims.

Constant padding is the op ``zerograd.ops.constant_pad_nd``. The other modes become an
index lookup per padded dim (``index_select`` with an index built on the input's device),
whose gradient adds the copies back.
"""
from zerograd.backend import array_module
from zerograd.ops._util import const
from zerograd.ops import index_select
from zerograd.ops.padding import constant_pad_nd
from zerograd.tensor import Tensor

__all__ = ["pad"]


def _pairs(pad, ndim, mode):
    if len(pad) % 2:
        raise ValueError(f"Padding length must be divisible by 2, got {len(pad)} values: "
                         f"{tuple(pad)}")
    if len(pad) // 2 > ndim:
        raise ValueError(f"Padding length {len(pad)} is too large for a {ndim}-D input: it "
                         f"pads at most {2 * ndim} values (two per dim)")
    pairs = [(0, 0)] * ndim
    # pad lists the LAST dim first: (left, right, top, bottom, ...)
    for i in range(len(pad) // 2):
        pairs[ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    return pairs


def _index_for(xp, mode, size, before, after, dim):
    if mode == "reflect":
        if before >= size or after >= size:
            raise RuntimeError(f"Padding size should be less than the corresponding input "
                               f"dimension, but got: padding ({before}, {after}) at dimension "
                               f"{dim} of size {size}")
        np_mode = "reflect"
    elif mode == "replicate":
        if size == 0:
            raise RuntimeError(f"pad: replicate padding needs a non-empty dimension {dim}")
        np_mode = "edge"
    else:
        if before > size or after > size:
            raise RuntimeError(f"Padding value causes wrapping around more than once: "
                               f"({before}, {after}) at dimension {dim} of size {size}")
        np_mode = "wrap"
    return xp.pad(xp.arange(size), (before, after), mode=np_mode)


def pad(input, pad, mode="constant", value=None):
    """Pad ``input``; ``pad`` = (last_before, last_after, second_last_before, ...).

    ``mode='constant'`` fills with ``value`` (0 by default) and accepts any number of
    dims and negative amounts (cropping). ``'reflect'``, ``'replicate'`` and
    ``'circular'`` pad the trailing 1-3 dims of a 2-5-D input, as in torch.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"pad(): argument 'input' must be a Tensor, not {type(input).__name__}")
    pairs = _pairs(pad, input.ndim, mode)
    if mode == "constant":
        fill = 0 if value is None else value
        for (b, e), s in zip(pairs, input.shape):
            if s + b + e < 0:
                raise RuntimeError(f"pad: cropping ({b}, {e}) from a dimension of size {s} "
                                   "leaves a negative size")
        return constant_pad_nd(input, pad, fill)
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"pad: unrecognised padding mode {mode!r}; use 'constant', "
                         "'reflect', 'replicate' or 'circular'")
    if value is not None and value != 0:
        raise ValueError(f'Padding mode "{mode}" doesn\'t take in value argument')
    n_padded = len(pad) // 2
    if not 1 <= n_padded <= 3 or input.ndim not in (n_padded + 1, n_padded + 2):
        raise RuntimeError(
            f"pad: {mode} padding of {n_padded} dim(s) needs a {n_padded + 1}-D or "
            f"{n_padded + 2}-D input (unbatched or batched), got shape {tuple(input.shape)}")
    out = input
    for d in range(input.ndim - n_padded, input.ndim):
        b, e = pairs[d]
        if b == 0 and e == 0:
            continue
        if b < 0 or e < 0:
            raise RuntimeError(f"pad: negative padding is only supported in constant mode, "
                               f"got ({b}, {e}) for {mode}")
        idx = _index_for(array_module(input), mode, out.shape[d], b, e, d)
        out = index_select(out, d, const(idx))
    return out
