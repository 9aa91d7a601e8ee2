"""Example 8: logistic regression for disease detection, softmax regression for images.

Part 1, breast cancer (569 tumours, 30 measurements, malignant or benign): the model
p = sigmoid(x.w + b) is trained by gradient descent on the binary cross-entropy

    L(w, b) = -mean(y log p + (1 - y) log(1 - p))

written out by hand (and checked against ``F.binary_cross_entropy_with_logits``), then
with an L2 penalty lambda ||w||^2 (shrinks every weight), an L1 penalty lambda ||w||_1
(pushes weights towards exactly zero, selecting features), and finally by the
quasi-Newton ``optim.LBFGS`` with a closure, which needs far fewer steps.

Part 2, softmax regression (one linear layer, cross-entropy on its logits): on the 8x8
digits of scikit-learn and, as in d2l, on Fashion-MNIST (a subset in quick mode).
Every run reports its test accuracy.
"""

# %%
import argparse
import os
from pathlib import Path

from matplotlib.figure import Figure  # Figure.savefig draws with Agg: no display needed

import zerograd as torch
from zerograd import nn
from zerograd.datasets import FashionMNIST, load_breast_cancer, load_digits, transforms
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
# ## Part 1: logistic regression on the breast-cancer table
#
# `load_breast_cancer()` gives standardized train/test `TensorDataset`s; `.tensors`
# holds the whole split, small enough for full-batch gradient descent.

# %%
def bce(logits, y):
    """Binary cross-entropy from the textbook's formula, on p = sigmoid(logits)."""
    p = torch.sigmoid(logits)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()


def accuracy(logits, y):
    """Share of correct predictions: one logit (binary) or one per class."""
    pred = (logits > 0).long() if logits.ndim == 1 else logits.argmax(dim=1)
    return (pred == y.long()).float().mean().item()


def train_logistic(X, y, penalty=None, lam=0.0, lr=0.5, steps=300):
    w = torch.zeros(X.shape[1], requires_grad=True)
    b = torch.zeros((), requires_grad=True)
    for _ in range(steps):
        loss = bce(X @ w + b, y)
        if penalty == "l2":
            loss = loss + lam * (w ** 2).sum()
        elif penalty == "l1":
            loss = loss + lam * w.abs().sum()  # subgradient sign(w) at w != 0
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad = b.grad = None
    return w.detach(), b.detach()


def train_lbfgs(X, y, lam=1e-3, max_iter=50):
    model = nn.Linear(X.shape[1], 1)
    optimizer = torch.optim.LBFGS(model.parameters(), lr=1, max_iter=max_iter,
                                  line_search_fn="strong_wolfe")
    loss_fn = nn.BCEWithLogitsLoss()
    evaluations = []

    def closure():  # L-BFGS calls it whenever its line search needs the loss and gradient
        evaluations.append(1)
        optimizer.zero_grad()
        loss = loss_fn(model(X).squeeze(1), y) + lam * (model.weight ** 2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)  # one call runs up to max_iter L-BFGS iterations
    return model.weight.detach().reshape(-1), model.bias.detach().reshape(()), len(evaluations)


def breast_cancer(quick):
    split = load_breast_cancer()
    X, y = split.train.tensors
    Xt, yt = split.test.tensors
    y, yt = y.float(), yt.float()
    print(f"breast cancer: {len(X)} train / {len(Xt)} test, {X.shape[1]} features, "
          f"classes {split.class_names}")
    check = abs(bce(X[:, 0], y).item() - F.binary_cross_entropy_with_logits(X[:, 0], y).item())
    print(f"hand-written BCE vs F.binary_cross_entropy_with_logits: difference {check:.1e}")

    steps = 100 if quick else 300
    runs = {"plain": train_logistic(X, y, steps=steps),
            "L2 (lambda=0.01)": train_logistic(X, y, "l2", 0.01, steps=steps),
            "L1 (lambda=0.01)": train_logistic(X, y, "l1", 0.01, steps=steps)}
    w, b, evals = train_lbfgs(X, y)
    runs["L-BFGS + L2 (1e-3)"] = (w, b)
    report = {}
    for name, (w, b) in runs.items():
        report[name] = {"train_acc": accuracy(X @ w + b, y), "test_acc": accuracy(Xt @ w + b, yt),
                        "l1_norm": w.abs().sum().item(), "l2_norm": w.norm().item(),
                        "small_weights": int((w.abs() < 0.05).sum().item()), "w": w}
        r = report[name]
        print(f"  {name:<19} train acc {r['train_acc']:.3f}  test acc {r['test_acc']:.3f}  "
              f"|w|_1 {r['l1_norm']:7.3f}  |w|_2 {r['l2_norm']:6.3f}  "
              f"weights below 0.05: {r['small_weights']:2d}/{len(w)}")
    print(f"  (L-BFGS used {evals} loss evaluations; gradient descent {steps} steps)")
    report["lbfgs_evals"] = evals
    report["bce_check"] = check
    return report


