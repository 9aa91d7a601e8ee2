"""The run folder: everything a training run leaves behind, written so a crash loses little.

::

    runs/NAME/
      config.json            every option, fully resolved (what `resume` rebuilds from)
      metrics.csv            epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds
      curves.png             loss and accuracy per epoch
      confusion.png          test confusion matrix of the last epoch (classifiers)
      attention.png          attention heat maps of a few validation pairs (seq2seq-attn,
                             transformer-seq2seq)
      summary.json           final metrics (what --json prints)
      graph.dot / graph.svg  the model's autograd graph (--show-graph)
      checkpoints/
        epoch-0003.safetensors (+ .json)   the newest `keep` epochs, oldest deleted
        best.safetensors       (+ .json)   the best epoch so far by test accuracy/loss

Every file is replaced atomically, so a kill at any moment leaves the previous
version of each file readable; ``latest_checkpoint`` skips unreadable checkpoints and
falls back to the newest one that loads, and ``tidy`` removes what killed writers left
(temporary files, a sidecar missing its last update). ``--overwrite`` builds the new run
beside the old one and swaps them only once the new run has a checkpoint (see
``zerograd.train.replace``).
"""
import csv
import io
import json
import os
import re
import sys

from zerograd.io import (CheckpointError, atomic_write_bytes, atomic_write_text, is_temp_file,
                         load, remove_stale_temp_files, repair_sidecar, save, sidecar_path)
from zerograd.train.config import UsageError

__all__ = ["METRIC_COLUMNS", "RUN_FILES", "RunFolder", "find_checkpoint", "read_metrics"]

METRIC_COLUMNS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "seconds")
# What a run writes at its top level (besides checkpoints/): all --overwrite may replace.
RUN_FILES = ("config.json", "metrics.csv", "curves.png", "confusion.png", "summary.json",
             "graph.dot", "graph.svg", "attention.png")
_EPOCH_FILE = re.compile(r"^epoch-(\d+)\.safetensors$")
_CHECKPOINT_FILE = re.compile(r"^(epoch-\d+|best)\.(safetensors|json)$")


