"""Example 11: a character-level RNN language model, from scratch (d2l 9.5) and concise (d2l 9.6).

The recurrent chapter of "Dive into Deep Learning" as printed, with ``import zerograd as torch``:

* 9.5 from scratch: ``get_params`` (the matrices W_xh, W_hh, W_hq and two biases),
  ``init_rnn_state``, the ``rnn`` function that loops over time steps with
  H = tanh(X W_xh + H W_hh + b_h), ``RNNModelScratch`` (one-hot inputs), ``predict_ch8``
  (warm up on a prefix, then greedy decoding), ``grad_clipping`` (rescale all gradients
  when their norm exceeds theta) and ``train_epoch_ch8`` / ``train_ch8`` (sequential
  batches, the hidden state carried over and detached between batches, SGD at lr 1).
* 9.6 concise: ``nn.RNN`` as the recurrent layer of d2l's ``RNNModel``, trained the same way.

d2l trains on H. G. Wells' *The Time Machine*, which needs a download; here the corpus is
Debian's English ``fortunes`` files (offline), cleaned as d2l cleans its book: lower-case
letters and spaces, a vocabulary of 28 characters. The numbers printed are the
perplexity per epoch (exp of the mean cross-entropy: 28 for a uniform guess) and text
generated from the prefixes 'time traveller' and 'traveller'.
"""

# %%
import argparse
import math
import os
import time
from pathlib import Path

from matplotlib.figure import Figure  # Figure.savefig draws with Agg: no display needed

import zerograd as torch
from zerograd import nn
from zerograd.nn import functional as F
from zerograd.datasets import load_data_lm


def output_dir(out_dir=None):
    """Where pictures go: ``out_dir``, $ZEROGRAD_EXAMPLES_OUT, or examples/out/ (created)."""
    out_dir = out_dir or os.environ.get("ZEROGRAD_EXAMPLES_OUT")
    if out_dir is None:  # a notebook runs from examples/notebooks/, a script from anywhere
        here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd().parent
        out_dir = here / "out"
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return Path(out_dir)


def cli_args():
    """``--quick`` and ``--out-dir``; unknown flags (a notebook kernel's own) are ignored."""
    parser = argparse.ArgumentParser(allow_abbrev=False)
    parser.add_argument("--quick", action="store_true", help="small, fast settings")
    parser.add_argument("--out-dir", default=None, help="folder for PNGs (default examples/out)")
    args, _ = parser.parse_known_args()
    quick = args.quick or os.environ.get("ZEROGRAD_EXAMPLES_QUICK") == "1"
    return {"quick": quick, "out_dir": args.out_dir}


# %% [markdown]
# ## d2l 9.5: the model from scratch
#
# The parameters are plain tensors with `requires_grad`; inputs are one-hot vectors,
# so the input and output sizes are both the vocabulary size.

# %%
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


# %% [markdown]
# ## Prediction and gradient clipping
#
# `predict_ch8` feeds the prefix through the network to warm up the hidden state, then
# appends the most likely next character `num_preds` times. `grad_clipping` projects the
# gradient onto the ball of radius θ: g ← min(1, θ/‖g‖) g, which keeps the long products
# of Jacobians through time from blowing the parameters up.

# %%
def predict_ch8(prefix, num_preds, net, vocab, device):  #@save
    """Generate new characters following the `prefix`."""
    state = net.begin_state(batch_size=1, device=device)
    outputs = [vocab[prefix[0]]]
    get_input = lambda: torch.tensor([outputs[-1]], device=device).reshape((1, 1))
    for y in prefix[1:]:  # Warm-up period
        _, state = net(get_input(), state)
        outputs.append(vocab[y])
    for _ in range(num_preds):  # Predict `num_preds` steps
        y, state = net(get_input(), state)
        outputs.append(int(y.argmax(dim=1).reshape(1)))
    return ''.join([vocab.idx_to_token[i] for i in outputs])


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


def sgd(params, lr, batch_size):  #@save
    """Minibatch stochastic gradient descent."""
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()


