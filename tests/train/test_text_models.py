"""The sequence models of the zoo against PyTorch twins with the same weights: the language
models (d2l's RNNModel shapes), d2l's GRU encoder-decoder, its masked loss, greedy decoding
and BLEU; and the text-run defaults (gradient clipping, perplexity)."""
import math

import numpy as np
import pytest
import torch
from torch import nn as tnn

import zerograd as zg
from zerograd.models import get_model, is_text_model
from zerograd.models.rnn_lm import build_lm, detach_state
from zerograd.models.seq2seq import (MaskedSoftmaxCELoss, bleu, build_seq2seq, greedy_decode,
                                     sequence_mask)

RNG = np.random.default_rng(0)


class TorchLM(tnn.Module):
    def __init__(self, cell, vocab, embed, hidden, layers):
        super().__init__()
        self.embedding = tnn.Embedding(vocab, embed)
        self.rnn = cell(embed, hidden, layers)
        self.linear = tnn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        y, state = self.rnn(self.embedding(x.T), state)
        return self.linear(y.reshape(-1, y.shape[-1])), state


def _copy(zmodel, tmodel):
    tmodel.load_state_dict({k: torch.tensor(v.detach().numpy())
                            for k, v in zmodel.state_dict().items()})


@pytest.mark.parametrize("name,cell", [("rnn-lm", tnn.RNN), ("gru-lm", tnn.GRU),
                                       ("lstm-lm", tnn.LSTM)])
def test_language_model_matches_torch_twin(name, cell):
    zg.manual_seed(0)
    model = build_lm(name, 17, embed_size=6, hidden_size=8, num_layers=2)
    twin = TorchLM(cell, 17, 6, 8, 2)
    _copy(model, twin)
    x = RNG.integers(0, 17, size=(3, 5))
    y = RNG.integers(0, 17, size=(3, 5))
    state = model.begin_state(3)
    out, new_state = model(zg.tensor(x), state)
    tout, tstate = twin(torch.tensor(x))
    assert tuple(out.shape) == (15, 17)  # (num_steps * batch, vocab): d2l's RNNModel
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    loss = zg.nn.functional.cross_entropy(out, zg.tensor(y).T.reshape(-1))
    tloss = tnn.functional.cross_entropy(tout, torch.tensor(y).T.reshape(-1))
    loss.backward()
    tloss.backward()
    tparams = dict(twin.named_parameters())
    for pname, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tparams[pname].grad.numpy(), rtol=1e-4,
                                   atol=1e-6, err_msg=pname)
    detached = detach_state(new_state)
    for s in (detached if isinstance(detached, tuple) else (detached,)):
        assert not s.requires_grad


class TorchEncoder(tnn.Module):
    def __init__(self, vocab, embed, hidden, layers):
        super().__init__()
        self.embedding = tnn.Embedding(vocab, embed)
        self.rnn = tnn.GRU(embed, hidden, layers)

    def forward(self, x):
        return self.rnn(self.embedding(x).permute(1, 0, 2))


class TorchDecoder(tnn.Module):
    def __init__(self, vocab, embed, hidden, layers):
        super().__init__()
        self.embedding = tnn.Embedding(vocab, embed)
        self.rnn = tnn.GRU(embed + hidden, hidden, layers)
        self.dense = tnn.Linear(hidden, vocab)

    def forward(self, x, state):
        x = self.embedding(x).permute(1, 0, 2)
        context = state[-1].repeat(x.shape[0], 1, 1)
        out, state = self.rnn(torch.cat((x, context), 2), state)
        return self.dense(out).permute(1, 0, 2), state


class TorchSeq2Seq(tnn.Module):
    def __init__(self, src, tgt, embed, hidden, layers):
        super().__init__()
        self.encoder = TorchEncoder(src, embed, hidden, layers)
        self.decoder = TorchDecoder(tgt, embed, hidden, layers)

    def forward(self, x, y):
        return self.decoder(y, self.encoder(x)[1])


