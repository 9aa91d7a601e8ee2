"""What the reductions share: restoring reduced dims, and the ``_Reduction`` base class.

Most reductions have a derivative ``D`` that is elementwise in the input (d max/d a_i is
the tie share of a_i, d var/d a_i is 2 (a_i - mean) / dof...). Given ``D``, reverse mode
is ``g * D`` (g broadcast back over the reduced dims) and forward mode is ``sum(t * D)``
over them: one formula serves both.
"""
from zerograd.autograd.function import Function
from zerograd.ops.shape import Expand, Reshape


def _count(shape, dims):
    n = 1
    for d in dims:
        n *= shape[d]
    return n


def _kept_shape(shape, dims):
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def _expand_back(grad, in_shape, dims, keepdim):
    """A reduced gradient broadcast back over the reduced dims of the input."""
    if not keepdim and grad._data.ndim:  # a 0-d gradient broadcasts as it is
        grad = Reshape.apply(grad, _kept_shape(in_shape, dims))
    return Expand.apply(grad, tuple(in_shape))


def _expand_back_array(xp, grad, in_shape, dims, keepdim):
    """``_expand_back`` on arrays (the array-level backward of sum and mean)."""
    if not keepdim and grad.ndim:
        grad = grad.reshape(_kept_shape(in_shape, dims))
    if grad.size * 16 >= _numel(in_shape):
        # a small reduction: materializing is cheaper than NumPy's Python-level broadcast_to
        full = xp.empty(in_shape, dtype=grad.dtype)
        full[...] = grad
        return full
    return xp.broadcast_to(grad, in_shape)


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def _keep(out, in_shape, dims, keepdim):
    """A reduction's output with the reduced dims kept as size 1 (broadcasts against input)."""
    return out if keepdim else out.reshape(_kept_shape(in_shape, dims))


class _Reduction(Function):
    """A reduction over ``ctx.dims`` with elementwise derivative ``derivative(ctx, a, out_k)``.

    ``forward`` sets ``ctx.dims`` and ``ctx.keepdim`` and saves ``(a, out)``, ``out`` being
    the array it returns (so a derivative built with create_graph stays connected);
    ``out_k`` is that output with the reduced dims kept. A derivative of None means the
    reduction has no gradient (the count of nonzeros, say).
    """

    @classmethod
    def backward(cls, ctx, grad_output):
        a, out = ctx.saved_tensors
        d = cls.derivative(ctx, a, _keep(out, a.shape, ctx.dims, ctx.keepdim))
        if d is None:
            return None
        return _expand_back(grad_output, a.shape, ctx.dims, ctx.keepdim) * d

    @classmethod
    def jvp(cls, ctx, tangent, *_):
        a, out = ctx.fw_inputs[0], ctx.fw_output
        d = cls.derivative(ctx, a, _keep(out, a.shape, ctx.dims, ctx.keepdim))
        if d is None:
            return None
        return (tangent * d).sum(ctx.dims, keepdim=ctx.keepdim)
