"""Beyond chapter 8: d2l's RNN from scratch (9.5), attention scoring, multi-head attention and
positional encoding (11.3-11.6) and the optimization chapter's contour grid (12), verbatim on
zerograd and torch, values and gradients compared from the same parameters."""
import math

import numpy as np
import pytest

from tests.d2l._harness import compare, run_both

pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")


def rnn_scratch(torch, nn, F, data):  # 9.5 (8.5 in d2l 0.17)
    r = {}
    vocab_size, num_hiddens, device = 28, 16, torch.device('cpu')
    r["one_hot"] = F.one_hot(torch.tensor([0, 2]), vocab_size)
    X = torch.arange(10).reshape((2, 5))
    r["one_hot T"] = F.one_hot(X.T, 28).shape

    def get_params(vocab_size, num_hiddens, device):
        num_inputs = num_outputs = vocab_size

        def normal(shape):
            return torch.randn(size=shape, device=device) * 0.01

        # Hidden layer parameters
        W_xh = normal((num_inputs, num_hiddens))
        W_hh = normal((num_hiddens, num_hiddens))
        b_h = torch.zeros(num_hiddens, device=device)
        # Output layer parameters
        W_hq = normal((num_hiddens, num_outputs))
        b_q = torch.zeros(num_outputs, device=device)
        # Attach gradients
        params = [W_xh, W_hh, b_h, W_hq, b_q]
        for param in params:
            param.requires_grad_(True)
        return params

    def init_rnn_state(batch_size, num_hiddens, device):
        return (torch.zeros((batch_size, num_hiddens), device=device), )

    def rnn(inputs, state, params):
        # Here `inputs` shape: (`num_steps`, `batch_size`, `vocab_size`)
        W_xh, W_hh, b_h, W_hq, b_q = params
        H, = state
        outputs = []
        # Shape of `X`: (`batch_size`, `vocab_size`)
        for X in inputs:
            H = torch.tanh(torch.mm(X, W_xh) + torch.mm(H, W_hh) + b_h)
            Y = torch.mm(H, W_hq) + b_q
            outputs.append(Y)
        return torch.cat(outputs, dim=0), (H,)

    class RNNModelScratch:  #@save
        """A RNN Model implemented from scratch."""
        def __init__(self, vocab_size, num_hiddens, device,
                     get_params, init_state, forward_fn):
            self.vocab_size, self.num_hiddens = vocab_size, num_hiddens
            self.params = get_params(vocab_size, num_hiddens, device)
            self.init_state, self.forward_fn = init_state, forward_fn

        def __call__(self, X, state):
            X = F.one_hot(X.T, self.vocab_size).type(torch.float32)
            return self.forward_fn(X, state, self.params)

        def begin_state(self, batch_size, device):
            return self.init_state(batch_size, self.num_hiddens, device)

    def grad_clipping(net, theta):  #@save
        """Clip the gradient."""
        if isinstance(net, nn.Module):
            params = [p for p in net.parameters() if p.requires_grad]
        else:
            params = net.params
        norm = torch.sqrt(sum(torch.sum((p.grad ** 2)) for p in params))
        if norm > theta:
            for param in params:
                param.grad[:] *= theta / norm

    def sgd(params, lr, batch_size):
        with torch.no_grad():
            for param in params:
                param -= lr * param.grad / batch_size
                param.grad.zero_()

    net = RNNModelScratch(vocab_size, num_hiddens, device, get_params,
                          init_rnn_state, rnn)
    rng = np.random.default_rng(0)  # same starting weights in both frameworks
    with torch.no_grad():
        for p in net.params:
            p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32)))
    state = net.begin_state(X.shape[0], device)
    Y, new_state = net(X, state)
    r["forward"] = Y.shape, len(new_state), new_state[0].shape
    loss = nn.CrossEntropyLoss()
    tokens = torch.tensor(rng.integers(0, vocab_size, (4, 12)))
    state = None
    for X, Y in ((tokens[:, :6], tokens[:, 1:7]), (tokens[:, 6:11], tokens[:, 7:12])):
        if state is None:
            state = net.begin_state(batch_size=X.shape[0], device=device)
        else:
            for s in state:
                s.detach_()
        y = Y.T.reshape(-1)
        X, y = X.to(device), y.to(device)
        y_hat, state = net(X, state)
        l = loss(y_hat, y.long()).mean()
        l.backward()
        grad_clipping(net, 1)
        r.setdefault("grads", []).append([p.grad.clone() for p in net.params])
        sgd(net.params, 1, batch_size=1)
        r.setdefault("losses", []).append(l)
    r["params"] = [p.detach() for p in net.params]
    return r


