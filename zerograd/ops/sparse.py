"""Embedding lookup: rows of a weight table picked by integer indices.

The gradient adds each incoming row into the weight row it was read from; repeated indices
accumulate with one vectorized scatter (``IndexAddInto``), with no loop over samples. That
scatter is itself differentiable (its own gradient is the lookup again).
"""
from zerograd.autograd.function import Function
from zerograd.ops._util import const
from zerograd.ops.indexing import IndexAddInto

__all__ = ["embedding"]


class Embedding(Function):
    @staticmethod
    def forward(ctx, weight, indices, padding_idx, scale_grad_by_freq):
        ctx.indices, ctx.num_weights = indices, weight.shape[0]
        ctx.padding_idx, ctx.scale_grad_by_freq = padding_idx, scale_grad_by_freq
        return weight[indices]

    @staticmethod
    def backward(ctx, grad_output):
        idx = ctx.indices.reshape(-1)
        dim = grad_output.shape[-1]
        g = grad_output.reshape(-1, dim)
        factor = None
        if ctx.padding_idx >= 0:
            factor = idx != ctx.padding_idx
        if ctx.scale_grad_by_freq:
            counts = ctx.xp.bincount(idx, minlength=ctx.num_weights)
            inv = 1.0 / counts[idx]
            factor = inv if factor is None else inv * factor
        if factor is not None:
            g = g * const(factor.astype(g._data.dtype)[:, None])
        return IndexAddInto.apply(g, (ctx.num_weights, dim), (idx,)), None, None, None

    @staticmethod
    def jvp(ctx, t_weight, *_):
        # linear in the weight: the same rows of its tangent (the indices are no variable)
        if t_weight is None:
            return None
        _, indices, padding_idx, scale_grad_by_freq = ctx.fw_inputs
        return Embedding.apply(t_weight, indices, padding_idx, scale_grad_by_freq)


def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False):
    """``weight[indices]`` (ATen's argument order); rows at ``padding_idx`` (when >= 0) get
    no gradient. The indices are trusted (``nn.functional.embedding`` checks them)."""
    return Embedding.apply(weight, indices, padding_idx, scale_grad_by_freq)
