"""Selection ops: where, clamp/clip (number or tensor bounds), maximum/minimum, lerp, addcmul.

At ties and bounds the gradient follows torch: maximum/minimum split it evenly between
equal inputs; clamp passes it to the input at a bound; a ``where`` branch that is not
taken gets exactly zero, even where its own values are nan.
"""
from zerograd import dtypes
from zerograd.autograd.function import Function
from zerograd.backend import array_module
from zerograd.ops._promote import _broadcast_error, _cast, _module_of, _named, _operands, to_dtype
from zerograd.ops._util import const
from zerograd.ops.sorting import nonzero
from zerograd.tensor import Tensor

__all__ = ["where", "clamp", "clip", "maximum", "minimum", "lerp", "addcmul", "addcdiv"]


class Where(Function):
    @staticmethod
    def forward(ctx, condition, a, b):
        ctx.condition = condition
        try:
            return ctx.xp.where(condition, a, b)
        except ValueError:
            raise _broadcast_error(condition, a, b) from None

    @staticmethod
    def backward(ctx, grad_output):
        cond = ctx.condition
        zero = grad_output._data.dtype.type(0)  # a NumPy scalar: fine on every device
        return (None,
                Where.apply(cond, grad_output, zero) if ctx.needs_input_grad[1] else None,
                Where.apply(cond, zero, grad_output) if ctx.needs_input_grad[2] else None)

    @staticmethod
    def jvp(ctx, _, t_a, t_b):
        zero = ctx.fw_output._data.dtype.type(0)
        return Where.apply(ctx.condition, zero if t_a is None else t_a,
                           zero if t_b is None else t_b)


def where(condition, input=None, other=None):
    """``where(cond, a, b)`` picks from a where cond holds; ``where(cond)`` is nonzero(as_tuple)."""
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    cond = condition._data if isinstance(condition, Tensor) else \
        _module_of(input, other).asarray(condition)
    if cond.dtype != bool:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor "
                           f"with dtype "
                           f"{dtypes.scalar_type_name(dtypes.from_numpy_dtype(cond.dtype))}")
    a, b = _operands(input, other)
    return Where.apply(cond, a, b)


class Clamp(Function):
    """clamp with Tensor bounds (either may be None); at a bound the input gets the gradient."""

    @staticmethod
    def forward(ctx, a, lo, hi):
        try:
            out = a if lo is None else ctx.xp.maximum(a, lo)
            out = out if hi is None else ctx.xp.minimum(out, hi)
        except ValueError:
            raise _broadcast_error(*[x for x in (a, lo, hi) if x is not None]) from None
        ctx.save_for_backward(a, lo, hi)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        masks = _clamp_masks(*ctx.saved_tensors)
        return tuple(where(m, grad_output, 0.0) if need else None
                     for m, need in zip(masks, ctx.needs_input_grad))

    @staticmethod
    def jvp(ctx, *tangents):
        masks = _clamp_masks(*[x if x is None or isinstance(x, Tensor) else const(x)
                               for x in ctx.fw_inputs])
        parts = [where(m, t, 0.0) for m, t in zip(masks, tangents) if t is not None]
        out = parts[0]
        for p in parts[1:]:
            out = out + p
        return out


def _clamp_masks(a, lo, hi):
    """Where the output follows a, lo and hi. torch's rules: at a bound the input wins; if
    lo > hi the output is hi everywhere, so only hi does."""
    take_lo = take_hi = None
    if lo is not None and hi is not None:
        inside = (a >= lo) & (a <= hi)
        take_lo = (a < lo) & (lo < hi)
        take_hi = (a > hi) | (hi < lo)
    elif lo is not None:
        inside = a >= lo
        take_lo = a < lo
    else:
        inside = a <= hi
        take_hi = a > hi
    return inside, take_lo, take_hi


ClampScalar = _named(Clamp, "ClampBackward1")  # Python-number bounds


def clamp(input, min=None, max=None):
    """Limit ``input`` to [min, max]; bounds are numbers or tensors (broadcast)."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    d = dtypes.result_type(input, *[m for m in (min, max) if m is not None])
    x = input if input._data.dtype == d.np else to_dtype(input, d)
    xp = array_module(input)
    lo = None if min is None else _cast(min, d, xp)
    hi = None if max is None else _cast(max, d, xp)
    scalar = not isinstance(min, Tensor) and not isinstance(max, Tensor)
    return (ClampScalar if scalar else Clamp).apply(x, lo, hi)


clip = clamp


class Maximum(Function):
    """Ties split the gradient evenly between both inputs (torch's convention)."""

    take = "maximum"  # the array module's function

    @classmethod
    def forward(cls, ctx, a, b):
        ctx.save_for_backward(a, b)
        try:
            return getattr(ctx.xp, cls.take)(a, b)
        except ValueError:
            raise _broadcast_error(a, b) from None

    @classmethod
    def backward(cls, ctx, grad_output):
        a, b = ctx.saved_tensors
        share_a, share_b = cls._shares(a._data, b._data, grad_output._data.dtype)
        return (grad_output * share_a if ctx.needs_input_grad[0] else None,
                grad_output * share_b if ctx.needs_input_grad[1] else None)

    @classmethod
    def jvp(cls, ctx, t_a, t_b):
        x, y = (v._data if isinstance(v, Tensor) else v for v in ctx.fw_inputs)
        share_a, share_b = cls._shares(x, y, ctx.fw_output._data.dtype)
        return (t_a * share_a if t_b is None else t_b * share_b if t_a is None
                else t_a * share_a + t_b * share_b)

    @classmethod
    def _shares(cls, x, y, dtype):
        # torch: each input gets the gradient where it wins, half of it at a tie (nan: both)
        loses_x, loses_y = (x < y, x > y) if cls.take == "maximum" else (x > y, x < y)
        half = array_module(x, y).where(x == y, 0.5, 1.0).astype(dtype, copy=False)
        return const(half * ~loses_x), const(half * ~loses_y)


class Minimum(Maximum):
    take = "minimum"


def maximum(input, other):
    """Elementwise max of two tensors; at ties each gets half the gradient."""
    a, b = _operands(input, other)
    return Maximum.apply(a, b)


def minimum(input, other):
    """Elementwise min of two tensors; at ties each gets half the gradient."""
    a, b = _operands(input, other)
    return Minimum.apply(a, b)


def lerp(input, end, weight):
    """``input + weight * (end - input)``."""
    return input + weight * (end - input)


def addcmul(input, tensor1, tensor2, value=1):
    """``input + value * tensor1 * tensor2``."""
    return input + value * tensor1 * tensor2


def addcdiv(input, tensor1, tensor2, value=1):
    """``input + value * tensor1 / tensor2``."""
    return input + value * tensor1 / tensor2
