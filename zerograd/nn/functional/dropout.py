"""Dropout: zero each element (or each whole channel) with probability ``p`` while
training, and scale the survivors by ``1 / (1 - p)`` so the expected value is unchanged;
at evaluation time the input passes through untouched.

The mask is drawn on the input's device from that device's default generator
(``zerograd.manual_seed`` makes it repeatable) and enters the graph as a constant factor,
so the gradient is the same mask times the incoming gradient.
"""
from zerograd.backend import array_module, device_of
from zerograd.ops._util import const
from zerograd.ops.inplace import inplace as _inplace
from zerograd.random import rng_of

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "feature_alpha_dropout",
           "alpha_dropout"]


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _draw_uniform(a, shape):
    """U(0, 1) draws of ``shape`` on the device of the array ``a`` (its default generator)."""
    return rng_of(None, device=device_of(a)).random(shape)


def _apply_mask(input, mask_shape, p, inplace):
    a = input._data
    if p == 1.0:
        factor = array_module(a).zeros(mask_shape, dtype=a.dtype)
    else:
        keep = _draw_uniform(a, mask_shape) >= p
        factor = keep.astype(a.dtype) * a.dtype.type(1.0 / (1.0 - p))
    factor = const(factor)
    if inplace:
        return _inplace(input, lambda x: x * factor)
    return input * factor


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` (training only), scale the rest by 1/(1-p)."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    return _apply_mask(input, input._data.shape, p, inplace)


def _feature_dropout(input, p, training, inplace, name, batched_ndim):
    _check_p(p)
    if input.ndim not in (batched_ndim - 1, batched_ndim):
        raise RuntimeError(f"{name}: Expected {batched_ndim - 1}D or {batched_ndim}D input, but "
                           f"received a {input.ndim}D input of shape {tuple(input.shape)}")
    if not training or p == 0.0:
        return input
    # one draw per (sample, channel): the mask broadcasts over the spatial dims
    lead = 2 if input.ndim == batched_ndim else 1
    shape = input._data.shape[:lead] + (1,) * (input.ndim - lead)
    return _apply_mask(input, shape, p, inplace)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, L) or (C, L) input."""
    return _feature_dropout(input, p, training, inplace, "dropout1d", 3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, H, W) or (C, H, W) input."""
    if input.ndim == 3:
        import warnings
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that "
                      "channel-wise 1D dropout behavior is desired - input is interpreted as "
                      "shape (N, C, L), where C is the channel dim. This behavior will change "
                      "in a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout "
                      "behavior, please switch to using dropout1d instead.", stacklevel=2)
        return _feature_dropout(input, p, training, inplace, "dropout2d", 3)
    return _feature_dropout(input, p, training, inplace, "dropout2d", 4)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input."""
    return _feature_dropout(input, p, training, inplace, "dropout3d", 5)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _alpha_dropout(input, p, training, mask_shape):
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0
    # dropped units take SELU's negative saturation value; a, b restore mean 0 / variance 1
    alpha_p = -_SELU_ALPHA * _SELU_SCALE
    a = (1 - p) * (1 + p * alpha_p ** 2)
    a = a ** -0.5
    b = -a * alpha_p * p
    keep = _draw_uniform(input._data, mask_shape) >= p
    dt = input._data.dtype
    scale = const((keep * a).astype(dt))
    shift = const((~keep * (alpha_p * a) + b).astype(dt))
    return input * scale + shift


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout that keeps SELU networks' self-normalizing mean and variance."""
    return _alpha_dropout(input, p, training, input._data.shape)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    shape = input._data.shape[:2] + (1,) * (input.ndim - 2)
    return _alpha_dropout(input, p, training, shape)
