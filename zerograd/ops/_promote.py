"""Operands of elementwise ops: PyTorch's type promotion, dtype casts, and torch's
broadcasting error.

Two tensors of one dtype pass straight through ``_operands`` (the fast path); Python
numbers travel as 0-d arrays on the tensor operand's device (constants), not as Tensors:
a forward can save them for backward like any array, and they never mix host memory
into an accelerator's computation.
"""
from zerograd import dtypes
from zerograd.autograd.function import Function
from zerograd.backend import array_module
from zerograd.tensor import Tensor

__all__ = ["to_dtype"]


def _arr(x):
    return x._data if isinstance(x, Tensor) else x


def _module_of(input, other):
    """The array module of the tensor operand (of ``input`` when both are tensors)."""
    x = input if isinstance(input, Tensor) else other
    return array_module(getattr(x, "_data", x))


def _cast(x, d, xp):
    """``x`` in dtype ``d``: a tensor through a differentiable cast, a number as a 0-d array
    of the module ``xp``."""
    if isinstance(x, Tensor):
        return x if x._data.dtype == d.np else to_dtype(x, d)
    # astype wraps out-of-range integers (int8 tensor + 1000) as torch does
    return xp.asarray(x).astype(d.np, copy=False)


_NUMBERS = (float, int, bool)


def _operands(input, other, floating=False):
    """Both operands in PyTorch's result dtype (``floating``: at least the default float)."""
    if isinstance(input, Tensor):
        data = input._data
        d = data.dtype
        if isinstance(other, Tensor):
            if d == other._data.dtype and (not floating or d.kind == "f"):
                return input, other  # the fast path: nothing to convert
        elif d.kind == "f" and type(other) in _NUMBERS:
            # a float tensor's dtype wins over numbers
            return input, array_module(data).asarray(other, dtype=d)
    elif isinstance(other, Tensor) and type(input) in _NUMBERS:
        data = other._data
        d = data.dtype
        if d.kind == "f":
            return array_module(data).asarray(input, dtype=d), other
    d = dtypes.result_type(input, other)
    if floating and not d.is_floating_point:
        d = dtypes.get_default_dtype()
    xp = _module_of(input, other)
    return _cast(input, d, xp), _cast(other, d, xp)


def _shape(x):
    return tuple(getattr(x, "shape", ()))


def _broadcast_error(*arrays):
    """torch's message for operands whose shapes do not broadcast (NumPy raises ValueError)."""
    shape = ()
    for arr in arrays:
        s = _shape(arr)
        n = len(shape) if len(shape) > len(s) else len(s)
        a = (1,) * (n - len(shape)) + tuple(shape)
        b = (1,) * (n - len(s)) + tuple(s)
        for i in range(n - 1, -1, -1):  # torch reports the rightmost conflicting dim
            if a[i] != b[i] and a[i] != 1 and b[i] != 1:
                return RuntimeError(f"The size of tensor a ({a[i]}) must match the size of "
                                    f"tensor b ({b[i]}) at non-singleton dimension {i}")
        shape = tuple(y if x == 1 else x for x, y in zip(a, b))
    return RuntimeError("operands could not be broadcast together with shapes "
                        + " ".join(str(_shape(a)) for a in arrays))


def _named(cls, name):
    """A variant of ``cls`` whose graph node prints as torch's ``name`` (e.g. PowBackward0)."""
    return type(cls.__name__, (cls,), {"name": classmethod(lambda c: name)})


class ToCopy(Function):
    jvp_linear = True

    @staticmethod
    def forward(ctx, a, np_dtype, copy):
        return a.astype(np_dtype, copy=copy)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output  # the engine casts it back to the input's dtype


def to_dtype(input, dtype, copy=False):
    """``input`` converted to ``dtype`` (itself when it already has it and no copy is asked)."""
    if input._data.dtype == dtype.np and not copy:
        return input
    return ToCopy.apply(input, dtype.np, True)
