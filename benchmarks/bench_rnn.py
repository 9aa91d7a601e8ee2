"""Training-step time of an LSTM language model, zerograd vs PyTorch (d2l's RNNModel).

    python benchmarks/bench_rnn.py [--threads N] [--rounds R] [--cell lstm|gru|rnn]
                                   [--input onehot|embedding] [--profile] [--isolate [K]]

The model is d2l's ``RNNModel``: one-hot tokens of a 1000-word vocabulary (or, with
``--input embedding``, a 32-wide embedding), a 2-layer LSTM of hidden size 256, a linear
decoder to the vocabulary; batch 32 of 35-step sequences, float32, the same weights in
both frameworks. One step is forward, cross-entropy loss and backward, with the state carried
over from the previous step and detached (truncated BPTT, as d2l's ``train_epoch``).

The frameworks alternate, one step each, ``--rounds`` times; the median wall time and
the median CPU time (``time.process_time``: what the process itself used, steadier on a
busy machine) of each are reported with the median of the per-round ratios.
``--threads`` sets the thread count of both (NumPy's BLAS via its environment variables,
set before NumPy is imported).

``--isolate K`` runs each framework in its own process instead, alternating K processes of
each (zerograd's never imports torch): with several threads, one framework's idle BLAS or
OpenMP threads spinning would otherwise slow the other. Each process builds its model
(own seeded init), runs a warm-up and ``--rounds`` timed steps; the medians over all
processes' steps and their ratio are printed, with each framework's peak resident memory:
the process's peak (``VmHWM``) and the peak growth during the steps over the resident
memory after building the model (``/proc/self/clear_refs`` resets the peak).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import set_threads  # noqa: E402

VOCAB, EMBED, HIDDEN, LAYERS, BATCH, STEPS = 1000, 32, 256, 2, 32, 35


def language_model(lib, cell, one_hot):
    nn = lib.nn
    layer = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell]

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            if not one_hot:
                self.embedding = nn.Embedding(VOCAB, EMBED)
            self.rnn = layer(VOCAB if one_hot else EMBED, HIDDEN, LAYERS)
            self.decoder = nn.Linear(HIDDEN, VOCAB)

        def forward(self, tokens, state):
            if one_hot:
                x = nn.functional.one_hot(tokens.T, VOCAB).to(lib.float32)
            else:
                x = self.embedding(tokens.T)
            out, state = self.rnn(x, state)
            return self.decoder(out.reshape(-1, HIDDEN)), state

    return LM()


def make_step(lib, model, tokens, targets, cell):
    """One training step of ``model`` (truncated BPTT: the carried state is detached)."""
    loss_fn = lib.nn.CrossEntropyLoss()
    zeros = lib.zeros(LAYERS, BATCH, HIDDEN)
    box = [(zeros, zeros) if cell == "lstm" else zeros]

    def run():
        state = box[0]
        state = tuple(s.detach() for s in state) if cell == "lstm" else state.detach()
        model.zero_grad()
        logits, state = model(tokens, state)
        loss = loss_fn(logits, targets.T.reshape(-1))
        loss.backward()
        box[0] = state
        return loss
    return run


def build_pair(np, torch, zg, cell, one_hot):
    torch.manual_seed(0)
    t_model = language_model(torch, cell, one_hot)
    z_model = language_model(zg, cell, one_hot)
    z_model.load_state_dict({k: zg.tensor(v.detach().numpy().copy())
                             for k, v in t_model.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.integers(0, VOCAB, (BATCH, STEPS))
    y = rng.integers(0, VOCAB, (BATCH, STEPS))

    z_step = make_step(zg, z_model, zg.tensor(x), zg.tensor(y), cell)
    t_step = make_step(torch, t_model, torch.tensor(x), torch.tensor(y), cell)
    z_loss, t_loss = z_step().item(), t_step().item()
    if abs(z_loss - t_loss) > 1e-3 * max(1.0, abs(t_loss)):
        raise AssertionError(f"losses differ: zerograd {z_loss} vs torch {t_loss}")
    return z_step, t_step


def alternate(z_step, t_step, rounds):
    """Median wall and CPU seconds of each step function, and the median ratios."""
    times = {"zg": ([], []), "torch": ([], [])}
    z_step(), t_step()  # warm-up
    for _ in range(rounds):
        for name, step in (("zg", z_step), ("torch", t_step)):
            wall, cpu = time.perf_counter(), time.process_time()
            step()
            times[name][0].append(time.perf_counter() - wall)
            times[name][1].append(time.process_time() - cpu)
    for k, clock in enumerate(("wall", "cpu")):
        z, t = times["zg"][k], times["torch"][k]
        ratio = statistics.median(a / b for a, b in zip(z, t))
        print(f"  {clock:<5} zerograd {statistics.median(z) * 1e3:8.1f} ms   torch "
              f"{statistics.median(t) * 1e3:8.1f} ms   ratio {ratio:5.2f}x")


def _memory_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def worker(framework, args):
    """One framework alone in this process: step times and peak memory as one JSON line."""
    import numpy as np
    if framework == "torch":
        import torch as lib
        lib.set_num_threads(args.threads)
    else:
        import zerograd as lib
    lib.manual_seed(0)
    model = language_model(lib, args.cell, args.input == "onehot")
    rng = np.random.default_rng(0)
    tokens = lib.tensor(rng.integers(0, VOCAB, (BATCH, STEPS)))
    targets = lib.tensor(rng.integers(0, VOCAB, (BATCH, STEPS)))
    step = make_step(lib, model, tokens, targets, args.cell)
    base = _memory_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:  # reset VmHWM to the current RSS
        f.write("5")
    step()  # warm-up
    wall, cpu = [], []
    for _ in range(args.rounds):
        w, c = time.perf_counter(), time.process_time()
        step()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    peak = _memory_kib("VmHWM")
    print(json.dumps({"wall": wall, "cpu": cpu, "base_kib": base, "peak_kib": peak}))


def isolated(args):
    """Alternate ``args.isolate`` worker processes of each framework; print the medians."""
    results = {"zerograd": [], "torch": []}
    for _ in range(args.isolate):
        for name in results:
            cmd = [sys.executable, __file__, "--worker", name, "--threads", str(args.threads),
                   "--rounds", str(args.rounds), "--cell", args.cell, "--input", args.input]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True,
                                  env=dict(os.environ))
            results[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"threads={args.threads}  {args.cell} LM ({args.input}), each framework in its own "
          f"process, {args.isolate} processes x {args.rounds} steps each")
    medians = {}
    for name, runs in results.items():
        medians[name] = {clock: statistics.median(t for r in runs for t in r[clock])
                         for clock in ("wall", "cpu")}
    for clock in ("wall", "cpu"):
        z, t = medians["zerograd"][clock], medians["torch"][clock]
        print(f"  {clock:<5} zerograd {z * 1e3:8.1f} ms   torch {t * 1e3:8.1f} ms   "
              f"ratio {z / t:5.2f}x")
    for name, runs in results.items():
        peak = max(r["peak_kib"] for r in runs) / 1024
        growth = max(r["peak_kib"] - r["base_kib"] for r in runs) / 1024
        print(f"  memory {name:<8} peak RSS {peak:7.1f} MiB   growth during the steps "
              f"{growth:6.1f} MiB")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--cell", choices=["lstm", "gru", "rnn"], default="lstm")
    parser.add_argument("--input", choices=["onehot", "embedding"], default="onehot")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--isolate", type=int, nargs="?", const=3, default=0, metavar="K")
    parser.add_argument("--worker", choices=["zerograd", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    set_threads(args.threads)
    if args.worker:
        return worker(args.worker, args)
    if args.isolate:
        return isolated(args)
    import numpy as np
    import torch
    import zerograd as zg
    torch.set_num_threads(args.threads)
    z_step, t_step = build_pair(np, torch, zg, args.cell, args.input == "onehot")
    if args.profile:
        import cProfile
        import pstats
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(5):
            z_step()
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return
    print(f"threads={args.threads}  {args.cell} LM ({args.input}): vocab {VOCAB}, hidden {HIDDEN}, "
          f"{LAYERS} layers, batch {BATCH} x {STEPS} steps  numpy {np.__version__}  "
          f"torch {torch.__version__}")
    alternate(z_step, t_step, args.rounds)


if __name__ == "__main__":
    main()
