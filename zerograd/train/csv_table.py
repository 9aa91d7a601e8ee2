"""``csv:PATH:TARGET`` datasets: a CSV table split 80/20 and preprocessed for a model.

Features go through ``zerograd.datasets.TabularPreprocessor`` (missing numbers filled
with the training mean, numbers standardized, text columns one-hot encoded), fitted on
the training split only. The target decides the task: text labels, or at most 20
distinct whole numbers, are classes; other numbers are a regression target. A column of
numbers with a stray text value is refused with its row (``MixedColumnError``), for
features and target alike.
"""
import os

import numpy as np

from zerograd.train.config import UsageError
from zerograd.train.datainfo import Data, DataInfo, limit_indices, stratified_split, wrap

__all__ = ["load_csv_spec", "load_csv_for_eval", "csv_frame", "csv_preprocessor",
           "csv_features", "numeric_matrix"]


def csv_frame(path):
    try:
        import pandas as pd
    except ImportError:
        raise UsageError("CSV data needs pandas: pip install 'zerograd[tabular]'") from None
    if not os.path.isfile(path):
        raise UsageError(f"data file not found: {path}")
    try:
        return pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise UsageError(f"cannot read CSV {path}: {str(err).splitlines()[0]}") from None


def _preprocessor_state(prep):
    """A fitted TabularPreprocessor as JSON-able values (checkpoints never pickle)."""
    return {"numeric_columns": [str(c) for c in prep.numeric_columns],
            "categorical_columns": [str(c) for c in prep.categorical_columns],
            "mean": [float(v) for v in prep.mean.tolist()],
            "std": [float(v) for v in prep.std.tolist()],
            "categories": {str(c): list(v) for c, v in prep.categories.items()},
            "dummy_columns": [str(c) for c in prep.dummy_columns],
            "standardize": bool(prep.standardize)}


def csv_preprocessor(state):
    """Rebuild the fitted TabularPreprocessor from ``_preprocessor_state``'s values."""
    import pandas as pd
    from zerograd.datasets import TabularPreprocessor
    prep = TabularPreprocessor(standardize=state["standardize"])
    prep.numeric_columns = list(state["numeric_columns"])
    prep.categorical_columns = list(state["categorical_columns"])
    prep.mean = pd.Series(state["mean"], index=prep.numeric_columns, dtype="float64")
    prep.std = pd.Series(state["std"], index=prep.numeric_columns, dtype="float64")
    prep.categories = {c: list(v) for c, v in state["categories"].items()}
    prep.dummy_columns = list(state["dummy_columns"])
    prep.fitted = True
    return prep


def csv_features(prep, frame, where):
    """The feature matrix of ``frame`` (float32 array), or a one-line error."""
    try:
        return prep.transform(frame)[0]._data
    except (ValueError, KeyError, TypeError) as err:
        raise UsageError(f"{where}: {str(err).splitlines()[0]}") from None


def numeric_matrix(frame, where):
    """``frame`` (all columns numbers) as a float32 array; a stray value is an error
    naming its column and row."""
    from zerograd.datasets.tabular import MixedColumnError, to_numbers
    try:
        columns = [to_numbers(frame[c], c).to_numpy() for c in frame.columns]
    except MixedColumnError as err:
        raise UsageError(f"{where}: {err}") from None
    return np.stack(columns, axis=1).astype(np.float32) if columns else \
        np.zeros((len(frame), 0), np.float32)


def _parse_spec(spec):
    path, sep, target = spec[len("csv:"):].rpartition(":")
    if not sep or not path or not target:
        raise UsageError(f"--data {spec}: write csv:PATH:TARGET, e.g. csv:houses.csv:price")
    return path, target


def _target(frame, path, target):
    """The target column as numbers (None if it holds text labels)."""
    from zerograd.datasets.tabular import MixedColumnError, numeric_values
    if target not in frame.columns:
        raise UsageError(f"CSV {path} has no column '{target}'; its columns are: "
                         f"{', '.join(map(str, frame.columns))}")
    column = frame[target]
    if column.isna().any():
        raise UsageError(f"CSV {path}: the target column '{target}' has missing values")
    try:
        return column, numeric_values(column, target)
    except MixedColumnError as err:
        raise UsageError(f"CSV {path}: {err}") from None


