"""Scaled dot-product attention as one fused op.

For queries q (..., L, E), keys k (..., S, E) and values v (..., S, Ev)::

    s = q k^T * scale + bias            (bias: an additive float mask, broadcast)
    s = -inf where not allowed          (allowed: a boolean mask, True = take part)
    p = softmax(s, dim=-1)              (the attention weights, (..., L, S))
    out = (p * keep) v                  (keep: dropout's 0 or 1/(1-p_drop) factors)

The op has two outputs, ``out`` and ``p``, so ``p`` (the only (L, S) matrix kept for
backward) is also what ``nn.MultiheadAttention`` returns as its weights, and the
derivative can use ``p`` itself as a differentiable tensor: with ``create_graph=True``
the graph of the derivative runs through this node again (double backward).

The derivative, with ``dp = g_out v^T * keep + g_p``::

    ds = p * (dp - (p * dp).sum(-1, keepdim=True))      (the softmax Jacobian applied to dp)
    dq = ds k * scale,   dk = ds^T q * scale,   dv = (p * keep)^T g_out,   dbias = ds

``backward`` computes it with zerograd ops (``_attention_grads``), so it is differentiable
again; ``backward_array`` (the fast path of ``loss.backward()``) is the same formula on
arrays, done in place on the one (L, S) temporary; tests/nn/test_attention.py checks the
two agree. Broadcast batch dims of the gradients are summed away by the engine.

Softmax is stabilised by subtracting each row's maximum. A row with every key masked
out has maximum -inf: with ``safe`` (``F.scaled_dot_product_attention``) it gets all-zero
weights, hence a zero output and zero gradients, as torch; without it (the weights path
of ``nn.MultiheadAttention``, a plain softmax in torch) the row is NaN.
"""
from zerograd.autograd.function import Function
from zerograd.ops.creation import zeros_like

__all__ = []


def _dense(xp, a):
    """``a`` itself, or a C-ordered copy when it has a broadcast (0-stride) dim: NumPy's
    matmul falls back from BLAS to a loop many times slower on those (the gradient of a
    ``.sum()`` is one)."""
    return xp.ascontiguousarray(a) if 0 in a.strides else a


def _attention_grads(grad_out, grad_p, q, k, v, p, keep, scale, need):
    """Gradients of (q, k, v, bias) from those of (out, p); either gradient may be None.

    (``rowsum(p * dp)`` equals ``rowsum(grad_out * out)``, FlashAttention's cheaper form,
    but that one cancels badly in saturated rows: p one-hot must give ds exactly 0.)
    """
    grad_v = (p if keep is None else p * keep).mT @ grad_out \
        if need[2] and grad_out is not None else None
    if not (need[0] or need[1] or need[3]):
        return None, None, grad_v, None
    dp = None
    if grad_out is not None:
        dp = grad_out @ v.mT
        if keep is not None:
            dp = dp * keep
    if grad_p is not None:
        dp = grad_p if dp is None else dp + grad_p
    ds = p * (dp - (p * dp).sum(-1, keepdim=True))
    return ((ds @ k) * scale if need[0] else None,
            (ds.mT @ q) * scale if need[1] else None,
            grad_v,
            ds if need[3] else None)


