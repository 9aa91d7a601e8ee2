"""One epoch of Fashion-MNIST (60k, batch 256, shuffled): zerograd vs PyTorch DataLoader.

    python benchmarks/bench_data.py [--runs 7] [--threads 1]

Both loaders iterate a TensorDataset of the same float32 N x 1 x 28 x 28 images and
int64 labels; runs alternate between the frameworks and the medians are compared.
Extra rows time zerograd's FashionMNIST dataset with a batched ToTensor transform,
the per-sample path (a custom collate_fn defeats the fast path) and 2 worker threads.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import set_threads  # noqa: E402


def epoch_time(loader):
    start = time.perf_counter()
    for images, labels in loader:
        pass
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    set_threads(args.threads)
    import numpy as np
    import torch
    import torch.utils.data as tdata

    import zerograd as zg
    import zerograd.utils.data as zdata
    from zerograd.datasets import FashionMNIST, transforms
    torch.set_num_threads(args.threads)

    start = time.perf_counter()
    raw = FashionMNIST(train=True)
    print(f"FashionMNIST train loaded from {raw.folder} in {time.perf_counter() - start:.2f} s")
    images = (raw.data.numpy().astype(np.float32) / 255)[:, None]
    labels = raw.targets.numpy()
    bs = args.batch_size

    zg.manual_seed(0)
    torch.manual_seed(0)
    zg_loader = zdata.DataLoader(zdata.TensorDataset(zg.from_numpy(images), zg.from_numpy(labels)),
                                 batch_size=bs, shuffle=True)
    torch_loader = tdata.DataLoader(tdata.TensorDataset(torch.from_numpy(images),
                                                        torch.from_numpy(labels)),
                                    batch_size=bs, shuffle=True)
    epoch_time(zg_loader), epoch_time(torch_loader)  # warm-up
    zg_times, torch_times = [], []
    for _ in range(args.runs):
        zg_times.append(epoch_time(zg_loader))
        torch_times.append(epoch_time(torch_loader))
    z, t = statistics.median(zg_times), statistics.median(torch_times)
    print(f"threads={args.threads} numpy {np.__version__} torch {torch.__version__}; one epoch, "
          f"60000 samples, batch {bs}, shuffle, median of {args.runs}")
    print(f"{'zerograd DataLoader(TensorDataset)':<46} {z * 1e3:9.1f} ms")
    print(f"{'torch DataLoader(TensorDataset)':<46} {t * 1e3:9.1f} ms")
    print(f"{'ratio zerograd / torch':<46} {z / t:9.3f}x  (< 1: zerograd faster)")

    extras = {
        "zerograd FashionMNIST(ToTensor) batched": zdata.DataLoader(
            FashionMNIST(transform=transforms.ToTensor()), batch_size=bs, shuffle=True),
        "zerograd TensorDataset, per-sample collate": zdata.DataLoader(
            zg_loader.dataset, batch_size=bs, shuffle=True,
            collate_fn=lambda batch: zdata.default_collate(batch)),
        "zerograd TensorDataset, num_workers=2": zdata.DataLoader(
            zg_loader.dataset, batch_size=bs, shuffle=True, num_workers=2),
    }
    for name, loader in extras.items():
        epoch_time(loader)
        runs = [epoch_time(loader) for _ in range(max(3, args.runs // 2))]
        print(f"{name:<46} {statistics.median(runs) * 1e3:9.1f} ms")


if __name__ == "__main__":
    main()
