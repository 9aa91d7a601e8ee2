"""Dataset names -> tensors: splits, preprocessing, CSV handling, resizing, errors."""
import numpy as np
import pytest
import torch

from zerograd.train.config import UsageError
from zerograd.train.data import DataInfo, load_data, preprocess, resize_images
from zerograd.train.datainfo import stratified_split


def _arrays(ds):
    return tuple(t.numpy() for t in ds.tensors)


@pytest.mark.parametrize("size", [28, 5])
def test_resize_matches_torch_bilinear(rng, size):
    images = rng.random((3, 1, 8, 8)).astype(np.float32)
    ours = resize_images(images, size)
    ref = torch.nn.functional.interpolate(torch.tensor(images), size=(size, size),
                                          mode="bilinear", align_corners=False)
    np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-5, atol=1e-6)


def test_stratified_split_is_disjoint_and_balanced():
    y = np.repeat(np.arange(3), [50, 30, 20])
    train, test = stratified_split(y, True)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(100))
    assert np.bincount(y[test]).tolist() == [10, 6, 4]
    assert not np.array_equal(np.sort(test), test)  # shuffled, not in file order
    train2, test2 = stratified_split(y, True)
    assert np.array_equal(test, test2)  # fixed seed: the same split every run


@pytest.mark.parametrize("name, shape, classes", [
    ("iris", (4,), 3), ("breast-cancer", (30,), 2), ("diabetes", (10,), None)])
def test_sklearn_tables(name, shape, classes):
    data = load_data(name, "mlp")
    info = data.info
    assert info.in_shape == shape and info.num_classes == classes
    x, y = _arrays(data.train)
    assert x.dtype == np.float32 and x.shape[1:] == shape
    np.testing.assert_allclose(x.mean(0), 0, atol=1e-5)  # standardized on the train split
    if classes:
        assert y.dtype == np.int64 and len(info.class_names) == classes
    else:  # the regression target is standardized too, and its scale remembered
        assert y.dtype == np.float32 and abs(y.mean()) < 1e-5 and info.target_std > 10
    again = load_data(name, "mlp", info=DataInfo.from_state(info.to_state()))
    np.testing.assert_array_equal(_arrays(again.test)[0], _arrays(data.test)[0])
    small = load_data(name, "mlp", limit=7)
    assert len(small.train) == 7 and len(small.test) == 7


def test_digits_are_images_resized_for_cnns():
    flat = load_data("digits", "mlp")
    assert flat.info.in_shape == (1, 8, 8) and len(flat.train) + len(flat.test) == 1797
    x = _arrays(flat.train)[0]
    assert 0 <= x.min() and x.max() <= 1
    cnn = load_data("digits", "lenet", limit=10)
    assert cnn.info.in_shape == (1, 28, 28) and cnn.info.raw_shape == (1, 8, 8)
    np.testing.assert_allclose(_arrays(cnn.train)[0], resize_images(x[:10], 28), atol=1e-6)


def test_preprocess_new_inputs():
    info = load_data("digits", "lenet", limit=5).info
    grey = (np.arange(64).reshape(8, 8) * 4).astype(np.uint8)
    x = preprocess(info, grey)
    assert tuple(x.shape) == (1, 1, 28, 28) and float(x.max()) <= 1.0
    assert tuple(preprocess(info, np.zeros((3, 28, 28))).shape) == (3, 1, 28, 28)
    iris = load_data("iris", "mlp").info
    assert tuple(preprocess(iris, [5.1, 3.5, 1.4, 0.2]).shape) == (1, 4)
    with pytest.raises(UsageError, match="expected 4 features"):
        preprocess(iris, np.zeros((2, 3)))


def _write(path, text):
    path.write_text(text)
    return str(path)


def test_csv_classification_with_categories_and_gaps(tmp_path):
    rows = ["size,color,label"] + [f"{i % 7},{['red', 'blue'][i % 2]},{['cat', 'dog'][i % 2]}"
                                  for i in range(40)] + [",red,cat"]
    path = _write(tmp_path / "pets.csv", "\n".join(rows) + "\n")
    data = load_data(f"csv:{path}:label", "mlp")
    info = data.info
    assert info.task == "classification" and info.class_names == ["cat", "dog"]
    # size (standardized, the gap filled) + one-hot color with a "missing" column
    assert info.in_shape == (4,) and info.kind == "csv"
    assert len(data.train) + len(data.test) == 41
    same = load_data(f"csv:{path}:label", "mlp", info=DataInfo.from_state(info.to_state()))
    np.testing.assert_array_equal(_arrays(same.train)[0], _arrays(data.train)[0])


