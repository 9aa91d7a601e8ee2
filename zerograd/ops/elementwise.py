"""Elementwise arithmetic: + - * / // % ** and their reflected forms.

Each op is a ``Function`` with its forward (arrays of the inputs' device, computed
with ``ctx.xp``) and backward (zerograd Tensors, so it can itself be differentiated).
Broadcasting needs no code here: the engine sums every gradient back to its input's
shape. Operands are first brought to PyTorch's result dtype by ``_promote._operands``.

The rest of the elementwise family lives beside it, each file with its own ops: math
functions in ``unary``, where/clamp/maximum in ``selection``, comparisons and logic in
``compare``, floor/ceil/round/trunc/sign (and the ``//`` kernels) in ``rounding``.
"""
from zerograd.autograd.function import Function
from zerograd.backend import array_module
from zerograd.ops._promote import _arr, _broadcast_error, _named, _operands
from zerograd.ops._util import const
from zerograd.ops.rounding import FloorDivide, TruncDivide
from zerograd.ops.selection import where
from zerograd.ops.unary import log
from zerograd.tensor import Tensor

__all__ = ["add", "sub", "mul", "div", "floor_divide", "remainder", "fmod", "pow", "neg",
           "true_divide", "subtract", "multiply", "divide", "negative"]


# -- arithmetic ------------------------------------------------------------------------------
# Each op also has a forward-mode rule, ``jvp(ctx, *tangents)``: the output's tangent from
# the inputs' tangents (None for an input without one), computed from ``ctx.fw_inputs``.
def _fw(ctx):
    return tuple(x if isinstance(x, Tensor) else const(ctx.xp.asarray(x))
                 for x in ctx.fw_inputs)


def _plus(x, y):
    """Sum of two tangent contributions, either of which may be missing (None)."""
    return x if y is None else y if x is None else x + y


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

    @staticmethod
    def jvp(ctx, t_a, t_b):
        return _plus(t_a, t_b)


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

    @staticmethod
    def jvp(ctx, t_a, t_b):
        return _plus(t_a, None if t_b is None else -t_b)


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

    @staticmethod
    def backward_array(ctx, grad_output):
        a, b = ctx.saved_tensors
        return (grad_output * b._data if ctx.needs_input_grad[0] else None,
                grad_output * a._data if ctx.needs_input_grad[1] else None)

    @staticmethod
    def jvp(ctx, t_a, t_b):
        a, b = _fw(ctx)
        return _plus(None if t_a is None else t_a * b, None if t_b is None else a * t_b)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        try:
            with ctx._backend.errstate(divide="ignore", invalid="ignore"):
                return a / b
        except ValueError:
            raise _broadcast_error(a, b) from None

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        grad_a = grad_output / b if ctx.needs_input_grad[0] else None
        grad_b = -grad_output * (a / b / b) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b

    @staticmethod
    def jvp(ctx, t_a, t_b):
        a, b = _fw(ctx)
        return _plus(None if t_a is None else t_a / b, None if t_b is None else -t_b * (a / b / b))


class Remainder(Function):
    """Python-style modulo (the result takes the divisor's sign), as torch.remainder."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        try:
            with ctx._backend.errstate(divide="ignore", invalid="ignore"):
                return ctx.xp.remainder(a, b)
        except ValueError:
            raise _broadcast_error(a, b) from None

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        # a - b * floor(a / b): the floor is piecewise constant
        grad_b = -grad_output * floor_divide(a, b) if ctx.needs_input_grad[1] else None
        return grad_output, grad_b

    @staticmethod
    def jvp(ctx, t_a, t_b):
        a, b = _fw(ctx)
        return _plus(t_a, None if t_b is None else -t_b * floor_divide(a, b))


class Fmod(Remainder):
    """C-style modulo (the result takes the dividend's sign), as torch.fmod."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        try:
            with ctx._backend.errstate(divide="ignore", invalid="ignore"):
                return ctx.xp.fmod(a, b)
        except ValueError:
            raise _broadcast_error(a, b) from None

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        grad_b = -grad_output * div(a, b, rounding_mode="trunc") if ctx.needs_input_grad[1] \
            else None
        return grad_output, grad_b

    @staticmethod
    def jvp(ctx, t_a, t_b):
        a, b = _fw(ctx)
        return _plus(t_a, None if t_b is None else -t_b * div(a, b, rounding_mode="trunc"))


class Pow(Function):
    @staticmethod
    def forward(ctx, a, b):
        try:
            kind = a.dtype.kind
            out = a ** b if kind == "f" else _int_pow(ctx.xp, a, b) if kind != "b" else a | ~b
        except ValueError:
            raise _broadcast_error(a, b) from None
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        a, b, out = ctx.saved_tensors
        d_a, d_b = _pow_partials(a, b, out, ctx.needs_input_grad)
        return (None if d_a is None else grad_output * d_a,
                None if d_b is None else grad_output * d_b)

    @staticmethod
    def jvp(ctx, t_a, t_b):
        a, b = _fw(ctx)
        d_a, d_b = _pow_partials(a, b, ctx.fw_output, (t_a is not None, t_b is not None))
        return _plus(None if t_a is None else t_a * d_a, None if t_b is None else t_b * d_b)


def _pow_partials(a, b, out, need):
    """d out / d a and d out / d b (None where not needed), with torch's values at 0."""
    d_a = d_b = None
    if need[0]:
        d_a = b * a ** (b - 1)
        if b._requires_grad or (b._data == 0).any():
            # d/da a**0 is 0 even at a == 0, where a**-1 is inf
            d_a = where(b == 0, 0.0, d_a)
    if need[1]:
        # out * log(a), taken as 0 where a == 0 and b >= 0
        d_b = where((a == 0) & (b >= 0), 0.0, out * log(a))
    return d_a, d_b


PowScalar = _named(Pow, "PowBackward0")  # tensor ** number
PowTensor = _named(Pow, "PowBackward1")  # tensor ** tensor
RPow = _named(Pow, "PowBackward2")  # number ** tensor


def _int_pow(xp, a, b):
    """Integer power where negative exponents give 0, except for bases 1 and -1 (torch's powi)."""
    neg = b < 0
    if not neg.any():
        return a ** b
    out = a ** xp.where(neg, 0, b).astype(b.dtype, copy=False)
    odd = (b % 2) != 0
    special = xp.where(a == 1, 1, xp.where(a == -1, xp.where(odd, -1, 1), 0))
    return xp.where(neg, special.astype(out.dtype, copy=False), out)


class Neg(Function):
    jvp_linear = True

    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad_output):
        return -grad_output


