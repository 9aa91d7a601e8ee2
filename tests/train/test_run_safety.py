"""Nothing lost, nothing silent: --overwrite, failed and killed runs, resume with more
epochs, divergence, and the files a run leaves (issue 12, items 1-6 and 14)."""
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import zerograd as zg
from zerograd.io.atomic import TEMP_PREFIX
from zerograd.train import resolve
from zerograd.train import trainer as trainer_module
from zerograd.train.config import SCHEDULERS, Interrupted, UsageError
from zerograd.train.loop import Diverged, DivergenceGuard
from zerograd.train.replace import recover
from zerograd.train.run import RunFolder
from zerograd.train.trainer import fit, resume

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = {"data": "digits", "limit": 40, "epochs": 1, "batch_size": 20}


def _fit(path, overwrite=False, **options):
    return fit(resolve({}, dict(TINY, **options)), out=str(path), overwrite=overwrite,
               quiet=True, plots=False)


def _snapshot(folder):
    """Every file under ``folder`` with its bytes (names relative to it)."""
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, folder)] = handle.read()
    return found


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _hidden(parent):
    return sorted(n for n in os.listdir(parent) if n.startswith("."))


# -- 1. --overwrite is atomic at the run level -----------------------------------------------------
def _diverge(monkeypatch):
    def blow_up(self, progress=None):
        raise Diverged(float("inf"), self.epoch + 1, 1)
    monkeypatch.setattr(trainer_module.Session, "run_epoch", blow_up)


def _interrupt(monkeypatch):
    def stop(self, progress=None):
        raise KeyboardInterrupt
    monkeypatch.setattr(trainer_module.Session, "run_epoch", stop)


def _crash(monkeypatch):
    def crash(self, path):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(RunFolder, "save_checkpoint", lambda self, *a, **k: crash(self, None))


@pytest.mark.parametrize("failure, error", [(_diverge, UsageError), (_interrupt, Interrupted),
                                            (_crash, OSError)])
def test_failed_overwrite_leaves_the_old_run_exactly_as_it_was(tmp_path, monkeypatch, failure,
                                                               error):
    _fit(tmp_path / "run", epochs=2)
    before = _snapshot(tmp_path / "run")
    failure(monkeypatch)
    with pytest.raises(error) as raised:
        _fit(tmp_path / "run", overwrite=True, seed=1)
    assert _snapshot(tmp_path / "run") == before
    assert _hidden(tmp_path) == []  # the new run's staging folder is gone too
    if error is UsageError:
        assert "still holds the previous run, unchanged" in str(raised.value)
    if error is Interrupted:
        assert "still holds the previous run" in raised.value.outcome


def test_overwrite_replaces_the_whole_run_once_the_new_one_has_a_checkpoint(tmp_path):
    _fit(tmp_path / "run", epochs=3, keep_checkpoints=3)
    summary = _fit(tmp_path / "run", overwrite=True, epochs=1, seed=1)
    assert summary["run_dir"] == str(tmp_path / "run")
    names = sorted(os.listdir(tmp_path / "run" / "checkpoints"))
    assert names == ["best.json", "best.safetensors", "epoch-0001.json",
                     "epoch-0001.safetensors"]  # nothing of the old run's 3 epochs is left
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["seed"] == 1 and config["out"] == str(tmp_path / "run")
    assert _hidden(tmp_path) == []


def test_overwrite_refuses_a_folder_holding_other_files(tmp_path):
    _fit(tmp_path / "run")
    (tmp_path / "run" / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match=r"also holds files no run writes \(notes.txt\)"):
        _fit(tmp_path / "run", overwrite=True)
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine"


def test_a_fresh_run_that_fails_before_its_first_checkpoint_is_undone(tmp_path, monkeypatch):
    _interrupt(monkeypatch)
    with pytest.raises(Interrupted) as raised:
        _fit(tmp_path / "new")
    assert raised.value.saved_epoch == 0 and raised.value.outcome == "nothing was saved"
    assert not (tmp_path / "new").exists()  # so the same command simply runs again
    (tmp_path / "mine").mkdir()  # a folder the user made, with a file of theirs
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(Interrupted):
        _fit(tmp_path / "mine")
    assert os.listdir(tmp_path / "mine") == ["notes.txt"]  # only the run's files went


