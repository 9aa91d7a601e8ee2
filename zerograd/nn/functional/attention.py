"""Attention: ``scaled_dot_product_attention`` and ``multi_head_attention_forward``, as torch's.

Both parse arguments and masks, then call the fused op ``zerograd.ops.attention``. Mask
conventions differ between the two, as in torch:

* ``scaled_dot_product_attention``: a bool ``attn_mask`` says which keys take part (True =
  attend); a float mask is added to the logits.
* ``multi_head_attention_forward`` (``nn.MultiheadAttention``): a bool ``attn_mask`` or
  ``key_padding_mask`` says which keys to *ignore* (True = masked); a float one is added.
"""
import math

from zerograd.backend import array_module, device_of
from zerograd.dtypes import bool_ as _bool, scalar_type_name
from zerograd.ops import attention as _attention
from zerograd.ops._util import const
from zerograd.ops.affine import linear
from zerograd.ops.creation import zeros
from zerograd.ops.join import cat
from zerograd.random import rng_of

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def _dropout_keep(like, shape, p):
    """Dropout factors of ``shape`` on ``like``'s device: 0 with probability p, else 1/(1-p)."""
    a = like._data
    if p >= 1.0:
        return const(array_module(a).zeros(shape, dtype=a.dtype))
    keep = rng_of(None, device=device_of(a)).random(shape) >= p
    return const(keep.astype(a.dtype) * a.dtype.type(1.0 / (1.0 - p)))


