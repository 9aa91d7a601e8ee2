"""zerograd.datasets.text: tokenizers, Vocab (d2l's rules, JSON), the two language-model
partitions, LanguageModelDataset with the DataLoader, and the train/validation split."""
import collections
import json

import numpy as np
import pytest

import zerograd as zg
from zerograd.datasets import (LanguageModelDataset, Vocab, seq_data_iter_random,
                               seq_data_iter_sequential, split_corpus, tokenize,
                               tokenize_words, tokenize_zh)
from zerograd.utils.data import DataLoader


class D2LVocab:
    """d2l 0.17's Vocab, verbatim apart from names: the reference for the ordering rules."""

    def __init__(self, tokens=None, min_freq=0, reserved_tokens=None):
        tokens = tokens or []
        if tokens and isinstance(tokens[0], list):
            tokens = [token for line in tokens for token in line]
        counter = collections.Counter(tokens)
        self.token_freqs = sorted(counter.items(), key=lambda x: x[1], reverse=True)
        self.idx_to_token = ["<unk>"] + (reserved_tokens or [])
        self.token_to_idx = {token: idx for idx, token in enumerate(self.idx_to_token)}
        for token, freq in self.token_freqs:
            if freq < min_freq:
                break
            if token not in self.token_to_idx:
                self.idx_to_token.append(token)
                self.token_to_idx[token] = len(self.idx_to_token) - 1


LINES = [["the", "time", "machine", "by", "h", "g", "wells"], [],
         ["the", "time", "traveller", "for", "so", "it", "will", "be"],
         ["the", "machine", "<pad>", "it", "it"]]


@pytest.mark.parametrize("min_freq", [0, 1, 2, 3])
@pytest.mark.parametrize("reserved", [None, ["<pad>", "<bos>", "<eos>"]])
def test_vocab_matches_d2l(min_freq, reserved):
    ours, ref = Vocab(LINES, min_freq, reserved), D2LVocab(LINES, min_freq, reserved)
    assert ours.idx_to_token == ref.idx_to_token
    assert ours.token_to_idx == ref.token_to_idx
    assert ours.token_freqs == ref.token_freqs


def test_vocab_ordering_and_lookup():
    vocab = Vocab(list("abbcccdddd"), reserved_tokens=["<pad>"])
    assert vocab.idx_to_token == ["<unk>", "<pad>", "d", "c", "b", "a"]
    assert len(vocab) == 6 and vocab.unk == 0
    assert vocab["c"] == 3 and vocab["zzz"] == 0
    assert vocab[["a", ("d", "?")]] == [5, [2, 0]]
    assert vocab.to_tokens(2) == "d"
    assert vocab.to_tokens([[5, 4], [1]]) == [["a", "b"], ["<pad>"]]
    assert vocab.to_tokens(np.array([2, 3])) == ["d", "c"]
    assert vocab.to_tokens(zg.tensor([[2], [3]])) == [["d"], ["c"]]
    assert vocab.to_tokens(zg.tensor(4)) == "b"
    assert "a" in vocab and "e" not in vocab
    # ties keep the order of first appearance (sorted() is stable over the Counter)
    assert Vocab(list("xyzzy")).idx_to_token == ["<unk>", "y", "z", "x"]
    np.testing.assert_array_equal(vocab.encode(list("dab?")), [2, 5, 4, 0])
    assert vocab.encode([]).dtype == np.int64
    assert len(Vocab()) == 1


def test_vocab_json_round_trip():
    vocab = Vocab(tokenize_zh("床前明月光，疑是地上霜。举头望明月，低头思故乡。"), min_freq=1,
                  reserved_tokens=["<pad>", "<bos>", "<eos>"])
    text = vocab.to_json()
    assert "明" in text  # kept readable, not \u-escaped
    again = Vocab.from_json(text)
    assert again == vocab and again is not vocab
    assert again.token_to_idx == vocab.token_to_idx
    assert again.reserved_tokens == vocab.reserved_tokens and again.min_freq == 1
    assert Vocab.from_json(json.loads(text)) == vocab  # a dict embedded in metadata
    assert Vocab.from_dict(json.loads(json.dumps({"vocab": vocab.to_dict()}))["vocab"]) == vocab
    with pytest.raises(ValueError, match="not a saved zerograd.Vocab"):
        Vocab.from_json('{"idx_to_token": ["<unk>"]}')
    broken = vocab.to_dict() | {"idx_to_token": ["a", "<unk>"]}
    with pytest.raises(ValueError, match="corrupt"):
        Vocab.from_dict(broken)


def test_tokenizers():
    assert tokenize("ab c", "char") == ["a", "b", " ", "c"]
    assert tokenize(["ab", "c"], "char") == [["a", "b"], ["c"]]
    assert tokenize_words("Don't panic, it's 42!") == ["Don't", "panic", ",", "it's", "42", "!"]
    assert tokenize_words("the time machine") == "the time machine".split()
    assert tokenize_zh("作者：李白\nDebian 真好 v2.0。") == [
        "作", "者", "：", "李", "白", "Debian", "真", "好", "v2.0", "。"]
    with pytest.raises(ValueError, match="unknown token type 'bpe'"):
        tokenize("abc", "bpe")