def test_a_swap_cut_by_a_kill_is_finished_or_undone_on_next_use(tmp_path):
    _fit(tmp_path / "run")
    pid = _dead_pid()
    old, new = tmp_path / f".run.zerograd-old-{pid}", tmp_path / f".run.zerograd-new-{pid}"
    # killed between the two renames: the new run (which had its checkpoint) is put in place
    os.rename(tmp_path / "run", old)
    _fit(new, seed=1)
    recover(tmp_path / "run")
    assert json.loads((tmp_path / "run" / "config.json").read_text())["seed"] == 1
    assert _hidden(tmp_path) == []
    # killed while building the new run: the old one stays, the staging folder goes
    _fit(new, seed=2)
    recover(tmp_path / "run")
    assert json.loads((tmp_path / "run" / "config.json").read_text())["seed"] == 1
    assert _hidden(tmp_path) == []


_SLOW_EPOCH = r"""
import sys, time
from zerograd.train import resolve, trainer
def slow(self, progress=None):
    print("training", flush=True)
    time.sleep(60)
trainer.Session.run_epoch = slow
trainer.fit(resolve({}, {"data": "digits", "limit": 40, "epochs": 1, "seed": 5}),
            out=sys.argv[1], overwrite=True, quiet=True, plots=False)
"""


