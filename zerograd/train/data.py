"""Dataset names -> train/test tensors and loaders, with the preprocessing a model needs.

Names: ``digits``, ``breast-cancer``, ``iris``, ``diabetes`` (scikit-learn's
bundled sets, offline), ``fashion-mnist``, ``mnist`` (IDX files), ``csv:PATH:TARGET``.

* Images are floats in [0, 1], shape (1, H, W). Digits (8x8) are upsampled to 28x28
  when the model is a CNN, since the zoo's CNNs are sized for 28x28.
* Tabular features are standardized with the training split's mean and std; a
  regression target too (its mean/std are kept to report predictions in real units).
  CSV tables go through ``zerograd.datasets.TabularPreprocessor`` (missing values,
  one-hot categories), fitted on the training split.
* Sets without a test split get a stratified 80/20 split with a fixed seed, so every run
  (whatever ``--seed``) is scored on the same test samples.

``DataInfo`` records all of it; it goes into checkpoints so ``eval``/``predict`` apply
exactly the training run's preprocessing to new inputs.
"""
import os

import numpy as np

from zerograd.models import takes_images
from zerograd.random import Generator
from zerograd.tensor import Tensor
from zerograd.train.config import UsageError
from zerograd.train.csv_table import load_csv_spec
from zerograd.train.datainfo import SPLIT_SEED, TEST_FRACTION, Data, DataInfo, wrap
from zerograd.utils.data import DataLoader

__all__ = ["DataInfo", "Data", "load_data", "make_loaders", "preprocess", "resize_images",
           "image_sizes"]

CNN_SIZE = 28
_SKLEARN = {"digits": "load_digits", "breast-cancer": "load_breast_cancer", "iris": "load_iris",
            "diabetes": "load_diabetes"}
_IDX = {"fashion-mnist": "FashionMNIST", "mnist": "MNIST"}


# -- helpers -------------------------------------------------------------------------------------
def _array(x):
    return x._data if isinstance(x, Tensor) else np.asarray(x)


def resize_images(images, size):
    """Bilinear resize of a batch (N, C, H, W) to (N, C, size, size), vectorized."""
    n, c, h, w = images.shape
    if (h, w) == (size, size):
        return images

    def axis(src, dst):
        # Sample points in source pixel coordinates, aligned at pixel centres.
        pos = np.clip((np.arange(dst) + 0.5) * src / dst - 0.5, 0, src - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, src - 1)
        return lo, hi, (pos - lo).astype(images.dtype)

    y0, y1, wy = axis(h, size)
    x0, x1, wx = axis(w, size)
    rows = images[:, :, y0, :] * (1 - wy)[:, None] + images[:, :, y1, :] * wy[:, None]
    return rows[:, :, :, x0] * (1 - wx) + rows[:, :, :, x1] * wx


# -- sources -----------------------------------------------------------------------------------
def _inside(folder, root):
    folder, root = os.path.realpath(folder), os.path.realpath(root)
    return os.path.commonpath([folder, root]) == root


def _datasets_attr(name):
    from zerograd import datasets
    found = getattr(datasets, name, None)
    if found is None:
        raise UsageError(f"this zerograd installation lacks zerograd.datasets.{name}")
    return found


def _sklearn_split(name, standardize):
    """zerograd.datasets' loader for ``name``: a fixed-seed stratified 80/20 split."""
    loader = _datasets_attr(_SKLEARN[name])
    try:
        return loader(test_size=TEST_FRACTION, standardize=standardize, seed=SPLIT_SEED)
    except ImportError as err:
        raise UsageError(f"dataset '{name}' needs scikit-learn ({str(err).splitlines()[0]})"
                         ) from None


def _tensors(ds, limit):
    x, y = (t._data for t in ds.tensors)
    if limit is not None:
        x, y = x[:limit], y[:limit]  # the loaders' splits are shuffled: a prefix is random
    return x, y.reshape(-1)


