"""``nn.init``: in-place initializers with PyTorch's names, arguments and distributions.

Every function fills its tensor on the tensor's device without recording autograd
history (as under ``no_grad``), draws from ``generator`` (the default generator of the
tensor's device when None) and returns the tensor. Values differ from torch's (different
random streams) but follow the same distributions, so training behaves the same.
"""
import math
import warnings

from zerograd.backend import array_module, device_of
from zerograd.random import rng_of
from zerograd.tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_",
           "zeros_", "eye_", "dirac_", "xavier_uniform_", "xavier_normal_",
           "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_",
           "uniform", "normal", "constant", "eye", "dirac", "xavier_uniform",
           "xavier_normal", "kaiming_uniform", "kaiming_normal", "orthogonal", "sparse"]


def _check(tensor, fn):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"nn.init.{fn}() expects a zerograd Tensor (e.g. layer.weight), got "
                        f"{type(tensor).__name__}")


def _write(tensor, values):
    """Store ``values`` (a number or an array of the tensor's device) into the tensor's
    memory: the untracked fast path of no_grad."""
    tensor._data[...] = values
    tensor._bump_version()
    return tensor


def _rng(generator, tensor):
    """The random generator drawing on ``tensor``'s device."""
    return rng_of(generator, device=device_of(tensor._data))


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for ``nonlinearity`` (relu: sqrt(2), tanh: 5/3, ...)."""
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                  "conv_transpose2d", "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight: dims 1 and 0 times the receptive field (dims 2+)."""
    dimensions = tensor.dim()
    if dimensions < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         f"dimensions (got shape {tuple(tensor.shape)})")
    receptive_field_size = 1
    for s in tuple(tensor.shape)[2:]:
        receptive_field_size *= s
    return tensor.shape[1] * receptive_field_size, tensor.shape[0] * receptive_field_size


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _draws_in_place(data):
    # The generator can sample float32/float64 straight into contiguous memory, skipping a
    # float64 temporary and a cast: 3x faster on big layers (AlexNet's 42M fc weights).
    return data.dtype.kind == "f" and data.dtype.itemsize in (4, 8) and data.flags.c_contiguous


def _affine(tensor, scale, shift):
    tensor._data *= scale
    tensor._data += shift
    tensor._bump_version()
    return tensor


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with U(a, b)."""
    _check(tensor, "uniform_")
    data = tensor._data
    if _draws_in_place(data):
        _rng(generator, tensor).random(out=data, dtype=data.dtype)
        return _affine(tensor, b - a, a)
    return _write(tensor, _rng(generator, tensor).uniform(a, b, data.shape))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with N(mean, std^2)."""
    _check(tensor, "normal_")
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    data = tensor._data
    if _draws_in_place(data):
        _rng(generator, tensor).standard_normal(out=data, dtype=data.dtype)
        return _affine(tensor, std, mean)
    return _write(tensor, _rng(generator, tensor).normal(mean, std, data.shape))


# Acklam's rational approximation of the standard normal quantile (relative error < 1.2e-9).
_A = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
      1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00)
_B = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
      6.680131188771972e+01, -1.328068155288572e+01, 1.0)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
      -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
      3.754408661907416e+00, 1.0)


def _poly(coeffs, x):
    out = array_module(x).zeros_like(x)
    for c in coeffs:
        out = out * x + c
    return out


def _ndtri(p):
    """Inverse of the standard normal CDF, vectorized, for p in (0, 1)."""
    xp = array_module(p)
    p = xp.clip(p, 1e-300, 1 - 1e-16)
    low = xp.minimum(p, 1 - p)  # use the lower tail of both sides: symmetric
    q = xp.sqrt(-2 * xp.log(low))
    tail = _poly(_C, q) / _poly(_D, q)
    r = (p - 0.5) ** 2
    central = _poly(_A, r) * (p - 0.5) / _poly(_B, r)
    tail = xp.where(p < 0.5, tail, -tail)
    return xp.where(low < 0.02425, tail, central)