# %% [markdown]
# ## Training
#
# With sequential partitioning, batch *i + 1* continues the text of batch *i*, so the
# hidden state is carried over and only detached (truncated backpropagation through
# time); with random sampling it starts from zeros each time. The loss is the mean
# cross-entropy over all `num_steps × batch_size` predictions; its exponential is the
# perplexity. (d2l's `Timer`, `Accumulator` and `Animator` are replaced by two sums
# and a list.)

# %%
def train_epoch_ch8(net, train_iter, loss, updater, device, use_random_iter):
    """Train a net within one epoch (defined in Chapter 8)."""
    state, start = None, time.perf_counter()
    total_loss, total_tokens = 0.0, 0  # Sum of training loss, no. of tokens
    for X, Y in train_iter:
        if state is None or use_random_iter:
            # Initialize `state` when either it is the first iteration or
            # using random sampling
            state = net.begin_state(batch_size=X.shape[0], device=device)
        else:
            if isinstance(net, nn.Module) and not isinstance(state, tuple):
                # `state` is a tensor for `nn.GRU`
                state.detach_()
            else:
                # `state` is a tuple of tensors for `nn.LSTM` and
                # for our custom scratch implementation
                for s in state:
                    s.detach_()
        y = Y.T.reshape(-1)
        X, y = X.to(device), y.to(device)
        y_hat, state = net(X, state)
        l = loss(y_hat, y.long()).mean()
        if isinstance(updater, torch.optim.Optimizer):
            updater.zero_grad()
            l.backward()
            grad_clipping(net, 1)
            updater.step()
        else:
            l.backward()
            grad_clipping(net, 1)
            # Since the `mean` function has been invoked
            updater(batch_size=1)
        total_loss += float(l) * y.numel()
        total_tokens += y.numel()
    return math.exp(total_loss / total_tokens), total_tokens / (time.perf_counter() - start)


def train_ch8(net, train_iter, vocab, lr, num_epochs, device, use_random_iter=False,
              every=10):
    """Train a model (defined in Chapter 8); the perplexity of each epoch."""
    loss = nn.CrossEntropyLoss()
    # Initialize
    if isinstance(net, nn.Module):
        updater = torch.optim.SGD(net.parameters(), lr)
    else:
        updater = lambda batch_size: sgd(net.params, lr, batch_size)
    predict = lambda prefix: predict_ch8(prefix, 50, net, vocab, device)
    history = []
    # Train and predict
    for epoch in range(num_epochs):
        ppl, speed = train_epoch_ch8(
            net, train_iter, loss, updater, device, use_random_iter)
        history.append(ppl)
        if (epoch + 1) % every == 0:
            print(f'epoch {epoch + 1}, perplexity {ppl:.1f}: {predict("time traveller")}')
    print(f'perplexity {ppl:.1f}, {speed:.1f} tokens/sec on {str(device)}')
    print(predict('time traveller'))
    print(predict('traveller'))
    return history


# %% [markdown]
# ## d2l 9.6: the concise implementation
#
# `nn.RNN(len(vocab), num_hiddens)` holds the same four kinds of weights (stored
# transposed, as `weight_ih_l0`, `weight_hh_l0` and two biases) and runs the time loop
# itself; it takes `(num_steps, batch_size, vocab_size)` inputs and a state of shape
# `(num_layers, batch_size, num_hiddens)`. `RNNModel` adds the one-hot encoding and the
# output layer.

