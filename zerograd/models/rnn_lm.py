"""Character/word language models (d2l 9.6, 10.1, 10.2): embedding -> RNN/GRU/LSTM -> linear.

Shapes follow d2l's ``RNNModel``: inputs are token indices ``(batch_size, num_steps)``;
they are transposed to time-major, so the recurrent layer sees ``(num_steps, batch_size,
embed_size)``, and the output is ``(num_steps * batch_size, vocab_size)`` logits, the
rows ordered time step by time step, to compare with ``Y.T.reshape(-1)``. The state is
the recurrent layer's (a tensor, or ``(h, c)`` for an LSTM), from ``begin_state``.
"""
from zerograd import nn
from zerograd.ops.creation import zeros

__all__ = ["RNNLanguageModel", "LM_CELLS", "build_lm", "DEFAULT_LM_SIZES"]

LM_CELLS = {"rnn-lm": nn.RNN, "gru-lm": nn.GRU, "lstm-lm": nn.LSTM}
DEFAULT_LM_SIZES = {"embed_size": 64, "hidden_size": 256, "num_layers": 1}


class RNNLanguageModel(nn.Module):
    """``Embedding(vocab, embed) -> rnn(embed, hidden, num_layers) -> Linear(hidden, vocab)``.

    ``forward(inputs, state)`` returns ``(logits, state)`` as d2l's ``RNNModel``.
    """

    def __init__(self, cell, vocab_size, embed_size=64, hidden_size=256, num_layers=1,
                 dropout=0.0):
        super().__init__()
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = cell(embed_size, hidden_size, num_layers,
                        dropout=dropout if num_layers > 1 else 0.0)
        self.num_hiddens = hidden_size
        self.linear = nn.Linear(hidden_size, vocab_size)

    def forward(self, inputs, state=None):
        x = self.embedding(inputs.T)                       # (T, B, embed)
        y, state = self.rnn(x, state)                      # (T, B, hidden)
        return self.linear(y.reshape(-1, y.shape[-1])), state

    def begin_state(self, batch_size=1, device=None):
        shape = (self.rnn.num_layers, batch_size, self.num_hiddens)
        h = zeros(shape, device=device)
        return (h, zeros(shape, device=device)) if isinstance(self.rnn, nn.LSTM) else h


def build_lm(name, vocab_size, embed_size=None, hidden_size=None, num_layers=None):
    sizes = dict(DEFAULT_LM_SIZES)
    for key, value in (("embed_size", embed_size), ("hidden_size", hidden_size),
                       ("num_layers", num_layers)):
        if value is not None:
            sizes[key] = value
    return RNNLanguageModel(LM_CELLS[name], vocab_size, **sizes)


def detach_state(state):
    """Cut the graph at a batch boundary (truncated BPTT across sequential batches)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()
