"""Elementwise ops: arithmetic, math functions, comparisons, where/clamp/maximum.

Each op is a ``Function`` with its forward (NumPy arrays) and backward (zerograd
Tensors, so it can itself be differentiated). Broadcasting needs no code here: the
engine sums every gradient back to its input's shape.
"""
import math

from zerograd import dtypes
from zerograd.autograd.function import Function
from zerograd.backend import xp, errstate
from zerograd.ops._util import const, float_operand, promote
from zerograd.tensor import Tensor

__all__ = [
    "add", "sub", "mul", "div", "floor_divide", "remainder", "pow", "neg", "abs",
    "exp", "log", "log1p", "expm1", "log2", "log10", "sqrt", "rsqrt", "sin", "cos", "tan",
    "tanh", "sigmoid", "relu", "square", "reciprocal", "erf", "sign", "floor", "ceil",
    "round", "trunc", "clamp", "clip", "maximum", "minimum", "where", "lerp", "addcmul",
    "addcdiv", "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_not",
    "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "isnan",
    "isinf", "isfinite", "equal", "allclose", "isclose", "to_dtype", "true_divide",
    "subtract", "multiply", "divide", "negative", "absolute",
]


# -- arithmetic ------------------------------------------------------------------------------
class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output, grad_output


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output, (-grad_output if ctx.needs_input_grad[1] else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        return (grad_output * b if ctx.needs_input_grad[0] else None,
                grad_output * a if ctx.needs_input_grad[1] else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        with errstate(divide="ignore", invalid="ignore"):
            return a / b

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        grad_a = grad_output / b
        grad_b = -grad_a * a / b if ctx.needs_input_grad[1] else None
        return grad_a if ctx.needs_input_grad[0] else None, grad_b


class Remainder(Function):
    """Python-style modulo (sign of the divisor), as torch.remainder."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        with errstate(divide="ignore", invalid="ignore"):
            return xp.remainder(a, b)

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        grad_b = -grad_output * floor_divide(a, b) if ctx.needs_input_grad[1] else None
        return grad_output, grad_b


class Pow(Function):
    @staticmethod
    def forward(ctx, a, b):
        out = xp.power(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        a, b, out = ctx.saved_tensors
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_a = grad_output * b * a ** (b - 1)
            if b._requires_grad or xp.any(b._data == 0):
                # d/da a**0 is 0 even at a == 0, where a**-1 is inf
                grad_a = where(b == 0, 0.0, grad_a)
        if ctx.needs_input_grad[1]:
            # out * log(a), defined as 0 where a == 0 and b >= 0 (torch's convention)
            grad_b = where((a == 0) & (b >= 0), 0.0, grad_output * out * log(a))
        return grad_a, grad_b


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
        with errstate(divide="ignore", invalid="ignore"):
            return cls.fn(*arrays, **kwargs)

    @staticmethod
    def backward(ctx, grad_output):
        return tuple(grad_output * 0.0 if need else None for need in ctx.needs_input_grad)


def _zero_grad_op(name, fn):
    return type(name, (ZeroGrad,), {"fn": staticmethod(fn)})


Floor = _zero_grad_op("Floor", xp.floor)
Ceil = _zero_grad_op("Ceil", xp.ceil)
Trunc = _zero_grad_op("Trunc", xp.trunc)
Sign = _zero_grad_op("Sign", xp.sign)
Round = _zero_grad_op("Round", lambda a, decimals=0: xp.round(a, decimals))
FloorDivide = _zero_grad_op("FloorDivide", xp.floor_divide)
TruncDivide = _zero_grad_op("TruncDivide", lambda a, b: xp.trunc(a / b))


def add(input, other, alpha=1):
    if alpha != 1:
        other = mul(other, alpha)
    a, b = promote(input, other)
    return Add.apply(a, b)


def sub(input, other, alpha=1):
    if input.__class__ is Tensor and input._data.dtype == bool:
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or "
                           "`logical_not()` operator instead.")
    if alpha != 1:
        other = mul(other, alpha)
    a, b = promote(input, other)
    return Sub.apply(a, b)


def mul(input, other):
    a, b = promote(input, other)
    return Mul.apply(a, b)


def div(input, other, rounding_mode=None):
    if rounding_mode is None:
        a, b = promote(input, other, floating=True)
        return Div.apply(a, b)
    a, b = promote(input, other)
    if rounding_mode == "floor":
        return FloorDivide.apply(a, b)
    if rounding_mode == "trunc":
        if a._data.dtype.kind != "f":
            return const(xp.asarray(xp.trunc(a._data / b._data)).astype(a._data.dtype))
        return TruncDivide.apply(a, b)
    raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
                     f"found '{rounding_mode}'")


def floor_divide(input, other):
    a, b = promote(input, other)
    if a._data.dtype.kind != "f" and xp.any(b._data == 0):
        raise RuntimeError("ZeroDivisionError: integer division by zero in floor_divide")
    return FloorDivide.apply(a, b)


def remainder(input, other):
    a, b = promote(input, other)
    if a._data.dtype.kind != "f" and xp.any(b._data == 0):
        raise RuntimeError("ZeroDivisionError: integer division by zero in remainder")
    return Remainder.apply(a, b)


def pow(input, exponent):
    a, b = promote(input, exponent)
    if a._data.dtype.kind in "iu" and xp.any(b._data < 0):
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    return Pow.apply(a, b)


def neg(input):
    if input._data.dtype == bool:
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or "
                           "`logical_not()` operator instead.")
    return Neg.apply(input)


def floor(input):
    return Floor.apply(input) if input._data.dtype.kind == "f" else input.clone()


def ceil(input):
    return Ceil.apply(input) if input._data.dtype.kind == "f" else input.clone()


def trunc(input):
    return Trunc.apply(input) if input._data.dtype.kind == "f" else input.clone()


def round(input, decimals=0):
    return Round.apply(input, decimals=decimals)


def sign(input):
    return Sign.apply(input)


true_divide = divide = div
subtract = sub
multiply = mul
negative = neg


# -- unary math -------------------------------------------------------------------------------
class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return xp.abs(a)

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        return grad_output * sign(a)


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        out = xp.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output * out


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with errstate(divide="ignore", invalid="ignore"):
            return xp.log(a)

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        return grad_output / a


class Log1p(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with errstate(divide="ignore", invalid="ignore"):
            return xp.log1p(a)

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        return grad_output / (a + 1)


class Expm1(Function):
    @staticmethod
    def forward(ctx, a):
        out = xp.expm1(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output * (out + 1)


class Log2(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with errstate(divide="ignore", invalid="ignore"):
            return xp.log2(a)

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        return grad_output / (a * math.log(2.0))


class Log10(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with errstate(divide="ignore", invalid="ignore"):
            return xp.log10(a)

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        return grad_output / (a * math.log(10.0))


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        with errstate(invalid="ignore"):
            out = xp.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output / (2 * out)


class Rsqrt(Function):
    @staticmethod
    def forward(ctx, a):
        with errstate(divide="ignore", invalid="ignore"):
            out = 1 / xp.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output * out ** 3 * -0.5


class Sin(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return xp.sin(a)

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        return grad_output * cos(a)


class Cos(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return xp.cos(a)

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        return -grad_output * sin(a)


class Tan(Function):
    @staticmethod
    def forward(ctx, a):
        out = xp.tan(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output * (1 + out * out)


class Tanh(Function):
    @staticmethod
    def forward(ctx, a):
        out = xp.tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output * (1 - out * out)


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, a):
        # exp of a non-positive number only: no overflow for large |a|
        e = xp.exp(-xp.abs(a))
        out = xp.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output * out * (1 - out)


class Relu(Function):
    @staticmethod
    def forward(ctx, a):
        out = xp.maximum(a, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output * (out > 0)


class Square(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a * a

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        return grad_output * 2 * a


class Reciprocal(Function):
    @staticmethod
    def forward(ctx, a):
        with errstate(divide="ignore"):
            out = 1 / a
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return -grad_output * out * out


class Erf(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _erf_array(a)

    @staticmethod
    def backward(ctx, grad_output):
        (a,) = ctx.saved_tensors
        return grad_output * (2 / math.sqrt(math.pi)) * exp(-a * a)


def _erf_array(a):
    """erf to double precision, vectorized: Taylor series near 0, continued fraction outside.

    NumPy has no erf. For |x| < 3 the Maclaurin series converges (losing < 3 digits to
    cancellation); beyond, erfc's continued fraction (Abramowitz & Stegun 7.1.14)
    converges fast.
    """
    x = a.astype(xp.float64)
    ax = xp.abs(x)
    small = ax < 3.0
    xs = xp.where(small, x, 0.0)
    term = xs.copy()
    total = xs.copy()
    x2 = xs * xs
    for n in range(1, 60):
        term = term * -x2 / n
        total = total + term / (2 * n + 1)
    series = total * (2 / math.sqrt(math.pi))
    xl = xp.where(small, 3.0, ax)
    frac = xp.zeros_like(xl)
    for k in range(80, 0, -1):
        frac = (k / 2) / (xl + frac)
    erfc = xp.exp(-xl * xl) / math.sqrt(math.pi) / (xl + frac)
    out = xp.where(small, series, xp.sign(x) * (1 - erfc))
    return out.astype(a.dtype, copy=False)


def _float_unary(op):
    def apply(input):
        return op.apply(float_operand(input))
    apply.__name__ = op.__name__.lower()
    apply.__doc__ = f"Elementwise {op.__name__.lower()} (integer inputs give floats, as in torch)."
    return apply


exp = _float_unary(Exp)
log = _float_unary(Log)
log1p = _float_unary(Log1p)
expm1 = _float_unary(Expm1)
log2 = _float_unary(Log2)
log10 = _float_unary(Log10)
sqrt = _float_unary(Sqrt)
rsqrt = _float_unary(Rsqrt)
sin = _float_unary(Sin)
cos = _float_unary(Cos)
tan = _float_unary(Tan)
tanh = _float_unary(Tanh)
sigmoid = _float_unary(Sigmoid)
erf = _float_unary(Erf)
reciprocal = _float_unary(Reciprocal)


def abs(input):
    return Abs.apply(input)


absolute = abs


def relu(input):
    return Relu.apply(input)


def square(input):
    return Square.apply(input)


# -- selection: where, clamp, maximum, minimum ---------------------------------------------
class Where(Function):
    @staticmethod
    def forward(ctx, condition, a, b):
        ctx.condition = condition
        return xp.where(condition, a, b)

    @staticmethod
    def backward(ctx, grad_output):
        cond = const(ctx.condition)
        zero = const(xp.zeros((), dtype=grad_output._data.dtype))
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
                           f"with dtype {dtypes.from_numpy_dtype(cond.dtype)}")
    a, b = promote(input, other)
    return Where.apply(cond, a, b)


class Clamp(Function):
    @staticmethod
    def forward(ctx, a, lo, hi):
        out = a
        if lo is not None:
            out = xp.maximum(out, lo)
        if hi is not None:
            out = xp.minimum(out, hi)
        ctx.save_for_backward(a, lo, hi)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        a, lo, hi = ctx.saved_tensors
        zero = grad_output * 0
        inside = grad_output
        grad_lo = grad_hi = None
        if lo is not None:
            inside = where(a >= lo, inside, zero)
            if ctx.needs_input_grad[1]:
                grad_lo = where(a < lo, grad_output, zero)
        if hi is not None:
            inside = where(a <= hi, inside, zero)
            if ctx.needs_input_grad[2]:
                grad_hi = where(a > hi, grad_output, zero)
        return inside, grad_lo, grad_hi


def clamp(input, min=None, max=None):
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    operands = [input] + [m for m in (min, max) if m is not None]
    d = dtypes.result_type(*operands)
    x = input if input.dtype is d else input.to(d)
    lo = _bound(min, d)
    hi = _bound(max, d)
    return Clamp.apply(x, lo, hi)


def _bound(value, d):
    if value is None:
        return None
    if isinstance(value, Tensor):
        return value if value.dtype is d else value.to(d)
    return xp.asarray(value, dtype=d.np)


clip = clamp


class Maximum(Function):
    """Ties split the gradient evenly between both inputs (torch's convention)."""

    take = staticmethod(xp.maximum)

    @classmethod
    def forward(cls, ctx, a, b):
        ctx.save_for_backward(a, b)
        return cls.take(a, b)

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        first = (a > b) if ctx.__class__ is Maximum else (a < b)
        tie = (a == b)
        share_a = first + tie * 0.5
        return (grad_output * share_a if ctx.needs_input_grad[0] else None,
                grad_output * (1 - share_a) if ctx.needs_input_grad[1] else None)


class Minimum(Maximum):
    take = staticmethod(xp.minimum)


def maximum(input, other):
    a, b = promote(input, other)
    return Maximum.apply(a, b)


def minimum(input, other):
    a, b = promote(input, other)
    return Minimum.apply(a, b)


def lerp(input, end, weight):
    return input + weight * (end - input)


def addcmul(input, tensor1, tensor2, value=1):
    return input + value * tensor1 * tensor2


def addcdiv(input, tensor1, tensor2, value=1):
    return input + value * tensor1 / tensor2


# -- comparisons and logic (no gradient) -------------------------------------------------------
def _compare(fn):
    def compare(input, other):
        a, b = promote(input, other)
        return const(xp.asarray(fn(a._data, b._data)))
    compare.__name__ = fn.__name__
    return compare


eq = _compare(xp.equal)
ne = _compare(xp.not_equal)
lt = _compare(xp.less)
le = _compare(xp.less_equal)
gt = _compare(xp.greater)
ge = _compare(xp.greater_equal)


def _array_of(x):
    return x._data if isinstance(x, Tensor) else xp.asarray(x)


def logical_and(input, other):
    return const(xp.logical_and(_array_of(input), _array_of(other)))


def logical_or(input, other):
    return const(xp.logical_or(_array_of(input), _array_of(other)))


def logical_xor(input, other):
    return const(xp.logical_xor(_array_of(input), _array_of(other)))


def logical_not(input):
    return const(xp.logical_not(_array_of(input)))


def _bitwise(fn, name):
    def op(input, other):
        a, b = promote(input, other)
        if a._data.dtype.kind == "f":
            raise TypeError(f"{name} is only supported for integer and bool tensors, got "
                            f"{a.dtype}; for masks use bool tensors")
        return const(fn(a._data, b._data))
    op.__name__ = name
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
    if input._data.dtype == dtype.np and not copy:
        return input
    return ToCopy.apply(input, dtype.np, True)