def _sklearn_tabular(name, limit, info):
    classify = name != "diabetes"
    split = _sklearn_split(name, standardize=False)
    (xtr, ytr), (xte, yte) = _tensors(split.train, limit), _tensors(split.test, limit)
    if info is None:
        k = len(split.class_names) if classify else None
        # The loader's own standardization, but kept as float32 statistics applied here,
        # so training, eval and predict (on raw inputs) do exactly the same arithmetic.
        full = _tensors(split.train, None)[0].astype(np.float64)
        std = full.std(axis=0)
        info = DataInfo(
            name=name, task="classification" if classify else "regression", kind="tabular",
            in_shape=(xtr.shape[1],), num_classes=k, class_names=split.class_names,
            feature_names=list(split.feature_names),
            mean=full.mean(axis=0).astype(np.float32),
            std=np.where(std > 0, std, 1.0).astype(np.float32))
        if not classify:  # standardized targets keep the MSE and the step sizes sane
            target = _tensors(split.train, None)[1].astype(np.float64)
            info.target_mean = float(target.mean())
            info.target_std = float(target.std() or 1.0)
    xtr, xte = ((x - info.mean) / info.std for x in (xtr, xte))
    return Data(wrap(xtr, ytr, info), wrap(xte, yte, info), info)


def _digits(model_name, limit, info):
    split = _sklearn_split("digits", standardize=False)
    (xtr, ytr), (xte, yte) = _tensors(split.train, limit), _tensors(split.test, limit)
    if info is not None:
        size = info.in_shape[-1]
    else:
        size = CNN_SIZE if takes_images(model_name) else 8

    def images(x):  # pixel counts 0..16 -> intensities in [0, 1], as 8x8 images
        x = (x / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
        return resize_images(x, size) if size != 8 else x
    xtr, xte = images(xtr), images(xte)
    if info is None:
        info = DataInfo(name="digits", task="classification", kind="image",
                        in_shape=tuple(xtr.shape[1:]), num_classes=len(split.class_names),
                        class_names=split.class_names, raw_shape=(1, 8, 8))
    return Data(wrap(xtr, ytr, info), wrap(xte, yte, info), info)


def _idx(name, limit, data_dir):
    cls = _datasets_attr(_IDX[name])
    if data_dir is not None and not os.path.isdir(data_dir):
        raise UsageError(f"--data-dir {data_dir} does not exist (or is not a folder); give the "
                         f"folder that holds the {name} IDX files")
    try:
        train, test = cls(data_dir, train=True), cls(data_dir, train=False)
    except (OSError, ValueError) as err:
        first = str(err).splitlines()[0].split(" Looked in")[0].rstrip(" .:")
        raise UsageError(f"cannot load {name}: {first}; pass --data-dir DIR (or set "
                         f"ZEROGRAD_DATA) to where the IDX files are"
                         + (f", or {cls.install_hint}" if cls.install_hint else "")) from None
    if data_dir is not None and not _inside(train.folder, data_dir):
        # The dataset class falls back to other places; the user named this one.
        raise UsageError(f"--data-dir {data_dir} holds no {name} IDX files (another copy is in "
                         f"{train.folder}); give the folder that holds them, or drop "
                         "--data-dir to use that copy")
    pick = Generator().manual_seed(SPLIT_SEED).rng

    def arrays(ds):
        x, y = ds.data._data, ds.targets._data
        if limit is not None and limit < len(y):
            idx = np.sort(pick.permutation(len(y))[:limit])  # a random, class-balanced subset
            x, y = x[idx], y[idx]
        return (x.astype(np.float32) / 255.0)[:, None], y
    (xtr, ytr), (xte, yte) = arrays(train), arrays(test)
    info = DataInfo(name=name, task="classification", kind="image", in_shape=tuple(xtr.shape[1:]),
                    num_classes=len(cls.classes), class_names=list(cls.classes),
                    raw_shape=tuple(xtr.shape[1:]))
    return Data(wrap(xtr, ytr, info), wrap(xte, yte, info), info)


# -- the entry points ------------------------------------------------------------------------------
def load_data(name, model_name="mlp", limit=None, data_dir=None, info=None):
    """Train and test datasets for ``name``; with ``info`` (from a checkpoint) the data is
    preprocessed exactly as in that run, and must fit its model."""
    if info is not None and name != info.name:
        # Another dataset than the checkpoint's: its own preprocessing, if the shapes fit.
        data = load_data(name, model_name, limit, data_dir)
        _check_fits(data.info, info)
        return data
    if name in _SKLEARN and name != "digits":
        data = _sklearn_tabular(name, limit, info)
    elif name == "digits":
        data = _digits(model_name, limit, info)
    elif name in _IDX:
        data = _idx(name, limit, data_dir)
    elif name.startswith("csv:"):
        data = load_csv_spec(name, limit, info)
    else:
        raise UsageError(f"unknown dataset '{name}'; choose one of: digits, breast-cancer, iris, "
                         "diabetes, fashion-mnist, mnist, csv:PATH:TARGET")
    if info is not None:
        _check_fits(data.info, info)
        data.info = info
    return data


def _check_fits(found, expected):
    if (tuple(found.in_shape), found.num_classes) != (tuple(expected.in_shape),
                                                       expected.num_classes):
        what = lambda i: (f"inputs of shape {tuple(i.in_shape)} and "  # noqa: E731
                          + (f"{i.num_classes} classes" if i.num_classes else "a real target"))
        raise UsageError(f"dataset '{found.name}' has {what(found)}, but the checkpoint's model "
                         f"expects {what(expected)}")


def make_loaders(data, batch_size, generator, eval_batch_size=None):
    """(train loader shuffled by ``generator``, test loader in order)."""
    train = DataLoader(data.train, batch_size=batch_size, shuffle=True, generator=generator)
    test = DataLoader(data.test, batch_size=eval_batch_size or max(batch_size, 256))
    return train, test


def preprocess(info, raw, resize=False):
    """Raw inputs (an array of samples in dataset units) -> the model's input tensor.

    Tabular: (N, features) standardized with the training statistics. Images: (N, H, W)
    or (N, C, H, W) intensities in [0, 1] (uint8 images are divided by 255) of the size
    the model was trained on -- the dataset's own size (then resized as in training, e.g.
    digits' 8x8 to 28x28 for a CNN) or the model's input size. Other sizes are refused,
    unless ``resize`` (image files, whose size is incidental): then they are resized to
    the dataset's size first, and the caller says so.
    """
    x = _array(raw)
    if x.dtype.kind not in "biuf":
        raise UsageError(f"expected numbers, got values of type {x.dtype}")
    if x.dtype.kind == "f" and not np.isfinite(x).all():  # the prediction would be NaN
        raise UsageError("the inputs hold NaN or infinite values")
    if info.kind == "csv":
        prep = info.preprocessor
        columns = prep["numeric_columns"] + prep["categorical_columns"]
        raise UsageError("a model trained on a CSV takes CSV rows with the same columns "
                         f"({', '.join(columns)})")
    if info.kind == "tabular":
        n = info.in_shape[0]
        if x.ndim > 2:
            raise UsageError(f"expected rows of {n} features (an array of shape (N, {n})), "
                             f"got an array of shape {tuple(x.shape)}")
        x = x.reshape(len(x), -1).astype(np.float32) if x.ndim != 1 else x[None].astype(np.float32)
        if x.shape[1] != n:
            raise UsageError(f"expected {n} features per sample "
                             f"({', '.join(info.feature_names)}), got {x.shape[1]}")
        return Tensor._make(((x - info.mean) / info.std).astype(np.float32))
    x = _image_batch(info, x)
    data_size, model_size = image_sizes(info)
    if tuple(x.shape[2:]) not in (data_size, model_size):
        if not resize:
            raise UsageError(f"images of {x.shape[2]}x{x.shape[3]} pixels do not fit this model: "
                             f"it was trained on {data_size[0]}x{data_size[1]} images "
                             f"({info.name}); resize them first (PNG files are resized for "
                             "you)")
        x = resize_images(x, data_size[0])
    if tuple(x.shape[2:]) != model_size:
        x = resize_images(x, model_size[0])  # what training did (digits for CNNs)
    return Tensor._make(x.astype(np.float32))


def image_sizes(info):
    """``((H, W) of the dataset's images, (H, W) the model takes)``."""
    model = tuple(info.in_shape[1:])
    return tuple((info.raw_shape or info.in_shape)[1:]), model


def _image_batch(info, x):
    """(N, C, H, W) float32 intensities from one image or a batch, grey or not."""
    if x.dtype == np.uint8:
        x = x / 255.0
    x = x.astype(np.float32)
    c = info.in_shape[0]
    if x.ndim == 2:
        x = x[None, None]
    elif x.ndim == 3:  # one (C, H, W) image, or a batch of (H, W) grey images
        x = x[None] if c != 1 and x.shape[0] == c else x[:, None]
    if x.ndim != 4 or x.shape[1] != c:
        raise UsageError(f"expected images of shape ({c}, H, W), got {tuple(x.shape)}")
    return x
