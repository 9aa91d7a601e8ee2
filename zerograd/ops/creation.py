"""Tensor creation: from data, filled, ranges, identity, and random draws.

Sizes may be given as varargs (``zeros(2, 3)``), one tuple/list/Size (``zeros((2, 3))``) or
the ``size=`` keyword. Random functions draw from a ``zerograd.Generator`` (the default
one, seeded by ``zerograd.manual_seed``, unless ``generator=`` is given), never from
NumPy's global state.
"""
import builtins
import math
import operator

from zerograd import dtypes
from zerograd.backend import xp
from zerograd.device import check_device
from zerograd.random import rng_of
from zerograd.tensor import Tensor

__all__ = ["tensor", "as_tensor", "asarray", "from_numpy", "zeros", "ones", "full", "empty",
           "arange", "linspace", "logspace", "eye", "zeros_like", "ones_like",
           "full_like", "empty_like", "rand", "randn", "randint", "randperm", "normal",
           "rand_like", "randn_like", "randint_like", "bernoulli", "multinomial",
           "scalar_tensor"]

def _dtype_of_data(data):
    """torch.tensor's inference: Python floats -> default float, Python ints -> int64, bools
    -> bool; NumPy arrays/scalars and tensors inside the data keep their own dtypes."""
    if isinstance(data, Tensor):
        return data.dtype
    if isinstance(data, (xp.ndarray, xp.generic)):
        return dtypes.from_numpy_dtype(xp.asarray(data).dtype)
    found = _scan_leaves(data, set())
    if not found:
        return dtypes.get_default_dtype()  # empty data, as torch.tensor([])
    result = None
    for d in found:
        result = d if result is None else dtypes.promote_types(result, d)
    return result


def _scan_leaves(data, found):
    """The set of dtypes the leaves of nested lists ask for (stops early on plain numbers)."""
    for x in (data if isinstance(data, (list, tuple)) else (data,)):
        if isinstance(x, (list, tuple)):
            _scan_leaves(x, found)
        elif isinstance(x, builtins.bool) or (isinstance(x, xp.generic) and x.dtype == bool):
            found.add(dtypes.bool_)
        elif isinstance(x, (xp.ndarray, xp.generic)):
            found.add(dtypes.from_numpy_dtype(x.dtype))
        elif isinstance(x, builtins.int):
            found.add(dtypes.int64)
        elif isinstance(x, builtins.float):
            found.add(dtypes.get_default_dtype())
        else:
            raise TypeError(f"can't create a tensor from an element of type "
                            f"{type(x).__name__}; pass numbers, bools, nested lists or arrays")
    return found


def _finish(array, requires_grad):
    t = Tensor._make(array, False, None)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _unwrap(data):
    """Nested lists holding tensors -> nested lists holding arrays; a tensor -> its array."""
    if isinstance(data, Tensor):
        return data._data
    if isinstance(data, (list, tuple)):
        return [_unwrap(x) for x in data]
    return data


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of ``data`` (numbers, nested lists, arrays or tensors)."""
    check_device(device)
    data = _unwrap(data)
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
        dtypes.from_numpy_dtype(data.dtype)
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
    if dtype is not None:
        return dtypes.as_dtype(dtype).np
    return (default or dtypes.get_default_dtype()).np


def _shape(args, size, name):
    """The size from varargs or the ``size=`` keyword, as a tuple of non-negative ints."""
    if size is not None:
        if args:
            raise TypeError(f"{name}() got the size both as positional arguments and as size=")
        args = (size,)
    if not args:
        raise TypeError(f"{name}() missing 1 required positional arguments: \"size\"")
    items = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
    for s in items:
        if isinstance(s, (builtins.float, xp.floating, builtins.bool)) or not hasattr(
                s, "__index__"):
            raise TypeError(f"{name}(): size must be ints or one tuple of ints, but got "
                            f"{type(s).__name__} in {tuple(items)!r}")
    shape = tuple(operator.index(s) for s in items)
    if any(s < 0 for s in shape):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(shape)}: "
                           f"{list(shape)}")
    return shape


def _write_out(result, out):
    """Support for ``out=``: ``out`` takes the result's shape and values."""
    if out is None:
        return result
    out._data = result._data.astype(out._data.dtype, copy=False)
    out._bump_version()
    return out


def zeros(*args, size=None, out=None, dtype=None, device=None, requires_grad=False):
    """A tensor of zeros (default float dtype)."""
    check_device(device)
    array = xp.zeros(_shape(args, size, "zeros"), dtype=_np_dtype(dtype))
    return _write_out(_finish(array, requires_grad), out)


def ones(*args, size=None, out=None, dtype=None, device=None, requires_grad=False):
    """A tensor of ones (default float dtype)."""
    check_device(device)
    array = xp.ones(_shape(args, size, "ones"), dtype=_np_dtype(dtype))
    return _write_out(_finish(array, requires_grad), out)


