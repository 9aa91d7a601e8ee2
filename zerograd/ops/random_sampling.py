"""Random sampling: rand, randn, randint, randperm, normal, bernoulli, multinomial, *_like.

Every function draws from a ``zerograd.Generator`` (the default one of the device it
creates on, seeded by ``zerograd.manual_seed``, unless ``generator=`` is given), never
from NumPy's global state, so the same seed gives the same numbers. The generator's
backend makes the draws, so they are born on that device (no host round trip); a
generator of another device than the one asked for is refused, as in torch.
"""
import builtins

from zerograd import dtypes
from zerograd.backend import array_module, backend_of, device_of
from zerograd.device import CPU, mixed_devices_error
from zerograd.ops._util import broadcast_shapes
from zerograd.ops.creation import _finish, _np_dtype, _shape, _write_out
from zerograd.random import rng_of
from zerograd.tensor import Tensor

__all__ = ["rand", "randn", "randint", "randperm", "normal", "rand_like", "randn_like",
           "randint_like", "bernoulli", "multinomial"]


def _rng(generator, device, out=None):
    """The random generator to draw with, for ``device`` (``out``'s device, else the CPU)."""
    if device is None:
        device = CPU if out is None else out.device
    return rng_of(generator, device)


def _float_dtype(dtype, name):
    d = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    if not d.is_floating_point:
        raise RuntimeError(f"{name}(): expected a floating point dtype, got {d.name}; use "
                           "randint for integers")
    return d


def rand(*args, size=None, generator=None, out=None, dtype=None, device=None,
         requires_grad=False):
    """Uniform samples from [0, 1)."""
    rng = _rng(generator, device, out)
    d = _float_dtype(dtype, "rand")
    array = rng.random(_shape(args, size, "rand")).astype(d.np, copy=False)
    return _write_out(_finish(array, requires_grad), out)


def randn(*args, size=None, generator=None, out=None, dtype=None, device=None,
          requires_grad=False):
    """Standard normal samples."""
    rng = _rng(generator, device, out)
    d = _float_dtype(dtype, "randn")
    array = rng.standard_normal(_shape(args, size, "randn")).astype(d.np, copy=False)
    return _write_out(_finish(array, requires_grad), out)


def randint(low=0, high=None, size=None, *, generator=None, out=None, dtype=None, device=None,
            requires_grad=False):
    """Integers uniform in [low, high): ``randint(high, size)`` or ``randint(low, high, size)``."""
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing required argument 'size' (a tuple of ints)")
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"randint(): argument 'size' must be tuple of ints, not "
                        f"{type(size).__name__}")
    low, high = builtins.int(low), builtins.int(high)
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} "
                           f">= to={high}")
    shape = _shape((size,), None, "randint")
    rng = _rng(generator, device, out)
    array = rng.integers(low, high, shape).astype(_np_dtype(dtype, dtypes.int64))
    return _write_out(_finish(array, requires_grad), out)


