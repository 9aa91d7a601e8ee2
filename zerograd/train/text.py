"""Training runs of sequence models: language models on a corpus, encoder-decoders on pairs.

``--data text:CORPUS`` (``tang300``, ``song100``, ``chinese``, ``fortunes``) or
``text:PATH`` trains ``rnn-lm``/``gru-lm``/``lstm-lm`` on characters, d2l's way (ch. 9):
sequential partitions of ``num_steps`` tokens, the state carried from batch to batch and
detached (truncated BPTT), gradients clipped to norm ``clip_grad`` (1 by default), and
perplexity ``exp(mean cross-entropy per token)`` reported for the training pass and the
validation part (the last 10% of the corpus). ``--data seq2seq:TASK`` (``reverse``,
``sort``, ``digit-sum``) or ``seq2seq:PATH`` (tab-separated pairs) trains
``seq2seq-gru`` as d2l 10.7: teacher forcing, masked cross-entropy, and on the held-out
10% greedy decoding scored by exact match and BLEU-2.

``TextSession`` has the interface of ``zerograd.train.trainer.Session``, so checkpoints,
resume, ``--init-from`` and the run folder work as for classifiers. The vocabularies go
into the checkpoint as plain JSON values (``Vocab.to_dict``), never pickled.
"""
import math
import os
import time

import numpy as np

from zerograd.autograd.grad_mode import no_grad
from zerograd.datasets.seq2seq import RESERVED_TOKENS, build_array_nmt
from zerograd.datasets.text import LanguageModelDataset, Vocab, split_corpus
from zerograd.datasets.text import tokenize as split_tokens
from zerograd.models import MODELS
from zerograd.models.decoding import greedy_decode_steps, has_decode_step
from zerograd.models.rnn_lm import detach_state
from zerograd.models.seq2seq import MaskedSoftmaxCELoss, bleu, greedy_decode
from zerograd.nn import CrossEntropyLoss
from zerograd.nn.utils import clip_grad_norm_
from zerograd.ops import cat, from_numpy
from zerograd.random import Generator, manual_seed
from zerograd.train.build import count_parameters, make_optimizer, make_scheduler
from zerograd.train.config import UsageError
from zerograd.train.datainfo import SPLIT_SEED
from zerograd.train.device import on_device, pick_device
from zerograd.train.loop import DivergenceGuard, Diverged, Progress
from zerograd.train.text_bert import BERT_COLUMNS, bert_pass, load_bert
from zerograd.train.text_data import (build_text_model, generate_tokens, init_from_data_state,
                                      load_lm_text, seq2seq_pairs, task_of)
from zerograd.utils.data import DataLoader, TensorDataset

__all__ = ["TextSession", "init_from_data_state", "LM_COLUMNS", "SEQ2SEQ_COLUMNS"]

LM_COLUMNS = ("epoch", "train_loss", "train_ppl", "test_loss", "test_ppl", "lr", "seconds")
SEQ2SEQ_COLUMNS = ("epoch", "train_loss", "train_ppl", "test_loss", "test_ppl", "test_acc",
                   "test_bleu", "lr", "seconds")
VAL_FRACTION = 0.1
_LOADER_SEED_OFFSET = 0x5EED   # as the classifier sessions
_SAMPLE_CHARS = 40             # generated after each epoch of a language model


