"""Elementwise arithmetic, rounding, selection (where/clamp/maximum), comparisons and logic.

Each op is a ``Function`` with its forward (NumPy arrays) and backward (zerograd
Tensors, so it can itself be differentiated). Broadcasting needs no code here: the
engine sums every gradient back to its input's shape. Operands are first brought to
PyTorch's result dtype (``_operands``); two tensors of one dtype pass straight through,
and Python numbers travel as plain 0-d arrays (constants), not as Tensors.

The math functions (exp, log, sin, sigmoid, erf...) live in ``unary``.
"""
from zerograd import dtypes
from zerograd.autograd.function import Function
from zerograd.backend import xp, errstate
from zerograd.ops._util import const
from zerograd.ops.unary import *  # noqa: F401,F403  (re-exported: one elementwise family)
from zerograd.ops.unary import __all__ as _unary_all
from zerograd.tensor import Tensor

__all__ = _unary_all + [
    "add", "sub", "mul", "div", "floor_divide", "remainder", "fmod", "pow", "neg",
    "sign", "floor", "ceil", "round", "trunc", "clamp", "clip", "maximum", "minimum", "where",
    "lerp", "addcmul", "addcdiv", "eq", "ne", "lt", "le", "gt", "ge", "logical_and",
    "logical_or", "logical_not", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor",
    "bitwise_not", "isnan", "isinf", "isfinite", "equal", "allclose", "isclose", "to_dtype",
    "true_divide", "subtract", "multiply", "divide", "negative", "greater", "greater_equal",
    "less", "less_equal", "not_equal",
]


# -- operands: dtype promotion and broadcasting errors ------------------------------------------
def _arr(x):
    return x._data if isinstance(x, Tensor) else x


def _cast(x, d):
    """``x`` in dtype ``d``: a tensor through a differentiable cast, a number as a 0-d array."""
    if isinstance(x, Tensor):
        return x if x._data.dtype == d.np else to_dtype(x, d)
    # astype wraps out-of-range integers (int8 tensor + 1000) as torch does
    return xp.asarray(x).astype(d.np, copy=False)


def _operands(input, other, floating=False):
    """Both operands in PyTorch's result dtype (``floating``: at least the default float)."""
    if isinstance(input, Tensor) and isinstance(other, Tensor):
        d = input._data.dtype
        if d == other._data.dtype and (not floating or d.kind == "f"):
            return input, other  # the fast path: nothing to convert
    d = dtypes.result_type(input, other)
    if floating and not d.is_floating_point:
        d = dtypes.get_default_dtype()
    return _cast(input, d), _cast(other, d)


def _broadcast_error(*arrays):
    """torch's message for operands whose shapes do not broadcast (NumPy raises ValueError)."""
    shape = ()
    for arr in arrays:
        s = xp.shape(arr)
        n = len(shape) if len(shape) > len(s) else len(s)
        a = (1,) * (n - len(shape)) + tuple(shape)
        b = (1,) * (n - len(s)) + tuple(s)
        for i in range(n - 1, -1, -1):  # torch reports the rightmost conflicting dim
            if a[i] != b[i] and a[i] != 1 and b[i] != 1:
                return RuntimeError(f"The size of tensor a ({a[i]}) must match the size of "
                                    f"tensor b ({b[i]}) at non-singleton dimension {i}")
        shape = tuple(y if x == 1 else x for x, y in zip(a, b))
    return RuntimeError("operands could not be broadcast together with shapes "
                        + " ".join(str(tuple(xp.shape(a))) for a in arrays))


def _named(cls, name):
    """A variant of ``cls`` whose graph node prints as torch's ``name`` (e.g. PowBackward0)."""
    return type(cls.__name__, (cls,), {"name": classmethod(lambda c: name)})


# -- arithmetic ------------------------------------------------------------------------------
class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        try:
            return a + b
        except ValueError:
            raise _broadcast_error(a, b) from None

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output, grad_output


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        try:
            return a - b
        except ValueError:
            raise _broadcast_error(a, b) from None

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output, (-grad_output if ctx.needs_input_grad[1] else None)


