"""zerograd's optional compiled CPU kernels (numba) against its NumPy kernels and PyTorch.

    python benchmarks/bench_compiled.py [--threads N] [--rounds R]

For the layers the compiled kernels serve (batch norm, 2x2 max and average pooling,
sigmoid, a stride-1 convolution's input gradient) on the benchmark models' shapes, batch 256, float32: the forward, and forward +
``autograd.grad`` of the input minus that, each a median over ``--rounds`` rounds that
alternate the NumPy kernels, the compiled ones and torch in this process (wall clock).
Prints milliseconds and the ratios compiled / NumPy and compiled / torch. Needs numba (the
``fast`` extra).

Above 1 thread torch runs in a process of its own (all its rounds there, before
zerograd's): in one process its OpenMP workers, spinning after each op, and zerograd's
threads take each other's cores, and torch's times for these short ops came out up to
tens of times their own-process value (and a difference of two, negative).
"""
import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import set_threads, time_call  # noqa: E402

CASES = [("BatchNorm2d(32)", lambda nn: nn.BatchNorm2d(32), (256, 32, 28, 28)),
         ("BatchNorm2d(64)", lambda nn: nn.BatchNorm2d(64), (256, 64, 14, 14)),
         ("MaxPool2d(2)", lambda nn: nn.MaxPool2d(2), (256, 32, 28, 28)),
         ("MaxPool2d(2)", lambda nn: nn.MaxPool2d(2), (256, 64, 14, 14)),
         ("AvgPool2d(2)", lambda nn: nn.AvgPool2d(2), (256, 6, 28, 28)),
         ("AvgPool2d(2)", lambda nn: nn.AvgPool2d(2), (256, 16, 10, 10)),
         ("Sigmoid()", lambda nn: nn.Sigmoid(), (256, 6, 28, 28)),
         ("Sigmoid()", lambda nn: nn.Sigmoid(), (256, 16, 10, 10)),
         # the input gradient's col2im (weights frozen: "backward" is the input gradient
         # alone; the forward has no compiled kernel)
         ("Conv2d(6,16,5)", lambda nn: _frozen(nn.Conv2d(6, 16, 5)), (256, 6, 14, 14)),
         ("Conv2d(1,6,5,p2)", lambda nn: _frozen(nn.Conv2d(1, 6, 5, padding=2)),
          (256, 1, 28, 28))]
KINDS = ("numpy", "compiled", "torch")


def _frozen(layer):
    for p in layer.parameters():
        p.requires_grad_(False)
    return layer


def _times(lib, make, x, repeat):
    """(forward, backward) ms of the layer ``make(lib.nn)`` on ``x``."""
    layer = make(lib.nn)
    t = lib.tensor(x, requires_grad=True)
    gy = lib.tensor(layer(t).detach().numpy().copy())  # an upstream gradient of its shape

    def backward():
        lib.autograd.grad(layer(t), [t], gy)
    forward = time_call(lambda: layer(t), repeat) * 1e3
    return forward, time_call(backward, repeat) * 1e3 - forward


def _torch_worker(args):
    """All of torch's rounds in this process: [(forward, backward) medians] per case."""
    import numpy as np
    import torch
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    medians = []
    for _, make, shape in CASES:
        x = rng.standard_normal(shape).astype(np.float32)
        rounds = [_times(torch, make, x, args.repeat) for _ in range(args.rounds)]
        medians.append([statistics.median(r[i] for r in rounds) for i in (0, 1)])
    print(json.dumps(medians))


def _torch_in_own_process(args):
    out = subprocess.run([sys.executable, __file__, "--torch-worker", "--threads",
                          str(args.threads), "--rounds", str(args.rounds), "--repeat",
                          str(args.repeat)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    set_threads(args.threads)
    if args.torch_worker:
        return _torch_worker(args)
    torch_apart = _torch_in_own_process(args) if args.threads > 1 else None
    import numpy as np
    import torch
    import zerograd as zg
    from zerograd.backend.cpu import compiled
    torch.set_num_threads(args.threads)
    zg.set_num_threads(args.threads)
    compiled.enable(True)
    if not compiled.enabled():
        sys.exit("bench_compiled: numba is not installed (pip install 'zerograd[fast]')")
    import numba
    print(f"threads={args.threads}  numpy {np.__version__}  numba {numba.__version__}  torch "
          f"{torch.__version__}  wall clock, ms (median of {args.rounds} alternating rounds"
          f"{'; torch in its own process' if torch_apart else ''})")
    rng = np.random.default_rng(0)
    kinds = KINDS[:2] if torch_apart else KINDS
    for case, (name, make, shape) in enumerate(CASES):
        x = rng.standard_normal(shape).astype(np.float32)
        rounds = {k: [] for k in kinds}
        for _ in range(args.rounds):
            for kind in kinds:
                if kind != "torch":
                    compiled.enable(kind == "compiled")
                rounds[kind].append(_times(torch if kind == "torch" else zg, make, x,
                                           args.repeat))
        fwd = {k: statistics.median(r[0] for r in v) for k, v in rounds.items()}
        bwd = {k: statistics.median(r[1] for r in v) for k, v in rounds.items()}
        if torch_apart:
            fwd["torch"], bwd["torch"] = torch_apart[case]
        for what, t in (("forward", fwd), ("backward", bwd)):
            print(f"{name:16} {str(shape):18} {what:8}  NumPy {t['numpy']:7.2f}  compiled "
                  f"{t['compiled']:7.2f}  torch {t['torch']:7.2f}   compiled/NumPy "
                  f"{t['compiled'] / t['numpy']:5.2f}x  compiled/torch "
                  f"{t['compiled'] / t['torch']:5.2f}x")
    compiled.enable(True)


if __name__ == "__main__":
    main()
