"""Whole runs in-process: reproducibility, resume, fallback to a good checkpoint, LeNet."""
import os

import numpy as np
import pytest

import zerograd as zg
from zerograd.train import resolve
from zerograd.train.config import UsageError
from zerograd.train.data import load_data
from zerograd.train.run import RunFolder
from zerograd.train.trainer import Session, _load_initial_weights, fit, resume

SMALL = {"data": "digits", "limit": 300, "epochs": 3, "optimizer": "adamw",
         "weight_decay": 0.01, "scheduler": "cosine", "batch_size": 32}


def _run(tmp_path, name, stop_after=None, **options):
    cfg = resolve({}, dict(SMALL, **options))
    return fit(cfg, out=str(tmp_path / name), quiet=True, plots=False, stop_after=stop_after)


def _final(tmp_path, name, epoch=3):
    return zg.load(tmp_path / name / "checkpoints" / f"epoch-{epoch:04d}.safetensors")


def _rows(tmp_path, name):
    return [{k: v for k, v in r.items() if k != "seconds"}
            for r in RunFolder(tmp_path / name).read_metrics()]


def _same_state(a, b):
    for part in ("model_state", "optimizer_state"):
        flat_a, flat_b = _flatten(a[part]), _flatten(b[part])
        assert flat_a.keys() == flat_b.keys()
        for k in flat_a:
            np.testing.assert_array_equal(flat_a[k], flat_b[k], err_msg=f"{part} {k}")
    assert a["rng"] == b["rng"] and a["scheduler_state"] == b["scheduler_state"]


def _flatten(obj, prefix=""):
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}{k}/"))
        return out
    if isinstance(obj, (list, tuple)):
        return _flatten(dict(enumerate(obj)), prefix)
    return {prefix: obj.numpy() if isinstance(obj, zg.Tensor) else np.asarray(obj)}


def test_same_seed_same_numbers_bit_for_bit(tmp_path):
    _run(tmp_path, "a")
    _run(tmp_path, "b")
    _run(tmp_path, "c", seed=1)
    assert _rows(tmp_path, "a") == _rows(tmp_path, "b")
    _same_state(_final(tmp_path, "a"), _final(tmp_path, "b"))
    assert _rows(tmp_path, "a") != _rows(tmp_path, "c")


def test_interrupted_then_resumed_equals_uninterrupted(tmp_path):
    _run(tmp_path, "full")
    _run(tmp_path, "cut", stop_after=1)
    assert len(_rows(tmp_path, "cut")) == 1
    resume(str(tmp_path / "cut"), quiet=True, plots=False)
    assert _rows(tmp_path, "cut") == _rows(tmp_path, "full")
    _same_state(_final(tmp_path, "cut"), _final(tmp_path, "full"))
    # only the newest two epochs are kept, plus the best
    names = sorted(n for n in os.listdir(tmp_path / "full" / "checkpoints")
                   if n.endswith(".safetensors"))
    assert names == ["best.safetensors", "epoch-0002.safetensors", "epoch-0003.safetensors"]


def test_resume_falls_back_to_last_good_checkpoint(tmp_path, capsys):
    _run(tmp_path, "full")
    _run(tmp_path, "broken")
    newest = tmp_path / "broken" / "checkpoints" / "epoch-0003.safetensors"
    newest.write_bytes(newest.read_bytes()[:1000])  # a torn write from some other tool
    summary = resume(str(tmp_path / "broken"), quiet=True, plots=False)
    assert "skipping unreadable checkpoint" in capsys.readouterr().err
    assert summary["epochs"] == 3
    _same_state(_final(tmp_path, "broken"), _final(tmp_path, "full"))
    assert _rows(tmp_path, "broken") == _rows(tmp_path, "full")


def test_show_graph_leaves_the_run_unchanged(tmp_path):
    _run(tmp_path, "plain", model="lenet-bn", epochs=1, limit=64)
    cfg = resolve({}, dict(SMALL, model="lenet-bn", epochs=1, limit=64))
    fit(cfg, out=str(tmp_path / "graph"), quiet=True, plots=False, show_graph=True)
    dot = (tmp_path / "graph" / "graph.dot").read_text()
    assert "net.0.weight" in dot and "Backward0" in dot
    _same_state(_final(tmp_path, "plain", 1), _final(tmp_path, "graph", 1))