Rsub = _named(Sub, "RsubBackward1")  # number - tensor


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        try:
            return a * b
        except ValueError:
            raise _broadcast_error(a, b) from None

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        return (grad_output * b if ctx.needs_input_grad[0] else None,
                grad_output * a if ctx.needs_input_grad[1] else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        try:
            with errstate(divide="ignore", invalid="ignore"):
                return a / b
        except ValueError:
            raise _broadcast_error(a, b) from None

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        grad_a = grad_output / b if ctx.needs_input_grad[0] else None
        grad_b = -grad_output * (a / b / b) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b


class Remainder(Function):
    """Python-style modulo (the result takes the divisor's sign), as torch.remainder."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        try:
            with errstate(divide="ignore", invalid="ignore"):
                return xp.remainder(a, b)
        except ValueError:
            raise _broadcast_error(a, b) from None

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        # a - b * floor(a / b): the floor is piecewise constant
        grad_b = -grad_output * floor_divide(a, b) if ctx.needs_input_grad[1] else None
        return grad_output, grad_b


class Fmod(Remainder):
    """C-style modulo (the result takes the dividend's sign), as torch.fmod."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        try:
            with errstate(divide="ignore", invalid="ignore"):
                return xp.fmod(a, b)
        except ValueError:
            raise _broadcast_error(a, b) from None

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        grad_b = -grad_output * div(a, b, rounding_mode="trunc") if ctx.needs_input_grad[1] \
            else None
        return grad_output, grad_b


class Pow(Function):
    @staticmethod
    def forward(ctx, a, b):
        try:
            with errstate(divide="ignore", invalid="ignore", over="ignore"):
                out = _int_pow(a, b) if a.dtype.kind in "iu" else a ** b
        except ValueError:
            raise _broadcast_error(a, b) from None
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        a, b, out = ctx.saved_tensors
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_a = grad_output * (b * a ** (b - 1))
            if b._requires_grad or xp.any(b._data == 0):
                # d/da a**0 is 0 even at a == 0, where a**-1 is inf (torch's convention)
                grad_a = where(b == 0, 0.0, grad_a)
        if ctx.needs_input_grad[1]:
            # out * log(a), taken as 0 where a == 0 and b >= 0 (torch's convention)
            grad_b = grad_output * where((a == 0) & (b >= 0), 0.0, out * log(a))
        return grad_a, grad_b


PowScalar = _named(Pow, "PowBackward0")  # tensor ** number
PowTensor = _named(Pow, "PowBackward1")  # tensor ** tensor
RPow = _named(Pow, "PowBackward2")  # number ** tensor


def _int_pow(a, b):
    """Integer power where negative exponents give 0, except for bases 1 and -1 (torch's powi)."""
    neg = b < 0
    if not xp.any(neg):
        return a ** b
    out = a ** xp.where(neg, 0, b).astype(b.dtype, copy=False)
    odd = (b % 2) != 0
    special = xp.where(a == 1, 1, xp.where(a == -1, xp.where(odd, -1, 1), 0))
    return xp.where(neg, special.astype(out.dtype, copy=False), out)


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad_output):
        return -grad_output


class ZeroGrad(Function):
    """Piecewise-constant ops (floor, ceil, round, trunc, sign, //): the gradient is zero."""

    fn = None

    @classmethod
    def forward(cls, ctx, *arrays, **kwargs):
        ctx.shapes = [xp.shape(a) for a in arrays]
        try:
            with errstate(divide="ignore", invalid="ignore"):
                return cls.fn(*arrays, **kwargs)
        except ValueError:
            raise _broadcast_error(*arrays) from None

    @staticmethod
    def backward(ctx, grad_output):
        dt = grad_output._data.dtype
        return tuple(const(xp.zeros(shape, dtype=dt)) if need else None
                     for shape, need in zip(ctx.shapes, ctx.needs_input_grad))


def _zero_grad_op(name, fn):
    return type(name, (ZeroGrad,), {"fn": staticmethod(fn)})


Floor = _zero_grad_op("Floor", xp.floor)
Ceil = _zero_grad_op("Ceil", xp.ceil)
Trunc = _zero_grad_op("Trunc", xp.trunc)
Sign = _zero_grad_op("Sign", xp.sign)
Round = _zero_grad_op("Round", lambda a, decimals=0: xp.round(a, decimals))
FloorDivide = _zero_grad_op("FloorDivide", xp.floor_divide)
TruncDivide = _zero_grad_op("TruncDivide", lambda a, b: xp.trunc(a / b))


def _check_int_divisor(b, op):
    if _arr(b).dtype.kind in "iub" and xp.any(_arr(b) == 0):
        raise RuntimeError(f"ZeroDivisionError: integer division by zero in {op}")


def add(input, other, alpha=1):
    """``input + alpha * other`` with broadcasting and torch's type promotion."""
    if alpha != 1:
        other = mul(other, alpha)
    a, b = _operands(input, other)
    return Add.apply(a, b)


def sub(input, other, alpha=1):
    """``input - alpha * other``; bool tensors are refused, as in torch."""
    if alpha != 1:
        other = mul(other, alpha)
    a, b = _operands(input, other)
    if _arr(a).dtype.kind != "f":
        _check_no_bool_sub(input, other)
    return (Sub if isinstance(input, Tensor) else Rsub).apply(a, b)


def _check_no_bool_sub(input, other):
    bools = [isinstance(x, Tensor) and x._data.dtype == bool for x in (input, other)]
    if all(bools):
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    if any(bools):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or "
                           "`logical_not()` operator instead.")


