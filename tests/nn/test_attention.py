"""F.scaled_dot_product_attention and the fused op of zerograd.ops.attention against torch:
every mask kind (bool/float, 2-D/3-D/4-D broadcast, causal, fully masked rows), scale,
GQA, dropout; gradients of q, k, v and a float mask; float64 gradcheck/gradgradcheck;
the two backward paths; forward mode; the stand-in device."""
import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd.autograd import gradcheck, gradgradcheck
from zerograd.ops import attention
from tests.autograd.backward_array_check import check_backward_array
from tests.oracle import check, check_jvp

RNG = np.random.default_rng(0)
B, H, L, S, E, EV = 2, 3, 4, 5, 6, 7


def randn(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def qkv(dtype=np.float32, heads=H, kv_heads=H):
    return randn(B, heads, L, E, dtype=dtype), randn(B, kv_heads, S, E, dtype=dtype), \
        randn(B, kv_heads, S, EV, dtype=dtype)


def bool_mask(shape, full_row=True):
    m = RNG.random(shape) > 0.4
    m[..., 0] = True  # every row keeps a key ...
    if full_row:
        m[..., 1, :] = False  # ... but row 1, which sees none
    return m


def sdpa(**kwargs):
    """``fn(lib, q, k, v[, mask])`` calling the library's scaled_dot_product_attention."""
    def fn(lib, q, k, v, mask=None):
        F = zg.nn.functional if lib is zg else torch.nn.functional
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, **kwargs)
    return fn


def both(fn, *arrays, **kwargs):
    return check(lambda *a: fn(zg, *a), lambda *a: fn(torch, *a), *arrays, **kwargs)


def test_no_mask_default_and_explicit_scale():
    both(sdpa(), *qkv())
    both(sdpa(scale=0.37), *qkv())


@pytest.mark.parametrize("shape", [(L, S), (H, L, S), (B, 1, L, S), (B, H, L, S), (1, S)])
def test_bool_masks_broadcast(shape):
    both(sdpa(), *qkv(), bool_mask(shape, full_row=len(shape) > 1 and shape[-2] > 1))


@pytest.mark.parametrize("shape", [(L, S), (B, 1, L, S), (B, H, L, S)])
def test_float_masks_broadcast_and_their_gradient(shape):
    mask = randn(*shape)
    mask[..., 2] = -np.inf  # a key nobody attends to
    zs, _ = both(sdpa(), *qkv(), mask)
    assert zs[3].grad is not None  # the additive mask is differentiated, as torch


def test_float_mask_fully_masked_row_gives_zeros():
    mask = np.zeros((L, S), np.float32)
    mask[2] = -np.inf
    both(sdpa(), *qkv(), mask, requires_grad=[True, True, True, False])
    out = sdpa()(zg, *[zg.tensor(a) for a in qkv()], zg.tensor(mask))
    assert not np.any(out.numpy()[:, :, 2]) and np.all(np.isfinite(out.numpy()))


def test_fully_masked_bool_rows_give_zeros_and_zero_grads():
    mask = np.ones((L, S), bool)
    mask[1] = False
    zs, _ = both(sdpa(), *qkv(), mask)
    assert not np.any(zs[0].grad.numpy()[:, :, 1])


def test_large_logits_are_stable():
    q, k, v = qkv()
    both(sdpa(), q * 300, k * 300, v)


@pytest.mark.parametrize("lk", [S, 3, 1])
def test_causal_top_left_aligned(lk):
    q, k, v = qkv()
    both(sdpa(is_causal=True), q, k[:, :, :lk], v[:, :, :lk])


def test_causal_with_an_explicit_mask_is_refused():
    q, k, v = (zg.tensor(a, requires_grad=True) for a in qkv())
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set"):
        zg.nn.functional.scaled_dot_product_attention(q, k, v, zg.ones(L, S, dtype=zg.bool),
                                                      is_causal=True)


def test_unbatched_and_three_dim_inputs():
    q, k, v = qkv()
    both(sdpa(), q[0, 0], k[0, 0], v[0, 0])
    both(sdpa(), q[0], k[0], v[0], bool_mask((L, S)))


def test_gqa_shares_key_heads():
    both(sdpa(enable_gqa=True), *qkv(heads=6, kv_heads=2))
    both(sdpa(enable_gqa=True), *qkv(heads=6, kv_heads=3), bool_mask((L, S)))


def test_bad_inputs_raise_like_torch():
    q, k, v = (zg.tensor(a) for a in qkv())
    F = zg.nn.functional
    with pytest.raises(RuntimeError, match="same dtype"):
        F.scaled_dot_product_attention(q.double(), k, v)
    with pytest.raises(RuntimeError, match="attn_mask dtype"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=zg.ones(L, S, dtype=zg.int64))
    q6, k2, v2 = (zg.tensor(a) for a in qkv(heads=6, kv_heads=2))
    with pytest.raises(RuntimeError):
        F.scaled_dot_product_attention(q6, k2, v2)