def test_run_folder_rules(tmp_path):
    _run(tmp_path, "r", epochs=1, limit=40)
    with pytest.raises(UsageError, match="already holds a run"):
        _run(tmp_path, "r", epochs=1, limit=40)
    assert RunFolder.default_path("mlp", "csv:/x/y.csv:t", root=str(tmp_path)).endswith("mlp-csv")
    os.makedirs(tmp_path / "mlp-digits")
    assert RunFolder.default_path("mlp", "digits", root=str(tmp_path)).endswith("mlp-digits-2")


def test_breast_cancer_logistic_and_diabetes_regression(tmp_path):
    s = fit(resolve({}, {"model": "logistic", "data": "breast-cancer"}), out=str(tmp_path / "bc"),
            quiet=True, plots=False)
    assert s["test_acc"] >= 0.95
    r = fit(resolve({}, {"model": "linear", "data": "diabetes", "epochs": 30}),
            out=str(tmp_path / "db"), quiet=True, plots=False)
    assert r["test_acc"] is None and 0.2 < r["test_r2"] < 0.6 and 40 < r["test_rmse"] < 80


@pytest.mark.slow
def test_lenet_learns_on_fashion_mnist_subset(tmp_path):
    try:
        load_data("fashion-mnist", "lenet", limit=1)
    except UsageError as err:
        pytest.skip(f"Fashion-MNIST not installed ({err})")
    cfg = resolve({}, {"model": "lenet", "data": "fashion-mnist", "limit": 2000,
                       "epochs": 4, "batch_size": 32})  # 4 x 63 = 252 steps
    summary = fit(cfg, out=str(tmp_path / "fm"), quiet=True, plots=False)
    losses = [float(r["train_loss"]) for r in RunFolder(tmp_path / "fm").read_metrics()]
    assert losses[-1] < losses[0] - 0.3, losses
    assert summary["test_acc"] > 0.3


def test_init_from_warm_starts_weights_only(tmp_path):
    _run(tmp_path, "src")
    source = tmp_path / "src" / "checkpoints" / "epoch-0003.safetensors"
    cfg = resolve({}, dict(SMALL, init_from=str(source)))
    session = Session(cfg)
    _load_initial_weights(session, cfg.init_from)
    expected = zg.load(source)["model_state"]
    for name, value in session.model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), expected[name].numpy(), err_msg=name)
    assert session.optimizer.state_dict()["state"] == {} and session.epoch == 0

    _run(tmp_path, "warm", init_from=str(source))
    _run(tmp_path, "warm-cut", stop_after=1, init_from=str(source))
    source.unlink()  # a resume rebuilds from its own checkpoint, not from the source run
    resume(str(tmp_path / "warm-cut"), quiet=True, plots=False)
    assert _rows(tmp_path, "warm-cut") == _rows(tmp_path, "warm")
    _same_state(_final(tmp_path, "warm-cut"), _final(tmp_path, "warm"))
    src_rows, warm_rows = _rows(tmp_path, "src"), _rows(tmp_path, "warm")
    assert float(warm_rows[0]["train_loss"]) < float(src_rows[0]["train_loss"]) - 0.2
    assert RunFolder(tmp_path / "warm").read_json("config.json")["init_from"] == str(source)


def test_init_from_rejects_other_models_and_files(tmp_path):
    _run(tmp_path, "src", epochs=1, limit=40)
    with pytest.raises(UsageError, match="holds a 'mlp' model, but this run trains 'softmax'"):
        _run(tmp_path, "other", model="softmax", init_from=str(tmp_path / "src"))
    zg.save({"w": zg.ones(2)}, tmp_path / "plain.safetensors")
    with pytest.raises(UsageError, match="not a zerograd training checkpoint"):
        _run(tmp_path, "plain", init_from=str(tmp_path / "plain.safetensors"))
    assert not (tmp_path / "other").exists() and not (tmp_path / "plain").exists()
