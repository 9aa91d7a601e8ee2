"""Example 4: the "cat brain": least squares by gradient descent and by the pseudo-inverse.

In "Math and Architectures of Deep Learning" a cat decides how threatening an object is
from two features, hardness x0 and sharpness x1 (both in [0, 1]), with a linear model

    threat = w0 x0 + w1 x1 + b        (threat in [-1, 1]: -1 ignore, +1 run away)

Given training examples (X, y), the best weights minimise ||X w + b - y||^2. With more
examples than unknowns the system X w = y is overdetermined; its least-squares solution
is w = pinv(A) y, where A = [X 1] has a column of ones for the bias. Gradient descent on
the mean squared error, with autograd doing the derivatives, converges to the same
(w0, w1, b). The 15 examples below are made up in the spirit of the book's table: the
"true" rule is roughly threat = x0 + x1 - 1, plus a little noise.
"""

# %%
import argparse
import os
from pathlib import Path

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
# ## Training data: (hardness, sharpness) -> threat score

# %%
TABLE = [  # hardness, sharpness, threat
    [0.63, 0.90, 0.47], [0.78, 0.23, -0.01], [0.30, 0.87, 0.13], [0.01, 0.82, -0.20],
    [0.80, 0.47, 0.31], [0.30, 0.28, -0.45], [0.25, 0.45, -0.30], [0.50, 0.55, 0.09],
    [1.00, 0.79, 0.77], [0.62, 0.99, 0.61], [0.22, 0.16, -0.62], [0.61, 0.04, -0.35],
    [0.04, 0.51, -0.50], [0.47, 0.92, 0.39], [0.63, 0.51, 0.19],
]


def training_data():
    data = torch.tensor(TABLE, dtype=torch.float64)
    return data[:, :2], data[:, 2]


# %% [markdown]
# ## Solution 1: the pseudo-inverse
#
# Append a column of ones so the bias is one more weight, then w = pinv(A) y.

# %%
def solve_pinv(X, y):
    A = torch.cat([X, torch.ones(X.shape[0], 1, dtype=X.dtype)], dim=1)
    return torch.linalg.pinv(A) @ y  # (w0, w1, b)


# %% [markdown]
# ## Solution 2: gradient descent on the mean squared error

# %%
def solve_gradient_descent(X, y, lr=0.5, steps=1000):
    w = torch.zeros(2, dtype=X.dtype, requires_grad=True)
    b = torch.zeros((), dtype=X.dtype, requires_grad=True)
    losses = []
    for _ in range(steps):
        loss = ((X @ w + b - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad = b.grad = None
        losses.append(loss.item())
    return torch.cat([w.detach(), b.detach().reshape(1)]), losses


# %%
def plot(X, y, params, losses, out):
    fig = Figure(figsize=(9, 3.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    w0, w1, b = params.tolist()
    dots = left.scatter(X[:, 0].numpy(), X[:, 1].numpy(), c=y.numpy(), cmap="coolwarm",
                        vmin=-1, vmax=1, edgecolors="k")
    fig.colorbar(dots, ax=left, label="threat")
    xs = torch.linspace(0, 1, 2, dtype=torch.float64)
    left.plot(xs.numpy(), ((-b - w0 * xs) / w1).numpy(), "k--", label="threat = 0")
    left.set(xlim=(0, 1), ylim=(0, 1), xlabel="hardness $x_0$", ylabel="sharpness $x_1$")
    left.legend(loc="lower left")
    right.semilogy(losses)
    right.set(xlabel="step", ylabel="MSE", title="gradient descent")
    path = out / "04_cat_brain_least_squares.png"
    fig.savefig(path, dpi=100)
    return path


# %%
def main(quick=False, out_dir=None):
    out = output_dir(out_dir)
    X, y = training_data()
    exact = solve_pinv(X, y)
    fitted, losses = solve_gradient_descent(X, y, steps=400 if quick else 1000)
    print(f"{len(TABLE)} examples, unknowns (w0, w1, b)")
    print(f"pseudo-inverse  : w0 = {exact[0]:.4f}, w1 = {exact[1]:.4f}, b = {exact[2]:.4f}")
    print(f"gradient descent: w0 = {fitted[0]:.4f}, w1 = {fitted[1]:.4f}, b = {fitted[2]:.4f}")
    gap = (exact - fitted).abs().max().item()
    print(f"max difference {gap:.2e}; final MSE {losses[-1]:.5f}")
    new = torch.tensor([[0.9, 0.9], [0.1, 0.1]], dtype=torch.float64)
    threat = new @ exact[:2] + exact[2]
    for (h, s), t in zip(new.tolist(), threat.tolist()):
        print(f"hardness {h}, sharpness {s}: threat {t:+.3f}")
    picture = plot(X, y, exact, losses, out)
    print(f"wrote {picture}")
    return {"pinv": exact.tolist(), "gradient_descent": fitted.tolist(), "gap": gap,
            "mse": losses[-1], "new_threat": threat.tolist()}


# %%
if __name__ == "__main__":
    results = main(**cli_args())
