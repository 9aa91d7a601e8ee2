"""nn.TransformerEncoderLayer/Encoder/DecoderLayer/Decoder/Transformer against torch on
torch's weights, in train mode (dropout 0) and eval mode: outputs, input gradients and every
parameter's gradient, for each option (activation, norm_first, batch_first, bias,
layer_norm_eps) and mask (src/tgt/memory masks, key padding, is_causal hints);
state_dict keys; generate_square_subsequent_mask."""
import numpy as np
import pytest
import torch

import zerograd as zg
from tests.oracle import assert_close, check_module

RNG = np.random.default_rng(0)
D, HEADS, FF, L, T, N = 8, 2, 16, 5, 4, 2


def randn(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


class _Call:
    """``module(*inputs, **masks)`` with the masks made in the caller's library."""

    @staticmethod
    def wrap(lib, module, masks):
        class Wrapper(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.m = module

            def forward(self, *inputs):
                kw = {k: lib.tensor(v, device=inputs[0].device) if isinstance(v, np.ndarray)
                      else v for k, v in masks.items()}
                return self.m(*inputs, **kw)
        return Wrapper()


def run(make, *arrays, masks=None, train=True, device="cpu"):
    """check_module of ``make(lib)`` in both libraries (torch's weights copied)."""
    masks = masks or {}
    torch.manual_seed(0)
    t = _Call.wrap(torch, make(torch), masks)
    z = _Call.wrap(zg, make(zg), masks)
    t.train(train)
    z.train(train)
    with torch.autograd.set_grad_enabled(True):
        return check_module(z, t, *arrays, device=device, rtol=1e-4, atol=2e-5)


def causal(size):
    return np.triu(np.ones((size, size), bool), 1)


def padding(batch, size):
    m = np.zeros((batch, size), bool)
    m[0, -2:] = True
    return m


LAYER_OPTIONS = [{}, {"activation": "gelu"}, {"activation": "GELU-module"},
                 {"norm_first": True}, {"batch_first": True}, {"bias": False},
                 {"layer_norm_eps": 1e-3, "norm_first": True, "activation": "relu"}]


def _layer_kwargs(lib, opts):
    kw = dict(opts)
    if kw.get("activation") == "GELU-module":
        kw["activation"] = lib.nn.GELU(approximate="tanh")
    return dict(dim_feedforward=FF, dropout=0.0, **kw)


def _src(opts, size=L):
    return randn(N, size, D) if opts.get("batch_first") else randn(size, N, D)


@pytest.mark.parametrize("opts", LAYER_OPTIONS)
def test_encoder_layer(opts):
    run(lambda lib: lib.nn.TransformerEncoderLayer(D, HEADS, **_layer_kwargs(lib, opts)),
        _src(opts), masks={"src_mask": causal(L), "src_key_padding_mask": padding(N, L)})


@pytest.mark.parametrize("opts", LAYER_OPTIONS)
def test_decoder_layer(opts):
    masks = {"tgt_mask": causal(T), "tgt_key_padding_mask": padding(N, T),
             "memory_key_padding_mask": padding(N, L), "tgt_is_causal": True}
    run(lambda lib: lib.nn.TransformerDecoderLayer(D, HEADS, **_layer_kwargs(lib, opts)),
        _src(opts, T), _src(opts, L), masks=masks)


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("norm", [False, True])
def test_encoder_stack(train, norm):
    def make(lib):
        layer = lib.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0 if train else 0.3)
        return lib.nn.TransformerEncoder(layer, 2, norm=lib.nn.LayerNorm(D) if norm else None,
                                         enable_nested_tensor=False)
    float_mask = np.where(causal(L), -np.inf, 0.0).astype(np.float32)
    run(make, randn(L, N, D), masks={"mask": float_mask, "src_key_padding_mask": padding(N, L)},
        train=train)


def test_encoder_stack_is_causal_hint():
    def make(lib):
        layer = lib.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, batch_first=True)
        return lib.nn.TransformerEncoder(layer, 2)
    run(make, randn(N, L, D), masks={"mask": causal(L), "is_causal": True})


