"""Tensor creation: from data, filled, ranges and identity (random draws: ``random_sampling``).

Sizes may be given as varargs (``zeros(2, 3)``), one tuple/list/Size (``zeros((2, 3))``) or
the ``size=`` keyword.
"""
import builtins
import math
import operator

from zerograd import dtypes
from zerograd.backend import xp
from zerograd.backend import cpu, is_array
from zerograd.device import check_device, resolve
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
    kinds = _leaf_types(data, set())
    found = {_dtype_of_leaf(kind) for kind in kinds if kind is not xp.ndarray}
    if xp.ndarray in kinds:  # tensors inside the list (unwrapped to arrays) keep their dtype
        _array_leaf_dtypes(data, found)
    if not found:
        return dtypes.get_default_dtype()  # empty data, as torch.tensor([])
    result = None
    for d in found:
        result = d if result is None else dtypes.promote_types(result, d)
    return result


def _leaf_types(data, types):
    """The Python types of the leaves of nested lists (one C-level pass per list)."""
    if not isinstance(data, (list, tuple)):
        types.add(type(data))
        return types
    kinds = set(map(type, data))
    if list in kinds or tuple in kinds:
        for x in data:
            if type(x) in (list, tuple):
                _leaf_types(x, types)
        kinds -= {list, tuple}
    types |= kinds
    return types


def _dtype_of_leaf(kind):
    if kind is builtins.bool:
        return dtypes.bool_
    if issubclass(kind, builtins.int):
        return dtypes.int64
    if issubclass(kind, builtins.float) and not issubclass(kind, xp.generic):
        return dtypes.get_default_dtype()
    if issubclass(kind, xp.generic):
        return dtypes.from_numpy_dtype(xp.dtype(kind))
    raise TypeError(f"can't create a tensor from an element of type {kind.__name__}; pass "
                    "numbers, bools, nested lists or arrays")


def _array_leaf_dtypes(data, found):
    for x in data if isinstance(data, (list, tuple)) else (data,):
        if isinstance(x, (list, tuple)):
            _array_leaf_dtypes(x, found)
        elif isinstance(x, xp.ndarray):
            found.add(dtypes.from_numpy_dtype(x.dtype))


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
    """A new tensor holding a copy of ``data`` (numbers, nested lists, arrays or tensors).

    The values are gathered on the host and then placed on ``device``; a tensor (or a
    device array) stays on its own device unless ``device`` says otherwise.
    """
    backend, index = resolve(device)
    if isinstance(data, Tensor) or (is_array(data) and not isinstance(data, cpu.array_types)):
        source = data if isinstance(data, Tensor) else Tensor._make(data)
        moved = source.detach().to(device=device, dtype=dtype, copy=True)
        return _finish(moved._data, requires_grad)
    if isinstance(data, (list, tuple)) and Tensor in _leaf_types(data, set()):
        data = _unwrap(data)  # rebuilding the lists costs; only done when tensors are inside
    d = dtypes.as_dtype(dtype) if dtype is not None else _dtype_of_data(data)
    try:
        array = cpu.xp.array(data, dtype=d.np)
    except (ValueError, TypeError) as err:
        raise ValueError(f"can't build a tensor from this data ({err}); nested lists must be "
                         "rectangular and hold numbers") from None
    if backend is not cpu:
        array = backend.from_host(array, index)
    return _finish(array, requires_grad)


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor`` but shares memory with a NumPy array or tensor when no cast is needed."""
    backend, _ = resolve(device)
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    if (isinstance(data, backend.array_type) and backend.array_type is type(data)
            and (dtype is None or dtypes.as_dtype(dtype).np == data.dtype)):
        dtypes.from_numpy_dtype(data.dtype)
        return Tensor._make(data, False, None)
    return tensor(data, dtype=dtype, device=device)


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


# Random sampling shares the size handling above, so it is imported after it.
from zerograd.ops.random_sampling import (bernoulli, multinomial, normal, rand,  # noqa: E402
                                          rand_like, randint, randint_like, randn, randn_like,
                                          randperm)
