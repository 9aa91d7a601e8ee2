"""A whole training run: build everything from a config, loop over epochs, save, resume.

Reproducibility: the default generator is seeded with ``--seed`` before the model is
built (initialization, dropout) and the training loader shuffles with its own generator
seeded from it. A checkpoint holds both generators' states next to the model, optimizer
and scheduler states, taken at an epoch boundary, so a resumed run continues with
exactly the numbers an uninterrupted run would have seen.

Resuming with more (or fewer) epochs than planned rebuilds a schedule whose shape depends
on the run's length (step, cosine, onecycle) for the new length: the remaining epochs get
the rates an N-epoch run would have at that point (restoring the old schedule would keep
its old length, e.g. cosine back at lr 0 and then rising again).

Nothing is lost when a run fails: a new run that fails before its first checkpoint is
undone (``--overwrite`` leaves the old run as it was, see ``zerograd.train.replace``),
and one that diverges later keeps its last good checkpoint.
"""
import math
import os
import sys
import time

from zerograd.autograd.grad_mode import no_grad
from zerograd.random import Generator, get_rng_state, manual_seed, set_rng_state
from zerograd.io import load
from zerograd.train.build import (LENGTH_DEPENDENT_SCHEDULERS, build_model, count_parameters,
                                  make_loss, make_optimizer, make_scheduler, output_kind,
                                  rebuild_scheduler)
from zerograd.train.config import Interrupted, TrainConfig, UsageError
from zerograd.train.data import DataInfo, load_data, make_loaders
from zerograd.train.device import on_device, pick_device
from zerograd.train.loop import DivergenceGuard, Diverged, evaluate, train_epoch
from zerograd.train.metrics import confusion_matrix, per_class_accuracy, r2_score
from zerograd.train.replace import NewRun, recover
from zerograd.train.run import METRIC_COLUMNS, RunFolder, find_checkpoint

__all__ = ["Session", "fit", "resume", "CHECKPOINT_KIND"]

CHECKPOINT_KIND = "zerograd-train"
_LOADER_SEED_OFFSET = 0x5EED  # keeps the shuffling stream apart from the init stream


def _say(quiet):
    return (lambda *a, **k: None) if quiet else (lambda text: print(text, file=sys.stderr))


