"""Tensor creation: from data, filled, ranges, identity, and random draws.

Random functions draw from a ``zerograd.Generator`` (the default one, seeded by
``zerograd.manual_seed``), never from NumPy's global state.
"""
import builtins
import math

from zerograd import dtypes
from zerograd.backend import xp
from zerograd.device import check_device
from zerograd.ops._util import shape_arg
from zerograd.random import rng_of
from zerograd.tensor import Tensor

__all__ = ["tensor", "as_tensor", "asarray", "from_numpy", "zeros", "ones", "full", "empty",
           "arange", "linspace", "logspace", "eye", "zeros_like", "ones_like", "full_like",
           "empty_like", "rand", "randn", "randint", "randperm", "normal", "rand_like",
           "randn_like", "randint_like", "bernoulli", "multinomial", "scalar_tensor"]


def _dtype_of_data(data):
    """torch.tensor's inference: Python floats -> default float, NumPy arrays keep theirs."""
    if isinstance(data, Tensor):
        return data.dtype
    if isinstance(data, (xp.ndarray, xp.generic)):
        return dtypes.from_numpy_dtype(xp.asarray(data).dtype)
    kind = xp.asarray(data).dtype.kind
    if kind == "b":
        return dtypes.bool_
    if kind in "iu":
        return dtypes.int64
    if kind == "f":
        return dtypes.get_default_dtype()
    raise TypeError(f"can't create a tensor from {type(data).__name__} of element kind "
                    f"{kind!r}; pass numbers, bools, nested lists or arrays")


def _finish(array, requires_grad):
    t = Tensor._make(array, False, None)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of ``data`` (numbers, nested lists, arrays or tensors)."""
    check_device(device)
    if isinstance(data, Tensor):
        data = data._data
    elif isinstance(data, (list, tuple)) and data and any(isinstance(x, Tensor) for x in data):
        data = [x._data if isinstance(x, Tensor) else x for x in data]
    d = dtypes.as_dtype(dtype) if dtype is not None else _dtype_of_data(data)
    try:
        array = xp.array(data, dtype=d.np)
    except (ValueError, TypeError) as err:
        raise ValueError(f"can't build a tensor from this data ({err}); nested lists must be "
                         "rectangular and hold numbers") from None
    return _finish(array, requires_grad)


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor`` but shares memory with a NumPy array or tensor when no cast is needed."""
    check_device(device)
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, xp.ndarray) and (dtype is None or dtypes.as_dtype(dtype).np == data.dtype):
        return Tensor._make(data, False, None)
    return tensor(data, dtype=dtype)


asarray = as_tensor


