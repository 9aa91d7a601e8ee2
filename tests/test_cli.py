"""The ``zerograd`` command, run as a subprocess as a user would run it.

One default ``zerograd train`` (MLP on digits) is shared by the eval/predict/info/resume
tests; every bad input must give one line on stderr, a non-zero exit and no traceback.
"""
import csv
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import zerograd as zg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def zerograd(*args, cwd, env=None, script=False):
    command = [os.path.join(os.path.dirname(sys.executable), "zerograd")] if script else \
        [sys.executable, "-m", "zerograd"]
    environment = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONPATH=ROOT, **(env or {}))
    environment.pop("ZEROGRAD_DEBUG", None)
    return subprocess.run(command + list(args), cwd=cwd, env=environment, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """`zerograd train` with no arguments: the README's main job."""
    cwd = tmp_path_factory.mktemp("cli")
    result = zerograd(cwd=cwd, script=os.path.exists(
        os.path.join(os.path.dirname(sys.executable), "zerograd")))
    assert result.returncode == 0, result.stderr
    return cwd, result


@pytest.mark.slow
def test_default_train_reaches_95_percent_on_digits(digits_run):
    cwd, result = digits_run
    head = result.stdout.splitlines()[0]
    assert head.startswith("test accuracy: ")
    assert float(head.split()[2]) >= 0.95
    run = cwd / "runs" / "mlp-digits"
    assert f"run folder: runs{os.sep}mlp-digits" in result.stdout
    for name in ("config.json", "metrics.csv", "curves.png", "confusion.png", "summary.json",
                 "checkpoints/best.safetensors", "checkpoints/best.json",
                 "checkpoints/epoch-0020.safetensors", "checkpoints/epoch-0019.safetensors"):
        assert (run / name).is_file(), name
    assert not (run / "checkpoints" / "epoch-0018.safetensors").exists()
    with open(run / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr",
                             "seconds"]
    assert len(rows) == 20 and float(rows[-1]["test_acc"]) >= 0.95
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == "mlp" and config["data"] == "digits" and config["epochs"] == 20
    epoch_lines = [ln for ln in result.stderr.splitlines() if ln.startswith("epoch ")]
    assert len(epoch_lines) == 20 and "samples/s" in epoch_lines[0]
    assert "Traceback" not in result.stderr


def cli(capsys, *args):
    """The same command in-process (``zerograd.cli.main``): (exit code, stdout, stderr)."""
    from zerograd.cli import main
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_eval_json_and_text(digits_run, capsys, monkeypatch):
    cwd, _ = digits_run
    result = zerograd("eval", "runs/mlp-digits", "--json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["samples"] == 360 and report["accuracy"] >= 0.95
    matrix = np.array(report["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == 360
    assert abs(np.trace(matrix) / 360 - report["accuracy"]) < 1e-12
    assert len(report["per_class_accuracy"]) == 10
    monkeypatch.chdir(cwd)
    code, out, _ = cli(capsys, "eval", "runs/mlp-digits/checkpoints/epoch-0020.safetensors",
                       "--limit", "50")
    assert code == 0 and "data: digits (50 test samples)" in out
    assert "per-class accuracy:" in out and "confusion matrix" in out


def test_predict_png_npy(digits_run, tmp_path, capsys, monkeypatch):
    cwd, _ = digits_run
    from matplotlib import image
    from sklearn.datasets import load_digits
    digits = load_digits()
    image.imsave(tmp_path / "zero.png", digits.images[0] / 16, cmap="gray", vmin=0, vmax=1)
    np.save(tmp_path / "batch.npy", (digits.images[1:4] / 16).astype(np.float32))
    result = zerograd("predict", "runs/mlp-digits", str(tmp_path / "zero.png"),
                      str(tmp_path / "batch.npy"), "--json", "--top", "2", cwd=cwd)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert [r["class"] for r in out] == [str(int(t)) for t in digits.target[:4]]
    assert all(len(r["top"]) == 2 and 0 < r["probability"] <= 1 for r in out)
    monkeypatch.chdir(cwd)
    code, text, _ = cli(capsys, "predict", "runs/mlp-digits", str(tmp_path / "zero.png"))
    assert code == 0 and text.startswith(f"{tmp_path / 'zero.png'}: 0 (")


def test_info(digits_run, capsys, monkeypatch):
    cwd, _ = digits_run
    result = zerograd("info", "runs/mlp-digits", cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert "model: mlp (MLP), 19,210 parameters" in result.stdout
    assert "Linear(in_features=64, out_features=256" in result.stdout
    monkeypatch.chdir(cwd)
    code, out, _ = cli(capsys, "info", "runs/mlp-digits", "--json")
    data = json.loads(out)
    assert data["parameters"] == 19210 and data["classes"] == [str(i) for i in range(10)]


@pytest.mark.slow
def test_ctrl_c_then_resume(tmp_path):
    """SIGINT mid-run: exit 130 with one line naming the saved epoch; resume continues."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONPATH=ROOT)
    child = subprocess.Popen([sys.executable, "-m", "zerograd", "train", "--limit", "400",
                              "--epochs", "60", "--out", "run"], cwd=tmp_path, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in child.stderr:
            if line.startswith("epoch   2/60"):
                break
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=120)
    finally:
        child.kill()
    assert child.returncode == 130, err
    message = err.strip().splitlines()[-1]
    assert message.startswith("zerograd: error: interrupted; epoch ") and "Traceback" not in err
    saved = int(message.split("epoch ")[1].split()[0])
    assert saved >= 2 and f"zerograd resume {os.path.join('run')}" in message
    result = zerograd("resume", "run", "--epochs", str(saved + 1), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["epochs"] == saved + 1
    assert f"epoch {saved + 1:>3}/{saved + 1}" in result.stderr
    with open(tmp_path / "run" / "metrics.csv") as handle:
        assert [int(r["epoch"]) for r in csv.DictReader(handle)] == list(range(1, saved + 2))


@pytest.mark.slow
def test_config_file_flags_override_progress_and_graph(tmp_path):
    rows = ["x1,x2,label"] + [f"{i % 5},{(i * 7) % 11},{'ab'[i % 2]}" for i in range(60)]
    (tmp_path / "table.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "run.toml").write_text('[train]\nmodel = "softmax"\n'
                                       'data = "csv:table.csv:label"\n'
                                       'epochs = 5\nbatch-size = 8\nlr = 0.05\n')
    result = zerograd("train", "--config", "run.toml", "--epochs", "2", "--out", "r",
                      "--progress", "--show-graph", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["epochs"] == 2 and summary["model"] == "softmax"
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert (config["epochs"], config["batch_size"], config["lr"]) == (2, 8, 0.05)
    assert "samples/s=" in result.stderr and "acc=" in result.stderr  # the tqdm bar
    assert (tmp_path / "r" / "graph.dot").is_file() and "autograd graph" in result.stderr
    predicted = zerograd("predict", "r", "table.csv", "--json", cwd=tmp_path)
    assert len(json.loads(predicted.stdout)) == 60
    quiet = zerograd("train", "--config", "run.toml", "--out", "q", "--quiet", cwd=tmp_path)
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert quiet.stdout.startswith("test accuracy: ")


def _bad_files(folder):
    (folder / "garbage.safetensors").write_bytes(b"not a checkpoint at all" * 10)
    (folder / "ok.csv").write_text("a,y\n1,0\n2,1\n3,0\n4,1\n")
    (folder / "bad.toml").write_text("epochs = 3\ncolour = 'red'\n")
    zg.save({"w": zg.ones(2)}, folder / "weights.safetensors")


@pytest.fixture(scope="module")
def broken(digits_run):
    """Checkpoints damaged in different ways, next to the good run."""
    cwd, _ = digits_run
    folder = cwd / "broken"
    folder.mkdir(exist_ok=True)
    _bad_files(folder)
    good = cwd / "runs" / "mlp-digits" / "checkpoints" / "best.safetensors"
    (folder / "truncated.safetensors").write_bytes(good.read_bytes()[:-64])
    state = zg.load(good)
    state["model"]["name"] = "softmax"  # weights of an MLP under another model's name
    zg.save(state, folder / "mismatch.safetensors")
    return cwd


BAD_INPUTS = [
    (["train", "--model", "transformer"], "unknown model 'transformer'", 2),
    (["train", "--data", "imagenet"], "unknown dataset 'imagenet'", 2),
    (["train", "--optimizer", "sgdd"], "unknown optimizer 'sgdd'", 2),
    (["train", "--data", "csv:broken/missing.csv:y"], "data file not found", 2),
    (["train", "--data", "csv:broken/ok.csv:label"], "has no column 'label'", 2),
    (["train", "--config", "broken/bad.toml"], "unknown option 'colour'", 2),
    (["train", "--epochs", "many"], "invalid int value", 2),
    (["train", "--data", "mnist"], "cannot load mnist", 2),
    (["train", "--out", "runs/mlp-digits"], "already holds a run", 2),
    (["train", "--model", "softmax", "--init-from", "runs/mlp-digits", "--out", "broken/w1"],
     "holds a 'mlp' model, but this run trains 'softmax'", 2),
    (["train", "--init-from", "broken/garbage.safetensors", "--out", "broken/w2"],
     "not a safetensors checkpoint", 1),
    (["eval", "broken/garbage.safetensors"], "not a safetensors checkpoint", 1),
    (["eval", "broken/truncated.safetensors"], "truncated", 1),
    (["eval", "broken/nowhere.safetensors"], "checkpoint not found", 1),
    (["info", "broken/weights.safetensors"], "not a training checkpoint", 1),
    (["info", "broken/mismatch.safetensors"], "weights do not fit model 'softmax'", 1),
    (["eval", "runs/mlp-digits", "--data", "iris"], "trained on 'digits', not 'iris'", 2),
    (["eval", "runs/mlp-digits", "--data", "iris", "--force"], "checkpoint's model expects", 2),
    (["predict", "runs/mlp-digits", "broken/nothing.png"], "input file not found", 2),
    (["predict", "runs/mlp-digits", "broken/ok.csv"], "CSV rows are for tabular", 2),
    (["resume", "broken/no-run"], "run folder not found", 2),
    (["frobnicate"], "invalid choice", 2),
]


@pytest.fixture(scope="module")
def bad_results(broken):
    """Every bad command, run as subprocesses a few at a time (they are mostly start-up)."""
    from concurrent.futures import ThreadPoolExecutor
    env = {"HOME": str(broken / "home"), "ZEROGRAD_DATA": str(broken / "nodata")}
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda case: zerograd(*case[0], cwd=broken, env=env), BAD_INPUTS))


@pytest.mark.parametrize("index", range(len(BAD_INPUTS)),
                         ids=[" ".join(a[:2]) for a, _, _ in BAD_INPUTS])
def test_bad_input_is_one_clear_line(bad_results, index):
    args, message, code = BAD_INPUTS[index]
    result = bad_results[index]
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("zerograd: error: ") and message in lines[0], lines[0]
    assert result.stdout == ""


# Checked before anything loads, so they run in-process (issue 12, items 6, 9, 10, 11).
EARLY_BAD_INPUTS = [
    (["eval", "runs/x", "--batch-size", "0"], "--batch-size must be at least 1, got 0"),
    (["train", "--config", "binary.toml"], "binary.toml is not valid TOML: it is not UTF-8"),
    (["train", "--optimizer", "sgd", "--momentum", "-1"], "--momentum must be in [0, 1), got -1.0"),
    (["train", "--weight-decay", "-1"], "--weight-decay must be >= 0, got -1.0"),
    (["train", "--momentum", "0.9"], "--momentum applies to the optimizers sgd, momentum, "
                                     "nesterov, rmsprop, not adam"),
    (["train", "--lr", "inf"], "--lr must be a finite number, got inf"),
    (["train", "--lr", "nan"], "--lr must be a finite number, got nan"),
    (["train", "--seed", str(2 ** 70)], "--seed must be between -2**63 and 2**64 - 1"),
    (["train", "--out", ""], "--out must not be empty"),
    (["train", "--config", ""], "--config must not be empty"),
    (["train", "--data", "fashion-mnist", "--data-dir", "nowhere"],
     "--data-dir nowhere does not exist"),
    (["train", "--data-dir", "."], "--data-dir applies to fashion-mnist and mnist, not 'digits'"),
    (["predict", "runs/x", "a.png", "--top", "0"], "--top must be at least 1, got 0"),
    (["predict", "runs/x", "a.png", "--top", "-1"], "--top must be at least 1, got -1"),
]


@pytest.mark.parametrize("args, message", EARLY_BAD_INPUTS,
                         ids=[" ".join(a[:3]) for a, _ in EARLY_BAD_INPUTS])
def test_early_bad_input_is_one_line_naming_the_option(tmp_path, capsys, monkeypatch, args,
                                                       message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "binary.toml").write_bytes(bytes(range(256)))
    code, out, err = cli(capsys, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("zerograd: error: ") and message in err, err
    assert "internal error" not in err
    if "--momentum" in args:
        assert "weight-decay" not in err  # the one option that is wrong, not two


def test_version(capsys):
    code, out, _ = cli(capsys, "--version")
    assert code == 0 and out == f"zerograd {zg.__version__}\n"
