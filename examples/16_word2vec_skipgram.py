"""Example 16: word2vec, skip-gram with negative sampling (d2l 15.1-15.4), on an offline corpus.

The listings of "Dive into Deep Learning" 15.3 and 15.4, with ``import zerograd as torch``,
on Debian's English ``fortunes`` (one line of a fortune = one sentence) instead of the
Penn Treebank, which needs a download:

* ``subsample``: frequent words are dropped with probability 1 - sqrt(1e-4 / f(w)),
  so "the" and "a" stop dominating the training pairs;
* ``get_centers_and_contexts``: every word is a center, the words within a random
  window (1..max_window_size) on each side are its contexts;
* ``get_negatives``: K noise words per context word, drawn with probability ∝ count^0.75;
* ``batchify``: contexts and negatives padded to one length, with a mask and labels;
* ``skip_gram``: the center's vector v (``embed_v``) dotted with each context/noise
  word's vector u (``embed_u``) by ``torch.bmm``; the loss is the masked binary
  cross-entropy of those logits (positive for contexts, negative for noise);
* ``get_similar_tokens``: nearest words by cosine similarity of the trained vectors.

Besides the loss, the script measures how well the trained model tells the true context
words from the noise words of the same center (the fraction of (context, noise) pairs it
ranks correctly: 0.5 is chance).
"""

# %%
import argparse
import collections
import math
import os
import random
import time
from pathlib import Path

from matplotlib.figure import Figure  # Figure.savefig draws with Agg: no display needed

import zerograd as torch
from zerograd import nn
from zerograd.datasets import Vocab, clean_d2l, load_text


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
# ## Reading the corpus and subsampling (d2l 15.3.1-15.3.2)
#
# d2l's `read_ptb` returns a list of sentences, each a list of words; here each non-empty
# line of a fortune, cleaned as d2l cleans the time machine (letters only, lower case).

# %%
def read_fortunes(max_lines=None):
    """Sentences of the ``fortunes`` corpus: one list of words per line."""
    lines = load_text('fortunes', clean=None).split('\n')
    sentences = [clean_d2l(line).split() for line in lines]
    sentences = [s for s in sentences if s]
    return sentences[:max_lines] if max_lines else sentences


def subsample(sentences, vocab):
    """Subsample high-frequency words."""
    # Exclude unknown tokens ('<unk>')
    sentences = [[token for token in line if vocab[token] != vocab.unk]
                 for line in sentences]
    counter = collections.Counter([
        token for line in sentences for token in line])
    num_tokens = sum(counter.values())

    # Return True if `token` is kept during subsampling
    def keep(token):
        return (random.uniform(0, 1) <
                math.sqrt(1e-4 / counter[token] * num_tokens))

    return ([[token for token in line if keep(token)] for line in sentences],
            counter)


# %% [markdown]
# ## Center words, context words and negative sampling (d2l 15.3.3-15.3.4)

# %%
def get_centers_and_contexts(corpus, max_window_size):
    """Return center words and context words in skip-gram."""
    centers, contexts = [], []
    for line in corpus:
        # To form a "center word--context word" pair, each sentence needs to
        # have at least 2 words
        if len(line) < 2:
            continue
        centers += line
        for i in range(len(line)):  # Context window centered at `i`
            window_size = random.randint(1, max_window_size)
            indices = list(range(max(0, i - window_size),
                                 min(len(line), i + 1 + window_size)))
            # Exclude the center word from the context words
            indices.remove(i)
            contexts.append([line[idx] for idx in indices])
    return centers, contexts


class RandomGenerator:
    """Randomly draw among {1, ..., n} according to n sampling weights."""
    def __init__(self, sampling_weights):
        # Exclude
        self.population = list(range(1, len(sampling_weights) + 1))
        self.sampling_weights = sampling_weights
        self.candidates = []
        self.i = 0

    def draw(self):
        if self.i == len(self.candidates):
            # Cache `k` random sampling results
            self.candidates = random.choices(
                self.population, self.sampling_weights, k=10000)
            self.i = 0
        self.i += 1
        return self.candidates[self.i - 1]


def get_negatives(all_contexts, vocab, counter, K):
    """Return noise words in negative sampling."""
    # Sampling weights for words with indices 1, 2, ... (index 0 is the
    # excluded unknown token) in the vocabulary
    sampling_weights = [counter[vocab.to_tokens(i)]**0.75
                        for i in range(1, len(vocab))]
    all_negatives, generator = [], RandomGenerator(sampling_weights)
    for contexts in all_contexts:
        negatives = []
        while len(negatives) < len(contexts) * K:
            neg = generator.draw()
            # Noise words cannot be context words
            if neg not in contexts:
                negatives.append(neg)
        all_negatives.append(negatives)
    return all_negatives


