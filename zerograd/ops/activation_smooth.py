"""Smooth activations as fused ops: gelu, silu and softplus.

Their derivatives are costly to rebuild from primitives, so each is one node. Each writes
its derivative twice: ``backward`` with zerograd ops (differentiable, for
``create_graph=True``) and ``backward_array`` on raw arrays, reusing what forward kept,
which the engine runs for the usual ``loss.backward()``.
"""
import math

from zerograd.autograd.function import Function
from zerograd.ops._util import const
from zerograd.ops.selection import where
from zerograd.ops.unary import erf, exp, sigmoid, tanh

__all__ = ["gelu", "silu", "softplus"]

_SQRT1_2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_GELU_K = math.sqrt(2 / math.pi)
_GELU_C = 0.044715


def _cast(array, like):
    return array.astype(like.dtype, copy=False)


def _normal_cdf(xp, x):
    """Phi(x) = 0.5 * erfc(-x / sqrt(2)) of the array ``x`` (``xp``: its array module).

    float64 uses the exact series of ``zerograd.erf``; other dtypes a rational Chebyshev
    fit of erfc (Numerical Recipes, relative error < 1.2e-7, about float32 resolution)
    that costs one exp instead of dozens of series terms.
    """
    if x.dtype == xp.float64:
        return 0.5 * (1 + erf(const(x * _SQRT1_2))._data)
    # float64 inside: exp(-z^2) for z ~ 7 would lose 1e-5 of relative accuracy in float32
    z = xp.abs(x.astype(xp.float64)) * _SQRT1_2
    t = 1 / (1 + 0.5 * z)
    poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    half_erfc = 0.5 * t * xp.exp(-z * z + poly)
    return _cast(xp.where(x < 0, half_erfc, 1 - half_erfc), x)


def _sigmoid_array(xp, a):
    e = xp.exp(-xp.abs(a))
    return _cast(xp.where(a >= 0, 1 / (1 + e), e / (1 + e)), a)


class Gelu(Function):
    @staticmethod
    def forward(ctx, x, approximate):
        ctx.approximate = approximate
        ctx.save_for_backward(x)
        if approximate == "tanh":
            t = ctx.xp.tanh(_GELU_K * (x + _GELU_C * x * x * x))
            ctx.t = t
            return 0.5 * x * (1 + t)
        cdf = _normal_cdf(ctx.xp, x)
        ctx.cdf = cdf
        return x * cdf

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        if ctx.approximate == "tanh":
            t = tanh((x + x * x * x * _GELU_C) * _GELU_K)
            d = (t + 1) * 0.5 + x * (1 - t * t) * (1 + x * x * (3 * _GELU_C)) * (0.5 * _GELU_K)
            return grad_output * d, None
        cdf = (erf(x * _SQRT1_2) + 1) * 0.5
        pdf = exp(x * x * -0.5) * _INV_SQRT_2PI
        return grad_output * (cdf + x * pdf), None

    @staticmethod
    def backward_array(ctx, grad_output):
        # the same derivative from what forward kept (tanh term or the CDF): no recomputation
        a = ctx.saved_tensors[0]._data
        if ctx.approximate == "tanh":
            t = ctx.t
            d = 0.5 * (1 + t) + 0.5 * a * (1 - t * t) * _GELU_K * (1 + 3 * _GELU_C * a * a)
        else:
            d = ctx.cdf + a * ctx.xp.exp(-0.5 * a * a) * _INV_SQRT_2PI
        return grad_output * _cast(d, a), None

    @staticmethod
    def jvp(ctx, tangent, *_):
        # the derivative is elementwise: the same factor as backward's differentiable branch
        x = ctx.fw_inputs[0]
        if ctx.approximate == "tanh":
            t = tanh((x + x * x * x * _GELU_C) * _GELU_K)
            return tangent * ((t + 1) * 0.5 + x * (1 - t * t) * (1 + x * x * (3 * _GELU_C))
                              * (0.5 * _GELU_K))
        cdf = (erf(x * _SQRT1_2) + 1) * 0.5
        return tangent * (cdf + x * (exp(x * x * -0.5) * _INV_SQRT_2PI))


class Silu(Function):
    @staticmethod
    def forward(ctx, x):
        s = _sigmoid_array(ctx.xp, x)
        ctx.s = s
        ctx.save_for_backward(x)
        return x * s

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        s = sigmoid(x)
        return grad_output * (s * (x * (1 - s) + 1))

    @staticmethod
    def backward_array(ctx, grad_output):
        s, a = ctx.s, ctx.saved_tensors[0]._data
        return grad_output * (s * (1 + a * (1 - s)))

    @staticmethod
    def jvp(ctx, tangent):
        x = ctx.fw_inputs[0]
        s = sigmoid(x)
        return tangent * (s * (x * (1 - s) + 1))


class Softplus(Function):
    """log(1 + exp(beta x)) / beta, linear where beta * x > threshold (as torch)."""

    @staticmethod
    def forward(ctx, x, beta, threshold):
        xp = ctx.xp
        bx = x * beta
        ctx.linear = bx > threshold
        ctx.params = (beta, threshold)
        ctx.save_for_backward(x)
        # log1p(exp(-|z|)) + max(z, 0): no overflow for any z
        soft = (xp.maximum(bx, 0) + xp.log1p(xp.exp(-xp.abs(bx)))) / beta
        return _cast(xp.where(ctx.linear, x, soft), x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        beta, _ = ctx.params
        d = where(const(ctx.linear), 1.0, sigmoid(x * beta))
        return grad_output * d, None, None

    @staticmethod
    def backward_array(ctx, grad_output):
        a = ctx.saved_tensors[0]._data
        beta, _ = ctx.params
        d = ctx.xp.where(ctx.linear, 1, _sigmoid_array(ctx.xp, a * beta))
        return grad_output * _cast(d, a), None, None

    @staticmethod
    def jvp(ctx, tangent, *_):
        beta, _ = ctx.params
        return tangent * where(const(ctx.linear), 1.0, sigmoid(ctx.fw_inputs[0] * beta))


def gelu(input, approximate="none"):
    """x * Phi(x), or its tanh approximation (``approximate='tanh'``); ``input`` floating."""
    return Gelu.apply(input, approximate)


def silu(input):
    """x * sigmoid(x)."""
    return Silu.apply(input)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, computed without overflow (linear above threshold)."""
    return Softplus.apply(input, beta, threshold)
