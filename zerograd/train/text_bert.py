"""BERT pretraining runs (``--model bert-tiny --data text:...``), d2l 15.9-15.10.

The corpus's paragraphs (fortune entries, or blank-line-separated blocks of a file) are
split 90/10 by paragraph; each part's examples (sentence pairs with masked tokens, see
``zerograd.datasets.bert_data``) are drawn once, from the run's seed. ``--limit N``
keeps the first N paragraphs, ``--num-steps`` is the longest pair (the positional
table). The loss is d2l's masked-LM plus next-sentence cross-entropy; the metrics are
the masked-LM accuracy (over the real predictions) and the NSP accuracy.
"""
import contextlib
import os
import re
import time

import numpy as np

from zerograd.autograd.grad_mode import no_grad
from zerograd.datasets.bert_data import BERT_RESERVED, bert_examples, paragraphs_of
from zerograd.datasets.text import Vocab
from zerograd.datasets.text_corpora import (CORPORA, _corpus_entries, parse_fortunes,
                                            read_text_file)
from zerograd.models.bert import bert_loss, build_bert
from zerograd.ops import from_numpy
from zerograd.random import Generator
from zerograd.train.config import UsageError
from zerograd.train.datainfo import SPLIT_SEED
from zerograd.train.loop import Progress
from zerograd.utils.data import DataLoader, TensorDataset

__all__ = ["BERT_COLUMNS", "MIN_FREQ", "read_paragraph_texts", "split_paragraphs", "load_bert",
           "bert_pass"]

BERT_COLUMNS = ("epoch", "train_loss", "train_mlm_acc", "train_nsp_acc", "test_loss",
                "test_mlm_acc", "test_nsp_acc", "lr", "seconds")
_FIELDS = ("tokens", "segments", "valid_lens", "pred_positions", "mlm_weights", "mlm_labels",
           "nsp_labels")
_FORTUNE_SEPARATOR = re.compile(r"^%[ \t]*$", re.MULTILINE)
MIN_FREQ = {"word": 5, "char": 1}   # d2l keeps words seen 5 times (WikiText-2)


def read_paragraph_texts(spec):
    """The paragraphs' texts of ``--data text:NAME`` or ``text:PATH``."""
    name = spec.split(":", 1)[1]
    try:
        if name in CORPORA:
            return _corpus_entries(name, None)
        if not os.path.exists(name) and os.sep not in name and "." not in name:
            raise UsageError(f"unknown corpus '{name}'; choose one of: {', '.join(CORPORA)}, "
                             "or give a file: text:PATH")
        text = read_text_file(name)
    except UsageError:
        raise
    except (OSError, ValueError) as err:
        raise UsageError(f"--data {spec}: {str(err).splitlines()[0]}") from None
    if _FORTUNE_SEPARATOR.search(text):
        return parse_fortunes(text)
    return [block for block in re.split(r"\n[ \t]*\n", text) if block.strip()]


def split_paragraphs(paragraphs):
    """``(train, validation)``: 90/10 by paragraph, the same split every run."""
    perm = Generator().manual_seed(SPLIT_SEED).rng.permutation(len(paragraphs))
    n_val = max(1, int(round(len(paragraphs) * 0.1)))
    return [paragraphs[i] for i in perm[n_val:]], [paragraphs[i] for i in perm[:n_val]]


def load_bert(session, data_state):
    """Fill ``session`` with the BERT data, vocabulary, loaders and model."""
    cfg = session.cfg
    texts = read_paragraph_texts(cfg.data)
    if cfg.limit is not None:
        texts = texts[:cfg.limit]
    paragraphs, tokenize = paragraphs_of(texts)
    if len(paragraphs) < 2:
        raise UsageError(f"--data {cfg.data}: BERT needs at least 2 paragraphs of two or more "
                         f"sentences, found {len(paragraphs)}; give more text (or a larger "
                         "--limit)")
    train, val = split_paragraphs(paragraphs)
    if data_state:
        vocab = Vocab.from_dict(data_state["vocab"])
    else:
        vocab = Vocab([s for p in train for s in p], min_freq=MIN_FREQ[tokenize],
                      reserved_tokens=BERT_RESERVED)
    rng = Generator().manual_seed(cfg.seed).rng
    sets = []
    for part, what in ((train, "training"), (val, "validation")):
        examples = bert_examples(part, vocab, cfg.num_steps, rng)
        if not len(examples["tokens"]):
            raise UsageError(f"--data {cfg.data}: no {what} sentence pair fits in --num-steps "
                             f"{cfg.num_steps} tokens (with <cls> and two <sep>); give a "
                             "larger --num-steps")
        sets.append(TensorDataset(*(from_numpy(examples[k]) for k in _FIELDS)))
    session.vocab, session.tokenize = vocab, tokenize
    session.train_loader = DataLoader(sets[0], cfg.batch_size, shuffle=True,
                                      generator=session.loader_generator)
    session.test_loader = DataLoader(sets[1], max(cfg.batch_size, 256))
    session.sizes = (len(sets[0]), len(sets[1]))
    session.model = build_bert(len(vocab), cfg.embed_size, cfg.hidden_size, cfg.num_layers,
                               cfg.num_heads, max_len=cfg.num_steps)


def bert_pass(session, train, bar_progress=None):
    """One pass over the training (``train``) or validation loader: ``{"loss",
    "mlm_acc", "nsp_acc", ...}``; training steps the optimizer after each batch."""
    model = session.model
    model.train(train)
    loader = session.train_loader if train else session.test_loader
    bar = _BertBar(len(loader), f"epoch {session.epoch}", bar_progress if train else False)
    sums = np.zeros(5)  # loss * examples, examples, mlm hits, mlm predictions, nsp hits
    start = time.perf_counter()
    try:
        for step, batch in enumerate(loader, 1):
            tokens, segments, valid_lens, positions, weights, labels, nsp_y = batch
            with contextlib.nullcontext() if train else no_grad():
                _, mlm_hat, nsp_hat = model(tokens, segments, valid_lens, positions)
                loss, _, _ = bert_loss(mlm_hat, nsp_hat, labels, weights, nsp_y)
            if train:
                session.optimizer.zero_grad()
                loss.backward()
                session._clip()
                session.optimizer.step()
                session._batch_schedule()
                session.guard.check(loss.item(), session.epoch, step)
            hits = (mlm_hat.argmax(dim=-1) == labels).float() * weights
            sums += (loss.item() * len(nsp_y), len(nsp_y), hits.sum().item(),
                     weights.sum().item(), (nsp_hat.argmax(dim=-1) == nsp_y).sum().item())
            bar.update(sums, sums[1] / max(time.perf_counter() - start, 1e-9))
    finally:
        bar.close()
    seconds = time.perf_counter() - start
    sums = sums.tolist()  # Python floats, for metrics.csv and summary.json
    return {"loss": sums[0] / max(sums[1], 1), "mlm_acc": sums[2] / max(sums[3], 1),
            "nsp_acc": sums[4] / max(sums[1], 1), "seconds": seconds,
            "samples_per_s": sums[1] / max(seconds, 1e-9)}


class _BertBar(Progress):
    def update(self, sums, rate):
        if self.bar is None:
            return
        self.bar.set_postfix({"loss": f"{sums[0] / sums[1]:.4f}",
                              "mlm acc": f"{sums[2] / max(sums[3], 1):.3f}",
                              "nsp acc": f"{sums[4] / sums[1]:.3f}",
                              "pairs/s": f"{rate:,.0f}"}, refresh=False)
        self.bar.update(1)
