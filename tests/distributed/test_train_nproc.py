"""`zerograd train --nproc 2`: the CLI's job on two MPI ranks reaches one process's accuracy,
only rank 0 writes, and `zerograd resume` continues a distributed run's exact trajectory."""
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zerograd.cli import main

MPIEXEC = Path(sys.executable).parent / "mpiexec"
ARGS = ["--data", "digits", "--model", "mlp", "--batch-size", "32", "--seed", "3"]


def _zerograd(cwd, *argv, timeout=120):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_btl_tcp_if_include="lo", OMPI_MCA_oob_tcp_if_include="lo")
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "zerograd", *argv], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=cwd)


def _rows(run):
    with open(run / "metrics.csv", newline="") as handle:
        return [{k: v for k, v in row.items() if k != "seconds"}
                for row in csv.DictReader(handle)]


# -- refused before anything starts ------------------------------------------------------------
@pytest.mark.parametrize("argv, message", [
    (["--nproc", "0"], "--nproc must be at least 1, got 0"),
    (["--nproc", "2", "--batch-size", "33"], "--batch-size 33 is the job's batch"),
    (["--nproc", "2", "--model", "lstm-lm", "--data", "text:fortunes"],
     "not supported yet for sequence models"),
])
def test_bad_nproc_is_one_line(tmp_path, capsys, argv, message):
    assert main(["train", "--out", str(tmp_path / "r"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not (tmp_path / "r").exists()


# -- real jobs ---------------------------------------------------------------------------------
pytestmark_mpi = [pytest.mark.slow,
                  pytest.mark.skipif(not MPIEXEC.exists(), reason="no mpiexec in the venv")]


def _mpi(fn):
    for mark in pytestmark_mpi:
        fn = mark(fn)
    return fn


@_mpi
def test_two_ranks_match_one_process_and_only_rank_0_writes(tmp_path, capsys):
    assert main(["train", *ARGS, "--epochs", "4", "--out", str(tmp_path / "one"), "-q",
                 "--json"]) == 0
    one = json.loads((tmp_path / "one" / "summary.json").read_text())
    result = _zerograd(tmp_path, "train", *ARGS, "--epochs", "4", "--nproc", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    # the default run folder was chosen and written once: rank 1 made no folder of its own
    assert sorted(os.listdir(tmp_path / "runs")) == ["mlp-digits"]
    run = tmp_path / "runs" / "mlp-digits"
    two = json.loads((run / "summary.json").read_text())
    assert abs(two["test_acc"] - one["test_acc"]) <= 0.03, (one["test_acc"], two["test_acc"])
    assert two["test_acc"] > 0.9
    assert result.stdout.count("test accuracy:") == 1  # printed by rank 0 alone
    assert result.stderr.count("training mlp") == 1
    assert result.stderr.count("epoch   4/4") == 1
    assert "2 processes x 16 samples per step" in result.stderr
    assert json.loads((run / "config.json").read_text())["nproc"] == 2
    assert {"curves.png", "confusion.png", "metrics.csv"} <= set(os.listdir(run))
    assert len(_rows(run)) == 4
    # the checkpoint is a plain one, and the job's test metrics (blocks scored on two ranks,
    # gathered) are what one process finds when it scores the saved weights
    capsys.readouterr()
    assert main(["eval", str(run / "checkpoints" / "epoch-0004.safetensors"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["accuracy"] == two["test_acc"]
    assert report["loss"] == pytest.approx(two["test_loss"], rel=1e-5)


@_mpi
def test_resume_of_a_distributed_run_continues_the_same_trajectory(tmp_path):
    small = [*ARGS, "--limit", "300", "--nproc", "2", "-q"]
    straight = _zerograd(tmp_path, "train", *small, "--epochs", "3", "--out", "straight")
    assert straight.returncode == 0, straight.stderr[-3000:]
    first = _zerograd(tmp_path, "train", *small, "--epochs", "2", "--out", "split")
    assert first.returncode == 0, first.stderr[-3000:]
    # resume reads nproc from the run's config.json and relaunches two ranks
    resumed = _zerograd(tmp_path, "resume", "split", "--epochs", "3")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming split from epoch-0002" in resumed.stderr
    assert resumed.stderr.count("epoch   3/3") == 1
    assert _rows(tmp_path / "split") == _rows(tmp_path / "straight")


@_mpi
def test_a_refused_rank_zero_stops_every_rank_with_its_message(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "config.json").write_text("{}")  # a run that saved nothing
    again = _zerograd(tmp_path, "train", *ARGS, "--epochs", "1", "--nproc", "2",
                      "--out", "taken", "-q", timeout=60)
    assert again.returncode == 2, again.stderr[-3000:]
    assert again.stderr.count("stopped before saving its first checkpoint") == 1


@_mpi
def test_a_rank_failing_alone_stops_the_job_within_seconds(tmp_path):
    # rank 1 fails mid-epoch while rank 0 waits in the next step's all-reduce: rank 1 must
    # print its error and abort the job, not leave rank 0 hanging
    script = tmp_path / "fail_on_rank1.py"
    script.write_text(
        "import os, sys\n"
        "from zerograd.cli import main\n"
        "from zerograd.train import loop\n"
        "if os.environ['RANK'] == '1':\n"
        "    def check(self, value, epoch, step):\n"
        "        if step == 3:\n"
        "            raise RuntimeError('rank 1 broke on purpose')\n"
        "    loop.DivergenceGuard.check = check\n"
        "sys.exit(main(sys.argv[1:]))\n")
    started = time.monotonic()
    result = _zerograd(tmp_path, "launch", "--nproc", "2", str(script), "train", *ARGS,
                       "--epochs", "1", "--nproc", "2", "--out", "broken", "-q", timeout=90)
    assert result.returncode != 0
    assert "zerograd: error: rank 1: rank 1 broke on purpose" in result.stderr, \
        result.stderr[-3000:]
    assert time.monotonic() - started < 60
