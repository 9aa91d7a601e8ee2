"""Attention speed and memory, zerograd vs PyTorch (issue 14's targets).

    python benchmarks/bench_attention.py [--threads N] [--rounds R] [--case mha|encoder|all]
    python benchmarks/bench_attention.py --separate [--threads N] [--repeats K]
    python benchmarks/bench_attention.py --long

* ``mha``: ``nn.MultiheadAttention`` forward + backward, self-attention on batch 32,
  sequence 128, embed 256, 8 heads (batch_first, need_weights=False), loss = output sum.
* ``encoder``: one training step (forward, MSE loss, backward, Adam step) of a 4-layer
  ``nn.TransformerEncoder`` (d_model 256, 8 heads, feed-forward 1024, dropout 0.1,
  batch_first) on the same input size.

Both frameworks get the same weights and inputs. By default they run in one process and
alternate, one step each, ``--rounds`` times after a warm-up; the median wall time of each
and the median of the per-round ratios are printed. ``--threads`` sets both thread counts
(BLAS via its environment variables, set before NumPy and torch are imported).

``--separate`` runs each framework in a process of its own (importing only itself), the
two alternating ``--repeats`` times: no second thread pool spins while the other framework
works (which skews 2-thread timings in one process), and each process's peak RSS
(``ru_maxrss``) is that framework's alone. Reported: medians over the repeats, their ratio.

``--long``: one training step of a causal language model at sequence length 2,048 (batch
4, embed 256, 4 heads, 2 layers, feed-forward 1024, dropout 0), each framework in its own
process: wall time, peak RSS, and for zerograd the traced peak of NumPy's allocations
(tracemalloc) in units of one (B, H, L, L) float32 probability matrix (256 MiB).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import set_threads  # noqa: E402

BATCH, SEQ, EMBED, HEADS, FF, LAYERS = 32, 128, 256, 8, 1024, 4
LONG = dict(batch=4, seq=2048, embed=256, heads=4, layers=2, ff=1024, vocab=256)
LABELS = {"mha": f"MultiheadAttention fwd+bwd ({BATCH}x{SEQ}x{EMBED}, {HEADS} heads)",
          "encoder": f"TransformerEncoder x{LAYERS} train step"}


# -- the two workloads ------------------------------------------------------------------------
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


def make_module(lib, case):
    if case == "mha":
        return lib.nn.MultiheadAttention(EMBED, HEADS, batch_first=True)
    layer = lib.nn.TransformerEncoderLayer(EMBED, HEADS, FF, dropout=0.1, batch_first=True)
    return lib.nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)


def build(lib, case, state, x_np, t_np):
    """The step function of one library, its module loaded with ``state`` (NumPy arrays)."""
    module = make_module(lib, case)
    module.load_state_dict({k: lib.tensor(v) for k, v in state.items()})
    module.train()
    x = lib.tensor(x_np)
    if case == "mha":
        x.requires_grad_(True)
        return mha_step(lib, x, module)
    opt = lib.optim.Adam(module.parameters(), lr=1e-4)
    return encoder_step(lib, x, lib.tensor(t_np), module, opt)


def make_data(case):
    """(state, x, target): zerograd's initial weights (torch's names) and inputs, as NumPy."""
    import numpy as np

    import zerograd as zg
    zg.manual_seed(0)
    state = {k: v.detach().numpy().copy() for k, v in make_module(zg, case).state_dict().items()}
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, SEQ, EMBED)).astype(np.float32)
    t = rng.standard_normal((BATCH, SEQ, EMBED)).astype(np.float32)
    return state, x, t


def set_torch_threads(threads):
    import torch
    torch.set_num_threads(threads)


def timed(fn, rounds):
    fn()  # warm-up
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


# -- one process, alternating -------------------------------------------------------------------
def run_case(case, rounds):
    import torch

    import zerograd as zg
    state, x_np, t_np = make_data(case)
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
    print(f"{LABELS[case]:<58} zerograd {z * 1e3:8.1f} ms   torch {t * 1e3:8.1f} ms   "
          f"ratio {ratio:5.2f}x")
    return z, t, ratio


# -- one process per framework ------------------------------------------------------------------
def _peak_rss_mib():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def worker(lib_name, case, data_path, rounds, threads):
    """Runs in a child: time ``rounds`` steps of one framework; print a JSON line."""
    import numpy as np
    if lib_name == "torch":
        import torch as lib
        set_torch_threads(threads)
    else:
        import zerograd as lib
    with np.load(data_path) as data:
        state = {k[6:]: data[k] for k in data.files if k.startswith("state.")}
        step = build(lib, case, state, data["x"], data["t"])
    times = timed(step, rounds)
    print(json.dumps({"median": statistics.median(times), "rss_mib": _peak_rss_mib()}))


def _spawn(args):
    out = subprocess.run([sys.executable, __file__] + args, capture_output=True, text=True,
                         check=True, env=os.environ.copy())
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_separate(case, rounds, repeats, threads):
    import numpy as np
    state, x, t = make_data(case)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "data.npz")
        np.savez(path, x=x, t=t, **{f"state.{k}": v for k, v in state.items()})
        results = {"zerograd": [], "torch": []}
        for _ in range(repeats):
            for name in results:
                results[name].append(_spawn(["--worker", name, "--case", case, "--data", path,
                                             "--rounds", str(rounds),
                                             "--threads", str(threads)]))
    z = statistics.median(r["median"] for r in results["zerograd"])
    t_ = statistics.median(r["median"] for r in results["torch"])
    rss = {n: max(r["rss_mib"] for r in rs) for n, rs in results.items()}
    print(f"{LABELS[case]:<58} zerograd {z * 1e3:8.1f} ms   torch {t_ * 1e3:8.1f} ms   "
          f"ratio {z / t_:5.2f}x   peak RSS zerograd {rss['zerograd']:6.0f} MiB, "
          f"torch {rss['torch']:6.0f} MiB")
    return z, t_, rss


# -- the long causal LM step --------------------------------------------------------------------
def long_worker(lib_name, threads):
    """One causal-LM training step at sequence 2,048 in this process; print a JSON line."""
    import tracemalloc

    import numpy as np
    c = LONG
    if lib_name == "torch":
        import torch as lib
        set_torch_threads(threads)
    else:
        import zerograd as lib
    lib.manual_seed(0)
    embed = lib.nn.Embedding(c["vocab"], c["embed"])
    layer = lib.nn.TransformerEncoderLayer(c["embed"], c["heads"], c["ff"], dropout=0.0,
                                           batch_first=True)
    encoder = lib.nn.TransformerEncoder(layer, c["layers"], enable_nested_tensor=False)
    head = lib.nn.Linear(c["embed"], c["vocab"])
    params = list(embed.parameters()) + list(encoder.parameters()) + list(head.parameters())
    opt = lib.optim.Adam(params, lr=1e-4)
    tokens = np.random.default_rng(0).integers(0, c["vocab"], (c["batch"], c["seq"] + 1))
    x, y = lib.tensor(tokens[:, :-1]), lib.tensor(tokens[:, 1:])
    mask = lib.nn.Transformer.generate_square_subsequent_mask(c["seq"])

    def step():
        opt.zero_grad()
        h = encoder(embed(x), mask=mask, is_causal=True)
        loss = lib.nn.functional.cross_entropy(head(h).reshape(-1, c["vocab"]), y.reshape(-1))
        loss.backward()
        opt.step()
        return loss.item()

    traced = lib_name == "zerograd"
    if traced:
        tracemalloc.start()
    start = time.perf_counter()
    loss = step()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] if traced else None
    print(json.dumps({"seconds": seconds, "loss": loss, "rss_mib": _peak_rss_mib(),
                      "traced_peak": peak}))


def run_long(threads):
    c = LONG
    probs = c["batch"] * c["heads"] * c["seq"] ** 2 * 4
    print(f"causal LM step: batch {c['batch']}, sequence {c['seq']}, embed {c['embed']}, "
          f"{c['heads']} heads, {c['layers']} layers; one probability matrix = "
          f"{probs / 2 ** 20:.0f} MiB")
    for name in ("zerograd", "torch"):
        r = _spawn(["--long-worker", name, "--threads", str(threads)])
        line = (f"  {name:<9} {r['seconds']:6.2f} s   loss {r['loss']:.3f}   peak RSS "
                f"{r['rss_mib']:6.0f} MiB")
        if r["traced_peak"] is not None:
            line += (f"   traced NumPy peak {r['traced_peak'] / 2 ** 20:6.0f} MiB = "
                     f"{r['traced_peak'] / probs:.2f} probability matrices "
                     f"({c['layers']} layers)")
        print(line)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--case", choices=["mha", "encoder", "all"], default="all")
    parser.add_argument("--separate", action="store_true",
                        help="each framework in its own process (timing and peak RSS)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="with --separate: processes per framework, alternating")
    parser.add_argument("--long", action="store_true",
                        help="the sequence-2,048 causal LM step: time and peak memory")
    parser.add_argument("--worker", choices=["zerograd", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--long-worker", choices=["zerograd", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    set_threads(args.threads)
    if args.worker:
        return worker(args.worker, args.case, args.data, args.rounds, args.threads)
    if args.long_worker:
        return long_worker(args.long_worker, args.threads)
    cases = ["mha", "encoder"] if args.case == "all" else [args.case]
    if args.long:
        print(f"threads={args.threads}")
        return run_long(args.threads)
    if args.separate:
        print(f"threads={args.threads} rounds={args.rounds} repeats={args.repeats}, one process "
              f"per framework")
        for case in cases:
            run_separate(case, args.rounds, args.repeats, args.threads)
        return
    set_torch_threads(args.threads)
    print(f"threads={args.threads} rounds={args.rounds}, both frameworks in one process")
    for case in cases:
        run_case(case, args.rounds)


if __name__ == "__main__":
    main()
