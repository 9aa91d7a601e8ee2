"""d2l's RNN encoder-decoder (10.7): GRU encoder, GRU decoder fed the context, masked loss,
greedy decoding and BLEU.

Batches are ``(X, X_valid_len, Y, Y_valid_len)`` of ``(batch_size, num_steps)`` token
indices (``zerograd.datasets.seq2seq``). In training the decoder gets the target shifted
right behind ``<bos>`` (teacher forcing); at inference it is fed its own argmax.
"""
import collections
import math

import numpy as np

from zerograd import nn
from zerograd.autograd.grad_mode import no_grad
from zerograd.ops import arange, cat, from_numpy

__all__ = ["Seq2SeqEncoder", "Seq2SeqDecoder", "EncoderDecoder", "MaskedSoftmaxCELoss",
           "sequence_mask", "greedy_decode", "bleu", "build_seq2seq", "DEFAULT_SEQ2SEQ_SIZES"]

DEFAULT_SEQ2SEQ_SIZES = {"embed_size": 32, "hidden_size": 64, "num_layers": 2}


class Seq2SeqEncoder(nn.Module):
    """Embedding then a GRU; returns ``(outputs (T, B, H), state (layers, B, H))``."""

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0.0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size, num_hiddens, num_layers, dropout=dropout)

    def forward(self, X, *args):
        return self.rnn(self.embedding(X).permute(1, 0, 2))


class Seq2SeqDecoder(nn.Module):
    """A GRU over ``[embedding; context]`` (the encoder's last top-layer state at every
    step), then a linear layer to the target vocabulary; output ``(B, T, vocab)``."""

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0.0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers, dropout=dropout)
        self.dense = nn.Linear(num_hiddens, vocab_size)

    def init_state(self, enc_outputs, *args):
        return enc_outputs[1]

    def forward(self, X, state, context=None):
        X = self.embedding(X).permute(1, 0, 2)
        # d2l takes the context from the *current* state, which is the encoder's only on
        # the first call; greedy decoding passes the encoder's context explicitly.
        context = state[-1] if context is None else context
        context = context.repeat(X.shape[0], 1, 1)
        output, state = self.rnn(cat((X, context), 2), state)
        return self.dense(output).permute(1, 0, 2), state


class EncoderDecoder(nn.Module):
    """d2l's ``EncoderDecoder``: ``forward(enc_X, dec_X, *args) -> (logits, state)``."""

    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, enc_X, dec_X, *args):
        enc_outputs = self.encoder(enc_X, *args)
        dec_state = self.decoder.init_state(enc_outputs, *args)
        return self.decoder(dec_X, dec_state)


def sequence_mask(X, valid_len, value=0.0):
    """Entries of ``X`` (B, T, ...) at steps ``>= valid_len`` set to ``value`` (a copy)."""
    maxlen = X.shape[1]
    mask = arange(maxlen, device=valid_len.device)[None, :] < valid_len[:, None]
    return X.masked_fill(~mask, value) if X.dim() == 2 else X.masked_fill(
        ~mask.reshape(mask.shape + (1,) * (X.dim() - 2)), value)


class MaskedSoftmaxCELoss(nn.CrossEntropyLoss):
    """d2l's loss: per-token cross-entropy, zero on padding, averaged over the steps of
    each sequence: ``forward(pred (B, T, V), label (B, T), valid_len (B,)) -> (B,)``."""

    def __init__(self):
        super().__init__(reduction="none")

    def forward(self, pred, label, valid_len):
        weights = sequence_mask(label.new_ones(label.shape).float(), valid_len)
        unweighted = super().forward(pred.permute(0, 2, 1), label)
        return (unweighted * weights).mean(dim=1)


def build_seq2seq(src_vocab_size, tgt_vocab_size, embed_size=None, hidden_size=None,
                  num_layers=None, dropout=0.0, decoder=None):
    """d2l's GRU encoder-decoder; ``decoder`` another decoder class taking the same sizes
    (the Bahdanau-attention one). Sizes left None take ``DEFAULT_SEQ2SEQ_SIZES``."""
    sizes = dict(DEFAULT_SEQ2SEQ_SIZES)
    for key, value in (("embed_size", embed_size), ("hidden_size", hidden_size),
                       ("num_layers", num_layers)):
        if value is not None:
            sizes[key] = value
    e, h, n = sizes["embed_size"], sizes["hidden_size"], sizes["num_layers"]
    return EncoderDecoder(Seq2SeqEncoder(src_vocab_size, e, h, n, dropout),
                          (decoder or Seq2SeqDecoder)(tgt_vocab_size, e, h, n, dropout))


def greedy_decode(net, src, src_valid_len, bos, eos, num_steps):
    """Greedy decoding of a batch: ``(B, num_steps)`` int64 predictions, each row cut
    after its first ``<eos>`` by a length array. Returns ``(tokens array, lengths array)``
    where ``lengths`` counts the tokens before ``<eos>`` (d2l's ``predict_seq2seq``,
    batched)."""
    net.eval()
    with no_grad():
        enc_outputs = net.encoder(src, src_valid_len)
        state = net.decoder.init_state(enc_outputs, src_valid_len)
        context = enc_outputs[1][-1]
        dec_X = from_numpy(np.full((src.shape[0], 1), bos, dtype=np.int64)).to(src.device)
        out = np.zeros((src.shape[0], num_steps), dtype=np.int64)
        for t in range(num_steps):
            Y, state = net.decoder(dec_X, state, context)
            dec_X = Y.argmax(dim=2)
            out[:, t] = dec_X.cpu().numpy()[:, 0]
    is_eos = out == eos
    lengths = np.where(is_eos.any(axis=1), is_eos.argmax(axis=1), num_steps)
    return out, lengths


def bleu(pred_seq, label_seq, k):
    """d2l's BLEU of one prediction against one reference (space-separated tokens),
    with n-grams up to ``k`` and the brevity penalty."""
    pred_tokens, label_tokens = pred_seq.split(" "), label_seq.split(" ")
    pred_tokens = [t for t in pred_tokens if t] if pred_seq else []
    len_pred, len_label = len(pred_tokens), len(label_tokens)
    if len_pred == 0:
        return 0.0
    score = math.exp(min(0, 1 - len_label / len_pred))
    for n in range(1, k + 1):
        num_matches, label_subs = 0, collections.defaultdict(int)
        for i in range(len_label - n + 1):
            label_subs[" ".join(label_tokens[i: i + n])] += 1
        for i in range(len_pred - n + 1):
            if label_subs[" ".join(pred_tokens[i: i + n])] > 0:
                num_matches += 1
                label_subs[" ".join(pred_tokens[i: i + n])] -= 1
        if len_pred - n + 1 <= 0:
            return 0.0 if num_matches == 0 else score
        score *= math.pow(num_matches / (len_pred - n + 1), math.pow(0.5, n))
    return score
