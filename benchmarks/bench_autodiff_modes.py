"""Forward vs reverse mode: the textbook's complexity claim, measured.

    python benchmarks/bench_autodiff_modes.py [--threads N] [--sizes 4 16 64 256]

A Jacobian of f: R^n -> R^m costs one pass per *input* in forward mode (jacfwd pushes
one tangent e_j through f per column) and one backward pass per *output* in reverse
mode (jacrev pulls one cotangent e_i back per row, after a single forward pass). So:

* f: R^n -> R  (a loss: sum(sin(x) * x), or a small MLP's output summed): reverse mode
  needs O(1) passes, forward mode O(n).
* f: R -> R^n  (a curve: sin(t * arange(n))): forward mode needs O(1), reverse O(n).

For zerograd the table counts the passes actually run (calls of f, and backward passes
of the engine) and times them. torch.func is shown beside it, called as is: its
jacrev/jacfwd batch all the passes into one with vmap, so it runs 1 (vectorized) pass
either way, and its times grow with n only through the size of that batched pass.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import set_threads, time_call  # noqa: E402


class Counter:
    """Counts calls of ``fn`` (forward passes)."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.fn(*args, **kwargs)


def problems(lib, n):
    """(name, f, x) for the three functions at size n, written once for both libraries."""
    import numpy as np
    rng = np.random.default_rng(0)
    w1 = lib.tensor(rng.standard_normal((32, n)) / np.sqrt(n))
    b1 = lib.tensor(rng.standard_normal(32) * 0.1)
    w2 = lib.tensor(rng.standard_normal((8, 32)) / np.sqrt(32))
    k = lib.arange(n, dtype=lib.float64)

    def loss(x):  # R^n -> R
        return (x.sin() * x).sum()

    def mlp(x):  # R^n -> R: a 2-layer tanh network's summed output, as a function of its input
        return (w2 @ (w1 @ x + b1).tanh()).tanh().sum()

    def curve(t):  # R -> R^n
        return (t * k).sin()

    x = lib.tensor(rng.standard_normal(n))
    return [("sum(sin(x)*x)  R^n->R", loss, x), ("mlp(x)         R^n->R", mlp, x),
            ("sin(t*arange)  R->R^n", curve, lib.tensor(0.7, dtype=lib.float64))]


def count_zerograd(transform, f, x):
    """(forward passes, backward passes) one zerograd Jacobian takes."""
    import zerograd.autograd as za
    f = Counter(f)
    backward = Counter(za.run_backward)
    za.run_backward = backward  # autograd.grad runs the engine through this name
    try:
        transform(f)(x)
    finally:
        za.run_backward = backward.fn
    return f.calls, backward.calls


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 16, 64, 256])
    args = parser.parse_args()
    set_threads(args.threads)
    import numpy as np
    import torch
    import zerograd as zg
    torch.set_num_threads(args.threads)
    print(f"threads={args.threads}  numpy {np.__version__}  torch {torch.__version__}")
    print("passes: forward + backward passes run (zerograd counted; torch.func: one vmapped "
          "pass)\n")
    header = (f"{'function':<22} {'n':>4} | {'zg jacrev':>10} {'passes':>8} | {'zg jacfwd':>10} "
              f"{'passes':>8} | {'torch jacrev':>12} {'torch jacfwd':>12}")
    print(header)
    print("-" * len(header))
    for index in range(3):
        for n in args.sizes:
            name, zf, zx = problems(zg, n)[index]
            _, tf, tx = problems(torch, n)[index]
            j_rev = zg.func.jacrev(zf)(zx)
            j_fwd = zg.func.jacfwd(zf)(zx)
            expected = torch.func.jacrev(tf)(tx).numpy()
            np.testing.assert_allclose(j_rev.numpy(), expected, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(j_fwd.numpy(), expected, rtol=1e-9, atol=1e-12)
            rev_passes = count_zerograd(zg.func.jacrev, zf, zx)
            fwd_passes = count_zerograd(zg.func.jacfwd, zf, zx)
            repeat = max(3, min(50, 2000 // n))
            times = [time_call(lambda: zg.func.jacrev(zf)(zx), repeat),
                     time_call(lambda: zg.func.jacfwd(zf)(zx), repeat),
                     time_call(lambda: torch.func.jacrev(tf)(tx), repeat),
                     time_call(lambda: torch.func.jacfwd(tf)(tx), repeat)]
            ms = [f"{t * 1e3:8.2f}ms" for t in times]
            print(f"{name:<22} {n:>4} | {ms[0]:>10} {'%d+%d' % rev_passes:>8} | {ms[1]:>10} "
                  f"{'%d+%d' % fwd_passes:>8} | {ms[2]:>12} {ms[3]:>12}")
        print()


if __name__ == "__main__":
    main()
