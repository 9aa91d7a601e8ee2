"""zerograd.datasets.text_corpora: the fortune format, ANSI stripping, load_corpus /
load_data_lm on small files, every error message, and Debian's real tang300."""
import os

import numpy as np
import pytest

import zerograd as zg
from zerograd.datasets import (CORPORA, FORTUNE_DIR, CorpusError, load_corpus, load_data_lm,
                               load_data_lm_split, load_text, parse_fortunes, read_fortunes,
                               strip_ansi)
from zerograd.utils.data import DataLoader

TANG300 = os.path.join(FORTUNE_DIR, "tang300")
needs_tang300 = pytest.mark.skipif(
    not os.path.isfile(TANG300),
    reason=f"{TANG300} missing (make data, or apt-get install fortunes-zh)")

FORTUNE_FILE = (
    "\x1b[32m《静夜思》\x1b[m\n"
    "\x1b[33m作者：李白\x1b[m\n"
    "床前明月光，疑是地上霜。\n"
    "举头望明月，低头思故乡。\n"
    "%\n"
    "%DCL-MEM-BAD, bad memory   \n"  # a line starting with % is text, not a separator
    "VMS-F-PDGERS, pudding between the ears\n"
    "%    \n"  # song100 has separators with trailing spaces
    "\n"
    "%\n"
    "\n"
    "\t_\bI_\bm_\bp_\bo_\br_\bt_\ba_\bn_\bt: a \x07bell\r\n"
    "%\n")


def write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def test_parse_fortunes():
    entries = parse_fortunes(FORTUNE_FILE)
    assert entries == [
        "《静夜思》\n作者：李白\n床前明月光，疑是地上霜。\n举头望明月，低头思故乡。",
        "%DCL-MEM-BAD, bad memory\nVMS-F-PDGERS, pudding between the ears",
        "\tImportant: a bell",
    ]
    assert parse_fortunes("") == [] and parse_fortunes("%\n%\n") == []
    assert parse_fortunes("no separator at all") == ["no separator at all"]


def test_strip_ansi():
    assert strip_ansi("\x1b[32m绿\x1b[m \x1b[1;33mbold\x1b[0m \x1b[;mx\x1b[K") == "绿 bold x"
    assert strip_ansi("plain [32m text") == "plain [32m text"
    assert "\x1b" not in strip_ansi("\x1b[;\x1b[32mx\x1b")


def test_fortune_and_text_files(tmp_path):
    path = write(tmp_path, "poems", FORTUNE_FILE)
    assert read_fortunes(path)[0].startswith("《静夜思》")
    # mostly Chinese: clean="auto" keeps the text; char tokens include the newlines
    corpus, vocab = load_corpus(f"fortune:{path}")
    text = "".join(vocab.to_tokens(corpus))
    assert text.startswith("《静夜思》\n作者：李白\n床前明月光")
    assert "\x1b" not in text and "%" in text
    assert vocab.idx_to_token[0] == "<unk>" and corpus.dtype == np.int64

    english = write(tmp_path, "tm.txt", "The Time Machine, by H. G. Wells [1898]\n\nI\n")
    assert load_text(f"text:{english}") == "the time machine by h g wells i"
    assert load_text(str(english)) == load_text(f"text:{english}")  # a bare path
    assert load_text(english, clean=None).startswith("The Time Machine, by")
    corpus, vocab = load_corpus(f"text:{english}", tokenize="word")
    assert vocab.to_tokens(corpus[:3]) == ["the", "time", "machine"]
    # d2l: the vocabulary counts every token, max_tokens only cuts the index list
    short, short_vocab = load_corpus(f"text:{english}", max_tokens=5)
    assert len(short) == 5 and short_vocab == load_corpus(f"text:{english}")[1]
    zh = write(tmp_path, "zh.txt", "\ufeff春眠不觉晓，处处闻啼鸟。")  # with a BOM
    assert load_text(f"text:{zh}") == "春眠不觉晓，处处闻啼鸟。"
    corpus, vocab = load_corpus(f"text:{zh}", tokenize="zh")
    assert len(corpus) == 12 and vocab.to_tokens(int(corpus[0])) == "春"


