"""Text for language models (d2l chapters 9-10): tokenizers, ``Vocab``, minibatch partitions.

The pieces follow d2l's ``text preprocessing`` and ``language models`` sections::

    tokens = tokenize(lines, "char")             # one list of tokens per line
    vocab = Vocab(tokens)                        # <unk> = 0, then by frequency
    corpus = vocab.encode(flat_tokens)           # int64 NumPy array
    for X, Y in seq_data_iter_sequential(corpus, batch_size=32, num_steps=35):
        ...                                      # Y is X shifted by one token

``LanguageModelDataset`` wraps the two partitions as an ``IterableDataset`` for
``DataLoader(dataset, batch_size=None)``. Every random draw (the start offset, the
order of subsequences) comes from a ``zerograd.Generator``, so ``zerograd.manual_seed``
makes a pass repeatable. Batches are gathered with one fancy-indexing call each.

Real corpora (Debian's fortune files) and ``load_data_lm`` are in ``text_corpora.py``;
encoder-decoder data in ``seq2seq.py``.
"""
import collections
import itertools
import json
import re

import numpy as np

from zerograd.ops.creation import from_numpy
from zerograd.random import rng_of
from zerograd.tensor import Tensor
from zerograd.utils.data.dataset import IterableDataset

__all__ = ["tokenize", "tokenize_chars", "tokenize_words", "tokenize_zh", "Vocab",
           "seq_data_iter_random", "seq_data_iter_sequential", "LanguageModelDataset",
           "split_corpus"]

# words (with inner apostrophes: "don't") or one punctuation mark
_WORD = re.compile(r"\w+(?:'\w+)*|[^\w\s]")
# a run of ASCII letters/digits (a Latin word or number inside Chinese text) or any one
# other visible character: Han characters and punctuation are one token each
_ZH = re.compile(r"[A-Za-z0-9]+(?:['.][A-Za-z0-9]+)*|\S")


def tokenize_chars(text):
    """Every character, whitespace and newlines included (d2l's ``token='char'``)."""
    return list(text)


def tokenize_words(text):
    """Words and punctuation marks, found by a regular expression; whitespace dropped.

    On d2l-cleaned text (letters and single spaces) this equals ``text.split()``.
    """
    return _WORD.findall(text)


def tokenize_zh(text):
    """Chinese by character: each Han character or punctuation mark is a token, a run of
    ASCII letters/digits stays one token, whitespace is dropped."""
    return _ZH.findall(text)


_TOKENIZERS = {"char": tokenize_chars, "word": tokenize_words, "zh": tokenize_zh}


def tokenize(lines, token="word"):
    """Split text into tokens (d2l's ``tokenize``).

    Args:
        lines: one string (gives a flat list of tokens) or a list of strings (gives one
            list of tokens per line).
        token: ``"char"``, ``"word"`` or ``"zh"`` (see ``tokenize_chars``,
            ``tokenize_words``, ``tokenize_zh``).
    """
    fn = _TOKENIZERS.get(token)
    if fn is None:
        raise ValueError(f"unknown token type {token!r}; use one of {sorted(_TOKENIZERS)}")
    if isinstance(lines, str):
        return fn(lines)
    return [fn(line) for line in lines]


def _flatten(tokens):
    """d2l's ``count_corpus`` input: a flat list of tokens or a list of token lists."""
    if len(tokens) and isinstance(tokens[0], (list, tuple)):
        return [token for line in tokens for token in line]
    return tokens


def _plain(indices):
    """Tensors and arrays as (nested) Python lists/ints; everything else unchanged."""
    if isinstance(indices, Tensor):
        indices = indices.detach().cpu().numpy()
    if isinstance(indices, (np.ndarray, np.generic)):
        return indices.tolist()
    return indices


