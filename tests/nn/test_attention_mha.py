"""nn.MultiheadAttention against torch on torch's weights: outputs, attention weights,
gradients of inputs and every parameter, for every option and mask kind; parameter names,
shapes and init; state_dict interchange; torch's errors."""
import numpy as np
import pytest
import torch

import zerograd as zg
from tests.oracle import check_module

RNG = np.random.default_rng(0)
E, HEADS, L, S, N = 8, 2, 4, 5, 3


def randn(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _wrapper(lib, module, call):
    """A module whose only child is ``module`` (named ``m`` in both libraries), run as
    ``call(lib, module, *inputs)``."""
    class Wrapper(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = module

        def forward(self, *inputs):
            return call(lib, self.m, *inputs)
    return Wrapper()


def run(call, *arrays, train=True, device="cpu", **mha_kwargs):
    """check_module on ``call(lib, mha, *inputs)`` with an MHA built from ``mha_kwargs``."""
    torch.manual_seed(0)
    t = _wrapper(torch, torch.nn.MultiheadAttention(E, HEADS, **mha_kwargs), call)
    z = _wrapper(zg, zg.nn.MultiheadAttention(E, HEADS, **mha_kwargs), call)
    t.train(train)
    z.train(train)
    return check_module(z, t, *arrays, device=device)


def _present(outputs):
    """(output, weights) without the weights when they are None (need_weights=False)."""
    return tuple(o for o in outputs if o is not None)


def self_attn(**kwargs):
    """Self-attention (query is key is value), masks given as NumPy arrays in ``kwargs``."""
    def call(lib, m, x):
        masks = {k: lib.tensor(v, device=x.device) if isinstance(v, np.ndarray) else v
                 for k, v in kwargs.items()}
        return _present(m(x, x, x, **masks))
    return call


def cross_attn(**kwargs):
    def call(lib, m, q, k, v):
        masks = {k_: lib.tensor(v_, device=q.device) if isinstance(v_, np.ndarray) else v_
                 for k_, v_ in kwargs.items()}
        return _present(m(q, k, v, **masks))
    return call


def padding(batch=N, src=S, kind="bool"):
    m = np.zeros((batch, src), bool)
    m[0, -2:] = True
    m[1, -1] = True
    return m if kind == "bool" else np.where(m, -1e4, 0.0).astype(np.float32)


def causal(size=L):
    return np.triu(np.ones((size, size), bool), 1)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
def test_self_attention(batch_first, need_weights, average):
    x = randn(N, L, E) if batch_first else randn(L, N, E)
    run(self_attn(need_weights=need_weights, average_attn_weights=average), x,
        batch_first=batch_first)


@pytest.mark.parametrize("kw", [{}, {"bias": False}, {"add_bias_kv": True},
                                {"add_zero_attn": True},
                                {"add_bias_kv": True, "add_zero_attn": True},
                                {"kdim": 6, "vdim": 3}, {"kdim": 6, "vdim": 3, "bias": False}])
def test_cross_attention_options(kw):
    k = randn(S, N, kw.get("kdim", E))
    v = randn(S, N, kw.get("vdim", E))
    run(cross_attn(), randn(L, N, E), k, v, **kw)


@pytest.mark.parametrize("kind", ["bool", "float"])
@pytest.mark.parametrize("need_weights", [True, False])
def test_key_padding_mask(kind, need_weights):
    run(cross_attn(key_padding_mask=padding(kind=kind), need_weights=need_weights),
        randn(L, N, E), randn(S, N, E), randn(S, N, E))


def test_key_padding_with_bias_kv_and_zero_attn():
    run(cross_attn(key_padding_mask=padding(), attn_mask=np.zeros((L, S), bool)),
        randn(L, N, E), randn(S, N, E), randn(S, N, E), add_bias_kv=True, add_zero_attn=True)


@pytest.mark.parametrize("mask", ["bool2d", "float2d", "bool3d", "float3d"])
def test_attn_masks(mask):
    if mask.endswith("2d"):
        m = RNG.random((L, S)) > 0.7
    else:
        m = RNG.random((N * HEADS, L, S)) > 0.7
    m[..., 0] = False
    if mask.startswith("float"):
        m = np.where(m, -np.inf, RNG.standard_normal(m.shape)).astype(np.float32)
    run(cross_attn(attn_mask=m), randn(L, N, E), randn(S, N, E), randn(S, N, E))


@pytest.mark.parametrize("need_weights", [True, False])
def test_causal_mask_with_key_padding_and_is_causal(need_weights):
    run(self_attn(attn_mask=causal(), key_padding_mask=padding(src=L), is_causal=True,
                  need_weights=need_weights), randn(L, N, E))


@pytest.mark.parametrize("need_weights", [True, False])
def test_fully_masked_rows_as_torch(need_weights):
    # torch: NaN rows through the weights path (plain softmax), zeros through the fused one
    m = np.zeros((L, S), bool)
    m[1] = True
    z, _ = run(cross_attn(attn_mask=m, need_weights=need_weights),
               randn(L, N, E), randn(S, N, E), randn(S, N, E))
    assert np.isnan(z[0].detach().numpy()).any() == need_weights


def test_unbatched_inputs():
    run(self_attn(key_padding_mask=padding()[0, :L], attn_mask=causal()), randn(L, E))
    run(cross_attn(attn_mask=RNG.random((HEADS, L, S)) > 0.8, average_attn_weights=False),
        randn(L, E), randn(S, E), randn(S, E))


def test_eval_mode_skips_dropout_and_train_dropout_zero_matches():
    run(self_attn(), randn(L, N, E), train=False, dropout=0.5)


def test_train_dropout_changes_outputs_and_weights_sum():
    torch.manual_seed(0)
    m = zg.nn.MultiheadAttention(E, HEADS, dropout=0.5)
    x = zg.tensor(randn(L, N, E))
    out, w = m(x, x, x, average_attn_weights=False)
    m.eval()
    out_eval, w_eval = m(x, x, x, average_attn_weights=False)
    np.testing.assert_allclose(w_eval.detach().numpy().sum(-1), 1.0, rtol=1e-5)
    assert np.abs(out.detach().numpy() - out_eval.detach().numpy()).max() > 1e-4
    assert set(np.unique(np.round(w.detach().numpy() / np.maximum(
        w_eval.detach().numpy(), 1e-30), 4))) <= {0.0, 2.0}


def test_on_the_device(device):
    run(self_attn(attn_mask=causal(), key_padding_mask=padding(src=L)), randn(L, N, E),
        device=device)


def test_parameters_named_shaped_and_initialized_as_torch():
    for kw in ({}, {"kdim": 6, "vdim": 3, "add_bias_kv": True}, {"bias": False}):
        z, t = zg.nn.MultiheadAttention(E, HEADS, **kw), torch.nn.MultiheadAttention(E, HEADS, **kw)
        zs, ts = z.state_dict(), t.state_dict()
        assert list(zs) == list(ts)
        assert all(tuple(zs[k].shape) == tuple(ts[k].shape) for k in ts)
    z = zg.nn.MultiheadAttention(64, 4)
    bound = np.sqrt(6.0 / (64 + 3 * 64))  # xavier_uniform_ of (3E, E)
    w = z.in_proj_weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert not np.any(z.in_proj_bias.detach().numpy())
    assert not np.any(z.out_proj.bias.detach().numpy())
    assert type(z.out_proj).__name__ == "NonDynamicallyQuantizableLinear"


def test_state_dict_loads_both_ways():
    t = torch.nn.MultiheadAttention(E, HEADS, add_bias_kv=True)
    z = zg.nn.MultiheadAttention(E, HEADS, add_bias_kv=True)
    t.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in z.state_dict().items()})
    x = randn(L, N, E)
    np.testing.assert_allclose(z(*[zg.tensor(x)] * 3)[0].detach().numpy(),
                               t(*[torch.tensor(x)] * 3)[0].detach().numpy(), rtol=1e-4,
                               atol=1e-5)


