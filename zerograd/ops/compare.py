"""Comparisons, logic and bitwise ops, and value tests (isnan, isclose...): no gradients.

Comparisons promote their operands like arithmetic does (an int tensor compared with 2.5
compares as float); every result is a bool tensor.
"""
from zerograd import dtypes
from zerograd.backend import array_module, backend_of
from zerograd.device import mixed_devices_error
from zerograd.ops._promote import _arr, _broadcast_error, _module_of, _operands
from zerograd.ops._util import const
from zerograd.tensor import Tensor

__all__ = ["eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal",
           "not_equal", "logical_and", "logical_or", "logical_not", "logical_xor",
           "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "isnan", "isinf",
           "isfinite", "equal", "allclose", "isclose"]


def _promoted_arrays(input, other):
    a, b = _operands(input, other)
    return _arr(a), _arr(b)


def _same_device(input, other, a, b):
    """``a, b`` on one device, or torch's error for tensors on two. As in torch (and
    ``Function.apply``), a 0-d CPU tensor joins a tensor of another device as a scalar."""
    if not (isinstance(input, Tensor) and isinstance(other, Tensor)) or type(a) is type(b):
        return a, b
    if input.device == other.device:
        return a, b
    if input.is_cpu and a.ndim == 0:
        return backend_of(b).from_host(a), b
    if other.is_cpu and b.ndim == 0:
        return a, backend_of(a).from_host(b)
    raise mixed_devices_error([input.device, other.device])


def _nograd_binary(ufunc, name, promote=True):
    """The op ``name`` computing ``xp.<ufunc>`` on the operands' device."""
    def op(input, other):
        if promote:  # both operands are arrays now, numbers as 0-d arrays of a's device
            a, b = _same_device(input, other, *_promoted_arrays(input, other))
            xp = array_module(b if isinstance(input, Tensor) and input.is_cpu else a)
        else:
            a, b = _same_device(input, other, _arr(input), _arr(other))
            xp = _module_of(input, other) if type(a) is type(b) else array_module(a, b)
        try:
            return const(xp.asarray(getattr(xp, ufunc)(a, b)))
        except ValueError:
            raise _broadcast_error(a, b) from None
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name} with broadcasting; returns a bool tensor."
    return op


_eq = _nograd_binary("equal", "eq")
_ne = _nograd_binary("not_equal", "ne")
lt = less = _nograd_binary("less", "lt")
le = less_equal = _nograd_binary("less_equal", "le")
gt = greater = _nograd_binary("greater", "gt")
ge = greater_equal = _nograd_binary("greater_equal", "ge")
logical_and = _nograd_binary("logical_and", "logical_and", promote=False)
logical_or = _nograd_binary("logical_or", "logical_or", promote=False)
logical_xor = _nograd_binary("logical_xor", "logical_xor", promote=False)


def eq(input, other):
    """Elementwise ``==``; comparing with None gives False (as ``tensor == None`` in torch)."""
    return False if other is None else _eq(input, other)


def ne(input, other):
    """Elementwise ``!=``; comparing with None gives True."""
    return True if other is None else _ne(input, other)


not_equal = ne


def logical_not(input):
    """Elementwise not (nonzero is True); returns a bool tensor."""
    return const(array_module(input).logical_not(_arr(input)))


def _bitwise(ufunc, name):
    def op(input, other):
        a, b = _promoted_arrays(input, other)
        if a.dtype.kind == "f":
            raise TypeError(f"{name} is only supported for integer and bool tensors, got "
                            f"{dtypes.from_numpy_dtype(a.dtype)}; for masks use bool tensors")
        xp = _module_of(input, other)
        try:
            return const(xp.asarray(getattr(xp, ufunc)(a, b)))
        except ValueError:
            raise _broadcast_error(a, b) from None
    op.__name__ = op.__qualname__ = name
    return op


bitwise_and = _bitwise("bitwise_and", "bitwise_and")
bitwise_or = _bitwise("bitwise_or", "bitwise_or")
bitwise_xor = _bitwise("bitwise_xor", "bitwise_xor")


def bitwise_not(input):
    """``~input`` for integer and bool tensors."""
    if input._data.dtype.kind == "f":
        raise TypeError("bitwise_not (~) is only supported for integer and bool tensors")
    return const(array_module(input).invert(input._data))


def isnan(input):
    """True where ``input`` is nan."""
    return const(array_module(input).isnan(input._data))


def isinf(input):
    """True where ``input`` is +inf or -inf."""
    return const(array_module(input).isinf(input._data))


def isfinite(input):
    """True where ``input`` is neither inf nor nan."""
    return const(array_module(input).isfinite(input._data))


def equal(input, other) -> bool:
    """True when both tensors have the same shape and elements."""
    return input.shape == other.shape and bool(
        array_module(input).array_equal(input._data, other._data))


def isclose(input, other, rtol=1e-5, atol=1e-8, equal_nan=False):
    """True where |input - other| <= atol + rtol * |other|."""
    xp = _module_of(input, other)
    return const(xp.isclose(_arr(input), _arr(other), rtol=rtol, atol=atol,
                            equal_nan=equal_nan))


def allclose(input, other, rtol=1e-5, atol=1e-8, equal_nan=False) -> bool:
    """True when ``isclose`` holds everywhere."""
    xp = _module_of(input, other)
    return bool(xp.allclose(_arr(input), _arr(other), rtol=rtol, atol=atol,
                            equal_nan=equal_nan))
