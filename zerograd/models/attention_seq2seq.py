"""d2l's Bahdanau attention decoder (11.4): at every step the GRU's top hidden state queries
the encoder's outputs through additive attention, and the context it reads is fed to
the GRU beside the token's embedding.

The encoder is ``seq2seq.Seq2SeqEncoder``; batches, loss and teacher forcing are those
of ``seq2seq-gru``. ``decode_step`` is the one-token-at-a-time interface that
``models.decoding.greedy_decode_steps`` drives (and that records the attention weights
for the heat maps).
"""
from zerograd import nn
from zerograd.models.seq2seq import build_seq2seq
from zerograd.ops import arange, bmm, cat, softmax

__all__ = ["masked_softmax", "AdditiveAttention", "Seq2SeqAttentionDecoder",
           "build_seq2seq_attn"]


def masked_softmax(X, valid_lens):
    """Softmax over the last axis of ``X`` (B, queries, keys) with the keys at or past
    ``valid_lens`` (B,) given weight 0, as d2l (masked scores set to -1e6, not -inf, so
    a row with no valid key stays finite)."""
    if valid_lens is None:
        return softmax(X, dim=-1)
    keep = arange(X.shape[-1], device=X.device)[None, None, :] < valid_lens.reshape(-1, 1, 1)
    return softmax(X.masked_fill(~keep, -1e6), dim=-1)


class AdditiveAttention(nn.Module):
    """``w_v . tanh(W_q q + W_k k)`` scores, masked softmax, weighted sum of the values."""

    def __init__(self, query_size, key_size, num_hiddens, dropout=0.0):
        super().__init__()
        self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.attention_weights = None

    def forward(self, queries, keys, values, valid_lens):
        # (B, q, 1, h) + (B, 1, k, h): every query against every key, by broadcasting
        features = (self.W_q(queries).unsqueeze(2) + self.W_k(keys).unsqueeze(1)).tanh()
        scores = self.w_v(features).squeeze(-1)
        self.attention_weights = masked_softmax(scores, valid_lens)
        return bmm(self.dropout(self.attention_weights), values)


class Seq2SeqAttentionDecoder(nn.Module):
    """GRU decoder over ``[context; embedding]``, the context read by additive attention
    from the encoder outputs at each step; output ``(B, T, vocab)`` logits."""

    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0.0):
        super().__init__()
        self.attention = AdditiveAttention(num_hiddens, num_hiddens, num_hiddens, dropout)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers, dropout=dropout)
        self.dense = nn.Linear(num_hiddens, vocab_size)
        self._attention_weights = []

    def init_state(self, enc_outputs, enc_valid_lens=None, *args):
        outputs, hidden_state = enc_outputs
        return outputs.permute(1, 0, 2), hidden_state, enc_valid_lens

    def forward(self, X, state):
        enc_outputs, hidden_state, enc_valid_lens = state
        X = self.embedding(X).permute(1, 0, 2)            # (T, B, embed)
        outputs, self._attention_weights = [], []
        for x in X:                                       # one decoding step at a time
            query = hidden_state[-1].unsqueeze(1)         # (B, 1, hidden)
            context = self.attention(query, enc_outputs, enc_outputs, enc_valid_lens)
            x = cat((context, x.unsqueeze(1)), dim=-1)
            out, hidden_state = self.rnn(x.permute(1, 0, 2), hidden_state)
            outputs.append(out)
            self._attention_weights.append(self.attention.attention_weights)
        outputs = self.dense(cat(outputs, dim=0))
        return outputs.permute(1, 0, 2), (enc_outputs, hidden_state, enc_valid_lens)

    @property
    def attention_weights(self):
        """Per step, the ``(B, 1, source steps)`` weights of the last forward."""
        return self._attention_weights

    def decode_step(self, tokens, state):
        """The next token's logits ``(B, vocab)`` given the tokens so far ``(B, t)`` (only
        the last is read: the GRU state holds the rest) and the step's attention weights
        as ``(B, layers=1, heads=1, source steps)`` (a NumPy array)."""
        logits, state = self.forward(tokens[:, -1:], state)
        weights = self._attention_weights[-1].detach().cpu().numpy()[:, None, :, :]
        return logits[:, -1], state, weights


def build_seq2seq_attn(src_vocab_size, tgt_vocab_size, embed_size=None, hidden_size=None,
                       num_layers=None, dropout=0.0):
    return build_seq2seq(src_vocab_size, tgt_vocab_size, embed_size, hidden_size, num_layers,
                         dropout, decoder=Seq2SeqAttentionDecoder)

