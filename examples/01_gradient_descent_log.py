"""Example 1: gradient descent on f(x) = log(x^4 + x^3 + 2), starting at x = -9.41.

The textbook minimises f with a hand-written derivative that divides by f(x) where the
chain rule says to divide by the inner polynomial p(x) = x^4 + x^3 + 2:

    textbook:  (4x^3 + 3x^2) / f(x)        <- not the derivative of f
    correct:   (4x^3 + 3x^2) / p(x)        <- d/dx log p(x) = p'(x) / p(x)

autograd applies the chain rule itself. This example compares autograd's derivative with
both formulas at several points (it equals the correct one), then runs gradient descent
with each. Because f(x) > 0 everywhere (p(x) >= 1.89), the textbook's slope has the same
sign and the same zeros as the true one, so with lr = 0.01 both runs still stop at the
minimum x = -0.75 (the root of 4x + 3). The wrong slope is too large by the factor
p(x) / log p(x) (about 790 at the start), so it behaves like a much larger learning rate:
with lr = 0.1 it overshoots and diverges, while the true gradient still converges.
"""

# %%
import argparse
import math
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
# ## The function and three derivatives
#
# `f` is written with zerograd ops, so autograd records it; the two hand-written slopes
# are plain Python.

# %%
def f(x):
    return torch.log(x ** 4 + x ** 3 + 2)


def slope_textbook(x):
    """The textbook's formula: divides by f(x) instead of by x^4 + x^3 + 2."""
    return (4 * x ** 3 + 3 * x ** 2) / math.log(x ** 4 + x ** 3 + 2)


def slope_correct(x):
    """The chain rule: p'(x) / p(x)."""
    return (4 * x ** 3 + 3 * x ** 2) / (x ** 4 + x ** 3 + 2)


def slope_autograd(x):
    """Build f at x, run backward, read x.grad."""
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    f(xt).backward()
    return xt.grad.item()


def compare_slopes(points):
    print(f"{'x':>8} {'autograd':>12} {'correct':>12} {'textbook':>12}")
    rows = []
    for x in points:
        row = (x, slope_autograd(x), slope_correct(x), slope_textbook(x))
        rows.append(row)
        print(f"{row[0]:8.3f} {row[1]:12.6f} {row[2]:12.6f} {row[3]:12.6f}")
    return rows


# %% [markdown]
# ## Gradient descent: x <- x - lr * slope(x)
#
# One loop for any slope function; it stops when a step is smaller than `tol`.

# %%
def descend(slope, x0=-9.41, lr=0.01, tol=1e-9, max_steps=20000):
    path = [x0]
    x = x0
    for _ in range(max_steps):
        step = lr * slope(x)
        x -= step
        path.append(x)
        if abs(step) < tol or abs(x) > 1e3:  # converged, or diverged (x^4 would overflow)
            break
    return path


def descend_autograd(x0=-9.41, lr=0.01, tol=1e-9, max_steps=20000):
    """The same loop in the usual autograd style: a leaf tensor updated under no_grad."""
    x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    path = [x0]
    for _ in range(max_steps):
        loss = f(x)
        loss.backward()
        with torch.no_grad():
            step = lr * x.grad
            x -= step
        x.grad = None
        path.append(x.item())
        if abs(step.item()) < tol:
            break
    return path


# %%
def plot(paths, out):
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    xs = [-10 + 12 * i / 400 for i in range(401)]
    left.plot(xs, [math.log(x ** 4 + x ** 3 + 2) for x in xs], color="black", lw=1)
    for name, path in paths.items():
        left.plot(path, [math.log(x ** 4 + x ** 3 + 2) for x in path], ".", ms=3, label=name)
        right.plot(path, label=f"{name} ({len(path) - 1} steps)")
    left.set_xlabel("x")
    left.set_ylabel("f(x)")
    left.legend()
    right.axhline(-0.75, color="grey", ls="--", lw=1)
    right.set_xlabel("step")
    right.set_ylabel("x")
    right.legend()
    path = out / "01_gradient_descent_log.png"
    fig.savefig(path, dpi=100)
    return path


# %%
def main(quick=False, out_dir=None):
    out = output_dir(out_dir)
    print("Slopes of f(x) = log(x^4 + x^3 + 2):")
    rows = compare_slopes([-9.41, -3.0, -1.0, -0.75, -0.5, 0.5, 2.0])
    max_err = max(abs(a - c) for _, a, c, _ in rows)
    print(f"max |autograd - correct| = {max_err:.2e}")

    paths = {"autograd": descend_autograd(), "correct": descend(slope_correct),
             "textbook": descend(slope_textbook)}
    for name, path in paths.items():
        print(f"{name:>9}: x = {path[-1]:.6f} after {len(path) - 1} steps, "
              f"f(x) = {math.log(path[-1] ** 4 + path[-1] ** 3 + 2):.6f}")
    diverged = descend(slope_textbook, lr=0.1)
    converged = descend(slope_correct, lr=0.1)
    print(f"lr = 0.1: textbook slope reaches x = {diverged[-1]:.3g} after {len(diverged) - 1} "
          f"steps (diverges); correct slope x = {converged[-1]:.6f}")
    picture = plot(paths, out)
    print(f"wrote {picture}")
    return {"max_slope_error": max_err, "slopes": rows, "lr_0.1_textbook_end": diverged[-1],
            "lr_0.1_correct_end": converged[-1],
            "minimum": {k: p[-1] for k, p in paths.items()},
            "steps": {k: len(p) - 1 for k, p in paths.items()},
            "autograd_path": paths["autograd"], "correct_path": paths["correct"]}


# %%
if __name__ == "__main__":
    results = main(**cli_args())