def _fmt(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # full precision: metrics.csv is compared across resumed runs
    return str(value)


def read_metrics(path):
    """The rows of a metrics.csv as dicts of strings (empty list if the file is missing)."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except FileNotFoundError:
        return []


class RunFolder:
    """Paths and atomic writers for one run's folder."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self.checkpoints = os.path.join(self.path, "checkpoints")

    def file(self, name):
        return os.path.join(self.path, name)

    # -- creation -----------------------------------------------------------------------------
    @staticmethod
    def default_path(model, data, root="runs"):
        """``runs/MODEL-DATA``, or ``-2``, ``-3``... when that run exists already."""
        kind, _, rest = data.partition(":")
        if kind in ("text", "seq2seq") and re.fullmatch(r"[A-Za-z0-9-]+", rest):
            kind = f"{kind}-{rest}"  # a named corpus or task: runs/lstm-lm-text-tang300
        base = f"{model}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', kind)}"
        candidate, n = os.path.join(root, base), 2
        while os.path.exists(candidate):
            candidate, n = os.path.join(root, f"{base}-{n}"), n + 1
        return candidate

    def check_free(self, overwrite=False):
        """Refuse to train into a folder that holds another run (unless ``overwrite``)."""
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise UsageError(f"--out {self.path} exists and is not a folder")
        if not self.holds_run() or overwrite:
            return
        if self.has_checkpoint():
            raise UsageError(f"{self.path} already holds a run; continue it with `zerograd "
                             f"resume {self.path}`, or pass --overwrite or another --out")
        raise UsageError(f"{self.path} holds a run that stopped before saving its first "
                         "checkpoint, so there is nothing to resume; start it again with "
                         "--overwrite (or choose another --out)")

    def create(self):
        """Make the folder and its checkpoints/ (what is already there stays)."""
        try:
            os.makedirs(self.checkpoints, exist_ok=True)
        except OSError as err:
            raise UsageError(f"cannot create run folder {self.path}: {err.strerror}") from None

    def foreign_entries(self):
        """Names in the folder that no run writes (a user's own files), sorted."""
        try:
            top = os.listdir(self.path)
        except FileNotFoundError:
            return []
        foreign = [n for n in top if n not in RUN_FILES + ("checkpoints",)
                   and not is_temp_file(n)]
        if os.path.isdir(self.checkpoints):
            foreign += [os.path.join("checkpoints", n) for n in os.listdir(self.checkpoints)
                        if not (_CHECKPOINT_FILE.match(n) or is_temp_file(n))]
        elif os.path.exists(self.checkpoints):
            foreign.append("checkpoints")
        return sorted(foreign)

    def remove_run_files(self, remove_folder=True):
        """Delete what a run wrote here, and (if asked) the folder itself if nothing else
        is left."""
        for name in RUN_FILES:
            try:
                os.unlink(self.file(name))
            except FileNotFoundError:
                pass
        if os.path.isdir(self.checkpoints):
            for name in os.listdir(self.checkpoints):
                if _CHECKPOINT_FILE.match(name) or is_temp_file(name):
                    os.unlink(os.path.join(self.checkpoints, name))
        for folder in (self.checkpoints, self.path)[:2 if remove_folder else 1]:
            try:
                os.rmdir(folder)
            except OSError:  # not empty: the user's own files stay
                break

    def move_to(self, path):
        """Point at ``path`` after the folder was renamed there."""
        self.path = os.fspath(path)
        self.checkpoints = os.path.join(self.path, "checkpoints")

    def tidy(self):
        """Remove temporary files of killed writers; rewrite sidecars a kill left stale."""
        for folder in (self.path, self.checkpoints):
            remove_stale_temp_files(folder)
        for path in self.epoch_checkpoints() + [os.path.join(self.checkpoints,
                                                             "best.safetensors")]:
            if os.path.isfile(path):
                try:
                    repair_sidecar(path)
                except CheckpointError:
                    pass  # an unreadable checkpoint: latest_checkpoint reports it

    def exists(self):
        return os.path.isfile(self.file("config.json"))

    def holds_run(self):
        """A config.json or any checkpoint: something ``--overwrite`` would replace."""
        return self.exists() or self.has_checkpoint()

    def has_checkpoint(self):
        return bool(self.epoch_checkpoints()) or os.path.isfile(
            os.path.join(self.checkpoints, "best.safetensors"))

    # -- small files ----------------------------------------------------------------------------
    def write_json(self, name, data):
        atomic_write_text(self.file(name), json.dumps(data, indent=2) + "\n")

    def read_json(self, name):
        try:
            with open(self.file(name), encoding="utf-8") as handle:
                return json.load(handle)
        except FileNotFoundError:
            raise UsageError(f"{self.path} is not a run folder (no {name})") from None
        except ValueError as err:
            raise UsageError(f"{self.file(name)} is not valid JSON: {err}") from None

    def write_figure(self, name, figure):
        """Save a matplotlib figure as ``name`` (PNG), atomically like every run file."""
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100)
        atomic_write_bytes(self.file(name), buffer.getvalue())

    def write_metrics(self, rows, columns=METRIC_COLUMNS):
        """Rewrite metrics.csv with ``rows`` (whole file, atomically; it is small);
        ``columns`` are the run's (a language model's perplexities replace accuracy)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_fmt(row.get(c)) for c in columns])
        atomic_write_text(self.file("metrics.csv"), buffer.getvalue())

    def read_metrics(self):
        return read_metrics(self.file("metrics.csv"))

    # -- checkpoints ---------------------------------------------------------------------------
    def epoch_checkpoints(self):
        """Per-epoch checkpoint paths, newest first."""
        try:
            names = os.listdir(self.checkpoints)
        except FileNotFoundError:
            return []
        found = [(int(m.group(1)), n) for n in names if (m := _EPOCH_FILE.match(n))]
        return [os.path.join(self.checkpoints, n) for _, n in sorted(found, reverse=True)]

    def save_checkpoint(self, state, epoch, best=False, keep=2):
        """Write ``epoch-NNNN.safetensors`` (and ``best`` if asked), then prune old epochs.

        Older checkpoints are deleted only after the new one is safely on disk.
        """
        path = os.path.join(self.checkpoints, f"epoch-{epoch:04d}.safetensors")
        save(state, path)
        if best:
            save(state, os.path.join(self.checkpoints, "best.safetensors"))
        for old in self.epoch_checkpoints()[keep:]:
            for victim in (old, sidecar_path(old)):
                try:
                    os.unlink(victim)
                except FileNotFoundError:
                    pass
        return path

    def latest_checkpoint(self, warn=None):
        """``(path, state)`` of the newest checkpoint that loads, skipping unreadable ones."""
        warn = warn or (lambda text: print(text, file=sys.stderr))
        candidates = self.epoch_checkpoints()
        errors = []
        for path in candidates:
            try:
                return path, load(path, map_location="cpu")  # any machine resumes
            except CheckpointError as err:
                errors.append(str(err))
                warn(f"warning: skipping unreadable checkpoint: {err}")
        if errors:
            raise CheckpointError(f"no readable checkpoint in {self.checkpoints} "
                                  f"({len(errors)} unreadable)")
        if self.exists():
            raise UsageError(f"{self.path} stopped before saving its first checkpoint, so "
                             "there is nothing to resume; start it again with `zerograd train "
                             f"... --out {self.path} --overwrite` (its options are in "
                             f"{self.file('config.json')})")
        raise CheckpointError(f"no checkpoint in {self.checkpoints}")


def find_checkpoint(path):
    """The checkpoint file a user means by ``path``: a file, or a run folder (its best, else
    its newest epoch), or a run's checkpoints folder."""
    path = os.fspath(path)
    if os.path.isfile(path):
        return path
    if not os.path.exists(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    folder = RunFolder(path)
    bare = path.rstrip("/")
    if not os.path.isdir(folder.checkpoints) and os.path.basename(bare) == "checkpoints":
        folder = RunFolder(os.path.dirname(bare))
    best = os.path.join(folder.checkpoints, "best.safetensors")
    if os.path.isfile(best):
        return best
    epochs = folder.epoch_checkpoints()
    if epochs:
        return epochs[0]
    raise CheckpointError(f"no checkpoint found in {path}")
