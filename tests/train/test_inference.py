"""eval and predict on a trained checkpoint: the data it may be scored on, the inputs it may
be given (issue 12, items 8 and 9)."""
import numpy as np
import pytest

from zerograd.train import resolve
from zerograd.train.config import UsageError
from zerograd.train.data import load_data
from zerograd.train.inference import evaluate_checkpoint, load_trained, predict
from zerograd.train.trainer import fit


def _train(folder, **options):
    cfg = resolve({}, dict({"epochs": 1, "limit": 60}, **options))
    fit(cfg, out=str(folder), quiet=True, plots=False)
    return load_trained(folder)


@pytest.fixture(scope="module")
def digits_mlp(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("inference") / "mlp", data="digits", epochs=3,
                  limit=300)


def _table(path, rows, scale=1.0):
    rng = np.random.default_rng(rows + int(scale))
    lines = ["a,b,c,d,y"] + [",".join(f"{v:.3f}" for v in rng.normal(size=4) * scale)
                             + f",{i % 3}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_eval_on_another_dataset_needs_force(tmp_path):
    """Iris and this table both have 4 features and 3 classes: the shapes fit, the meaning
    does not (as Fashion-MNIST vs digits for a CNN)."""
    trained = _train(tmp_path / "iris", data="iris", model="softmax")
    table = _table(tmp_path / "t.csv", 30)
    with pytest.raises(UsageError, match="the checkpoint was trained on 'iris', not 'csv:.*"
                                         "pass --force"):
        evaluate_checkpoint(trained, f"csv:{table}:y")
    report = evaluate_checkpoint(trained, f"csv:{table}:y", force=True)
    assert report["class_names"] == ["0", "1", "2"]  # the evaluated data's own classes
    assert evaluate_checkpoint(trained)["class_names"] == trained.info.class_names


def test_eval_of_fashion_checkpoint_on_digits_is_refused(tmp_path):
    try:
        load_data("fashion-mnist", "lenet", limit=1)
    except UsageError as err:
        pytest.skip(f"Fashion-MNIST not installed ({err})")
    trained = _train(tmp_path / "fm", data="fashion-mnist", model="lenet", limit=40)
    with pytest.raises(UsageError, match="trained on 'fashion-mnist', not 'digits'"):
        evaluate_checkpoint(trained, "digits", limit=20)
    report = evaluate_checkpoint(trained, "digits", limit=20, force=True)
    assert report["class_names"][0] == "0" and report["samples"] == 20


def test_eval_on_another_csv_uses_the_checkpoints_preprocessing(tmp_path):
    trained = _train(tmp_path / "csv", data=f"csv:{_table(tmp_path / 'a.csv', 60)}:y",
                     model="softmax")
    other = _table(tmp_path / "b.csv", 12, scale=5.0)
    report = evaluate_checkpoint(trained, f"csv:{other}:y")
    assert report["samples"] == 12  # every row of the other file, not a split of it
    with pytest.raises(UsageError, match="the checkpoint predicts 'y', not 'a'"):
        evaluate_checkpoint(trained, f"csv:{other}:a")


def test_predict_refuses_other_sizes_and_says_when_it_resizes(digits_mlp, tmp_path):
    from matplotlib import image
    np.save(tmp_path / "small.npy", np.zeros((5, 5), np.float32))
    with pytest.raises(UsageError, match=r"small.npy: images of 5x5 pixels do not fit this "
                                         r"model: it was trained on 8x8 images"):
        predict(digits_mlp, [str(tmp_path / "small.npy")])
    image.imsave(tmp_path / "big.png", np.eye(16), cmap="gray")
    image.imsave(tmp_path / "fit.png", np.eye(8), cmap="gray")
    results = predict(digits_mlp, [str(tmp_path / "big.png"), str(tmp_path / "fit.png")])
    assert results[0]["note"] == "resized from 16x16 to 8x8" and "note" not in results[1]


@pytest.mark.parametrize("top", [0, -1])
def test_predict_top_must_be_positive(digits_mlp, tmp_path, top):
    np.save(tmp_path / "one.npy", np.zeros((8, 8), np.float32))
    with pytest.raises(UsageError, match=f"--top must be at least 1, got {top}"):
        predict(digits_mlp, [str(tmp_path / "one.npy")], top=top)
    assert len(predict(digits_mlp, [str(tmp_path / "one.npy")], top=99)[0]["top"]) == 10