def mul(input, other):
    a, b = _operands(input, other)
    return Mul.apply(a, b)


def div(input, other, rounding_mode=None):
    """True division (integers give floats); ``rounding_mode`` 'trunc' or 'floor' rounds."""
    if rounding_mode is None:
        a, b = _operands(input, other, floating=True)
        return Div.apply(a, b)
    a, b = _operands(input, other)
    if rounding_mode == "floor":
        _check_int_divisor(b, "div")
        return FloorDivide.apply(a, b)
    if rounding_mode == "trunc":
        if _arr(a).dtype.kind != "f":
            _check_int_divisor(b, "div")
            x, y = _arr(a), _arr(b)
            q = x // y
            # floor and trunc differ by one where the division was inexact and negative
            fix = ((x % y) != 0) & ((x < 0) != (y < 0))
            return const(xp.asarray(q + fix.astype(q.dtype, copy=False)))
        return TruncDivide.apply(a, b)
    raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
                     f"found '{rounding_mode}'")


def floor_divide(input, other):
    a, b = _operands(input, other)
    _check_int_divisor(b, "floor_divide")
    return FloorDivide.apply(a, b)


def remainder(input, other):
    a, b = _operands(input, other)
    _check_int_divisor(b, "remainder")
    return Remainder.apply(a, b)


def fmod(input, other):
    a, b = _operands(input, other)
    _check_int_divisor(b, "fmod")
    return Fmod.apply(a, b)


def pow(input, exponent):
    """``input ** exponent``; integers refuse negative Python-number exponents (as torch)."""
    a, b = _operands(input, exponent)
    if _arr(a).dtype.kind in "iu" and not isinstance(exponent, Tensor) and xp.any(_arr(b) < 0):
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    if not isinstance(exponent, Tensor):
        return PowScalar.apply(a, b)
    return (PowTensor if isinstance(input, Tensor) else RPow).apply(a, b)


def neg(input):
    if input._data.dtype == bool:
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or "
                           "`logical_not()` operator instead.")
    return Neg.apply(input)


def _copy(input):
    from zerograd.ops.shape import clone
    return clone(input)


def floor(input):
    return Floor.apply(input) if input._data.dtype.kind == "f" else _copy(input)


def ceil(input):
    return Ceil.apply(input) if input._data.dtype.kind == "f" else _copy(input)


def trunc(input):
    return Trunc.apply(input) if input._data.dtype.kind == "f" else _copy(input)


def round(input, decimals=0):
    """Round half to even, optionally to ``decimals`` places (as torch.round)."""
    if input._data.dtype.kind != "f":
        if decimals != 0:
            raise RuntimeError(f"round with decimals is not implemented for integer tensors "
                               f"({input.dtype}); convert first, e.g. x.float()")
        return _copy(input)
    return Round.apply(input, decimals=decimals)


