"""``csv:PATH:TARGET`` datasets: a CSV table split 80/20 and preprocessed for a model.

Features go through ``zerograd.datasets.TabularPreprocessor`` (missing numbers filled
with the training mean, numbers standardized, text columns one-hot encoded), fitted on
the training split only. The target decides the task: text labels, or at most 20
distinct whole numbers, are classes; other numbers are a regression target.
"""
import os

from zerograd.backend import xp
from zerograd.train.config import UsageError
from zerograd.train.datainfo import Data, DataInfo, limit_indices, stratified_split, wrap

__all__ = ["load_csv_spec", "csv_frame", "csv_preprocessor", "csv_features"]


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


def load_csv_spec(spec, limit, info):
    """``csv:PATH:TARGET``: zerograd.datasets' TabularPreprocessor (fill missing values,
    standardize numbers, one-hot categories) fitted on a fixed 80% split."""
    path, sep, target = spec[len("csv:"):].rpartition(":")
    if not sep or not path or not target:
        raise UsageError(f"--data {spec}: write csv:PATH:TARGET, e.g. csv:houses.csv:price")
    import pandas as pd
    frame = csv_frame(path)
    if target not in frame.columns:
        raise UsageError(f"CSV {path} has no column '{target}'; its columns are: "
                         f"{', '.join(map(str, frame.columns))}")
    if len(frame) < 2 or frame.shape[1] < 2:
        raise UsageError(f"CSV {path} needs at least 2 rows and a feature column besides "
                         f"'{target}'")
    column = frame[target]
    if column.isna().any():
        raise UsageError(f"CSV {path}: the target column '{target}' has missing values")
    numeric = pd.api.types.is_numeric_dtype(column)
    integral = numeric and bool((column == column.round()).all())
    # Text labels, or a few distinct whole numbers, mean classes; anything else a quantity.
    classify = (not numeric or (integral and column.nunique() <= 20)) if info is None \
        else info.task == "classification"
    if classify:
        names = info.class_names if info else [str(v) for v in sorted(column.unique())]
        lookup = {n: i for i, n in enumerate(names)}
        labels = column.astype(str)
        unknown = sorted(set(labels) - set(lookup))
        if unknown:
            raise UsageError(f"CSV {path}: column '{target}' has classes the checkpoint does "
                             f"not know: {', '.join(unknown[:5])}")
        y = xp.asarray(labels.map(lookup).to_numpy(), dtype=xp.int64)
    elif not numeric:
        raise UsageError(f"CSV {path}: the target column '{target}' is not numeric")
    else:
        names, y = None, xp.asarray(column.to_numpy(), dtype=xp.float64)
    train_idx, test_idx = stratified_split(y, classify)
    if info is None:  # fitted on the whole training split, whatever --limit says
        from zerograd.datasets import TabularPreprocessor
        prep = TabularPreprocessor(drop=[target]).fit(frame.iloc[train_idx])
        ytr = y[train_idx].astype(xp.float64)
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
