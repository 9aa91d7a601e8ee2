"""Small real datasets bundled with scikit-learn, as ready train/test ``TensorDataset``s.

scikit-learn is an optional extra (``pip install zerograd[datasets]``); it is imported
only when a loader is called. Each loader splits with a fixed seed (stratified by class
for classification), optionally standardizes the features with the training split's
mean and std, and returns a ``SplitDataset``, which also unpacks as
``train_ds, test_ds = load_iris()``.
"""
from dataclasses import dataclass, field

import numpy as np

from zerograd.tensor import Tensor
from zerograd.utils.data.dataset import TensorDataset

__all__ = ["SplitDataset", "load_digits", "load_breast_cancer", "load_iris", "load_diabetes"]


@dataclass
class SplitDataset:
    """A train/test pair plus what a model needs to know about the data.

    ``mean``/``std`` are the per-feature statistics fitted on the training split (None
    when not standardized); apply them to new data as ``(x - mean) / std``.
    """

    train: TensorDataset
    test: TensorDataset
    feature_names: list
    class_names: list = field(default=None)
    mean: Tensor = field(default=None)
    std: Tensor = field(default=None)

    def __iter__(self):
        return iter((self.train, self.test))

    @property
    def num_features(self):
        return len(self.feature_names)

    @property
    def num_classes(self):
        return None if self.class_names is None else len(self.class_names)


def _sklearn():
    try:
        import sklearn.datasets
        import sklearn.model_selection
    except ImportError:
        raise ImportError("this loader needs scikit-learn, an optional dependency of "
                          "zerograd: pip install 'zerograd[datasets]' (or pip install "
                          "scikit-learn)") from None
    return sklearn


def _split(bunch, classification, test_size, standardize, seed):
    sklearn = _sklearn()
    features = np.asarray(bunch.data, dtype=np.float64)
    target = np.asarray(bunch.target)
    x_train, x_test, y_train, y_test = sklearn.model_selection.train_test_split(
        features, target, test_size=test_size, random_state=seed,
        stratify=target if classification else None)
    mean = std = None
    if standardize:
        mean, std = x_train.mean(axis=0), x_train.std(axis=0)
        std = np.where(std > 0, std, 1.0)  # constant features (blank digit pixels) stay 0
        x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
        mean, std = Tensor._make(mean.astype(np.float32)), Tensor._make(std.astype(np.float32))

    def dataset(x, y):
        y = y.astype(np.int64) if classification else y.astype(np.float32).reshape(-1, 1)
        return TensorDataset(Tensor._make(np.ascontiguousarray(x, dtype=np.float32)),
                             Tensor._make(np.ascontiguousarray(y)))

    names = getattr(bunch, "feature_names", None)
    names = [str(n) for n in (names if names is not None else range(features.shape[1]))]
    classes = [str(c) for c in bunch.target_names] if classification else None
    return SplitDataset(dataset(x_train, y_train), dataset(x_test, y_test), names, classes,
                        mean, std)


def load_digits(test_size=0.2, standardize=True, seed=0):
    """8x8 handwritten digits (1,797 samples, 64 features in 0..16, 10 classes)."""
    return _split(_sklearn().datasets.load_digits(), True, test_size, standardize, seed)


def load_breast_cancer(test_size=0.2, standardize=True, seed=0):
    """Wisconsin breast cancer (569 samples, 30 features; 0 = malignant, 1 = benign)."""
    return _split(_sklearn().datasets.load_breast_cancer(), True, test_size, standardize, seed)


def load_iris(test_size=0.2, standardize=True, seed=0):
    """Fisher's iris flowers (150 samples, 4 features, 3 classes)."""
    return _split(_sklearn().datasets.load_iris(), True, test_size, standardize, seed)


def load_diabetes(test_size=0.2, standardize=True, seed=0):
    """Diabetes progression regression (442 samples, 10 features; float32 targets ``N x 1``,
    unscaled, in about 25..346)."""
    return _split(_sklearn().datasets.load_diabetes(), False, test_size, standardize, seed)
