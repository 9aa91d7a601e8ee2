"""Example 12: GRU and LSTM from scratch (d2l 10.1/10.2) against ``nn.GRU`` and ``nn.LSTM``.

The gated recurrent units of "Dive into Deep Learning", with ``import zerograd as torch``:

* from scratch: ``get_gru_params`` / ``gru`` (update gate Z, reset gate R, candidate
  state H~) and ``get_lstm_params`` / ``lstm`` (input, forget and output gates, memory
  cell C), run by the ``RNNModelScratch`` of d2l 9.5;
* concise: ``nn.GRU`` and ``nn.LSTM`` inside d2l's ``RNNModel``.

The scratch weights are then copied into the modules (torch stores them transposed and
stacked, gates in the order r, z, n for the GRU and i, f, g, o for the LSTM), and both
models are run on the same batch: outputs, final states and every gradient agree to
float32 rounding. One detail: d2l's GRU resets the state *before* the matrix product,
tanh(X W_xh + (R ⊙ H) W_hh + b_h), while PyTorch (as cuDNN) resets *after* it,
tanh(X W_xh + R ⊙ (H W_hh) + b_h): the printout shows that d2l's form differs from
``nn.GRU`` and the after-form matches it. Finally each pair is trained for a few epochs
from the same weights on the same batches (Debian's English ``fortunes``, cleaned as
d2l's time machine): the two perplexity curves coincide.
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
# ## d2l 10.1: the GRU from scratch
#
# Z = σ(X W_xz + H W_hz + b_z), R = σ(X W_xr + H W_hr + b_r),
# H~ = tanh(X W_xh + (R ⊙ H) W_hh + b_h), H = Z ⊙ H + (1 − Z) ⊙ H~.
# `gru_after` is the same with the reset applied after the product, R ⊙ (H W_hh): the
# form `nn.GRU` computes.

# %%
def get_gru_params(vocab_size, num_hiddens, device):
    num_inputs = num_outputs = vocab_size

    def normal(shape):
        return torch.randn(size=shape, device=device)*0.01

    def three():
        return (normal((num_inputs, num_hiddens)),
                normal((num_hiddens, num_hiddens)),
                torch.zeros(num_hiddens, device=device))

    W_xz, W_hz, b_z = three()  # Update gate parameters
    W_xr, W_hr, b_r = three()  # Reset gate parameters
    W_xh, W_hh, b_h = three()  # Candidate hidden state parameters
    # Output layer parameters
    W_hq = normal((num_hiddens, num_outputs))
    b_q = torch.zeros(num_outputs, device=device)
    # Attach gradients
    params = [W_xz, W_hz, b_z, W_xr, W_hr, b_r, W_xh, W_hh, b_h, W_hq, b_q]
    for param in params:
        param.requires_grad_(True)
    return params


def init_gru_state(batch_size, num_hiddens, device):
    return (torch.zeros((batch_size, num_hiddens), device=device), )


def gru(inputs, state, params):
    W_xz, W_hz, b_z, W_xr, W_hr, b_r, W_xh, W_hh, b_h, W_hq, b_q = params
    H, = state
    outputs = []
    for X in inputs:
        Z = torch.sigmoid((X @ W_xz) + (H @ W_hz) + b_z)
        R = torch.sigmoid((X @ W_xr) + (H @ W_hr) + b_r)
        H_tilda = torch.tanh((X @ W_xh) + ((R * H) @ W_hh) + b_h)
        H = Z * H + (1 - Z) * H_tilda
        Y = H @ W_hq + b_q
        outputs.append(Y)
    return torch.cat(outputs, dim=0), (H,)


def gru_after(inputs, state, params):
    """d2l's `gru` with PyTorch's reset: R ⊙ (H W_hh) instead of (R ⊙ H) W_hh."""
    W_xz, W_hz, b_z, W_xr, W_hr, b_r, W_xh, W_hh, b_h, W_hq, b_q = params
    H, = state
    outputs = []
    for X in inputs:
        Z = torch.sigmoid((X @ W_xz) + (H @ W_hz) + b_z)
        R = torch.sigmoid((X @ W_xr) + (H @ W_hr) + b_r)
        H_tilda = torch.tanh((X @ W_xh) + R * (H @ W_hh) + b_h)
        H = Z * H + (1 - Z) * H_tilda
        Y = H @ W_hq + b_q
        outputs.append(Y)
    return torch.cat(outputs, dim=0), (H,)


# %% [markdown]
# ## d2l 10.2: the LSTM from scratch
#
# I, F, O = σ(X W_x· + H W_h· + b_·), C~ = tanh(X W_xc + H W_hc + b_c),
# C = F ⊙ C + I ⊙ C~, H = O ⊙ tanh(C). (Inside `lstm`, `F` is the forget gate, as in the
# book; it hides `nn.functional` only there.)

# %%
def get_lstm_params(vocab_size, num_hiddens, device):
    num_inputs = num_outputs = vocab_size

    def normal(shape):
        return torch.randn(size=shape, device=device)*0.01

    def three():
        return (normal((num_inputs, num_hiddens)),
                normal((num_hiddens, num_hiddens)),
                torch.zeros(num_hiddens, device=device))

    W_xi, W_hi, b_i = three()  # Input gate parameters
    W_xf, W_hf, b_f = three()  # Forget gate parameters
    W_xo, W_ho, b_o = three()  # Output gate parameters
    W_xc, W_hc, b_c = three()  # Candidate memory cell parameters
    # Output layer parameters
    W_hq = normal((num_hiddens, num_outputs))
    b_q = torch.zeros(num_outputs, device=device)
    # Attach gradients
    params = [W_xi, W_hi, b_i, W_xf, W_hf, b_f, W_xo, W_ho, b_o, W_xc, W_hc,
              b_c, W_hq, b_q]
    for param in params:
        param.requires_grad_(True)
    return params


def init_lstm_state(batch_size, num_hiddens, device):
    return (torch.zeros((batch_size, num_hiddens), device=device),
            torch.zeros((batch_size, num_hiddens), device=device))


def lstm(inputs, state, params):
    [W_xi, W_hi, b_i, W_xf, W_hf, b_f, W_xo, W_ho, b_o, W_xc, W_hc, b_c,
     W_hq, b_q] = params
    (H, C) = state
    outputs = []
    for X in inputs:
        I = torch.sigmoid((X @ W_xi) + (H @ W_hi) + b_i)
        F = torch.sigmoid((X @ W_xf) + (H @ W_hf) + b_f)
        O = torch.sigmoid((X @ W_xo) + (H @ W_ho) + b_o)
        C_tilda = torch.tanh((X @ W_xc) + (H @ W_hc) + b_c)
        C = F * C + I * C_tilda
        H = O * torch.tanh(C)
        Y = (H @ W_hq) + b_q
        outputs.append(Y)
    return torch.cat(outputs, dim=0), (H, C)


# %% [markdown]
# ## The models of d2l 9.5 and 9.6
#
# `RNNModelScratch` one-hot encodes the indices and calls the scratch function;
# `RNNModel` wraps a recurrent layer and a linear output layer.

# %%
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


class RNNModel(nn.Module):  #@save
    """The RNN model."""
    def __init__(self, rnn_layer, vocab_size, **kwargs):
        super(RNNModel, self).__init__(**kwargs)
        self.rnn = rnn_layer
        self.vocab_size = vocab_size
        self.num_hiddens = self.rnn.hidden_size
        self.num_directions = 2 if self.rnn.bidirectional else 1
        self.linear = nn.Linear(self.num_hiddens * self.num_directions, self.vocab_size)

    def forward(self, inputs, state):
        X = F.one_hot(inputs.T.long(), self.vocab_size)
        X = X.to(torch.float32)
        Y, state = self.rnn(X, state)
        output = self.linear(Y.reshape((-1, Y.shape[-1])))
        return output, state

    def begin_state(self, device, batch_size=1):
        shape = (self.num_directions * self.rnn.num_layers, batch_size, self.num_hiddens)
        if not isinstance(self.rnn, nn.LSTM):
            return torch.zeros(shape, device=device)  # `nn.GRU` takes a tensor
        return (torch.zeros(shape, device=device),  # `nn.LSTM` a tuple (H, C)
                torch.zeros(shape, device=device))


# %% [markdown]
# ## The same weights in the module
#
# `nn.GRU` keeps one `(3 * num_hiddens, vocab_size)` matrix `weight_ih_l0` whose row
# blocks are the transposed W_xr, W_xz, W_xh (gates r, z, n), the same for `weight_hh_l0`,
# and two bias vectors where the scratch model has one. The scratch bias goes into
# `bias_ih`; `bias_hh` is set to zero and frozen (`requires_grad_(False)`: d2l's
# `grad_clipping` and the optimizer then leave it out), so the module has exactly the
# scratch model's parameters: a trained `bias_hh` would be a second copy of each bias
# (and for the GRU candidate, one inside the reset product). `nn.LSTM`'s blocks are
# i, f, g (the candidate cell), o.

# %%
def copy_gru(params, net):
    W_xz, W_hz, b_z, W_xr, W_hr, b_r, W_xh, W_hh, b_h, W_hq, b_q = params
    with torch.no_grad():
        net.rnn.weight_ih_l0.copy_(torch.cat([W_xr, W_xz, W_xh], dim=1).T)
        net.rnn.weight_hh_l0.copy_(torch.cat([W_hr, W_hz, W_hh], dim=1).T)
        net.rnn.bias_ih_l0.copy_(torch.cat([b_r, b_z, b_h]))
        net.rnn.bias_hh_l0.zero_()
    net.rnn.bias_hh_l0.requires_grad_(False)
    with torch.no_grad():
        net.linear.weight.copy_(W_hq.T)
        net.linear.bias.copy_(b_q)


def copy_lstm(params, net):
    [W_xi, W_hi, b_i, W_xf, W_hf, b_f, W_xo, W_ho, b_o, W_xc, W_hc, b_c,
     W_hq, b_q] = params
    with torch.no_grad():
        net.rnn.weight_ih_l0.copy_(torch.cat([W_xi, W_xf, W_xc, W_xo], dim=1).T)
        net.rnn.weight_hh_l0.copy_(torch.cat([W_hi, W_hf, W_hc, W_ho], dim=1).T)
        net.rnn.bias_ih_l0.copy_(torch.cat([b_i, b_f, b_c, b_o]))
        net.rnn.bias_hh_l0.zero_()
    net.rnn.bias_hh_l0.requires_grad_(False)
    with torch.no_grad():
        net.linear.weight.copy_(W_hq.T)
        net.linear.bias.copy_(b_q)


def rel_diff(a, b):
    """max |a - b| relative to max |b|: float32 rounding gives about 1e-7."""
    return float((a - b).abs().max() / b.abs().max())


def compare(scratch, net, X, Y, order):
    """Run both models on the batch (X, Y); the largest relative differences of outputs,
    final states and gradients (scratch gradients stacked as the module stores them)."""
    loss = nn.CrossEntropyLoss()
    out_s, state_s = scratch(X, scratch.begin_state(X.shape[0], None))
    out_m, state_m = net(X, net.begin_state(None, X.shape[0]))
    state_m = state_m if isinstance(state_m, tuple) else (state_m,)
    loss(out_s, Y.T.reshape(-1)).backward()
    loss(out_m, Y.T.reshape(-1)).backward()
    g = [p.grad for p in scratch.params]
    gates = len(order)
    W_x = torch.cat([g[3 * k] for k in order], dim=1).T
    W_h = torch.cat([g[3 * k + 1] for k in order], dim=1).T
    b = torch.cat([g[3 * k + 2] for k in order])
    diffs = {
        "outputs": rel_diff(out_s, out_m),
        "final state": max(rel_diff(s, m[0]) for s, m in zip(state_s, state_m)),
        "grad weight_ih": rel_diff(W_x, net.rnn.weight_ih_l0.grad),
        "grad weight_hh": rel_diff(W_h, net.rnn.weight_hh_l0.grad),
        "grad bias_ih": rel_diff(b, net.rnn.bias_ih_l0.grad),
        "grad linear": max(rel_diff(g[3 * gates], net.linear.weight.grad.T),
                           rel_diff(g[3 * gates + 1], net.linear.bias.grad)),
    }
    for p in scratch.params + list(net.parameters()):
        p.grad = None
    return diffs, out_m


def d2l_gru_vs_module(X, vocab_size, num_hiddens):
    """Relative output differences of d2l's `gru` and of `gru_after` against `nn.GRU`,
    with the module's default weights (U(-1/sqrt(h), 1/sqrt(h)), bias_hh zeroed) taken
    into the scratch list: the inverse of `copy_gru`."""
    net = RNNModel(nn.GRU(vocab_size, num_hiddens), vocab_size)
    net.rnn.bias_hh_l0.data.zero_()
    W_xr, W_xz, W_xh = net.rnn.weight_ih_l0.detach().T.chunk(3, dim=1)
    W_hr, W_hz, W_hh = net.rnn.weight_hh_l0.detach().T.chunk(3, dim=1)
    b_r, b_z, b_h = net.rnn.bias_ih_l0.detach().chunk(3)
    params = [W_xz, W_hz, b_z, W_xr, W_hr, b_r, W_xh, W_hh, b_h,
              net.linear.weight.detach().T, net.linear.bias.detach()]
    out_net, _ = net(X, net.begin_state(None, X.shape[0]))
    diffs = []
    for forward_fn in (gru, gru_after):
        scratch = RNNModelScratch(vocab_size, num_hiddens, None, get_gru_params,
                                  init_gru_state, forward_fn)
        scratch.params = params
        out, _ = scratch(X, scratch.begin_state(X.shape[0], None))
        diffs.append(rel_diff(out, out_net))
    return diffs


# %% [markdown]
# ## Training: d2l's loop, shortened
#
# `grad_clipping`, `sgd` and `train_epoch_ch8` as in example 11. Both models of a pair
# start from the same weights and, with the seed reset, see the same batches.

# %%
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


def train_epoch_ch8(net, train_iter, loss, updater, device, use_random_iter):
    """Train a net within one epoch; (perplexity, tokens per second)."""
    state, start = None, time.perf_counter()
    total_loss, total_tokens = 0.0, 0
    for X, Y in train_iter:
        if state is None or use_random_iter:
            state = net.begin_state(batch_size=X.shape[0], device=device)
        else:
            if isinstance(net, nn.Module) and not isinstance(state, tuple):
                state.detach_()
            else:
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
            updater(batch_size=1)
        total_loss += float(l) * y.numel()
        total_tokens += y.numel()
    return math.exp(total_loss / total_tokens), total_tokens / (time.perf_counter() - start)


def train(net, train_iter, lr, num_epochs, device, seed):
    torch.manual_seed(seed)  # the same random offsets, so the same batches, for each model
    loss = nn.CrossEntropyLoss()
    if isinstance(net, nn.Module):
        updater = torch.optim.SGD(net.parameters(), lr)
    else:
        updater = lambda batch_size: sgd(net.params, lr, batch_size)
    history = []
    for epoch in range(num_epochs):
        ppl, speed = train_epoch_ch8(net, train_iter, loss, updater, device, False)
        history.append(ppl)
    return history, speed


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


# %%
def plot(histories, out):
    fig = Figure(figsize=(5.5, 3.6), layout="constrained")
    ax = fig.subplots()
    for (name, history), style in zip(histories.items(), ["-", "o", "-", "o"]):
        ax.plot(range(1, len(history) + 1), history, style, label=name, fillstyle="none")
    ax.set(xlabel="epoch", ylabel="perplexity (training)")
    ax.legend()
    path = out / "12_gru_lstm_scratch_vs_module.png"
    fig.savefig(path, dpi=100)
    return path


# %%
def main(quick=False, out_dir=None):
    out = output_dir(out_dir)
    torch.manual_seed(0)
    device = torch.device('cpu')
    max_tokens, num_epochs, num_hiddens = (6_000, 4, 32) if quick else (50_000, 15, 128)
    batch_size, num_steps, lr = 32, 35, 1 if quick else 2
    train_iter, vocab = load_data_lm('fortunes', batch_size, num_steps, max_tokens=max_tokens)
    vocab_size = len(vocab)
    X, Y = next(iter(train_iter))
    print(f'{vocab_size} tokens, {len(train_iter)} batches of {batch_size} x {num_steps}, '
          f'{num_hiddens} hidden units')

    results = {"diffs": {}, "diffs_trained": {}, "d2l_gru_vs_module": {},
               "perplexity": {}, "sample": {}, "oracle": {}}
    models = [("GRU", get_gru_params, init_gru_state, gru_after, nn.GRU, copy_gru, (1, 0, 2)),
              ("LSTM", get_lstm_params, init_lstm_state, lstm, nn.LSTM, copy_lstm,
               (0, 1, 3, 2))]
    histories = {}
    for name, get_params, init_state, forward_fn, layer, copy, order in models:
        print(f'\n== {name}: scratch vs nn.{name} with the same weights ==')
        scratch = RNNModelScratch(vocab_size, num_hiddens, device, get_params,
                                  init_state, forward_fn)
        net = RNNModel(layer(vocab_size, num_hiddens), vocab_size)
        copy(scratch.params, net)
        diffs, _ = compare(scratch, net, X, Y, order)
        results["diffs"][name] = diffs
        print('relative differences at initialization: ' +
              ', '.join(f'{what} {d:.1e}' for what, d in diffs.items()))

        print(f'training {num_epochs} epochs from the same weights on the same batches, '
              f'lr {lr}:')
        for label, model in (("scratch", scratch), (f"nn.{name}", net)):
            history, speed = train(model, train_iter, lr, num_epochs, device, seed=1)
            histories[f"{name} {label}"] = history
            results["perplexity"][f"{name} {label}"] = history
            print(f'  {label:9s} perplexity ' + ' '.join(f'{p:.3f}' for p in history) +
                  f'  ({speed:.0f} tokens/sec)')
        results["sample"][name] = predict_ch8('time traveller', 30, net, vocab, device)
        print(f'  nn.{name}: {results["sample"][name]!r}')

        # the trained scratch weights (no longer tiny) in a fresh module
        net = RNNModel(layer(vocab_size, num_hiddens), vocab_size)
        copy(scratch.params, net)
        diffs, out_m = compare(scratch, net, X, Y, order)
        results["diffs_trained"][name] = diffs
        print('relative differences after training:     ' +
              ', '.join(f'{what} {d:.1e}' for what, d in diffs.items()))
        if name == "GRU":  # the book's reset, before the product: not nn.GRU's
            results["d2l_gru_vs_module"] = d2l_gru_vs_module(X, vocab_size, num_hiddens)
            print("d2l's gru, (R * H) @ W_hh, against nn.GRU with nn.GRU's own init: "
                  "outputs differ by {:.1e}, the after-form gru by {:.1e} (relative)".format(
                      *results["d2l_gru_vs_module"]))
        results["oracle"][name] = {
            "X": X.numpy(), "outputs": out_m.detach().numpy(),
            "state_dict": {k: v.detach().numpy() for k, v in net.state_dict().items()}}

    picture = plot(histories, out)
    print(f"\nwrote {picture}")
    return results


# %%
if __name__ == "__main__":
    results = main(**cli_args())
