"""One epoch of training, one pass of evaluation, with a tqdm progress bar on stderr.

The loop is the textbook one (d2l's ``train_epoch_ch3``): forward, loss, zero_grad,
backward, step; losses are averaged per sample, so the last short batch counts for
what it holds. Optimizers that re-evaluate the loss (L-BFGS) get a closure.

A diverging run is stopped (``Diverged``) rather than trained to a meaningless end: when
a batch loss is not finite, or exceeds a million times the first loss the run saw. The
losses here start near 1 (cross-entropy of near-uniform logits, MSE of standardized
targets), so a millionfold rise is a blown-up step size, never a normal fluctuation.
"""
import math
import sys
import time

from zerograd.autograd.grad_mode import no_grad
from zerograd.ops import cat
from zerograd.train.config import UsageError
from zerograd.train.metrics import predicted_classes

__all__ = ["train_epoch", "evaluate", "Progress", "Diverged", "DivergenceGuard"]


class Diverged(ArithmeticError):
    """The loss blew up at ``epoch`` and ``step`` (None: on the test set) to ``value``."""

    def __init__(self, value, epoch, step, why=""):
        where = f"epoch {epoch}, step {step}" if step is not None else \
            f"the end of epoch {epoch} (test set)"
        super().__init__(f"the loss became {value:.4g} at {where}{why}")
        self.value, self.epoch, self.step = value, epoch, step


class DivergenceGuard:
    """Raises ``Diverged`` for a non-finite loss or one a million times the first."""

    FACTOR = 1e6

    def __init__(self):
        self.first = None

    def check(self, value, epoch, step):
        if not math.isfinite(value):
            raise Diverged(value, epoch, step)
        if self.first is None:
            self.first = value
        elif value > self.FACTOR * max(self.first, 1.0):
            raise Diverged(value, epoch, step, f", over a million times its first value "
                                               f"{self.first:.4g}")


class Progress:
    """A tqdm bar over batches showing loss, accuracy and samples/s (silent if disabled).

    ``enabled=None`` shows the bar only when stderr is a terminal, as tqdm does.
    """

    def __init__(self, total, desc, enabled=None):
        self.bar = None
        if enabled is False:
            return
        try:
            from tqdm import tqdm
        except ImportError:  # tqdm is optional (the `progress` extra)
            return
        self.bar = tqdm(total=total, desc=desc, unit="batch", leave=False, file=sys.stderr,
                        disable=None if enabled is None else False, dynamic_ncols=True,
                        mininterval=0.2)

    def update(self, loss, acc, rate):
        if self.bar is None:
            return
        post = {"loss": f"{loss:.4f}"}
        if acc is not None:
            post["acc"] = f"{acc:.3f}"
        post["samples/s"] = f"{rate:,.0f}"
        self.bar.set_postfix(post, refresh=False)
        self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.refresh()  # show the epoch's final numbers at least once
            self.bar.close()


def _split(batch):
    if not isinstance(batch, (list, tuple)) or len(batch) != 2:
        raise UsageError("each batch must be an (inputs, targets) pair")
    return batch


def _correct(outputs, targets):
    return int((predicted_classes(outputs) == targets._data.reshape(-1)).sum())


def train_epoch(model, loader, loss_fn, optimizer, classify=True, batch_scheduler=None,
                epoch=1, progress=None, guard=None, combine=None):
    """Train ``model`` for one pass over ``loader``; return mean loss, accuracy, samples/s.

    ``guard`` (a ``DivergenceGuard``, default a fresh one) stops a diverging run.
    ``combine`` (multi-process runs) sums each step's ``[loss x n, correct, n]`` over the
    ranks, so every rank counts -- and guards -- the job's numbers."""
    guard = guard or DivergenceGuard()
    model.train()
    bar = Progress(len(loader), f"epoch {epoch}", enabled=progress)
    total_loss, correct, seen = 0.0, 0, 0
    start = time.perf_counter()
    lbfgs = type(optimizer).__name__ == "LBFGS"
    try:
        for step, batch in enumerate(loader, 1):
            x, y = _split(batch)
            if lbfgs:
                captured = {}

                def closure():
                    optimizer.zero_grad()
                    out = model(x)
                    loss = loss_fn(out, y)
                    loss.backward()
                    captured.setdefault("out", out)
                    captured.setdefault("loss", loss)
                    return loss
                optimizer.step(closure)
                out, loss = captured["out"], captured["loss"]
            else:
                out = model(x)
                loss = loss_fn(out, y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            if batch_scheduler is not None:
                batch_scheduler.step()
            value, n = loss.item(), len(y)
            hits = _correct(out.detach(), y) if classify else 0
            if combine is not None:
                summed, hits, n = combine([value * n, hits, n])
                value, hits, n = summed / n, int(hits), int(n)
            guard.check(value, epoch, step)
            total_loss += value * n
            seen += n
            correct += hits
            bar.update(total_loss / seen, correct / seen if classify else None,
                       seen / max(time.perf_counter() - start, 1e-9))
    finally:
        bar.close()
    seconds = time.perf_counter() - start
    return {"loss": total_loss / max(seen, 1), "acc": correct / max(seen, 1) if classify else None,
            "samples": seen, "seconds": seconds, "samples_per_s": seen / max(seconds, 1e-9)}


def evaluate(model, loader, loss_fn, classify=True, keep_outputs=False):
    """Mean loss and accuracy of ``model`` on ``loader`` (no grad, eval mode).

    With ``keep_outputs`` the result also holds ``outputs`` and ``targets`` (tensors over
    the whole set) for a confusion matrix or R^2.
    """
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    outs, targets = [], []
    start = time.perf_counter()
    with no_grad():
        for batch in loader:
            x, y = _split(batch)
            out = model(x)
            n = len(y)
            total_loss += loss_fn(out, y).item() * n
            seen += n
            if classify:
                correct += _correct(out, y)
            if keep_outputs:
                outs.append(out)
                targets.append(y)
    result = {"loss": total_loss / max(seen, 1),
              "acc": correct / max(seen, 1) if classify else None,
              "samples": seen, "seconds": time.perf_counter() - start}
    if keep_outputs:
        result["outputs"] = cat(outs) if outs else None
        result["targets"] = cat(targets) if targets else None
    return result