# -- the session ---------------------------------------------------------------------------------
class TextSession:
    """A sequence model's run: the same interface as ``Session`` (see trainer.py)."""

    classify = False

    def __init__(self, cfg, data_state=None):
        self.cfg = cfg
        self.task = "bert" if MODELS[cfg.model][1] == "bert" else task_of(cfg.data)
        self.metric_columns = {"lm": LM_COLUMNS, "seq2seq": SEQ2SEQ_COLUMNS,
                               "bert": BERT_COLUMNS}[self.task]
        manual_seed(cfg.seed)
        self.loader_generator = Generator().manual_seed(cfg.seed + _LOADER_SEED_OFFSET)
        # resume and --init-from: the checkpoint's vocabularies (data_state), not new ones
        if self.task == "lm":
            self._load_lm(data_state)
        elif self.task == "bert":
            load_bert(self, data_state)
        else:
            self._load_seq2seq(data_state)
        self.device = pick_device(cfg.device)
        self.model.to(self.device)
        self.train_loader, self.test_loader = on_device((self.train_loader, self.test_loader),
                                                        self.device)
        self.optimizer = make_optimizer(cfg.optimizer, self.model.parameters(), cfg.lr,
                                        cfg.momentum, cfg.weight_decay)
        self.scheduler, self.schedule_on = make_scheduler(
            cfg.scheduler, self.optimizer, cfg.epochs, len(self.train_loader), cfg.lr)
        self.epoch = 0
        self.history = []
        self.best = None
        self.guard = DivergenceGuard()

    # -- data and model ---------------------------------------------------------------------
    def _load_lm(self, data_state):
        cfg = self.cfg
        text, clean = load_lm_text(cfg.data, data_state["clean"] if data_state else "auto")
        tokens = split_tokens(text, "char")
        vocab = Vocab.from_dict(data_state["vocab"]) if data_state else Vocab(tokens)
        corpus = vocab.encode(tokens)
        if cfg.limit is not None:
            corpus = corpus[:cfg.limit]
        try:
            train, val = split_corpus(corpus, VAL_FRACTION)
            train_set = LanguageModelDataset(train, cfg.batch_size, cfg.num_steps,
                                             generator=self.loader_generator)
            val_batch = max(1, min(cfg.batch_size, (len(val) - 1) // cfg.num_steps))
            val_set = LanguageModelDataset(val, val_batch, cfg.num_steps, random_offset=False)
        except ValueError as err:
            raise UsageError(f"--data {cfg.data}: {str(err).splitlines()[0]}") from None
        self.vocab, self.clean = vocab, clean
        self.train_loader = DataLoader(train_set, batch_size=None)
        self.test_loader = DataLoader(val_set, batch_size=None)
        self.sizes = (len(train), len(val))
        self.sample_prefix = vocab.to_tokens([int(i) for i in train[:2]])
        self.model = build_text_model(cfg.model, cfg.to_dict(), (len(vocab),))
        # a Transformer LM reads each sequence alone; an RNN carries its state across
        self.carries_state = getattr(self.model, "carries_state", True)
        self.loss_fn = CrossEntropyLoss()

    def _load_seq2seq(self, data_state):
        cfg = self.cfg
        source, target, tokens, min_freq = seq2seq_pairs(cfg.data, cfg.limit)
        if data_state:
            src_vocab = Vocab.from_dict(data_state["src_vocab"])
            tgt_vocab = Vocab.from_dict(data_state["tgt_vocab"])
        else:
            src_vocab = Vocab(source, min_freq=min_freq, reserved_tokens=RESERVED_TOKENS)
            tgt_vocab = Vocab(target, min_freq=min_freq, reserved_tokens=RESERVED_TOKENS)
        perm = Generator().manual_seed(SPLIT_SEED).rng.permutation(len(source))
        n_val = max(1, int(round(len(source) * VAL_FRACTION)))
        parts = []
        for idx in (perm[n_val:], perm[:n_val]):
            src, src_len = build_array_nmt([source[i] for i in idx], src_vocab, cfg.num_steps)
            tgt, tgt_len = build_array_nmt([target[i] for i in idx], tgt_vocab, cfg.num_steps)
            parts.append(TensorDataset(src, src_len, tgt, tgt_len))
        self.src_vocab, self.tgt_vocab, self.tokens = src_vocab, tgt_vocab, tokens
        self.val_pairs = [(source[i], target[i]) for i in perm[:n_val]]
        self.train_loader = DataLoader(parts[0], cfg.batch_size, shuffle=True,
                                       generator=self.loader_generator)
        self.test_loader = DataLoader(parts[1], max(cfg.batch_size, 256))
        self.sizes = (len(parts[0]), len(parts[1]))
        self.model = build_text_model(cfg.model, cfg.to_dict(), (len(src_vocab), len(tgt_vocab)))
        self.loss_fn = MaskedSoftmaxCELoss()

    def data_state(self):
        state = {"name": self.cfg.data, "kind": "text", "task": self.task,
                 "num_steps": self.cfg.num_steps}
        if self.task == "lm":
            state.update(vocab=self.vocab.to_dict(), clean=self.clean, tokenize="char")
        elif self.task == "bert":
            state.update(vocab=self.vocab.to_dict(), tokenize=self.tokenize)
        else:
            state.update(src_vocab=self.src_vocab.to_dict(), tgt_vocab=self.tgt_vocab.to_dict(),
                         tokenize=self.tokens)
        return state

    def describe_data(self):
        unit = {"lm": "tokens", "seq2seq": "pairs", "bert": "sentence pairs"}[self.task]
        return f"{self.sizes[0]} train / {self.sizes[1]} validation {unit}"

    # -- checkpoint state --------------------------------------------------------------------
    def model_meta(self):
        return {"name": self.cfg.model, "class": type(self.model).__name__,
                "num_parameters": count_parameters(self.model), "outputs": self.task}

    def state(self):
        from zerograd.train.trainer import Session  # (trainer imports this module)
        return Session.state(self)  # the same checkpoint layout as a classifier run

    def restore(self, state):
        from zerograd.train.trainer import Session
        Session.restore(self, state)

    best_metric = "test_loss"

    def _improved(self, row):
        return self.best is None or row["test_loss"] < self.best[1]

    # -- one epoch -------------------------------------------------------------------------------
    def _clip(self):
        if self.cfg.clip_grad:
            clip_grad_norm_(self.model.parameters(), self.cfg.clip_grad)

    def _lm_train(self, bar_progress):
        model, state = self.model, None
        model.train()
        bar = _PerplexityBar(len(self.train_loader), f"epoch {self.epoch}", bar_progress,
                             self.history[-1]["test_ppl"] if self.history else None)
        total, seen, start = 0.0, 0, time.perf_counter()
        try:
            for step, (X, Y) in enumerate(self.train_loader, 1):
                # sequential partitions: carry the state, cut the graph
                state = detach_state(state) if self.carries_state else None
                out, state = model(X, state)
                loss = self.loss_fn(out, Y.T.reshape(-1))
                self.optimizer.zero_grad()
                loss.backward()
                self._clip()
                self.optimizer.step()
                self._batch_schedule()
                value = loss.item()
                self.guard.check(value, self.epoch, step)
                total += value * Y.numel()
                seen += Y.numel()
                bar.update(total / seen, seen / max(time.perf_counter() - start, 1e-9))
        finally:
            bar.close()
        return _pass_result(total, seen, start)

    def _lm_eval(self):
        model, state = self.model, None
        model.eval()
        total, seen, start = 0.0, 0, time.perf_counter()
        with no_grad():
            for X, Y in self.test_loader:
                out, state = model(X, state if self.carries_state else None)
                total += self.loss_fn(out, Y.T.reshape(-1)).item() * Y.numel()
                seen += Y.numel()
        return _pass_result(total, seen, start)

    def _seq2seq_batch(self, batch):
        X, X_len, Y, Y_len = batch
        bos = from_numpy(np.full((Y.shape[0], 1), self.tgt_vocab["<bos>"],
                                 dtype=np.int64)).to(Y.device)
        out, _ = self.model(X, cat([bos, Y[:, :-1]], 1), X_len)
        per_seq = self.loss_fn(out, Y, Y_len)             # d2l: mean over the steps
        tokens = int(Y_len.sum().item())
        return per_seq, per_seq.sum().item() * Y.shape[1], tokens  # summed token losses

    def _seq2seq_train(self, bar_progress):
        self.model.train()
        bar = _PerplexityBar(len(self.train_loader), f"epoch {self.epoch}", bar_progress,
                             self.history[-1]["test_ppl"] if self.history else None)
        total, seen, start = 0.0, 0, time.perf_counter()
        try:
            for step, batch in enumerate(self.train_loader, 1):
                per_seq, token_loss, tokens = self._seq2seq_batch(batch)
                self.optimizer.zero_grad()
                per_seq.sum().backward()                  # d2l's l.sum().backward()
                self._clip()
                self.optimizer.step()
                self._batch_schedule()
                self.guard.check(token_loss / max(tokens, 1), self.epoch, step)
                total += token_loss
                seen += tokens
                bar.update(total / seen, seen / max(time.perf_counter() - start, 1e-9))
        finally:
            bar.close()
        return _pass_result(total, seen, start)

    def _seq2seq_eval(self):
        self.model.eval()
        total, seen, start = 0.0, 0, time.perf_counter()
        with no_grad():
            for batch in self.test_loader:
                _, token_loss, tokens = self._seq2seq_batch(batch)
                total += token_loss
                seen += tokens
        result = _pass_result(total, seen, start)
        result.update(self.score_decoding())
        return result

    def score_decoding(self):
        """Greedy decoding of the held-out pairs: exact-match accuracy and mean BLEU-2."""
        src = [p[0] for p in self.val_pairs]
        X, X_len = build_array_nmt(src, self.src_vocab, self.cfg.num_steps)
        pred, lengths, _ = self.decode(X, X_len)
        exact, bleus = 0, []
        for (s, t), row, n in zip(self.val_pairs, pred.tolist(), lengths.tolist()):
            guess = self.tgt_vocab.to_tokens(row[:n])
            exact += guess == list(t)
            bleus.append(bleu(" ".join(guess), " ".join(t), k=2))
        return {"acc": exact / max(len(src), 1), "bleu": float(np.mean(bleus)) if bleus else 0.0}

    def decode(self, X, X_len):
        """Greedy decoding: ``(tokens, lengths, attention weights or None)``."""
        bos, eos, steps = self.tgt_vocab["<bos>"], self.tgt_vocab["<eos>"], self.cfg.num_steps
        X, X_len = X.to(self.device), X_len.to(self.device)
        if has_decode_step(self.model):
            return greedy_decode_steps(self.model, X, X_len, bos, eos, steps)
        return greedy_decode(self.model, X, X_len, bos, eos, steps) + (None,)

    def _batch_schedule(self):
        if self.schedule_on == "batch":
            self.scheduler.step()

    def run_epoch(self, progress=None):
        self.epoch += 1
        lr = float(self.optimizer.param_groups[0]["lr"])
        start = time.perf_counter()
        lm = self.task == "lm"
        if self.task == "bert":
            train, test = bert_pass(self, True, progress), bert_pass(self, False)
        else:
            train = self._lm_train(progress) if lm else self._seq2seq_train(progress)
            test = self._lm_eval() if lm else self._seq2seq_eval()
        if not math.isfinite(test["loss"]):
            raise Diverged(test["loss"], self.epoch, None)
        if self.schedule_on == "epoch":
            self.scheduler.step()
        elif self.schedule_on == "plateau":
            self.scheduler.step(test["loss"])
        row = {"epoch": self.epoch, "train_loss": train["loss"], "test_loss": test["loss"],
               "lr": lr}
        if self.task == "bert":
            row.update(train_mlm_acc=train["mlm_acc"], train_nsp_acc=train["nsp_acc"],
                       test_mlm_acc=test["mlm_acc"], test_nsp_acc=test["nsp_acc"])
        else:
            row.update(train_ppl=train["ppl"], test_ppl=test["ppl"])
        if self.task == "seq2seq":
            row.update(test_acc=test["acc"], test_bleu=test["bleu"])
        row["seconds"] = round(time.perf_counter() - start, 3)
        self.history.append(row)
        improved = self._improved(row)
        if improved:
            self.best = (self.epoch, row["test_loss"])
        return row, train, test, improved

    def sample_text(self, prefix_tokens=None, num_preds=_SAMPLE_CHARS):
        """A greedy continuation of ``prefix_tokens`` (default: the corpus's first two)."""
        prefix = list(prefix_tokens or self.sample_prefix)
        ids = generate_tokens(self.model, self.vocab[prefix], num_preds)
        return "".join(prefix + self.vocab.to_tokens(ids))

    def describe(self, row, train):
        if self.task == "bert":
            return (f"epoch {row['epoch']:>3}/{self.cfg.epochs}  train loss "
                    f"{row['train_loss']:.4f} mlm acc {row['train_mlm_acc']:.4f} nsp acc "
                    f"{row['train_nsp_acc']:.4f} | val loss {row['test_loss']:.4f} mlm acc "
                    f"{row['test_mlm_acc']:.4f} nsp acc {row['test_nsp_acc']:.4f} | lr "
                    f"{row['lr']:.3g} | {row['seconds']:.1f}s ({train['samples_per_s']:,.0f} "
                    "pairs/s)")
        text = (f"epoch {row['epoch']:>3}/{self.cfg.epochs}  train loss {row['train_loss']:.4f}"
                f" ppl {row['train_ppl']:.2f} | val loss {row['test_loss']:.4f} ppl "
                f"{row['test_ppl']:.2f}")
        if self.task != "lm":
            text += f" exact {row['test_acc']:.4f} bleu {row['test_bleu']:.4f}"
        text += (f" | lr {row['lr']:.3g} | {row['seconds']:.1f}s "
                 f"({train['tokens_per_s']:,.0f} tokens/s)")
        if self.task == "lm":
            sample = self.sample_text().replace("\n", " / ")
            text += f"\n  sample: {sample}"
        return text

    # -- the end of a run ------------------------------------------------------------------------
    def final_test(self):
        if self.task == "bert":
            return bert_pass(self, False)
        return self._lm_eval() if self.task == "lm" else self._seq2seq_eval()

    def finish(self, run, test, say, plots=True):
        run.write_metrics(self.history, self.metric_columns)
        if plots and self.history:
            self._plots(run, say)
        if self.task == "bert":
            return self._finish_bert(run, test)
        last = self.history[-1] if self.history else {
            "train_loss": None, "train_ppl": None, "test_loss": test["loss"],
            "test_ppl": test["ppl"], "test_acc": test.get("acc"), "test_bleu": test.get("bleu")}
        summary = self._summary(run, last)
        summary.update(train_ppl=last["train_ppl"], test_ppl=last["test_ppl"])
        if self.task != "lm":
            summary.update(test_acc=last.get("test_acc"), test_bleu=last.get("test_bleu"))
        else:
            summary["sample"] = self.sample_text()
        run.write_json("summary.json", summary)
        return summary

    def _plots(self, run, say):
        from zerograd.viz import plot_curves
        rows, what = self.history, "loss = log ppl"
        if self.task == "bert":  # the accuracy panel shows the masked-LM accuracy
            rows = [dict(r, train_acc=r["train_mlm_acc"], test_acc=r["test_mlm_acc"])
                    for r in rows]
            what = "accuracy: masked LM"
        run.write_figure("curves.png", plot_curves(
            rows, title=f"{self.cfg.model} on {self.cfg.data} ({what})"))
        if self.task == "seq2seq" and has_decode_step(self.model):
            from zerograd.train.attention_maps import attention_figure
            figure = attention_figure(self)
            if figure is not None:
                run.write_figure("attention.png", figure)
                say(f"attention heat maps: {run.file('attention.png')}")

    def _summary(self, run, last):
        return {"run_dir": run.path, "model": self.cfg.model, "data": self.cfg.data,
                "epochs": self.epoch, "parameters": count_parameters(self.model),
                "train_loss": last["train_loss"], "test_loss": last["test_loss"],
                "best_epoch": self.best[0] if self.best else None,
                "seconds": round(sum(r["seconds"] for r in self.history), 3),
                "checkpoint": os.path.join(run.checkpoints, "best.safetensors")}

    def _finish_bert(self, run, test):
        last = self.history[-1] if self.history else {
            "train_loss": None, "test_loss": test["loss"], "train_mlm_acc": None,
            "train_nsp_acc": None, "test_mlm_acc": test["mlm_acc"],
            "test_nsp_acc": test["nsp_acc"]}
        summary = self._summary(run, last)
        for key in ("train_mlm_acc", "train_nsp_acc", "test_mlm_acc", "test_nsp_acc"):
            summary[key] = last[key]
        run.write_json("summary.json", summary)
        return summary


def _pass_result(total, seen, start):
    seconds = time.perf_counter() - start
    loss = total / max(seen, 1)
    return {"loss": loss, "ppl": math.exp(min(loss, 700.0)), "tokens": seen,
            "seconds": seconds, "tokens_per_s": seen / max(seconds, 1e-9),
            "samples_per_s": seen / max(seconds, 1e-9)}


class _PerplexityBar(Progress):
    """The progress bar of a sequence model: running train perplexity, last val ppl."""

    def __init__(self, total, desc, enabled, val_ppl):
        super().__init__(total, desc, enabled)
        self.val_ppl = val_ppl

    def update(self, loss, rate):
        if self.bar is None:
            return
        post = {"loss": f"{loss:.4f}", "ppl": f"{math.exp(min(loss, 700.0)):.2f}"}
        if self.val_ppl is not None:
            post["val ppl"] = f"{self.val_ppl:.2f}"
        post["tokens/s"] = f"{rate:,.0f}"
        self.bar.set_postfix(post, refresh=False)
        self.bar.update(1)
