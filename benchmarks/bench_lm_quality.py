"""Validation perplexity of zerograd's language models against a PyTorch twin.

    python benchmarks/bench_lm_quality.py [--model lstm-lm|gru-lm|rnn-lm] [--data tang300]
        [--limit TOKENS] [--epochs E] [--hidden H] [--embed E] [--layers L]
        [--batch-size B] [--num-steps T] [--lr LR] [--optimizer adam|sgd] [--threads N]

Both frameworks train the same architecture (``zerograd.models.rnn_lm``: embedding,
recurrent stack, linear head) from the same initial weights (zerograd's, copied into
torch), on the same batches in the same order (zerograd's sequential partitions, drawn
once per epoch and fed to both), with the same optimizer, gradient clipping (norm 1, as
d2l) and epochs, carrying the state across batches (truncated BPTT). Each epoch prints
the validation perplexity of both and their ratio; the issue's target is within 5%.
"""
import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import set_threads  # noqa: E402


def parse():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="lstm-lm", choices=["rnn-lm", "gru-lm", "lstm-lm"])
    p.add_argument("--data", default="tang300", help="a corpus name or text:PATH")
    p.add_argument("--limit", type=int, default=None, help="first N tokens of the corpus")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--num-steps", type=int, default=35)
    p.add_argument("--lr", type=float, default=0.005)
    p.add_argument("--optimizer", default="adam", choices=["adam", "sgd"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def torch_twin(torch, name, vocab, embed, hidden, layers):
    cell = {"rnn-lm": torch.nn.RNN, "gru-lm": torch.nn.GRU, "lstm-lm": torch.nn.LSTM}[name]

    class Twin(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(vocab, embed)
            self.rnn = cell(embed, hidden, layers)
            self.linear = torch.nn.Linear(hidden, vocab)

        def forward(self, x, state=None):
            y, state = self.rnn(self.embedding(x.T), state)
            return self.linear(y.reshape(-1, y.shape[-1])), state
    return Twin()


def detach(state):
    if state is None:
        return None
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def main():
    args = parse()
    set_threads(args.threads)
    import torch

    import zerograd as zg
    from zerograd.datasets.text import LanguageModelDataset, Vocab, split_corpus
    from zerograd.datasets.text import tokenize
    from zerograd.models.rnn_lm import build_lm
    from zerograd.train.text import load_lm_text
    torch.set_num_threads(args.threads)

    spec = args.data if args.data.startswith("text:") else "text:" + args.data
    text, _ = load_lm_text(spec)
    tokens = tokenize(text, "char")
    vocab = Vocab(tokens)
    corpus = vocab.encode(tokens)[:args.limit] if args.limit else vocab.encode(tokens)
    train, val = split_corpus(corpus, 0.1)
    gen = zg.Generator().manual_seed(args.seed + 1)
    train_set = LanguageModelDataset(train, args.batch_size, args.num_steps, generator=gen)
    val_set = LanguageModelDataset(val, max(1, min(args.batch_size,
                                                   (len(val) - 1) // args.num_steps)),
                                   args.num_steps, random_offset=False)

    zg.manual_seed(args.seed)
    zmodel = build_lm(args.model, len(vocab), args.embed, args.hidden, args.layers)
    tmodel = torch_twin(torch, args.model, len(vocab), args.embed, args.hidden, args.layers)
    tmodel.load_state_dict({k: torch.tensor(v.detach().numpy())
                            for k, v in zmodel.state_dict().items()})
    if args.optimizer == "adam":
        zopt = zg.optim.Adam(zmodel.parameters(), lr=args.lr)
        topt = torch.optim.Adam(tmodel.parameters(), lr=args.lr)
    else:
        zopt = zg.optim.SGD(zmodel.parameters(), lr=args.lr)
        topt = torch.optim.SGD(tmodel.parameters(), lr=args.lr)
    frameworks = {"zerograd": (zg, zmodel, zopt), "torch": (torch, tmodel, topt)}
    print(f"{args.model} on {args.data}: {len(train)} train / {len(val)} val tokens, vocab "
          f"{len(vocab)}, hidden {args.hidden} x {args.layers}, embed {args.embed}, batch "
          f"{args.batch_size} x {args.num_steps} steps, {args.optimizer} lr {args.lr}, "
          f"{args.threads} thread(s)")

    def perplexity(lib, model, batches):
        model.eval()
        total, count, state = 0.0, 0, None
        with lib.no_grad():
            for x, y in batches:
                out, state = model(lib.tensor(x), state)
                total += lib.nn.functional.cross_entropy(
                    out, lib.tensor(y).T.reshape(-1)).item() * y.size
                count += y.size
        return math.exp(total / count)

    val_batches = [(x.numpy(), y.numpy()) for x, y in val_set]
    seconds = {name: 0.0 for name in frameworks}
    for epoch in range(1, args.epochs + 1):
        batches = [(x.numpy(), y.numpy()) for x, y in train_set]  # one draw, both frameworks
        result = {}
        for name, (lib, model, opt) in frameworks.items():
            start = time.perf_counter()
            model.train()
            state = None
            for x, y in batches:
                state = detach(state)
                out, state = model(lib.tensor(x), state)
                loss = lib.nn.functional.cross_entropy(out, lib.tensor(y).T.reshape(-1))
                opt.zero_grad()
                loss.backward()
                lib.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
            seconds[name] += time.perf_counter() - start
            result[name] = perplexity(lib, model, val_batches)
        print(f"epoch {epoch}: validation perplexity zerograd {result['zerograd']:.3f}  "
              f"torch {result['torch']:.3f}  ratio {result['zerograd'] / result['torch']:.4f}",
              flush=True)
    print(f"training time: zerograd {seconds['zerograd']:.1f}s  torch {seconds['torch']:.1f}s")
    return 0 if abs(result["zerograd"] / result["torch"] - 1) <= 0.05 else 1


if __name__ == "__main__":
    sys.exit(main())
