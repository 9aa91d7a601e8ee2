"""Tensor creation: from data, filled, ranges and identity (random draws: ``random_sampling``).

Sizes may be given as varargs (``zeros(2, 3)``), one tuple/list/Size (``zeros((2, 3))``) or
the ``size=`` keyword. Every function takes ``device=`` and builds its array with that
device's array module (``*_like`` default to the input's device, ``out=`` to its own);
data given as Python values is gathered on the host first.
"""
import builtins
import math
import operator

from zerograd import dtypes
from zerograd.backend import backend_of, cpu, is_array, to_host
from zerograd.device import resolve
from zerograd.tensor import Tensor

# Python data (numbers, nested lists, NumPy arrays and scalars) is read on the host.
_host = cpu.xp

__all__ = ["tensor", "as_tensor", "asarray", "from_numpy", "zeros", "ones", "full", "empty",
           "arange", "linspace", "logspace", "eye", "zeros_like", "ones_like",
           "full_like", "empty_like", "scalar_tensor"]

def _dtype_of_data(data):
    """torch.tensor's inference: Python floats -> default float, Python ints -> int64, bools
    -> bool; NumPy arrays/scalars and tensors inside the data keep their own dtypes."""
    if isinstance(data, Tensor):
        return data.dtype
    if isinstance(data, (_host.ndarray, _host.generic)):
        return dtypes.from_numpy_dtype(data.dtype)
    kinds = _leaf_types(data, set())
    found = {_dtype_of_leaf(kind) for kind in kinds if kind is not _host.ndarray}
    if _host.ndarray in kinds:  # tensors inside the list (unwrapped to arrays) keep their dtype
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
    if issubclass(kind, builtins.float) and not issubclass(kind, _host.generic):
        return dtypes.get_default_dtype()
    if issubclass(kind, _host.generic):
        return dtypes.from_numpy_dtype(_host.dtype(kind))
    raise TypeError(f"can't create a tensor from an element of type {kind.__name__}; pass "
                    "numbers, bools, nested lists or arrays")


def _array_leaf_dtypes(data, found):
    for x in data if isinstance(data, (list, tuple)) else (data,):
        if isinstance(x, (list, tuple)):
            _array_leaf_dtypes(x, found)
        elif isinstance(x, _host.ndarray):
            found.add(dtypes.from_numpy_dtype(x.dtype))


def _finish(array, requires_grad):
    t = Tensor._make(array, False, None)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _unwrap(data):
    """Nested lists holding tensors -> nested lists holding host arrays (of any device)."""
    if isinstance(data, Tensor):
        return to_host(data._data)
    if isinstance(data, (list, tuple)):
        return [_unwrap(x) for x in data]
    return data


def _ragged(data, dim=0):
    """torch's message for nested lists that are not rectangular, or None if they are."""
    if not isinstance(data, (list, tuple)) or not data:
        return None
    inner = [isinstance(x, (list, tuple)) for x in data]
    if any(inner) and not all(inner):
        return f"expected a sequence at dim {dim + 1} for every element, but some are numbers"
    if not inner[0]:
        return None
    expected = len(data[0])
    for x in data:
        if len(x) != expected:
            return f"expected sequence of length {expected} at dim {dim + 1} (got {len(x)})"
    for x in data:
        found = _ragged(x, dim + 1)
        if found:
            return found
    return None


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of ``data`` (numbers, nested lists, arrays or tensors).

    The values are gathered on the host and then placed on ``device``; a tensor (or a
    device array) stays on its own device unless ``device`` says otherwise.
    """
    backend, index = resolve(device)
    if isinstance(data, Tensor) or (is_array(data) and backend_of(data) is not cpu):
        source = data if isinstance(data, Tensor) else Tensor._make(data)
        moved = source.detach().to(device=device, dtype=dtype, copy=True)
        return _finish(moved._data, requires_grad)
    if isinstance(data, (list, tuple)) and Tensor in _leaf_types(data, set()):
        data = _unwrap(data)  # rebuilding the lists costs; only done when tensors are inside
    d = dtypes.as_dtype(dtype) if dtype is not None else _dtype_of_data(data)
    try:
        array = _host.array(data, dtype=d.np)
    except OverflowError:  # NumPy's words name C types ("C long"); torch's name the dtype
        raise RuntimeError(f"value cannot be converted to type {d} without overflow") from None
    except (ValueError, TypeError) as err:
        raise ValueError(_ragged(data) or f"can't build a tensor from this data ({err}); "
                         "nested lists must be rectangular and hold numbers") from None
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
    """A CPU tensor sharing memory with ``array`` (changes to one show in the other)."""
    if not isinstance(array, _host.ndarray) or backend_of(array) is not cpu:
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    dtypes.from_numpy_dtype(array.dtype)
    return Tensor._make(array, False, None)


def scalar_tensor(value, dtype=None, device=None, requires_grad=False):
    return tensor(value, dtype=dtype or dtypes.get_default_dtype(), device=device,
                  requires_grad=requires_grad)


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
        if isinstance(s, (builtins.float, _host.floating, builtins.bool)) or not hasattr(
                s, "__index__"):
            raise TypeError(f"{name}(): size must be ints or one tuple of ints, but got "
                            f"{type(s).__name__} in {tuple(items)!r}")
    shape = tuple(operator.index(s) for s in items)
    if any(s < 0 for s in shape):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(shape)}: "
                           f"{list(shape)}")
    return shape


def _xp(device, out=None):
    """The array module to create with: ``device``'s, else ``out``'s, else the CPU's."""
    if device is None:
        return cpu.xp if out is None else backend_of(out._data).xp
    return resolve(device)[0].xp