class Session:
    """Everything one run trains with, built deterministically from a TrainConfig.

    ``zerograd.train.text.TextSession`` is its twin for sequence models: the run loop
    below only uses ``run_epoch``, ``state``/``restore``, ``describe``, ``final_test`` and
    ``finish``, and ``metric_columns``.
    """

    metric_columns = METRIC_COLUMNS

    def __init__(self, cfg, data_info=None):
        self.cfg = cfg
        self.device = pick_device(cfg.device)  # first: a missing GPU fails before any work
        manual_seed(cfg.seed)
        self.data = load_data(cfg.data, cfg.model, cfg.limit, cfg.data_dir, info=data_info)
        self.info = self.data.info
        self.kind = output_kind(cfg.model, self.info.task)
        self.classify = self.info.task == "classification"
        self.model = build_model(cfg.model, self.info).to(self.device)
        self.loss_fn = make_loss(self.kind)
        self.optimizer = make_optimizer(cfg.optimizer, self.model.parameters(), cfg.lr,
                                        cfg.momentum, cfg.weight_decay)
        self.loader_generator = Generator().manual_seed(cfg.seed + _LOADER_SEED_OFFSET)
        self.train_loader, self.test_loader = on_device(self.make_loaders(), self.device)
        self.scheduler, self.schedule_on = make_scheduler(
            cfg.scheduler, self.optimizer, cfg.epochs, len(self.train_loader), cfg.lr)
        self.epoch = 0
        self.history = []
        self.best = None  # (epoch, value)
        self.guard = DivergenceGuard()

    def make_loaders(self):
        """(train loader, test loader); a multi-process run shards them."""
        return make_loaders(self.data, self.cfg.batch_size, self.loader_generator)

    def rebuild_schedule(self):
        """Fit a length-dependent schedule to ``cfg.epochs`` (see the module docstring)."""
        self.scheduler, self.schedule_on = rebuild_scheduler(
            self.cfg.scheduler, self.optimizer, self.cfg.epochs, len(self.train_loader),
            self.cfg.lr, self.epoch)

    # -- checkpoint state --------------------------------------------------------------------
    def model_meta(self):
        return {"name": self.cfg.model, "class": type(self.model).__name__,
                "num_parameters": count_parameters(self.model), "outputs": self.kind}

    def data_state(self):
        return self.info.to_state()

    def state(self):
        return {
            "kind": CHECKPOINT_KIND,
            "epoch": self.epoch,
            "config": self.cfg.to_dict(),
            "model": self.model_meta(),
            "data": self.data_state(),
            "model_state": self.model.state_dict(),
            "optimizer_state": self.optimizer.state_dict(),
            "scheduler_state": self.scheduler.state_dict() if self.scheduler else None,
            "rng": {"default": get_rng_state(), "loader": self.loader_generator.get_state()},
            "history": self.history,
            "best": {"epoch": self.best[0], "value": self.best[1],
                     "metric": self.best_metric} if self.best else None,
            "metrics": self.history[-1] if self.history else None,
        }

    def restore(self, state):
        try:
            self.model.load_state_dict(state["model_state"])
            self.optimizer.load_state_dict(state["optimizer_state"])
            if self.scheduler is not None and state.get("scheduler_state") is not None:
                self.scheduler.load_state_dict(state["scheduler_state"])
        except (KeyError, RuntimeError, ValueError) as err:
            raise UsageError(f"checkpoint does not fit the model it names: "
                             f"{str(err).splitlines()[0]}") from None
        set_rng_state(state["rng"]["default"])
        self.loader_generator.set_state(state["rng"]["loader"])
        self.epoch = int(state["epoch"])
        self.history = list(state.get("history") or [])
        best = state.get("best")
        self.best = (best["epoch"], best["value"]) if best else None

    @property
    def best_metric(self):
        return "test_acc" if self.classify else "test_loss"

    def _improved(self, row):
        value = row[self.best_metric]
        if self.best is None:
            return True
        return value > self.best[1] if self.classify else value < self.best[1]

    # -- one epoch ----------------------------------------------------------------------------
    def run_epoch(self, progress=None):
        self.epoch += 1
        lr = float(self.optimizer.param_groups[0]["lr"])  # the rate this epoch starts with
        start = time.perf_counter()
        train = self.train_pass(progress)
        test = self.test_pass()
        if not math.isfinite(test["loss"]):  # e.g. weights that overflowed in the last step
            raise Diverged(test["loss"], self.epoch, None)
        if self.schedule_on == "epoch":
            self.scheduler.step()
        elif self.schedule_on == "plateau":
            self.scheduler.step(test["loss"])
        row = {"epoch": self.epoch, "train_loss": train["loss"], "train_acc": train["acc"],
               "test_loss": test["loss"], "test_acc": test["acc"], "lr": lr,
               "seconds": round(time.perf_counter() - start, 3)}
        self.history.append(row)
        improved = self._improved(row)
        if improved:
            self.best = (self.epoch, row[self.best_metric])
        return row, train, test, improved

    def train_pass(self, progress=None):
        """One epoch over the training set (a multi-process run overrides it)."""
        return train_epoch(self.model, self.train_loader, self.loss_fn, self.optimizer,
                           self.classify, self.scheduler if self.schedule_on == "batch" else None,
                           self.epoch, progress, self.guard)

    def test_pass(self):
        """Loss, accuracy and every output on the test set."""
        result = evaluate(self.model, self.test_loader, self.loss_fn, self.classify,
                          keep_outputs=True)
        for key in ("outputs", "targets"):  # metrics and plots work on the host
            if result.get(key) is not None:
                result[key] = result[key].cpu()
        return result

    def describe(self, row, train):
        text = (f"epoch {row['epoch']:>3}/{self.cfg.epochs}  train loss {row['train_loss']:.4f}")
        if self.classify:
            text += f" acc {row['train_acc']:.4f}"
        text += f" | test loss {row['test_loss']:.4f}"
        if self.classify:
            text += f" acc {row['test_acc']:.4f}"
        return (text + f" | lr {row['lr']:.3g} | {row['seconds']:.1f}s "
                f"({train['samples_per_s']:,.0f} samples/s)")

    def summary(self, test, run):
        last = self.history[-1] if self.history else {  # no epoch run: score as it stands
            "train_loss": None, "train_acc": None, "test_loss": test["loss"],
            "test_acc": test["acc"]}
        out = {"run_dir": run.path, "model": self.cfg.model, "data": self.cfg.data,
               "epochs": self.epoch, "parameters": count_parameters(self.model),
               "train_loss": last["train_loss"], "test_loss": last["test_loss"],
               "train_acc": last["train_acc"], "test_acc": last["test_acc"],
               "best_epoch": self.best[0] if self.best else None,
               "seconds": round(sum(r["seconds"] for r in self.history), 3),
               "checkpoint": os.path.join(run.checkpoints, "best.safetensors")}
        if not self.classify:
            scale = self.info.target_std
            preds = test["outputs"].reshape(-1) * scale + self.info.target_mean
            targets = test["targets"] * scale + self.info.target_mean
            out["test_r2"] = r2_score(preds, targets)
            out["test_rmse"] = float(((preds - targets) ** 2).mean().item()) ** 0.5
        return out

    def describe_data(self):
        return f"{len(self.data.train)} train / {len(self.data.test)} test samples"

    def final_test(self):
        """Score the model as it stands (when a resumed run has no epoch left to train)."""
        return self.test_pass()

    def finish(self, run, test, say, plots=True):
        return _finish(self, run, test, say, plots)


