"""Piecewise activations as fused ops: leaky_relu, hardtanh and the elu family.

Each is linear (or exponential) on either side of a kink, so the backward is the incoming
gradient times a factor kept from the forward: a constant mask for leaky_relu and
hardtanh; for elu, ``scale`` on the positive side and ``input_scale * (out + scale *
alpha)`` on the negative one: written with zerograd ops in ``backward`` (differentiable again
for second derivatives) and on arrays in ``backward_array`` for the usual backward.
"""
from zerograd.autograd.function import Function
from zerograd.backend import errstate
from zerograd.ops._util import const
from zerograd.ops.selection import where

__all__ = ["leaky_relu", "hardtanh", "elu"]


def _cast(array, like):
    return array.astype(like.dtype, copy=False)


class LeakyRelu(Function):
    @staticmethod
    def forward(ctx, x, slope):
        positive = x > 0
        ctx.factor = _cast(ctx.xp.where(positive, 1.0, slope), x)
        return ctx.xp.where(positive, x, x * slope)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output * const(ctx.factor), None

    @staticmethod
    def jvp(ctx, tangent, *_):
        return tangent * const(ctx.factor)


class Hardtanh(Function):
    @staticmethod
    def forward(ctx, x, min_val, max_val):
        ctx.inside = (x > min_val) & (x < max_val)
        return ctx.xp.clip(x, min_val, max_val)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output * const(ctx.inside), None, None

    @staticmethod
    def jvp(ctx, tangent, *_):
        return tangent * const(ctx.inside)


class Elu(Function):
    """scale * (x if x > 0 else alpha * (exp(input_scale * x) - 1)): elu, selu and celu."""

    @staticmethod
    def forward(ctx, x, alpha, scale, input_scale):
        xp = ctx.xp
        positive = x > 0
        with errstate(x, over="ignore"):
            neg = scale * alpha * xp.expm1(xp.minimum(x, 0) * input_scale)
        out = _cast(xp.where(positive, x * scale, neg), x)
        ctx.positive, ctx.params = positive, (alpha, scale, input_scale)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        alpha, scale, input_scale = ctx.params
        (out,) = ctx.saved_tensors
        # on the negative side the derivative is input_scale * (out + scale * alpha)
        factor = where(const(ctx.positive), scale, (out + scale * alpha) * input_scale)
        return grad_output * factor, None, None, None

    @staticmethod
    def backward_array(ctx, grad_output):
        alpha, scale, input_scale = ctx.params
        out = ctx.saved_tensors[0]._data
        factor = ctx.xp.where(ctx.positive, scale, input_scale * (out + scale * alpha))
        return grad_output * _cast(factor, out), None, None, None

    @staticmethod
    def jvp(ctx, tangent, *_):
        alpha, scale, input_scale = ctx.params
        out = ctx.fw_output
        return tangent * where(const(ctx.positive), scale, (out + scale * alpha) * input_scale)


def leaky_relu(input, negative_slope=0.01):
    """x if x > 0 else negative_slope * x (``input`` floating)."""
    return LeakyRelu.apply(input, negative_slope)


def hardtanh(input, min_val=-1.0, max_val=1.0):
    """clamp(x, min_val, max_val); the gradient is zero outside (min_val, max_val)."""
    return Hardtanh.apply(input, min_val, max_val)


def elu(input, alpha=1.0, scale=1.0, input_scale=1.0):
    """ATen's elu: elu (the defaults), selu and celu differ only in the three constants."""
    return Elu.apply(input, alpha, scale, input_scale)
