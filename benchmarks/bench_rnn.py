"""Training-step time of an LSTM language model, zerograd vs PyTorch (d2l's RNNModel).

    python benchmarks/bench_rnn.py [--threads N] [--rounds R] [--cell lstm|gru|rnn]
                                   [--input onehot|embedding] [--profile]

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
"""
import argparse
import statistics
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


def build_pair(np, torch, zg, cell, one_hot):
    torch.manual_seed(0)
    t_model = language_model(torch, cell, one_hot)
    z_model = language_model(zg, cell, one_hot)
    z_model.load_state_dict({k: zg.tensor(v.detach().numpy().copy())
                             for k, v in t_model.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.integers(0, VOCAB, (BATCH, STEPS))
    y = rng.integers(0, VOCAB, (BATCH, STEPS))

    def step(lib, model, tokens, targets):
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

    z_step = step(zg, z_model, zg.tensor(x), zg.tensor(y))
    t_step = step(torch, t_model, torch.tensor(x), torch.tensor(y))
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


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--cell", choices=["lstm", "gru", "rnn"], default="lstm")
    parser.add_argument("--input", choices=["onehot", "embedding"], default="onehot")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    set_threads(args.threads)
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