def _logit_shape(query, key, value):
    """(..., L, S): the batch dims of query, key and value broadcast (torch's error if not)."""
    xp = array_module(query._data)
    try:
        batch = xp.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except ValueError:
        raise RuntimeError(f"scaled_dot_product_attention: the batch dims of query "
                           f"{tuple(query.shape)}, key {tuple(key.shape)} and value "
                           f"{tuple(value.shape)} do not broadcast") from None
    if key.shape[-2] != value.shape[-2] or query.shape[-1] != key.shape[-1]:
        raise RuntimeError(f"scaled_dot_product_attention: expected key {tuple(key.shape)} "
                           f"with query's last dim and as many rows as value "
                           f"{tuple(value.shape)}, query is {tuple(query.shape)}")
    return batch + (query.shape[-2], key.shape[-2])


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """softmax(query key^T * scale + mask) value, with optional dropout on the weights.

    query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev). ``attn_mask``
    broadcasts to (..., L, S): bool (True = take part) or float (added to the logits).
    ``is_causal``: query i sees keys 0..i (then ``attn_mask`` must be None, as torch).
    ``scale`` defaults to 1/sqrt(E). ``enable_gqa``: key and value may have fewer heads
    (dim -3) than query, each shared by a group of query heads. A query row that may see
    no key gets zeros, as torch.
    """
    if not (query.dtype is key.dtype is value.dtype):
        raise RuntimeError(
            f"Expected query, key, and value to have the same dtype, but got query.dtype: "
            f"{_long_name(query)} key.dtype: {_long_name(key)} and value.dtype: "
            f"{_long_name(value)} instead.")
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise RuntimeError("scaled_dot_product_attention: query, key and value must have at "
                           "least 2 dimensions")
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        heads, kv_heads = query.shape[-3], key.shape[-3]
        if heads % kv_heads or heads % value.shape[-3]:
            raise RuntimeError(f"number of heads in key/value must divide the number of heads "
                               f"in query, got {kv_heads} and {heads}")
        key = key.repeat_interleave(heads // kv_heads, dim=-3)
        value = value.repeat_interleave(heads // value.shape[-3], dim=-3)
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    bias = allowed = None
    if attn_mask is not None:
        if attn_mask.dtype is _bool:
            allowed = attn_mask
        elif attn_mask.dtype.is_floating_point and attn_mask.dtype is query.dtype:
            bias = attn_mask
        else:
            raise RuntimeError(
                f"Expected attn_mask dtype to be bool or float or to match query dtype, but "
                f"got attn_mask.dtype: {_long_name(attn_mask)} and  query.dtype: "
                f"{_long_name(query)} instead.")
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not "
                               "be set when is_causal=True")
        xp = array_module(query._data)
        allowed = const(xp.tril(xp.ones((query.shape[-2], key.shape[-2]), dtype=bool)))
    shape = _logit_shape(query, key, value)
    if attn_mask is not None:
        _check_mask_shape(attn_mask, shape)
    keep = _dropout_keep(query, shape, dropout_p) if dropout_p > 0 else None
    return _attention.attention(query, key, value, bias, allowed, keep, scale)[0]


def _check_mask_shape(mask, shape):
    """``mask`` must broadcast to the weights' shape ``shape`` (..., L, S) without growing it."""
    xp = array_module(mask._data)
    try:
        fits = xp.broadcast_shapes(tuple(mask.shape), shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise RuntimeError(f"scaled_dot_product_attention: attn_mask of shape "
                           f"{tuple(mask.shape)} does not broadcast to the attention weights' "
                           f"shape {shape} (batch dims..., L, S); give a mask of shape "
                           f"(L, S) = {shape[-2:]} or one whose dims are 1 or equal to those")


def _long_name(t):
    """torch's long dtype name in messages: "float", "double", "long int", "bool"..."""
    return {"Float": "float", "Double": "double", "Long": "long int", "Int": "int",
            "Bool": "bool", "Half": "c10::Half", "BFloat16": "c10::BFloat16"}.get(
                scalar_type_name(t.dtype), scalar_type_name(t.dtype).lower())


# -- multi-head attention -------------------------------------------------------------------------
def _canonical_mask(mask, name, like):
    """A mask as an additive float tensor of ``like``'s dtype: bool True (= masked) becomes
    -inf, False 0; a float mask is used as it is."""
    if mask is None:
        return None
    if mask.dtype is _bool:
        xp = array_module(mask._data)
        return const(xp.where(mask._data, -xp.inf, 0.0).astype(like._data.dtype))
    if not mask.dtype.is_floating_point:
        raise AssertionError(f"only bool and floating types of {name} are supported")
    if mask.dtype is not like.dtype:
        raise RuntimeError(f"Expected {name} dtype to be bool or to match query dtype, but "
                           f"got {name}.dtype: {_long_name(mask)} and query.dtype: "
                           f"{_long_name(like)} instead; convert it with "
                           f"{name}.to(query.dtype)")
    return mask


def _pad_last(mask):
    """One more key column (of zeros: attendable) at the end of an additive mask."""
    if mask is None:
        return None
    return cat([mask, zeros(mask.shape[:-1] + (1,), dtype=mask.dtype, device=mask.device)], -1)


def _check_mha_shapes(query, key, value, key_padding_mask, attn_mask, num_heads):
    """torch's checks; True for batched (3-D) input, False for unbatched (2-D)."""
    if query.ndim == 3:
        if key.ndim != 3 or value.ndim != 3:
            raise AssertionError(f"For batched (3-D) `query`, expected `key` and `value` to be "
                                 f"3-D but found {key.ndim}-D and {value.ndim}-D tensors "
                                 f"respectively")
        if key_padding_mask is not None and key_padding_mask.ndim != 2:
            raise AssertionError(f"For batched (3-D) `query`, expected `key_padding_mask` to be "
                                 f"`None` or 2-D but found {key_padding_mask.ndim}-D tensor "
                                 f"instead")
        if attn_mask is not None and attn_mask.ndim not in (2, 3):
            raise AssertionError(f"For batched (3-D) `query`, expected `attn_mask` to be `None`,"
                                 f" 2-D or 3-D but found {attn_mask.ndim}-D tensor instead")
        return True
    if query.ndim == 2:
        if key.ndim != 2 or value.ndim != 2:
            raise AssertionError(f"For unbatched (2-D) `query`, expected `key` and `value` to "
                                 f"be 2-D but found {key.ndim}-D and {value.ndim}-D tensors "
                                 f"respectively")
        if key_padding_mask is not None and key_padding_mask.ndim != 1:
            raise AssertionError(f"For unbatched (2-D) `query`, expected `key_padding_mask` to "
                                 f"be `None` or 1-D but found {key_padding_mask.ndim}-D tensor "
                                 f"instead")
        if attn_mask is not None:
            if attn_mask.ndim not in (2, 3):
                raise AssertionError(f"For unbatched (2-D) `query`, expected `attn_mask` to be "
                                     f"`None`, 2-D or 3-D but found {attn_mask.ndim}-D tensor "
                                     f"instead")
            if attn_mask.ndim == 3:
                expected = (num_heads, query.shape[0], key.shape[0])
                if tuple(attn_mask.shape) != expected:
                    raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got "
                                         f"{tuple(attn_mask.shape)}")
        return False
    raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received "
                         f"{query.ndim}-D query tensor")


def _in_projection(query, key, value, embed_dim, in_proj_weight, in_proj_bias,
                   use_separate_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight):
    """q, k, v: the three input projections (one GEMM for self-attention)."""
    b_q = b_k = b_v = None
    if in_proj_bias is not None:
        b_q, b_k, b_v = in_proj_bias.chunk(3)
    if not use_separate_proj_weight:
        if query is key and key is value:
            return linear(query, in_proj_weight, in_proj_bias).chunk(3, -1)
        w_q, w_k, w_v = in_proj_weight.chunk(3)
    else:
        w_q, w_k, w_v = q_proj_weight, k_proj_weight, v_proj_weight
    return linear(query, w_q, b_q), linear(key, w_k, b_k), linear(value, w_v, b_v)


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                                 dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """torch's functional multi-head attention on (L, N, E) inputs (unbatched: (L, E)).

    Returns (output (L, N, E), weights (N, L, S) averaged over heads, (N, H, L, S) with
    ``average_attn_weights=False``, or None without ``need_weights``).
    """
    return _multi_head_attention(
        query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
        bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias, training,
        key_padding_mask, need_weights, attn_mask, use_separate_proj_weight, q_proj_weight,
        k_proj_weight, v_proj_weight, static_k, static_v, average_attn_weights, is_causal)