def test_dropout_zero_or_one_and_repeatable():
    q, k, v = (zg.tensor(a) for a in qkv())
    F = zg.nn.functional
    assert not np.any(F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).numpy())
    zg.manual_seed(3)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    zg.manual_seed(3)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert np.abs(a.numpy() - F.scaled_dot_product_attention(q, k, v).numpy()).max() > 1e-3


def test_dropout_is_unbiased_and_differentiable():
    # each weight is kept with probability 1-p and scaled by 1/(1-p): the mean over many
    # draws is the output without dropout
    q, k, v = (zg.tensor(a[:1, :1], requires_grad=True) for a in qkv(dtype=np.float64))
    F = zg.nn.functional
    zg.manual_seed(0)
    outs = [F.scaled_dot_product_attention(q, k, v, dropout_p=0.3) for _ in range(400)]
    mean = zg.stack(outs).mean(0)
    exact = F.scaled_dot_product_attention(q, k, v)
    np.testing.assert_allclose(mean.detach().numpy(), exact.detach().numpy(), atol=0.15)
    mean.sum().backward()
    assert all(np.all(np.isfinite(t.grad.numpy())) for t in (q, k, v))


# -- the fused op: gradcheck, both backward paths, forward mode ------------------------------
def op_inputs(kind):
    """Float64 tensors and options of the fused op for one mask kind."""
    q, k, v = (zg.tensor(a, requires_grad=True) for a in qkv(np.float64))
    bias = allowed = keep = None
    if kind == "float":
        bias = zg.tensor(randn(L, S, dtype=np.float64), requires_grad=True)
    if kind == "bool":
        allowed = zg.tensor(bool_mask((B, 1, L, S)))
    if kind == "dropout":
        keep = zg.tensor((RNG.random((B, H, L, S)) > 0.3) / 0.7)
    return (q, k, v, bias, allowed, keep)


@pytest.mark.parametrize("kind", ["none", "float", "bool", "dropout"])
def test_op_gradcheck_and_gradgradcheck(kind):
    q, k, v, bias, allowed, keep = op_inputs(kind)

    def fn(q, k, v, *rest):
        b = rest[0] if rest else None
        return attention.attention(q, k, v, b, allowed, keep, 0.5)

    inputs = (q, k, v) + ((bias,) if bias is not None else ())
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


@pytest.mark.parametrize("need_weights", [False, True])
def test_array_backward_equals_differentiable_backward(need_weights):
    allowed = zg.tensor(bool_mask((L, S)))

    def fn(q, k, v, b):
        out, p = attention.attention(q, k, v, b, allowed, None, 0.4)
        return (out, p) if need_weights else out

    check_backward_array(fn, *qkv(np.float64), randn(L, S, dtype=np.float64))


def test_forward_mode_matches_torch():
    mask = randn(L, S, dtype=np.float64)
    check_jvp(lambda q, k, v, m: zg.nn.functional.scaled_dot_product_attention(q, k, v, m),
              lambda q, k, v, m: torch.nn.functional.scaled_dot_product_attention(q, k, v, m),
              *qkv(np.float64), mask)


def test_on_the_device(device):
    both(sdpa(is_causal=True), *qkv(), device=device)
    both(sdpa(), *qkv(), bool_mask((B, 1, L, S)), device=device)
    both(sdpa(), *qkv(), randn(L, S), device=device)


# -- the rest of the mask table ----------------------------------------------------------------
@pytest.mark.parametrize("shape", [(H, L, S), (B, 1, 1, S), (1, S)])
def test_float_masks_three_dim_and_row_broadcast(shape):
    mask = randn(*shape)
    mask[..., 0] = -np.inf
    both(sdpa(), *qkv(), mask)


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_key_padding_combined_with_causal_and_a_fully_padded_entry(kind):
    """SDPA takes one mask: padding (B, 1, 1, S) & causal (L, S) -> (B, 1, L, S); batch entry
    1 has every key padded, so all its rows are fully masked (zeros, as torch)."""
    q, k, v = qkv()
    pad = np.zeros((B, 1, 1, S), bool)
    pad[0, ..., -1] = True
    pad[1] = True
    allowed = ~pad & np.tril(np.ones((L, S), bool))
    mask = allowed if kind == "bool" else np.where(allowed, 0.0, -np.inf).astype(np.float32)
    zs, _ = both(sdpa(), q, k, v, mask, requires_grad=[True, True, True, False])
    out = sdpa()(zg, *[zg.tensor(a) for a in (q, k, v, mask)]).numpy()
    assert not np.any(out[1]) and np.isfinite(out).all()


def test_mask_of_the_wrong_shape_names_both_shapes():
    q, k, v = (zg.tensor(a) for a in qkv())
    F = zg.nn.functional
    for shape in [(L, 3), (B, 2, L, S), (7, B, H, L, S)]:
        with pytest.raises(RuntimeError, match=rf"attn_mask of shape \({', '.join(map(str, shape))}"
                                               rf"\) does not broadcast to the attention "
                                               rf"weights' shape \(2, 3, 4, 5\)"):
            F.scaled_dot_product_attention(q, k, v, attn_mask=zg.ones(*shape, dtype=zg.bool))
    with pytest.raises(RuntimeError, match="attn_mask.dtype: double and  query.dtype: float"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=zg.zeros(L, S, dtype=zg.float64))