def _show_graph(session, run, say):
    """Save the autograd graph of one training step's loss without disturbing the run."""
    from zerograd.viz import draw_graph, render_graph
    rng = get_rng_state()  # before iterating: a loader may draw a seed (torch's does)
    x, y = next(iter(session.test_loader))
    saved = {k: v.clone() for k, v in session.model.state_dict().items()}
    session.model.train()
    loss = session.loss_fn(session.model(x), y)
    dot = draw_graph(loss, params=dict(session.model.named_parameters()))
    with no_grad():  # undo what the forward changed (BatchNorm running statistics)
        session.model.load_state_dict(saved)
    set_rng_state(rng)
    path, message = render_graph(dot, run.file("graph"))
    say(f"autograd graph: {message}")
    return path


def _finish(session, run, test, say, plots=True):
    run.write_metrics(session.history)
    if plots:
        from zerograd.viz import plot_confusion, plot_curves
        run.write_figure("curves.png", plot_curves(
            session.history, title=f"{session.cfg.model} on {session.cfg.data}"))
        if session.classify:
            matrix = confusion_matrix(test["outputs"], test["targets"], session.info.num_classes)
            run.write_figure("confusion.png", plot_confusion(matrix, session.info.class_names))
    summary = session.summary(test, run)
    if session.classify:
        matrix = confusion_matrix(test["outputs"], test["targets"], session.info.num_classes)
        recall = per_class_accuracy(matrix).tolist()
        summary["per_class_acc"] = {n: (None if v != v else float(v))  # NaN: class absent
                                    for n, v in zip(session.info.class_names, recall)}
    run.write_json("summary.json", summary)
    return summary


def _loop(session, run, say, progress, stop_after, plots, placement=None):
    """Train the remaining epochs, saving each; ``placement`` (a new run's ``NewRun``) is
    told when the first checkpoint is on disk and undone if the run fails before."""
    test = None
    steps = 0
    saved = session.epoch
    try:
        while session.epoch < session.cfg.epochs:
            if stop_after is not None and steps >= stop_after:
                break
            row, train, test, improved = session.run_epoch(progress)
            steps += 1
            run.save_checkpoint(session.state(), session.epoch, best=improved,
                                keep=session.cfg.keep_checkpoints)
            saved = session.epoch
            if placement is not None:
                placement.saved_checkpoint()
            run.write_metrics(session.history, session.metric_columns)
            say(session.describe(row, train))
    except KeyboardInterrupt:
        # Checkpoints are written atomically, so the last saved epoch is intact.
        raise Interrupted(run.path, saved, _undo(placement)) from None
    except Diverged as err:
        outcome = _undo(placement) or (
            f"the last good checkpoint (epoch {saved}) is kept in {run.checkpoints}" if saved
            else "nothing was saved")
        hint = "--lr" + (" or --weight-decay" if session.cfg.weight_decay else "")
        raise UsageError(f"training diverged: {err}; {outcome}; try a smaller {hint}") from None
    except BaseException:
        _undo(placement)
        raise
    if test is None:  # nothing left to train: score the restored model
        test = session.final_test()
    return session.finish(run, test, say, plots)


def _undo(placement):
    """Undo a new run that saved nothing; what it left, in words (None if it had saved)."""
    if placement is None:
        return None
    outcome = placement.outcome()
    placement.undo()
    return outcome


def _load_initial_weights(session, path):
    """Warm start: the model's weights (and BatchNorm statistics) from another run's
    checkpoint. Only the weights: optimizer state, schedule, RNG and epoch count start afresh,
    as when fine-tuning in PyTorch with ``model.load_state_dict(torch.load(...))``."""
    path = find_checkpoint(path)
    state = load(path, map_location="cpu")  # load_state_dict copies onto the run's device
    if not isinstance(state, dict) or state.get("kind") != CHECKPOINT_KIND:
        raise UsageError(f"--init-from {path}: not a zerograd training checkpoint")
    name = state.get("model", {}).get("name")
    if name != session.cfg.model:  # (text runs check this before building their session)
        raise UsageError(f"--init-from {path} holds a '{name}' model, but this run trains "
                         f"'{session.cfg.model}'; pass --model {name} or another checkpoint")
    try:
        session.model.load_state_dict(state["model_state"])
    except (KeyError, RuntimeError, ValueError) as err:
        raise UsageError(f"--init-from {path}: the weights do not fit this model and "
                         f"dataset: {str(err).splitlines()[0]}") from None


