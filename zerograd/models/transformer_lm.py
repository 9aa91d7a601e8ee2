"""A decoder-only (GPT-style) causal Transformer language model.

Token embedding plus positions (``"learned"``: a trained table, ``"sinusoidal"``: d2l's
fixed one), a stack of pre-norm ``nn.TransformerEncoderLayer`` blocks under a causal
mask, a final LayerNorm and a linear head. The positional table has ``max_len`` rows
(the run's ``--num-steps``): a longer input is refused in one sentence.

It keeps the interface of ``rnn_lm.RNNLanguageModel`` so the LM training loop and
``zerograd generate`` drive both: ``forward(inputs (B, T), state)`` returns logits of
shape ``(T * B, vocab)`` ordered time step by time step (to compare with
``Y.T.reshape(-1)``) and a "state", which here is the token context: given one, the new
tokens are read after it (its last ``max_len - T`` tokens, a sliding window), so
sampling can feed one token at a time. Training passes no state (``carries_state`` is
False): each sequence stands alone.
"""
import numpy as np

from zerograd import nn
from zerograd.models.positions import POSITIONS, LearnedPositions, PositionalEncoding, \
    check_length
from zerograd.ops import cat, from_numpy

__all__ = ["TransformerLM", "build_transformer_lm", "DEFAULT_TRANSFORMER_LM_SIZES"]

DEFAULT_TRANSFORMER_LM_SIZES = {"embed_size": 64, "hidden_size": 256, "num_layers": 2,
                                "num_heads": 4}


class TransformerLM(nn.Module):
    carries_state = False

    def __init__(self, vocab_size, embed_size=64, hidden_size=256, num_layers=2, num_heads=4,
                 max_len=128, positions="learned", dropout=0.1):
        super().__init__()
        if positions not in POSITIONS:
            raise ValueError(f"positions must be one of {', '.join(POSITIONS)}, got "
                             f"{positions!r}")
        if embed_size % num_heads:
            raise ValueError(f"--embed-size {embed_size} must be divisible by --num-heads "
                             f"{num_heads}")
        self.vocab_size, self.max_len, self.positions = vocab_size, max_len, positions
        self.embedding = nn.Embedding(vocab_size, embed_size)
        table = LearnedPositions if positions == "learned" else PositionalEncoding
        self.pos = table(embed_size, dropout, max_len)
        layer = nn.TransformerEncoderLayer(embed_size, num_heads, hidden_size, dropout,
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(embed_size),
                                            enable_nested_tensor=False)
        self.linear = nn.Linear(embed_size, vocab_size)
        self._masks = {}

    def causal_mask(self, steps, device="cpu"):
        """``(T, T)`` bool on ``device``, True above the diagonal (a position never sees its
        future); made once per size and device."""
        key = (steps, str(device))
        if key not in self._masks:
            mask = from_numpy(np.triu(np.ones((steps, steps), dtype=bool), 1))
            self._masks[key] = mask.to(device)
        return self._masks[key]

    def forward(self, inputs, state=None):
        new = inputs.shape[1]
        check_length(new, self.max_len)
        context = inputs if state is None else cat((state, inputs), dim=1)[:, -self.max_len:]
        steps = context.shape[1]
        h = self.blocks(self.pos(self.embedding(context)),
                        mask=self.causal_mask(steps, context.device), is_causal=True)
        logits = self.linear(h[:, steps - new:])                  # (B, new, vocab)
        return logits.transpose(0, 1).reshape(-1, self.vocab_size), context


def build_transformer_lm(vocab_size, embed_size=None, hidden_size=None, num_layers=None,
                         num_heads=None, max_len=128, positions="learned", dropout=0.1):
    sizes = dict(DEFAULT_TRANSFORMER_LM_SIZES)
    for key, value in (("embed_size", embed_size), ("hidden_size", hidden_size),
                       ("num_layers", num_layers), ("num_heads", num_heads)):
        if value is not None:
            sizes[key] = value
    return TransformerLM(vocab_size, max_len=max_len, positions=positions or "learned",
                         dropout=dropout, **sizes)
