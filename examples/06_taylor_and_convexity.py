"""Example 6: Taylor approximations of a loss from autograd's gradient and Hessian; convexity.

Near a point w, a smooth loss is approximated by its Taylor polynomials along a step h d:

    first order :  L(w + h d) ~ L(w) + h g.d
    second order:  L(w + h d) ~ L(w) + h g.d + h^2/2 d.H d

with g the gradient and H the Hessian at w. The first-order error shrinks like h^2 and the
second-order error like h^3: halving h divides them by about 4 and 8, which the printed
table shows. g comes from backward and H from ``zerograd.autograd.functional.hessian``
(a Jacobian of the gradient, i.e. derivatives of derivatives, reverse over reverse),
cross-checked with ``zerograd.func.hessian`` (forward over reverse).

The second derivative also decides convexity: f is convex on an interval where f'' >= 0,
and a function of several variables where every Hessian eigenvalue is >= 0. x^2, e^x and
-log x (for x > 0) pass; x^3 does not (f'' = 6x < 0 for x < 0), nor does the saddle
w0^2 - w1^2.
"""

# %%
import argparse
import math
import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # Figure.savefig draws with Agg: no display needed

import zerograd as torch
from zerograd import func
from zerograd.autograd.functional import hessian


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
# ## A loss: logistic regression on four points
#
# L(w) = mean log(1 + exp(-y_i x_i.w)); it is smooth and not quadratic, so its
# second-order Taylor polynomial is not exact.

# %%
X = torch.tensor([[1.0, 2.0], [2.0, -1.0], [-1.5, 0.5], [0.5, 1.5]], dtype=torch.float64)
Y = torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=torch.float64)


def loss(w):
    return torch.log(1 + torch.exp(-Y * (X @ w))).mean()


def taylor_table(w, d, steps):
    """Rows (h, L(w + h d), first-order error, second-order error)."""
    w = w.clone().requires_grad_(True)
    value = loss(w)
    (g,) = torch.autograd.grad(value, w)
    H = hessian(loss, w.detach())
    slope, curvature = (g @ d).item(), (d @ H @ d).item()
    rows = []
    for h in steps:
        exact = loss(w.detach() + h * d).item()
        first = value.item() + h * slope
        second = first + 0.5 * h ** 2 * curvature
        rows.append((h, exact, abs(exact - first), abs(exact - second)))
    return rows, g, H


def print_table(rows):
    print(f"{'h':>10} {'error1':>12} {'ratio':>6} {'error2':>12} {'ratio':>6}")
    for k, (h, _, e1, e2) in enumerate(rows):
        r1 = f"{rows[k - 1][2] / e1:6.2f}" if k else ""
        r2 = f"{rows[k - 1][3] / e2:6.2f}" if k else ""
        print(f"{h:10.5f} {e1:12.3e} {r1:>6} {e2:12.3e} {r2:>6}")


def observed_orders(rows):
    """Slopes of log(error) against log(h), fitted over the table: about 2 and 3."""
    logh = np.log([r[0] for r in rows])
    return tuple(float(np.polyfit(logh, np.log([r[i] for r in rows]), 1)[0]) for i in (2, 3))


# %% [markdown]
# ## Convexity from second derivatives
#
# For an elementwise f, the gradient of f(x).sum() is f'(x) at every point at once, and
# differentiating that again (the graph was kept with `create_graph=True`) gives f''(x).

# %%
def second_derivative(f, x):
    x = x.clone().requires_grad_(True)
    (d1,) = torch.autograd.grad(f(x).sum(), x, create_graph=True)
    (d2,) = torch.autograd.grad(d1.sum(), x)
    return d2


FUNCTIONS = {  # name: (f, interval it is checked on)
    "x^2": (lambda x: x ** 2, (-3.0, 3.0)),
    "exp(x)": (torch.exp, (-3.0, 3.0)),
    "-log(x)": (lambda x: -torch.log(x), (0.05, 3.0)),
    "x^3": (lambda x: x ** 3, (-3.0, 3.0)),
}


