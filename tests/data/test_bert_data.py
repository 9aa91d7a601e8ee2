"""BERT pretraining examples: d2l's next-sentence pairs and 15% masking, vectorised."""
import numpy as np

from zerograd.datasets.bert_data import (BERT_RESERVED, bert_examples, mask_tokens, nsp_pairs,
                                         pack_pairs, paragraphs_of)
from zerograd.datasets.text import Vocab


def english():
    entries = ["The cat sat. The dog ran! A bird sang; the end.",
               "One sentence only",
               "Hello there. General Kenobi. You are a bold one."] * 20
    paragraphs, kind = paragraphs_of(entries)
    return paragraphs, Vocab([s for p in paragraphs for s in p], reserved_tokens=BERT_RESERVED)


def test_paragraphs_split_into_sentences_of_words_or_characters():
    paragraphs, kind = paragraphs_of(["The cat sat. The dog ran!", "alone"])
    assert kind == "word"
    assert paragraphs == [[["the", "cat", "sat", "."], ["the", "dog", "ran", "!"]]]
    paragraphs, kind = paragraphs_of(["床前明月光，疑是地上霜。\n举头望明月"])
    assert kind == "char" and paragraphs[0][0] == list("床前明月光，")
    assert len(paragraphs[0]) == 3


def test_nsp_pairs_are_consecutive_or_random_half_the_time():
    paragraphs, _ = english()
    first, second, is_next = nsp_pairs(paragraphs, np.random.default_rng(0))
    assert len(first) == 20 * (3 + 2)  # n - 1 pairs in a paragraph of n = 4 or 3 sentences
    assert np.all(second[is_next] == first[is_next] + 1)
    assert 0.3 < is_next.mean() < 0.7


def test_pairs_are_packed_as_cls_a_sep_b_sep_with_segments():
    paragraphs, vocab = english()
    sentences = [s for p in paragraphs for s in p]
    first, second = np.array([0, 1]), np.array([1, 5])
    toks, segs, valid, kept = pack_pairs(sentences, first, second, vocab, 12)
    assert kept.tolist() == [True, True]
    row = vocab.to_tokens(toks[0].tolist())
    assert row[:valid[0]] == ["<cls>", "the", "cat", "sat", ".", "<sep>", "the", "dog", "ran",
                              "!", "<sep>"]
    assert row[valid[0]:] == ["<pad>"] * (12 - valid[0])
    assert segs[0].tolist() == [0] * 6 + [1] * 5 + [0]
    # a pair longer than max_len is dropped, as d2l
    assert pack_pairs(sentences, first, second, vocab, 10)[3].tolist() == [False, True]


def test_masking_picks_15_percent_of_the_plain_tokens_and_replaces_80_10_10():
    paragraphs, vocab = english()
    rng = np.random.default_rng(0)
    n = 4000
    toks = np.full((n, 40), vocab["<pad>"], dtype=np.int64)
    toks[:, 0], toks[:, 39] = vocab["<cls>"], vocab["<sep>"]
    toks[:, 1:39] = rng.integers(len(BERT_RESERVED), len(vocab), size=(n, 38))
    valid = np.full(n, 40)
    masked, pos, weights, labels = mask_tokens(toks, valid, vocab, rng, max_preds=6)
    assert np.all(weights.sum(1) == 6)                     # round(0.15 * 40)
    rows = np.arange(n)[:, None]
    assert np.all((pos >= 1) & (pos <= 38))                # never <cls>/<sep>
    assert np.all(labels == toks[rows, pos])               # targets: the original tokens
    assert all(len(set(p)) == 6 for p in pos[:50].tolist())
    after = masked[rows, pos]
    share_mask = (after == vocab["<mask>"]).mean()
    share_kept = (after == labels).mean()
    assert abs(share_mask - 0.8) < 0.02 and 0.09 < share_kept < 0.13
    unchosen = np.ones_like(toks, dtype=bool)
    unchosen[rows, pos] = False
    assert np.array_equal(masked[unchosen], toks[unchosen])


def test_bert_examples_arrays_line_up():
    paragraphs, vocab = english()
    ex = bert_examples(paragraphs, vocab, 16, np.random.default_rng(1))
    n = len(ex["tokens"])
    assert n > 0 and all(len(a) == n for a in ex.values())
    assert ex["pred_positions"].shape == (n, 2) and ex["valid_lens"].dtype == np.float32
    assert set(ex["nsp_labels"].tolist()) <= {0, 1}
    real = ex["mlm_weights"] > 0
    assert np.all(ex["pred_positions"][real] < ex["valid_lens"][:, None].repeat(2, 1)[real])
