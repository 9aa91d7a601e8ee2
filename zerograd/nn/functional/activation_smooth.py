"""Smooth activation functions of ``nn.functional``: gelu, silu, the softplus family,
glu, soft shrinkers and the softmax family.

gelu, silu and softplus are fused ops (``zerograd.ops.activation_smooth``); this file
checks their arguments. The rest are short compositions of differentiable ops.
"""
import math

from zerograd import ops as E
from zerograd.nn.functional._activation_util import _maybe_inplace
from zerograd.ops import activation_smooth as _smooth
from zerograd.ops._util import float_operand, normalize_dim
from zerograd.ops import activation as _act
from zerograd.ops import sigmoid, tanh

__all__ = ["glu", "gelu", "logsigmoid", "tanhshrink", "softsign", "softplus", "softmin",
           "softmax", "log_softmax", "tanh", "sigmoid", "silu", "mish"]


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
    return _smooth.gelu(float_operand(input), approximate)


def silu(input, inplace=False):
    """x * sigmoid(x) (a.k.a. swish)."""
    return _maybe_inplace(lambda x: _smooth.silu(float_operand(x)), input, inplace)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, computed without overflow."""
    return _smooth.softplus(float_operand(input), beta, threshold)


def logsigmoid(input):
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|."""
    return -_smooth.softplus(-float_operand(input), 1.0, math.inf)


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
