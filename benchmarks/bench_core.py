"""Per-op overhead of zerograd vs PyTorch, measured in the same run.

    python benchmarks/bench_core.py [--threads N] [--clock wall|cpu]

(a) forward+backward of ((a*b).sum()) on 10-element tensors: pure framework overhead.
(b) forward+backward of (x @ W).relu().sum() with x 256x784, W 784x256: BLAS does the work.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import compare, set_threads  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="cpu: process CPU time, steadier at 1 thread on a shared machine")
    args = parser.parse_args()
    set_threads(args.threads)
    import numpy as np
    import torch
    import zerograd as zg
    torch.set_num_threads(args.threads)
    print(f"threads={args.threads}  numpy {np.__version__}  torch {torch.__version__}")

    rng = np.random.default_rng(0)
    a_np, b_np = rng.standard_normal(10).astype(np.float32), rng.standard_normal(10).astype(np.float32)
    za, zb = zg.tensor(a_np, requires_grad=True), zg.tensor(b_np, requires_grad=True)
    ta, tb = torch.tensor(a_np, requires_grad=True), torch.tensor(b_np, requires_grad=True)

    def small(lib_a, lib_b):
        def run():
            lib_a.grad = None
            lib_b.grad = None
            (lib_a * lib_b).sum().backward()
        return run

    compare("small: (a*b).sum() fwd+bwd, n=10", small(za, zb), small(ta, tb), repeat=200,
            clock=args.clock)

    x_np = rng.standard_normal((256, 784)).astype(np.float32)
    w_np = (rng.standard_normal((784, 256)) * 0.05).astype(np.float32)
    zx, zw = zg.tensor(x_np), zg.tensor(w_np, requires_grad=True)
    tx, tw = torch.tensor(x_np), torch.tensor(w_np, requires_grad=True)

    def mm(x, w):
        def run():
            w.grad = None
            (x @ w).relu().sum().backward()
        return run

    compare("matmul 256x784 @ 784x256 + relu + sum", mm(zx, zw), mm(tx, tw), repeat=20,
            clock=args.clock)


if __name__ == "__main__":
    main()
