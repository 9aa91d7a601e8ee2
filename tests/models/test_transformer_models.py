"""The attention models of the zoo: shapes, torch equality, decoding, and length errors."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import zerograd as zg
from tests.oracle import check_module
from zerograd.models import MODELS, is_text_model
from zerograd.models.attention_seq2seq import build_seq2seq_attn, masked_softmax
from zerograd.models.bert import bert_loss, build_bert
from zerograd.models.decoding import greedy_decode_steps
from zerograd.models.positions import sinusoid_table
from zerograd.models.transformer_lm import build_transformer_lm
from zerograd.models.transformer_seq2seq import build_transformer_seq2seq

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from bench_transformer_quality import bert_twin, lm_twin  # noqa: E402


def tokens(shape, high, seed=0):
    return zg.tensor(np.random.default_rng(seed).integers(0, high, size=shape))


def test_new_models_are_registered_sequence_models():
    for name in ("seq2seq-attn", "transformer-seq2seq", "transformer-lm", "bert-tiny"):
        assert name in MODELS and is_text_model(name)
    with pytest.raises(ValueError, match="sequence model"):
        zg.models.get_model("bert-tiny", (8,), 2)


@pytest.mark.parametrize("positions", ["learned", "sinusoidal"])
def test_transformer_lm_equals_its_torch_twin(positions):
    zg.manual_seed(0)
    zmodel = build_transformer_lm(11, 8, 16, 2, 2, max_len=6, positions=positions, dropout=0.0)
    tmodel = lm_twin(torch, 11, 8, 16, 2, 2, 6, positions)
    x = np.random.default_rng(1).integers(0, 11, size=(3, 6))
    check_module(zmodel, tmodel, x, atol=1e-5, rtol=1e-4)   # logits and every gradient


def test_transformer_lm_shapes_causality_and_context():
    zg.manual_seed(0)
    model = build_transformer_lm(9, 8, 16, 1, 2, max_len=5, dropout=0.0).eval()
    model.requires_grad_(False)
    x = tokens((2, 5), 9)
    logits, context = model(x)
    assert logits.shape == (10, 9) and context.shape == (2, 5)
    changed = x.clone()
    changed[:, 4] = (x[:, 4] + 1) % 9
    # time-major rows: the first 4 steps cannot see a change at step 5
    np.testing.assert_allclose(model(changed)[0].numpy()[:8], logits.numpy()[:8], atol=1e-6)
    # feeding the last token after a context = the full sequence's last step
    last, _ = model(x[:, 4:], x[:, :4])
    np.testing.assert_allclose(last.numpy(), logits.numpy()[8:], atol=1e-5)
    with pytest.raises(ValueError, match="positional table holds 5"):
        model(tokens((1, 6), 9))


def test_sinusoid_table_is_d2ls():
    P = sinusoid_table(4, 6)
    assert P[0].tolist() == [0, 1, 0, 1, 0, 1]
    assert P[3, 2] == pytest.approx(np.sin(3 / 10000 ** (2 / 6)))
    assert P[3, 3] == pytest.approx(np.cos(3 / 10000 ** (2 / 6)))


def test_bert_equals_its_torch_twin_and_loss():
    zg.manual_seed(0)
    zmodel = build_bert(13, 8, 16, 1, 2, max_len=7, dropout=0.0)
    tmodel = bert_twin(torch, 13, 8, 16, 1, 2, 7)
    toks = np.random.default_rng(2).integers(0, 13, size=(2, 7))
    segs = np.array([[0, 0, 0, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1, 1]])
    valid = np.array([5.0, 7.0], dtype=np.float32)
    pos = np.array([[1, 2], [3, 0]])
    check_module(zmodel, tmodel, toks, segs, valid, pos, atol=1e-5, rtol=1e-4)
    _, mlm, nsp = zmodel(*(zg.tensor(a) for a in (toks, segs, valid, pos)))
    assert mlm.shape == (2, 2, 13) and nsp.shape == (2, 2)
    labels, weights = zg.tensor([[4, 5], [6, 0]]), zg.tensor([[1.0, 1.0], [1.0, 0.0]])
    loss, mlm_l, nsp_l = bert_loss(mlm, nsp, labels, weights, zg.tensor([1, 0]))
    ce = torch.nn.functional.cross_entropy
    t_mlm = ce(torch.tensor(mlm.detach().numpy()[[0, 0, 1], [0, 1, 0]]), torch.tensor([4, 5, 6]))
    assert mlm_l.item() == pytest.approx(t_mlm.item(), rel=1e-5)
    assert loss.item() == pytest.approx(mlm_l.item() + nsp_l.item(), rel=1e-6)


def test_masked_softmax_ignores_keys_past_the_valid_length():
    w = masked_softmax(zg.randn(2, 3, 4), zg.tensor([2, 4])).numpy()
    assert np.all(w[0, :, 2:] == 0) and np.allclose(w.sum(-1), 1)


@pytest.mark.parametrize("build", [
    lambda: build_seq2seq_attn(12, 14, 8, 16, 2),
    lambda: build_transformer_seq2seq(12, 14, 8, 16, 2, 2, max_len=6, dropout=0.0)],
    ids=["seq2seq-attn", "transformer-seq2seq"])
def test_seq2seq_shapes_and_greedy_decoding_matches_teacher_forcing(build):
    zg.manual_seed(0)
    net = build()
    X, X_len = tokens((3, 6), 12, seed=3), zg.tensor([6, 4, 2])
    out, _ = net(X, tokens((3, 6), 14, seed=4), X_len)
    assert out.shape == (3, 6, 14)
    out.sum().backward()
    pred, lengths, weights = greedy_decode_steps(net, X, X_len, bos=1, eos=2, num_steps=6)
    assert pred.shape == (3, 6) and lengths.shape == (3,)
    assert weights.shape[0] == 3 and weights.shape[3:] == (6, 6)
    np.testing.assert_allclose(weights.sum(-1), 1, atol=1e-5)
    assert np.all(weights[1, ..., 4:] < 1e-5)            # padding of the source unseen
    # decoding step by step = one teacher-forced pass over what was decoded
    dec_in = zg.tensor(np.concatenate([np.ones((3, 1), np.int64), pred[:, :-1]], axis=1))
    net.eval()
    with zg.no_grad():
        forced, _ = net(X, dec_in, X_len)
    assert np.array_equal(forced.argmax(-1).numpy(), pred)


def test_transformer_seq2seq_refuses_a_source_longer_than_its_table():
    net = build_transformer_seq2seq(12, 14, 8, 16, 1, 2, max_len=4)
    with pytest.raises(ValueError, match="positional table holds 4"):
        net(tokens((1, 5), 12), tokens((1, 4), 14), zg.tensor([5]))
