"""zerograd.datasets.seq2seq: d2l's translation pipeline (checked against d2l's own loops)
and the synthetic reverse / sort / digit-sum tasks."""
import numpy as np
import pytest

import zerograd as zg
from zerograd.datasets import (RESERVED_TOKENS, CorpusError, Vocab, build_array_nmt,
                               load_data_nmt, load_data_seq2seq, preprocess_nmt,
                               synthetic_seq2seq, tokenize_nmt, truncate_pad)


def d2l_preprocess_nmt(text):
    """d2l's character loop, the reference."""
    def no_space(char, prev_char):
        return char in set(",.!?") and prev_char != " "
    text = text.replace("\u202f", " ").replace("\xa0", " ").lower()
    out = [" " + char if i > 0 and no_space(char, text[i - 1]) else char
           for i, char in enumerate(text)]
    return "".join(out)


def d2l_build_array_nmt(lines, vocab, num_steps):
    lines = [vocab[line] + [vocab["<eos>"]] for line in lines]
    array = np.array([truncate_pad(line, num_steps, vocab["<pad>"]) for line in lines])
    return array, (array != vocab["<pad>"]).sum(1)


PAIRS = ("Go.\tVa !\nHi.\tSalut !\nRun!\tCours\u202f!\nWho?\tQui ?\nWow!\tÇa alors\xa0!\n"
         "I lost.\tJ'ai perdu.\tCC-BY 2.0 (France) Attribution: tatoeba.org\n"
         "no tab on this line\n\nHe's calm.\tIl est calme.")


def test_preprocess_matches_d2l():
    for text in (PAIRS, "?!..", ".a", "hello,world !  ok?", ""):
        assert preprocess_nmt(text) == d2l_preprocess_nmt(text)
    assert preprocess_nmt("Go.\tVa !") == "go .\tva !"


def test_tokenize_nmt():
    source, target = tokenize_nmt(preprocess_nmt(PAIRS))
    assert len(source) == len(target) == 7  # the no-tab and empty lines are skipped
    assert source[0] == ["go", "."] and target[0] == ["va", "!"]
    assert target[5] == ["j'ai", "perdu", "."]  # a third (attribution) column is ignored
    assert tokenize_nmt(preprocess_nmt(PAIRS), num_examples=2) == (source[:2], target[:2])


def test_truncate_pad():
    assert truncate_pad([47, 4], 5, 1) == [47, 4, 1, 1, 1]
    assert truncate_pad([1, 2, 3, 4, 5, 6], 4, 0) == [1, 2, 3, 4]
    assert truncate_pad((7, 8), 2, 0) == [7, 8]
    assert truncate_pad([], 3, "<pad>") == ["<pad>"] * 3


@pytest.mark.parametrize("num_steps", [1, 3, 6, 12])
def test_build_array_matches_d2l(num_steps):
    rng = np.random.default_rng(0)
    words = ["a", "b", "c", "d", "e"]
    lines = [list(rng.choice(words, size=rng.integers(0, 9))) for _ in range(30)]
    vocab = Vocab(lines, reserved_tokens=RESERVED_TOKENS)
    array, valid_len = build_array_nmt(lines, vocab, num_steps)
    ref_array, ref_valid = d2l_build_array_nmt(lines, vocab, num_steps)
    np.testing.assert_array_equal(array.numpy(), ref_array)
    np.testing.assert_array_equal(valid_len.numpy(), ref_valid)
    assert array.dtype == zg.int64 and valid_len.dtype == zg.int32
    lengths = np.array([len(line) for line in lines])
    np.testing.assert_array_equal(valid_len.numpy(), np.minimum(lengths + 1, num_steps))


def test_load_data_nmt(tmp_path):
    path = tmp_path / "fra.txt"
    path.write_text(PAIRS.replace("\n", "\r\n"), encoding="utf-8")
    zg.manual_seed(0)
    data_iter, src_vocab, tgt_vocab = load_data_nmt(batch_size=2, num_steps=8, path=path,
                                                    min_freq=1)
    assert src_vocab.idx_to_token[:4] == ["<unk>"] + RESERVED_TOKENS
    x, x_valid_len, y, y_valid_len = next(iter(data_iter))
    assert tuple(x.shape) == tuple(y.shape) == (2, 8) and tuple(x_valid_len.shape) == (2,)
    for row, n in zip(x.numpy(), x_valid_len.numpy()):
        assert row[n - 1] == src_vocab["<eos>"] and (row[n:] == src_vocab["<pad>"]).all()
    assert sum(len(batch[0]) for batch in data_iter) == 7
    # d2l's default min_freq=2 sends words seen once to <unk>
    _, src_vocab, _ = load_data_nmt(2, 8, path=path)
    assert src_vocab.idx_to_token == ["<unk>"] + RESERVED_TOKENS + [".", "!"]