# -- partitions: with corpus = 0..n-1 a token is its own position -----------------------
N = 1000


def batches_of(it):
    return [(x.numpy(), y.numpy()) for x, y in it]


@pytest.mark.parametrize("seed", range(4))
def test_random_partition(seed):
    zg.manual_seed(seed)
    batches = batches_of(seq_data_iter_random(np.arange(N), batch_size=4, num_steps=7))
    assert len(batches) in ((N - 1) // 7 // 4, (N - 7) // 7 // 4)
    starts = []
    for x, y in batches:
        assert x.shape == y.shape == (4, 7) and x.dtype == np.int64
        np.testing.assert_array_equal(y, x + 1)  # Y is X shifted by one
        np.testing.assert_array_equal(np.diff(x, axis=1), 1)  # contiguous subsequences
        starts += x[:, 0].tolist()
    offset = starts[0] % 7
    assert offset < 7 and all(s % 7 == offset for s in starts)
    assert len(set(starts)) == len(starts)  # no subsequence twice in a pass
    assert starts != sorted(starts)  # shuffled


@pytest.mark.parametrize("seed", range(4))
def test_sequential_partition_loses_no_token(seed):
    zg.manual_seed(seed)
    batches = batches_of(seq_data_iter_sequential(list(range(N)), batch_size=3, num_steps=5))
    xs = np.concatenate([x for x, _ in batches], axis=1)
    ys = np.concatenate([y for _, y in batches], axis=1)
    np.testing.assert_array_equal(ys, xs + 1)
    offset = xs[0, 0]
    assert 0 <= offset <= 5
    # each row runs on across batch boundaries, and row r + 1 starts where row r's part of
    # the corpus ends: d2l's layout of (N - offset - 1) // 3 tokens per row
    per_row = (N - offset - 1) // 3
    expected = offset + np.arange(3)[:, None] * per_row + np.arange(xs.shape[1])
    np.testing.assert_array_equal(xs, expected)
    assert xs.shape[1] == per_row // 5 * 5


def test_batches_do_not_share_memory_with_the_corpus():
    corpus = np.arange(50)
    zg.manual_seed(0)
    x, _ = next(iter(seq_data_iter_sequential(corpus, 1, 5)))
    x.numpy()[...] = -1
    assert corpus.min() == 0


@pytest.mark.parametrize("use_random_iter", [False, True])
def test_reproducible_under_manual_seed(use_random_iter):
    def run(seed):
        zg.manual_seed(seed)
        data = LanguageModelDataset(np.arange(N), 4, 6, use_random_iter)
        loader = DataLoader(data, batch_size=None)
        return [batches_of(loader) for _ in range(2)]  # two passes
    first, again, other = run(3), run(3), run(4)
    for a, b in zip(first, again):
        for (xa, ya), (xb, yb) in zip(a, b):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)
    flat = lambda passes: np.concatenate([x for p in passes for x, _ in p])  # noqa: E731
    assert not np.array_equal(flat(first), flat(other))
    # an explicit generator leaves the default one alone
    zg.manual_seed(0)
    state = zg.get_rng_state()
    gen = zg.Generator().manual_seed(5)
    batches_of(LanguageModelDataset(np.arange(N), 4, 6, use_random_iter, generator=gen))
    assert zg.get_rng_state() == state


@pytest.mark.parametrize("use_random_iter", [False, True])
@pytest.mark.parametrize("n,b,t", [(1000, 4, 7), (101, 2, 5), (64, 3, 4), (43, 5, 7)])
def test_dataset_len_is_exact(use_random_iter, n, b, t):
    data = LanguageModelDataset(zg.arange(n), b, t, use_random_iter)
    for seed in range(12):  # many offsets, including the largest
        zg.manual_seed(seed)
        batches = batches_of(data)
        assert len(batches) == len(data) > 0
        assert all(x.shape == (b, t) for x, _ in batches)
    assert len(DataLoader(data, batch_size=None)) == len(data)


def test_dataset_errors_and_fixed_offset():
    with pytest.raises(ValueError, match="too short for batch_size=4, num_steps=10"):
        LanguageModelDataset(np.arange(40), 4, 10)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        LanguageModelDataset(np.arange(40), 0, 10)
    with pytest.raises(ValueError, match="flat sequence"):
        LanguageModelDataset(np.zeros((4, 50), dtype=np.int64), 2, 3)
    with pytest.raises(ValueError, match="random_offset=False"):
        LanguageModelDataset(np.arange(40), 2, 3, use_random_iter=True, random_offset=False)
    data = LanguageModelDataset(np.arange(100), 2, 5, random_offset=False)
    first, second = batches_of(data), batches_of(data)
    assert first[0][0][0, 0] == 0
    for (xa, _), (xb, _) in zip(first, second):
        np.testing.assert_array_equal(xa, xb)


def test_split_corpus():
    train, val = split_corpus(zg.arange(100), 0.2)
    np.testing.assert_array_equal(np.concatenate([train, val]), np.arange(100))
    assert len(val) == 20
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        split_corpus(np.arange(100), 1.0)
    with pytest.raises(ValueError, match="too short to split"):
        split_corpus(np.arange(5), 0.1)