def load_csv_for_eval(spec, limit, info):
    """Another CSV for a model trained on ``info.name``'s: the checkpoint's preprocessing and
    classes, and all its rows as the test set (the training split was another file's; the
    training file itself keeps its own held-out split)."""
    path, target = _parse_spec(spec)
    trained_path, trained_target = _parse_spec(info.name)
    if target != trained_target:
        raise UsageError(f"--data {spec}: the checkpoint predicts '{trained_target}', not "
                         f"'{target}'")
    if os.path.realpath(path) == os.path.realpath(trained_path):
        return load_csv_spec(spec, limit, info)
    frame = csv_frame(path)
    _target(frame, path, target)
    X = csv_features(csv_preprocessor(info.preprocessor), frame, f"CSV {path}")
    y = _labels(frame[target], info.class_names, path, target) \
        if info.task == "classification" else _to_float(frame[target], path, target)
    rows = limit_indices(np.arange(len(frame)), limit)
    test = wrap(X[rows], y[rows], info)
    return Data(test, test, info)


def _to_float(column, path, target):
    from zerograd.datasets.tabular import MixedColumnError, to_numbers
    try:
        return to_numbers(column, target).to_numpy()
    except MixedColumnError as err:
        raise UsageError(f"CSV {path}: {err}") from None


def _labels(column, names, path, target):
    """Class indices of the labels in ``column`` (their names are ``names``)."""
    lookup = {n: i for i, n in enumerate(names)}
    labels = column.astype(str)
    unknown = sorted(set(labels) - set(lookup))
    if unknown:
        raise UsageError(f"CSV {path}: column '{target}' has classes the checkpoint does "
                         f"not know: {', '.join(unknown[:5])}")
    return np.asarray(labels.map(lookup).to_numpy(), dtype=np.int64)


def load_csv_spec(spec, limit, info):
    """``csv:PATH:TARGET``: zerograd.datasets' TabularPreprocessor (fill missing values,
    standardize numbers, one-hot categories) fitted on a fixed 80% split."""
    path, target = _parse_spec(spec)
    frame = csv_frame(path)
    column, numbers = _target(frame, path, target)
    if len(frame) < 2 or frame.shape[1] < 2:
        raise UsageError(f"CSV {path} needs at least 2 rows and a feature column besides "
                         f"'{target}'")
    integral = numbers is not None and bool((numbers == numbers.round()).all())
    # Text labels, or a few distinct whole numbers, mean classes; anything else a quantity.
    classify = (numbers is None or (integral and numbers.nunique() <= 20)) if info is None \
        else info.task == "classification"
    if classify:
        names = info.class_names if info else [str(v) for v in sorted(column.unique())]
        y = _labels(column, names, path, target)
    elif numbers is None:
        raise UsageError(f"CSV {path}: the target column '{target}' is not numeric")
    else:
        names, y = None, numbers.to_numpy(dtype=np.float64)
    train_idx, test_idx = stratified_split(y, classify)
    if info is None:  # fitted on the whole training split, whatever --limit says
        from zerograd.datasets import TabularPreprocessor
        try:
            prep = TabularPreprocessor(drop=[target]).fit(frame.iloc[train_idx])
        except ValueError as err:
            raise UsageError(f"CSV {path}: {str(err).splitlines()[0]}") from None
        ytr = y[train_idx].astype(np.float64)
        info = DataInfo(
            name=spec, task="classification" if classify else "regression", kind="csv",
            in_shape=(len(prep.feature_names),), num_classes=len(names) if classify else None,
            class_names=names, feature_names=[str(c) for c in prep.feature_names],
            preprocessor=_preprocessor_state(prep),
            target_mean=0.0 if classify else float(ytr.mean()),
            target_std=1.0 if classify else float(ytr.std() or 1.0))
    else:
        prep = csv_preprocessor(info.preprocessor)
    X = csv_features(prep, frame, f"CSV {path}")
    train_idx, test_idx = limit_indices(train_idx, limit), limit_indices(test_idx, limit)
    return Data(wrap(X[train_idx], y[train_idx], info), wrap(X[test_idx], y[test_idx], info),
                info)
