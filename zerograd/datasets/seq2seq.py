"""Sequence-to-sequence data: d2l's machine-translation pipeline and synthetic tasks.

d2l's ``fra-eng`` recipe, for any file of tab-separated ``source<TAB>target`` lines::

    data_iter, src_vocab, tgt_vocab = load_data_nmt(batch_size=64, num_steps=10,
                                                    path="fra.txt")

and the same pipeline over generated pairs that need no file at all::

    data_iter, src_vocab, tgt_vocab = load_data_seq2seq("reverse", 64, num_steps=10)

Each batch is ``(X, X_valid_len, Y, Y_valid_len)``: int64 index tensors of shape
``(batch_size, num_steps)`` ending in ``<eos>`` and padded with ``<pad>``, and int32
lengths that count the non-padding tokens (d2l's ``valid_len``). Both vocabularies
reserve ``<pad>``, ``<bos>`` and ``<eos>`` (indices 1, 2, 3 after ``<unk>``); a decoder's
input starts with ``<bos>``, which the training loop prepends.
"""
import itertools
import os
import re

import numpy as np

from zerograd.datasets.download import cache_dir
from zerograd.datasets.text import Vocab
from zerograd.datasets.text_corpora import CorpusError, read_text_file
from zerograd.ops.creation import from_numpy
from zerograd.random import rng_of
from zerograd.utils.data.dataloader import DataLoader
from zerograd.utils.data.dataset import TensorDataset

__all__ = ["RESERVED_TOKENS", "SEQ2SEQ_TASKS", "preprocess_nmt", "tokenize_nmt",
           "truncate_pad", "build_array_nmt", "read_data_nmt", "load_data_nmt",
           "synthetic_seq2seq", "load_data_seq2seq"]

RESERVED_TOKENS = ["<pad>", "<bos>", "<eos>"]
SEQ2SEQ_TASKS = ("reverse", "sort", "digit-sum")

_SPACE_BEFORE_MARK = re.compile(r"(?<=[^ ])([,.!?])")


def preprocess_nmt(text):
    """d2l's cleanup: non-breaking spaces become spaces, lower case, and a space goes
    before ``, . ! ?`` when there is none (so punctuation marks become tokens)."""
    text = text.replace("\u202f", " ").replace("\xa0", " ").lower()
    return _SPACE_BEFORE_MARK.sub(r" \1", text)


def tokenize_nmt(text, num_examples=None):
    """Source and target token lists from ``source<TAB>target`` lines (split at spaces).

    Lines without a tab are skipped; columns after the second (the attribution of
    manythings.org's files) are ignored. ``num_examples`` keeps the first pairs (d2l's
    loop keeps one more than asked; this keeps exactly ``num_examples``).
    """
    source, target = [], []
    for line in text.split("\n"):
        if num_examples and len(source) >= num_examples:
            break
        parts = line.split("\t")
        if len(parts) >= 2:
            source.append(parts[0].split(" "))
            target.append(parts[1].split(" "))
    return source, target


def truncate_pad(line, num_steps, padding_token):
    """``line`` cut to ``num_steps`` tokens or padded up to it with ``padding_token``."""
    if len(line) > num_steps:
        return list(line[:num_steps])
    return list(line) + [padding_token] * (num_steps - len(line))


def build_array_nmt(lines, vocab, num_steps):
    """Token lists as a ``(len(lines), num_steps)`` int64 tensor (each line, then
    ``<eos>``, truncated or padded with ``<pad>``) and its int32 valid lengths (the
    non-padding tokens per row), as d2l's ``build_array_nmt``; built without a
    per-token Python loop."""
    lengths = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
    flat = vocab.encode(list(itertools.chain.from_iterable(lines)))
    pad, eos = vocab["<pad>"], vocab["<eos>"]
    starts = np.cumsum(lengths) - lengths
    steps = np.arange(num_steps)
    is_token = steps < lengths[:, None]
    array = np.full((len(lines), num_steps), pad, dtype=np.int64)
    array[is_token] = flat[(starts[:, None] + steps)[is_token]]
    array[steps == lengths[:, None]] = eos
    valid_len = (array != pad).sum(axis=1).astype(np.int32)
    return from_numpy(array), from_numpy(valid_len)


def read_data_nmt(path=None):
    """The text of a parallel-corpus file (CRLF line ends made LF).

    Without ``path`` it looks for ``fra-eng/fra.txt`` under ``$ZEROGRAD_DATA`` and the
    user cache (``~/.cache/zerograd/fra-eng``).
    """
    if path is None:
        candidates = [os.path.join(base, "fra-eng", "fra.txt")
                      for base in (os.environ.get("ZEROGRAD_DATA"),) if base]
        candidates.append(os.fspath(cache_dir("fra-eng") / "fra.txt"))
        path = next((p for p in candidates if os.path.isfile(p)), None)
        if path is None:
            raise FileNotFoundError(
                f"no parallel text found (looked for {', '.join(candidates)}); pass path= a "
                f"file of 'source<TAB>target' lines (e.g. fra.txt from "
                f"https://www.manythings.org/anki/fra-eng.zip) or use a synthetic task: "
                f"load_data_seq2seq('reverse', ...)")
    return read_text_file(path).replace("\r\n", "\n")


