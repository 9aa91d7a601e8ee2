"""CSV tables -> feature tensors, with preprocessing fitted once and reused (pandas).

The recipe of d2l's house-price example, made safe for train/test use: numeric columns
get missing values filled with the training mean and are standardized with the
training mean and std; other columns are one-hot encoded with an extra "missing"
column (``pd.get_dummies(dummy_na=True)``), and categories never seen in training fall
into that missing column. A column is numeric when most of its values are numbers, as a
person reading the table would judge; a stray text value in it (a typo, "?") is an error
naming its column and row, never a reason to one-hot encode the numbers. The fitted
``TabularPreprocessor`` turns the test CSV into exactly the same columns::

    train = load_csv("train.csv", target="SalePrice", drop=["Id"], log_target=True)
    test = load_csv("test.csv", preprocessor=train.preprocessor)

pandas is an optional dependency (``pip install zerograd[tabular]``), imported lazily.
"""
import os
from dataclasses import dataclass

import numpy as np

from zerograd.tensor import Tensor
from zerograd.utils.data.dataset import TensorDataset

__all__ = ["TabularPreprocessor", "TabularData", "load_csv", "MixedColumnError",
           "numeric_values", "to_numbers"]


def _pandas():
    try:
        import pandas
    except ImportError:
        raise ImportError("reading CSV tables needs pandas, an optional dependency of "
                          "zerograd: pip install 'zerograd[tabular]' (or pip install pandas)") \
            from None
    return pandas


class MixedColumnError(ValueError):
    """A column of numbers holds a value that is not a finite number."""

    def __init__(self, column, where, value, count):
        more = f" (and {count - 1} more such value{'s' * (count > 2)})" if count > 1 else ""
        super().__init__(f"column {column!r} holds numbers, but its value {where} is "
                         f"{value!r}{more}; correct it, or leave the cell empty for a missing "
                         "value")
        self.column, self.where, self.value, self.count = column, where, value, count


def _parse(series):
    """``(float64 values, mask of present values that are not finite numbers)``."""
    pd = _pandas()
    present = series.notna()
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        values = series.astype("float64")
    else:
        values = pd.to_numeric(series.where(present), errors="coerce").astype("float64")
    bad = present & ~np.isfinite(values)
    return values, bad


def _raise_first(series, bad, column):
    position = int(np.flatnonzero(bad.to_numpy())[0])
    label = series.index[position]
    # A frame read from a CSV is numbered 0, 1, ... (kept through row selections): row
    # label + 1 is the data row a person counts below the header.
    where = (f"in data row {label + 1}" if _pandas().api.types.is_integer_dtype(series.index)
             else f"at index {label!r}")
    value = series.iloc[position]
    value = value.item() if hasattr(value, "item") else value  # 'inf', not np.float64(inf)
    raise MixedColumnError(column, where, value, int(bad.sum()))


def to_numbers(series, column):
    """``series`` of a numeric column as float64 (missing values NaN); a value that is not
    a finite number raises ``MixedColumnError`` with its row."""
    values, bad = _parse(series)
    if bad.any():
        _raise_first(series, bad, column)
    return values


def numeric_values(series, column):
    """``series`` as float64 if it is a column of numbers -- more than half of its present
    values are -- else None (a text column). Stray values in a numeric column raise
    ``MixedColumnError``: one-hot encoding numbers, or dropping a value, would both change
    the data without a word."""
    values, bad = _parse(series)
    present = int(series.notna().sum())
    mostly_text = present == 0 or 2 * (present - int(bad.sum())) <= present
    if mostly_text and not _pandas().api.types.is_numeric_dtype(series):
        return None
    if bad.any():
        _raise_first(series, bad, column)
    return values


