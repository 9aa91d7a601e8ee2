"""Example 10: forward and reverse accumulation on one graph, step by step.

The function f(x1, x2) = ln(x1) + x1 x2 - sin(x2) at (x1, x2) = (2, 5) is the running
example of Baydin et al., "Automatic Differentiation in Machine Learning: a Survey". Its
evaluation trace names every intermediate value (v-1 = x1, v0 = x2, v1 ... v5 = y).

* Forward accumulation carries a tangent vdot = dv/dx1 beside each value, in the same
  order as the values are computed. One pass gives the derivative along one input
  direction; the full gradient of f: R^2 -> R needs two passes.
* Reverse accumulation first runs the trace, then walks it backwards carrying adjoints
  vbar = dy/dv. One backward pass gives dy/dx1 and dy/dx2 together; this is what
  ``backward()`` does.

Both traces are printed, the graph zerograd records is drawn (``zerograd.viz.draw_graph``:
a .dot file, and a PNG when Graphviz's ``dot`` is installed), and the numbers are checked
against zerograd's autograd, intermediate adjoints included, and its forward mode.
"""

# %%
import argparse
import math
import os
from pathlib import Path

import zerograd as torch
from zerograd.autograd import forward_ad


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
# ## The evaluation trace
#
# Each elementary op has its value, its local partial derivatives, and how to print
# them. `TRACE` is the graph: (output, op, inputs) in evaluation order.

# %%
OPS = {  # name: (value, local partials, formula)
    "ln": (lambda a: math.log(a), lambda a: (1 / a,), "ln {0}"),
    "mul": (lambda a, b: a * b, lambda a, b: (b, a), "{0} * {1}"),
    "sin": (lambda a: math.sin(a), lambda a: (math.cos(a),), "sin {0}"),
    "add": (lambda a, b: a + b, lambda a, b: (1.0, 1.0), "{0} + {1}"),
    "sub": (lambda a, b: a - b, lambda a, b: (1.0, -1.0), "{0} - {1}"),
}

TRACE = [
    ("v1", "ln", ("v-1",)),
    ("v2", "mul", ("v-1", "v0")),
    ("v3", "sin", ("v0",)),
    ("v4", "add", ("v1", "v2")),
    ("v5", "sub", ("v4", "v3")),
]


def primal_trace(x1, x2, show=True):
    v = {"v-1": x1, "v0": x2}
    if show:
        print(f"  v-1 = x1 = {x1:g}\n  v0  = x2 = {x2:g}")
    for out, op, ins in TRACE:
        value, _, formula = OPS[op]
        v[out] = value(*(v[i] for i in ins))
        if show:
            print(f"  {out:<3} = {formula.format(*ins):<10} = "
                  f"{formula.format(*(f'({v[i]:.4g})' for i in ins)):<19} = {v[out]:.4f}")
    return v


# %% [markdown]
# ## Forward accumulation: tangents travel with the values
#
# vdot_out = sum over inputs of (d out / d in) * vdot_in, in evaluation order. Seeding
# (x1dot, x2dot) = (1, 0) gives dy/dx1; (0, 1) gives dy/dx2: two passes for a gradient.

# %%
def forward_trace(x1, x2, seed, show=True):
    v = primal_trace(x1, x2, show=False)
    dot = {"v-1": float(seed[0]), "v0": float(seed[1])}
    if show:
        print(f"  v-1dot = {dot['v-1']:g}\n  v0dot  = {dot['v0']:g}")
    for out, op, ins in TRACE:
        partials = OPS[op][1](*(v[i] for i in ins))
        dot[out] = sum(p * dot[i] for p, i in zip(partials, ins))
        if show:
            terms = " + ".join(f"{p:.4g}*{dot[i]:g}" for p, i in zip(partials, ins))
            rule = " + ".join(f"d{out}/d{i}*{i}dot" for i in ins)
            print(f"  {out}dot = {rule:<32} = {terms:<16} = {dot[out]:.4f}")
    return v, dot


# %% [markdown]
# ## Reverse accumulation: adjoints travel backwards
#
# Start with ybar = v5bar = 1, then for each step from the last to the first add
# outbar * (d out / d in) to each input's adjoint. A value used twice (x1 in v1 and v2,
# x2 in v2 and v3) collects two contributions: that is the sum in the multivariate
# chain rule, and why autograd engines accumulate gradients.