# %% [markdown]
# ## Minibatches (d2l 15.3.5)

# %%
def batchify(data):
    """Return a minibatch of examples for skip-gram with negative sampling."""
    max_len = max(len(c) + len(n) for _, c, n in data)
    centers, contexts_negatives, masks, labels = [], [], [], []
    for center, context, negative in data:
        cur_len = len(context) + len(negative)
        centers += [center]
        contexts_negatives += [context + negative + [0] * (max_len - cur_len)]
        masks += [[1] * cur_len + [0] * (max_len - cur_len)]
        labels += [[1] * len(context) + [0] * (max_len - len(context))]
    return (torch.tensor(centers).reshape((-1, 1)), torch.tensor(
        contexts_negatives), torch.tensor(masks), torch.tensor(labels))


class SkipGramDataset(torch.utils.data.Dataset):
    def __init__(self, centers, contexts, negatives):
        assert len(centers) == len(contexts) == len(negatives)
        self.centers = centers
        self.contexts = contexts
        self.negatives = negatives

    def __getitem__(self, index):
        return (self.centers[index], self.contexts[index],
                self.negatives[index])

    def __len__(self):
        return len(self.centers)


def load_data_fortunes(batch_size, max_window_size, num_noise_words, max_lines=None,
                       min_freq=10):
    """d2l's ``load_data_ptb`` on the fortunes corpus: (data_iter, vocab, counter)."""
    sentences = read_fortunes(max_lines)
    vocab = Vocab(sentences, min_freq=min_freq)
    subsampled, counter = subsample(sentences, vocab)
    corpus = [vocab[line] for line in subsampled]
    all_centers, all_contexts = get_centers_and_contexts(
        corpus, max_window_size)
    all_negatives = get_negatives(
        all_contexts, vocab, counter, num_noise_words)
    dataset = SkipGramDataset(all_centers, all_contexts, all_negatives)
    data_iter = torch.utils.data.DataLoader(
        dataset, batch_size, shuffle=True, collate_fn=batchify)
    return data_iter, vocab, sentences, subsampled


# %% [markdown]
# ## The skip-gram model and its loss (d2l 15.4)

# %%
def skip_gram(center, contexts_and_negatives, embed_v, embed_u):
    v = embed_v(center)
    u = embed_u(contexts_and_negatives)
    pred = torch.bmm(v, u.permute(0, 2, 1))
    return pred


class SigmoidBCELoss(nn.Module):
    # Binary cross-entropy loss with masking
    def __init__(self):
        super().__init__()

    def forward(self, inputs, target, mask=None):
        out = nn.functional.binary_cross_entropy_with_logits(
            inputs, target, weight=mask, reduction="none")
        return out.mean(dim=1)


loss = SigmoidBCELoss()


def train(net, data_iter, lr, num_epochs, device='cpu'):
    def init_weights(module):
        if type(module) == nn.Embedding:
            nn.init.xavier_uniform_(module.weight)
    net.apply(init_weights)
    net = net.to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    history = []
    num_tokens = 0
    start = time.perf_counter()
    for epoch in range(num_epochs):
        total, count = 0.0, 0
        for i, batch in enumerate(data_iter):
            optimizer.zero_grad()
            center, context_negative, mask, label = [
                data.to(device) for data in batch]

            pred = skip_gram(center, context_negative, net[0], net[1])
            l = (loss(pred.reshape(label.shape).float(), label.float(), mask)
                 / mask.sum(axis=1) * mask.shape[1])
            l.sum().backward()
            optimizer.step()
            total += l.sum().item()
            count += l.numel()
            num_tokens += l.numel()
        history.append(total / count)
        print(f'epoch {epoch + 1}, loss {history[-1]:.3f}')
    speed = num_tokens / (time.perf_counter() - start)
    print(f'loss {history[-1]:.3f}, {speed:.1f} tokens/sec on {device}')
    return history


# %% [markdown]
# ## Nearest words by cosine similarity (d2l 15.4.3)

