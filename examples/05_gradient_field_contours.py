"""Example 5: gradient fields and level sets of L(w0, w1) = 2 w0^2 + 3 w1^2 and sqrt(w0^2 + w1^2).

The gradient of L = 2 w0^2 + 3 w1^2 is (4 w0, 6 w1): at (3, 4) it is (12, 24). It is
perpendicular to the level set (an ellipse) through that point and points to where L
grows fastest, so steepest descent walks against it, ending at the minimum (0, 0).
For the cone sqrt(w0^2 + w1^2) the level sets are circles and the gradient w / |w| has
length 1 everywhere (except at the tip, where it is undefined).

autograd computes every gradient here; the pictures are the arrows of the gradient field
on the contour lines, and the steepest-descent path on a contour plot.
"""

# %%
import argparse
import os
from pathlib import Path

from matplotlib.figure import Figure  # Figure.savefig draws with Agg: no display needed

import zerograd as torch
from zerograd.func import grad
from zerograd.viz import plot_descent_path


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
# ## The two losses, written once for a vector w and once for two grids
#
# `zerograd.func.grad(loss)` is a new function that returns the gradient.

# %%
def bowl(w0, w1):
    return 2 * w0 ** 2 + 3 * w1 ** 2


def cone(w0, w1):
    return torch.sqrt(w0 ** 2 + w1 ** 2)


def gradient(loss, point):
    """The gradient of ``loss(w0, w1)`` at ``point`` by reverse-mode autograd."""
    w = torch.tensor(point, dtype=torch.float64)
    return grad(lambda v: loss(v[0], v[1]))(w)


# %% [markdown]
# ## The gradient is perpendicular to the level set
#
# The ellipse 2 w0^2 + 3 w1^2 = c has tangent direction (-6 w1, 4 w0) at (w0, w1) (rotate
# the normal by 90 degrees); its dot product with the gradient is zero.

# %%
def check_point(point=(3.0, 4.0)):
    g = gradient(bowl, point)
    w0, w1 = point
    tangent = torch.tensor([-6 * w1, 4 * w0], dtype=torch.float64)
    print(f"L = 2 w0^2 + 3 w1^2 at {point}: L = {bowl(w0, w1)}, gradient = {g.tolist()}")
    print(f"  gradient . tangent of the level set = {(g @ tangent).item()}")
    c = gradient(cone, point)
    print(f"sqrt(w0^2 + w1^2) at {point}: gradient = ({c[0]:.4f}, {c[1]:.4f}), "
          f"length {c.norm().item():.6f}")
    return g, c


# %% [markdown]
# ## Steepest descent: w <- w - lr * grad L(w)

# %%
def steepest_descent(loss, start=(3.0, 4.0), lr=0.1, steps=30):
    w = torch.tensor(start, dtype=torch.float64)
    g = grad(lambda v: loss(v[0], v[1]))
    path = [tuple(w.tolist())]
    for _ in range(steps):
        w = w - lr * g(w)
        path.append(tuple(w.tolist()))
    return path


# %%
def grid(lo, hi, n):
    """Two (n, n) grids of w0 and w1 values, like numpy.meshgrid(indexing="xy")."""
    side = torch.linspace(lo, hi, n, dtype=torch.float64)
    return side.reshape(1, n).expand(n, n), side.reshape(n, 1).expand(n, n)


def gradient_field(loss, w0, w1):
    """The gradient at every grid point in one backward pass.

    ``loss`` acts elementwise, so point (i, j) only affects entry (i, j): the gradient of
    the sum with respect to the grids is the grid of gradients.
    """
    w0 = w0.clone().requires_grad_(True)
    w1 = w1.clone().requires_grad_(True)
    return torch.autograd.grad(loss(w0, w1).sum(), (w0, w1))


def plot_fields(out, n=15):
    """Contours of both losses with the gradient field as arrows."""
    fig = Figure(figsize=(10, 4.4), layout="constrained")
    axes = fig.subplots(1, 2)
    gx, gy = grid(-5, 5, 201)
    cx, cy = grid(-4.5, 4.5, n + 1)  # an even count keeps the cone's tip off the grid
    for ax, loss, name in zip(axes, (bowl, cone),
                              ("$2w_0^2 + 3w_1^2$", "$\\sqrt{w_0^2 + w_1^2}$")):
        ax.contour(gx.numpy(), gy.numpy(), loss(gx, gy).numpy(), levels=12, cmap="viridis")
        u, v = gradient_field(loss, cx, cy)
        length = (u ** 2 + v ** 2).sqrt()  # draw directions only: the bowl's grow with |w|
        ax.quiver(cx.numpy(), cy.numpy(), (u / length).numpy(), (v / length).numpy(),
                  color="#d62728", width=0.004)
        ax.set(title=f"level sets and gradients of {name}", xlabel="$w_0$",
               ylabel="$w_1$", aspect="equal")
    path = out / "05_gradient_fields.png"
    fig.savefig(path, dpi=100)
    return path


def plot_path(path_points, out):
    """The descent path on the bowl's contours, drawn by ``zerograd.viz.plot_descent_path``."""
    target = out / "05_steepest_descent.png"
    fig = plot_descent_path(bowl, path_points, xlim=(-5, 5), ylim=(-5, 5),
                            title="steepest descent on $2w_0^2 + 3w_1^2$ from (3, 4)")
    fig.axes[0].set_aspect("equal")  # so right angles to the level sets look right
    fig.savefig(target, dpi=100)
    return target


# %%
def main(quick=False, out_dir=None):
    out = output_dir(out_dir)
    g, c = check_point()
    path = steepest_descent(bowl, steps=15 if quick else 30)
    print("steepest descent from (3, 4), lr = 0.1:")
    for k in (0, 1, 2, len(path) - 1):
        w0, w1 = path[k]
        print(f"  step {k:2d}: w = ({w0:.5f}, {w1:.5f}), L = {bowl(w0, w1):.6f}")
    pictures = [plot_fields(out, n=9 if quick else 15), plot_path(path, out)]
    for p in pictures:
        print(f"wrote {p}")
    return {"bowl_grad": g.tolist(), "cone_grad": c.tolist(), "path": path,
            "pictures": [str(p) for p in pictures]}


# %%
if __name__ == "__main__":
    results = main(**cli_args())
