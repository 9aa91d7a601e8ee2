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