def test_rnn_scratch():
    z, t = run_both(rnn_scratch)
    compare(z, t, rtol=1e-4, atol=1e-5)
    clipped = sum(float((g ** 2).sum()) for g in z["grads"][0])
    assert clipped <= 1 + 1e-5


def attention(torch, nn, F, data):  # 11.3, 11.5, 11.6
    r = {}

    def masked_softmax(X, valid_lens):  #@save
        """Perform softmax operation by masking elements on the last axis."""
        # X: 3D tensor, valid_lens: 1D or 2D tensor
        def _sequence_mask(X, valid_len, value=0):
            maxlen = X.size(1)
            mask = torch.arange((maxlen), dtype=torch.float32,
                                device=X.device)[None, :] < valid_len[:, None]
            X[~mask] = value
            return X

        if valid_lens is None:
            return nn.functional.softmax(X, dim=-1)
        else:
            shape = X.shape
            if valid_lens.dim() == 1:
                valid_lens = torch.repeat_interleave(valid_lens, shape[1])
            else:
                valid_lens = valid_lens.reshape(-1)
            # On the last axis, replace masked elements with a very large negative
            # value, whose exponentiation outputs 0
            X = _sequence_mask(X.reshape(-1, shape[-1]), valid_lens, value=-1e6)
            return nn.functional.softmax(X.reshape(shape), dim=-1)

    rng = np.random.default_rng(0)

    def fixed(*shape):  # the book draws torch.rand / torch.normal; fixed values compare
        return torch.tensor(rng.standard_normal(shape).astype(np.float32))

    scores = fixed(2, 2, 4).requires_grad_(True)
    weights = masked_softmax(scores * 1, torch.tensor([2, 3]))
    (weights * fixed(2, 2, 4)).sum().backward()
    r["masked 1d"], r["masked grad"] = weights, scores.grad
    r["masked 2d"] = masked_softmax(fixed(2, 2, 4), torch.tensor([[1, 3], [2, 4]]))

    class DotProductAttention(nn.Module):  #@save
        """Scaled dot product attention."""
        def __init__(self, dropout):
            super().__init__()
            self.dropout = nn.Dropout(dropout)

        # Shape of queries: (batch_size, no. of queries, d)
        # Shape of keys: (batch_size, no. of key-value pairs, d)
        # Shape of values: (batch_size, no. of key-value pairs, value dimension)
        # Shape of valid_lens: (batch_size,) or (batch_size, no. of queries)
        def forward(self, queries, keys, values, valid_lens=None):
            d = queries.shape[-1]
            # Swap the last two dimensions of keys with keys.transpose(1, 2)
            scores = torch.bmm(queries, keys.transpose(1, 2)) / math.sqrt(d)
            self.attention_weights = masked_softmax(scores, valid_lens)
            return torch.bmm(self.dropout(self.attention_weights), values)

    queries, keys, values = fixed(2, 1, 2), fixed(2, 10, 2), fixed(2, 10, 4)
    valid_lens = torch.tensor([2, 6])
    attention = DotProductAttention(dropout=0.5)
    attention.eval()
    r["dot"] = attention(queries, keys, values, valid_lens)

    class AdditiveAttention(nn.Module):  #@save
        """Additive attention."""
        def __init__(self, num_hiddens, dropout, **kwargs):
            super(AdditiveAttention, self).__init__(**kwargs)
            self.W_k = nn.LazyLinear(num_hiddens, bias=False)
            self.W_q = nn.LazyLinear(num_hiddens, bias=False)
            self.w_v = nn.LazyLinear(1, bias=False)
            self.dropout = nn.Dropout(dropout)

        def forward(self, queries, keys, values, valid_lens):
            queries, keys = self.W_q(queries), self.W_k(keys)
            # After dimension expansion, shape of queries: (batch_size, no. of
            # queries, 1, num_hiddens) and shape of keys: (batch_size, 1, no. of
            # key-value pairs, num_hiddens). Sum them up with broadcasting
            features = queries.unsqueeze(2) + keys.unsqueeze(1)
            features = torch.tanh(features)
            # There is only one output of self.w_v, so we remove the last
            # one-dimensional entry from the shape. Shape of scores: (batch_size,
            # no. of queries, no. of key-value pairs)
            scores = self.w_v(features).squeeze(-1)
            self.attention_weights = masked_softmax(scores, valid_lens)
            # Shape of values: (batch_size, no. of key-value pairs, value
            # dimension)
            return torch.bmm(self.dropout(self.attention_weights), values)

    attention = AdditiveAttention(num_hiddens=8, dropout=0.1)
    attention.eval()
    r["additive"] = attention(fixed(2, 1, 20), keys, values, valid_lens).shape
    r["additive weights"] = (attention.attention_weights[:, :, 6:] == 0).all()

    class MultiHeadAttention(nn.Module):  #@save
        """Multi-head attention."""
        def __init__(self, num_hiddens, num_heads, dropout, bias=False, **kwargs):
            super().__init__()
            self.num_heads = num_heads
            self.attention = DotProductAttention(dropout)
            self.W_q = nn.LazyLinear(num_hiddens, bias=bias)
            self.W_k = nn.LazyLinear(num_hiddens, bias=bias)
            self.W_v = nn.LazyLinear(num_hiddens, bias=bias)
            self.W_o = nn.LazyLinear(num_hiddens, bias=bias)

        def forward(self, queries, keys, values, valid_lens):
            queries = self.transpose_qkv(self.W_q(queries))
            keys = self.transpose_qkv(self.W_k(keys))
            values = self.transpose_qkv(self.W_v(values))
            if valid_lens is not None:
                # On axis 0, copy the first item (scalar or vector) for num_heads
                # times, then copy the next item, and so on
                valid_lens = torch.repeat_interleave(
                    valid_lens, repeats=self.num_heads, dim=0)
            output = self.attention(queries, keys, values, valid_lens)
            output_concat = self.transpose_output(output)
            return self.W_o(output_concat)

        def transpose_qkv(self, X):
            """Transposition for parallel computation of multiple attention heads."""
            X = X.reshape(X.shape[0], X.shape[1], self.num_heads, -1)
            X = X.permute(0, 2, 1, 3)
            return X.reshape(-1, X.shape[2], X.shape[3])

        def transpose_output(self, X):
            """Reverse the operation of transpose_qkv."""
            X = X.reshape(-1, self.num_heads, X.shape[1], X.shape[2])
            X = X.permute(0, 2, 1, 3)
            return X.reshape(X.shape[0], X.shape[1], -1)

    num_hiddens, num_heads = 100, 5
    attention = MultiHeadAttention(num_hiddens, num_heads, 0.5)
    batch_size, num_queries, num_kvpairs = 2, 4, 6
    valid_lens = torch.tensor([3, 2])
    X = torch.ones((batch_size, num_queries, num_hiddens))
    Y = torch.ones((batch_size, num_kvpairs, num_hiddens))
    r["multihead"] = attention(X, Y, Y, valid_lens).shape

    class PositionalEncoding(nn.Module):  #@save
        """Positional encoding."""
        def __init__(self, num_hiddens, dropout, max_len=1000):
            super().__init__()
            self.dropout = nn.Dropout(dropout)
            # Create a long enough P
            self.P = torch.zeros((1, max_len, num_hiddens))
            X = torch.arange(max_len, dtype=torch.float32).reshape(
                -1, 1) / torch.pow(10000, torch.arange(
                0, num_hiddens, 2, dtype=torch.float32) / num_hiddens)
            self.P[:, :, 0::2] = torch.sin(X)
            self.P[:, :, 1::2] = torch.cos(X)

        def forward(self, X):
            X = X + self.P[:, :X.shape[1], :].to(X.device)
            return self.dropout(X)

    encoding_dim, num_steps = 32, 60
    pos_encoding = PositionalEncoding(encoding_dim, 0)
    X = pos_encoding(torch.zeros((1, num_steps, encoding_dim)))
    P = pos_encoding.P[:, :X.shape[1], :]
    r["positional"] = X, P[0, :, 6:10].T
    return r


def test_attention():
    z, t = run_both(attention)
    compare(z, t, rtol=1e-4, atol=1e-5)


def optimization_grid(torch, nn, F, data):  # 12.3 (11.3 in d2l 0.17), show_trace_2d's grid
    def f_2d(x1, x2):  # Objective function
        return 0.1 * x1 ** 2 + 2 * x2 ** 2

    x1, x2 = torch.meshgrid(torch.arange(-5.5, 1.0, 0.1),
                            torch.arange(-3.0, 1.0, 0.1), indexing='ij')
    return {"grid": (x1, x2), "f": f_2d(x1, x2)}


def test_optimization_grid():
    z, t = run_both(optimization_grid)
    compare(z, t)