def randperm(n, *, generator=None, out=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of ``0 .. n-1`` (int64 by default)."""
    rng = _rng(generator, device, out)
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    array = rng.permutation(n).astype(_np_dtype(dtype, dtypes.int64))
    return _write_out(_finish(array, requires_grad), out)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, out=None, dtype=None, device=None,
           requires_grad=False):
    """Normal samples: ``mean``/``std`` tensors broadcast together, or numbers with ``size``.

    The draws are made on the device of the ``mean``/``std`` tensors (else ``device``).
    """
    tensors = [v for v in (mean, std) if isinstance(v, Tensor)]
    if tensors and size is not None:
        raise TypeError("normal(): size= is only allowed when mean and std are numbers; the "
                        "shape otherwise comes from the mean/std tensors")
    if not tensors and size is None:
        raise TypeError("normal(): with numbers for mean and std, give size= (a tuple of ints)")
    if len(tensors) == 2 and tensors[0].device != tensors[1].device:
        raise mixed_devices_error([tensors[0].device, tensors[1].device])
    if tensors and device is None:
        device = tensors[0].device
    rng = _rng(generator, device, out)
    m = mean._data if isinstance(mean, Tensor) else mean
    s = std._data if isinstance(std, Tensor) else std
    lowest = (float(s.min()) if s.size else 0.0) if isinstance(std, Tensor) else s
    if lowest < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {lowest}")
    if dtype is None:
        dtype = tensors[0].dtype if len(tensors) == 1 else (
            dtypes.promote_types(*[t.dtype for t in tensors]) if tensors else None)
    d = _float_dtype(dtype, "normal")
    shape = _shape((size,), None, "normal") if size is not None else \
        broadcast_shapes(getattr(m, "shape", ()), getattr(s, "shape", ()))
    draws = rng.standard_normal(shape)
    array = (m + s * draws).astype(d.np, copy=False)
    return _write_out(_finish(array, requires_grad), out)


def rand_like(input, dtype=None, generator=None, requires_grad=False, device=None):
    return rand(tuple(input.shape), generator=generator, dtype=dtype or input.dtype,
                requires_grad=requires_grad, device=device or input.device)


def randn_like(input, dtype=None, generator=None, requires_grad=False, device=None):
    return randn(tuple(input.shape), generator=generator, dtype=dtype or input.dtype,
                 requires_grad=requires_grad, device=device or input.device)


def randint_like(input, low=0, high=None, dtype=None, generator=None, requires_grad=False,
                 device=None):
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), generator=generator, dtype=dtype or input.dtype,
                   requires_grad=requires_grad, device=device or input.device)


def bernoulli(input, p=None, generator=None):
    """0/1 draws with probability ``input`` (or ``p``), in ``input``'s dtype, on its device."""
    data = input._data
    probs = data if p is None else array_module(data).full(data.shape, p)
    if probs.size and (probs.min() < 0 or probs.max() > 1):
        raise RuntimeError("bernoulli: probabilities must be in [0, 1]")
    draws = rng_of(generator, device_of(data)).random(probs.shape) < probs
    return Tensor._make(draws.astype(input._data.dtype), False, None)


def multinomial(input, num_samples, replacement=False, generator=None):
    """Category indices drawn from the rows of ``input`` (non-negative weights)."""
    backend = backend_of(input._data)
    xp = backend.xp
    probs = input._data.astype(dtypes.float64.np)
    if probs.ndim not in (1, 2):
        raise RuntimeError(f"prob_dist must be 1 or 2 dim, got {probs.ndim}")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    if probs.size == 0 or xp.any(probs < 0) or not xp.all(xp.isfinite(probs)):
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or "
                           "element < 0")
    rows = probs.reshape(-1, probs.shape[-1])
    n_rows, n_cats = rows.shape
    totals = rows.sum(axis=1, keepdims=True)
    if xp.any(totals <= 0):
        raise RuntimeError("multinomial: invalid multinomial distribution (sum of probabilities "
                           "<= 0)")
    rng = rng_of(generator, device_of(input._data))
    if replacement:
        # inverse-CDF sampling for all rows at once: offsetting row r's CDF by r keeps the
        # rows apart in one sorted array for searchsorted
        cdf = xp.cumsum(rows / totals, axis=1)
        cdf[:, -1] = 1.0
        offsets = xp.arange(n_rows)[:, None]
        u = rng.random((n_rows, num_samples))
        flat = xp.searchsorted((cdf + offsets).ravel(), (u + offsets).ravel(), side="right")
        out = xp.minimum(flat.reshape(n_rows, num_samples) - offsets * n_cats, n_cats - 1)
    else:
        if num_samples > n_cats:
            raise RuntimeError("multinomial: cannot sample n_sample > prob_dist.size(-1) "
                               "samples without replacement")
        # Gumbel-top-k: the k largest of log(p) + Gumbel noise are a draw without replacement
        with backend.errstate(divide="ignore"):
            keys = xp.log(rows) - xp.log(-xp.log(rng.random(rows.shape)))
        out = xp.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    return Tensor._make(out.reshape(probs.shape[:-1] + (num_samples,)).astype(
        dtypes.int64.np))
