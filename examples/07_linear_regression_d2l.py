"""Example 7: linear regression as in d2l 3.2 (from scratch) and 3.3 (concise), unchanged.

The code of "Dive into Deep Learning" runs as printed with ``import zerograd as torch``:

* 3.2 from scratch: ``synthetic_data`` draws 1000 examples from y = X w + b + noise with
  w = [2, -3.4] and b = 4.2; ``data_iter`` shuffles them into minibatches; ``linreg``,
  ``squared_loss`` and ``sgd`` are written by hand, and autograd supplies the gradients.
* 3.3 concise: ``data.TensorDataset`` + ``data.DataLoader``, ``nn.Sequential(nn.Linear(2, 1))``,
  ``nn.MSELoss`` and ``torch.optim.SGD``.
* The d2l exercise: the same with ``nn.HuberLoss`` (quadratic near zero, linear in the
  tails, so outliers pull less).

Each recovers w and b to about 0.01, which the prints show as the estimation errors.
"""

# %%
import argparse
import os
import random
from pathlib import Path

from matplotlib.figure import Figure  # Figure.savefig draws with Agg: no display needed

import zerograd as torch
from zerograd import nn
from zerograd.datasets import synthetic_linear
from zerograd.utils import data


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
# ## d2l 3.2: linear regression from scratch
#
# The textbook's functions, verbatim apart from the import.

# %%
def synthetic_data(w, b, num_examples):  #@save
    """Generate y = Xw + b + noise."""
    X = torch.normal(0, 1, (num_examples, len(w)))
    y = torch.matmul(X, w) + b
    y += torch.normal(0, 0.01, y.shape)
    return X, y.reshape((-1, 1))


def data_iter(batch_size, features, labels):
    num_examples = len(features)
    indices = list(range(num_examples))
    # The examples are read at random, in no particular order
    random.shuffle(indices)
    for i in range(0, num_examples, batch_size):
        batch_indices = torch.tensor(
            indices[i: min(i + batch_size, num_examples)])
        yield features[batch_indices], labels[batch_indices]


def linreg(X, w, b):  #@save
    """The linear regression model."""
    return torch.matmul(X, w) + b


def squared_loss(y_hat, y):  #@save
    """Squared loss."""
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


def sgd(params, lr, batch_size):  #@save
    """Minibatch stochastic gradient descent."""
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()


# %%
def train_from_scratch(features, labels, true_w, true_b, num_epochs=3, lr=0.03, batch_size=10):
    w = torch.normal(0, 0.01, size=(2, 1), requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    net, loss = linreg, squared_loss
    history = []
    for epoch in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels):
            l = loss(net(X, w, b), y)  # Minibatch loss in `X` and `y`
            # Compute gradient on `l` with respect to [`w`, `b`]
            l.sum().backward()
            sgd([w, b], lr, batch_size)  # Update parameters using their gradient
        with torch.no_grad():
            train_l = loss(net(features, w, b), labels)
            print(f'epoch {epoch + 1}, loss {float(train_l.mean()):f}')
            history.append(float(train_l.mean()))
    print(f'error in estimating w: {true_w - w.reshape(true_w.shape)}')
    print(f'error in estimating b: {true_b - b}')
    return w.detach().reshape(-1), b.detach(), history


# %% [markdown]
# ## d2l 3.3: the concise implementation
#
# `load_array` wraps the tensors in a `TensorDataset` and a shuffling `DataLoader`;
# the model is one `nn.Linear` layer; `torch.optim.SGD` does the update.

# %%
def load_array(data_arrays, batch_size, is_train=True):  #@save
    """Construct a PyTorch data iterator."""
    dataset = data.TensorDataset(*data_arrays)
    return data.DataLoader(dataset, batch_size, shuffle=is_train)


def train_concise(features, labels, true_w, true_b, loss, num_epochs=3, lr=0.03,
                  batch_size=10):
    data_iter = load_array((features, labels), batch_size)
    net = nn.Sequential(nn.Linear(2, 1))
    net[0].weight.data.normal_(0, 0.01)
    net[0].bias.data.fill_(0)
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    history = []
    for epoch in range(num_epochs):
        for X, y in data_iter:
            l = loss(net(X), y)
            trainer.zero_grad()
            l.backward()
            trainer.step()
        l = loss(net(features), labels)
        print(f'epoch {epoch + 1}, loss {l:f}')
        history.append(l.item())
    w = net[0].weight.data
    print('error in estimating w:', true_w - w.reshape(true_w.shape))
    b = net[0].bias.data
    print('error in estimating b:', true_b - b)
    return w.reshape(-1), b, history


# %%
def plot(histories, out):
    fig = Figure(figsize=(5.5, 3.6), layout="constrained")
    ax = fig.subplots()
    for name, history in histories.items():
        ax.semilogy(range(1, len(history) + 1), history, "o-", label=name)
    ax.set(xlabel="epoch", ylabel="training loss (each run's own loss)")
    ax.legend()
    path = out / "07_linear_regression_d2l.png"
    fig.savefig(path, dpi=100)
    return path


# %%
def main(quick=False, out_dir=None):
    out = output_dir(out_dir)
    torch.manual_seed(0)
    random.seed(0)  # data_iter shuffles with Python's random, as in d2l
    true_w = torch.tensor([2, -3.4])
    true_b = 4.2
    features, labels = synthetic_data(true_w, true_b, 1000)  # small already: no quick mode
    print('features:', features[0], '\nlabel:', labels[0])

    results, histories = {}, {}
    # Huber's gradient is capped at 1 far from the fit, so its first steps are shorter
    runs = [("from scratch (3.2)", None, 3), ("concise, MSELoss (3.3)", nn.MSELoss(), 3),
            ("concise, HuberLoss", nn.HuberLoss(), 6)]
    for name, loss, num_epochs in runs:
        print(f"\n== {name} ==")
        if loss is None:
            w, b, history = train_from_scratch(features, labels, true_w, true_b, num_epochs)
        else:
            w, b, history = train_concise(features, labels, true_w, true_b, loss, num_epochs)
        results[name] = {"w": w.tolist(), "b": b.item(), "loss": history[-1]}
        histories[name] = history

    torch.manual_seed(0)
    same = synthetic_linear(true_w, true_b, len(features))
    identical = bool((same[0] == features).all() and (same[1] == labels).all())
    print(f"\nzerograd.datasets.synthetic_linear draws the same data: {identical}")
    picture = plot(histories, out)
    print(f"wrote {picture}")
    return {"runs": results, "synthetic_linear_identical": identical}


# %%
if __name__ == "__main__":
    results = main(**cli_args())
