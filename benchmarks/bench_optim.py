"""Optimizer step time of zerograd vs PyTorch on a ~1M-parameter model, in the same run.

    python benchmarks/bench_optim.py [--threads N]

The parameters are Linear-shaped weights and biases (784x1024, 1024x256, 256x10 MLP: about
1.07M floats) with fixed random gradients; only ``optimizer.step()`` is timed, alternating
the frameworks. PyTorch runs its default CPU path (single-tensor, foreach=False).
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import compare, set_threads  # noqa: E402

SHAPES = [(1024, 784), (1024,), (256, 1024), (256,), (10, 256), (10,)]

CONFIGS = [
    ("SGD(lr=0.01, momentum=0.9)", "SGD", dict(lr=0.01, momentum=0.9)),
    ("SGD(momentum=0.9, nesterov, wd=1e-4)", "SGD",
     dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)),
    ("Adam(lr=1e-3)", "Adam", dict(lr=1e-3)),
    ("AdamW(lr=1e-3, weight_decay=1e-2)", "AdamW", dict(lr=1e-3, weight_decay=1e-2)),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    set_threads(args.threads)
    import numpy as np
    import torch
    import zerograd as zg
    torch.set_num_threads(args.threads)

    rng = np.random.default_rng(0)
    weights = [rng.standard_normal(s).astype(np.float32) * 0.05 for s in SHAPES]
    grads = [rng.standard_normal(s).astype(np.float32) * 1e-3 for s in SHAPES]
    n = sum(w.size for w in weights)
    print(f"threads={args.threads}  params={n:,}  numpy {np.__version__}  "
          f"torch {torch.__version__}")

    def setup(lib, name, kwargs):
        params = [lib.tensor(w.copy(), requires_grad=True) for w in weights]
        for p, g in zip(params, grads):
            p.grad = lib.tensor(g)
        opt = getattr(lib.optim, name)(params, **kwargs)
        opt.step()  # create the state outside the timing
        return opt.step

    ratios = []
    for label, name, kwargs in CONFIGS:
        _, _, ratio = compare(f"step {label}", setup(zg, name, kwargs),
                              setup(torch, name, kwargs), rounds=args.rounds, repeat=10)
        ratios.append(ratio)
    print(f"worst ratio {max(ratios):.2f}x (target <= 1.2x)")


if __name__ == "__main__":
    main()
