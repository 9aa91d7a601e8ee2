"""Softmax and log-softmax: the numerically stable building blocks of classification losses.

Both subtract the row maximum before exponentiating, so logits of 1e4 stay finite.
"""
from zerograd._aliases import numpy_aliases
from zerograd import dtypes
from zerograd.autograd.function import Function
from zerograd.ops._util import float_operand, normalize_dim

__all__ = ["softmax", "log_softmax"]


def _shifted(a, dim):
    # a - max(a) along dim: the largest exponent is 0 (an all -inf row gives nan, as torch)
    return a - a.max(axis=dim, keepdims=True)


class Softmax(Function):
    @staticmethod
    def forward(ctx, a, dim):
        ctx.dim = dim
        if a.size == 0:  # no row to normalize (NumPy's max would refuse an empty axis)
            out = a.copy()
        else:
            e = ctx.xp.exp(_shifted(a, dim))
            out = e / e.sum(axis=dim, keepdims=True)  # the sum is >= 1: no division by 0
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        # J^T g = y * (g - <g, y>)
        return out * (grad_output - (grad_output * out).sum(ctx.dim, keepdim=True))

    @staticmethod
    def jvp(ctx, tangent, *_):
        out = ctx.fw_output  # the Jacobian is symmetric: J t = y * (t - <t, y>)
        return out * (tangent - (tangent * out).sum(ctx.dim, keepdim=True))


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, a, dim):
        ctx.dim = dim
        if a.size == 0:
            out = a.copy()
        else:
            shifted = _shifted(a, dim)
            xp = ctx.xp
            out = shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output - out.exp() * grad_output.sum(ctx.dim, keepdim=True)

    @staticmethod
    def jvp(ctx, tangent, *_):
        return tangent - (tangent * ctx.fw_output.exp()).sum(ctx.dim, keepdim=True)


def _prepare(input, dim, dtype):
    if dtype is not None:
        input = input.to(dtypes.as_dtype(dtype))
    input = float_operand(input)
    if dim is None:  # torch's legacy implicit dim: 0 for 0-, 1- and 3-D input, else 1
        dim = 0 if input.ndim in (0, 1, 3) else 1
    return input, normalize_dim(dim, input.ndim)


@numpy_aliases
def softmax(input, dim=None, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim``, computed without overflow."""
    input, d = _prepare(input, dim, dtype)
    if input.ndim == 0:
        return input * 0 + 1
    return Softmax.apply(input, d)


@numpy_aliases
def log_softmax(input, dim=None, dtype=None):
    """x - logsumexp(x) along ``dim``, computed without overflow."""
    input, d = _prepare(input, dim, dtype)
    if input.ndim == 0:
        return input * 0
    return LogSoftmax.apply(input, d)