class TabularPreprocessor:
    """Fill, standardize and one-hot encode a DataFrame the same way every time.

    Args:
        target: the label column (left out of the features; optional in ``transform``).
        log_target: return ``log(target)`` (prices, counts...). ``inverse_target`` undoes it.
        drop: columns that are not features (ids...).
        categorical: columns to one-hot encode even if numeric (default: non-numeric ones).
        standardize: scale numeric columns to zero mean, unit std (pandas' ``std``, ddof=1).
    """

    def __init__(self, target=None, log_target=False, drop=(), categorical=(),
                 standardize=True):
        self.target = target
        self.log_target = log_target
        self.drop = list(drop)
        self.categorical = list(categorical)
        self.standardize = standardize
        self.fitted = False

    def _features(self, frame):
        skip = set(self.drop) | ({self.target} if self.target is not None else set())
        return frame[[c for c in frame.columns if c not in skip]]

    def fit(self, frame):
        """Learn columns, means, stds and categories from the training frame."""
        pd = _pandas()
        if self.target is not None and self.target not in frame.columns:
            raise ValueError(f"target column {self.target!r} is not in the data; available "
                             f"columns: {list(frame.columns)}")
        features = self._features(frame)
        # d2l's rule, made robust: columns of numbers are numeric (bools become 0/1 and are
        # scaled), also when a text column holds numbers (stray values are an error)
        parsed = {c: numeric_values(features[c], c) for c in features.columns
                  if c not in self.categorical}
        numeric = [c for c, v in parsed.items() if v is not None]
        self.numeric_columns = numeric
        self.categorical_columns = [c for c in features.columns if c not in numeric]
        values = pd.DataFrame({c: parsed[c] for c in numeric}, index=features.index)
        self.mean = values.mean().fillna(0.0)  # an all-missing column becomes all zeros
        std = values.std() if self.standardize else pd.Series(1.0, index=numeric)
        self.std = std.where(std > 0, 1.0).fillna(1.0)
        self.categories = {c: sorted(features[c].dropna().unique().tolist(), key=str)
                           for c in self.categorical_columns}
        self.fitted = True
        self.dummy_columns = list(self._one_hot(features).columns)
        return self

    def _one_hot(self, features):
        pd = _pandas()
        # a Categorical with the training categories: unseen values become NaN, so they land
        # in the `_nan` column, and every category gets a column even if absent here
        cats = {}
        for c in self.categorical_columns:
            known = features[c].where(features[c].isin(self.categories[c]))
            cats[c] = pd.Categorical(known, categories=self.categories[c])
        cats = pd.DataFrame(cats, index=features.index)
        if not self.categorical_columns:  # get_dummies fails on a frame with no columns
            return cats.astype("float64")
        return pd.get_dummies(cats, dummy_na=True, dtype="float64")

    @property
    def feature_names(self):
        """The output columns: numeric ones, then one per category (and ``_nan``) per column."""
        return self.numeric_columns + self.dummy_columns

    def transform(self, frame):
        """``(features, target)``: float32 tensors ``N x F`` and ``N x 1`` (target None
        when the frame has no target column)."""
        if not self.fitted:
            raise RuntimeError("TabularPreprocessor.transform called before fit; call "
                               "fit(train_frame) first (load_csv does it when no "
                               "preprocessor is given)")
        pd = _pandas()
        missing = [c for c in self.numeric_columns + self.categorical_columns
                   if c not in frame.columns]
        if missing:
            raise ValueError(f"columns {missing} were present when fitting but are missing "
                             f"here; available columns: {list(frame.columns)}")
        numeric = pd.DataFrame({c: to_numbers(frame[c], c) for c in self.numeric_columns},
                               index=frame.index).fillna(self.mean)
        numeric = (numeric - self.mean) / self.std if self.standardize else numeric
        one_hot = self._one_hot(frame).reindex(columns=self.dummy_columns, fill_value=0.0)
        table = pd.concat([numeric, one_hot], axis=1)
        features = Tensor._make(np.ascontiguousarray(table.to_numpy(dtype="float32")))
        target = None
        if self.target is not None and self.target in frame.columns:
            y = to_numbers(frame[self.target], self.target).to_numpy()
            if np.isnan(y).any():
                raise ValueError(f"target column {self.target!r} has missing values")
            if self.log_target:
                if (y <= 0).any():
                    raise ValueError(f"log_target=True needs a positive target, but "
                                     f"{self.target!r} has values <= 0")
                y = np.log(y)
            target = Tensor._make(y.astype(np.float32).reshape(-1, 1))
        return features, target

    def fit_transform(self, frame):
        return self.fit(frame).transform(frame)

    def inverse_target(self, y):
        """Undo ``log_target`` on predictions (a tensor or array)."""
        array = y._data if isinstance(y, Tensor) else np.asarray(y)
        return Tensor._make(np.exp(array) if self.log_target else array)


@dataclass
class TabularData:
    """What ``load_csv`` returns: tensors, the fitted preprocessor and the raw frame."""

    features: Tensor
    target: Tensor
    preprocessor: TabularPreprocessor
    frame: object

    @property
    def feature_names(self):
        return self.preprocessor.feature_names

    def to_dataset(self):
        """A ``TensorDataset`` of (features, target) rows."""
        if self.target is None:
            raise ValueError("this table has no target column, so it cannot make a "
                             "(features, target) dataset; use .features")
        return TensorDataset(self.features, self.target)


def load_csv(path, target=None, preprocessor=None, log_target=False, drop=(),
             categorical=(), standardize=True, **read_csv_kwargs):
    """Read a CSV and turn it into tensors.

    Without ``preprocessor`` (training data) a ``TabularPreprocessor`` is fitted on this
    file with ``target``, ``log_target``, ``drop``, ``categorical`` and ``standardize``;
    with one (test data) it is applied unchanged and the target column is optional.
    Extra keyword arguments go to ``pandas.read_csv``.
    """
    pd = _pandas()
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"CSV file not found: {path!r}")
    frame = pd.read_csv(path, **read_csv_kwargs)
    if preprocessor is None:
        if target is not None and target not in frame.columns:
            raise ValueError(f"target column {target!r} is not in {path}; available columns: "
                             f"{list(frame.columns)}")
        preprocessor = TabularPreprocessor(target, log_target, drop, categorical, standardize)
        preprocessor.fit(frame)
    features, y = preprocessor.transform(frame)
    return TabularData(features, y, preprocessor, frame)
