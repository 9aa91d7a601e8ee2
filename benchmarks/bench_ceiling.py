"""The NumPy path's ceiling on the MLP step: what no framework on NumPy can beat.

    python benchmarks/bench_ceiling.py [--threads N] [--rounds R] [--clock wall|cpu]

Issue 16 asks zerograd's MLP 784-256-10 step (batch 256, SGD) for <= 0.95x PyTorch at 1
thread and <= 1.0x at 2. This benchmark measures how much of that is in reach at all:

1. **The step's two large GEMMs** (``x @ W1.T``: 256x784x256; ``dW1 = g.T @ x``:
   256x256x784), NumPy's ``matmul`` (the OpenBLAS inside NumPy's wheels) against
   ``torch.mm`` (the MKL inside PyTorch's), in microseconds and GFLOP/s.
2. **The step three ways**: zerograd; the *floor*, the same step written by hand in
   NumPy with no framework at all (no autograd graph, no modules, no optimizer object:
   the fewest NumPy calls that compute it); and PyTorch. Each is printed as a ratio to
   PyTorch. The floor's ratio is the best any NumPy program reaches on this machine; the
   difference between the target and the floor is all the time a framework may spend.

The floor checks itself against PyTorch: its loss after two steps must equal torch's.
At 1 thread the three alternate in this process; above 1 thread each runs in its own
process per round (OpenBLAS's spinning workers would steal the other's core), like
``bench_nn.py``.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import set_threads, time_call  # noqa: E402

BATCH, IN, HIDDEN, OUT = 256, 784, 256, 10
TARGET = {1: 0.95, 2: 1.0}  # issue 16's MLP targets
STEPS = ("zerograd", "numpy floor", "torch")
GEMMS = ("x @ W1.T", "g.T @ x")


def numpy_floor_step(np, weights, x, y, lr=0.01):
    """The MLP step (Linear, ReLU, Linear, mean cross-entropy, plain SGD) written directly
    in NumPy, updating ``weights`` (W1, b1, W2, b2) in place; returns the loss."""
    w1, b1, w2, b2 = weights
    rows = np.arange(len(y))
    lr = w1.dtype.type(lr)
    h = x @ w1.T
    h += b1
    a = np.maximum(h, 0)
    z = a @ w2.T
    z += b2
    top = z.max(1, keepdims=True)
    e = np.exp(z - top)
    s = e.sum(1, keepdims=True)
    loss = (np.log(s[:, 0]) + top[:, 0] - z[rows, y]).mean()
    g = e / s  # d loss / d z = (softmax - onehot) / batch
    g[rows, y] -= 1
    g /= len(y)
    dw2, db2 = g.T @ a, g.sum(0)
    da = g @ w2
    da *= h > 0  # ReLU's derivative
    dw1, db1 = da.T @ x, da.sum(0)
    for p, grad in zip(weights, (dw1, db1, dw2, db2)):
        grad *= lr
        p -= grad
    return loss


def _steps(np, torch, zg):
    """zerograd's, the floor's and torch's step functions, from the same weights."""
    import bench_nn
    z_step, t_step = bench_nn.build_pair("mlp", np, torch, zg)  # checks their losses agree
    torch.manual_seed(0)  # build_pair's weights
    weights = [p.detach().numpy().copy() for p in bench_nn.mlp(torch.nn).parameters()]
    rng = np.random.default_rng(0)  # build_pair's batch
    x = rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32).reshape(BATCH, IN)
    y = rng.integers(0, OUT, BATCH)

    def floor_step():
        return numpy_floor_step(np, weights, x, y)

    floor_step()  # build_pair ran one torch step: catch up, then compare the next loss
    f_loss, t_loss = floor_step(), t_step().item()
    z_step()
    if abs(f_loss - t_loss) > 1e-4 * max(1.0, abs(t_loss)):
        raise AssertionError(f"the NumPy floor's loss {f_loss} differs from torch's {t_loss}")
    return {"zerograd": z_step, "numpy floor": floor_step, "torch": t_step}