def sign(input):
    return _copy(input) if input._data.dtype == bool else Sign.apply(input)


true_divide = divide = div
subtract = sub
multiply = mul
negative = neg


# -- selection: where, clamp, maximum, minimum ---------------------------------------------
class Where(Function):
    @staticmethod
    def forward(ctx, condition, a, b):
        ctx.condition = condition
        try:
            return xp.where(condition, a, b)
        except ValueError:
            raise _broadcast_error(condition, a, b) from None

    @staticmethod
    def backward(ctx, grad_output):
        cond = ctx.condition
        zero = xp.zeros((), dtype=grad_output._data.dtype)
        return (None,
                Where.apply(cond, grad_output, zero) if ctx.needs_input_grad[1] else None,
                Where.apply(cond, zero, grad_output) if ctx.needs_input_grad[2] else None)


def where(condition, input=None, other=None):
    """``where(cond, a, b)`` picks from a where cond holds; ``where(cond)`` is nonzero(as_tuple)."""
    if input is None and other is None:
        from zerograd.ops.indexing import nonzero
        return nonzero(condition, as_tuple=True)
    cond = condition._data if isinstance(condition, Tensor) else xp.asarray(condition)
    if cond.dtype != bool:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor "
                           f"with dtype {dtypes.scalar_type_name(dtypes.from_numpy_dtype(cond.dtype))}")
    a, b = _operands(input, other)
    return Where.apply(cond, a, b)


class Clamp(Function):
    """clamp with Tensor bounds (either may be None); at a bound the input gets the gradient."""

    @staticmethod
    def forward(ctx, a, lo, hi):
        try:
            out = a if lo is None else xp.maximum(a, lo)
            out = out if hi is None else xp.minimum(out, hi)
        except ValueError:
            raise _broadcast_error(*[x for x in (a, lo, hi) if x is not None]) from None
        ctx.save_for_backward(a, lo, hi)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        # torch's rules: if lo > hi the output is hi everywhere, so only hi gets gradient
        a, lo, hi = ctx.saved_tensors
        need = ctx.needs_input_grad
        grad_lo = grad_hi = None
        if lo is not None and hi is not None:
            inside = (a >= lo) & (a <= hi)
            if need[1]:
                grad_lo = where((a < lo) & (lo < hi), grad_output, 0.0)
            if need[2]:
                grad_hi = where((a > hi) | (hi < lo), grad_output, 0.0)
        elif lo is not None:
            inside = a >= lo
            if need[1]:
                grad_lo = where(a < lo, grad_output, 0.0)
        else:
            inside = a <= hi
            if need[2]:
                grad_hi = where(a > hi, grad_output, 0.0)
        grad_a = where(inside, grad_output, 0.0) if need[0] else None
        return grad_a, grad_lo, grad_hi


ClampScalar = _named(Clamp, "ClampBackward1")  # Python-number bounds