def test_errors_name_the_shapes():
    m = zg.nn.MultiheadAttention(E, HEADS)
    x, kv = zg.tensor(randn(L, N, E)), zg.tensor(randn(S, N, E))
    with pytest.raises(RuntimeError, match=r"2D attn_mask .*\(4, 5\)"):
        m(x, kv, kv, attn_mask=zg.zeros(L, L))
    with pytest.raises(RuntimeError, match=r"3D attn_mask"):
        m(x, kv, kv, attn_mask=zg.zeros(N, L, S))
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        m(x, x, x, is_causal=True)
    with pytest.raises(AssertionError, match="key_padding_mask"):
        m(x, kv, kv, key_padding_mask=zg.zeros(N, S, dtype=zg.int64))
    with pytest.raises(AssertionError, match=r"key_padding_mask shape of \(3, 5\)"):
        m(x, kv, kv, key_padding_mask=zg.zeros(N, L, dtype=zg.bool))
    with pytest.raises(AssertionError, match="divisible"):
        zg.nn.MultiheadAttention(6, 4)


# -- the mask table: every attn_mask kind with every key_padding_mask kind ------------------
def _attn_mask(kind):
    if kind is None:
        return None
    shape = (L, S) if kind.endswith("2d") else (N * HEADS, L, S)
    m = RNG.random(shape) > 0.7
    m[..., 0] = False
    if kind.startswith("float"):
        return np.where(m, -np.inf, RNG.standard_normal(shape)).astype(np.float32)
    return m


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("kpm", [None, "bool", "float"])
@pytest.mark.parametrize("attn", [None, "bool2d", "float2d", "bool3d", "float3d"])
def test_mask_table(attn, kpm, need_weights):
    """Each pair, with batch entry 2's keys all padded (fully masked rows: NaN through the
    weights path, zeros through the fused one, as torch)."""
    kw = {"need_weights": need_weights}
    if attn is not None:
        kw["attn_mask"] = _attn_mask(attn)
    if kpm is not None:
        pad = padding(kind="bool")
        pad[2] = True
        kw["key_padding_mask"] = pad if kpm == "bool" else np.where(pad, -np.inf, 0.0).astype(
            np.float32)
    z, _ = run(cross_attn(**kw), randn(L, N, E), randn(S, N, E), randn(S, N, E))
    out = z[0].detach().numpy()
    if kpm is not None:
        assert np.isnan(out[:, 2]).all() == need_weights
        if not need_weights:
            assert np.isfinite(out).all()


def test_mask_dtype_errors_name_both_dtypes():
    m = zg.nn.MultiheadAttention(E, HEADS)
    x = zg.tensor(randn(L, N, E))
    with pytest.raises(AssertionError, match="only bool and floating types of attn_mask"):
        m(x, x, x, attn_mask=zg.zeros(L, L, dtype=zg.int64))
    with pytest.raises(RuntimeError, match=r"attn_mask.dtype: double and query.dtype: float"):
        m(x, x, x, attn_mask=zg.zeros(L, L, dtype=zg.float64))
    with pytest.raises(RuntimeError, match=r"key_padding_mask.dtype: double and query.dtype"):
        m(x, x, x, key_padding_mask=zg.zeros(N, L, dtype=zg.float64))
    with pytest.raises(RuntimeError, match=r"3D attn_mask is torch.Size\(\[2, 4, 4\]\), but "
                                           r"should be \(6, 4, 4\)"):
        m(x, x, x, attn_mask=zg.zeros(2, L, L, dtype=zg.bool))
    with pytest.raises(AssertionError, match="`attn_mask` to be `None`, 2-D or 3-D but found "
                                             "4-D"):
        m(x, x, x, attn_mask=zg.zeros(1, 1, L, L, dtype=zg.bool))