def _loader(source, target, batch_size, num_steps, min_freq, generator):
    src_vocab = Vocab(source, min_freq=min_freq, reserved_tokens=RESERVED_TOKENS)
    tgt_vocab = Vocab(target, min_freq=min_freq, reserved_tokens=RESERVED_TOKENS)
    src_array, src_valid_len = build_array_nmt(source, src_vocab, num_steps)
    tgt_array, tgt_valid_len = build_array_nmt(target, tgt_vocab, num_steps)
    dataset = TensorDataset(src_array, src_valid_len, tgt_array, tgt_valid_len)
    data_iter = DataLoader(dataset, batch_size, shuffle=True, generator=generator)
    return data_iter, src_vocab, tgt_vocab


def load_data_nmt(batch_size, num_steps, num_examples=600, path=None, min_freq=2,
                  generator=None):
    """d2l's ``load_data_nmt`` for a file of ``source<TAB>target`` lines.

    Returns ``(data_iter, src_vocab, tgt_vocab)``: a shuffling ``DataLoader`` of
    ``(X, X_valid_len, Y, Y_valid_len)`` and the two vocabularies (tokens seen fewer than
    ``min_freq`` times become ``<unk>``). See ``read_data_nmt`` for ``path=None``.
    """
    text = read_data_nmt(path)
    source, target = tokenize_nmt(preprocess_nmt(text), num_examples)
    if not source:
        raise CorpusError(f"{path!r} holds no 'source<TAB>target' lines; give a file of "
                          f"tab-separated sentence pairs, one pair a line")
    return _loader(source, target, batch_size, num_steps, min_freq, generator)


def _check_task(task, num_examples, min_len, max_len, alphabet):
    if task not in SEQ2SEQ_TASKS:
        raise ValueError(f"unknown seq2seq task {task!r}; use one of {', '.join(SEQ2SEQ_TASKS)}")
    if not (isinstance(num_examples, (int, np.integer)) and num_examples >= 1):
        raise ValueError(f"num_examples must be a positive integer, got {num_examples!r}")
    if not 1 <= min_len <= max_len:
        raise ValueError(f"need 1 <= min_len <= max_len, got min_len={min_len}, "
                         f"max_len={max_len}")
    if alphabet is None:
        alphabet = "0123456789" if task == "digit-sum" else "abcdefghijklmnopqrstuvwxyz"
    if not alphabet or len(set(alphabet)) != len(alphabet):
        raise ValueError(f"alphabet must be non-empty with no repeated symbols, got "
                         f"{alphabet!r}")
    if task == "digit-sum" and not all(s in "0123456789" for s in alphabet):
        raise ValueError(f"the digit-sum task needs an alphabet of digits, got {alphabet!r}")
    return list(alphabet)


def synthetic_seq2seq(task, num_examples=1000, min_len=3, max_len=8, alphabet=None,
                      generator=None):
    """Generated ``(source, target)`` token lists (one symbol a token), like
    ``tokenize_nmt``'s output:

    - ``"reverse"``: a random string and the same string backwards;
    - ``"sort"``: a random string and its symbols in sorted order;
    - ``"digit-sum"``: a random digit string and the decimal digits of their sum
      (``3 9 4`` -> ``1 6``).

    Source lengths are uniform in ``[min_len, max_len]``, symbols uniform over
    ``alphabet`` (default: ``a``-``z``, digits for digit-sum). Draws come from
    ``generator`` (the default zerograd generator when None).
    """
    symbols = _check_task(task, num_examples, min_len, max_len, alphabet)
    rng = rng_of(generator)
    lengths = rng.integers(min_len, max_len + 1, size=num_examples)
    codes = rng.integers(0, len(symbols), size=(num_examples, max_len))
    source, target = [], []
    for row, length in zip(codes.tolist(), lengths.tolist()):
        src = row[:length]
        if task == "reverse":
            tgt = [symbols[c] for c in reversed(src)]
        elif task == "sort":
            tgt = [symbols[c] for c in sorted(src)]
        else:
            tgt = list(str(sum(int(symbols[c]) for c in src)))
        source.append([symbols[c] for c in src])
        target.append(tgt)
    return source, target


def load_data_seq2seq(task, batch_size, num_steps, num_examples=1000, min_len=3, max_len=8,
                      alphabet=None, min_freq=0, generator=None):
    """A synthetic task (``synthetic_seq2seq``) through d2l's translation pipeline.

    Returns ``(data_iter, src_vocab, tgt_vocab)`` exactly like ``load_data_nmt``.
    ``num_steps`` should be at least ``max_len + 1`` (room for ``<eos>``); longer pairs
    are truncated, as in d2l. ``generator`` drives both the data and the shuffling.
    """
    source, target = synthetic_seq2seq(task, num_examples, min_len, max_len, alphabet,
                                       generator)
    return _loader(source, target, batch_size, num_steps, min_freq, generator)