def _write_out(result, out):
    """Support for ``out=``: ``out`` takes the result's shape and values (on its device)."""
    if out is None:
        return result
    out._data = result._data.astype(out._data.dtype, copy=False)
    out._bump_version()
    return out


def zeros(*args, size=None, out=None, dtype=None, device=None, requires_grad=False):
    """A tensor of zeros (default float dtype)."""
    array = _xp(device, out).zeros(_shape(args, size, "zeros"), dtype=_np_dtype(dtype))
    return _write_out(_finish(array, requires_grad), out)


def ones(*args, size=None, out=None, dtype=None, device=None, requires_grad=False):
    """A tensor of ones (default float dtype)."""
    array = _xp(device, out).ones(_shape(args, size, "ones"), dtype=_np_dtype(dtype))
    return _write_out(_finish(array, requires_grad), out)


def empty(*args, size=None, out=None, dtype=None, device=None, requires_grad=False,
          memory_format=None):
    """An uninitialized tensor (its values are whatever the memory held)."""
    array = _xp(device, out).empty(_shape(args, size, "empty"), dtype=_np_dtype(dtype))
    return _write_out(_finish(array, requires_grad), out)


def full(size, fill_value, *, out=None, dtype=None, device=None, requires_grad=False):
    """A tensor filled with ``fill_value``; its dtype follows the value (bool, int64, float)."""
    xp = _xp(device, out)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if dtype is None:
        dtype = dtypes.scalar_dtype(fill_value)
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"full(): argument 'size' must be tuple of ints, not "
                        f"{type(size).__name__}")
    array = xp.full(_shape((size,), None, "full"), fill_value, dtype=_np_dtype(dtype))
    return _write_out(_finish(array, requires_grad), out)


def _like(name, input, dtype, requires_grad, device, *fill):
    """``zeros_like`` and friends on ``input``'s device, or on ``device`` when given."""
    data = input._data
    d = _np_dtype(dtype, input.dtype)
    source = backend_of(data)
    target = source if device is None else resolve(device)[0]
    if target is source:  # NumPy's *_like keep the input's memory layout (preserve_format)
        array = getattr(target.xp, name + "_like")(data, *fill, dtype=d)
    else:
        array = getattr(target.xp, name)(data.shape, *fill, dtype=d)
    return _finish(array, requires_grad)


def zeros_like(input, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _like("zeros", input, dtype, requires_grad, device)


def ones_like(input, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _like("ones", input, dtype, requires_grad, device)


def empty_like(input, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _like("empty", input, dtype, requires_grad, device)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False, memory_format=None):
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return _like("full", input, dtype, requires_grad, device, fill_value)


def _number(v, name):
    v = v.item() if isinstance(v, Tensor) else v
    if not isinstance(v, (builtins.int, builtins.float, _host.integer, _host.floating)):
        raise TypeError(f"{name} must be a number, got {type(v).__name__}")
    return v


def arange(start, end=None, step=1, *, out=None, dtype=None, device=None, requires_grad=False):
    """``[start, start + step, ...]`` up to but excluding ``end``; int64 when all arguments
    are integers, else the default float dtype."""
    xp = _xp(device, out)
    if end is None:
        start, end = 0, start
    start, end, step = (_number(v, n) for v, n in ((start, "start"), (end, "end"),
                                                   (step, "step")))
    if dtype is None:
        is_int = all(isinstance(v, (builtins.int, _host.integer)) for v in (start, end, step))
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
        array = (start + step * xp.arange(n, dtype=dtypes.float64.np)).astype(d.np)
    else:
        array = xp.arange(start, end, step, dtype=d.np)
    return _write_out(_finish(array, requires_grad), out)


def linspace(start, end, steps, *, out=None, dtype=None, device=None, requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    xp = _xp(device, out)
    start, end = _number(start, "start"), _number(end, "end")
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    values = xp.linspace(start, end, steps, dtype=dtypes.float64.np)
    d = _np_dtype(dtype)
    array = (xp.trunc(values) if d.kind in "iu" else values).astype(d)
    return _write_out(_finish(array, requires_grad), out)


def logspace(start, end, steps, base=10.0, *, out=None, dtype=None, device=None,
             requires_grad=False):
    """``base ** linspace(start, end, steps)``."""
    xp = _xp(device, out)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    array = xp.logspace(start, end, steps, base=base, dtype=dtypes.float64.np).astype(
        _np_dtype(dtype))
    return _write_out(_finish(array, requires_grad), out)


def eye(n, m=None, *, out=None, dtype=None, device=None, requires_grad=False):
    """An ``n`` x ``m`` matrix with ones on the diagonal."""
    xp = _xp(device, out)
    if n < 0 or (m is not None and m < 0):
        raise RuntimeError(f"n must be greater or equal to 0, got {n if n < 0 else m}")
    return _write_out(_finish(xp.eye(n, m, dtype=_np_dtype(dtype)), requires_grad), out)
