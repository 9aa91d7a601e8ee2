"""``F.interpolate`` (nearest, nearest-exact, linear, bilinear, area) and the index rules
it shares with ``transforms.Resize``.

Resampling one spatial dim is a gather along it: nearest picks one source index per output
position, linear blends two neighbours with fixed weights. Both are ``index_select``
(whose gradient adds the copies back) times constant weights, so backward, forward mode and
higher derivatives come from those ops. Index rules are torch's (``area_pixel_compute_scale``
and ``nearest_idx`` in ATen), computed in the same float types so float32 results agree.
"""
import math

from zerograd.backend import array_module, get as _backend
from zerograd.ops import adaptive_avg_pool1d, adaptive_avg_pool2d, index_select
from zerograd.ops._util import const

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear"]

_LINEAR = {3: "linear", 4: "bilinear"}
_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "area")


def nearest_index(out_size, in_size, scale=None, exact=False, xp=None):
    """Source index of each output position; ``scale`` is 1/scale_factor when one was given.

    torch computes ``floor(i * scale)`` (or ``floor((i + 0.5) * scale)`` for nearest-exact)
    in float32, with exact shortcuts for equal and doubled sizes. ``xp``: the array module
    to build the index with (the host's when None, as ``transforms.Resize`` needs)."""
    xp = xp or _backend("cpu").xp
    if not exact and scale is None:
        if out_size == in_size:
            return xp.arange(out_size)
        if out_size == 2 * in_size:
            return xp.arange(out_size) >> 1
    step = xp.float32(scale) if scale is not None else xp.float32(in_size) / xp.float32(out_size)
    position = xp.arange(out_size, dtype=xp.float32) + (xp.float32(0.5) if exact else 0)
    idx = xp.floor(position * step).astype(xp.int64)
    return xp.minimum(idx, in_size - 1)


def linear_weights(out_size, in_size, dtype, align_corners=False, scale=None, xp=None):
    """``(i0, i1, w0, w1)``: output position i is ``w0 * x[i0] + w1 * x[i1]``.

    align_corners maps the corner pixels' centres onto each other; otherwise the half-pixel
    rule ``src = (i + 0.5) * scale - 0.5`` (clamped at 0) that Resize uses too. ``xp`` as
    for ``nearest_index``."""
    xp = xp or _backend("cpu").xp
    one = dtype.type(1)
    if align_corners:
        step = dtype.type(in_size - 1) / dtype.type(out_size - 1) if out_size > 1 else 0
        src = xp.arange(out_size, dtype=dtype) * dtype.type(step)
    else:
        step = dtype.type(scale) if scale is not None else dtype.type(in_size) / dtype.type(
            out_size)
        src = (xp.arange(out_size, dtype=dtype) + dtype.type(0.5)) * step - dtype.type(0.5)
        src = xp.maximum(src, dtype.type(0))
    i0 = xp.minimum(xp.floor(src).astype(xp.int64), in_size - 1)
    w1 = xp.clip(src - i0.astype(dtype), 0, 1).astype(dtype)
    i1 = xp.minimum(i0 + 1, in_size - 1)
    return i0, i1, (one - w1).astype(dtype), w1


def _per_dim(value, dims, name):
    if isinstance(value, (list, tuple)):
        if len(value) != dims:
            raise ValueError(f"Input and {name} must have the same number of spatial "
                             f"dimensions, but got input with spatial dimensions of "
                             f"{[None] * dims} and {name} of {list(value)}. Please provide "
                             f"input tensor in (N, C, d1, d2, ...,dK) format and {name} in "
                             f"(o1, o2, ...,oK) format.")
        return list(value)
    return [value] * dims


def _sizes_and_scales(input, size, scale_factor, recompute_scale_factor):
    dims = input.dim() - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if size is not None:
        sizes = [int(s) for s in _per_dim(size, dims, "size")]
        return sizes, [None] * dims
    factors = [float(f) for f in _per_dim(scale_factor, dims, "scale_factor")]
    if any(not f > 0 for f in factors):
        raise ValueError(f"scale_factor must be positive, got {scale_factor}")
    sizes = [math.floor(float(n) * f) for n, f in zip(input.shape[2:], factors)]
    scales = [None] * dims if recompute_scale_factor else [1.0 / f for f in factors]
    return sizes, scales


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims of an ``(N, C, L)`` or ``(N, C, H, W)`` tensor, like
    ``torch.nn.functional.interpolate``."""
    if mode not in _MODES:
        raise ValueError(f"interpolate: mode '{mode}' is not supported; use one of "
                         f"{', '.join(_MODES)}")
    if align_corners is not None and mode not in ("linear", "bilinear"):
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if antialias:
        raise ValueError("interpolate(antialias=True) is not supported by zerograd")
    if input.dim() not in (3, 4):
        raise ValueError(f"interpolate expects a 3-D (N, C, L) or 4-D (N, C, H, W) input, got "
                         f"{input.dim()}-D input of shape {tuple(input.shape)}")
    if mode in ("linear", "bilinear") and _LINEAR[input.dim()] != mode:
        raise ValueError(f"Got {input.dim()}D input, but {mode} mode needs "
                         f"{3 if mode == 'linear' else 4}D input")
    sizes, scales = _sizes_and_scales(input, size, scale_factor, recompute_scale_factor)
    if any(s <= 0 for s in sizes):
        raise ValueError(f"interpolate: output size {tuple(sizes)} must be positive; input "
                         f"spatial size {tuple(input.shape[2:])}")
    if mode == "area":
        pool = adaptive_avg_pool1d if input.dim() == 3 else adaptive_avg_pool2d
        return pool(input, sizes[0] if input.dim() == 3 else tuple(sizes))
    if not input.is_floating_point() and mode in ("linear", "bilinear"):
        raise RuntimeError(f"interpolate: {mode} mode needs a floating point input, got "
                           f"{input.dtype}")
    out, xp = input, array_module(input)
    # the last dim first: the order of torch's kernels, so float32 roundings agree
    for axis, out_size, scale in reversed(list(zip(range(2, input.dim()), sizes, scales))):
        in_size = input.shape[axis]
        if mode.startswith("nearest"):
            index = nearest_index(out_size, in_size, scale, exact=mode == "nearest-exact",
                                  xp=xp)
            out = index_select(out, axis, const(index))
            continue
        i0, i1, w0, w1 = linear_weights(out_size, in_size, input.dtype.np,
                                        bool(align_corners), scale, xp=xp)
        shape = (-1,) + (1,) * (input.dim() - 1 - axis)
        out = (index_select(out, axis, const(i0)) * const(w0.reshape(shape))
               + index_select(out, axis, const(i1)) * const(w1.reshape(shape)))
    return out


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated torch alias of ``interpolate``."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
