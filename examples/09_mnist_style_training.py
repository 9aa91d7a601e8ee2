"""Example 9: the MNIST-style training loops, step by step, on Fashion-MNIST.

The textbook's progression ("What is torch.nn really?"), with ``import zerograd as torch``:

1. From scratch: weights from ``torch.randn``, a hand-written ``log_softmax`` and negative
   log-likelihood, minibatches by slicing, and the update written out under
   ``torch.no_grad()`` (so the update itself is not recorded), then ``grad.zero_()``.
2. The same model as an ``nn.Module``, trained by ``torch.optim.Adam`` with a
   ``DataLoader``: the loop shrinks to zero_grad / backward / step.
3. A multilayer perceptron (784 -> 256 -> 10 with ReLU).
4. A small convolutional network (two conv + max-pool stages, then a linear layer).

Fashion-MNIST has the shape of MNIST (28x28 grey images, 10 classes: T-shirts, trousers,
...), and is harder. Quick mode trains on a small subset for one epoch.
"""

# %%
import argparse
import math
import os
from pathlib import Path

from matplotlib.figure import Figure  # Figure.savefig draws with Agg: no display needed

import zerograd as torch
from zerograd import nn
from zerograd.datasets import FashionMNIST
from zerograd.nn import functional as F
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
# ## The data as plain tensors
#
# `FashionMNIST(...).data` is a uint8 N x 28 x 28 tensor; flattened and scaled to [0, 1]
# it is what the from-scratch model eats.

# %%
def load(n_train=None, n_test=None):
    train, test = FashionMNIST(train=True), FashionMNIST(train=False)
    x_train = train.data[:n_train].reshape(-1, 784).float() / 255
    x_test = test.data[:n_test].reshape(-1, 784).float() / 255
    return x_train, train.targets[:n_train], x_test, test.targets[:n_test], train.classes


def accuracy(out, yb):
    preds = torch.argmax(out, dim=1)
    return (preds == yb).float().mean()


# %% [markdown]
# ## 1. From scratch: manual SGD under no_grad

# %%
def log_softmax(x):
    return x - x.exp().sum(-1).log().unsqueeze(-1)


def nll(input, target):
    return -input[range(target.shape[0]), target].mean()


def train_from_scratch(x_train, y_train, epochs=1, bs=64, lr=0.1):
    # The tutorial's lr = 0.5 suits MNIST; on Fashion-MNIST it overshoots back and forth
    # (test accuracy 0.67 after 2 epochs, against 0.80 with lr = 0.1).
    weights = torch.randn(784, 10) / math.sqrt(784)  # Xavier initialisation
    weights.requires_grad_()
    bias = torch.zeros(10, requires_grad=True)

    def model(xb):
        return log_softmax(xb @ weights + bias)

    n = x_train.shape[0]
    for epoch in range(epochs):
        for i in range((n - 1) // bs + 1):
            start_i = i * bs
            end_i = start_i + bs
            xb = x_train[start_i:end_i]
            yb = y_train[start_i:end_i]
            pred = model(xb)
            loss = nll(pred, yb)

            loss.backward()
            with torch.no_grad():
                weights -= weights.grad * lr
                bias -= bias.grad * lr
                weights.grad.zero_()
                bias.grad.zero_()
    return model


# %% [markdown]
# ## 2-4. nn.Module models trained by Adam with a DataLoader
#
# `F.cross_entropy` is log_softmax + nll in one op. One `fit` loop trains every model.

# %%
class Mnist_Logistic(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(784, 10)

    def forward(self, xb):
        return self.lin(xb)


def mlp():
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


class Mnist_CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 8x14x14
            nn.Conv2d(8, 16, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 16x7x7
        )
        self.classifier = nn.Linear(16 * 7 * 7, 10)

    def forward(self, xb):
        xb = xb.view(-1, 1, 28, 28)
        return self.classifier(self.features(xb).flatten(1))


def fit(model, train_dl, epochs, lr=1e-3):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for epoch in range(epochs):
        model.train()
        for xb, yb in train_dl:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses


def evaluate(model, x, y):
    with torch.no_grad():
        return accuracy(model(x), y).item()


# %%
def plot(curves, out):
    fig = Figure(figsize=(6, 3.8), layout="constrained")
    ax = fig.subplots()
    for name, losses in curves.items():
        k = max(1, len(losses) // 50)  # smooth: mean over windows of k steps
        smooth = [sum(losses[i:i + k]) / len(losses[i:i + k]) for i in range(0, len(losses), k)]
        ax.plot([i * k for i in range(len(smooth))], smooth, label=name)
    ax.set(xlabel="step", ylabel="training loss", title="Fashion-MNIST, Adam")
    ax.legend()
    path = out / "09_mnist_style_training.png"
    fig.savefig(path, dpi=100)
    return path


# %%
def main(quick=False, out_dir=None):
    out = output_dir(out_dir)
    torch.manual_seed(0)
    n_train, n_test = (2000, 500) if quick else (None, None)
    x_train, y_train, x_test, y_test, classes = load(n_train, n_test)
    print(f"Fashion-MNIST: {len(x_train)} train / {len(x_test)} test images, classes "
          f"{', '.join(classes[:4])}, ...")
    epochs = 1 if quick else 2
    results = {}

    model = train_from_scratch(x_train, y_train, epochs=epochs)
    results["from scratch, SGD"] = evaluate(model, x_test, y_test)
    print(f"1. from scratch (manual SGD): test accuracy {results['from scratch, SGD']:.3f}")

    train_dl = data.DataLoader(data.TensorDataset(x_train, y_train), batch_size=64,
                               shuffle=True)
    curves = {}
    for name, make, lr in (("logistic, Adam", Mnist_Logistic, 1e-3), ("MLP, Adam", mlp, 1e-3),
                           ("CNN, Adam", Mnist_CNN, 3e-3)):
        model = make()
        curves[name] = fit(model, train_dl, epochs, lr)
        model.eval()
        results[name] = evaluate(model, x_test, y_test)
        n_params = sum(p.numel() for p in model.parameters())
        print(f"{len(results)}. {name:<15} ({n_params:6d} parameters): "
              f"test accuracy {results[name]:.3f}")
    picture = plot(curves, out)
    print(f"wrote {picture}")
    return {"accuracy": results, "final_loss": {k: v[-1] for k, v in curves.items()}}


# %%
if __name__ == "__main__":
    results = main(**cli_args())
