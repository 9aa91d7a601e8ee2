"""Quality of zerograd's Transformer models against a PyTorch twin trained identically.

    python benchmarks/bench_transformer_quality.py --model transformer-lm [--data fortunes]
        [--limit N] [--epochs E] [--embed D] [--ffn F] [--layers L] [--heads H]
        [--positions learned|sinusoidal] [--batch-size B] [--num-steps T] [--lr LR]
        [--threads N] [--seed S]
    python benchmarks/bench_transformer_quality.py --model bert-tiny [...same options]

Both frameworks train the same architecture (``zerograd.models.transformer_lm`` /
``zerograd.models.bert``, rebuilt in torch below with the same module names) from the
same initial weights (zerograd's, copied into torch through the state dict), on the
same batches in the same order (drawn once per epoch, fed to both), with Adam, gradient
clipping to norm 1 and no dropout (so no random stream differs). Each epoch prints the
validation metric of both and their gap:

- ``transformer-lm``: validation perplexity (characters of the corpus, d2l's sequential
  partitions, each sequence read alone); target: within 5%. ``--limit``: tokens.
- ``bert-tiny``: validation masked-LM accuracy (and next-sentence accuracy) on the
  pretraining examples of ``zerograd.datasets.bert_data``; target: within 2 points.
  ``--limit``: paragraphs (fortune entries).

The exit status is 0 when the last epoch meets the target.
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
    p.add_argument("--model", default="transformer-lm", choices=["transformer-lm", "bert-tiny"])
    p.add_argument("--data", default="fortunes", help="a corpus name or text:PATH")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--ffn", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--positions", default="learned", choices=["learned", "sinusoidal"])
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--num-steps", type=int, default=None, help="LM 35, BERT 64")
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


# -- the torch twins (same module names as zerograd's, so state dicts copy across) ---------
def lm_twin(torch, vocab, d, ffn, layers, heads, max_len, positions):
    import numpy as np
    from zerograd.models.positions import sinusoid_table
    nn = torch.nn

    class Positions(nn.Module):
        def __init__(self):
            super().__init__()
            if positions == "learned":
                self.embedding = nn.Embedding(max_len, d)
            else:
                self.register_buffer("P", torch.tensor(sinusoid_table(max_len, d))[None],
                                     persistent=False)

        def forward(self, x):
            if positions == "learned":
                return x + self.embedding(torch.arange(x.shape[1]))[None]
            return x + self.P[:, :x.shape[1]]

    class TwinLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(vocab, d)
            self.pos = Positions()
            layer = nn.TransformerEncoderLayer(d, heads, ffn, 0.0, batch_first=True,
                                               norm_first=True)
            self.blocks = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(d),
                                                enable_nested_tensor=False)
            self.linear = nn.Linear(d, vocab)

        def forward(self, x, state=None):
            t = x.shape[1]
            mask = torch.tensor(np.triu(np.ones((t, t), dtype=bool), 1))
            h = self.blocks(self.pos(self.embedding(x)), mask=mask, is_causal=True)
            return self.linear(h).transpose(0, 1).reshape(-1, vocab), x  # (context, as zerograd)
    return TwinLM()


def bert_twin(torch, vocab, d, ffn, layers, heads, max_len):
    nn = torch.nn

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.token_embedding = nn.Embedding(vocab, d)
            self.segment_embedding = nn.Embedding(2, d)
            layer = nn.TransformerEncoderLayer(d, heads, ffn, 0.0, batch_first=True)
            self.blks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
            self.pos_embedding = nn.Parameter(torch.randn(1, max_len, d))

        def forward(self, tokens, segments, valid_lens):
            x = self.token_embedding(tokens) + self.segment_embedding(segments)
            x = x + self.pos_embedding[:, :x.shape[1]]
            pad = torch.arange(x.shape[1])[None] >= valid_lens.reshape(-1, 1)
            return self.blks(x, src_key_padding_mask=pad)

    class MLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.mlp = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.LayerNorm(d),
                                     nn.Linear(d, vocab))

    class NSP(nn.Module):
        def __init__(self):
            super().__init__()
            self.output = nn.Linear(d, 2)

    class TwinBERT(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = Encoder()
            self.hidden = nn.Sequential(nn.Linear(d, d), nn.Tanh())
            self.mlm, self.nsp = MLM(), NSP()

        def forward(self, tokens, segments, valid_lens, positions):
            x = self.encoder(tokens, segments, valid_lens)
            picked = x.gather(1, positions[:, :, None].expand(-1, -1, x.shape[-1]))
            return x, self.mlm.mlp(picked), self.nsp.output(self.hidden(x[:, 0, :]))
    return TwinBERT()


def copy_weights(torch, zmodel, tmodel):
    missing = tmodel.load_state_dict({k: torch.tensor(v.detach().numpy())
                                      for k, v in zmodel.state_dict().items()})
    assert not missing.missing_keys and not missing.unexpected_keys, missing


def optimizers(zg, torch, zmodel, tmodel, lr):
    return zg.optim.Adam(zmodel.parameters(), lr=lr), torch.optim.Adam(tmodel.parameters(), lr=lr)


# -- transformer-lm --------------------------------------------------------------------------
def run_lm(args, zg, torch):
    from zerograd.datasets.text import LanguageModelDataset, Vocab, split_corpus, tokenize
    from zerograd.models.transformer_lm import build_transformer_lm
    from zerograd.train.text_data import load_lm_text
    steps = args.num_steps or 35
    text, _ = load_lm_text(args.data if args.data.startswith("text:") else "text:" + args.data)
    tokens = tokenize(text, "char")
    vocab = Vocab(tokens)
    corpus = vocab.encode(tokens)[:args.limit] if args.limit else vocab.encode(tokens)
    train, val = split_corpus(corpus, 0.1)
    train_set = LanguageModelDataset(train, args.batch_size, steps,
                                     generator=zg.Generator().manual_seed(args.seed + 1))
    val_set = LanguageModelDataset(val, max(1, min(args.batch_size, (len(val) - 1) // steps)),
                                   steps, random_offset=False)
    zg.manual_seed(args.seed)
    zmodel = build_transformer_lm(len(vocab), args.embed, args.ffn, args.layers, args.heads,
                                  max_len=steps, positions=args.positions, dropout=0.0)
    tmodel = lm_twin(torch, len(vocab), args.embed, args.ffn, args.layers, args.heads, steps,
                     args.positions)
    copy_weights(torch, zmodel, tmodel)
    zopt, topt = optimizers(zg, torch, zmodel, tmodel, args.lr)
    print(f"transformer-lm ({args.positions} positions) on {args.data}: {len(train)} train / "
          f"{len(val)} val tokens, vocab {len(vocab)}, d {args.embed}, ffn {args.ffn}, "
          f"{args.layers} layers x {args.heads} heads, batch {args.batch_size} x {steps}, "
          f"adam lr {args.lr}, {args.threads} thread(s)")

    def loss_of(lib, model, x, y):
        out, _ = model(lib.tensor(x))
        return lib.nn.functional.cross_entropy(out, lib.tensor(y).T.reshape(-1))

    def perplexity(lib, model, batches):
        model.eval()
        with lib.no_grad():
            total = sum(loss_of(lib, model, x, y).item() * y.size for x, y in batches)
        return math.exp(total / sum(y.size for _, y in batches))

    val_batches = [(x.numpy(), y.numpy()) for x, y in val_set]
    frameworks = {"zerograd": (zg, zmodel, zopt), "torch": (torch, tmodel, topt)}
    result = train_both(args, frameworks, lambda: [(x.numpy(), y.numpy()) for x, y in train_set],
                        loss_of, lambda lib, m: {"ppl": perplexity(lib, m, val_batches)})
    ratio = result["zerograd"]["ppl"] / result["torch"]["ppl"]
    print(f"final validation perplexity: zerograd {result['zerograd']['ppl']:.3f}  torch "
          f"{result['torch']['ppl']:.3f}  ratio {ratio:.4f} (target: within 5%)")
    return abs(ratio - 1) <= 0.05


def train_both(args, frameworks, draw_batches, loss_of, evaluate):
    """Train every framework on the same batches each epoch; print the metrics."""
    seconds = {name: 0.0 for name in frameworks}
    result = {}
    for epoch in range(1, args.epochs + 1):
        batches = draw_batches()  # one draw, both frameworks
        for name, (lib, model, opt) in frameworks.items():
            start = time.perf_counter()
            model.train()
            for batch in batches:
                loss = loss_of(lib, model, *batch)
                opt.zero_grad()
                loss.backward()
                lib.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
            seconds[name] += time.perf_counter() - start
            result[name] = evaluate(lib, model)
        shown = "  ".join(f"{name} " + ", ".join(f"{k} {v:.4f}" for k, v in r.items())
                          for name, r in result.items())
        print(f"epoch {epoch}: {shown}", flush=True)
    print(f"training time: zerograd {seconds['zerograd']:.1f}s  torch {seconds['torch']:.1f}s")
    return result


# -- bert-tiny --------------------------------------------------------------------------------
def run_bert(args, zg, torch):
    import numpy as np
    from zerograd.datasets.bert_data import BERT_RESERVED, bert_examples, paragraphs_of
    from zerograd.datasets.text import Vocab
    from zerograd.models.bert import build_bert
    from zerograd.train.text_bert import MIN_FREQ, read_paragraph_texts, split_paragraphs
    steps = args.num_steps or 64
    texts = read_paragraph_texts(args.data if args.data.startswith("text:")
                                 else "text:" + args.data)
    paragraphs, tokenize = paragraphs_of(texts[:args.limit] if args.limit else texts)
    train_p, val_p = split_paragraphs(paragraphs)
    vocab = Vocab([s for p in train_p for s in p], min_freq=MIN_FREQ[tokenize],
                  reserved_tokens=BERT_RESERVED)
    rng = np.random.default_rng(args.seed)
    fields = ("tokens", "segments", "valid_lens", "pred_positions", "mlm_weights",
              "mlm_labels", "nsp_labels")
    train, val = ([examples[k] for k in fields] for examples in
                  (bert_examples(part, vocab, steps, rng) for part in (train_p, val_p)))
    zg.manual_seed(args.seed)
    zmodel = build_bert(len(vocab), args.embed, args.ffn, args.layers, args.heads,
                        max_len=steps, dropout=0.0)
    tmodel = bert_twin(torch, len(vocab), args.embed, args.ffn, args.layers, args.heads, steps)
    copy_weights(torch, zmodel, tmodel)
    zopt, topt = optimizers(zg, torch, zmodel, tmodel, args.lr)
    print(f"bert-tiny on {args.data}: {len(train[0])} train / {len(val[0])} val pairs, vocab "
          f"{len(vocab)} ({tokenize}s), d {args.embed}, ffn {args.ffn}, {args.layers} layers x "
          f"{args.heads} heads, max_len {steps}, batch {args.batch_size}, adam lr {args.lr}, "
          f"{args.threads} thread(s)")

    def forward(lib, model, batch):
        t = [lib.tensor(a) for a in batch]
        _, mlm_hat, nsp_hat = model(t[0], t[1], t[2], t[3])
        return mlm_hat, nsp_hat, t

    def loss_of(lib, model, *batch):  # d2l's loss (zerograd.models.bert.bert_loss), in lib
        mlm_hat, nsp_hat, t = forward(lib, model, batch)
        ce = lib.nn.functional.cross_entropy
        weights = t[4].reshape(-1)
        per_token = ce(mlm_hat.reshape(-1, mlm_hat.shape[-1]), t[5].reshape(-1),
                       reduction="none")
        return (per_token * weights).sum() / (weights.sum() + 1e-8) + ce(nsp_hat, t[6])

    def accuracy(lib, model):
        model.eval()
        hits = np.zeros(3)
        with lib.no_grad():
            for start in range(0, len(val[0]), 256):
                batch = [a[start:start + 256] for a in val]
                mlm_hat, nsp_hat, t = forward(lib, model, batch)
                hits += (((mlm_hat.argmax(-1) == t[5]).float() * t[4]).sum().item(),
                         (nsp_hat.argmax(-1) == t[6]).sum().item(), 0)
        return {"mlm_acc": hits[0] / val[4].sum(), "nsp_acc": hits[1] / len(val[0])}

    def draw_batches():
        order = rng.permutation(len(train[0]))
        return [[a[order[i:i + args.batch_size]] for a in train]
                for i in range(0, len(order), args.batch_size)]

    frameworks = {"zerograd": (zg, zmodel, zopt), "torch": (torch, tmodel, topt)}
    result = train_both(args, frameworks, draw_batches, loss_of, accuracy)
    gap = 100 * (result["zerograd"]["mlm_acc"] - result["torch"]["mlm_acc"])
    print(f"final validation masked-LM accuracy: zerograd {result['zerograd']['mlm_acc']:.4f}  "
          f"torch {result['torch']['mlm_acc']:.4f}  gap {gap:+.2f} points (target: within 2); "
          f"NSP accuracy zerograd {result['zerograd']['nsp_acc']:.4f}  torch "
          f"{result['torch']['nsp_acc']:.4f}")
    return abs(gap) <= 2.0


def main():
    args = parse()
    set_threads(args.threads)
    import torch

    import zerograd as zg
    torch.set_num_threads(args.threads)
    ok = run_lm(args, zg, torch) if args.model == "transformer-lm" else run_bert(args, zg, torch)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