class Vocab:
    """A vocabulary with d2l's rules: ``<unk>`` is index 0, the reserved tokens come
    next, then every token seen at least ``min_freq`` times, most frequent first (ties
    keep the order of first appearance).

    Args:
        tokens: a flat list of tokens or a list of token lists (lines).
        min_freq: tokens seen fewer times map to ``<unk>``.
        reserved_tokens: e.g. ``["<pad>", "<bos>", "<eos>"]``, always in the vocabulary.

    ``vocab[token]`` or ``vocab[[...]]`` (nested lists/tuples) gives indices (unknown
    tokens give ``vocab.unk``); ``vocab.to_tokens(indices)`` goes back (ints, nested
    lists, arrays or tensors). ``to_json``/``from_json`` store it without pickle.
    """

    def __init__(self, tokens=None, min_freq=0, reserved_tokens=None):
        counter = collections.Counter(_flatten(tokens if tokens is not None else []))
        self.min_freq = min_freq
        self.reserved_tokens = list(reserved_tokens or [])
        # sorted() is stable, so equal counts keep the Counter's first-seen order
        self._token_freqs = sorted(counter.items(), key=lambda item: item[1], reverse=True)
        self.idx_to_token = ["<unk>"] + [t for t in self.reserved_tokens if t != "<unk>"]
        self.token_to_idx = {token: idx for idx, token in enumerate(self.idx_to_token)}
        for token, freq in self._token_freqs:
            if freq < min_freq:
                break
            if token not in self.token_to_idx:
                self.token_to_idx[token] = len(self.idx_to_token)
                self.idx_to_token.append(token)

    def __len__(self):
        return len(self.idx_to_token)

    def __getitem__(self, tokens):
        if not isinstance(tokens, (list, tuple)):
            return self.token_to_idx.get(tokens, self.unk)
        return [self.__getitem__(token) for token in tokens]

    def __contains__(self, token):
        return token in self.token_to_idx

    def to_tokens(self, indices):
        """Indices (an int, nested lists, an array or a tensor) back to tokens."""
        indices = _plain(indices)
        if isinstance(indices, (list, tuple)):
            return [self.to_tokens(index) for index in indices]
        return self.idx_to_token[int(indices)]

    def encode(self, tokens):
        """A flat sequence of tokens as an int64 NumPy array of indices."""
        lookup = self.token_to_idx.get
        unk = self.unk
        # map() runs the dict lookups in C: no Python-level loop over the tokens
        return np.fromiter(map(lookup, tokens, itertools.repeat(unk)), dtype=np.int64,
                           count=len(tokens))

    @property
    def unk(self):
        """The index of the unknown token (always 0)."""
        return 0

    @property
    def token_freqs(self):
        """``(token, count)`` pairs of the tokens it was built from, most frequent first."""
        return self._token_freqs

    def __eq__(self, other):
        if not isinstance(other, Vocab):
            return NotImplemented
        return (self.idx_to_token == other.idx_to_token
                and self._token_freqs == other._token_freqs)

    __hash__ = None

    def __repr__(self):
        head = ", ".join(repr(t) for t in self.idx_to_token[:8])
        more = ", ..." if len(self) > 8 else ""
        return f"Vocab(size={len(self)}, tokens=[{head}{more}])"

    # -- JSON (checkpoints keep the vocabulary in their JSON metadata) -----------------
    def to_dict(self):
        """A JSON-ready dict; ``Vocab.from_dict`` rebuilds the same vocabulary."""
        return {"format": "zerograd.Vocab", "version": 1, "min_freq": self.min_freq,
                "reserved_tokens": list(self.reserved_tokens),
                "idx_to_token": list(self.idx_to_token),
                "token_freqs": [[token, int(freq)] for token, freq in self._token_freqs]}

    def to_json(self, **kwargs):
        """The vocabulary as a JSON string (``json.dumps`` keyword arguments pass through)."""
        return json.dumps(self.to_dict(), ensure_ascii=kwargs.pop("ensure_ascii", False),
                          **kwargs)

    @classmethod
    def from_dict(cls, data):
        if not isinstance(data, dict) or data.get("format") != "zerograd.Vocab":
            raise ValueError("not a saved zerograd.Vocab: expected a dict with "
                             "format='zerograd.Vocab' (made by Vocab.to_dict/to_json)")
        vocab = cls.__new__(cls)
        vocab.min_freq = data["min_freq"]
        vocab.reserved_tokens = list(data["reserved_tokens"])
        vocab._token_freqs = [(token, freq) for token, freq in data["token_freqs"]]
        vocab.idx_to_token = list(data["idx_to_token"])
        vocab.token_to_idx = {token: idx for idx, token in enumerate(vocab.idx_to_token)}
        if not vocab.idx_to_token or vocab.idx_to_token[0] != "<unk>" \
                or len(vocab.token_to_idx) != len(vocab.idx_to_token):
            raise ValueError("saved Vocab is corrupt: idx_to_token must start with '<unk>' "
                             "and hold no duplicates")
        return vocab

    @classmethod
    def from_json(cls, text):
        """Rebuild a vocabulary from ``to_json()``'s string (or its parsed dict)."""
        return cls.from_dict(json.loads(text) if isinstance(text, (str, bytes)) else text)


