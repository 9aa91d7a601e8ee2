"""Example 3: fitting y = 1.5x + 2.73 by gradient descent, by hand and with autograd.

Part 1 trains the linear model y_hat = w x + b on noisy samples of y = 1.5x + 2.73 with
the mean squared error L = mean((w x + b - y)^2), whose gradient the textbook writes in
closed form:

    dL/dw = 2 mean((w x + b - y) x),    dL/db = 2 mean(w x + b - y)

The same loop with ``loss.backward()`` in place of those two lines follows the same
trajectory step by step (to float64 rounding).

Part 2 fits data from the nonlinear y = x^2 - x + 2. A quadratic model
w2 x^2 + w1 x + w0 recovers (1, -1, 2); the linear model cannot bend, and its loss stays
high: the best line still misses by the variance of x^2 that no line can explain.
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
# ## Part 1: the linear model, closed-form gradient vs autograd

# %%
def linear_data(n=100, noise=0.1):
    torch.manual_seed(0)
    x = torch.linspace(-5, 5, n, dtype=torch.float64)
    y = 1.5 * x + 2.73 + noise * torch.randn(n, dtype=torch.float64)
    return x, y


def fit_closed_form(x, y, lr=0.05, steps=200):
    """Gradient descent with the textbook's hand-derived gradient (no autograd)."""
    w, b = 0.0, 0.0
    trajectory = [(w, b)]
    for _ in range(steps):
        err = w * x + b - y
        dw = (2 * err * x).mean().item()
        db = (2 * err).mean().item()
        w, b = w - lr * dw, b - lr * db
        trajectory.append((w, b))
    return trajectory


def fit_autograd(x, y, lr=0.05, steps=200):
    """The same loop; the gradient comes from backward()."""
    w = torch.zeros((), dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    trajectory = [(0.0, 0.0)]
    for _ in range(steps):
        loss = ((w * x + b - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad = b.grad = None
        trajectory.append((w.item(), b.item()))
    return trajectory


# %% [markdown]
# ## Part 2: data from y = x^2 - x + 2, quadratic model vs linear model
#
# One autograd loop trains any polynomial model: `coef[k]` multiplies `x**k`.

# %%
def quadratic_data(n=100, noise=0.1):
    torch.manual_seed(1)
    x = torch.linspace(-2, 2, n, dtype=torch.float64)
    y = x ** 2 - x + 2 + noise * torch.randn(n, dtype=torch.float64)
    return x, y


def fit_polynomial(x, y, degree, lr=0.05, steps=2000):
    coef = torch.zeros(degree + 1, dtype=torch.float64, requires_grad=True)
    features = torch.stack([x ** k for k in range(degree + 1)], dim=1)  # (n, degree + 1)
    losses = []
    for _ in range(steps):
        loss = ((features @ coef - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            coef -= lr * coef.grad
        coef.grad = None
        losses.append(loss.item())
    return coef.detach(), losses


# %%
def plot(x, y, fits, out):
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.plot(x.numpy(), y.numpy(), ".", ms=3, color="grey", label="data")
    for name, (coef, losses) in fits.items():
        pred = sum(c * x ** k for k, c in enumerate(coef.tolist()))
        left.plot(x.numpy(), pred.numpy(), label=name)
        right.semilogy(losses, label=name)
    left.set_xlabel("x")
    left.legend()
    right.set_xlabel("step")
    right.set_ylabel("MSE")
    right.legend()
    path = out / "03_linear_and_quadratic_fit.png"
    fig.savefig(path, dpi=100)
    return path


# %%
def main(quick=False, out_dir=None):
    out = output_dir(out_dir)
    x, y = linear_data()
    steps = 60 if quick else 200
    hand = fit_closed_form(x, y, steps=steps)
    auto = fit_autograd(x, y, steps=steps)
    gap = max(abs(h - a) for th, ta in zip(hand, auto) for h, a in zip(th, ta))
    w, b = auto[-1]
    print(f"linear fit of y = 1.5x + 2.73 after {steps} steps: w = {w:.4f}, b = {b:.4f}")
    print(f"closed-form vs autograd trajectories: max difference {gap:.2e}")

    xq, yq = quadratic_data()
    qsteps = 500 if quick else 2000
    fits = {"quadratic model": fit_polynomial(xq, yq, 2, steps=qsteps),
            "linear model": fit_polynomial(xq, yq, 1, steps=qsteps)}
    for name, (coef, losses) in fits.items():
        print(f"{name:>15} on y = x^2 - x + 2: coefficients (x^0, x^1, ...) = "
              f"{[round(c, 3) for c in coef.tolist()]}, final MSE {losses[-1]:.4f}")
    picture = plot(xq, yq, fits, out)
    print(f"wrote {picture}")
    return {"linear_w": w, "linear_b": b, "trajectory_gap": gap,
            "quadratic_coef": fits["quadratic model"][0].tolist(),
            "quadratic_loss": fits["quadratic model"][1][-1],
            "linear_on_quadratic_loss": fits["linear model"][1][-1]}


# %%
if __name__ == "__main__":
    results = main(**cli_args())
