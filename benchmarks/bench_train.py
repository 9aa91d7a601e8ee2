"""Training-epoch time and peak memory: zerograd vs PyTorch (CPU), same models, same data.

    python benchmarks/bench_train.py [--models softmax,mlp,lenet,resnet18] [--limit 2000]
                                     [--epochs 2] [--batch-size 128] [--rounds 3] [--threads 1]

Each measurement is one subprocess (so peak RSS belongs to one framework alone) that
trains a model from ``zerograd.models`` -- for PyTorch the very same source file run with
``torch.nn`` -- with Adam and cross-entropy on the first ``--limit`` Fashion-MNIST
training images (``--limit 0``: all 60,000), shuffled by each framework's DataLoader.
Rounds alternate which framework goes first; the reported ratio is the median over
rounds of zerograd's epoch time / PyTorch's. The first epoch of a process is a warm-up
and is not timed when there are more. Needs the Fashion-MNIST IDX files (see Makefile).
"""
import argparse
import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from _timing import set_threads  # noqa: E402

FMNIST_DIRS = [os.environ.get("ZEROGRAD_DATA", ""), "/usr/share/datasets/fashion-mnist",
               os.path.expanduser("~/.cache/zerograd/fashion-mnist")]


def _read_idx(path):
    import numpy as np
    with open(path, "rb") as handle:
        raw = handle.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    ndim = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_fashion_mnist(limit):
    """The first ``limit`` training images as float32 (N, 1, 28, 28) in [0, 1], int64 labels."""
    for folder in FMNIST_DIRS:
        images = [Path(folder) / f"train-images-idx3-ubyte{s}" for s in (".gz", "")]
        labels = [Path(folder) / f"train-labels-idx1-ubyte{s}" for s in (".gz", "")]
        found = [p for p in images if p.is_file()], [p for p in labels if p.is_file()]
        if folder and found[0] and found[1]:
            x, y = _read_idx(found[0][0]), _read_idx(found[1][0])
            n = len(y) if not limit else limit
            return (x[:n].reshape(-1, 1, 28, 28).astype("float32") / 255.0,
                    y[:n].astype("int64"))
    sys.exit("Fashion-MNIST not found (looked in $ZEROGRAD_DATA, "
             "/usr/share/datasets/fashion-mnist, ~/.cache/zerograd/fashion-mnist)")


def build_model(framework, name):
    """The zoo model ``name``; for torch, the zoo's source executed with torch.nn."""
    from zerograd import models
    if framework == "zerograd":
        return models.get_model(name, (1, 28, 28), 10)
    module = models.MODELS[name][0]
    source = Path(module.__file__).read_text()
    source = source.replace("from zerograd import nn", "from torch import nn")
    source = re.sub(r"from zerograd\.ops import (\w+)", r"from torch import \1", source)
    namespace = {"__name__": f"torch_{name}"}
    exec(compile(source, module.__file__, "exec"), namespace)
    return namespace["build"](name, (1, 28, 28), 10)


def worker(args):
    """One framework, one model: train, print a JSON line with epoch times and peak RSS."""
    import resource
    set_threads(args.threads)
    x, y = load_fashion_mnist(args.limit)
    if args.framework == "torch":
        import torch
    else:
        import zerograd as torch
    torch.set_num_threads(args.threads)  # both frameworks own their threads
    torch.manual_seed(0)
    model = build_model(args.framework, args.model)
    data = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    loader = torch.utils.data.DataLoader(data, batch_size=args.batch_size, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    times, losses = [], []
    model.train()
    for _ in range(args.epochs):
        start, total = time.perf_counter(), 0.0
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(yb)
        times.append(time.perf_counter() - start)
        losses.append(total / len(y))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"epoch_times": times, "losses": losses, "peak_rss_mb": peak_mb}))


def run_worker(framework, model, args):
    command = [sys.executable, __file__, "--worker", "--framework", framework, "--models", model,
               "--limit", str(args.limit), "--epochs", str(args.epochs),
               "--batch-size", str(args.batch_size), "--threads", str(args.threads)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"{framework} {model} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def epoch_time(report):
    times = report["epoch_times"]
    return statistics.median(times[1:] if len(times) > 1 else times)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="softmax,mlp,lenet,resnet18")
    parser.add_argument("--limit", type=int, default=2000, help="training images (0: all)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per process")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--framework", choices=("zerograd", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.model = args.models
        return worker(args)
    print(f"Fashion-MNIST {'all' if not args.limit else args.limit} images, batch "
          f"{args.batch_size}, Adam, {args.epochs} epoch(s)/process, {args.rounds} rounds, "
          f"threads={args.threads}")
    print(f"{'model':<10} {'zerograd s/epoch':>17} {'torch s/epoch':>14} {'ratio':>7} "
          f"{'zg RSS MB':>10} {'torch RSS MB':>13} {'zg loss':>8} {'torch loss':>10}")
    for model in args.models.split(","):
        reports = {"zerograd": [], "torch": []}
        for r in range(args.rounds):
            order = ("zerograd", "torch") if r % 2 == 0 else ("torch", "zerograd")
            for framework in order:
                reports[framework].append(run_worker(framework, model, args))
        z = [epoch_time(rep) for rep in reports["zerograd"]]
        t = [epoch_time(rep) for rep in reports["torch"]]
        ratio = statistics.median(a / b for a, b in zip(z, t))
        rss = {k: max(rep["peak_rss_mb"] for rep in v) for k, v in reports.items()}
        loss = {k: v[-1]["losses"][-1] for k, v in reports.items()}
        print(f"{model:<10} {statistics.median(z):17.3f} {statistics.median(t):14.3f} "
              f"{ratio:6.2f}x {rss['zerograd']:10.0f} {rss['torch']:13.0f} "
              f"{loss['zerograd']:8.4f} {loss['torch']:10.4f}", flush=True)


if __name__ == "__main__":
    main()
