"""One-step recurrent cells: ``RNNCell``, ``GRUCell``, ``LSTMCell``, as torch's.

A cell maps one input (B, input_size) (or unbatched (input_size,)) and the state to the next
state; its parameters have torch's names, shapes and init (U(-1/sqrt(hidden_size),
1/sqrt(hidden_size))). Each runs torch's cell function of ``zerograd.ops.recurrent``: one
GEMM for the input, one fused op for the step.
"""
import math

from zerograd.nn import init
from zerograd.nn.modules.module import Module
from zerograd.nn.parameter import Parameter
from zerograd.ops import recurrent
from zerograd.ops.creation import empty, zeros

__all__ = ["RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


class RNNCellBase(Module):
    """Parameters of a cell: weight_ih (G*hidden, input), weight_hh (G*hidden, hidden),
    bias_ih and bias_hh (G*hidden,), all U(-1/sqrt(hidden), 1/sqrt(hidden))."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gates = num_chunks * hidden_size
        self.weight_ih = Parameter(empty((gates, input_size), dtype=dtype, device=device))
        self.weight_hh = Parameter(empty((gates, hidden_size), dtype=dtype, device=device))
        if bias:
            self.bias_ih = Parameter(empty(gates, dtype=dtype, device=device))
            self.bias_hh = Parameter(empty(gates, dtype=dtype, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _batched(self, input, hx, name, what="hidden"):
        """torch's dim checks; the input as a batch, and whether it was one."""
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        for label, h in hx:
            if h is not None and h.dim() not in (1, 2):
                raise ValueError(f"{name}: Expected {what if label is None else f'hx[{label}]'} "
                                 f"to be 1D or 2D, got {h.dim()}D instead")
        batched = input.dim() == 2
        return (input if batched else input.unsqueeze(0)), batched

    def _zeros(self, input):
        return zeros(input.size(0), self.hidden_size, dtype=input.dtype, device=input.device)

    def _one_state(self, input, hx, name, cell):
        input, batched = self._batched(input, [(None, hx)], name)
        if hx is None:
            hx = self._zeros(input)
        elif not batched:
            hx = hx.unsqueeze(0)
        out = cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return out if batched else out.squeeze(0)


class RNNCell(RNNCellBase):
    """One step of an Elman RNN: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or relu)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device,
                         dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        if self.nonlinearity == "tanh":
            cell = recurrent.rnn_tanh_cell
        elif self.nonlinearity == "relu":
            cell = recurrent.rnn_relu_cell
        else:
            self._batched(input, [(None, hx)], "RNNCell")
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        return self._one_state(input, hx, "RNNCell", cell)


class GRUCell(RNNCellBase):
    """One GRU step: the next hidden state."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device,
                         dtype=dtype)

    def forward(self, input, hx=None):
        return self._one_state(input, hx, "GRUCell", recurrent.gru_cell)


class LSTMCell(RNNCellBase):
    """One LSTM step: ``(h, c) -> (h', c')``."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device,
                         dtype=dtype)

    def forward(self, input, hx=None):
        input, batched = self._batched(input, list(enumerate(hx or ())), "LSTMCell")
        if hx is None:
            zero = self._zeros(input)
            hx = (zero, zero)
        elif not batched:
            hx = (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        h, c = recurrent.lstm_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih,
                                   self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))