# %%
class RNNModel(nn.Module):  #@save
    """The RNN model."""
    def __init__(self, rnn_layer, vocab_size, **kwargs):
        super(RNNModel, self).__init__(**kwargs)
        self.rnn = rnn_layer
        self.vocab_size = vocab_size
        self.num_hiddens = self.rnn.hidden_size
        # If the RNN is bidirectional (to be introduced later),
        # `num_directions` should be 2, else it should be 1.
        if not self.rnn.bidirectional:
            self.num_directions = 1
            self.linear = nn.Linear(self.num_hiddens, self.vocab_size)
        else:
            self.num_directions = 2
            self.linear = nn.Linear(self.num_hiddens * 2, self.vocab_size)

    def forward(self, inputs, state):
        X = F.one_hot(inputs.T.long(), self.vocab_size)
        X = X.to(torch.float32)
        Y, state = self.rnn(X, state)
        # The fully connected layer will first change the shape of `Y` to
        # (`num_steps` * `batch_size`, `num_hiddens`). Its output shape is
        # (`num_steps` * `batch_size`, `vocab_size`).
        output = self.linear(Y.reshape((-1, Y.shape[-1])))
        return output, state

    def begin_state(self, device, batch_size=1):
        if not isinstance(self.rnn, nn.LSTM):
            # `nn.GRU` takes a tensor as hidden state
            return torch.zeros((self.num_directions * self.rnn.num_layers,
                                batch_size, self.num_hiddens),
                               device=device)
        else:
            # `nn.LSTM` takes a tuple of hidden states
            return (torch.zeros((
                self.num_directions * self.rnn.num_layers,
                batch_size, self.num_hiddens), device=device),
                    torch.zeros((
                        self.num_directions * self.rnn.num_layers,
                        batch_size, self.num_hiddens), device=device))


# %%
def plot(histories, out):
    fig = Figure(figsize=(5.5, 3.6), layout="constrained")
    ax = fig.subplots()
    for name, history in histories.items():
        ax.plot(range(1, len(history) + 1), history, label=name)
    ax.set(xlabel="epoch", ylabel="perplexity (training)")
    ax.legend()
    path = out / "11_rnn_scratch_and_concise.png"
    fig.savefig(path, dpi=100)
    return path


# %%
def main(quick=False, out_dir=None):
    out = output_dir(out_dir)
    torch.manual_seed(0)
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    # d2l: 170,580 characters of The Time Machine, 500 epochs; quick: 10,000 characters
    max_tokens, num_epochs, every = (10_000, 20, 10) if quick else (100_000, 40, 10)
    batch_size, num_steps, num_hiddens, lr = 32, 35, (128 if quick else 256), 1
    train_iter, vocab = load_data_lm('fortunes', batch_size, num_steps, max_tokens=max_tokens)
    print(f'{len(vocab)} tokens in the vocabulary: {"".join(vocab.idx_to_token[1:])!r}; '
          f'{len(train_iter)} batches of {batch_size} x {num_steps} per epoch')

    X = torch.arange(10).reshape((2, 5))
    print('one-hot inputs, (num_steps, batch_size, vocab_size):',
          tuple(F.one_hot(X.T, len(vocab)).shape))

    print('\n== from scratch (9.5) ==')
    net = RNNModelScratch(len(vocab), num_hiddens, device, get_params,
                          init_rnn_state, rnn)
    state = net.begin_state(X.shape[0], device)
    Y, new_state = net(X.to(device), state)
    print('outputs', tuple(Y.shape), 'state', tuple(new_state[0].shape))
    print('untrained:', predict_ch8('time traveller ', 10, net, vocab, device))
    scratch = train_ch8(net, train_iter, vocab, lr, num_epochs, device, every=every)
    scratch_sample = predict_ch8('time traveller', 50, net, vocab, device)

    print('\n== concise, nn.RNN (9.6) ==')
    rnn_layer = nn.RNN(len(vocab), num_hiddens)
    state = torch.zeros((1, batch_size, num_hiddens))
    X = torch.rand(size=(num_steps, batch_size, len(vocab)))
    Y, state_new = rnn_layer(X, state)
    print('nn.RNN: Y', tuple(Y.shape), 'state', tuple(state_new.shape))
    net = RNNModel(rnn_layer, vocab_size=len(vocab))
    net = net.to(device)
    print('untrained:', predict_ch8('time traveller', 10, net, vocab, device))
    concise = train_ch8(net, train_iter, vocab, lr, num_epochs, device, every=every)
    concise_sample = predict_ch8('time traveller', 50, net, vocab, device)

    picture = plot({"from scratch": scratch, "nn.RNN": concise}, out)
    print(f"wrote {picture}")
    return {"vocab_size": len(vocab), "perplexity": {"scratch": scratch, "concise": concise},
            "sample": {"scratch": scratch_sample, "concise": concise_sample},
            "rnn_shapes": (tuple(Y.shape), tuple(state_new.shape))}


# %%
if __name__ == "__main__":
    results = main(**cli_args())
