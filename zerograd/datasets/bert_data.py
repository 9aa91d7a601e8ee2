"""BERT pretraining examples (d2l 15.9) from paragraphs of text, built with array operations.

A paragraph is a list of sentences, a sentence a list of tokens. For every pair of
consecutive sentences, half the time the second is replaced by a random sentence of a
random paragraph (next-sentence prediction, d2l's ``_get_nsp_data_from_paragraph``);
the pair becomes ``<cls> A <sep> B <sep>`` with segment ids 0 then 1, and pairs longer
than ``max_len`` are dropped. Then 15% of the non-special tokens of each example are
chosen for prediction (at least one); of those 80% become ``<mask>``, 10% a random token
and 10% stay (d2l's ``_get_mlm_data_from_tokens``). d2l loops over tokens in Python;
here the choice is one ``argsort`` of random keys per batch of examples and the
replacements three vectorised draws, with the same distribution.

``paragraphs_of`` splits text into paragraphs and sentences: fortune entries (or
blank-line-separated blocks of a file) are paragraphs; English sentences end at
``. ! ? ;``, and their tokens are lower-cased words; other text (Chinese) is split at
``。！？；，`` and line ends, one character a token.
"""
import re

import numpy as np

__all__ = ["BERT_RESERVED", "paragraphs_of", "nsp_pairs", "pack_pairs", "mask_tokens",
           "bert_examples"]

BERT_RESERVED = ["<pad>", "<mask>", "<cls>", "<sep>"]
_ENGLISH_END = re.compile(r"(?<=[.!?;])\s+")
_CHINESE_END = re.compile(r"(?<=[。！？；，])|\n")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)*|[^\w\s]")


def _mostly_ascii(text):
    visible = [c for c in text[:100000] if not c.isspace()]
    return bool(visible) and sum(c.isascii() for c in visible) >= 0.95 * len(visible)


def paragraphs_of(entries):
    """``(paragraphs, tokenize)``: each entry's sentences as token lists (paragraphs of
    fewer than two sentences dropped, as d2l), and ``"word"`` or ``"char"``."""
    english = _mostly_ascii("\n".join(entries[:200]))
    paragraphs = []
    for entry in entries:
        if english:
            parts = _ENGLISH_END.split(entry.strip())
            sentences = [_WORD.findall(p.lower()) for p in parts]
        else:
            sentences = [[c for c in p if not c.isspace()] for p in _CHINESE_END.split(entry)]
        sentences = [s for s in sentences if s]
        if len(sentences) >= 2:
            paragraphs.append(sentences)
    return paragraphs, ("word" if english else "char")


def nsp_pairs(paragraphs, rng):
    """``(first, second, is_next)``: per consecutive-sentence pair, indices into the flat
    list of sentences, the second replaced by a random paragraph's random sentence with
    probability 1/2."""
    sizes = np.array([len(p) for p in paragraphs], dtype=np.int64)
    starts = np.cumsum(sizes) - sizes
    first = np.concatenate([s + np.arange(n - 1) for s, n in zip(starts, sizes)])
    is_next = rng.random(len(first)) < 0.5
    para = rng.integers(0, len(paragraphs), size=len(first))
    random_sentence = starts[para] + (rng.random(len(first)) * sizes[para]).astype(np.int64)
    second = np.where(is_next, first + 1, random_sentence)
    return first, second, is_next


def pack_pairs(sentences, first, second, vocab, max_len):
    """``<cls> A <sep> B <sep>`` rows: ``(tokens (N, max_len), segments, valid_lens, kept)``
    with ``kept`` the mask of pairs that fit in ``max_len``."""
    ids = [np.asarray(vocab[s], dtype=np.int64).reshape(-1) for s in sentences]
    lens = np.array([len(s) for s in ids], dtype=np.int64)
    la, lb = lens[first], lens[second]
    kept = la + lb + 3 <= max_len
    first, second, la, lb = first[kept], second[kept], la[kept], lb[kept]
    n = len(first)
    tokens = np.full((n, max_len), vocab["<pad>"], dtype=np.int64)
    pos = np.arange(max_len)[None, :]
    a_end, b_end = la[:, None] + 1, la[:, None] + 2 + lb[:, None]
    flat = np.concatenate(ids) if ids else np.zeros(0, np.int64)
    starts = np.cumsum(lens) - lens
    in_a = (pos >= 1) & (pos < a_end)
    in_b = (pos > a_end) & (pos < b_end)
    tokens[in_a] = flat[(starts[first][:, None] + pos - 1)[in_a]]
    tokens[in_b] = flat[(starts[second][:, None] + pos - a_end - 1)[in_b]]
    tokens[:, 0] = vocab["<cls>"]
    tokens[(pos == a_end) | (pos == b_end)] = vocab["<sep>"]
    segments = (pos > a_end) & (pos <= b_end)
    return tokens, segments.astype(np.int64), (b_end[:, 0] + 1), kept


def mask_tokens(tokens, valid_lens, vocab, rng, max_preds):
    """Masked-LM inputs and targets: ``(masked tokens, pred_positions (N, max_preds),
    mlm_weights (N, max_preds) float32, mlm_labels (N, max_preds))``; unused prediction
    slots have position 0, weight 0 and label 0."""
    n, max_len = tokens.shape
    pos = np.arange(max_len)[None, :]
    special = (tokens == vocab["<cls>"]) | (tokens == vocab["<sep>"])
    candidate = (pos < valid_lens[:, None]) & ~special
    # d2l: max(1, round(15% of the tokens)), never more than the candidates
    count = np.minimum(np.maximum(1, np.round(valid_lens * 0.15).astype(np.int64)),
                       candidate.sum(axis=1))
    keys = np.where(candidate, rng.random((n, max_len)), np.inf)
    chosen = np.argsort(keys, axis=1, kind="stable")[:, :max_preds]
    weights = np.arange(max_preds)[None, :] < count[:, None]
    positions = np.where(weights, chosen, 0)
    rows = np.arange(n)[:, None]
    labels = np.where(weights, tokens[rows, positions], 0)
    draw = rng.random((n, max_preds))
    replacement = np.where(draw < 0.8, vocab["<mask>"],
                           np.where(draw < 0.9, labels,
                                    rng.integers(0, len(vocab), size=(n, max_preds))))
    masked = tokens.copy()
    masked[rows.repeat(max_preds, 1)[weights], positions[weights]] = replacement[weights]
    return masked, positions, weights.astype(np.float32), labels


def bert_examples(paragraphs, vocab, max_len, rng):
    """All pretraining examples of ``paragraphs`` as a dict of arrays: ``tokens``,
    ``segments``, ``valid_lens`` (float32, as d2l), ``pred_positions``, ``mlm_weights``,
    ``mlm_labels``, ``nsp_labels`` (1: B follows A)."""
    sentences = [s for p in paragraphs for s in p]
    first, second, is_next = nsp_pairs(paragraphs, rng)
    tokens, segments, valid_lens, kept = pack_pairs(sentences, first, second, vocab, max_len)
    max_preds = max(1, round(max_len * 0.15))
    masked, positions, weights, labels = mask_tokens(tokens, valid_lens, vocab, rng, max_preds)
    return {"tokens": masked, "segments": segments,
            "valid_lens": valid_lens.astype(np.float32), "pred_positions": positions,
            "mlm_weights": weights, "mlm_labels": labels,
            "nsp_labels": is_next[kept].astype(np.int64)}