def _norm_cdf(x):
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with N(mean, std^2) truncated to [a, b] (inverse-CDF sampling, like torch)."""
    _check(tensor, "trunc_normal_")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The "
                      "distribution of values may be incorrect.", stacklevel=2)
    lo, hi = (a - mean) / std, (b - mean) / std
    flip = lo > 0  # sample the mirrored lower tail, where the CDF keeps its precision
    if flip:
        lo, hi = -hi, -lo
    u = _rng(generator, tensor).uniform(_norm_cdf(lo), _norm_cdf(hi), tensor._data.shape)
    z = _ndtri(u)
    if flip:
        z = -z
    return _write(tensor, array_module(z).clip(mean + std * z, a, b))


def constant_(tensor, val):
    _check(tensor, "constant_")
    return _write(tensor, val)


def ones_(tensor):
    return constant_(tensor, 1.0)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def eye_(tensor):
    """Fill a 2-D tensor with the identity (ones on the diagonal)."""
    _check(tensor, "eye_")
    if tensor.dim() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _write(tensor, array_module(tensor).eye(*tensor._data.shape))


def dirac_(tensor, groups=1):
    """Fill a 3-5-D conv weight so the convolution is the identity (per group)."""
    _check(tensor, "dirac_")
    dims = tensor.dim()
    if dims not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    shape = tensor._data.shape
    if shape[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    out_per_group = shape[0] // groups
    min_dim = min(out_per_group, shape[1])
    xp = array_module(tensor)
    values = xp.zeros(shape)
    g, d = xp.meshgrid(xp.arange(groups), xp.arange(min_dim), indexing="ij")
    centers = tuple(s // 2 for s in shape[2:])
    values[((g * out_per_group + d).ravel(), d.ravel()) + centers] = 1
    return _write(tensor, values)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def _kaiming_std(tensor, a, mode, nonlinearity, fn):
    _check(tensor, fn)
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    fan = _calculate_correct_fan(tensor, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He uniform: U(-bound, bound), bound = gain * sqrt(3 / fan).

    With ``a=sqrt(5)`` (nn.Linear's default) the bound is ``1 / sqrt(fan_in)``.
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He normal: N(0, std^2), std = gain / sqrt(fan)."""
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    if std is None:
        return tensor
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor, gain=1, generator=None):
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one, times gain."""
    _check(tensor, "orthogonal_")
    if tensor.dim() < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    xp = array_module(tensor)
    flat = _rng(generator, tensor).normal(0.0, 1.0, (rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = xp.linalg.qr(flat)
    # sign fix makes the distribution uniform (Haar) over orthogonal matrices
    q = q * xp.sign(xp.diag(r))
    if rows < cols:
        q = q.T
    return _write(tensor, (gain * q).reshape(tensor._data.shape))


def sparse_(tensor, sparsity, std=0.01, generator=None):
    """A 2-D N(0, std^2) matrix with a fraction ``sparsity`` of each column set to zero."""
    _check(tensor, "sparse_")
    if tensor.dim() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = tensor._data.shape
    num_zeros = int(math.ceil(sparsity * rows))
    rng, xp = _rng(generator, tensor), array_module(tensor)
    values = rng.normal(0.0, std, (rows, cols))
    # a random permutation of the rows of each column: its first num_zeros rows are zeroed
    order = xp.argsort(rng.random((rows, cols)), axis=0)[:num_zeros]
    values[order, xp.arange(cols)[None, :]] = 0
    return _write(tensor, values)


def _deprecated(fn):
    new_name = fn.__name__

    def deprecated(*args, **kwargs):
        warnings.warn(f"`nn.init.{new_name[:-1]}` is now deprecated in favor of "
                      f"`nn.init.{new_name}`.", FutureWarning, stacklevel=2)
        return fn(*args, **kwargs)
    deprecated.__name__ = new_name[:-1]
    return deprecated


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
eye = _deprecated(eye_)
dirac = _deprecated(dirac_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
sparse = _deprecated(sparse_)
