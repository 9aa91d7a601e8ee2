"""Smooth activation functions of ``nn.functional``: gelu, silu, the softplus family,
glu, soft shrinkers and the softmax family.

gelu, silu and softplus are fused ops because their derivatives are costly to rebuild
from primitives. Their backward has two paths: a plain NumPy formula when no graph is
being recorded (the usual ``loss.backward()``), and the same formula written with
zerograd ops under ``create_graph=True``, so second derivatives still work. The rest are
short compositions of differentiable ops.
"""
import math

from zerograd.autograd.function import Function
from zerograd.autograd.grad_mode import is_grad_enabled
from zerograd.backend import xp
from zerograd import ops as E
from zerograd.nn.functional._activation_util import _cast, _maybe_inplace
from zerograd.ops._util import const, float_operand, normalize_dim
from zerograd.ops import activation as _act
from zerograd.ops import sigmoid, tanh, where

__all__ = ["glu", "gelu", "logsigmoid", "tanhshrink", "softsign", "softplus", "softmin",
           "softmax", "log_softmax", "tanh", "sigmoid", "silu", "mish"]

_SQRT1_2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


# -- fused ops -----------------------------------------------------------------------------
def _normal_cdf(x):
    """Phi(x) = 0.5 * erfc(-x / sqrt(2)).

    float64 uses the exact series of ``zerograd.erf``; other dtypes a rational Chebyshev
    fit of erfc (Numerical Recipes, relative error < 1.2e-7, about float32 resolution)
    that costs one exp instead of dozens of series terms.
    """
    if x.dtype == xp.float64:
        return 0.5 * (1 + E.erf(const(x * _SQRT1_2))._data)
    # float64 inside: exp(-z^2) for z ~ 7 would lose 1e-5 of relative accuracy in float32
    z = xp.abs(x.astype(xp.float64)) * _SQRT1_2
    t = 1 / (1 + 0.5 * z)
    poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    half_erfc = 0.5 * t * xp.exp(-z * z + poly)
    return _cast(xp.where(x < 0, half_erfc, 1 - half_erfc), x)


_GELU_K = math.sqrt(2 / math.pi)
_GELU_C = 0.044715


class Gelu(Function):
    @staticmethod
    def forward(ctx, x, approximate):
        ctx.approximate = approximate
        ctx.save_for_backward(x)
        if approximate == "tanh":
            t = xp.tanh(_GELU_K * (x + _GELU_C * x * x * x))
            ctx.t = t
            return 0.5 * x * (1 + t)
        cdf = _normal_cdf(x)
        ctx.cdf = cdf
        return x * cdf

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        if ctx.approximate == "tanh":
            if not is_grad_enabled():
                a, t = x._data, ctx.t
                d = 0.5 * (1 + t) + 0.5 * a * (1 - t * t) * _GELU_K * (1 + 3 * _GELU_C * a * a)
                return grad_output * const(_cast(d, a)), None
            t = tanh((x + x * x * x * _GELU_C) * _GELU_K)
            d = (t + 1) * 0.5 + x * (1 - t * t) * (1 + x * x * (3 * _GELU_C)) * (0.5 * _GELU_K)
            return grad_output * d, None
        if not is_grad_enabled():
            a = x._data
            d = ctx.cdf + a * xp.exp(-0.5 * a * a) * _INV_SQRT_2PI
            return grad_output * const(_cast(d, a)), None
        cdf = (E.erf(x * _SQRT1_2) + 1) * 0.5
        pdf = E.exp(x * x * -0.5) * _INV_SQRT_2PI
        return grad_output * (cdf + x * pdf), None

    @staticmethod
    def jvp(ctx, tangent, *_):
        # the derivative is elementwise: the same factor as backward's differentiable branch
        x = ctx.fw_inputs[0]
        if ctx.approximate == "tanh":
            t = tanh((x + x * x * x * _GELU_C) * _GELU_K)
            return tangent * ((t + 1) * 0.5 + x * (1 - t * t) * (1 + x * x * (3 * _GELU_C))
                              * (0.5 * _GELU_K))
        cdf = (E.erf(x * _SQRT1_2) + 1) * 0.5
        return tangent * (cdf + x * (E.exp(x * x * -0.5) * _INV_SQRT_2PI))


def _sigmoid_array(a):
    e = xp.exp(-xp.abs(a))
    return _cast(xp.where(a >= 0, 1 / (1 + e), e / (1 + e)), a)


class Silu(Function):
    @staticmethod
    def forward(ctx, x):
        s = _sigmoid_array(x)
        ctx.s = s
        ctx.save_for_backward(x)
        return x * s

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        if not is_grad_enabled():
            s, a = ctx.s, x._data
            return grad_output * const(s * (1 + a * (1 - s)))
        s = sigmoid(x)
        return grad_output * (s * (x * (1 - s) + 1))

    @staticmethod
    def jvp(ctx, tangent):
        x = ctx.fw_inputs[0]
        s = sigmoid(x)
        return tangent * (s * (x * (1 - s) + 1))


class Softplus(Function):
    """log(1 + exp(beta x)) / beta, linear where beta * x > threshold (as torch)."""

    @staticmethod
    def forward(ctx, x, beta, threshold):
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
        if not is_grad_enabled():
            d = xp.where(ctx.linear, 1, _sigmoid_array(x._data * beta))
            return grad_output * const(_cast(d, x._data)), None, None
        d = where(const(ctx.linear), 1.0, sigmoid(x * beta))
        return grad_output * d, None, None

    @staticmethod
    def jvp(ctx, tangent, *_):
        beta, _ = ctx.params
        return tangent * where(const(ctx.linear), 1.0, sigmoid(ctx.fw_inputs[0] * beta))


# -- public functions ----------------------------------------------------------------------
def glu(input, dim=-1):
    """a * sigmoid(b) where a, b are the two halves of ``input`` along ``dim``."""
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = normalize_dim(dim, input.ndim)
    if input.shape[d] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size "
                           f"{input.shape[d]}")
    a, b = input.chunk(2, d)
    return a * sigmoid(b)


def gelu(input, approximate="none"):
    """x * Phi(x) (Phi: the standard normal CDF, via erf); ``approximate='tanh'`` uses
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"approximate argument must be either none or tanh, got "
                           f"{approximate!r}")
    return Gelu.apply(float_operand(input), approximate)


def silu(input, inplace=False):
    """x * sigmoid(x) (a.k.a. swish)."""
    return _maybe_inplace(lambda x: Silu.apply(float_operand(x)), input, inplace)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, computed without overflow."""
    return Softplus.apply(float_operand(input), beta, threshold)


def logsigmoid(input):
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|."""
    return -Softplus.apply(-float_operand(input), 1.0, math.inf)


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    return _maybe_inplace(lambda x: x * tanh(softplus(x)), input, inplace)


def tanhshrink(input):
    """x - tanh(x)."""
    return input - tanh(input)


def softsign(input):
    """x / (1 + |x|)."""
    return input / (E.abs(input) + 1)


def _implicit_dim(name, dim):
    if dim is None:
        import warnings
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the "
                      "call to include dim=X as an argument.", stacklevel=3)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim`` (max-shifted, so large logits stay finite)."""
    _implicit_dim("softmax", dim)
    return _act.softmax(input, dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """x - logsumexp(x) along ``dim``: the stable log of softmax."""
    _implicit_dim("log_softmax", dim)
    return _act.log_softmax(input, dim, dtype=dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-x)."""
    _implicit_dim("softmin", dim)
    return _act.softmax(-input, dim, dtype=dtype)