def check_convexity(n):
    result = {}
    for name, (f, (lo, hi)) in FUNCTIONS.items():
        d2 = second_derivative(f, torch.linspace(lo, hi, n, dtype=torch.float64))
        result[name] = d2.min().item()
        verdict = "convex" if result[name] >= 0 else "NOT convex"
        print(f"{name:>8} on [{lo}, {hi}]: min f'' = {result[name]:9.4f} -> {verdict}")
    return result


def hessian_eigenvalues():
    cases = {"2 w0^2 + 3 w1^2": lambda w: 2 * w[0] ** 2 + 3 * w[1] ** 2,
             "w0^2 - w1^2": lambda w: w[0] ** 2 - w[1] ** 2,
             "logistic loss": loss}
    result = {}
    for name, f in cases.items():
        H = hessian(f, torch.tensor([0.5, -0.3], dtype=torch.float64))
        result[name] = np.linalg.eigvalsh(H.numpy()).tolist()
        verdict = "convex" if min(result[name]) >= 0 else "NOT convex"
        print(f"{name:>16}: Hessian eigenvalues {np.round(result[name], 4).tolist()} "
              f"-> {verdict}")
    return result


# %%
def plot(w, d, g, H, rows, out):
    fig = Figure(figsize=(10, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    hs = np.linspace(-3, 3, 121)
    base = loss(w).item()
    slope, curv = (g @ d).item(), (d @ H @ d).item()
    left.plot(hs, [loss(w + h * d).item() for h in hs], "k", label="L(w + h d)")
    left.plot(hs, base + slope * hs, "--", label="first order")
    left.plot(hs, base + slope * hs + 0.5 * curv * hs ** 2, ":", label="second order")
    left.set(xlabel="h", ylim=(0, 2 * max(base, 0.5)))
    left.legend()
    h = np.array([r[0] for r in rows])
    right.loglog(h, [r[2] for r in rows], "o-", label="first-order error")
    right.loglog(h, [r[3] for r in rows], "s-", label="second-order error")
    right.loglog(h, rows[0][2] * (h / h[0]) ** 2, "k--", lw=0.8, label="slope 2")
    right.loglog(h, rows[0][3] * (h / h[0]) ** 3, "k:", lw=0.8, label="slope 3")
    right.set(xlabel="h", ylabel="|error|")
    right.legend()
    path = out / "06_taylor_and_convexity.png"
    fig.savefig(path, dpi=100)
    return path


# %%
def main(quick=False, out_dir=None):
    out = output_dir(out_dir)
    w = torch.tensor([0.5, -0.3], dtype=torch.float64)
    d = torch.tensor([1.0, -1.0], dtype=torch.float64) / math.sqrt(2)
    steps = [0.5 / 2 ** k for k in range(6 if quick else 8)]
    rows, g, H = taylor_table(w, d, steps)
    print(f"L(w) = {loss(w).item():.6f} at w = {w.tolist()}, gradient {np.round(g.numpy(), 6)}")
    print(f"Hessian\n{np.round(H.numpy(), 6)}")
    H_fwd = func.hessian(loss)(w)  # jacfwd(jacrev(loss)): forward mode over reverse mode
    print(f"func.hessian (forward-over-reverse) differs by {(H_fwd - H).abs().max().item():.1e}")
    print_table(rows)
    order1, order2 = observed_orders(rows)
    print(f"observed orders: error1 ~ h^{order1:.2f}, error2 ~ h^{order2:.2f}")
    convex = check_convexity(50 if quick else 400)
    eig = hessian_eigenvalues()
    picture = plot(w, d, g, H, rows, out)
    print(f"wrote {picture}")
    return {"rows": rows, "order1": order1, "order2": order2, "min_second_derivative": convex,
            "hessian_eigenvalues": eig, "hessian": H.tolist(),
            "hessian_fwd_rev": H_fwd.tolist()}


# %%
if __name__ == "__main__":
    results = main(**cli_args())
