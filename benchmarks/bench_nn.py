"""Training-step time (forward + loss + backward + SGD step) of zerograd vs PyTorch.

    python benchmarks/bench_nn.py [--threads N] [--rounds R] [--only mlp,lenet,...]
                                  [--processes auto|same|own] [--clock wall|cpu]
                                  [--kernels auto|numpy] [--profile lenet]

Models, batch 256 of 1x28x28 inputs, float32, the same weights in both frameworks:

* ``softmax``:   linear 784-10
* ``mlp``:       784-256-10 with ReLU
* ``lenet``:     LeNet-5 with ReLU: conv 6@5x5 pad 2, ReLU, avgpool 2, conv 16@5x5, ReLU,
                 avgpool 2, linear 400-120-84-10
* ``lenet-d2l``: the same with sigmoid activations (d2l's LeNet, the zoo's ``lenet``)
* ``convstack``: conv 32@3x3 + BN + ReLU, conv 32@3x3 + BN + ReLU, maxpool 2,
                 conv 64@3x3 + BN + ReLU, maxpool 2, linear 3136-10 (issue 16's stack)
* ``resnet``:    stem conv 32@3x3 + BN + ReLU, a residual block 32->32 and one 32->64 with
                 stride 2 (3x3 convs, BN, ReLU, 1x1 projection shortcut), global average
                 pool, linear 64-10

At 1 thread the frameworks alternate in this process (``benchmarks/_timing.compare``).
Above 1 thread each framework runs in its own process per round (``--processes own``,
the default there): OpenBLAS's workers spin ~0.1 s after each call and, in one process,
steal the core PyTorch's next run needs, which made 2-thread ratios look up to 2x better
than they are. The median times and the median ratio are reported. ``--threads`` sets
the thread count for both: ``torch.set_num_threads`` and ``zerograd.set_num_threads``,
plus the ``*_NUM_THREADS`` variables before NumPy is imported. ``--clock cpu`` times with
the process's CPU time instead of wall time: steadier at 1 thread when other jobs share
the machine. ``--kernels numpy`` switches zerograd's optional compiled CPU kernels off
(``ZEROGRAD_NUMBA=0``; they run when numba is installed, the ``fast`` extra): the figures
of the pure-NumPy path. ``--profile MODEL`` prints the top of a cProfile of zerograd's step instead.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import compare, set_threads, time_call  # noqa: E402

# issue 16's targets (median zerograd/torch) at 1 thread and at 2 or more; ``lenet`` and
# ``resnet`` keep the first-wave bounds (issue 16 sets the ResNet-18-small target on
# bench_train.py's epoch)
TARGETS = {1: {"softmax": 0.85, "mlp": 0.95, "lenet": 2.0, "lenet-d2l": 1.3,
               "convstack": 1.4, "resnet": 2.5},
           2: {"softmax": 1.0, "mlp": 1.0, "lenet": 2.0, "lenet-d2l": 1.6, "convstack": 1.5,
               "resnet": 2.5}}


def mlp(nn):
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


def softmax(nn):
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))


def lenet_d2l(nn):
    # d2l's LeNet (the zoo's ``lenet``): sigmoid activations and average pooling
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))


def convstack(nn):
    # conv/BN/ReLU/max-pool with 32-64 channels: where the GEMMs dominate
    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
    return nn.Sequential(*block(1, 32), *block(32, 32), nn.MaxPool2d(2), *block(32, 64),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 7 * 7, 10))


def lenet(nn):
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def resnet(nn):
    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.shortcut = nn.Sequential()
            if stride != 1 or cin != cout:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                              nn.BatchNorm2d(cout))

        def forward(self, x):
            out = self.bn1(self.conv1(x)).relu()
            return (self.bn2(self.conv2(out)) + self.shortcut(x)).relu()

    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        Block(32, 32, 1), Block(32, 64, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


MODELS = {"softmax": softmax, "mlp": mlp, "lenet": lenet, "lenet-d2l": lenet_d2l,
          "convstack": convstack, "resnet": resnet}


def build_pair(name, np, torch, zg):
    torch.manual_seed(0)
    t_model = MODELS[name](torch.nn)
    z_model = MODELS[name](zg.nn)
    for zp, tp in zip(z_model.parameters(), t_model.parameters()):
        zp._data[...] = tp.detach().numpy()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 256)

    def step(lib, model, inputs, targets):
        loss_fn = lib.nn.CrossEntropyLoss()
        optimizer = lib.optim.SGD(model.parameters(), lr=0.01)

        def run():
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            return loss
        return run

    z_step = step(zg, z_model, zg.tensor(x), zg.tensor(y))
    t_step = step(torch, t_model, torch.tensor(x), torch.tensor(y))
    z_loss, t_loss = z_step().item(), t_step().item()
    if abs(z_loss - t_loss) > 1e-3 * max(1.0, abs(t_loss)):
        raise AssertionError(f"{name}: losses differ: zerograd {z_loss} vs torch {t_loss}")
    return z_step, t_step


REPEAT = {"softmax": 40, "mlp": 20, "lenet": 5, "lenet-d2l": 5, "convstack": 2, "resnet": 2}


def _kernels_in_use():
    from zerograd.backend.cpu import compiled
    if not compiled.enabled():
        return "NumPy"
    import numba
    return f"NumPy + compiled (numba {numba.__version__})"


def _worker(args):
    """One framework in this process: the median step time over ``--rounds`` x repeat."""
    import numpy as np
    import torch
    import zerograd as zg
    torch.set_num_threads(args.threads)
    zg.set_num_threads(args.threads)
    z_step, t_step = build_pair(args.only, np, torch, zg)
    fn = z_step if args.worker == "zerograd" else t_step
    times = [time_call(fn, REPEAT[args.only], args.clock) for _ in range(args.rounds)]
    print(json.dumps({"time": statistics.median(times)}))


def _in_processes(name, args):
    """Alternate one process per framework per round, so neither framework's idle worker
    threads (OpenBLAS spins ~0.1 s after each call) steal the core the other needs."""
    times = {"zerograd": [], "torch": []}
    for r in range(args.rounds):
        for fw in ("zerograd", "torch") if r % 2 == 0 else ("torch", "zerograd"):
            out = subprocess.run([sys.executable, __file__, "--worker", fw, "--only", name,
                                  "--threads", str(args.threads), "--rounds", "3",
                                  "--clock", args.clock],
                                 capture_output=True, text=True, check=True)
            times[fw].append(json.loads(out.stdout.strip().splitlines()[-1])["time"])
    z, t = statistics.median(times["zerograd"]), statistics.median(times["torch"])
    ratio = statistics.median(a / b for a, b in zip(times["zerograd"], times["torch"]))
    print(f"{name + ' step (own processes)':<40} zerograd {z * 1e6:10.1f} us   torch "
          f"{t * 1e6:10.1f} us   ratio {ratio:5.2f}x")
    return ratio


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default="softmax,mlp,lenet,lenet-d2l,convstack,resnet")
    parser.add_argument("--processes", choices=("auto", "same", "own"), default="auto",
                        help="own: each framework in its own process per round (the default "
                             "above 1 thread); same: alternate in this process")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="cpu: process CPU time, steadier at 1 thread on a shared machine")
    parser.add_argument("--kernels", choices=("auto", "numpy"), default="auto",
                        help="numpy: zerograd's compiled kernels off (ZEROGRAD_NUMBA=0)")
    parser.add_argument("--profile", choices=sorted(MODELS), default=None)
    parser.add_argument("--worker", choices=("zerograd", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    set_threads(args.threads)
    if args.kernels == "numpy":
        os.environ["ZEROGRAD_NUMBA"] = "0"  # read when zerograd is imported; workers inherit it
    if args.worker:
        return _worker(args)
    import numpy as np
    import torch
    import zerograd as zg
    torch.set_num_threads(args.threads)
    zg.set_num_threads(args.threads)

    if args.profile:
        import cProfile
        import pstats
        z_step, _ = build_pair(args.profile, np, torch, zg)
        z_step()
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(3):
            z_step()
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return

    own = args.processes == "own" or (args.processes == "auto" and args.threads > 1)
    print(f"threads={args.threads}  batch=256  SGD  numpy {np.__version__}  torch "
          f"{torch.__version__}  {'own processes' if own else 'one process'}  {args.clock} "
          f"clock  load {os.getloadavg()[0]:.2f}  zerograd kernels: {_kernels_in_use()}")
    for name in args.only.split(","):
        if own:
            ratio = _in_processes(name, args)
        else:
            z_step, t_step = build_pair(name, np, torch, zg)
            _, _, ratio = compare(f"{name} step", z_step, t_step, rounds=args.rounds,
                                  repeat=REPEAT[name], clock=args.clock)
        target = TARGETS[min(args.threads, 2)].get(name)
        if target is not None:
            verdict = "ok" if ratio <= target else "over target"
            print(f"    {name}: {ratio:.2f}x torch (target <= {target}x): {verdict}")


if __name__ == "__main__":
    main()
