"""What a dataset looks like to a model, and the split helpers every source shares.

``DataInfo`` travels inside checkpoints (as plain values and tensors, never pickled), so
``eval`` and ``predict`` can rebuild a model and transform new inputs exactly as the
training run did.
"""
import dataclasses

import numpy as np

from zerograd.random import Generator
from zerograd.tensor import Tensor
from zerograd.utils.data import TensorDataset

__all__ = ["DataInfo", "Data", "SPLIT_SEED", "TEST_FRACTION", "stratified_split",
           "limit_indices", "wrap"]

SPLIT_SEED = 0
TEST_FRACTION = 0.2


@dataclasses.dataclass
class DataInfo:
    """What a model trained on this data expects, and how raw inputs are transformed."""
    name: str
    task: str                      # "classification" or "regression"
    kind: str                      # "image", "tabular" (sklearn sets) or "csv"
    in_shape: tuple                # one preprocessed sample
    num_classes: int = None        # None for regression
    class_names: list = None
    feature_names: list = None     # tabular: column names, in order
    mean: object = None            # tabular: per-feature array subtracted...
    std: object = None             # ...then divided by
    target_mean: float = 0.0       # regression: targets were standardized with these
    target_std: float = 1.0
    raw_shape: tuple = None        # image: the raw image size before any resize
    preprocessor: dict = None      # csv: the fitted TabularPreprocessor's values

    def to_state(self):
        state = dataclasses.asdict(self)
        for key in ("mean", "std"):
            if state[key] is not None:
                state[key] = Tensor._make(np.asarray(state[key]))
        return state

    @classmethod
    def from_state(cls, state):
        state = dict(state)
        for key in ("mean", "std"):
            if isinstance(state.get(key), Tensor):
                state[key] = state[key]._data
        for key in ("in_shape", "raw_shape"):
            if state.get(key) is not None:
                state[key] = tuple(state[key])
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in state.items() if k in known})


@dataclasses.dataclass
class Data:
    train: TensorDataset
    test: TensorDataset
    info: DataInfo


def stratified_split(y, classify, fraction=TEST_FRACTION, seed=SPLIT_SEED):
    """Index arrays (train, test), both in random order; per class when ``classify``."""
    rng = Generator().manual_seed(seed).rng
    n = len(y)
    perm = rng.permutation(n)
    if not classify:
        k = int(round(n * fraction))
        return perm[k:], perm[:k]
    labels = y[perm]
    # Sorting the shuffled labels stably groups each class while keeping the random order
    # inside it; a sample's rank within its class decides whether it is held out.
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    starts = np.searchsorted(sorted_labels, sorted_labels, side="left")
    rank = np.arange(n) - starts
    counts = np.bincount(sorted_labels)
    held = rank < np.round(counts[sorted_labels] * fraction)
    is_test = np.zeros(n, dtype=bool)
    is_test[order[held]] = True
    return perm[~is_test], perm[is_test]


def limit_indices(indices, limit):
    return indices if limit is None else indices[:limit]


def wrap(x, y, info):
    if info.task == "classification":
        y = y.astype(np.int64)
    else:
        y = ((y.astype(np.float64) - info.target_mean) / info.target_std).astype(np.float32)
    return TensorDataset(Tensor._make(np.ascontiguousarray(x, dtype=np.float32)),
                         Tensor._make(np.ascontiguousarray(y)))
