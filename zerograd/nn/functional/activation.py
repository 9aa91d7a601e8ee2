"""Activation functions of ``nn.functional``.

The piecewise ones (leaky_relu, elu, hardtanh) and the smooth ones whose derivative is
costly to rebuild from primitives (gelu, silu, softplus) are fused ops. Their backward
has two paths: a plain NumPy formula when no graph is being recorded (the usual
``loss.backward()``), and the same formula written with zerograd ops under
``create_graph=True``, so second derivatives still work. The rest are short compositions
of differentiable ops.
"""
import math

from zerograd.autograd.function import Function
from zerograd.autograd.grad_mode import is_grad_enabled
from zerograd.backend import errstate, xp
from zerograd import ops as E
from zerograd.ops._util import const, float_operand, normalize_dim
from zerograd.ops import activation as _act
from zerograd.ops import sigmoid, tanh, where
from zerograd.ops.inplace import inplace as _inplace

__all__ = ["threshold", "relu", "relu_", "relu6", "hardtanh", "hardtanh_", "elu", "elu_",
           "selu", "celu", "leaky_relu", "leaky_relu_", "prelu", "rrelu", "glu", "gelu",
           "logsigmoid", "hardshrink", "softshrink", "tanhshrink", "softsign", "softplus",
           "softmin", "softmax", "log_softmax", "tanh", "sigmoid", "hardsigmoid", "silu",
           "mish", "hardswish"]

_SQRT1_2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


def _cast(array, like):
    return array.astype(like.dtype, copy=False)


def _maybe_inplace(fn, input, inplace, *args):
    if inplace:
        return _inplace(input, fn, *args)
    return fn(input, *args)


# -- piecewise-linear ops: the backward is the incoming gradient times a constant mask ------
class LeakyRelu(Function):
    @staticmethod
    def forward(ctx, x, slope):
        positive = x > 0
        ctx.factor = _cast(xp.where(positive, 1.0, slope), x)
        return xp.where(positive, x, x * slope)

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
        return xp.clip(x, min_val, max_val)

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
        positive = x > 0
        with errstate(over="ignore"):
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
        if not is_grad_enabled():
            factor = xp.where(ctx.positive, scale, input_scale * (out._data + scale * alpha))
            return grad_output * const(_cast(factor, out._data)), None, None, None
        factor = where(const(ctx.positive), scale, (out + scale * alpha) * input_scale)
        return grad_output * factor, None, None, None

    @staticmethod
    def jvp(ctx, tangent, *_):
        alpha, scale, input_scale = ctx.params
        out = ctx.fw_output
        return tangent * where(const(ctx.positive), scale, (out + scale * alpha) * input_scale)


# -- smooth ops ----------------------------------------------------------------------------
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
def relu(input, inplace=False):
    """max(x, 0)."""
    return _maybe_inplace(E.relu, input, inplace)


def relu_(input):
    return relu(input, inplace=True)


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else value."""
    def op(x):
        return where(x > threshold, x, value)
    return _maybe_inplace(op, input, inplace)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clamp(x, min_val, max_val); the gradient is zero outside (min_val, max_val)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val "
                         f"({max_val})")
    def op(x):
        return Hardtanh.apply(float_operand(x), min_val, max_val)
    return _maybe_inplace(op, input, inplace)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input, inplace=False):
    """min(max(x, 0), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def elu(input, alpha=1.0, inplace=False):
    """x if x > 0 else alpha * (exp(x) - 1)."""
    def op(x):
        return Elu.apply(float_operand(x), alpha, 1.0, 1.0)
    return _maybe_inplace(op, input, inplace)


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    """Self-normalizing ELU: scale * elu(x, alpha) with the constants of Klambauer et al."""
    def op(x):
        return Elu.apply(float_operand(x), _SELU_ALPHA, _SELU_SCALE, 1.0)
    return _maybe_inplace(op, input, inplace)


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    if alpha == 0:
        raise ValueError("ZeroDivisionError: alpha cannot be 0 for CELU")
    def op(x):
        return Elu.apply(float_operand(x), alpha, 1.0, 1.0 / alpha)
    return _maybe_inplace(op, input, inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x if x > 0 else negative_slope * x."""
    def op(x):
        return LeakyRelu.apply(float_operand(x), negative_slope)
    return _maybe_inplace(op, input, inplace)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def prelu(input, weight):
    """leaky_relu with a learned slope: one per channel (dim 1) or one shared."""
    if weight.numel() != 1:
        channels = input.shape[1] if input.ndim >= 2 else input.shape[0]
        if weight.numel() != channels:
            raise RuntimeError(f"prelu: mismatch of parameter numbers and input channel size. "
                               f"Found parameter numbers = {weight.numel()} and channel size "
                               f"= {channels}.")
        if input.ndim >= 2:
            weight = weight.reshape(-1, *([1] * (input.ndim - 2)))
    return where(const(input._data > 0), input, weight * input)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Randomized leaky ReLU: a slope ~ U(lower, upper) per element while training."""
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    from zerograd.random import rng_of
    slopes = rng_of(None).uniform(lower, upper, input._data.shape)
    factor = const(_cast(xp.where(input._data >= 0, 1.0, slopes), input._data))
    return _maybe_inplace(lambda x: x * factor, input, inplace)


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


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6."""
    return _maybe_inplace(lambda x: Hardtanh.apply(float_operand(x) + 3, 0.0, 6.0) / 6,
                          input, inplace)


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6."""
    return _maybe_inplace(lambda x: x * (Hardtanh.apply(float_operand(x) + 3, 0.0, 6.0) / 6),
                          input, inplace)


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0."""
    return where(const(xp.abs(input._data) > lambd), input, 0.0)


def softshrink(input, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""
    a = input._data
    shift = const(_cast(xp.where(a > lambd, -lambd, lambd), a))
    return where(const(xp.abs(a) > lambd), input + shift, 0.0)


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
