"""Activation functions of ``nn.functional``: argument handling on top of the ops.

This file holds the piecewise ones (relu, threshold, hardtanh, elu / selu / celu, leaky,
parametric and randomized relu, hard sigmoid / swish, shrinkers); the smooth ones (gelu,
silu, softplus, softmax...) are in ``activation_smooth`` and re-exported here, so
``__all__`` still lists every activation. leaky_relu, hardtanh and the elu family are fused
ops of ``zerograd.ops.activation_piecewise``; the rest compose differentiable ops.
"""
from zerograd.backend import array_module, device_of
from zerograd import ops as E
from zerograd.nn.functional._activation_util import _cast, _maybe_inplace
from zerograd.nn.functional.activation_smooth import (
    gelu, glu, log_softmax, logsigmoid, mish, sigmoid, silu, softmax, softmin, softplus,
    softsign, tanh, tanhshrink)
from zerograd.ops import activation_piecewise as _piecewise
from zerograd.ops._util import const, float_operand
from zerograd.ops import where
from zerograd.random import rng_of

__all__ = ["threshold", "relu", "relu_", "relu6", "hardtanh", "hardtanh_", "elu", "elu_",
           "selu", "celu", "leaky_relu", "leaky_relu_", "prelu", "rrelu", "glu", "gelu",
           "logsigmoid", "hardshrink", "softshrink", "tanhshrink", "softsign", "softplus",
           "softmin", "softmax", "log_softmax", "tanh", "sigmoid", "hardsigmoid", "silu",
           "mish", "hardswish"]


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
        return _piecewise.hardtanh(float_operand(x), min_val, max_val)
    return _maybe_inplace(op, input, inplace)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input, inplace=False):
    """min(max(x, 0), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def elu(input, alpha=1.0, inplace=False):
    """x if x > 0 else alpha * (exp(x) - 1)."""
    def op(x):
        return _piecewise.elu(float_operand(x), alpha, 1.0, 1.0)
    return _maybe_inplace(op, input, inplace)


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    """Self-normalizing ELU: scale * elu(x, alpha) with the constants of Klambauer et al."""
    def op(x):
        return _piecewise.elu(float_operand(x), _SELU_ALPHA, _SELU_SCALE, 1.0)
    return _maybe_inplace(op, input, inplace)


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    if alpha == 0:
        raise ValueError("ZeroDivisionError: alpha cannot be 0 for CELU")
    def op(x):
        return _piecewise.elu(float_operand(x), alpha, 1.0, 1.0 / alpha)
    return _maybe_inplace(op, input, inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x if x > 0 else negative_slope * x."""
    def op(x):
        return _piecewise.leaky_relu(float_operand(x), negative_slope)
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
    a = input._data
    slopes = rng_of(None, device=device_of(a)).uniform(lower, upper, a.shape)
    factor = const(_cast(array_module(a).where(a >= 0, 1.0, slopes), a))
    return _maybe_inplace(lambda x: x * factor, input, inplace)


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6."""
    return _maybe_inplace(lambda x: _piecewise.hardtanh(float_operand(x) + 3, 0.0, 6.0) / 6,
                          input, inplace)


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6."""
    return _maybe_inplace(lambda x: x * (_piecewise.hardtanh(float_operand(x) + 3, 0.0, 6.0) / 6),
                          input, inplace)


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0."""
    return where(const(abs(input._data) > lambd), input, 0.0)


def softshrink(input, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""
    a = input._data
    shift = const(_cast(array_module(a).where(a > lambd, -lambd, lambd), a))
    return where(const(abs(a) > lambd), input + shift, 0.0)