def test_seq2seq_and_masked_loss_match_torch():
    zg.manual_seed(1)
    net = build_seq2seq(11, 13, embed_size=5, hidden_size=7, num_layers=2)
    twin = TorchSeq2Seq(11, 13, 5, 7, 2)
    _copy(net, twin)
    x, y = RNG.integers(0, 11, size=(4, 6)), RNG.integers(0, 13, size=(4, 6))
    valid = np.array([6, 2, 4, 1])
    out, state = net(zg.tensor(x), zg.tensor(y), zg.tensor(valid))
    tout, tstate = twin(torch.tensor(x), torch.tensor(y))
    assert tuple(out.shape) == (4, 6, 13) and tuple(state.shape) == (2, 4, 7)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    loss = MaskedSoftmaxCELoss()(out, zg.tensor(y), zg.tensor(valid))
    # d2l's loss: token cross-entropy, zero past each valid length, mean over the steps
    per_token = tnn.functional.cross_entropy(tout.permute(0, 2, 1), torch.tensor(y),
                                             reduction="none")
    mask = torch.arange(6)[None, :] < torch.tensor(valid)[:, None]
    expected = (per_token * mask).mean(dim=1)
    assert tuple(loss.shape) == (4,)
    np.testing.assert_allclose(loss.detach().numpy(), expected.detach().numpy(), rtol=1e-5)
    loss.sum().backward()
    expected.sum().backward()
    tparams = dict(twin.named_parameters())
    for pname, p in net.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tparams[pname].grad.numpy(), rtol=1e-4,
                                   atol=1e-6, err_msg=pname)


def test_sequence_mask():
    x = zg.ones(2, 3, 2)
    masked = sequence_mask(x, zg.tensor([1, 2]), value=-1)
    assert masked.numpy()[:, :, 0].tolist() == [[1, -1, -1], [1, 1, -1]]
    assert sequence_mask(zg.ones(2, 3), zg.tensor([0, 3])).numpy().tolist() == [[0, 0, 0],
                                                                                 [1, 1, 1]]


def test_greedy_decode_stops_at_eos():
    zg.manual_seed(2)
    net = build_seq2seq(6, 6, embed_size=4, hidden_size=4, num_layers=1)
    with zg.no_grad():  # make <eos> (3) the argmax at every step
        net.decoder.dense.weight.zero_()
        net.decoder.dense.bias.copy_(zg.tensor([0., 0., 0., 5., 0., 0.]))
    tokens, lengths = greedy_decode(net, zg.tensor([[4, 5, 3]]), zg.tensor([3]), 2, 3, 5)
    assert tokens.shape == (1, 5) and lengths.tolist() == [0]


def test_bleu_as_d2l():
    assert bleu("a b c d", "a b c d", k=2) == 1.0
    assert bleu("a b", "a b c d", k=2) == pytest.approx(math.exp(1 - 4 / 2))
    assert bleu("x y", "a b", k=2) == 0.0
    assert bleu("", "a b", k=2) == 0.0
    # one wrong word: 3 of 4 unigrams and 1 of 3 bigrams match
    score = bleu("il est bon .", "il est calme .", k=2)
    assert score == pytest.approx((3 / 4) ** 0.5 * (1 / 3) ** 0.25)


def test_text_models_are_not_built_for_tabular_data():
    assert is_text_model("lstm-lm") and is_text_model("seq2seq-gru")
    assert not is_text_model("mlp")
    with pytest.raises(ValueError, match="sequence model"):
        get_model("lstm-lm", (4,), 3)


def test_resolve_text_defaults():
    from zerograd.train.config import resolve
    cfg = resolve({}, {"model": "lstm-lm", "data": "text:tang300"})
    assert (cfg.num_steps, cfg.batch_size, cfg.clip_grad, cfg.hidden_size) == (35, 32, 1.0, 256)
    cfg = resolve({}, {"model": "seq2seq-gru", "data": "seq2seq:reverse", "clip_grad": 0.0})
    assert cfg.clip_grad == 0.0 and cfg.num_steps == 10 and cfg.lr == 0.005