# -- minibatch partitions ---------------------------------------------------------------
def _as_corpus(corpus):
    if isinstance(corpus, Tensor):
        corpus = corpus.detach().cpu().numpy()
    array = np.asarray(corpus, dtype=np.int64)
    if array.ndim != 1:
        raise ValueError(f"corpus must be a flat sequence of token indices, got shape "
                         f"{array.shape}")
    return array


def _check_sizes(batch_size, num_steps):
    for name, value in (("batch_size", batch_size), ("num_steps", num_steps)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _batch(array):
    # a copy: a batch must not share memory with the corpus (or with the next batch)
    return from_numpy(np.array(array, dtype=np.int64, order="C"))


def seq_data_iter_random(corpus, batch_size, num_steps, generator=None):
    """d2l's random sampling: cut the corpus (after a random offset in ``[0, num_steps)``)
    into subsequences of ``num_steps`` tokens and yield them in random order,
    ``batch_size`` at a time, as ``(X, Y)`` int64 tensors of shape
    ``(batch_size, num_steps)`` with ``Y`` the tokens right after ``X``. Neighbouring
    batches are not adjacent in the corpus.

    The offset and order are drawn when this is called, from ``generator`` (the default
    zerograd generator when None).
    """
    corpus = _as_corpus(corpus)
    _check_sizes(batch_size, num_steps)
    rng = rng_of(generator)
    offset = int(rng.integers(0, num_steps))
    num_subseqs = (len(corpus) - offset - 1) // num_steps
    starts = offset + num_steps * rng.permutation(max(num_subseqs, 0))
    num_batches = num_subseqs // batch_size
    steps = np.arange(num_steps)

    def batches():
        for i in range(0, batch_size * num_batches, batch_size):
            index = starts[i:i + batch_size, None] + steps  # one gather per batch
            yield _batch(corpus[index]), _batch(corpus[index + 1])
    return batches()


def seq_data_iter_sequential(corpus, batch_size, num_steps, generator=None):
    """d2l's sequential partitioning: after a random offset in ``[0, num_steps]``, the
    corpus is laid out as ``batch_size`` rows, and batch ``i`` is columns
    ``[i*num_steps, (i+1)*num_steps)``. Row ``r`` of one batch continues exactly where
    row ``r`` of the previous batch stopped (so a hidden state can be carried over).
    Yields ``(X, Y)`` int64 tensors of shape ``(batch_size, num_steps)``.
    """
    corpus = _as_corpus(corpus)
    _check_sizes(batch_size, num_steps)
    offset = int(rng_of(generator).integers(0, num_steps + 1))
    return _sequential_batches(corpus, batch_size, num_steps, offset)


def _sequential_batches(corpus, batch_size, num_steps, offset):
    num_tokens = max((len(corpus) - offset - 1) // batch_size, 0) * batch_size
    xs = corpus[offset:offset + num_tokens].reshape(batch_size, -1)
    ys = corpus[offset + 1:offset + 1 + num_tokens].reshape(batch_size, -1)
    num_batches = xs.shape[1] // num_steps
    for i in range(0, num_steps * num_batches, num_steps):
        yield _batch(xs[:, i:i + num_steps]), _batch(ys[:, i:i + num_steps])


class LanguageModelDataset(IterableDataset):
    """Language-model minibatches as an ``IterableDataset`` (d2l's ``SeqDataLoader``).

    Each pass yields ``len(self)`` pairs ``(X, Y)`` of int64 tensors shaped
    ``(batch_size, num_steps)``, from ``seq_data_iter_random`` (``use_random_iter``)
    or ``seq_data_iter_sequential``. Use it with ``DataLoader(dataset, batch_size=None)``:
    the batches are already made.

    Args:
        corpus: token indices (a list, NumPy array or 1-d tensor).
        batch_size, num_steps: the shape of each batch.
        use_random_iter: random sampling instead of sequential partitioning.
        generator: the ``zerograd.Generator`` for the offsets and orders (default one
            when None, so ``zerograd.manual_seed`` makes passes repeatable).
        random_offset: False starts every pass at token 0 (sequential partitioning
            only): the same batches each pass, as wanted for validation.

    d2l's number of batches depends on the random offset; here every pass yields the
    count for the largest offset, so ``len()`` is exact (at most one batch fewer than
    d2l sometimes gives).
    """

    def __init__(self, corpus, batch_size, num_steps, use_random_iter=False, generator=None,
                 random_offset=True):
        _check_sizes(batch_size, num_steps)
        if use_random_iter and not random_offset:
            raise ValueError("random_offset=False only applies to sequential partitioning "
                             "(use_random_iter=False)")
        self.corpus = _as_corpus(corpus)
        self.batch_size = batch_size
        self.num_steps = num_steps
        self.use_random_iter = use_random_iter
        self.generator = generator
        self.random_offset = random_offset
        if len(self) == 0:
            needed = self._tokens_needed()
            raise ValueError(f"a corpus of {len(self.corpus)} tokens is too short for "
                             f"batch_size={batch_size}, num_steps={num_steps} (one batch "
                             f"needs {needed} tokens); lower batch_size or num_steps, or "
                             f"use a longer corpus")

    def _tokens_needed(self):
        b, t = self.batch_size, self.num_steps
        worst = 0 if not self.random_offset else (t - 1 if self.use_random_iter else t)
        return worst + b * t + 1

    def __len__(self):
        n, b, t = len(self.corpus), self.batch_size, self.num_steps
        if self.use_random_iter:  # worst offset t - 1
            return max((n - t) // t, 0) // b
        worst = t if self.random_offset else 0
        return max((n - worst - 1) // b, 0) // t

    def __iter__(self):
        if self.use_random_iter:
            batches = seq_data_iter_random(self.corpus, self.batch_size, self.num_steps,
                                           self.generator)
        elif self.random_offset:
            batches = seq_data_iter_sequential(self.corpus, self.batch_size, self.num_steps,
                                               self.generator)
        else:
            batches = _sequential_batches(self.corpus, self.batch_size, self.num_steps, 0)
        return itertools.islice(batches, len(self))

    def __repr__(self):
        kind = "random" if self.use_random_iter else "sequential"
        return (f"LanguageModelDataset({len(self.corpus)} tokens, batch_size="
                f"{self.batch_size}, num_steps={self.num_steps}, {kind}, {len(self)} batches)")


def split_corpus(corpus, val_fraction=0.1):
    """Split token indices into a training part (the first ``1 - val_fraction``) and a
    validation part (the rest). The split is contiguous: a random split of a text would
    put neighbouring, overlapping contexts on both sides."""
    corpus = _as_corpus(corpus)
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be strictly between 0 and 1, got {val_fraction}")
    n_val = int(round(len(corpus) * val_fraction))
    if n_val < 2 or len(corpus) - n_val < 2:
        raise ValueError(f"a corpus of {len(corpus)} tokens is too short to split with "
                         f"val_fraction={val_fraction}; both parts need at least 2 tokens")
    return corpus[:len(corpus) - n_val], corpus[len(corpus) - n_val:]
