"""``zerograd train --device cpu|cuda|cuda:N|auto``: where a run computes.

CI has no GPU, so the device path runs on the stand-in device (tests/standin_device.py),
which refuses host arrays mixed into device work just as CuPy does: a run on it proves
that models, batches, losses, metrics and checkpoints all follow the run's device.
"""
import os

import pytest

import zerograd as zg
from zerograd.cli import main
from zerograd.train.config import UsageError, resolve
from zerograd.train.device import DeviceLoader, pick_device, to_device
from zerograd.train.trainer import fit, resume

STANDIN = "standin"
needs_no_gpu = pytest.mark.skipif(zg.cuda.is_available(), reason="this machine has a GPU")


@needs_no_gpu
def test_auto_is_the_cpu_without_a_gpu():
    assert pick_device("auto") == zg.device("cpu") and pick_device(None) == zg.device("cpu")
    assert pick_device("cpu") == zg.device("cpu")
    assert pick_device(STANDIN) == zg.device(STANDIN)


@needs_no_gpu
@pytest.mark.parametrize("name", ["cuda", "cuda:1", "tpu"])
def test_an_unusable_device_is_one_line(name):
    with pytest.raises(UsageError, match=f"^--device {name}: ") as err:
        pick_device(name)
    assert "\n" not in str(err.value)
    if name.startswith("cuda"):
        assert "pip install 'zerograd[gpu]'" in str(err.value)


@needs_no_gpu
def test_cli_train_on_cuda_without_a_gpu_fails_in_one_line(tmp_path, capsys):
    code = main(["train", "--data", "iris", "--epochs", "1", "--device", "cuda",
                 "--out", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code != 0 and "\n" not in err and "Traceback" not in err
    assert "cuda" in err and "zerograd[gpu]" in err
    assert not os.path.exists(tmp_path / "run")


def test_cli_train_device_auto(tmp_path, capsys):
    code = main(["train", "--data", "iris", "--epochs", "1", "--device", "auto", "--quiet",
                 "--out", str(tmp_path / "auto")])
    assert code == 0, capsys.readouterr().err
    import json
    with open(tmp_path / "auto" / "config.json") as handle:
        assert json.load(handle)["device"] == "auto"


def test_batches_move_to_the_device_and_loaders_keep_their_length():
    batch = (zg.ones(2), [zg.zeros(1)], {"y": zg.arange(3)}, "label")
    moved = to_device(batch, zg.device(STANDIN))
    assert str(moved[0].device) == STANDIN and str(moved[1][0].device) == STANDIN
    assert str(moved[2]["y"].device) == STANDIN and moved[3] == "label"
    loader = DeviceLoader([batch, batch], zg.device(STANDIN))
    assert len(loader) == 2 and all(str(b[0].device) == STANDIN for b in loader)


@pytest.mark.parametrize("model,data,limit", [("lenet", "digits", 64),
                                              ("seq2seq-gru", "seq2seq:reverse", 96)])
def test_a_run_on_a_device_checkpoints_for_any_machine(tmp_path, model, data, limit):
    out = str(tmp_path / "run")
    cfg = resolve({}, dict(model=model, data=data, epochs=1, limit=limit, device=STANDIN,
                           out=out))
    fit(cfg, quiet=True, plots=False)
    best = os.path.join(out, "checkpoints", "best.safetensors")
    state = zg.load(best)  # back on the device it was saved from
    weights = state["model_state"]
    assert {str(t.device) for t in weights.values()} == {STANDIN}
    on_cpu = zg.load(best, map_location="cpu")["model_state"]
    assert {str(t.device) for t in on_cpu.values()} == {"cpu"}
    summary = resume(out, epochs=2, quiet=True, plots=False, device="cpu")  # GPU -> CPU
    assert summary["epochs"] == 2
    summary = resume(out, epochs=3, quiet=True, plots=False, device=STANDIN)  # and back
    assert summary["epochs"] == 3
