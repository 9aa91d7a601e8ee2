"""State dicts of nn.MultiheadAttention (kdim/vdim included), nn.TransformerEncoderLayer
and nn.Transformer move between zerograd and torch through a safetensors file, both ways:
zerograd.save -> safetensors.torch.load_file -> torch's load_state_dict, and
safetensors.torch.save_file -> zerograd.load -> zerograd's load_state_dict; the two
modules then give the same outputs on the same inputs."""
import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import zerograd as zg

RNG = np.random.default_rng(3)
E, HEADS, L, S, N = 8, 2, 4, 5, 3


def randn(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _mha(lib, **kw):
    return lib.nn.MultiheadAttention(E, HEADS, **kw)


def _encoder_layer(lib):
    return lib.nn.TransformerEncoderLayer(E, HEADS, 16, dropout=0.0, activation="gelu",
                                          norm_first=True, batch_first=True)


def _transformer(lib):
    return lib.nn.Transformer(E, HEADS, 2, 1, 16, dropout=0.0, batch_first=True)


def _causal(lib, size):
    return lib.nn.Transformer.generate_square_subsequent_mask(size)


# name: (builder, inputs as NumPy arrays, call(lib, module, *inputs) -> output tensor)
CASES = {
    "mha": (lambda lib: _mha(lib), (randn(L, N, E),),
            lambda lib, m, x: m(x, x, x)[0]),
    "mha_kdim_vdim": (lambda lib: _mha(lib, kdim=6, vdim=3, add_bias_kv=True),
                      (randn(L, N, E), randn(S, N, 6), randn(S, N, 3)),
                      lambda lib, m, q, k, v: m(q, k, v)[0]),
    "encoder_layer": (_encoder_layer, (randn(N, L, E),),
                      lambda lib, m, x: m(x, src_mask=_causal(lib, L), is_causal=True)),
    "transformer": (_transformer, (randn(N, S, E), randn(N, L, E)),
                    lambda lib, m, src, tgt: m(src, tgt, tgt_mask=_causal(lib, L))),
}


def _outputs(lib, module, call, arrays):
    module.eval()
    with lib.no_grad():
        return call(lib, module, *[lib.tensor(a) for a in arrays]).numpy()


@pytest.mark.parametrize("name", list(CASES))
def test_saved_by_zerograd_loads_in_torch(name, tmp_path):
    build, arrays, call = CASES[name]
    z, t = build(zg), build(torch)
    path = tmp_path / "zerograd.safetensors"
    zg.save(z.state_dict(), path)
    state = load_file(str(path))
    assert sorted(state) == sorted(t.state_dict())  # torch's names
    t.load_state_dict(state)
    np.testing.assert_allclose(_outputs(zg, z, call, arrays), _outputs(torch, t, call, arrays),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", list(CASES))
def test_saved_by_torch_loads_in_zerograd(name, tmp_path):
    build, arrays, call = CASES[name]
    torch.manual_seed(1)
    z, t = build(zg), build(torch)
    path = tmp_path / "torch.safetensors"
    save_file({k: v.contiguous() for k, v in t.state_dict().items()}, str(path))
    z.load_state_dict(zg.load(path))
    for key, value in t.state_dict().items():  # the weights arrived, not zerograd's own init
        np.testing.assert_array_equal(z.state_dict()[key].numpy(), value.numpy(), err_msg=key)
    np.testing.assert_allclose(_outputs(zg, z, call, arrays), _outputs(torch, t, call, arrays),
                               rtol=1e-4, atol=1e-5)
