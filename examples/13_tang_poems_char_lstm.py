"""Example 13: writing Tang poems with a character-level LSTM (唐诗生成：字符级 LSTM).

The language model of d2l's recurrent chapters, on Chinese text: one token per character
(汉字), an ``nn.Embedding`` in place of d2l's one-hot vectors (a vocabulary of 2,500
characters would make one-hot inputs 2,500 wide), a two-layer ``nn.LSTM`` and a linear
layer over the vocabulary. The corpus is ``tang300`` (《唐诗三百首》, Debian's
``fortunes-zh``, offline); titles and authors are dropped, so the model sees verses
only: couplets of two 5- or 7-character lines, ``，`` after the first and ``。`` after
the second, one couplet a line.

Training is d2l's loop (sequential batches, the state carried over and detached, the
gradient clipped at norm 1) with Adam. Each epoch prints the training and validation
perplexity (the last tenth of the corpus is held out). Generation warms the state up on
a prefix such as 床前明月光 and then samples one character at a time from
softmax(logits / temperature), keeping the ``top_k`` most likely; the printout says how
many generated lines have the regular 5- or 7-character shape with punctuation.
"""

# %%
import argparse
import math
import os
import re
import time
from pathlib import Path

from matplotlib.figure import Figure  # Figure.savefig draws with Agg: no display needed

import zerograd as torch
from zerograd import nn
from zerograd.nn import functional as F
from zerograd.datasets import LanguageModelDataset, Vocab, load_text, split_corpus
from zerograd.utils import data


def output_dir(out_dir=None):
    """Where pictures go: ``out_dir``, $ZEROGRAD_EXAMPLES_OUT, or examples/out/ (created)."""
    out_dir = out_dir or os.environ.get("ZEROGRAD_EXAMPLES_OUT")
    if out_dir is None:  # a notebook runs from examples/notebooks/, a script from anywhere
        here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd().parent
        out_dir = here / "out"
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return Path(out_dir)


def cli_args():
    """``--quick`` and ``--out-dir``; unknown flags (a notebook kernel's own) are ignored."""
    parser = argparse.ArgumentParser(allow_abbrev=False)
    parser.add_argument("--quick", action="store_true", help="small, fast settings")
    parser.add_argument("--out-dir", default=None, help="folder for PNGs (default examples/out)")
    args, _ = parser.parse_known_args()
    quick = args.quick or os.environ.get("ZEROGRAD_EXAMPLES_QUICK") == "1"
    return {"quick": quick, "out_dir": args.out_dir}


# %% [markdown]
# ## The corpus: 唐诗三百首, one character per token
#
# `load_text("tang300")` reads the fortune file (ANSI colours removed). Each poem is a
# title line 《…》, an author line 作者：…, then its verses; we keep the verses.

# %%
def load_poems():
    text = load_text("tang300")
    lines = [line for line in text.split("\n")
             if line and not line.startswith("《") and not line.startswith("作者")]
    return "\n".join(lines) + "\n"


def load_data_poems(batch_size, num_steps, max_tokens=-1):
    """Training and validation batches of the verses, and the character vocabulary."""
    tokens = list(load_poems())  # Chinese needs no word segmentation here: one char, one token
    vocab = Vocab(tokens)
    corpus = vocab[tokens]
    if max_tokens > 0:
        corpus = corpus[:max_tokens]
    train, val = split_corpus(corpus, val_fraction=0.1)
    train_iter = data.DataLoader(LanguageModelDataset(train, batch_size, num_steps),
                                 batch_size=None)
    # the validation part is short: fewer, longer rows (the same text every pass)
    val_iter = data.DataLoader(LanguageModelDataset(val, 4, num_steps, random_offset=False),
                               batch_size=None)
    return train_iter, val_iter, vocab


# %% [markdown]
# ## The model: embedding, LSTM, linear
#
# Inputs are `(batch_size, num_steps)` indices; like d2l's `RNNModel` the network works
# time-major, `(num_steps, batch_size, ·)`, and returns one row of logits per position.

# %%
class PoetLSTM(nn.Module):
    """A character-level LSTM language model."""
    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0.0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.LSTM(embed_size, num_hiddens, num_layers, dropout=dropout)
        self.linear = nn.Linear(num_hiddens, vocab_size)

    def forward(self, inputs, state):
        X = self.embedding(inputs.T)  # (num_steps, batch_size, embed_size)
        Y, state = self.rnn(X, state)
        return self.linear(Y.reshape((-1, Y.shape[-1]))), state

    def begin_state(self, batch_size=1):
        shape = (self.rnn.num_layers, batch_size, self.rnn.hidden_size)
        return torch.zeros(shape), torch.zeros(shape)


# %% [markdown]
# ## Training and evaluation
#
# Perplexity = exp(mean cross-entropy). A model that guesses uniformly among 2,500
# characters has perplexity 2,500; one that has learnt where `，` and `。` go and which
# characters are common is far below.

# %%
def train_epoch(net, train_iter, loss, optimizer):
    net.train()
    state, total_loss, total_tokens = None, 0.0, 0
    for X, Y in train_iter:
        if state is None:
            state = net.begin_state(batch_size=X.shape[0])
        else:
            for s in state:
                s.detach_()  # truncated backpropagation through time
        y = Y.T.reshape(-1)
        y_hat, state = net(X, state)
        l = loss(y_hat, y)
        optimizer.zero_grad()
        l.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1)
        optimizer.step()
        total_loss += float(l) * y.numel()
        total_tokens += y.numel()
    return math.exp(total_loss / total_tokens)