def _gemms(np, torch, which):
    """The two GEMM calls of ``which`` framework ("numpy" or "torch"), on fixed operands."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((BATCH, IN)).astype(np.float32)
    w = rng.standard_normal((HIDDEN, IN)).astype(np.float32)
    g = rng.standard_normal((BATCH, HIDDEN)).astype(np.float32)
    if which == "numpy":
        h, dw = np.empty((BATCH, HIDDEN), np.float32), np.empty((HIDDEN, IN), np.float32)
        return {"x @ W1.T": lambda: np.matmul(x, w.T, out=h),
                "g.T @ x": lambda: np.matmul(g.T, x, out=dw)}
    tx, tw, tg = (torch.from_numpy(a) for a in (x, w, g))
    return {"x @ W1.T": lambda: torch.mm(tx, tw.t()), "g.T @ x": lambda: torch.mm(tg.t(), tx)}


def _imports(threads):
    import numpy as np
    import torch
    import zerograd as zg
    torch.set_num_threads(threads)
    zg.set_num_threads(threads)
    return np, torch, zg


def _worker(args):
    """One thing timed in this process: a step, or a framework's GEMMs ("numpy gemm",
    "torch gemm"); JSON on stdout."""
    np, torch, zg = _imports(args.threads)
    if args.worker in STEPS:
        fn = _steps(np, torch, zg)[args.worker]
        times = [time_call(fn, 20, args.clock) for _ in range(3)]
        print(json.dumps({args.worker: statistics.median(times)}))
        return
    calls = _gemms(np, torch, args.worker.split()[0])
    print(json.dumps({name: statistics.median(time_call(fn, 50, args.clock) for _ in range(3))
                      for name, fn in calls.items()}))


def _in_processes(args, names):
    """Each of ``names`` in its own process per round, in rotating order."""
    times = {}
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            out = subprocess.run([sys.executable, __file__, "--worker", name, "--threads",
                                  str(args.threads), "--clock", args.clock],
                                 capture_output=True, text=True, check=True)
            for key, t in json.loads(out.stdout.strip().splitlines()[-1]).items():
                times.setdefault((name, key), []).append(t)
    return times


def _in_process(args, fns):
    """Alternate ``fns`` (name -> fn) in this process; per-round times per name."""
    times = {name: [] for name in fns}
    for _ in range(args.rounds):
        for name, fn in fns.items():
            times[name].append(time_call(fn, 20, args.clock))
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--clock", choices=("wall", "cpu"), default=None,
                        help="default: cpu at 1 thread (steadier on a shared machine), wall "
                             "above")
    parser.add_argument("--worker", choices=STEPS + ("numpy gemm", "torch gemm"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.clock = args.clock or ("cpu" if args.threads == 1 else "wall")
    set_threads(args.threads)
    if args.worker:
        return _worker(args)
    own = args.threads > 1
    np, torch, zg = _imports(args.threads)
    print(f"threads={args.threads}  numpy {np.__version__}  torch {torch.__version__}  "
          f"{'own processes' if own else 'one process'}  {args.clock} clock  "
          f"load {os.getloadavg()[0]:.2f}")

    if own:
        raw = _in_processes(args, ["numpy gemm", "torch gemm"])
        gemm = {fw: {name: raw[(f"{fw} gemm", name)] for name in GEMMS}
                for fw in ("numpy", "torch")}
    else:
        calls = {fw: _gemms(np, torch, fw) for fw in ("numpy", "torch")}
        gemm = {fw: {} for fw in calls}
        for name in GEMMS:
            per = _in_process(args, {fw: calls[fw][name] for fw in calls})
            for fw in calls:
                gemm[fw][name] = per[fw]
    flop = 2 * BATCH * IN * HIDDEN
    for name in GEMMS:
        n, t = (statistics.median(gemm[fw][name]) for fw in ("numpy", "torch"))
        print(f"GEMM {name:<10} NumPy {n * 1e6:7.1f} us ({flop / n / 1e9:5.0f} GFLOP/s)   "
              f"torch {t * 1e6:7.1f} us ({flop / t / 1e9:5.0f} GFLOP/s)   ratio {n / t:4.2f}x")

    if own:
        raw = _in_processes(args, list(STEPS))
        times = {name: raw[(name, name)] for name in STEPS}
    else:
        times = _in_process(args, _steps(np, torch, zg))
    ratios = {name: statistics.median(a / b for a, b in zip(times[name], times["torch"]))
              for name in STEPS}
    for name in STEPS:
        print(f"MLP step, {name:<12} {statistics.median(times[name]) * 1e6:8.1f} us   "
              f"ratio {ratios[name]:5.2f}x torch")
    target = TARGET[min(args.threads, 2)]
    torch_us = statistics.median(times["torch"]) * 1e6
    budget = (target - ratios["numpy floor"]) * torch_us
    spent = (ratios["zerograd"] - ratios["numpy floor"]) * torch_us
    print(f"    target <= {target}x: a framework may spend {budget:.0f} us a step beyond the "
          f"floor ({max(budget, 0) / torch_us:.0%} of torch's step); zerograd spends "
          f"{spent:.0f} us")


if __name__ == "__main__":
    main()
