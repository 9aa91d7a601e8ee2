"""d2l's Transformer encoder-decoder (11.7), built from ``nn.MultiheadAttention``.

Embeddings are scaled by ``sqrt(num_hiddens)`` and added to the sinusoidal positional
encoding; each encoder block is self-attention then a position-wise FFN, each followed
by "add & norm"; each decoder block adds a causal self-attention before attending to
the encoder's outputs. Padding of the source is masked with ``key_padding_mask`` (from
the valid lengths), the future of the target with a causal ``attn_mask``.

Batches and training are those of ``seq2seq-gru``. Greedy decoding
(``decode_step``) re-reads the whole target prefix each step: under the causal mask the
earlier positions come out unchanged, so this equals d2l's cached decoding. In eval mode
the blocks keep their attention weights for the heat maps.
"""
import math

import numpy as np

from zerograd import nn
from zerograd.models.positions import PositionalEncoding
from zerograd.models.seq2seq import EncoderDecoder
from zerograd.ops import arange, from_numpy

__all__ = ["PositionWiseFFN", "AddNorm", "TransformerEncoderBlock", "TransformerDecoderBlock",
           "TransformerSeq2SeqEncoder", "TransformerSeq2SeqDecoder", "build_transformer_seq2seq",
           "DEFAULT_TRANSFORMER_SEQ2SEQ_SIZES", "padding_mask", "causal_mask"]

# d2l 11.7.6: num_hiddens 32, ffn_num_hiddens 64, 4 heads, 2 blocks
DEFAULT_TRANSFORMER_SEQ2SEQ_SIZES = {"embed_size": 32, "hidden_size": 64, "num_layers": 2,
                                     "num_heads": 4}


def padding_mask(valid_lens, num_steps):
    """``(B, num_steps)`` bool, True where a key is padding (MultiheadAttention's sense)."""
    if valid_lens is None:
        return None
    return arange(num_steps, device=valid_lens.device)[None, :] >= valid_lens.reshape(-1, 1)


def causal_mask(num_steps, device="cpu"):
    """``(T, T)`` bool on ``device``, True above the diagonal: position i may not see j > i."""
    return from_numpy(np.triu(np.ones((num_steps, num_steps), dtype=bool), k=1)).to(device)


class PositionWiseFFN(nn.Module):
    def __init__(self, ffn_num_hiddens, num_outputs, num_inputs=None):
        super().__init__()
        self.dense1 = nn.Linear(num_inputs or num_outputs, ffn_num_hiddens)
        self.relu = nn.ReLU()
        self.dense2 = nn.Linear(ffn_num_hiddens, num_outputs)

    def forward(self, X):
        return self.dense2(self.relu(self.dense1(X)))


class AddNorm(nn.Module):
    """``LayerNorm(X + dropout(Y))``: the residual connection and layer normalization."""

    def __init__(self, norm_shape, dropout):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.ln = nn.LayerNorm(norm_shape)

    def forward(self, X, Y):
        return self.ln(self.dropout(Y) + X)


def _attend(attention, q, kv, keep, **masks):
    """MultiheadAttention output; with ``keep`` (eval), also its per-head weights."""
    out, weights = attention(q, kv, kv, need_weights=keep, average_attn_weights=False, **masks)
    return out, (weights.detach().cpu().numpy() if keep else None)


class TransformerEncoderBlock(nn.Module):
    def __init__(self, num_hiddens, ffn_num_hiddens, num_heads, dropout):
        super().__init__()
        self.attention = nn.MultiheadAttention(num_hiddens, num_heads, dropout,
                                               batch_first=True)
        self.addnorm1 = AddNorm(num_hiddens, dropout)
        self.ffn = PositionWiseFFN(ffn_num_hiddens, num_hiddens)
        self.addnorm2 = AddNorm(num_hiddens, dropout)
        self.attention_weights = None

    def forward(self, X, key_padding_mask):
        Y, self.attention_weights = _attend(self.attention, X, X, not self.training,
                                            key_padding_mask=key_padding_mask)
        Y = self.addnorm1(X, Y)
        return self.addnorm2(Y, self.ffn(Y))


class TransformerDecoderBlock(nn.Module):
    def __init__(self, num_hiddens, ffn_num_hiddens, num_heads, dropout):
        super().__init__()
        self.attention1 = nn.MultiheadAttention(num_hiddens, num_heads, dropout,
                                                batch_first=True)
        self.addnorm1 = AddNorm(num_hiddens, dropout)
        self.attention2 = nn.MultiheadAttention(num_hiddens, num_heads, dropout,
                                                batch_first=True)
        self.addnorm2 = AddNorm(num_hiddens, dropout)
        self.ffn = PositionWiseFFN(ffn_num_hiddens, num_hiddens)
        self.addnorm3 = AddNorm(num_hiddens, dropout)
        self.self_attention_weights = self.attention_weights = None

    def forward(self, X, enc_outputs, enc_padding):
        keep = not self.training
        X2, self.self_attention_weights = _attend(self.attention1, X, X, keep,
                                                  attn_mask=causal_mask(X.shape[1], X.device))
        Y = self.addnorm1(X, X2)
        Y2, self.attention_weights = _attend(self.attention2, Y, enc_outputs, keep,
                                             key_padding_mask=enc_padding)
        Z = self.addnorm2(Y, Y2)
        return self.addnorm3(Z, self.ffn(Z))