@pytest.mark.parametrize("train", [True, False])
def test_decoder_stack_with_memory_mask(train):
    def make(lib):
        layer = lib.nn.TransformerDecoderLayer(D, HEADS, FF, dropout=0.0 if train else 0.3,
                                               norm_first=True)
        return lib.nn.TransformerDecoder(layer, 2, norm=lib.nn.LayerNorm(D))
    memory_mask = RNG.random((T, L)) > 0.7
    memory_mask[:, 0] = False
    run(make, randn(T, N, D), randn(L, N, D), train=train,
        masks={"tgt_mask": causal(T), "memory_mask": memory_mask})


@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_all_masks(batch_first):
    def make(lib):
        return lib.nn.Transformer(D, HEADS, 2, 2, FF, dropout=0.0, batch_first=batch_first)
    src = randn(N, L, D) if batch_first else randn(L, N, D)
    tgt = randn(N, T, D) if batch_first else randn(T, N, D)
    masks = {"tgt_mask": torch.nn.Transformer.generate_square_subsequent_mask(T).numpy(),
             "src_key_padding_mask": padding(N, L), "tgt_key_padding_mask": padding(N, T),
             "memory_key_padding_mask": padding(N, L), "tgt_is_causal": True}
    run(make, src, tgt, masks=masks)


def test_transformer_unbatched_and_eval():
    def make(lib):
        return lib.nn.Transformer(D, HEADS, 1, 1, FF, activation="gelu", norm_first=True)
    run(make, randn(L, D), randn(T, D), train=False)


def test_on_the_device(device):
    def make(lib):
        return lib.nn.Transformer(D, HEADS, 1, 1, FF, dropout=0.0)
    run(make, randn(L, N, D), randn(T, N, D), masks={"tgt_mask": causal(T)}, device=device)


def test_state_dict_keys_and_shapes_are_torchs():
    z = zg.nn.Transformer(D, HEADS, 2, 1, FF, bias=False)
    t = torch.nn.Transformer(D, HEADS, 2, 1, FF, bias=False)
    zs, ts = z.state_dict(), t.state_dict()
    assert list(zs) == list(ts)
    assert all(tuple(zs[k].shape) == tuple(ts[k].shape) for k in ts)
    # the loaded weights run identically in torch
    t.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in zs.items()})
    t.eval()
    z.eval()
    src, tgt = randn(L, N, D), randn(T, N, D)
    with torch.no_grad():
        expected = t(torch.tensor(src), torch.tensor(tgt))
    assert_close(z(zg.tensor(src), zg.tensor(tgt)), expected, rtol=1e-4, atol=2e-5)


def test_generate_square_subsequent_mask():
    for size in (1, 4):
        assert_close(zg.nn.Transformer.generate_square_subsequent_mask(size),
                     torch.nn.Transformer.generate_square_subsequent_mask(size))
    m = zg.nn.Transformer.generate_square_subsequent_mask(3, dtype=zg.float64)
    assert m.dtype is zg.float64


def test_transformer_errors_and_bad_activation():
    m = zg.nn.Transformer(D, HEADS, 1, 1, FF)
    with pytest.raises(RuntimeError, match="batch number of src and tgt"):
        m(zg.zeros(L, N, D), zg.zeros(T, N + 1, D))
    with pytest.raises(RuntimeError, match="feature number"):
        m(zg.zeros(L, N, D), zg.zeros(T, N, D + 1))
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        zg.nn.TransformerEncoderLayer(D, HEADS, activation="tanh")


def test_layers_are_independent_copies():
    layer = zg.nn.TransformerEncoderLayer(D, HEADS, FF)
    enc = zg.nn.TransformerEncoder(layer, 3)
    ws = [mod.linear1.weight for mod in enc.layers]
    assert len({id(w) for w in ws}) == 3
    np.testing.assert_array_equal(ws[0].detach().numpy(), ws[2].detach().numpy())
    assert enc.enable_nested_tensor is True
