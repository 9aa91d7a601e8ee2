"""Rounding ops: floor, ceil, trunc, round, sign, and the kernels of ``//`` and
``div(rounding_mode=...)``.

They are piecewise constant, so one ``ZeroGrad`` base gives them all a zero gradient
(and no forward-mode tangent); each op is that base with its array function
``fn(xp, *arrays)``. Integer inputs are already whole, so floor/ceil/trunc/round return a
copy of them.
"""
from zerograd.autograd.function import Function
from zerograd.backend import array_module
from zerograd.ops._promote import _broadcast_error
from zerograd.ops._util import const
from zerograd.ops.copying import clone

__all__ = ["sign", "floor", "ceil", "round", "trunc"]


class ZeroGrad(Function):
    """Piecewise-constant ops (floor, ceil, round, trunc, sign, //): the gradient is zero."""

    fn = None  # fn(xp, *arrays, **kwargs): the op on arrays of the module xp

    @classmethod
    def forward(cls, ctx, *arrays, **kwargs):
        ctx.shapes = [a.shape for a in arrays]
        try:
            with ctx._backend.errstate(divide="ignore", invalid="ignore"):
                return cls.fn(ctx.xp, *arrays, **kwargs)
        except ValueError:
            raise _broadcast_error(*arrays) from None

    @staticmethod
    def backward(ctx, grad_output):
        g = grad_output._data
        xp = array_module(g)
        return tuple(const(xp.zeros(shape, dtype=g.dtype)) if need else None
                     for shape, need in zip(ctx.shapes, ctx.needs_input_grad))

    @staticmethod
    def jvp(ctx, *tangents):
        return None  # no tangent: zero


def _zero_grad_op(name, fn):
    return type(name, (ZeroGrad,), {"fn": staticmethod(fn)})


Floor = _zero_grad_op("Floor", lambda xp, a: xp.floor(a))
Ceil = _zero_grad_op("Ceil", lambda xp, a: xp.ceil(a))
Trunc = _zero_grad_op("Trunc", lambda xp, a: xp.trunc(a))
Sign = _zero_grad_op("Sign", lambda xp, a: xp.sign(a))
Round = _zero_grad_op("Round", lambda xp, a, decimals=0: xp.round(a, decimals))
FloorDivide = _zero_grad_op("FloorDivide", lambda xp, a, b: xp.floor_divide(a, b))
TruncDivide = _zero_grad_op("TruncDivide", lambda xp, a, b: xp.trunc(a / b))


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
