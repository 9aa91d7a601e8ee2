"""GPU training-step time: zerograd on CuPy vs PyTorch CUDA, same models, same run.

    python benchmarks/bench_gpu.py [--models mlp,lenet,resnet18,transformer,lstm-lm]
                                   [--rounds 3] [--steps 10] [--cpu-steps 2] [--json FILE]
    python benchmarks/bench_gpu.py --dry-run        # the whole script on the CPU, tiny sizes
    python benchmarks/bench_gpu.py --accuracy [--epochs 5] [--data-dir DIR]

One training step (forward, cross-entropy, zero_grad, backward, Adam step) on random
data, for each model at the issue's batch size: the zoo's MLP (batch 1024), LeNet (256)
and ResNet-18-small (128) -- PyTorch's copies are the zoo's own source run with torch.nn,
as in bench_train.py -- a 4-layer Transformer encoder (d_model 256, 8 heads, batch 64 x
128 tokens) and a 2-layer LSTM language model (vocab 1000, 256/512, 35 steps x batch 64).

Timing: a block of ``--steps`` steps ends with a device synchronize (GPU work is
asynchronous); rounds alternate the frameworks and the ratio is the median over rounds
of zerograd's time / PyTorch's. ``--cpu-steps`` more steps of zerograd on the CPU give
the GPU's speed-up over the CPU (throughput in samples/s).

``--accuracy`` trains ResNet-18-small on Fashion-MNIST with ``zerograd train --device
cuda`` (Adam 1e-3, one-cycle schedule, batch 128, ``--epochs`` <= 10) and prints the test
accuracy; it needs the Fashion-MNIST files (``--data-dir``, ``$ZEROGRAD_DATA`` or
``~/.cache/zerograd/fashion-mnist``).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
from bench_train import build_model as zoo_model  # noqa: E402

MODELS = ("mlp", "lenet", "resnet18", "transformer", "lstm-lm")
# Batch size per model: the sizes, and tiny ones for --dry-run on the CPU.
SIZES = {"mlp": 1024, "lenet": 256, "resnet18": 128, "transformer": 64, "lstm-lm": 64}
DRY_SIZES = {"mlp": 16, "lenet": 8, "resnet18": 2, "transformer": 2, "lstm-lm": 2}


class LSTMLM:
    """Embedding -> 2-layer LSTM -> Linear over the vocabulary (built from ``lib.nn``)."""

    @staticmethod
    def build(lib, vocab, embed, hidden):
        nn = lib.nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.embedding = nn.Embedding(vocab, embed)
                self.rnn = nn.LSTM(embed, hidden, num_layers=2)
                self.head = nn.Linear(hidden, vocab)

            def forward(self, tokens):  # (steps, batch) -> (steps * batch, vocab)
                out, _ = self.rnn(self.embedding(tokens))
                return self.head(out.reshape(-1, out.shape[-1]))
        return Net()


def _encoder(lib, d_model, heads, ff, layers, classes):
    nn = lib.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            layer = nn.TransformerEncoderLayer(d_model, heads, dim_feedforward=ff,
                                               dropout=0.1, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, num_layers=layers)
            self.head = nn.Linear(d_model, classes)

        def forward(self, x):
            return self.head(self.encoder(x).mean(dim=1))
    return Net()


def make_case(name, framework, lib, device, batch, dry):
    """``(model, inputs, targets, samples per step)`` on ``device``."""
    lib.manual_seed(0)
    if name in ("mlp", "lenet", "resnet18"):
        model = zoo_model(framework, name)
        x, y = lib.randn(batch, 1, 28, 28), lib.randint(0, 10, (batch,))
    elif name == "transformer":
        d = 32 if dry else 256
        model = _encoder(lib, d, 4 if dry else 8, 2 * d if dry else 1024, 4, 10)
        x, y = lib.randn(batch, 8 if dry else 128, d), lib.randint(0, 10, (batch,))
    elif name == "lstm-lm":
        vocab, steps = (50, 5) if dry else (1000, 35)
        model = LSTMLM.build(lib, vocab, 16 if dry else 256, 32 if dry else 512)
        x = lib.randint(0, vocab, (steps, batch))
        y = lib.randint(0, vocab, (steps * batch,))
    else:
        raise SystemExit(f"unknown model {name}; choose from {', '.join(MODELS)}")
    return model.to(device), x.to(device), y.to(device), batch


def make_step(lib, model, x, y):
    optimizer = lib.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = lib.nn.CrossEntropyLoss()
    model.train()

    def step():
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss
    return step


def timer(lib, device, step, steps):
    """A function timing ``steps`` steps, synchronized at the end when on a GPU."""
    sync = lib.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)

    def run():
        sync()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        return (time.perf_counter() - start) / steps
    return run


def compare_model(name, args, libs, device):
    """Median step times of both frameworks on ``device``, alternating, and their ratio."""
    batch = (DRY_SIZES if args.dry_run else SIZES)[name]
    runs = {}
    for framework, lib in libs.items():
        model, x, y, _ = make_case(name, framework, lib, device, batch, args.dry_run)
        run = timer(lib, device, make_step(lib, model, x, y), args.steps)
        run()  # warm-up: CuPy compiles its kernels, cuBLAS/cuDNN pick algorithms
        runs[framework] = run
    times = {f: [] for f in runs}
    for r in range(args.rounds):
        order = list(runs) if r % 2 == 0 else list(reversed(list(runs)))
        for framework in order:
            times[framework].append(runs[framework]())
    ratios = [z / t for z, t in zip(times["zerograd"], times["torch"])]
    return {"batch": batch, "zerograd_s": statistics.median(times["zerograd"]),
            "torch_s": statistics.median(times["torch"]), "ratio": statistics.median(ratios)}


def cpu_throughput(name, args, zerograd):
    """zerograd's samples/s on the CPU for the same step (the GPU's speed-up baseline)."""
    batch = (DRY_SIZES if args.dry_run else SIZES)[name]
    model, x, y, _ = make_case(name, "zerograd", zerograd, "cpu", batch, args.dry_run)
    run = timer(zerograd, "cpu", make_step(zerograd, model, x, y), args.cpu_steps)
    run()
    return batch / run()


def benchmark(args):
    import torch
    import zerograd
    torch.manual_seed(0)
    device = "cpu" if args.dry_run else "cuda"
    if device == "cuda":
        if not zerograd.cuda.is_available():
            raise SystemExit("zerograd sees no GPU: " + _why_no_gpu())
        if not torch.cuda.is_available():
            raise SystemExit("PyTorch sees no GPU (a CPU build of torch?)")
        print(f"GPU: {zerograd.cuda.get_device_name()} | torch {torch.__version__} | "
              f"CuPy {zerograd.backend.get('cuda').xp.__version__}")
        torch.backends.cudnn.benchmark = True
    libs = {"zerograd": zerograd, "torch": torch}
    print(f"{'model':<12} {'batch':>5} {'zerograd ms':>12} {'torch ms':>9} {'ratio':>6} "
          f"{'zg GPU samples/s':>17} {'zg CPU samples/s':>17} {'GPU/CPU':>8}", flush=True)
    results = {}
    for name in args.models:
        row = compare_model(name, args, libs, device)
        row["gpu_samples_s"] = row["batch"] / row["zerograd_s"]
        row["cpu_samples_s"] = cpu_throughput(name, args, zerograd) if args.cpu_steps else None
        speedup = row["gpu_samples_s"] / row["cpu_samples_s"] if row["cpu_samples_s"] else None
        row["gpu_over_cpu"] = speedup
        results[name] = row
        cpu = f"{row['cpu_samples_s']:17,.0f}" if row["cpu_samples_s"] else f"{'-':>17}"
        print(f"{name:<12} {row['batch']:>5} {row['zerograd_s'] * 1e3:12.2f} "
              f"{row['torch_s'] * 1e3:9.2f} {row['ratio']:5.2f}x {row['gpu_samples_s']:17,.0f} "
              f"{cpu} {(f'{speedup:7.1f}x' if speedup else '-'):>8}", flush=True)
    return results


def _why_no_gpu():
    from zerograd.backend import unavailable_reason
    return unavailable_reason("cuda") or "unknown reason"


def accuracy(args):
    """ResNet-18-small on Fashion-MNIST with the CLI on the GPU; returns the summary."""
    if not 1 <= args.epochs <= 10:
        raise SystemExit("--epochs must be between 1 and 10 for --accuracy")
    out = args.out or str(HERE / "results" / "gpu-resnet18-fashion-mnist")
    command = [sys.executable, "-m", "zerograd", "train", "--model", "resnet18", "--data",
               "fashion-mnist", "--device", "cpu" if args.dry_run else "cuda",
               "--epochs", str(args.epochs), "--optimizer", "adam", "--lr", "0.001",
               "--scheduler", "onecycle", "--batch-size", "128", "--out", out, "--overwrite",
               "--json", "--no-progress"]
    if args.data_dir:
        command += ["--data-dir", args.data_dir]
    if args.dry_run:
        command += ["--limit", "64"]
    print("command:", " ".join(command[1:]), flush=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    result = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise SystemExit(f"training failed (exit {result.returncode})")
    summary = json.loads(result.stdout)
    print(f"ResNet-18-small, {summary['epochs']} epochs on "
          f"{'the CPU (dry run)' if args.dry_run else 'the GPU'}: test accuracy "
          f"{summary['test_acc']:.4f} in {summary['seconds']:.0f} s", flush=True)
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated, from {', '.join(MODELS)}")
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the frameworks")
    parser.add_argument("--steps", type=int, default=10, help="training steps per timing")
    parser.add_argument("--cpu-steps", type=int, default=2, dest="cpu_steps",
                        help="zerograd CPU steps for the throughput baseline (0: skip)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--dry-run", action="store_true", dest="dry_run",
                        help="run everything on the CPU with tiny sizes (checks the script)")
    parser.add_argument("--accuracy", action="store_true",
                        help="train ResNet-18-small on Fashion-MNIST on the GPU instead")
    parser.add_argument("--epochs", type=int, default=5, help="--accuracy: epochs (<= 10)")
    parser.add_argument("--data-dir", dest="data_dir", help="--accuracy: Fashion-MNIST folder")
    parser.add_argument("--out", help="--accuracy: run folder")
    args = parser.parse_args()
    args.models = [m for m in args.models.split(",") if m]
    unknown = sorted(set(args.models) - set(MODELS))
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    if args.dry_run:
        args.rounds, args.steps, args.cpu_steps = 1, 1, min(args.cpu_steps, 1)
    results = accuracy(args) if args.accuracy else benchmark(args)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
