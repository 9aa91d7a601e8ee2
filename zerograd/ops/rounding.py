"""Rounding ops: floor, ceil, trunc, round, sign, and the kernels of ``//`` and
``div(rounding_mode=...)``.

They are piecewise constant, so one ``ZeroGrad`` base gives them all a zero gradient
(and no forward-mode tangent); each op is that base with its NumPy function. Integer
inputs are already whole, so floor/ceil/trunc/round return a copy of them. Re-exported by
``ops.elementwise``.
"""
from zerograd.autograd.function import Function
from zerograd.backend import xp, errstate
from zerograd.ops._promote import _broadcast_error
from zerograd.ops._util import const
from zerograd.ops.copying import clone

__all__ = ["sign", "floor", "ceil", "round", "trunc"]


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

    @staticmethod
    def jvp(ctx, *tangents):
        return None  # no tangent: zero


def _zero_grad_op(name, fn):
    return type(name, (ZeroGrad,), {"fn": staticmethod(fn)})


Floor = _zero_grad_op("Floor", xp.floor)
Ceil = _zero_grad_op("Ceil", xp.ceil)
Trunc = _zero_grad_op("Trunc", xp.trunc)
Sign = _zero_grad_op("Sign", xp.sign)
Round = _zero_grad_op("Round", lambda a, decimals=0: xp.round(a, decimals))
FloorDivide = _zero_grad_op("FloorDivide", xp.floor_divide)
TruncDivide = _zero_grad_op("TruncDivide", lambda a, b: xp.trunc(a / b))


def floor(input):
    """Round down elementwise (integer tensors are returned as a copy)."""
    return Floor.apply(input) if input._data.dtype.kind == "f" else clone(input)


def ceil(input):
    """Round up elementwise (integer tensors are returned as a copy)."""
    return Ceil.apply(input) if input._data.dtype.kind == "f" else clone(input)


def trunc(input):
    """Round toward zero elementwise (integer tensors are returned as a copy)."""
    return Trunc.apply(input) if input._data.dtype.kind == "f" else clone(input)


def round(input, decimals=0):
    """Round half to even, optionally to ``decimals`` places (as torch.round)."""
    if input._data.dtype.kind != "f":
        if decimals != 0:
            raise RuntimeError(f"round with decimals is not implemented for integer tensors "
                               f"({input.dtype}); convert first, e.g. x.float()")
        return clone(input)
    return Round.apply(input, decimals=decimals)


def sign(input):
    """-1, 0 or 1 elementwise; its gradient is zero."""
    return clone(input) if input._data.dtype == bool else Sign.apply(input)