def test_csv_target_kinds(tmp_path):
    # text labels are classes; a few whole numbers too; fractional numbers a quantity
    text = _write(tmp_path / "t.csv", "a,y\n0.5,x\n1.5,y\n2.5,x\n3.5,y\n")
    assert load_data(f"csv:{text}:y", "mlp").info.class_names == ["x", "y"]
    assert load_data(f"csv:{text}:a", "mlp").info.task == "regression"
    ints = _write(tmp_path / "i.csv", "a,y\n0.5,10\n1.5,2\n2.5,10\n3.5,2\n")
    assert load_data(f"csv:{ints}:y", "mlp").info.class_names == ["2", "10"]


def test_csv_regression(tmp_path):
    rows = ["x,y"] + [f"{i},{2.5 * i + 0.1}" for i in range(30)]
    path = _write(tmp_path / "line.csv", "\n".join(rows) + "\n")
    data = load_data(f"csv:{path}:y", "linear")
    assert data.info.task == "regression" and data.info.num_classes is None
    assert _arrays(data.train)[1].dtype == np.float32


@pytest.mark.parametrize("spec, message", [
    ("csv:{d}/none.csv:y", "data file not found"),
    ("csv:{d}/ok.csv:nope", "has no column 'nope'; its columns are: a, y"),
    ("csv:{d}/ok.csv", "write csv:PATH:TARGET"),
    ("csv:{d}/gap.csv:y", "target column 'y' has missing values"),
    ("mnist-digits", "unknown dataset"),
])
def test_data_errors(tmp_path, spec, message):
    _write(tmp_path / "ok.csv", "a,y\n1,0\n2,1\n3,0\n4,1\n")
    _write(tmp_path / "gap.csv", "a,y\n1,0\n2,\n3,0\n4,1\n")
    spec = spec.format(d=tmp_path)
    with pytest.raises(UsageError, match=message):
        load_data(spec, "mlp")


def test_csv_stray_values_are_refused_with_column_and_row(tmp_path):
    """Issue 12.7, through csv:PATH:TARGET: features and the target alike."""
    rows = ["x1,y"] + [f"{i},{i % 2}" for i in range(20)]
    feature = rows[:8] + ["abc,1"] + rows[9:]
    path = _write(tmp_path / "f.csv", "\n".join(feature) + "\n")
    with pytest.raises(UsageError, match=r"f.csv: column 'x1' holds numbers, but its value in "
                                         r"data row 8 is 'abc'"):
        load_data(f"csv:{path}:y", "mlp")
    target = rows[:5] + ["4,oops"] + rows[6:]
    path = _write(tmp_path / "t.csv", "\n".join(target) + "\n")
    with pytest.raises(UsageError, match=r"t.csv: column 'y' holds numbers, but its value in "
                                         r"data row 5 is 'oops'"):
        load_data(f"csv:{path}:y", "mlp")


def test_predict_inputs_must_have_the_trained_size():
    """Issue 12.9: a 5x5 array was resized for an 8x8 model without a word."""
    info = load_data("digits", "mlp", limit=5).info
    with pytest.raises(UsageError, match=r"images of 5x5 pixels do not fit this model: it was "
                                         r"trained on 8x8 images \(digits\)"):
        preprocess(info, np.zeros((5, 5)))
    assert tuple(preprocess(info, np.zeros((5, 5)), resize=True).shape) == (1, 1, 8, 8)
    with pytest.raises(UsageError, match="NaN or infinite"):
        preprocess(info, np.full((8, 8), np.nan))
    with pytest.raises(UsageError, match="expected numbers"):
        preprocess(info, np.array(["a", "b"]))
    iris = load_data("iris", "mlp").info
    with pytest.raises(UsageError, match=r"expected rows of 4 features"):
        preprocess(iris, np.zeros((2, 2, 2)))


def test_a_given_data_dir_is_used_or_refused(tmp_path):
    """Issue 12.10: a --data-dir that does not exist fell back to the system copy."""
    with pytest.raises(UsageError, match="--data-dir .*nowhere does not exist"):
        load_data("fashion-mnist", "mlp", data_dir=str(tmp_path / "nowhere"))
    with pytest.raises(UsageError, match="holds no fashion-mnist IDX files|cannot load"):
        load_data("fashion-mnist", "mlp", data_dir=str(tmp_path))
    from zerograd.train import resolve
    with pytest.raises(UsageError, match="--data-dir applies to fashion-mnist and mnist, not "
                                         "'digits'"):
        resolve({}, {"data": "digits", "data_dir": str(tmp_path)})


def test_fashion_mnist_subset():
    try:
        data = load_data("fashion-mnist", "lenet", limit=50)
    except UsageError as err:
        pytest.skip(f"Fashion-MNIST files not installed ({err})")
    x, y = _arrays(data.train)
    assert x.shape == (50, 1, 28, 28) and x.dtype == np.float32 and 0 <= x.min() <= x.max() <= 1
    assert data.info.class_names[0] == "T-shirt/top" and len(data.test) == 50
    assert len(np.unique(y)) > 5  # a random subset, not the first 50 of one class