def fit(cfg, out=None, overwrite=False, quiet=False, progress=None, show_graph=False,
        stop_after=None, plots=True):
    """Train as ``cfg`` says, writing the run folder; returns the summary dict.

    ``stop_after`` ends this call after that many epochs (the run stays resumable), as if
    it had been interrupted at an epoch boundary.
    """
    if not isinstance(cfg, TrainConfig):
        raise TypeError("fit expects a TrainConfig (see zerograd.train.config.resolve)")
    from zerograd.train import distributed as multi
    writer = multi.is_writer()  # rank 0 of a multi-process run writes and prints
    say = _say(quiet or not writer)
    target = out or cfg.out or RunFolder.default_path(cfg.model, cfg.data)

    def check_folder():
        recover(target)
        RunFolder(target).check_free(overwrite)
    multi.checked_on_rank_zero(check_folder)
    session = _new_session(cfg, show_graph)  # fails on bad data/model before the run folder
    if cfg.init_from:
        _load_initial_weights(session, cfg.init_from)
    if not writer:
        run = multi.shared_folder(RunFolder(target))
        return _loop(session, run, say, False, stop_after, plots=False)
    placement = NewRun(target, overwrite)  # --overwrite: built aside, swapped in once saved
    cfg.out = placement.target.path
    run = placement.run
    try:
        placement.create()
        run.write_json("config.json", cfg.to_dict())
        say(f"training {cfg.model} ({type(session.model).__name__}, "
            f"{count_parameters(session.model):,} parameters) on {cfg.data}: "
            f"{session.describe_data()} -> {cfg.out}")
        if show_graph:
            _show_graph(session, run, say)
    except BaseException:
        placement.undo()
        raise
    return _loop(session, multi.shared_folder(run), say, progress, stop_after, plots, placement)


def _is_text(cfg):
    return cfg.data.startswith(("text:", "seq2seq:"))


def _session_type():
    """``Session``, or its multi-process twin inside a job of several ranks."""
    from zerograd import distributed as dist
    if dist.is_initialized() and dist.get_world_size() > 1:
        from zerograd.train.distributed import DistributedSession
        return DistributedSession
    return Session


def _new_session(cfg, show_graph=False):
    if not _is_text(cfg):
        return _session_type()(cfg)
    from zerograd.train.text import TextSession, init_from_data_state
    if show_graph:
        raise UsageError("--show-graph is for the classifier and regression models; drop it")
    # --init-from: the new run keeps the checkpoint's vocabulary, so token i means the
    # same token to the loaded embedding and output layer
    data_state = init_from_data_state(cfg) if cfg.init_from else None
    return TextSession(cfg, data_state=data_state)


def resume(run_dir, epochs=None, quiet=False, progress=None, stop_after=None, plots=True,
           device=None):
    """Continue the run in ``run_dir`` from its newest readable checkpoint (every rank of a
    multi-process run loads it; rank 0 alone tidies, prints and writes)."""
    from zerograd.train import distributed as multi
    writer = multi.is_writer()
    say = _say(quiet or not writer)
    run = RunFolder(run_dir)

    def check_folder():
        recover(run_dir)
        if not os.path.isdir(run.path):
            raise UsageError(f"run folder not found: {run.path}")
        run.tidy()  # temporary files and stale sidecars that a killed process left
    multi.checked_on_rank_zero(check_folder)
    path, state = run.latest_checkpoint(
        warn=lambda text: print(text, file=sys.stderr) if writer else None)
    if not isinstance(state, dict) or state.get("kind") != CHECKPOINT_KIND:
        raise UsageError(f"{path} is not a zerograd training checkpoint")
    known = TrainConfig.__dataclass_fields__
    cfg = TrainConfig(**{k: v for k, v in state["config"].items() if k in known})
    planned = cfg.epochs
    if epochs is not None:
        if epochs < 1:
            raise UsageError(f"--epochs must be at least 1, got {epochs}")
        cfg.epochs = epochs
    if device is not None:  # checkpoints hold CPU-loadable tensors: any device resumes
        cfg.device = device
    if _is_text(cfg):
        from zerograd.train.text import TextSession
        session = TextSession(cfg, data_state=state["data"])
    else:
        session = _session_type()(cfg, data_info=DataInfo.from_state(state["data"]))
    session.restore(state)
    if (cfg.epochs != planned and session.epoch < cfg.epochs
            and cfg.scheduler in LENGTH_DEPENDENT_SCHEDULERS):
        session.rebuild_schedule()
        say(f"the {cfg.scheduler} schedule was planned for {planned} epochs; it now spans "
            f"{cfg.epochs}, and the remaining epochs follow it from epoch {session.epoch}")
    cfg.out = run.path
    run = multi.shared_folder(run)
    run.write_json("config.json", cfg.to_dict())
    say(f"resuming {run.path} from {os.path.basename(path)} (epoch {session.epoch} of "
        f"{cfg.epochs})")
    return _loop(session, run, say, progress if writer else False, stop_after,
                 plots and writer)
