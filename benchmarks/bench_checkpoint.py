"""Peak memory of one training step with and without activation checkpointing.

    python benchmarks/bench_checkpoint.py [--blocks 20] [--width 256] [--batch 256]
                                          [--threads N]

Model: a linear stem, a stack of ``--blocks`` residual MLP blocks, ``x + W2 relu(W1 x)``
with hidden width 4 x ``--width`` (a Transformer's feed-forward block without the
attention), then a linear head and cross-entropy. One training step (forward, loss,
backward, SGD step) runs three ways: plainly, with every block under
``checkpoint(block, x, use_reentrant=False)``, and with ``use_reentrant=True``.

Memory is measured with ``tracemalloc`` (NumPy reports its array buffers to it): the
baseline is what is allocated before the forward pass (parameters, their gradients from
a previous step, the batch); "activation memory" is the step's peak minus that baseline,
i.e. what the forward keeps for backward plus backward's own temporaries. The plain
stack keeps each block's input and its 4x-wide hidden activation; the checkpointed one
keeps only the blocks' inputs and recomputes one block's activations at a time.
"""
import argparse
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import set_threads  # noqa: E402


def build(zg, blocks, width):
    nn = zg.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(width, 4 * width)
            self.fc2 = nn.Linear(4 * width, width)

        def forward(self, x):
            return x + self.fc2(self.fc1(x).relu())

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Linear(width, width)  # so the blocks' input requires grad
            self.blocks = nn.ModuleList([Block() for _ in range(blocks)])
            self.head = nn.Linear(width, 10)
            self.mode = "plain"

        def forward(self, x):
            from zerograd.utils.checkpoint import checkpoint
            x = self.stem(x)
            for block in self.blocks:
                if self.mode == "plain":
                    x = block(x)
                else:
                    x = checkpoint(block, x, use_reentrant=self.mode == "reentrant")
            return self.head(x)

    return Net()


def step_memory(zg, net, opt, x, y, mode):
    """(activation bytes at the peak, seconds) of one training step in ``mode``."""
    net.mode = mode
    loss_fn = zg.nn.functional.cross_entropy
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    start = time.perf_counter()
    loss = loss_fn(net(x), y)
    loss.backward()
    opt.step()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    opt.zero_grad(set_to_none=False)  # keep .grad allocated: the next baseline includes it
    return peak - baseline, seconds, float(loss)


def measure(blocks=20, width=256, batch=256, seed=0):
    """{mode: (activation bytes, seconds, loss)} for the three modes, same weights and data."""
    import zerograd as zg
    zg.manual_seed(seed)
    net = build(zg, blocks, width)
    opt = zg.optim.SGD(net.parameters(), lr=1e-3)
    x = zg.randn(batch, width)
    y = zg.randint(0, 10, (batch,))
    for p in net.parameters():  # gradients allocated, as in every step after the first
        p.grad = zg.zeros_like(p)
    with zg.no_grad():
        snapshot = [p.clone() for p in net.parameters()]
    results = {}
    for mode in ("plain", "checkpoint", "reentrant"):
        with zg.no_grad():  # every mode starts from the same weights
            for p, s in zip(net.parameters(), snapshot):
                p.copy_(s)
        step_memory(zg, net, opt, x, y, mode)  # warm-up (lazy allocations, caches)
        with zg.no_grad():
            for p, s in zip(net.parameters(), snapshot):
                p.copy_(s)
        results[mode] = step_memory(zg, net, opt, x, y, mode)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    set_threads(args.threads)
    results = measure(args.blocks, args.width, args.batch)
    plain = results["plain"][0]
    print(f"{args.blocks} residual MLP blocks, width {args.width} (hidden {4 * args.width}), "
          f"batch {args.batch}, float32")
    for mode, (activation, seconds, loss) in results.items():
        saved = 1 - activation / plain
        print(f"{mode:<11} activation memory {activation / 2**20:8.1f} MiB   "
              f"({saved:6.1%} less than plain)   step {seconds * 1e3:7.1f} ms   loss {loss:.6f}")


if __name__ == "__main__":
    main()