def _split_heads(x, num_heads, batch_first):
    """(N, S, E) or (S, N, E) -> (N, H, S, head_dim), a view."""
    if batch_first:
        n, s, e = x.shape
        return x.reshape(n, s, num_heads, e // num_heads).transpose(1, 2)
    s, n, e = x.shape
    return x.reshape(s, n, num_heads, e // num_heads).permute(1, 2, 0, 3)


def _merge_heads(x, batch_first):
    """(N, H, L, head_dim) -> (N, L, E) or (L, N, E)."""
    n, h, l, d = x.shape
    if batch_first:
        return x.transpose(1, 2).reshape(n, l, h * d)
    return x.permute(2, 0, 1, 3).reshape(l, n, h * d)


def _multi_head_attention(query, key, value, embed_dim_to_check, num_heads, in_proj_weight,
                          in_proj_bias, bias_k, bias_v, add_zero_attn, dropout_p,
                          out_proj_weight, out_proj_bias, training=True,
                          key_padding_mask=None, need_weights=True, attn_mask=None,
                          use_separate_proj_weight=False, q_proj_weight=None,
                          k_proj_weight=None, v_proj_weight=None, static_k=None,
                          static_v=None, average_attn_weights=True, is_causal=False,
                          batch_first=False):
    """``multi_head_attention_forward``; with ``batch_first`` the batched inputs are
    (N, L, E) and so is the output, with no transposed copies of the activations (heads
    are split from, and merged into, the layout the inputs come in)."""
    batched = _check_mha_shapes(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        batch_first = False
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    seq_dim = 1 if batch_first else 0
    tgt_len, bsz, embed_dim = query.shape[seq_dim], query.shape[1 - seq_dim], query.shape[2]
    src_len = key.shape[seq_dim]
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but "
                             f"got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    if key_padding_mask is not None and key_padding_mask.dtype is not _bool:
        key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", query)
    attn_mask = _canonical_mask(attn_mask, "attn_mask", query)
    q, k, v = _in_projection(query, key, value, embed_dim, in_proj_weight, in_proj_bias,
                             use_separate_proj_weight, q_proj_weight, k_proj_weight,
                             v_proj_weight)
    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is "
                                   f"torch.Size({list(attn_mask.shape)}), but should be "
                                   f"{(tgt_len, src_len)}.")
        elif tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
            raise RuntimeError(f"The shape of the 3D attn_mask is "
                               f"torch.Size({list(attn_mask.shape)}), but should be "
                               f"{(bsz * num_heads, tgt_len, src_len)}.")
        else:  # (N*H, L, S) -> (N, H, L, S), the layout of the heads below
            attn_mask = attn_mask.reshape(bsz, num_heads, tgt_len, src_len)
    if bias_k is not None and bias_v is not None:
        shape = (bsz, 1, embed_dim) if batch_first else (1, bsz, embed_dim)
        k = cat([k, bias_k.expand(*shape)], seq_dim)
        v = cat([v, bias_v.expand(*shape)], seq_dim)
        attn_mask, key_padding_mask = _pad_last(attn_mask), _pad_last(key_padding_mask)
    # heads become a batch dim: (N, H, L, head_dim)
    q = _split_heads(q, num_heads, batch_first)
    k = (_split_heads(k, num_heads, batch_first) if static_k is None
         else static_k.reshape(bsz, num_heads, static_k.shape[1], head_dim))
    v = (_split_heads(v, num_heads, batch_first) if static_v is None
         else static_v.reshape(bsz, num_heads, static_v.shape[1], head_dim))
    if add_zero_attn:
        k = cat([k, zeros((bsz, num_heads, 1, head_dim), dtype=k.dtype, device=k.device)], 2)
        v = cat([v, zeros((bsz, num_heads, 1, head_dim), dtype=v.dtype, device=v.device)], 2)
        attn_mask, key_padding_mask = _pad_last(attn_mask), _pad_last(key_padding_mask)
    src_len = k.shape[2]
    allowed = None
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            raise AssertionError(f"expecting key_padding_mask shape of {(bsz, src_len)}, but "
                                 f"got torch.Size({list(key_padding_mask.shape)})")
        kpm = key_padding_mask.reshape(bsz, 1, 1, src_len)
        if kpm.dtype is _bool:  # the op's `allowed`: broadcast there, never an (L, S) copy
            allowed = const(array_module(kpm._data).logical_not(kpm._data))
        else:
            attn_mask = kpm if attn_mask is None else attn_mask + kpm
    keep = None
    if training and dropout_p > 0.0:
        keep = _dropout_keep(q, (bsz, num_heads, tgt_len, src_len), dropout_p)
    # torch: the weights path is a plain softmax (NaN rows when all keys are masked), the
    # fused path gives those rows zeros
    out, weights = _attention.attention(q, k, v, attn_mask, allowed, keep,
                                        1.0 / math.sqrt(head_dim), safe=not need_weights)
    out = linear(_merge_heads(out, batch_first), out_proj_weight, out_proj_bias)
    if not batched:
        out = out.squeeze(1)
    if not need_weights:
        return out, None
    if keep is not None:
        weights = weights * keep
    if average_attn_weights:
        weights = weights.mean(1)
    return out, (weights if batched else weights.squeeze(0))