class ScaledDotProductAttention(Function):
    """(out, p) of attention; ``bias``/``allowed``/``keep`` may be None (see module doc)."""

    @staticmethod
    def forward(ctx, q, k, v, bias, allowed, keep, scale, safe):
        xp = ctx.xp
        ctx.set_materialize_grads(False)
        inputs = (q, k, v)  # saved as they came (to stay the graph's inputs)
        q, k, v = _dense(xp, q), _dense(xp, k), _dense(xp, v)
        s = q @ k.mT
        s *= scale  # after the product, as torch: the same rounding for large logits
        if bias is not None:
            if xp.broadcast_shapes(s.shape, bias.shape) == s.shape:
                s += bias
            else:
                s = s + bias
        if allowed is not None:
            s = xp.where(allowed, s, -xp.inf)
        top = s.max(-1, keepdims=True)
        if safe:  # a fully masked row: subtract 0, its exps are all 0 (not -inf - -inf)
            top = xp.where(top == -xp.inf, 0, top)
        with ctx._backend.errstate(invalid="ignore"):
            s -= top
        p = xp.exp(s, out=s)
        total = p.sum(-1, keepdims=True)
        if safe:
            total = xp.where(total == 0, 1, total)
        p *= 1 / total
        out = (p if keep is None else p * keep) @ v
        ctx.scale = scale
        ctx.save_for_backward(*inputs, keep, p)
        return out, p

    @staticmethod
    def backward(ctx, grad_out, grad_p):
        q, k, v, keep, p = ctx.saved_tensors
        return _attention_grads(grad_out, grad_p, q, k, v, p, keep,
                                ctx.scale, ctx.needs_input_grad) + (None,) * 4

    @staticmethod
    def backward_array(ctx, grad_out, grad_p):
        # the same formula as _attention_grads, in place on the one (L, S) temporary
        q, k, v, keep, p = (None if t is None else _dense(ctx.xp, t._data)
                            for t in ctx.saved_tensors)
        need = ctx.needs_input_grad
        if grad_out is not None:
            grad_out = _dense(ctx.xp, grad_out)
        if grad_p is not None:
            grad_p = _dense(ctx.xp, grad_p)
        grad_v = (p if keep is None else p * keep).mT @ grad_out \
            if need[2] and grad_out is not None else None
        if not (need[0] or need[1] or need[3]):
            return (None, None, grad_v) + (None,) * 5
        if grad_out is not None:
            ds = grad_out @ v.mT
            if keep is not None:
                ds *= keep
            if grad_p is not None:
                ds += grad_p
        else:
            ds = grad_p.copy()
        total = p * ds
        total = total.sum(-1, keepdims=True)
        ds -= total
        ds *= p
        grad_q = grad_k = None
        if need[0]:
            grad_q = ds @ k
            grad_q *= scale_of(ctx, grad_q)
        if need[1]:
            grad_k = ds.mT @ q
            grad_k *= scale_of(ctx, grad_k)
        return (grad_q, grad_k, grad_v, ds if need[3] else None) + (None,) * 4

    @staticmethod
    def jvp(ctx, t_q, t_k, t_v, t_bias, t_allowed, t_keep, t_scale, t_safe):
        q, k, v, bias, allowed, keep, scale, safe = ctx.fw_inputs
        p = ctx.fw_output[1]
        t_s = None
        for term in ((t_q @ k.mT) * scale if t_q is not None else None,
                     (q @ t_k.mT) * scale if t_k is not None else None, t_bias):
            if term is not None:
                t_s = term if t_s is None else t_s + term
        weights = p if keep is None else p * keep
        if t_s is None:
            t_p = zeros_like(p)
        else:
            t_p = p * (t_s - (p * t_s).sum(-1, keepdim=True))  # masked entries: p = 0
        t_out = (t_p if keep is None else t_p * keep) @ v
        if t_v is not None:
            t_out = t_out + weights @ t_v
        return t_out, t_p


def scale_of(ctx, like):
    """The op's scale as a scalar of ``like``'s dtype (keeps float32 results float32)."""
    return like.dtype.type(ctx.scale)


def attention(query, key, value, bias=None, allowed=None, keep=None, scale=1.0, safe=True):
    """(out, weights) of scaled dot-product attention; see the module docstring.

    ``bias``: a float tensor added to the logits; ``allowed``: a bool tensor (True = take
    part); ``keep``: a tensor of dropout factors (0 or 1/(1-p)); each broadcasts to
    (..., L, S). The masks and ``keep`` are never differentiated, ``bias`` is.
    """
    return ScaledDotProductAttention.apply(query, key, value, bias, allowed, keep,
                                           float(scale), bool(safe))
