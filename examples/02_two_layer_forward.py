"""Example 2: a two-layer network (784 -> 200 -> 10) in NumPy and in zerograd, same weights.

The textbook writes the forward pass of a small classifier for 28x28 images in NumPy:

    a1 = x @ W1 + b1;  z1 = sigmoid(a1);  a2 = z1 @ W2 + b2;  y = softmax(a2)

and derives the backward pass by hand. Here the same weights go into zerograd tensors:
the outputs agree to rounding, and so do the gradients of the cross-entropy loss, which
zerograd gets from one ``loss.backward()`` instead of hand-written backprop. The inputs
are random "images" with the shape of MNIST; only the arithmetic matters here.
"""

# %%
import argparse
import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # Figure.savefig draws with Agg: no display needed

import zerograd as torch


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
# ## The NumPy network, forward and hand-written backward

# %%
def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(a):
    a = a - a.max(axis=1, keepdims=True)  # exp of large logits would overflow
    e = np.exp(a)
    return e / e.sum(axis=1, keepdims=True)


def init_params(input_size=784, hidden_size=200, output_size=10, weight_init_std=0.01, seed=0):
    rng = np.random.default_rng(seed)
    return {"W1": weight_init_std * rng.standard_normal((input_size, hidden_size)),
            "b1": np.zeros(hidden_size),
            "W2": weight_init_std * rng.standard_normal((hidden_size, output_size)),
            "b2": np.zeros(output_size)}


def predict_numpy(p, x):
    a1 = x @ p["W1"] + p["b1"]
    z1 = sigmoid(a1)
    a2 = z1 @ p["W2"] + p["b2"]
    return softmax(a2)


def gradient_numpy(p, x, t):
    """Backprop by hand for the mean cross-entropy of softmax outputs and one-hot ``t``."""
    a1 = x @ p["W1"] + p["b1"]
    z1 = sigmoid(a1)
    y = softmax(z1 @ p["W2"] + p["b2"])
    dy = (y - t) / x.shape[0]             # softmax + cross-entropy: the famous y - t
    da1 = (dy @ p["W2"].T) * z1 * (1 - z1)  # sigmoid'(a) = sigmoid(a) (1 - sigmoid(a))
    return {"W1": x.T @ da1, "b1": da1.sum(axis=0), "W2": z1.T @ dy, "b2": dy.sum(axis=0)}


# %% [markdown]
# ## The same network in zerograd
#
# The code reads the same; `torch.tensor(array, requires_grad=True)` makes each weight a
# leaf of the graph, and backward fills `.grad`.

# %%
def predict_zerograd(p, x):
    a1 = x @ p["W1"] + p["b1"]
    z1 = torch.sigmoid(a1)
    a2 = z1 @ p["W2"] + p["b2"]
    return torch.softmax(a2, dim=1)


def gradient_zerograd(p, x, t):
    y = predict_zerograd(p, x)
    loss = -(t * torch.log(y)).sum() / x.shape[0]
    loss.backward()
    return loss, {k: v.grad for k, v in p.items()}


# %%
def plot(y_np, y_zg, out):
    fig = Figure(figsize=(6, 3.2), layout="constrained")
    ax = fig.subplots()
    classes = np.arange(y_np.shape[1])
    ax.bar(classes - 0.2, y_np[0], width=0.4, label="NumPy")
    ax.bar(classes + 0.2, y_zg[0], width=0.4, label="zerograd")
    ax.set_xticks(classes)
    ax.set_xlabel("class")
    ax.set_ylabel("softmax output, image 0")
    ax.legend()
    path = out / "02_two_layer_forward.png"
    fig.savefig(path, dpi=100)
    return path


# %%
def main(quick=False, out_dir=None):
    out = output_dir(out_dir)
    batch = 8 if quick else 100
    rng = np.random.default_rng(1)
    x_np = rng.uniform(0, 1, (batch, 784))  # fake 28x28 images, flattened
    t_np = np.eye(10)[rng.integers(0, 10, batch)]

    params_np = init_params()
    params_zg = {k: torch.tensor(v, requires_grad=True) for k, v in params_np.items()}
    x_zg, t_zg = torch.tensor(x_np), torch.tensor(t_np)

    y_np = predict_numpy(params_np, x_np)
    y_zg = predict_zerograd(params_zg, x_zg).detach().numpy()
    forward_diff = float(np.abs(y_np - y_zg).max())
    print(f"input {x_np.shape} -> hidden 200 -> output {y_np.shape}")
    print(f"first image, NumPy   : {np.round(y_np[0], 4)}")
    print(f"first image, zerograd: {np.round(y_zg[0], 4)}")
    print(f"max |NumPy - zerograd| forward: {forward_diff:.2e}")

    grads_np = gradient_numpy(params_np, x_np, t_np)
    loss, grads_zg = gradient_zerograd(params_zg, x_zg, t_zg)
    grad_diff = {k: float(np.abs(grads_np[k] - grads_zg[k].numpy()).max()) for k in grads_np}
    print(f"cross-entropy loss {loss.item():.6f} (log 10 = {np.log(10):.6f} for tiny weights)")
    for k, d in grad_diff.items():
        print(f"  grad {k:>2} {tuple(grads_np[k].shape)!s:>11}: max |hand - autograd| = {d:.2e}")
    picture = plot(y_np, y_zg, out)
    print(f"wrote {picture}")
    return {"forward_max_diff": forward_diff, "grad_max_diff": grad_diff,
            "output_shape": y_zg.shape, "loss": loss.item(), "row_sums": y_zg.sum(axis=1)}


# %%
if __name__ == "__main__":
    results = main(**cli_args())