def evaluate(net, data_iter, loss):
    net.eval()
    state, total_loss, total_tokens = None, 0.0, 0
    with torch.no_grad():
        for X, Y in data_iter:
            state = state if state is not None else net.begin_state(batch_size=X.shape[0])
            y = Y.T.reshape(-1)
            y_hat, state = net(X, state)
            total_loss += float(loss(y_hat, y)) * y.numel()
            total_tokens += y.numel()
    return math.exp(total_loss / total_tokens)


# %% [markdown]
# ## Generation: 床前明月光……
#
# The prefix runs through the network to set the state (characters outside the
# vocabulary would become `<unk>`); then each step divides the logits by the temperature
# (below 1: bolder, more likely characters; above 1: more varied), keeps the `top_k`
# largest and draws the next character with `torch.multinomial` from a seeded generator.

# %%
def generate(net, vocab, prefix, num_chars, temperature=0.8, top_k=20, generator=None,
             max_lines=None):
    net.eval()
    state = net.begin_state(batch_size=1)
    outputs = [vocab[ch] for ch in prefix]
    with torch.no_grad():
        if len(outputs) > 1:  # warm-up: all of the prefix but its last character
            _, state = net(torch.tensor([outputs[:-1]]), state)
        for _ in range(num_chars):
            y, state = net(torch.tensor([[outputs[-1]]]), state)
            logits = y[-1] / temperature
            if top_k is not None:
                kth = torch.topk(logits, top_k).values[-1]
                logits = logits.masked_fill(logits < kth, -float('inf'))
            probs = F.softmax(logits, dim=-1)
            outputs.append(int(torch.multinomial(probs, 1, generator=generator)))
            if max_lines and vocab.idx_to_token[outputs[-1]] == '\n':
                if ''.join(vocab.idx_to_token[i] for i in outputs).count('\n') >= max_lines:
                    break
    return ''.join(vocab.idx_to_token[i] for i in outputs)


VERSE = re.compile(r"^(?:[\u4e00-\u9fff]{5}[，。？！；]){2}$|^(?:[\u4e00-\u9fff]{7}[，。？！；]){2}$")


def regular_lines(poem):
    """How many lines are a couplet of two 5- or two 7-character verses, each followed by
    punctuation, and how many complete lines there are."""
    lines = [line for line in poem.split("\n")[:-1] if line]  # the last may be cut off
    return sum(bool(VERSE.match(line)) for line in lines), len(lines)


# %%
def plot(train_ppl, val_ppl, out):
    fig = Figure(figsize=(5.5, 3.6), layout="constrained")
    ax = fig.subplots()
    epochs = range(1, len(train_ppl) + 1)
    ax.semilogy(epochs, train_ppl, "o-", label="train")
    ax.semilogy(epochs, val_ppl, "s-", label="validation")
    ax.set(xlabel="epoch", ylabel="perplexity", title="char-LSTM on tang300")
    ax.legend()
    path = out / "13_tang_poems_char_lstm.png"
    fig.savefig(path, dpi=100)
    return path


# %%
def main(quick=False, out_dir=None):
    out = output_dir(out_dir)
    torch.manual_seed(0)
    if quick:
        max_tokens, num_epochs, lr = 12_000, 8, 0.01
        embed_size, num_hiddens, num_layers, dropout = 32, 64, 1, 0.0
    else:
        max_tokens, num_epochs, lr = -1, 12, 0.005  # validation is best near epoch 5
        embed_size, num_hiddens, num_layers, dropout = 128, 256, 2, 0.2
    batch_size, num_steps = 32, 35
    train_iter, val_iter, vocab = load_data_poems(batch_size, num_steps, max_tokens)
    print(f'{len(vocab)} characters in the vocabulary, the commonest: '
          f'{"".join(vocab.idx_to_token[1:21])!r}; {len(train_iter)} training batches')

    net = PoetLSTM(len(vocab), embed_size, num_hiddens, num_layers, dropout)
    loss = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    train_ppl, val_ppl = [], []
    start = time.perf_counter()
    for epoch in range(num_epochs):
        train_ppl.append(train_epoch(net, train_iter, loss, optimizer))
        val_ppl.append(evaluate(net, val_iter, loss))
        print(f'epoch {epoch + 1}: perplexity train {train_ppl[-1]:.1f}, '
              f'validation {val_ppl[-1]:.1f}')
    print(f'{time.perf_counter() - start:.1f} s of training')

    generator = torch.Generator().manual_seed(2024)
    poems = {}
    for prefix in ("床前明月光", "春眠不觉晓", "白日依山尽"):
        poem = generate(net, vocab, prefix, 120, temperature=0.8, top_k=20,
                        generator=generator, max_lines=4)
        poems[prefix] = poem
        print(f'\n{prefix}……\n{poem.rstrip()}')
    regular, lines = map(sum, zip(*(regular_lines(p) for p in poems.values())))
    print(f'\n{regular} of {lines} complete generated lines are regular 5- or '
          f'7-character couplets with punctuation')

    picture = plot(train_ppl, val_ppl, out)
    print(f"wrote {picture}")
    return {"vocab_size": len(vocab), "train_perplexity": train_ppl,
            "val_perplexity": val_ppl, "poems": poems, "regular_lines": (regular, lines)}


# %%
if __name__ == "__main__":
    results = main(**cli_args())
