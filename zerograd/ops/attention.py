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
arrays; tests/nn/test_attention.py checks the two agree. Broadcast batch dims of the
gradients are summed away by the engine.

The array passes (forward, ``backward_array``) hold the (L, S) matrices transposed, (S, L)
in memory, since NumPy reduces down columns several times faster than along rows and the
softmax and its derivative are row reductions; ``p`` is returned as the (L, S) view of
that buffer. They run a block of heads at a time (``_BLOCK_BYTES``): the softmax's passes
stay in cache, and backward needs one block-sized temporary, not a second (L, S) matrix.

Softmax is stabilised by subtracting each row's maximum. A row with every key masked
out has maximum -inf: with ``safe`` (``F.scaled_dot_product_attention``) it gets all-zero
weights, hence a zero output and zero gradients, as torch; without it (the weights path
of ``nn.MultiheadAttention``, a plain softmax in torch) the row is NaN.
"""
import threading

from zerograd.autograd.function import Function
from zerograd.ops.creation import zeros_like

__all__ = []


def _matrices(a):
    """``a`` with at least two dims (a mask may be a single row, (S,))."""
    return a.reshape((1,) * (2 - a.ndim) + a.shape) if a.ndim < 2 else a


# Blocks of about this many bytes of (S, L) matrices are processed at a time: the
# softmax's passes over a block then hit the core's cache instead of memory, and the
# backward pass needs one block-sized temporary instead of a whole (..., S, L) matrix.
_BLOCK_BYTES = 512 * 1024


def _blocks(batch, matrix_bytes, cache_blocking=True):
    """Index tuples covering the batch dims ``batch`` (at least one): the leading dims one
    entry at a time, the last in slices of about ``_BLOCK_BYTES`` -- or whole where the
    backend does not block for caches (a GPU: fewer, larger kernel launches)."""
    step = max(1, _BLOCK_BYTES // max(matrix_bytes, 1)) if cache_blocking else batch[-1]
    lead = [()]
    for size in batch[:-1]:
        lead = [idx + (i,) for idx in lead for i in range(size)]
    return step, [idx + (slice(i, i + step),) for idx in lead
                  for i in range(0, batch[-1], step)]


def _spread(xp, a, batch):
    """``a`` (a mask or operand, at least 2-D) as a broadcast view over ``batch``."""
    if a is None:
        return None
    a = _matrices(a)
    return xp.broadcast_to(a, batch + a.shape[-2:])


def _batch_of(xp, *arrays):
    """The broadcast batch dims of the operands (at least one dim: (1,) for matrices)."""
    batch = xp.broadcast_shapes(*(_matrices(a).shape[:-2] for a in arrays if a is not None))
    return batch if batch else (1,)


def _blasable(xp, a):
    """``a`` itself when BLAS can read each of its matrices in place (unit column stride,
    row stride at least a row, no broadcast dims: e.g. heads split off a projection),
    else a C-ordered copy (e.g. the broadcast gradient of ``.sum()``)."""
    item = a.dtype.itemsize
    if a.ndim >= 2 and a.strides[-1] == item and a.strides[-2] >= a.shape[-1] * item \
            and all(s > 0 for s in a.strides):
        return a
    return xp.ascontiguousarray(a)


def _heads_inside(xp, shape, dtype):
    """An empty array of ``shape`` (..., H, L, D) laid out as (..., L, H, D): the heads'
    results written into it merge into (..., L, H*D) -- ``nn.MultiheadAttention``'s
    layout -- as a view, and the gradients of heads split from (..., L, H*D) flow back
    through that view without a copy."""
    if len(shape) < 3:
        return xp.empty(shape, dtype=dtype)
    heads_inside = shape[:-3] + (shape[-2], shape[-3], shape[-1])
    return xp.empty(heads_inside, dtype=dtype).swapaxes(-2, -3)


def _each_block(ctx, index, work, body):
    """``body(i)`` for every block index ``i``; on the CPU the blocks are shared among
    zerograd's threads (``threads.split``: each runs single-threaded BLAS on its own
    blocks, as torch splits batch x heads, instead of multithreading each small GEMM)."""
    threads = getattr(ctx.kernels, "threads", None)
    if threads is None:
        for i in index:
            body(i)
        return
    threads.split(len(index), work, lambda start, stop: [body(i) for i in index[start:stop]])


def _softmax_forward(ctx, q, k, v, bias, allowed, keep, scale, safe):
    """(out, pt): the attention output and the weights transposed, (..., S, L), block by
    block (see ``_BLOCK_BYTES``); ``q``, ``k``, ``v`` C-ordered."""
    xp = ctx.xp
    batch = _batch_of(xp, q, k, v, bias, allowed, keep)
    L, S = q.shape[-2], k.shape[-2]
    q, k, v = (_spread(xp, a, batch) for a in (q, k, v))
    bias, keep = _spread(xp, bias, batch), _spread(xp, keep, batch)
    blocked = None if allowed is None else _spread(xp, xp.logical_not(allowed), batch)
    pt = xp.empty(batch + (S, L), dtype=q.dtype)
    out = _heads_inside(xp, batch + (L, v.shape[-1]), q.dtype)

    def block(i):
        st = pt[i]
        xp.matmul(k[i], q[i].mT, out=st)
        st *= scale  # after the product, as torch: the same rounding for large logits
        if bias is not None:
            st += bias[i].mT
        if blocked is not None:
            xp.copyto(st, -xp.inf, where=blocked[i].mT)
        # the columns of st are the rows of the logits: NumPy reduces down columns about
        # 3x faster than along rows
        top = st.max(-2, keepdims=True)
        if safe:  # a fully masked row: subtract 0, its exps are all 0 (not -inf - -inf)
            top = xp.where(top == -xp.inf, 0, top)
        with ctx._backend.errstate(invalid="ignore"):  # per thread: -inf - -inf is NaN
            st -= top
        xp.exp(st, out=st)
        total = st.sum(-2, keepdims=True)
        if safe:
            total = xp.where(total == 0, 1, total)
        st *= 1 / total
        xp.matmul((st if keep is None else st * keep[i].mT).mT, v[i], out=out[i])

    _, index = _blocks(batch, S * L * q.dtype.itemsize, ctx._backend.cache_blocking)
    _each_block(ctx, index, pt.size, block)
    return out, pt


def _softmax_backward(ctx, grad_out, grad_p, q, k, v, pt, keep, scale, need):
    """Gradients of (q, k, v, bias) on arrays, block by block, from the (S, L)-ordered
    weights ``pt``; ``ds = p * (dp - rowsum(p * dp))`` formed in one block-sized buffer
    (per thread)."""
    xp = ctx.xp
    batch = pt.shape[:-2]
    L, S = q.shape[-2], k.shape[-2]
    q, k, v = (_spread(xp, a, batch) for a in (q, k, v))
    keep, grad_out = _spread(xp, keep, batch), _spread(xp, grad_out, batch)
    grad_p = _spread(xp, grad_p, batch)
    new = {"q": need[0], "k": need[1], "v": need[2] and grad_out is not None}
    shapes = {"q": q.shape, "k": k.shape, "v": v.shape}
    grads = {n: _heads_inside(xp, shapes[n], pt.dtype) if new[n] else None for n in new}
    grad_st = xp.empty(pt.shape, dtype=pt.dtype) if need[3] else None
    buffers = threading.local()  # one block-sized ds buffer per thread

    def block(i):
        p_i = pt[i]
        if new["v"]:
            xp.matmul(p_i if keep is None else p_i * keep[i].mT, grad_out[i],
                      out=grads["v"][i])
        if not (need[0] or need[1] or need[3]):
            return
        if grad_st is not None:
            ds = grad_st[i]
        else:
            if getattr(buffers, "ds", None) is None:
                buffers.ds = xp.empty((min(step, batch[-1]), S, L), dtype=pt.dtype)
            ds = buffers.ds[:p_i.shape[0]]
        if grad_out is not None:
            xp.matmul(v[i], grad_out[i].mT, out=ds)
            if keep is not None:
                ds *= keep[i].mT
            if grad_p is not None:
                ds += grad_p[i].mT
        else:
            ds[...] = grad_p[i].mT
        # einsum forms the row sums of p * dp without a block-sized temporary
        ds -= xp.einsum("...sl,...sl->...l", p_i, ds)[..., None, :]
        ds *= p_i
        if need[0]:
            xp.matmul(ds.mT, k[i], out=grads["q"][i])
            grads["q"][i] *= scale
        if need[1]:
            xp.matmul(ds, q[i], out=grads["k"][i])
            grads["k"][i] *= scale

    step, index = _blocks(batch, S * L * pt.dtype.itemsize, ctx._backend.cache_blocking)
    _each_block(ctx, index, pt.size, block)
    return (grads["q"], grads["k"], grads["v"],
            None if grad_st is None else grad_st.mT)


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
        # heads split off a projection are strided views; BLAS reads them as they are
        # (row stride > row length), so no copies (see ``_blasable``)
        q, k, v = (_blasable(xp, a) for a in (q, k, v))
        out, pt = _softmax_forward(ctx, q, k, v, bias, allowed, keep, scale, safe)
        if all(a.ndim <= 2 for a in (q, k, v, bias, allowed, keep) if a is not None):
            out, pt = out[0], pt[0]  # plain matrices in, plain matrices out
        ctx.scale = scale
        p = pt.mT  # (..., L, S), a view: the one probability matrix there is
        ctx.save_for_backward(*inputs, keep, p)
        return out, p

    @staticmethod
    def backward(ctx, grad_out, grad_p):
        q, k, v, keep, p = ctx.saved_tensors
        return _attention_grads(grad_out, grad_p, q, k, v, p, keep,
                                ctx.scale, ctx.needs_input_grad) + (None,) * 4

    @staticmethod
    def backward_array(ctx, grad_out, grad_p):
        xp = ctx.xp
        q, k, v, keep, p = (None if t is None else t._data for t in ctx.saved_tensors)
        q, k, v = (_blasable(xp, a) for a in (q, k, v))
        if grad_out is not None:  # e.g. the gradient of .sum(): broadcast, not BLAS-able
            grad_out = _blasable(xp, grad_out)
        pt = p.mT
        if pt.ndim == 2:
            pt = pt[None]
        grads = _softmax_backward(ctx, grad_out, grad_p, q, k, v, pt, keep,
                                  q.dtype.type(ctx.scale), ctx.needs_input_grad)
        if p.ndim == 2:  # back from the (1,) batch of plain matrices
            grads = tuple(None if g is None else g[0] for g in grads)
        return grads + (None,) * 4

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


def attention(query, key, value, bias=None, allowed=None, keep=None, scale=1.0, safe=True):
    """(out, weights) of scaled dot-product attention; see the module docstring.

    ``bias``: a float tensor added to the logits; ``allowed``: a bool tensor (True = take
    part); ``keep``: a tensor of dropout factors (0 or 1/(1-p)); each broadcasts to
    (..., L, S). The masks and ``keep`` are never differentiated, ``bias`` is.
    """
    return ScaledDotProductAttention.apply(query, key, value, bias, allowed, keep,
                                           float(scale), bool(safe))