def _scaled_embedding(vocab_size, num_hiddens):
    """An embedding drawn with std ``1/sqrt(d)``: times ``sqrt(d)`` in forward it has unit
    scale, like the positional encoding (Vaswani et al.'s setup). With torch's N(0, 1)
    draw the tokens would outweigh the positions ``sqrt(d)`` times, and a task that hinges
    on positions (reversing a string) learns far more slowly."""
    embedding = nn.Embedding(vocab_size, num_hiddens)
    nn.init.normal_(embedding.weight, std=num_hiddens ** -0.5)
    return embedding


class TransformerSeq2SeqEncoder(nn.Module):
    def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_blks,
                 dropout, max_len):
        super().__init__()
        self.num_hiddens = num_hiddens
        self.embedding = _scaled_embedding(vocab_size, num_hiddens)
        self.pos_encoding = PositionalEncoding(num_hiddens, dropout, max_len)
        self.blks = nn.ModuleList([TransformerEncoderBlock(num_hiddens, ffn_num_hiddens,
                                                           num_heads, dropout)
                                   for _ in range(num_blks)])

    def forward(self, X, valid_lens=None, *args):
        # the embedding is scaled up to the size of the positional encoding's values
        X = self.pos_encoding(self.embedding(X) * math.sqrt(self.num_hiddens))
        padding = padding_mask(valid_lens, X.shape[1])
        for blk in self.blks:
            X = blk(X, padding)
        return X


class TransformerSeq2SeqDecoder(nn.Module):
    def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_blks,
                 dropout, max_len):
        super().__init__()
        self.num_hiddens = num_hiddens
        self.embedding = _scaled_embedding(vocab_size, num_hiddens)
        self.pos_encoding = PositionalEncoding(num_hiddens, dropout, max_len)
        self.blks = nn.ModuleList([TransformerDecoderBlock(num_hiddens, ffn_num_hiddens,
                                                           num_heads, dropout)
                                   for _ in range(num_blks)])
        self.dense = nn.Linear(num_hiddens, vocab_size)

    def init_state(self, enc_outputs, enc_valid_lens=None, *args):
        return enc_outputs, padding_mask(enc_valid_lens, enc_outputs.shape[1])

    def forward(self, X, state):
        enc_outputs, enc_padding = state
        X = self.pos_encoding(self.embedding(X) * math.sqrt(self.num_hiddens))
        for blk in self.blks:
            X = blk(X, enc_outputs, enc_padding)
        return self.dense(X), state

    @property
    def attention_weights(self):
        """Per block, the encoder-decoder weights ``(B, heads, target, source)`` of the
        last forward in eval mode."""
        return [blk.attention_weights for blk in self.blks]

    def decode_step(self, tokens, state):
        """The next token's logits ``(B, vocab)`` after ``tokens`` ``(B, t)``, and the last
        position's encoder-decoder weights ``(B, blocks, heads, source steps)``."""
        logits, state = self.forward(tokens, state)
        weights = self.attention_weights
        if weights[0] is None:
            return logits[:, -1], state, None
        return logits[:, -1], state, np.stack([w[:, :, -1, :] for w in weights], axis=1)


def build_transformer_seq2seq(src_vocab_size, tgt_vocab_size, embed_size=None,
                              hidden_size=None, num_layers=None, num_heads=None, max_len=None,
                              dropout=0.1):
    """``embed_size`` is the model width (d2l's num_hiddens), ``hidden_size`` the FFN's,
    ``num_layers`` the blocks of each side, ``max_len`` the positional table's rows."""
    sizes = dict(DEFAULT_TRANSFORMER_SEQ2SEQ_SIZES)
    for key, value in (("embed_size", embed_size), ("hidden_size", hidden_size),
                       ("num_layers", num_layers), ("num_heads", num_heads)):
        if value is not None:
            sizes[key] = value
    d, f, n, h = (sizes["embed_size"], sizes["hidden_size"], sizes["num_layers"],
                  sizes["num_heads"])
    if d % h:
        raise ValueError(f"--embed-size {d} must be divisible by --num-heads {h}")
    max_len = max_len or 1000
    return EncoderDecoder(TransformerSeq2SeqEncoder(src_vocab_size, d, f, h, n, dropout, max_len),
                          TransformerSeq2SeqDecoder(tgt_vocab_size, d, f, h, n, dropout, max_len))
