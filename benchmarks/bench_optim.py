"""Optimizer step time of zerograd vs PyTorch on a ~1M-parameter model, in the same run.

    python benchmarks/bench_optim.py [--threads N] [--kernels auto|numpy]

The parameters are Linear-shaped weights and biases (784x1024, 1024x256, 256x10 MLP: about
1.07M floats) with fixed random gradients; only ``optimizer.step()`` is timed, alternating
the frameworks. PyTorch runs its default CPU path (single-tensor, foreach=False).

Times are the CPU time of this thread (``time.thread_time``), not wall time: on a shared
machine wall time also counts the slices other processes run in, which swamps a ~1 ms step.
With one thread the two are the same on an idle machine.

With numba installed (the ``fast`` extra) SGD and Adam/AdamW run as one compiled pass per
parameter (``zerograd/backend/cpu/optim_kernels.py``); ``--kernels numpy`` switches the
compiled kernels off (``ZEROGRAD_NUMBA=0``): the figures of the NumPy passes.
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import set_threads  # noqa: E402


def _median_cpu_time(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        start = time.thread_time()
        fn()
        times.append(time.thread_time() - start)
    return statistics.median(times)


def compare(name, zg_fn, torch_fn, rounds, repeat):
    """Alternate the frameworks ``rounds`` times; print and return the median ratio."""
    zg_times, torch_times = [], []
    for _ in range(rounds):
        zg_times.append(_median_cpu_time(zg_fn, repeat))
        torch_times.append(_median_cpu_time(torch_fn, repeat))
    z, t = statistics.median(zg_times), statistics.median(torch_times)
    ratio = statistics.median(a / b for a, b in zip(zg_times, torch_times))
    print(f"{name:<42} zerograd {z * 1e6:8.1f} us   torch {t * 1e6:8.1f} us   "
          f"ratio {ratio:5.2f}x")
    return ratio

SHAPES = [(1024, 784), (1024,), (256, 1024), (256,), (10, 256), (10,)]

CONFIGS = [
    ("SGD(lr=0.01)", "SGD", dict(lr=0.01)),
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
    parser.add_argument("--kernels", choices=("auto", "numpy"), default="auto",
                        help="numpy: zerograd's compiled kernels off (ZEROGRAD_NUMBA=0)")
    args = parser.parse_args()
    set_threads(args.threads)
    if args.kernels == "numpy":
        os.environ["ZEROGRAD_NUMBA"] = "0"  # read when zerograd is imported
    import numpy as np
    import torch
    import zerograd as zg
    from zerograd.backend.cpu import compiled
    torch.set_num_threads(args.threads)
    zg.set_num_threads(args.threads)

    rng = np.random.default_rng(0)
    weights = [rng.standard_normal(s).astype(np.float32) * 0.05 for s in SHAPES]
    grads = [rng.standard_normal(s).astype(np.float32) * 1e-3 for s in SHAPES]
    n = sum(w.size for w in weights)
    print(f"threads={args.threads}  params={n:,}  numpy {np.__version__}  "
          f"torch {torch.__version__}  zerograd kernels: "
          f"{'NumPy + compiled' if compiled.enabled() else 'NumPy'}")

    def setup(lib, name, kwargs):
        params = [lib.tensor(w.copy(), requires_grad=True) for w in weights]
        for p, g in zip(params, grads):
            p.grad = lib.tensor(g)
        opt = getattr(lib.optim, name)(params, **kwargs)
        opt.step()  # create the state outside the timing
        return opt.step

    ratios = []
    for label, name, kwargs in CONFIGS:
        ratios.append(compare(f"step {label}", setup(zg, name, kwargs),
                              setup(torch, name, kwargs), rounds=args.rounds, repeat=10))
    print(f"worst ratio {max(ratios):.2f}x (target <= 1.2x)")


if __name__ == "__main__":
    main()