# %%
def get_similar_tokens(query_token, k, embed, vocab):
    W = embed.weight.data
    x = W[vocab[query_token]]
    # Compute the cosine similarity. Add 1e-9 for numerical stability
    cos = torch.mv(W, x) / torch.sqrt(torch.sum(W * W, dim=1) *
                                      torch.sum(x * x) + 1e-9)
    topk = torch.topk(cos, k=k+1)[1].cpu().numpy().astype('int32')
    similar = []
    for i in topk[1:]:  # Remove the input words
        print(f'cosine sim={float(cos[i]):.3f}: {vocab.to_tokens(int(i))}')
        similar.append((vocab.to_tokens(int(i)), float(cos[i])))
    return similar


def ranking_accuracy(net, data_iter, max_batches=20):
    """Over (center, true context, noise word) triples of the same example: the fraction
    where the context word scores higher than the noise word (0.5 = chance)."""
    right, total = 0.0, 0.0
    with torch.no_grad():
        for i, (center, context_negative, mask, label) in enumerate(data_iter):
            if i == max_batches:
                break
            pred = skip_gram(center, context_negative, net[0], net[1])[:, 0, :]
            pos = (label == 1) & (mask == 1)
            neg = (label == 0) & (mask == 1)
            # all (positive, negative) pairs of one row: (batch, max_len, max_len)
            better = (pred[:, :, None] > pred[:, None, :]).float()
            pairs = (pos[:, :, None] & neg[:, None, :]).float()
            right += (better * pairs).sum().item()
            total += pairs.sum().item()
    return right / total


def plot_loss(history, path):
    fig = Figure(figsize=(4.5, 3))
    ax = fig.subplots()
    ax.plot(range(1, len(history) + 1), history, marker='o')
    ax.set_xlabel('epoch')
    ax.set_ylabel('loss')
    ax.grid(True)
    fig.savefig(path, dpi=80)
    return path


# %%
def main(quick=False, out_dir=None):
    out = output_dir(out_dir)
    random.seed(0)  # d2l's sampling uses Python's `random`; the DataLoader zerograd's
    torch.manual_seed(0)
    if quick:
        max_lines, min_freq, embed_size, num_epochs, batch_size = 4_000, 5, 50, 3, 512
    else:
        max_lines, min_freq, embed_size, num_epochs, batch_size = None, 10, 100, 5, 512
    max_window_size, num_noise_words = 5, 5

    data_iter, vocab, sentences, subsampled = load_data_fortunes(
        batch_size, max_window_size, num_noise_words, max_lines, min_freq)
    before = sum(map(len, sentences))
    after = sum(map(len, subsampled))
    print(f'{len(sentences)} sentences, {before} tokens, vocabulary {len(vocab)}; '
          f'{after} tokens after subsampling; {len(data_iter.dataset)} centers')
    counts = collections.Counter(t for line in sentences for t in line)
    kept = collections.Counter(t for line in subsampled for t in line)
    for token in ('the', 'computer'):
        if token in vocab:
            print(f'# of "{token}": before={counts[token]}, after={kept[token]}')
    names = ['centers', 'contexts_negatives', 'masks', 'labels']
    for name, data in zip(names, next(iter(data_iter))):
        print(name, 'shape:', tuple(data.shape))

    net = nn.Sequential(nn.Embedding(num_embeddings=len(vocab),
                                     embedding_dim=embed_size),
                        nn.Embedding(num_embeddings=len(vocab),
                                     embedding_dim=embed_size))
    chance = ranking_accuracy(net, data_iter)
    lr = 0.002 if not quick else 0.01
    history = train(net, data_iter, lr, num_epochs)
    accuracy = ranking_accuracy(net, data_iter)
    print(f'context ranked above noise: {accuracy:.3f} after training '
          f'({chance:.3f} before)')

    results = {"vocab_size": len(vocab), "tokens": before, "subsampled_tokens": after,
               "counts": {t: (counts[t], kept[t]) for t in ('the', 'a', 'of')},
               "loss": history, "ranking_accuracy": accuracy,
               "ranking_accuracy_before": chance, "similar": {},
               "picture": plot_loss(history, out / "16_word2vec_loss.png")}
    queries = [w for w in ('computer', 'love', 'money', 'life', 'time') if w in vocab][:3]
    for query in queries:
        print(f'\nnearest to "{query}":')
        results["similar"][query] = get_similar_tokens(query, 3, net[0], vocab)
    results["embedding"] = net[0].weight.detach().numpy()
    results["vocab"] = vocab
    return results


# %%
if __name__ == "__main__":
    results = main(**cli_args())