# %%
def reverse_trace(x1, x2, show=True):
    v = primal_trace(x1, x2, show=False)
    bar = {name: 0.0 for name in v}
    bar["v5"] = 1.0
    if show:
        print("  v5bar = ybar = 1")
    for out, op, ins in reversed(TRACE):
        partials = OPS[op][1](*(v[i] for i in ins))
        for p, i in zip(partials, ins):
            bar[i] += bar[out] * p
            if show:
                step = f"{i}bar += {out}bar * d{out}/d{i}"
                print(f"  {step:<26} = {bar[out]:g} * {p:<7.4g} -> {i}bar = {bar[i]:.4f}")
    return v, bar


# %% [markdown]
# ## The same function in zerograd
#
# Keeping the intermediates lets `autograd.grad` return their adjoints too.

# %%
def zerograd_check(x1, x2):
    a = torch.tensor(x1, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(x2, dtype=torch.float64, requires_grad=True)
    v1 = torch.log(a)
    v2 = a * b
    v3 = torch.sin(b)
    v4 = v1 + v2
    y = v4 - v3
    names = ["v-1", "v0", "v1", "v2", "v3", "v4"]
    adjoints = torch.autograd.grad(y, [a, b, v1, v2, v3, v4], retain_graph=True)
    return y, {"x1": a, "x2": b}, {n: g.item() for n, g in zip(names, adjoints)}


def f(x1, x2):
    return torch.log(x1) + x1 * x2 - torch.sin(x2)


def forward_mode_check(x1, x2):
    """dy/dx1 and dy/dx2 by zerograd's dual tensors: one forward pass per input direction."""
    a = torch.tensor(x1, dtype=torch.float64)
    b = torch.tensor(x2, dtype=torch.float64)
    result = []
    for seed in ((1.0, 0.0), (0.0, 1.0)):
        with forward_ad.dual_level():
            da = forward_ad.make_dual(a, torch.tensor(seed[0], dtype=torch.float64))
            db = forward_ad.make_dual(b, torch.tensor(seed[1], dtype=torch.float64))
            result.append(forward_ad.unpack_dual(f(da, db)).tangent.item())
    return tuple(result)


def draw(y, params, out):
    from zerograd.viz import draw_graph, render_graph
    source = draw_graph(y, params=params, graph_name="f")
    written, message = render_graph(source, out / "10_forward_vs_reverse_graph", format="png")
    print(f"  {message}")
    return written, source


# %%
def main(quick=False, out_dir=None):
    out = output_dir(out_dir)
    x1, x2 = 2.0, 5.0
    print(f"f(x1, x2) = ln(x1) + x1*x2 - sin(x2) at ({x1:g}, {x2:g})\n")
    print("Primal trace:")
    v = primal_trace(x1, x2)
    print("\nForward tangent trace, seed (x1dot, x2dot) = (1, 0):")
    _, dot1 = forward_trace(x1, x2, (1, 0))
    _, dot2 = forward_trace(x1, x2, (0, 1), show=False)
    print(f"  -> dy/dx1 = {dot1['v5']:.4f}; a second pass with seed (0, 1) gives "
          f"dy/dx2 = {dot2['v5']:.4f}")
    print("\nReverse adjoint trace:")
    _, bar = reverse_trace(x1, x2)
    print(f"  -> dy/dx1 = {bar['v-1']:.4f}, dy/dx2 = {bar['v0']:.4f} from one backward pass")

    print("\nzerograd:")
    y, params, adjoints = zerograd_check(x1, x2)
    print(f"  y = {y.item():.4f}; autograd adjoints "
          + ", ".join(f"{k}bar = {g:.4f}" for k, g in adjoints.items()))
    worst = max(abs(adjoints[k] - bar[k]) for k in adjoints)
    print(f"  max |hand-written adjoint - autograd| = {worst:.1e}")
    fwd = forward_mode_check(x1, x2)
    print(f"  forward_ad (dual tensors, two passes): dy/dx1 = {fwd[0]:.4f}, "
          f"dy/dx2 = {fwd[1]:.4f}")
    graph_file, dot_source = draw(y, params, out)
    return {"y": v["v5"], "primal": v, "forward_dx1": dot1, "forward_dx2": dot2,
            "adjoints": bar, "autograd_adjoints": adjoints, "autograd_y": y.item(),
            "forward_ad": fwd, "graph_file": str(graph_file), "dot": dot_source}


# %%
if __name__ == "__main__":
    results = main(**cli_args())