def _check_int_divisor(b, op, kernel):
    """torch's errors for integer division: no kernel for bools, no division by zero."""
    kind = _arr(b).dtype.kind  # the operands' common dtype
    if kind == "b":
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")
    if kind in "iu" and (_arr(b) == 0).any():
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
    if a is not input or b is not other or _arr(a).dtype.kind != "f":  # a bool may be involved
        _check_no_bool_sub(input, other)
    return (Sub if isinstance(input, Tensor) else Rsub).apply(a, b)


def _check_no_bool_sub(input, other):
    # Python bools count as bool tensors, as in torch
    bools = [type(x) is bool or isinstance(x, Tensor) and x._data.dtype == bool
             for x in (input, other)]
    if all(bools):
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    if any(bools):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or "
                           "`logical_not()` operator instead.")


def mul(input, other):
    """``input * other`` with broadcasting and torch's type promotion."""
    a, b = _operands(input, other)
    return Mul.apply(a, b)


def div(input, other, rounding_mode=None):
    """True division (integers give floats); ``rounding_mode`` 'trunc' or 'floor' rounds."""
    if rounding_mode is None:
        a, b = _operands(input, other, floating=True)
        return Div.apply(a, b)
    a, b = _operands(input, other)
    if rounding_mode == "floor":
        _check_int_divisor(b, "div", "div_floor")
        return FloorDivide.apply(a, b)
    if rounding_mode == "trunc":
        if _arr(a).dtype.kind != "f":
            _check_int_divisor(b, "div", "div_trunc")
            x, y = _arr(a), _arr(b)
            q = x // y
            # floor and trunc differ by one where the division was inexact and negative
            fix = ((x % y) != 0) & ((x < 0) != (y < 0))
            return const(array_module(x).asarray(q + fix.astype(q.dtype, copy=False)))
        return TruncDivide.apply(a, b)
    raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
                     f"found '{rounding_mode}'")


def floor_divide(input, other):
    """``input // other``: division rounded toward -inf (integers: ZeroDivisionError on 0)."""
    a, b = _operands(input, other)
    _check_int_divisor(b, "floor_divide", "div_floor")
    return FloorDivide.apply(a, b)


def remainder(input, other):
    """``input % other``, Python-style: the result has the sign of ``other``."""
    a, b = _operands(input, other)
    _check_int_divisor(b, "remainder", "remainder")
    return Remainder.apply(a, b)


def fmod(input, other):
    """C-style remainder: the result has the sign of ``input``."""
    a, b = _operands(input, other)
    _check_int_divisor(b, "fmod", "fmod")
    return Fmod.apply(a, b)


def pow(input, exponent):
    """``input ** exponent``; integers refuse negative Python-number exponents and bools
    refuse tensor exponents (as torch)."""
    a, b = _operands(input, exponent)
    kind = _arr(a).dtype.kind
    if kind in "iu" and not isinstance(exponent, Tensor) and (
            exponent < 0 if type(exponent) in (int, float) else (_arr(b) < 0).any()):
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    if kind == "b" and (isinstance(exponent, Tensor) or not isinstance(input, Tensor)):
        raise NotImplementedError("\"pow\" not implemented for 'Bool'")
    if not isinstance(exponent, Tensor):
        return PowScalar.apply(a, b)
    return (PowTensor if isinstance(input, Tensor) else RPow).apply(a, b)


def neg(input):
    """``-input``; bool tensors are refused, as in torch."""
    if input._data.dtype == bool:
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or "
                           "`logical_not()` operator instead.")
    return Neg.apply(input)


true_divide = divide = div
subtract = sub
multiply = mul
negative = neg
