"""BERT (d2l 15.8): a Transformer encoder over token + segment + position embeddings, with
a masked-language-model head and a next-sentence-prediction head.

``forward(tokens, segments, valid_lens, pred_positions)`` returns
``(encoded (B, T, d), mlm_logits (B, P, vocab) or None, nsp_logits (B, 2))``. The
encoder's blocks are post-norm ``nn.TransformerEncoderLayer`` (d2l's
``TransformerEncoderBlock``: attention, add & norm, ReLU FFN, add & norm) and padding
is masked from the valid lengths. ``bert_loss`` is d2l's ``_get_batch_loss_bert``: the
masked-LM cross-entropy averaged over the real (weight-1) predictions, plus the NSP one.
"""
from zerograd import nn
from zerograd.models.positions import check_length
from zerograd.models.transformer_seq2seq import padding_mask
from zerograd.ops import zeros

__all__ = ["BERTEncoder", "MaskLM", "NextSentencePred", "BERTModel", "bert_loss",
           "build_bert", "DEFAULT_BERT_SIZES"]

# d2l 15.10: num_hiddens 128, ffn_num_hiddens 256, 2 heads, 2 blocks, max_len 64
DEFAULT_BERT_SIZES = {"embed_size": 128, "hidden_size": 256, "num_layers": 2, "num_heads": 2}


class BERTEncoder(nn.Module):
    def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_blks, dropout,
                 max_len):
        super().__init__()
        self.max_len = max_len
        self.token_embedding = nn.Embedding(vocab_size, num_hiddens)
        self.segment_embedding = nn.Embedding(2, num_hiddens)
        layer = nn.TransformerEncoderLayer(num_hiddens, num_heads, ffn_num_hiddens, dropout,
                                           batch_first=True)
        self.blks = nn.TransformerEncoder(layer, num_blks, enable_nested_tensor=False)
        # learnable positions, as d2l (a parameter, not a fixed sinusoid)
        self.pos_embedding = nn.Parameter(zeros((1, max_len, num_hiddens)))
        nn.init.normal_(self.pos_embedding)

    def forward(self, tokens, segments, valid_lens=None):
        check_length(tokens.shape[1], self.max_len)
        X = self.token_embedding(tokens) + self.segment_embedding(segments)
        X = X + self.pos_embedding[:, :X.shape[1], :]
        return self.blks(X, src_key_padding_mask=padding_mask(valid_lens, X.shape[1]))


class MaskLM(nn.Module):
    """MLP over the encodings at the masked positions: ``(B, P, vocab)`` logits."""

    def __init__(self, vocab_size, num_hiddens, num_inputs):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(num_inputs, num_hiddens), nn.ReLU(),
                                 nn.LayerNorm(num_hiddens), nn.Linear(num_hiddens, vocab_size))

    def forward(self, X, pred_positions):
        index = pred_positions.long()[:, :, None].expand(-1, -1, X.shape[-1])
        return self.mlp(X.gather(1, index))


class NextSentencePred(nn.Module):
    def __init__(self, num_inputs):
        super().__init__()
        self.output = nn.Linear(num_inputs, 2)

    def forward(self, X):
        return self.output(X)


class BERTModel(nn.Module):
    def __init__(self, vocab_size, num_hiddens=128, ffn_num_hiddens=256, num_heads=2,
                 num_blks=2, dropout=0.1, max_len=64):
        super().__init__()
        if num_hiddens % num_heads:
            raise ValueError(f"--embed-size {num_hiddens} must be divisible by --num-heads "
                             f"{num_heads}")
        self.vocab_size, self.max_len = vocab_size, max_len
        self.encoder = BERTEncoder(vocab_size, num_hiddens, ffn_num_hiddens, num_heads,
                                   num_blks, dropout, max_len)
        self.hidden = nn.Sequential(nn.Linear(num_hiddens, num_hiddens), nn.Tanh())
        self.mlm = MaskLM(vocab_size, num_hiddens, num_hiddens)
        self.nsp = NextSentencePred(num_hiddens)

    def forward(self, tokens, segments, valid_lens=None, pred_positions=None):
        encoded_X = self.encoder(tokens, segments, valid_lens)
        mlm_Y_hat = self.mlm(encoded_X, pred_positions) if pred_positions is not None else None
        # the <cls> token's encoding summarises the pair
        nsp_Y_hat = self.nsp(self.hidden(encoded_X[:, 0, :]))
        return encoded_X, mlm_Y_hat, nsp_Y_hat


def bert_loss(mlm_Y_hat, nsp_Y_hat, mlm_Y, mlm_weights, nsp_y):
    """``(loss, mlm_loss, nsp_loss)``: d2l's sum of the weighted masked-LM cross-entropy
    (mean over the real predictions) and the next-sentence cross-entropy."""
    ce = nn.functional.cross_entropy
    vocab = mlm_Y_hat.shape[-1]
    weights = mlm_weights.reshape(-1)
    per_token = ce(mlm_Y_hat.reshape(-1, vocab), mlm_Y.reshape(-1), reduction="none")
    mlm_l = (per_token * weights).sum() / (weights.sum() + 1e-8)
    nsp_l = ce(nsp_Y_hat, nsp_y)
    return mlm_l + nsp_l, mlm_l, nsp_l


def build_bert(vocab_size, embed_size=None, hidden_size=None, num_layers=None, num_heads=None,
               max_len=64, dropout=0.1):
    sizes = dict(DEFAULT_BERT_SIZES)
    for key, value in (("embed_size", embed_size), ("hidden_size", hidden_size),
                       ("num_layers", num_layers), ("num_heads", num_heads)):
        if value is not None:
            sizes[key] = value
    return BERTModel(vocab_size, sizes["embed_size"], sizes["hidden_size"], sizes["num_heads"],
                     sizes["num_layers"], dropout, max_len)