@pytest.mark.parametrize("block_bytes", [1, 3 * L * S * 4])
def test_blocked_passes_equal_torch(block_bytes, monkeypatch):
    """The array passes work in blocks of the batch (one matrix, or 3 with a short last
    block here): masks broadcast into every block, a float mask's gradient, need_weights."""
    monkeypatch.setattr(attention, "_BLOCK_BYTES", block_bytes)
    both(sdpa(), *qkv(), bool_mask((H, L, S)))
    zs, _ = both(sdpa(), *qkv(), randn(B, 1, L, S))
    assert zs[3].grad is not None
    q, k, v = qkv()
    both(sdpa(), q[0, 0], k[0, 0], v[0, 0], bool_mask((L, S)))  # plain matrices
    keep = zg.tensor((RNG.random((B, H, L, S)) > 0.3) / 0.7)
    allowed = zg.tensor(bool_mask((B, 1, L, S)))

    def fn(q, k, v, b):  # both outputs, dropout and both mask kinds, in blocks
        return attention.attention(q, k, v, b, allowed, keep, 0.4)

    check_backward_array(fn, *qkv(np.float64), randn(H, L, S, dtype=np.float64))


def test_strided_and_broadcast_operands_equal_torch():
    """Operands the array passes read in place (heads split off one packed projection,
    rows strided) or copy first (a key with negative strides, a value broadcast over the
    batch): the values and gradients of torch."""
    def fn(lib, packed, v_one):
        F = zg.nn.functional if lib is zg else torch.nn.functional
        q, k, _ = (t.reshape(B, L, H, E).transpose(1, 2) for t in packed.chunk(3, -1))
        return F.scaled_dot_product_attention(q, k.flip(-2), v_one.expand(B, H, L, EV))

    both(fn, randn(B, L, 3 * H * E), randn(1, H, L, EV))


def test_output_and_gradients_merge_and_split_heads_without_copies():
    """out (N, H, L, D) is laid out as (N, L, H, D), and so are the gradients of q, k, v:
    merging the heads (MHA's output projection) and the backward of splitting them off a
    projection are views, not copies."""
    q, k, v = (zg.tensor(randn(B, H, n, E), requires_grad=True) for n in (L, S, S))
    out = attention.attention(q, k, v, scale=0.5)[0].detach()
    merged = out.transpose(1, 2).reshape(B, L, H * E)
    assert np.shares_memory(merged.numpy(), out.numpy())
    seen = []  # the gradients as the op hands them on (a leaf's .grad may be a copy)
    for t in (q, k, v):
        t.register_hook(seen.append)
    out, _ = attention.attention(q, k, v, scale=0.5)
    out.backward(zg.tensor(randn(*out.shape)))
    assert len(seen) == 3
    for g in seen:
        split = g.transpose(1, 2).reshape(B, g.shape[2], H * E)
        assert np.shares_memory(split.numpy(), g.numpy())


def test_blocks_shared_among_threads_equal_torch(monkeypatch):
    """Two of zerograd's threads, one head per block: the values and gradients of torch,
    and bit for bit those of one thread (each block is computed whole by one thread)."""
    from zerograd.backend.cpu import threads
    before = zg.get_num_threads()
    monkeypatch.setattr(threads, "MIN_WORK", 1)
    monkeypatch.setattr(attention, "_BLOCK_BYTES", 1)
    arrays = qkv() + (randn(H, L, S),)
    grads = {}
    try:
        for n in (2, 1):
            zg.set_num_threads(n)
            both(sdpa(), *qkv(), bool_mask((B, 1, L, S)))
            zs, _ = both(sdpa(), *arrays)
            grads[n] = [t.grad.numpy() for t in zs]
    finally:
        zg.set_num_threads(before)
    for two, one in zip(grads[2], grads[1]):
        np.testing.assert_array_equal(two, one)


def test_whole_batch_blocks_where_the_backend_does_not_block_for_caches(monkeypatch):
    """A GPU backend (``cache_blocking = False``) runs the passes over the whole last batch
    dim at once (fewer kernel launches); the stand-in device plays it here."""
    from zerograd.backend import get as get_backend
    standin = get_backend("standin")
    monkeypatch.setattr(type(standin), "cache_blocking", False)
    monkeypatch.setattr(attention, "_BLOCK_BYTES", 1)  # would otherwise split every matrix
    assert attention._blocks((B, H), 4, False) == (H, [(0, slice(0, H)), (1, slice(0, H))])
    both(sdpa(), *qkv(), bool_mask((H, L, S)), device="standin")
    zs, _ = both(sdpa(), *qkv(), randn(B, 1, L, S), device="standin")
    assert zs[3].grad is not None