def from_numpy(array):
    """A tensor sharing memory with ``array`` (changes to one show in the other)."""
    if not isinstance(array, xp.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    dtypes.from_numpy_dtype(array.dtype)
    return Tensor._make(array, False, None)


def scalar_tensor(value, dtype=None, device=None, requires_grad=False):
    return tensor(value, dtype=dtype or dtypes.get_default_dtype(), requires_grad=requires_grad)


def _np_dtype(dtype, default=None):
    return (dtypes.as_dtype(dtype) if dtype is not None else default or
            dtypes.get_default_dtype()).np


def _filled(fn, size, dtype, device, requires_grad, **kw):
    check_device(device)
    shape = shape_arg(size)
    if any(s < 0 for s in shape):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(shape)}: "
                           f"{list(shape)}")
    return _finish(fn(shape, dtype=_np_dtype(dtype), **kw), requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None):
    return _filled(xp.zeros, size, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None):
    return _filled(xp.ones, size, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _filled(xp.empty, size, dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = dtypes.scalar_dtype(fill_value.item() if isinstance(fill_value, Tensor)
                                    else fill_value)
    return _filled(xp.full, (size,), dtype, device, requires_grad, fill_value=fill_value)


def _like(fn, input, dtype, requires_grad, **kw):
    return _finish(fn(input._data.shape, dtype=_np_dtype(dtype, input.dtype), **kw), requires_grad)


def zeros_like(input, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _like(xp.zeros, input, dtype, requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _like(xp.ones, input, dtype, requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _like(xp.empty, input, dtype, requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _like(xp.full, input, dtype, requires_grad, fill_value=fill_value)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    check_device(device)
    if end is None:
        start, end = 0, start
    values = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if dtype is None:
        is_int = all(isinstance(v, (builtins.int, xp.integer)) for v in values)
        dtype = dtypes.int64 if is_int else dtypes.get_default_dtype()
    d = dtypes.as_dtype(dtype)
    # compute in float64 like torch, so arange(0, 1, 0.1) has the same length
    n = builtins.max(0, math.ceil((values[1] - values[0]) / values[2]))
    array = (values[0] + values[2] * xp.arange(n, dtype=xp.float64)).astype(d.np) \
        if d.is_floating_point else xp.arange(values[0], values[1], values[2], dtype=d.np)
    return _finish(array, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    check_device(device)
    return _finish(xp.linspace(start, end, steps, dtype=_np_dtype(dtype)), requires_grad)


def logspace(start, end, steps, base=10.0, dtype=None, device=None, requires_grad=False):
    check_device(device)
    return _finish(xp.logspace(start, end, steps, base=base, dtype=_np_dtype(dtype)),
                   requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    check_device(device)
    return _finish(xp.eye(n, m, dtype=_np_dtype(dtype)), requires_grad)


# -- random -----------------------------------------------------------------------------------
def _random(draw, size, dtype, generator, requires_grad, device=None):
    check_device(device)
    shape = shape_arg(size)
    array = draw(rng_of(generator), shape).astype(_np_dtype(dtype), copy=False)
    return _finish(xp.asarray(array), requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform samples from [0, 1)."""
    return _random(lambda rng, s: rng.random(s, dtype=xp.float64), size, dtype, generator,
                   requires_grad, device)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Standard normal samples."""
    return _random(lambda rng, s: rng.standard_normal(s), size, dtype, generator,
                   requires_grad, device)


def randint(low, high=None, size=None, generator=None, dtype=None, device=None,
            requires_grad=False):
    """Integers in [low, high): ``randint(high, size)`` or ``randint(low, high, size)``."""
    if size is None:
        if isinstance(high, (tuple, list)):
            low, high, size = 0, low, high
        else:
            raise TypeError("randint() missing required argument 'size' (a tuple of ints)")
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} "
                           f">= to={high}")
    return _random(lambda rng, s: rng.integers(low, high, s), (tuple(size),),
                   dtype or dtypes.int64, generator, requires_grad, device)


def randperm(n, generator=None, dtype=None, device=None, requires_grad=False):
    check_device(device)
    return _finish(rng_of(generator).permutation(n).astype(_np_dtype(dtype, dtypes.int64)),
                   requires_grad)


def normal(mean=0.0, std=1.0, size=None, generator=None, dtype=None, requires_grad=False):
    """Normal samples; ``mean``/``std`` may be tensors (broadcast) or numbers with ``size``."""
    m = mean._data if isinstance(mean, Tensor) else mean
    s = std._data if isinstance(std, Tensor) else std
    if size is None:
        size = xp.broadcast_shapes(xp.shape(m), xp.shape(s))
    if dtype is None and isinstance(mean, Tensor):
        dtype = mean.dtype
    return _random(lambda rng, shp: rng.normal(m, s, shp), (tuple(size),), dtype, generator,
                   requires_grad)


def rand_like(input, dtype=None, generator=None, requires_grad=False):
    return rand(input.shape, generator=generator, dtype=dtype or input.dtype,
                requires_grad=requires_grad)


def randn_like(input, dtype=None, generator=None, requires_grad=False):
    return randn(input.shape, generator=generator, dtype=dtype or input.dtype,
                 requires_grad=requires_grad)


def randint_like(input, low, high=None, dtype=None, generator=None):
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), generator=generator, dtype=dtype or input.dtype)


def bernoulli(input, p=None, generator=None):
    probs = input._data if p is None else xp.full(input.shape, p)
    draws = rng_of(generator).random(probs.shape) < probs
    return Tensor._make(draws.astype(input._data.dtype), False, None)


def multinomial(input, num_samples, replacement=False, generator=None):
    probs = input._data.astype(xp.float64)
    if xp.any(probs < 0) or not xp.all(xp.isfinite(probs)):
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or "
                           "element < 0")
    rows = probs.reshape(-1, probs.shape[-1])
    rng = rng_of(generator)
    if not replacement and num_samples > rows.shape[1]:
        raise RuntimeError("multinomial: cannot sample n_sample > prob_dist.size(-1) samples "
                           "without replacement")
    out = xp.stack([rng.choice(rows.shape[1], num_samples, replace=replacement, p=r / r.sum())
                    for r in rows])
    return Tensor._make(out.reshape(probs.shape[:-1] + (num_samples,)).astype(xp.int64))