def test_load_data_lm_on_a_file(tmp_path):
    path = write(tmp_path, "t.txt", "the quick brown fox jumps over the lazy dog " * 40)
    zg.manual_seed(0)
    data_iter, vocab = load_data_lm(f"text:{path}", batch_size=4, num_steps=9)
    assert isinstance(data_iter, DataLoader) and len(vocab) == 28
    batches = list(data_iter)
    assert len(batches) == len(data_iter) > 0
    for x, y in batches:
        assert tuple(x.shape) == tuple(y.shape) == (4, 9) and x.dtype == zg.int64
    text = "".join(vocab.to_tokens(batches[0][0][0]))
    assert text in "the quick brown fox jumps over the lazy dog " * 2
    train_iter, val_iter, vocab2 = load_data_lm_split(f"text:{path}", 2, 5, val_fraction=0.25,
                                                      use_random_iter=True)
    assert vocab2 == vocab
    val_a = [x.numpy() for x, _ in val_iter]
    val_b = [x.numpy() for x, _ in val_iter]
    assert len(val_a) > 0 and all(np.array_equal(a, b) for a, b in zip(val_a, val_b))
    assert sum(1 for _ in train_iter) == len(train_iter) > 0


def one_line(excinfo):
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def test_errors(tmp_path):
    empty = write(tmp_path, "empty.txt", "")
    digits = write(tmp_path, "digits.txt", "1234, 5678!")
    separators_only = write(tmp_path, "seps", "%\n%\n")
    blank = write(tmp_path, "blank.txt", " \n\t\n")
    binary = write(tmp_path, "blob.bin", bytes(range(256)))
    latin1 = write(tmp_path, "latin1.txt", "caf\xe9".encode("latin-1"))
    ok = write(tmp_path, "ok.txt", "abc")
    cases = [
        (f"text:{empty}", {}, CorpusError, "is empty; give a file with text"),
        (f"text:{digits}", {}, CorpusError, r"empty after clean='d2l'.*clean=None"),
        (f"fortune:{separators_only}", {}, CorpusError, "is empty"),
        (f"text:{blank}", {"clean": None}, CorpusError, "is empty"),
        (f"text:{binary}", {}, CorpusError, "looks binary"),
        (f"text:{latin1}", {}, CorpusError, r"not UTF-8 text \(byte 0xe9 at offset 3\).*iconv"),
        (f"text:{tmp_path / 'nope.txt'}", {}, FileNotFoundError, "does not exist; check the path"),
        (f"text:{tmp_path}", {}, CorpusError, "is a folder"),
        ("tang3000", {}, ValueError,
         "unknown corpus 'tang3000'; known corpora: tang300, song100, chinese, fortunes"),
        (f"text:{ok}", {"clean": "lower"}, ValueError, "unknown clean='lower'"),
        (f"text:{ok}", {"tokenize": "bpe"}, ValueError, "unknown token type 'bpe'"),
    ]
    for name, kwargs, error, pattern in cases:
        with pytest.raises(error, match=pattern) as e:
            load_corpus(name, **kwargs)
        one_line(e)


@pytest.mark.parametrize("name", list(CORPORA))
def test_missing_debian_package(tmp_path, name):
    package = CORPORA[name][1]
    with pytest.raises(FileNotFoundError,
                       match=rf"needs Debian's {package} package .*`make data` or "
                             rf"`sudo apt-get install {package}`") as e:
        load_corpus(name, root=tmp_path)
    one_line(e)


def test_fortunes_needs_the_full_package(tmp_path):
    write(tmp_path, "fortunes", "fortunes-min alone\n%\n")  # no `science`: only fortunes-min
    with pytest.raises(FileNotFoundError, match="apt-get install fortunes`"):
        load_corpus("fortunes", root=tmp_path)
    write(tmp_path, "science", "Science!\n%\n")
    assert load_text("fortunes", root=tmp_path) == "fortunes min alone science"


@needs_tang300
def test_real_tang300():
    text = load_text("tang300")
    assert "\x1b" not in text and "%" not in text
    assert text.startswith("《感遇・其一》\n作者：张九龄\n兰叶春葳蕤，桂华秋皎洁。")
    assert text.count("作者：") >= 300
    corpus, vocab = load_corpus("tang300")
    assert len(corpus) == len(text) > 25_000
    assert 2_000 < len(vocab) < 4_000
    assert vocab.idx_to_token[:4] == ["<unk>", "\n", "，", "。"]
    zg.manual_seed(0)
    data_iter, vocab = load_data_lm("tang300", batch_size=8, num_steps=16,
                                    use_random_iter=True)
    x, y = next(iter(data_iter))
    assert tuple(x.shape) == (8, 16)
    row = "".join(vocab.to_tokens(x[0])) + vocab.to_tokens(y[0, -1])
    assert row[1:] == "".join(vocab.to_tokens(y[0]))
    assert row in text
