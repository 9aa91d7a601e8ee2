"""Position information for attention models, which by themselves ignore token order.

``PositionalEncoding`` is d2l's fixed sinusoidal table (11.6); ``LearnedPositions`` a
trained one (BERT's, GPT's). Both hold ``max_len`` rows and refuse a longer sequence in
one sentence rather than failing inside an index.
"""
import numpy as np

from zerograd import nn
from zerograd.ops import arange, from_numpy

__all__ = ["sinusoid_table", "PositionalEncoding", "LearnedPositions", "check_length",
           "POSITIONS"]

POSITIONS = ("learned", "sinusoidal")


def sinusoid_table(max_len, num_hiddens):
    """``P[i, 2j] = sin(i / 10000^(2j/d))``, ``P[i, 2j+1] = cos(...)`` as float32."""
    P = np.zeros((max_len, num_hiddens), dtype=np.float32)
    angles = (np.arange(max_len, dtype=np.float32)[:, None]
              / np.power(10000, np.arange(0, num_hiddens, 2, dtype=np.float32) / num_hiddens))
    P[:, 0::2] = np.sin(angles)
    P[:, 1::2] = np.cos(angles[:, :num_hiddens // 2])
    return P


def check_length(length, max_len):
    if length > max_len:
        raise ValueError(f"the sequence has {length} positions but the model's positional "
                         f"table holds {max_len}; give at most {max_len} tokens (or train with "
                         f"a larger --num-steps)")


class PositionalEncoding(nn.Module):
    """``dropout(X + P[:T])`` for ``X`` of shape ``(B, T, num_hiddens)`` (d2l 11.6)."""

    def __init__(self, num_hiddens, dropout=0.0, max_len=1000):
        super().__init__()
        self.max_len = max_len
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("P", from_numpy(sinusoid_table(max_len, num_hiddens))[None],
                             persistent=False)

    def forward(self, X):
        check_length(X.shape[1], self.max_len)
        return self.dropout(X + self.P[:, :X.shape[1], :])


class LearnedPositions(nn.Module):
    """``dropout(X + E[0..T-1])`` with ``E`` an ``nn.Embedding(max_len, num_hiddens)``."""

    def __init__(self, num_hiddens, dropout=0.0, max_len=1000):
        super().__init__()
        self.max_len = max_len
        self.dropout = nn.Dropout(dropout)
        self.embedding = nn.Embedding(max_len, num_hiddens)

    def forward(self, X):
        check_length(X.shape[1], self.max_len)
        return self.dropout(X + self.embedding(arange(X.shape[1], device=X.device))[None])