@pytest.mark.slow
def test_kill_9_during_an_overwrite_loses_nothing(tmp_path):
    _fit(tmp_path / "run")
    before = _snapshot(tmp_path / "run")
    child = subprocess.Popen([sys.executable, "-c", _SLOW_EPOCH, str(tmp_path / "run")],
                             cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "training"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert _snapshot(tmp_path / "run") == before
    assert _hidden(tmp_path) == [f".run.zerograd-new-{child.pid}"]
    resume(str(tmp_path / "run"), quiet=True, plots=False)  # the next use tidies up
    assert _hidden(tmp_path) == []


# -- 2, 3. what a killed save leaves: temporary files and a stale sidecar --------------------------
def test_resume_removes_temp_files_of_killed_writers_and_never_counts_them(tmp_path):
    _fit(tmp_path / "run", epochs=2)
    checkpoints = tmp_path / "run" / "checkpoints"
    dead = checkpoints / f"{TEMP_PREFIX}epoch-0003.safetensors.{_dead_pid()}.0123abcd"
    alive = checkpoints / f"{TEMP_PREFIX}epoch-0003.safetensors.{os.getpid()}.0123abcd"
    for path in (dead, alive):
        path.write_bytes(b"half a checkpoint")
    run = RunFolder(tmp_path / "run")
    assert [os.path.basename(p) for p in run.epoch_checkpoints()] == [
        "epoch-0002.safetensors", "epoch-0001.safetensors"]
    resume(str(tmp_path / "run"), epochs=3, quiet=True, plots=False)
    assert not dead.exists() and alive.exists()  # a running writer's file stays


def test_resume_rewrites_a_sidecar_that_a_kill_left_stale(tmp_path):
    _fit(tmp_path / "run", epochs=2, keep_checkpoints=2)
    checkpoints = tmp_path / "run" / "checkpoints"
    stale = (checkpoints / "epoch-0001.json").read_text()
    (checkpoints / "epoch-0002.json").write_text(stale)  # describes the previous save
    resume(str(tmp_path / "run"), quiet=True, plots=False)
    side = json.loads((checkpoints / "epoch-0002.json").read_text())
    assert side["object"]["epoch"] == 2 == zg.load(checkpoints / "epoch-0002.safetensors")["epoch"]


# -- 4. a run killed before its first checkpoint ------------------------------------------------
def test_a_run_that_saved_nothing_says_so_instead_of_offering_resume(tmp_path):
    run = RunFolder(tmp_path / "run")  # what a kill -9 during epoch 1 leaves
    run.create()
    run.write_json("config.json", resolve({}, TINY).to_dict())
    with pytest.raises(UsageError, match="stopped before saving its first checkpoint, so "
                                         "there is nothing to resume; start it again with "
                                         "--overwrite"):
        _fit(tmp_path / "run")
    with pytest.raises(UsageError, match="nothing to resume; start it again with `zerograd "
                                         "train ... --out .* --overwrite`"):
        resume(str(tmp_path / "run"), quiet=True, plots=False)
    assert _fit(tmp_path / "run", overwrite=True)["epochs"] == 1


# -- 5. resume with more epochs under every scheduler ------------------------------------------
@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_resume_with_more_epochs_follows_the_longer_schedule(tmp_path, scheduler):
    # 3 -> 6 epochs: cosine's T_max, StepLR's step (epochs // 3) and OneCycle's length all
    # change; restoring the old schedule trained the new epochs at lr 0 and rising (cosine)
    options = dict(TINY, scheduler=scheduler, epochs=3, optimizer="sgd", lr=0.05, limit=20)
    fit(resolve({}, options), out=str(tmp_path / "cut"), quiet=True, plots=False)
    resume(str(tmp_path / "cut"), epochs=6, quiet=True, plots=False)
    fit(resolve({}, dict(options, epochs=6)), out=str(tmp_path / "straight"), quiet=True,
        plots=False)
    cut, straight = (RunFolder(tmp_path / n).read_metrics() for n in ("cut", "straight"))
    assert [r["lr"] for r in cut[3:]] == [r["lr"] for r in straight[3:]]
    assert all(float(r["lr"]) > 0 for r in cut)
    if scheduler in ("none", "exponential", "plateau"):  # length-free: the very same run
        assert [{k: v for k, v in r.items() if k != "seconds"} for r in cut] == \
            [{k: v for k, v in r.items() if k != "seconds"} for r in straight]


# -- 6. non-finite hyper-parameters and diverging runs --------------------------------------------
@pytest.mark.parametrize("option, value", [("lr", float("inf")), ("lr", float("nan")),
                                           ("momentum", float("inf")),
                                           ("weight_decay", float("inf"))])
def test_non_finite_hyper_parameters_are_refused(tmp_path, option, value):
    extra = {"optimizer": "sgd"} if option == "momentum" else {}
    with pytest.raises(UsageError, match=f"--{option.replace('_', '-')} must be a finite"):
        resolve({}, dict(TINY, **extra, **{option: value}))
    (tmp_path / "run.toml").write_text(f"{option} = {'inf' if value > 0 else 'nan'}\n"
                                       if value == value else f"{option} = nan\n")
    from zerograd.train.config import load_toml
    with pytest.raises(UsageError, match="must be a finite"):
        resolve(load_toml(tmp_path / "run.toml"), extra)


def test_divergence_guard():
    guard = DivergenceGuard()
    guard.check(2.3, 1, 1)
    guard.check(2.3e5, 1, 2)  # large, but not a blow-up
    with pytest.raises(Diverged, match="became 9.6e\\+26 at epoch 1, step 3, over a million"):
        guard.check(9.6e26, 1, 3)
    with pytest.raises(Diverged, match="became nan at epoch 2, step 1"):
        DivergenceGuard().check(float("nan"), 2, 1)


def test_a_huge_lr_stops_the_run_with_one_line(tmp_path):
    with pytest.raises(UsageError) as raised:
        _fit(tmp_path / "run", lr=1e6, limit=200, epochs=2)
    message = str(raised.value)
    assert message.startswith("training diverged: the loss became ") and "\n" not in message
    assert "at epoch 1, step " in message and "try a smaller --lr" in message
    assert "nothing was saved" in message and not (tmp_path / "run").exists()


def test_divergence_later_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    real = trainer_module.Session.run_epoch

    def second_blows_up(self, progress=None):
        if self.epoch == 1:
            raise Diverged(float("nan"), 2, 4)
        return real(self, progress)
    monkeypatch.setattr(trainer_module.Session, "run_epoch", second_blows_up)
    with pytest.raises(UsageError, match=r"at epoch 2, step 4; the last good checkpoint "
                                         r"\(epoch 1\) is kept in "):
        _fit(tmp_path / "run", epochs=3)
    assert zg.load(tmp_path / "run" / "checkpoints" / "epoch-0001.safetensors")["epoch"] == 1


# -- 14. run files get the user's umask, like any file the user writes --------------------------
def test_run_files_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        fit(resolve({}, TINY), out=str(tmp_path / "run"), quiet=True)
    finally:
        os.umask(old)
    modes = {name: os.stat(tmp_path / "run" / name).st_mode & 0o777 for name in
             ("config.json", "metrics.csv", "summary.json", "curves.png", "confusion.png",
              "checkpoints/best.safetensors", "checkpoints/best.json")}
    assert set(modes.values()) == {0o640}, modes
    assert np.isfinite(json.loads((tmp_path / "run" / "summary.json").read_text())["test_loss"])