# %% [markdown]
# ## Part 2: softmax regression
#
# One `nn.Linear` layer gives a logit per class; `nn.CrossEntropyLoss` applies
# log-softmax and picks the true class's log-probability in one numerically stable op.

# %%
def train_softmax(train_set, test_set, num_inputs, epochs, lr, batch_size=256):
    net = nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, 10))
    nn.init.normal_(net[1].weight, std=0.01)
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    train_iter = data.DataLoader(train_set, batch_size, shuffle=True)
    test_iter = data.DataLoader(test_set, 1024)
    history = []
    for epoch in range(epochs):
        total, count = 0.0, 0
        for X, y in train_iter:
            l = loss(net(X), y)
            trainer.zero_grad()
            l.backward()
            trainer.step()
            total, count = total + l.item() * len(y), count + len(y)
        with torch.no_grad():
            correct = sum(accuracy(net(X), y) * len(y) for X, y in test_iter)
        history.append((total / count, correct / len(test_set)))
        print(f"  epoch {epoch + 1}: train loss {history[-1][0]:.4f}, "
              f"test acc {history[-1][1]:.3f}")
    return net, history


def digits(quick):
    train_set, test_set = load_digits()
    print(f"digits: {len(train_set)} train / {len(test_set)} test, 64 pixels, 10 classes")
    return train_softmax(train_set, test_set, 64, epochs=5 if quick else 20, lr=0.1,
                         batch_size=64)[1]


def fashion_mnist(quick):
    train_set = FashionMNIST(train=True, transform=transforms.ToTensor())
    test_set = FashionMNIST(train=False, transform=transforms.ToTensor())
    if quick:  # fixed subsets: the test's budget is seconds, not minutes
        train_set = data.Subset(train_set, range(3000))
        test_set = data.Subset(test_set, range(1000))
    print(f"Fashion-MNIST: {len(train_set)} train / {len(test_set)} test images, 28x28")
    return train_softmax(train_set, test_set, 784, epochs=2 if quick else 10, lr=0.1)[1]


# %%
def plot(report, curves, out):
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    names = [n for n in report if isinstance(report[n], dict)]
    for name in names:
        w = report[name]["w"].abs().sort(descending=True).values
        left.plot(w.numpy(), "o-", ms=3, label=name)
    left.set(xlabel="weights, largest first", ylabel="|w_j|", title="breast cancer")
    left.legend(fontsize=8)
    for name, history in curves.items():
        right.plot(range(1, len(history) + 1), [a for _, a in history], "o-", label=name)
    right.set(xlabel="epoch", ylabel="test accuracy", title="softmax regression")
    right.legend()
    path = out / "08_logistic_and_softmax_regression.png"
    fig.savefig(path, dpi=100)
    return path


# %%
def main(quick=False, out_dir=None):
    out = output_dir(out_dir)
    torch.manual_seed(0)
    report = breast_cancer(quick)
    curves = {"digits": digits(quick), "Fashion-MNIST": fashion_mnist(quick)}
    picture = plot(report, curves, out)
    print(f"wrote {picture}")
    summary = {name: {k: v for k, v in r.items() if k != "w"}
               for name, r in report.items() if isinstance(r, dict)}
    return {"breast_cancer": summary, "lbfgs_evals": report["lbfgs_evals"],
            "bce_check": report["bce_check"],
            "digits_acc": curves["digits"][-1][1],
            "fashion_mnist_acc": curves["Fashion-MNIST"][-1][1]}


# %%
if __name__ == "__main__":
    results = main(**cli_args())