def test_load_data_nmt_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("ZEROGRAD_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match=r"no parallel text found.*pass path=") as e:
        load_data_nmt(2, 8)
    assert "\n" not in str(e.value)
    no_tabs = tmp_path / "plain.txt"
    no_tabs.write_text("just\nlines\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="holds no 'source<TAB>target' lines"):
        load_data_nmt(2, 8, path=no_tabs)
    found = tmp_path / "data" / "fra-eng" / "fra.txt"
    found.parent.mkdir(parents=True)
    found.write_text(PAIRS, encoding="utf-8")
    monkeypatch.setenv("ZEROGRAD_DATA", str(tmp_path / "data"))
    assert len(load_data_nmt(2, 8, min_freq=1)[1]) > 4


def test_synthetic_tasks_are_correct():
    zg.manual_seed(0)
    for task, check in (("reverse", lambda s: s[::-1]), ("sort", sorted),
                        ("digit-sum", lambda s: list(str(sum(map(int, s)))))):
        source, target = synthetic_seq2seq(task, num_examples=200, min_len=2, max_len=6)
        assert len(source) == len(target) == 200
        assert {len(s) for s in source} == set(range(2, 7))
        for s, t in zip(source, target):
            assert t == check(s)
    source, _ = synthetic_seq2seq("sort", 50, alphabet="xyz")
    assert {c for s in source for c in s} == set("xyz")
    _, target = synthetic_seq2seq("digit-sum", 20, min_len=1, max_len=1, alphabet="9")
    assert target == [["9"]] * 20


def test_synthetic_tasks_are_seeded():
    zg.manual_seed(1)
    a = synthetic_seq2seq("reverse", 30)
    zg.manual_seed(1)
    assert synthetic_seq2seq("reverse", 30) == a
    assert synthetic_seq2seq("reverse", 30) != a  # the generator moved on
    gen = zg.Generator().manual_seed(1)
    assert synthetic_seq2seq("reverse", 30, generator=gen) == a


def test_synthetic_errors():
    for kwargs, pattern in (({"task": "copy"}, "unknown seq2seq task 'copy'; use one of "
                                               "reverse, sort, digit-sum"),
                            ({"num_examples": 0}, "num_examples must be a positive"),
                            ({"min_len": 5, "max_len": 2}, "min_len <= max_len"),
                            ({"alphabet": "aa"}, "no repeated symbols"),
                            ({"task": "digit-sum", "alphabet": "ab"}, "alphabet of digits")):
        kwargs = {"task": "reverse", **kwargs}
        with pytest.raises(ValueError, match=pattern):
            synthetic_seq2seq(**kwargs)


def test_load_data_seq2seq_batches_decode_to_the_task():
    zg.manual_seed(0)
    data_iter, src_vocab, tgt_vocab = load_data_seq2seq("reverse", batch_size=16,
                                                        num_steps=9, num_examples=100)
    assert len(data_iter) == 7
    seen = 0
    for x, x_len, y, y_len in data_iter:
        for xs, xn, ys, yn in zip(x.numpy(), x_len.numpy(), y.numpy(), y_len.numpy()):
            src = src_vocab.to_tokens(xs[:xn - 1].tolist())
            assert src_vocab.to_tokens(int(xs[xn - 1])) == "<eos>"
            assert tgt_vocab.to_tokens(ys[:yn - 1].tolist()) == src[::-1]
            seen += 1
    assert seen == 100
    # num_steps shorter than the pairs: truncated as in d2l (no <eos> left)
    data_iter, src_vocab, _ = load_data_seq2seq("sort", 4, num_steps=2, num_examples=8,
                                                min_len=5, max_len=5)
    x, x_len, _, _ = next(iter(data_iter))
    assert (x_len.numpy() == 2).all() and src_vocab["<eos>"] not in x.numpy()