def clamp(input, min=None, max=None):
    """Limit ``input`` to [min, max]; bounds are numbers or tensors (broadcast)."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    d = dtypes.result_type(input, *[m for m in (min, max) if m is not None])
    x = input if input._data.dtype == d.np else to_dtype(input, d)
    lo = None if min is None else _cast(min, d)
    hi = None if max is None else _cast(max, d)
    scalar = not isinstance(min, Tensor) and not isinstance(max, Tensor)
    return (ClampScalar if scalar else Clamp).apply(x, lo, hi)


clip = clamp


class Maximum(Function):
    """Ties split the gradient evenly between both inputs (torch's convention)."""

    take = staticmethod(xp.maximum)

    @classmethod
    def forward(cls, ctx, a, b):
        ctx.save_for_backward(a, b)
        try:
            return cls.take(a, b)
        except ValueError:
            raise _broadcast_error(a, b) from None

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        x, y = a._data, b._data
        loses_a, loses_b = (x < y, x > y) if type(ctx) is Maximum else (x > y, x < y)
        half = xp.where(x == y, 0.5, 1.0).astype(grad_output._data.dtype, copy=False)
        return (grad_output * const(half * ~loses_a) if ctx.needs_input_grad[0] else None,
                grad_output * const(half * ~loses_b) if ctx.needs_input_grad[1] else None)


class Minimum(Maximum):
    take = staticmethod(xp.minimum)


def maximum(input, other):
    a, b = _operands(input, other)
    return Maximum.apply(a, b)


def minimum(input, other):
    a, b = _operands(input, other)
    return Minimum.apply(a, b)


def lerp(input, end, weight):
    return input + weight * (end - input)


def addcmul(input, tensor1, tensor2, value=1):
    return input + value * tensor1 * tensor2


def addcdiv(input, tensor1, tensor2, value=1):
    return input + value * tensor1 / tensor2


# -- comparisons and logic (no gradient) -------------------------------------------------------
def _promoted_arrays(input, other):
    a, b = _operands(input, other)
    return _arr(a), _arr(b)


def _array_of(x):
    return x._data if isinstance(x, Tensor) else xp.asarray(x)


def _nograd_binary(fn, name, promote=True):
    def op(input, other):
        a, b = _promoted_arrays(input, other) if promote else (_array_of(input), _array_of(other))
        try:
            return const(xp.asarray(fn(a, b)))
        except ValueError:
            raise _broadcast_error(a, b) from None
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name} with broadcasting; returns a bool tensor."
    return op


_eq = _nograd_binary(xp.equal, "eq")
_ne = _nograd_binary(xp.not_equal, "ne")
lt = less = _nograd_binary(xp.less, "lt")
le = less_equal = _nograd_binary(xp.less_equal, "le")
gt = greater = _nograd_binary(xp.greater, "gt")
ge = greater_equal = _nograd_binary(xp.greater_equal, "ge")
logical_and = _nograd_binary(xp.logical_and, "logical_and", promote=False)
logical_or = _nograd_binary(xp.logical_or, "logical_or", promote=False)
logical_xor = _nograd_binary(xp.logical_xor, "logical_xor", promote=False)


def eq(input, other):
    """Elementwise ``==``; comparing with None gives False (as ``tensor == None`` in torch)."""
    return False if other is None else _eq(input, other)


def ne(input, other):
    return True if other is None else _ne(input, other)


not_equal = ne


def logical_not(input):
    return const(xp.logical_not(_array_of(input)))


def _bitwise(fn, name):
    def op(input, other):
        a, b = _promoted_arrays(input, other)
        if a.dtype.kind == "f":
            raise TypeError(f"{name} is only supported for integer and bool tensors, got "
                            f"{dtypes.from_numpy_dtype(a.dtype)}; for masks use bool tensors")
        try:
            return const(xp.asarray(fn(a, b)))
        except ValueError:
            raise _broadcast_error(a, b) from None
    op.__name__ = op.__qualname__ = name
    return op


bitwise_and = _bitwise(xp.bitwise_and, "bitwise_and")
bitwise_or = _bitwise(xp.bitwise_or, "bitwise_or")
bitwise_xor = _bitwise(xp.bitwise_xor, "bitwise_xor")


def bitwise_not(input):
    if input._data.dtype.kind == "f":
        raise TypeError("bitwise_not (~) is only supported for integer and bool tensors")
    return const(xp.invert(input._data))


def isnan(input):
    return const(xp.isnan(input._data))


def isinf(input):
    return const(xp.isinf(input._data))


def isfinite(input):
    return const(xp.isfinite(input._data))


def equal(input, other) -> bool:
    """True when both tensors have the same shape and elements."""
    return input.shape == other.shape and bool(xp.array_equal(input._data, other._data))


def isclose(input, other, rtol=1e-5, atol=1e-8, equal_nan=False):
    return const(xp.isclose(_array_of(input), _array_of(other), rtol=rtol, atol=atol,
                            equal_nan=equal_nan))


def allclose(input, other, rtol=1e-5, atol=1e-8, equal_nan=False) -> bool:
    return bool(xp.allclose(_array_of(input), _array_of(other), rtol=rtol, atol=atol,
                            equal_nan=equal_nan))


# -- dtype conversion ---------------------------------------------------------------------------
class ToCopy(Function):
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