def empty(*args, size=None, out=None, dtype=None, device=None, requires_grad=False,
          memory_format=None):
    """An uninitialized tensor (its values are whatever the memory held)."""
    check_device(device)
    array = xp.empty(_shape(args, size, "empty"), dtype=_np_dtype(dtype))
    return _write_out(_finish(array, requires_grad), out)


def full(size, fill_value, *, out=None, dtype=None, device=None, requires_grad=False):
    """A tensor filled with ``fill_value``; its dtype follows the value (bool, int64, float)."""
    check_device(device)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if dtype is None:
        dtype = dtypes.scalar_dtype(fill_value)
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"full(): argument 'size' must be tuple of ints, not "
                        f"{type(size).__name__}")
    array = xp.full(_shape((size,), None, "full"), fill_value, dtype=_np_dtype(dtype))
    return _write_out(_finish(array, requires_grad), out)


def _like(fn, input, dtype, requires_grad, device, **kw):
    # NumPy's *_like keep the input's memory layout, like torch's preserve_format
    check_device(device)
    return _finish(fn(input._data, dtype=_np_dtype(dtype, input.dtype), **kw), requires_grad)


def zeros_like(input, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _like(xp.zeros_like, input, dtype, requires_grad, device)


def ones_like(input, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _like(xp.ones_like, input, dtype, requires_grad, device)


def empty_like(input, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _like(xp.empty_like, input, dtype, requires_grad, device)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False, memory_format=None):
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return _like(xp.full_like, input, dtype, requires_grad, device, fill_value=fill_value)


def _number(v, name):
    v = v.item() if isinstance(v, Tensor) else v
    if not isinstance(v, (builtins.int, builtins.float, xp.integer, xp.floating)):
        raise TypeError(f"{name} must be a number, got {type(v).__name__}")
    return v


def arange(start, end=None, step=1, *, out=None, dtype=None, device=None, requires_grad=False):
    """``[start, start + step, ...]`` up to but excluding ``end``; int64 when all arguments
    are integers, else the default float dtype."""
    check_device(device)
    if end is None:
        start, end = 0, start
    start, end, step = (_number(v, n) for v, n in ((start, "start"), (end, "end"),
                                                   (step, "step")))
    if dtype is None:
        is_int = all(isinstance(v, (builtins.int, xp.integer)) for v in (start, end, step))
        dtype = dtypes.int64 if is_int else dtypes.get_default_dtype()
    d = dtypes.as_dtype(dtype)
    if not d.is_floating_point:  # torch casts the bounds to the integer type first
        start, end, step = builtins.int(start), builtins.int(end), builtins.int(step)
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if not all(math.isfinite(v) for v in (start, end)):
        raise RuntimeError(f"unsupported range: {start} -> {end}")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    if d.is_floating_point:
        # length and values computed in float64 (as torch does): arange(0, 1, 0.1) has 10
        n = math.ceil((end - start) / step)
        array = (start + step * xp.arange(n, dtype=xp.float64)).astype(d.np)
    else:
        array = xp.arange(start, end, step, dtype=d.np)
    return _write_out(_finish(array, requires_grad), out)


def linspace(start, end, steps, *, out=None, dtype=None, device=None, requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    check_device(device)
    start, end = _number(start, "start"), _number(end, "end")
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    values = xp.linspace(start, end, steps, dtype=xp.float64)
    d = _np_dtype(dtype)
    array = (xp.trunc(values) if d.kind in "iu" else values).astype(d)
    return _write_out(_finish(array, requires_grad), out)


def logspace(start, end, steps, base=10.0, *, out=None, dtype=None, device=None,
             requires_grad=False):
    """``base ** linspace(start, end, steps)``."""
    check_device(device)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    array = xp.logspace(start, end, steps, base=base, dtype=xp.float64).astype(_np_dtype(dtype))
    return _write_out(_finish(array, requires_grad), out)


def eye(n, m=None, *, out=None, dtype=None, device=None, requires_grad=False):
    """An ``n`` x ``m`` matrix with ones on the diagonal."""
    check_device(device)
    if n < 0 or (m is not None and m < 0):
        raise RuntimeError(f"n must be greater or equal to 0, got {n if n < 0 else m}")
    return _write_out(_finish(xp.eye(n, m, dtype=_np_dtype(dtype)), requires_grad), out)


# -- random -----------------------------------------------------------------------------------
def _float_dtype(dtype, name):
    d = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
    if not d.is_floating_point:
        raise RuntimeError(f"{name}(): expected a floating point dtype, got {d.name}; use "
                           "randint for integers")
    return d


def rand(*args, size=None, generator=None, out=None, dtype=None, device=None,
         requires_grad=False):
    """Uniform samples from [0, 1)."""
    check_device(device)
    d = _float_dtype(dtype, "rand")
    array = rng_of(generator).random(_shape(args, size, "rand")).astype(d.np, copy=False)
    return _write_out(_finish(array, requires_grad), out)


def randn(*args, size=None, generator=None, out=None, dtype=None, device=None,
          requires_grad=False):
    """Standard normal samples."""
    check_device(device)
    d = _float_dtype(dtype, "randn")
    array = rng_of(generator).standard_normal(_shape(args, size, "randn")).astype(d.np,
                                                                                   copy=False)
    return _write_out(_finish(array, requires_grad), out)


def randint(low=0, high=None, size=None, *, generator=None, out=None, dtype=None, device=None,
            requires_grad=False):
    """Integers uniform in [low, high): ``randint(high, size)`` or ``randint(low, high, size)``."""
    check_device(device)
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
    array = rng_of(generator).integers(low, high, shape).astype(_np_dtype(dtype, dtypes.int64))
    return _write_out(_finish(array, requires_grad), out)


def randperm(n, *, generator=None, out=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of ``0 .. n-1`` (int64 by default)."""
    check_device(device)
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    array = rng_of(generator).permutation(n).astype(_np_dtype(dtype, dtypes.int64))
    return _write_out(_finish(array, requires_grad), out)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, out=None, dtype=None, device=None,
           requires_grad=False):
    """Normal samples: ``mean``/``std`` tensors broadcast together, or numbers with ``size``."""
    check_device(device)
    tensors = [v for v in (mean, std) if isinstance(v, Tensor)]
    if tensors and size is not None:
        raise TypeError("normal(): size= is only allowed when mean and std are numbers; the "
                        "shape otherwise comes from the mean/std tensors")
    if not tensors and size is None:
        raise TypeError("normal(): with numbers for mean and std, give size= (a tuple of ints)")
    m = mean._data if isinstance(mean, Tensor) else mean
    s = std._data if isinstance(std, Tensor) else std
    if xp.any(xp.asarray(s) < 0):
        raise RuntimeError(f"normal expects std >= 0.0, but found std {xp.min(s)}")
    if dtype is None:
        dtype = tensors[0].dtype if len(tensors) == 1 else (
            dtypes.promote_types(*[t.dtype for t in tensors]) if tensors else None)
    d = _float_dtype(dtype, "normal")
    shape = _shape((size,), None, "normal") if size is not None else \
        xp.broadcast_shapes(xp.shape(m), xp.shape(s))
    draws = rng_of(generator).standard_normal(shape)
    array = (m + s * draws).astype(d.np, copy=False)
    return _write_out(_finish(xp.asarray(array), requires_grad), out)


def rand_like(input, dtype=None, generator=None, requires_grad=False, device=None):
    return rand(tuple(input.shape), generator=generator, dtype=dtype or input.dtype,
                requires_grad=requires_grad, device=device)


def randn_like(input, dtype=None, generator=None, requires_grad=False, device=None):
    return randn(tuple(input.shape), generator=generator, dtype=dtype or input.dtype,
                 requires_grad=requires_grad, device=device)


def randint_like(input, low=0, high=None, dtype=None, generator=None, requires_grad=False,
                 device=None):
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), generator=generator, dtype=dtype or input.dtype,
                   requires_grad=requires_grad, device=device)


def bernoulli(input, p=None, generator=None):
    """0/1 draws with probability ``input`` (or ``p``), in ``input``'s dtype."""
    probs = input._data if p is None else xp.full(input._data.shape, p)
    if probs.size and (xp.min(probs) < 0 or xp.max(probs) > 1):
        raise RuntimeError("bernoulli: probabilities must be in [0, 1]")
    draws = rng_of(generator).random(probs.shape) < probs
    return Tensor._make(draws.astype(input._data.dtype), False, None)


def multinomial(input, num_samples, replacement=False, generator=None):
    """Category indices drawn from the rows of ``input`` (non-negative weights)."""
    probs = input._data.astype(xp.float64)
    if probs.ndim not in (1, 2):
        raise RuntimeError(f"prob_dist must be 1 or 2 dim, got {probs.ndim}")
    if probs.size == 0 or xp.any(probs < 0) or not xp.all(xp.isfinite(probs)):
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or "
                           "element < 0")
    rows = probs.reshape(-1, probs.shape[-1])
    n_rows, n_cats = rows.shape
    totals = rows.sum(axis=1, keepdims=True)
    if xp.any(totals <= 0):
        raise RuntimeError("multinomial: invalid multinomial distribution (sum of probabilities "
                           "<= 0)")
    rng = rng_of(generator)
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
        with xp.errstate(divide="ignore"):
            keys = xp.log(rows) - xp.log(-xp.log(rng.random(rows.shape)))
        out = xp.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    return Tensor._make(out.reshape(probs.shape[:-1] + (num_samples,)).astype(xp.int64))
