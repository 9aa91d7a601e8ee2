"""Real text corpora that need no download: Debian's fortune files, and any UTF-8 file.

Names ``load_corpus`` and ``load_data_lm`` know:

- ``"tang300"``: 300 Tang poems (package ``fortunes-zh``), ``"song100"``: 100 Song ci,
  ``"chinese"``: the package's Chinese sayings and tips;
- ``"fortunes"``: every English fortune file of the ``fortunes`` and ``fortunes-min``
  packages (about 2.5 million characters);
- ``"text:PATH"`` (or a bare path): any UTF-8 text file; ``"fortune:PATH"``: a file in
  the fortune format.

The Debian files live in ``/usr/share/games/fortunes`` (``make data`` installs them).
A fortune file is a list of entries separated by lines holding only ``%``; fortunes-zh
colours titles and authors with ANSI escapes (``ESC[32m...ESC[m``) and the English files
use backspace overstriking (``_\\bX``) for underlining: both are removed.

``clean`` chooses the normalization: ``"d2l"`` keeps ASCII letters only, lower-cased,
everything else one space (d2l's time machine, a 28-token character vocabulary);
``None`` keeps the text (Chinese needs this); ``"auto"`` (default) uses ``"d2l"`` for
mostly-ASCII text and ``None`` otherwise.
"""
import os
import re

from zerograd.datasets.text import LanguageModelDataset, Vocab, split_corpus
from zerograd.datasets.text import tokenize as _split_tokens
from zerograd.utils.data.dataloader import DataLoader

__all__ = ["CorpusError", "FORTUNE_DIR", "CORPORA", "strip_ansi", "parse_fortunes",
           "read_fortunes", "read_text_file", "clean_d2l", "load_text", "load_corpus",
           "load_data_lm", "load_data_lm_split"]

FORTUNE_DIR = "/usr/share/games/fortunes"

# the English files of Debian's fortunes (40 files) and fortunes-min (3 files) packages
_ENGLISH_FILES = (
    "art", "ascii-art", "computers", "cookie", "debian", "definitions", "disclaimer",
    "drugs", "education", "ethnic", "food", "fortunes", "goedel", "humorists", "kids",
    "knghtbrd", "law", "linux", "linuxcookie", "literature", "love", "magic", "medicine",
    "men-women", "miscellaneous", "news", "paradoxum", "people", "perl", "pets",
    "platitudes", "politics", "pratchett", "riddles", "science", "songs-poems", "sports",
    "startrek", "tao", "translate-me", "wisdom", "work", "zippy")

# name -> (files, Debian package, description, default cleaning)
CORPORA = {
    "tang300": (("tang300",), "fortunes-zh", "300 Tang poems (Chinese)", None),
    "song100": (("song100",), "fortunes-zh", "100 Song ci poems (Chinese)", None),
    "chinese": (("chinese",), "fortunes-zh", "Chinese sayings, classics and tips", None),
    "fortunes": (_ENGLISH_FILES, "fortunes", "all English fortune cookies", "d2l"),
}


class CorpusError(ValueError):
    """A text file or corpus that cannot be used (empty, binary, malformed)."""


# CSI sequences (colours: ESC [ 32 m, ESC [ ; m ...), then any other two-byte escape
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]?")
_OVERSTRIKE = re.compile(r"[^\n]\x08")  # "_\bX" underlines X, "X\bX" bolds it: keep X
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # bells, stray backspaces (not \t, \n)
_SEPARATOR = re.compile(r"^%[ \t]*$", re.MULTILINE)
_NOT_LETTERS = re.compile(r"[^A-Za-z]+")


def strip_ansi(text):
    """``text`` without ANSI terminal escapes (colours, bold...)."""
    return _ANSI.sub("", text)


def _sanitize(text):
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _OVERSTRIKE.sub("", strip_ansi(text))
    return _CONTROL.sub("", text)


def parse_fortunes(text):
    """The entries of a fortune file's text: split at lines holding only ``%``, ANSI
    escapes, overstriking and control characters removed, surrounding blank lines and
    trailing spaces trimmed, empty entries dropped."""
    entries = []
    for chunk in _SEPARATOR.split(_sanitize(text)):
        entry = "\n".join(line.rstrip() for line in chunk.split("\n")).strip("\n")
        if entry.strip():
            entries.append(entry)
    return entries


def read_text_file(path):
    """The text of a UTF-8 file (a leading BOM is dropped), with one-line errors for a
    missing path, a folder, or a binary / non-UTF-8 file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"text file {path!r} does not exist; check the path (a "
                                f"corpus name needs no 'text:' prefix, see CORPORA)")
    if os.path.isdir(path):
        raise CorpusError(f"{path!r} is a folder, not a text file; pass a file inside it")
    with open(path, "rb") as f:
        data = f.read()
    if b"\x00" in data:
        raise CorpusError(f"{path!r} looks binary (it holds NUL bytes); give a UTF-8 text "
                          f"file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise CorpusError(f"{path!r} is not UTF-8 text (byte 0x{data[err.start]:02x} at "
                          f"offset {err.start}); convert it, e.g. `iconv -f LATIN1 -t "
                          f"UTF-8`, or give a UTF-8 text file") from None


def read_fortunes(path):
    """The entries of a fortune-format file (see ``parse_fortunes``)."""
    return parse_fortunes(read_text_file(path))


def clean_d2l(text):
    """d2l's time-machine cleanup: runs of non-letters become one space, lower case."""
    return _NOT_LETTERS.sub(" ", text).lower().strip()


def _is_mostly_ascii(text):
    visible = re.sub(r"\s+", "", text)
    return bool(visible) and sum(c.isascii() for c in visible) >= 0.95 * len(visible)


