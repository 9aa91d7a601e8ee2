"""Attention speed, zerograd vs PyTorch in the same run (issue 14's targets).

    python benchmarks/bench_attention.py [--threads N] [--rounds R] [--case mha|encoder|all]

* ``mha``: ``nn.MultiheadAttention`` forward + backward, self-attention on batch 32,
  sequence 128, embed 256, 8 heads (batch_first, need_weights=False), loss = output sum.
* ``encoder``: one training step (forward, MSE loss, backward, Adam step) of a 4-layer
  ``nn.TransformerEncoder`` (d_model 256, 8 heads, feed-forward 1024, dropout 0.1,
  batch_first) on the same input size.

Both frameworks get the same weights and inputs. They alternate, one step each, ``--rounds``
times after a warm-up; the median wall time of each and the median of the per-round
ratios are reported. ``--threads`` sets both thread counts (BLAS via its environment
variables, set before NumPy and torch are imported).
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import set_threads  # noqa: E402

BATCH, SEQ, EMBED, HEADS, FF, LAYERS = 32, 128, 256, 8, 1024, 4


def mha_step(lib, x, module):
    def step():
        module.zero_grad()
        out, _ = module(x, x, x, need_weights=False)
        out.sum().backward()
    return step


def encoder_step(lib, x, target, module, opt):
    def step():
        opt.zero_grad()
        loss = ((module(x) - target) ** 2).mean()
        loss.backward()
        opt.step()
    return step


def build(lib, case, state, x_np, t_np):
    """(step function) for one library, with ``state`` (torch's state_dict as NumPy)."""
    if case == "mha":
        module = lib.nn.MultiheadAttention(EMBED, HEADS, batch_first=True)
    else:
        layer = lib.nn.TransformerEncoderLayer(EMBED, HEADS, FF, dropout=0.1, batch_first=True)
        module = lib.nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)
    module.load_state_dict({k: lib.tensor(v) for k, v in state.items()})
    module.train()
    x = lib.tensor(x_np)
    if case == "mha":
        x.requires_grad_(True)
        return mha_step(lib, x, module)
    opt = lib.optim.Adam(module.parameters(), lr=1e-4)
    return encoder_step(lib, x, lib.tensor(t_np), module, opt)


def run_case(case, rounds):
    import numpy as np
    import torch

    import zerograd as zg
    torch.manual_seed(0)
    if case == "mha":
        ref = torch.nn.MultiheadAttention(EMBED, HEADS, batch_first=True)
    else:
        ref = torch.nn.TransformerEncoder(
            torch.nn.TransformerEncoderLayer(EMBED, HEADS, FF, dropout=0.1, batch_first=True),
            LAYERS, enable_nested_tensor=False)
    state = {k: v.detach().numpy().copy() for k, v in ref.state_dict().items()}
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((BATCH, SEQ, EMBED)).astype(np.float32)
    t_np = rng.standard_normal((BATCH, SEQ, EMBED)).astype(np.float32)
    steps = {"zerograd": build(zg, case, state, x_np, t_np),
             "torch": build(torch, case, state, x_np, t_np)}
    times = {name: [] for name in steps}
    for fn in steps.values():  # warm-up
        fn()
    for _ in range(rounds):
        for name, fn in steps.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    z, t = statistics.median(times["zerograd"]), statistics.median(times["torch"])
    ratio = statistics.median(a / b for a, b in zip(times["zerograd"], times["torch"]))
    label = {"mha": f"MultiheadAttention fwd+bwd ({BATCH}x{SEQ}x{EMBED}, {HEADS} heads)",
             "encoder": f"TransformerEncoder x{LAYERS} train step"}[case]
    print(f"{label:<58} zerograd {z * 1e3:8.1f} ms   torch {t * 1e3:8.1f} ms   "
          f"ratio {ratio:5.2f}x")
    return z, t, ratio


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--case", choices=["mha", "encoder", "all"], default="all")
    args = parser.parse_args(argv)
    set_threads(args.threads)
    import torch
    torch.set_num_threads(args.threads)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(args.threads)
    except ImportError:
        pass
    print(f"threads={args.threads} rounds={args.rounds}")
    for case in (["mha", "encoder"] if args.case == "all" else [args.case]):
        run_case(case, args.rounds)


if __name__ == "__main__":
    main()
