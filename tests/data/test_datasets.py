"""zerograd.datasets: real Fashion-MNIST files, generated MNIST files, scikit-learn tables,
synthetic regression data, file search, errors and the (offline-tested) download code."""
import gzip
import hashlib
import os
import sys
import urllib.error

import numpy as np
import pytest

import zerograd as zg
import zerograd.utils.data as zdata
from zerograd.datasets import (MNIST, FashionMNIST, IDXError, load_breast_cancer, load_diabetes,
                               load_digits, load_iris, synthetic_linear)
from zerograd.datasets import download as dl
from zerograd.datasets import transforms as T
from tests.data.test_idx import idx_bytes

SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"
needs_fashion = pytest.mark.skipif(
    not os.path.isfile(os.path.join(SYSTEM_DIR, "train-images-idx3-ubyte.gz")),
    reason=f"Fashion-MNIST files not in {SYSTEM_DIR} (apt-get install dataset-fashion-mnist)")


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No $ZEROGRAD_DATA, an empty user cache, and no system folders."""
    monkeypatch.delenv("ZEROGRAD_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(FashionMNIST, "system_dirs", ())
    return tmp_path


def write_mnist(folder, n_train=6, n_test=4, compress=True, labels=None):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    made = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        targets = np.arange(n, dtype=np.uint8) % 10 if labels is None else labels
        for kind, array in (("images-idx3", images), ("labels-idx1", targets)):
            name = f"{prefix}-{kind}-ubyte" + (".gz" if compress else "")
            content = idx_bytes(array)
            (folder / name).write_bytes(gzip.compress(content) if compress else content)
        made[prefix] = (images, targets)
    return made


# -- the real Fashion-MNIST ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def fashion_train():
    return FashionMNIST(train=True)


@pytest.fixture(scope="module")
def fashion_test():
    return FashionMNIST(train=False)  # the system copy


@needs_fashion
def test_fashion_mnist_train(fashion_train):
    ds = fashion_train
    assert len(ds) == 60000
    assert ds.data.dtype == zg.uint8 and tuple(ds.data.shape) == (60000, 28, 28)
    assert ds.targets.dtype == zg.int64 and tuple(ds.targets.shape) == (60000,)
    assert ds.targets[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert np.bincount(ds.targets.numpy(), minlength=10).tolist() == [6000] * 10
    assert ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot"
    assert ds.class_to_idx["Sneaker"] == 7
    image, label = ds[0]
    assert isinstance(image, zg.Tensor) and image.dtype == zg.uint8
    assert tuple(image.shape) == (28, 28) and label == 9 and isinstance(label, int)
    assert 0 < image.numpy().mean() < 255
    assert "Number of datapoints: 60000" in repr(ds)


@needs_fashion
def test_fashion_mnist_test_split(fashion_test):
    ds = fashion_test
    assert len(ds) == 10000 and tuple(ds.data.shape) == (10000, 28, 28)
    assert ds.targets[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    assert int(ds.targets.numpy().min()) == 0 and int(ds.targets.numpy().max()) == 9


@needs_fashion
def test_fashion_batches_from_the_loader(fashion_test):
    ds = fashion_test
    ds.transform = T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.5,))])
    try:
        first = next(iter(zdata.DataLoader(ds, batch_size=1000)))
        samples = zdata.default_collate([ds[i] for i in range(1000)])
    finally:
        ds.transform = None
    assert first[0].dtype == zg.float32 and tuple(first[0].shape) == (1000, 1, 28, 28)
    assert first[1].dtype == zg.int64 and tuple(first[1].shape) == (1000,)
    np.testing.assert_array_equal(first[0].numpy(), samples[0].numpy())
    np.testing.assert_array_equal(first[1].numpy(), samples[1].numpy())
    assert first[0].numpy().min() == -1.0 and first[0].numpy().max() == 1.0


@needs_fashion
def test_fashion_without_batch_transform_goes_sample_by_sample(fashion_test):
    ds = fashion_test
    ds.transform = T.Lambda(lambda img: img.float())
    try:
        assert getattr(ds, "__getbatch__", None) is None
        batch = next(iter(zdata.DataLoader(ds, batch_size=5)))
    finally:
        ds.transform = None
    assert batch[0].dtype == zg.float32 and tuple(batch[0].shape) == (5, 28, 28)


# -- generated MNIST files ----------------------------------------------------------------------
@pytest.mark.parametrize("compress", [True, False])
def test_mnist_from_root_torchvision_layout(isolated, compress):
    made = write_mnist(isolated / "data" / "MNIST" / "raw", compress=compress)
    train = MNIST(root=isolated / "data")
    test = MNIST(root=str(isolated / "data"), train=False,
                 transform=T.ToTensor(), target_transform=lambda y: y + 100)
    np.testing.assert_array_equal(train.data.numpy(), made["train"][0])
    np.testing.assert_array_equal(train.targets.numpy(), made["train"][1])
    assert len(test) == 4 and train.classes[3] == "3 - three"
    image, label = test[1]
    assert image.dtype == zg.float32 and tuple(image.shape) == (1, 28, 28) and label == 101
    np.testing.assert_allclose(image.numpy()[0], made["t10k"][0][1] / np.float32(255))


def test_search_order_env_and_cache(isolated, monkeypatch):
    env = isolated / "env"
    made_env = write_mnist(env / "mnist", n_train=3)
    made_cache = write_mnist(isolated / "cache" / "zerograd" / "mnist", n_train=2)
    assert len(MNIST()) == 2  # only the user cache
    monkeypatch.setenv("ZEROGRAD_DATA", str(env))
    ds = MNIST()
    assert len(ds) == 3 and ds.folder == env / "mnist"
    np.testing.assert_array_equal(ds.data.numpy(), made_env["train"][0])
    write_mnist(isolated / "root", n_train=5)  # files directly in root win over everything
    assert len(MNIST(root=isolated / "root")) == 5
    assert made_cache  # (kept to show which folder holds which size)


def test_missing_files_error_says_how_to_get_them(isolated):
    (isolated / "empty").mkdir()
    with pytest.raises(FileNotFoundError) as err:
        FashionMNIST(root=isolated / "empty")
    message = str(err.value)
    assert "FashionMNIST training files (train-images-idx3-ubyte[.gz]" in message
    assert str(isolated / "empty" / "FashionMNIST" / "raw") in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "download=True" in message and str(isolated / "cache") in message
    with pytest.raises(FileNotFoundError, match="MNIST test files"):
        MNIST(root=isolated / "empty", train=False)


def test_a_root_that_does_not_exist_is_an_error(isolated):
    """torchvision refuses it; searching on would quietly use another copy (issue 12.10)."""
    write_mnist(isolated / "cache" / "zerograd" / "mnist")  # the search's fallback copy
    with pytest.raises(FileNotFoundError, match="root folder .*missing does not exist"):
        MNIST(root=isolated / "missing")
    assert len(MNIST()) == 6


def test_image_label_count_mismatch(isolated):
    write_mnist(isolated / "bad", n_train=5, labels=np.zeros(4, np.uint8))
    with pytest.raises(IDXError, match=r"train-images-idx3-ubyte.gz holds 5 images but .*"
                                       r"train-labels-idx1-ubyte.gz holds 4 labels"):
        MNIST(root=isolated / "bad")


def test_corrupted_file_found_is_reported(isolated):
    folder = isolated / "corrupt"
    write_mnist(folder)
    labels_instead = idx_bytes(np.zeros(3, np.uint8))
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(labels_instead))
    with pytest.raises(IDXError, match="train-images-idx3-ubyte.gz: wrong magic number 2049 "
                                       "for images"):
        MNIST(root=folder)


def test_mnist_batch_protocol_matches_samples(isolated):
    write_mnist(isolated / "m", n_train=8)
    ds = MNIST(root=isolated / "m", transform=T.Compose([T.ToTensor(), T.Normalize(0.1, 0.3)]))
    batch = ds.__getbatch__([7, 0, 3])
    samples = zdata.default_collate([ds[i] for i in (7, 0, 3)])
    np.testing.assert_array_equal(batch[0].numpy(), samples[0].numpy())
    np.testing.assert_array_equal(batch[1].numpy(), samples[1].numpy())
    raw = MNIST(root=isolated / "m").__getbatch__([1, 2])
    assert raw[0].dtype == zg.uint8 and tuple(raw[0].shape) == (2, 28, 28)


# -- download code, tested without the internet ------------------------------------------------
def test_md5_checks_a_local_file(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"zerograd")
    digest = hashlib.md5(b"zerograd").hexdigest()
    assert dl.md5sum(path) == digest
    assert dl.check_md5(path, digest) and dl.check_md5(path, digest.upper())
    assert not dl.check_md5(path, "0" * 32) and not dl.check_md5(tmp_path / "missing", digest)


def test_download_url_verifies_checksum(tmp_path):
    source = tmp_path / "source.gz"
    source.write_bytes(b"payload")
    good = hashlib.md5(b"payload").hexdigest()
    dest = dl.download_url(source.as_uri(), tmp_path / "out" / "a.gz", good)
    assert dest.read_bytes() == b"payload"
    with pytest.raises(RuntimeError, match="checksum mismatch"):
        dl.download_url(source.as_uri(), tmp_path / "out" / "b.gz", "0" * 32)
    assert not (tmp_path / "out" / "b.gz").exists()
    assert not (tmp_path / "out" / "b.gz.part").exists()


def test_download_failure_is_clear(isolated, monkeypatch):
    def offline(url, timeout=None):
        raise urllib.error.URLError("Name or service not known")
    monkeypatch.setattr(dl.urllib.request, "urlopen", offline)
    with pytest.raises(RuntimeError) as err:
        FashionMNIST(root=isolated / "r", download=True)
    message = str(err.value)
    assert "could not download https://fashion-mnist.s3-website.eu-central-1.amazonaws.com/" \
           "train-images-idx3-ubyte.gz: Name or service not known" in message
    assert str(isolated / "r" / "FashionMNIST" / "raw") in message
    assert "apt-get install dataset-fashion-mnist" in message


# -- scikit-learn tables -------------------------------------------------------------------------
@pytest.mark.parametrize("loader,n,features,classes", [
    (load_digits, 1797, 64, 10), (load_breast_cancer, 569, 30, 2), (load_iris, 150, 4, 3)])
def test_classification_tables(loader, n, features, classes):
    split = loader()
    train, test = split
    assert len(train) + len(test) == n and len(test) == int(np.ceil(0.2 * n))
    x, y = train.tensors
    assert x.dtype == zg.float32 and y.dtype == zg.int64 and tuple(x.shape[1:]) == (features,)
    assert split.num_classes == classes and split.num_features == features
    # stratified: class proportions agree between the splits
    p_train = np.bincount(y.numpy(), minlength=classes) / len(train)
    p_test = np.bincount(test.tensors[1].numpy(), minlength=classes) / len(test)
    np.testing.assert_allclose(p_train, p_test, atol=0.02)
    # standardized with the training statistics
    xs = x.numpy().astype(np.float64)
    spread = xs.std(axis=0)
    np.testing.assert_allclose(xs.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(spread[spread > 0], 1, atol=1e-4)
    assert split.mean.shape == (features,) and split.std.dtype == zg.float32
    again = loader()
    np.testing.assert_array_equal(again.test.tensors[0].numpy(), test.tensors[0].numpy())


def test_diabetes_regression_and_raw_features():
    split = load_diabetes(standardize=False, test_size=0.25)
    x, y = split.train.tensors
    assert y.dtype == zg.float32 and tuple(y.shape) == (len(split.train), 1)
    assert split.class_names is None and split.mean is None
    assert len(split.test) == 111 and split.feature_names[:2] == ["age", "sex"]
    assert 25 <= y.numpy().min() and y.numpy().max() <= 346


def test_missing_sklearn_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="needs scikit-learn.*pip install"):
        load_iris()


# -- synthetic data -----------------------------------------------------------------------------
def test_synthetic_linear_is_d2l_synthetic_data():
    w, b = zg.tensor([2, -3.4]), 4.2
    zg.manual_seed(42)
    x, y = synthetic_linear(w, b, 1000)
    assert tuple(x.shape) == (1000, 2) and tuple(y.shape) == (1000, 1)
    assert x.dtype == y.dtype == zg.float32
    zg.manual_seed(42)  # d2l's recipe, step by step
    x2 = zg.normal(0, 1, (1000, 2))
    y2 = zg.matmul(x2, w) + b
    y2 = y2 + zg.normal(0, 0.01, y2.shape)
    np.testing.assert_array_equal(x.numpy(), x2.numpy())
    np.testing.assert_array_equal(y.numpy(), y2.reshape((-1, 1)).numpy())
    residual = y.numpy()[:, 0] - x.numpy() @ np.array([2, -3.4], np.float32) - 4.2
    assert 0.008 < residual.std() < 0.012
    with pytest.raises(ValueError, match="1-d weight vector"):
        synthetic_linear(zg.ones(2, 2), 0.0, 5)
