"""Training-step time (forward + loss + backward) of zerograd vs PyTorch on three models.

    python benchmarks/bench_nn.py [--threads N] [--rounds R] [--only mlp,lenet,resnet]
                                  [--profile lenet]

Models, batch 256 of 1x28x28 inputs, float32, the same weights in both frameworks:

* ``mlp``:    784-256-10 with ReLU
* ``lenet``:  LeNet-5: conv 6@5x5 pad 2, ReLU, avgpool 2, conv 16@5x5, ReLU, avgpool 2,
              linear 400-120-84-10
* ``resnet``: stem conv 32@3x3 + BN + ReLU, a residual block 32->32 and one 32->64 with
              stride 2 (3x3 convs, BN, ReLU, 1x1 projection shortcut), global average
              pool, linear 64-10

The frameworks alternate (``benchmarks/_timing.compare``) and the median times and the
median ratio are reported. ``--threads`` sets the thread count for both: PyTorch via
``set_num_threads``, NumPy's BLAS (OpenBLAS) via ``OPENBLAS_NUM_THREADS``, which must be
set before NumPy is imported, so it is applied before any import below.
``--profile MODEL`` prints the top of a cProfile of zerograd's step instead.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import compare, set_threads  # noqa: E402

TARGETS = {"mlp": None, "lenet": 2.0, "resnet": 2.5}


def mlp(nn):
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


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


MODELS = {"mlp": mlp, "lenet": lenet, "resnet": resnet}


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

        def run():
            model.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            return loss
        return run

    z_step = step(zg, z_model, zg.tensor(x), zg.tensor(y))
    t_step = step(torch, t_model, torch.tensor(x), torch.tensor(y))
    z_loss, t_loss = z_step().item(), t_step().item()
    if abs(z_loss - t_loss) > 1e-3 * max(1.0, abs(t_loss)):
        raise AssertionError(f"{name}: losses differ: zerograd {z_loss} vs torch {t_loss}")
    return z_step, t_step


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default="mlp,lenet,resnet")
    parser.add_argument("--profile", choices=sorted(MODELS), default=None)
    args = parser.parse_args()
    set_threads(args.threads)
    import numpy as np
    import torch
    import zerograd as zg
    torch.set_num_threads(args.threads)

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

    print(f"threads={args.threads}  batch=256  numpy {np.__version__}  torch {torch.__version__}")
    for name in args.only.split(","):
        z_step, t_step = build_pair(name, np, torch, zg)
        repeat = {"mlp": 20, "lenet": 5, "resnet": 2}[name]
        _, _, ratio = compare(f"{name} forward+backward", z_step, t_step, rounds=args.rounds,
                              repeat=repeat)
        target = TARGETS[name]
        if target is not None:
            verdict = "ok" if ratio <= target else "over target"
            print(f"    {name}: {ratio:.2f}x torch (target <= {target}x): {verdict}")


if __name__ == "__main__":
    main()