def _resolve(name_or_path):
    """``(kind, target)``: kind is "corpus", "text" or "fortune"."""
    name = os.fspath(name_or_path)
    for prefix in ("text", "fortune"):
        if name.startswith(prefix + ":"):
            return prefix, name[len(prefix) + 1:]
    if name in CORPORA:
        return "corpus", name
    if os.sep in name or os.path.exists(name):
        return "text", name
    raise ValueError(f"unknown corpus {name!r}; known corpora: {', '.join(CORPORA)} (or "
                     f"'text:PATH' for a UTF-8 file, 'fortune:PATH' for a fortune file)")


def _corpus_entries(name, root):
    files, package, _, _ = CORPORA[name]
    folder = os.fspath(root) if root is not None else FORTUNE_DIR
    present = [f for f in files if os.path.isfile(os.path.join(folder, f))]
    # the whole package must be there (fortunes-min alone has only 3 of the English files)
    sentinel = "science" if name == "fortunes" else files[0]
    if sentinel not in present:
        raise FileNotFoundError(f"corpus {name!r} needs Debian's {package} package "
                                f"({os.path.join(folder, sentinel)} is missing); run `make "
                                f"data` or `sudo apt-get install {package}`")
    entries = []
    for f in present:
        entries += read_fortunes(os.path.join(folder, f))
    return entries


def load_text(name_or_path, clean="auto", root=None):
    """The text of a corpus (see the module docstring for names), cleaned.

    Fortune entries are joined with newlines. ``root`` replaces ``FORTUNE_DIR``.
    """
    kind, target = _resolve(name_or_path)
    if kind == "corpus":
        text = "\n".join(_corpus_entries(target, root))
        default = CORPORA[target][3]
    else:
        raw = read_text_file(target)
        text = "\n".join(parse_fortunes(raw)) if kind == "fortune" else _sanitize(raw)
        default = "d2l" if _is_mostly_ascii(text) else None
    if clean == "auto":
        clean = default
    if clean == "d2l":
        text = clean_d2l(text)
    elif clean not in (None, "none"):
        raise ValueError(f"unknown clean={clean!r}; use 'auto', 'd2l' or None")
    if not text.strip():
        how = " after clean='d2l' (it keeps ASCII letters only; pass clean=None)" \
            if clean == "d2l" else ""
        raise CorpusError(f"corpus {os.fspath(name_or_path)!r} is empty{how}; give a file "
                          f"with text in it")
    return text


def load_corpus(name_or_path, tokenize="char", max_tokens=-1, clean="auto", min_freq=0,
                root=None):
    """Token indices of a corpus and its vocabulary (d2l's ``load_corpus_time_machine``).

    Args:
        name_or_path: ``"tang300"``, ``"song100"``, ``"chinese"``, ``"fortunes"``,
            ``"text:PATH"``, ``"fortune:PATH"`` or a path.
        tokenize: ``"char"``, ``"word"`` or ``"zh"`` (Chinese by character).
        max_tokens: keep only the first ``max_tokens`` indices (the vocabulary still
            counts every token, as in d2l); ``-1`` keeps all.
        clean: ``"auto"``, ``"d2l"`` or None (see the module docstring).
        min_freq: rarer tokens become ``<unk>``.
        root: the folder holding the Debian fortune files (default ``FORTUNE_DIR``).

    Returns:
        ``(corpus, vocab)``: an int64 NumPy array of indices and a ``Vocab``.
    """
    tokens = _split_tokens(load_text(name_or_path, clean=clean, root=root), tokenize)
    vocab = Vocab(tokens, min_freq=min_freq)
    corpus = vocab.encode(tokens)
    if max_tokens is not None and max_tokens > 0:
        corpus = corpus[:max_tokens]
    return corpus, vocab


def load_data_lm(name, batch_size, num_steps, use_random_iter=False, max_tokens=-1,
                 tokenize="char", clean="auto", generator=None, root=None):
    """Language-model batches of a corpus (d2l's ``load_data_time_machine``).

    Returns ``(data_iter, vocab)``: ``data_iter`` is a ``DataLoader`` (``batch_size=None``)
    over a ``LanguageModelDataset``, yielding ``X, Y`` int64 tensors of shape
    ``(batch_size, num_steps)`` with ``Y`` the next tokens. Arguments as in
    ``load_corpus``; ``use_random_iter`` picks random sampling over sequential
    partitioning, ``generator`` the ``zerograd.Generator`` it draws from.
    """
    corpus, vocab = load_corpus(name, tokenize=tokenize, max_tokens=max_tokens, clean=clean,
                                root=root)
    dataset = LanguageModelDataset(corpus, batch_size, num_steps, use_random_iter, generator)
    return DataLoader(dataset, batch_size=None), vocab


def load_data_lm_split(name, batch_size, num_steps, val_fraction=0.1, use_random_iter=False,
                       max_tokens=-1, tokenize="char", clean="auto", generator=None,
                       root=None):
    """Like ``load_data_lm`` with a validation part: the last ``val_fraction`` of the
    corpus (``split_corpus``). Returns ``(train_iter, val_iter, vocab)``; the validation
    batches are sequential from token 0, the same every pass. The vocabulary is built
    from the whole corpus."""
    corpus, vocab = load_corpus(name, tokenize=tokenize, max_tokens=max_tokens, clean=clean,
                                root=root)
    train, val = split_corpus(corpus, val_fraction)
    train_set = LanguageModelDataset(train, batch_size, num_steps, use_random_iter, generator)
    val_set = LanguageModelDataset(val, batch_size, num_steps, random_offset=False)
    return DataLoader(train_set, batch_size=None), DataLoader(val_set, batch_size=None), vocab
