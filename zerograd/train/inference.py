"""Using a trained checkpoint: rebuild its model, score it on a dataset, predict files.

A training checkpoint names its model and records its data's preprocessing (see
``DataInfo``), so the model is rebuilt with ``get_model`` and fed inputs transformed
exactly as in training. Nothing in the file is executed.
"""
import os

import numpy as np

from zerograd.autograd.grad_mode import no_grad
from zerograd.io import CheckpointError, load
from zerograd.ops import sigmoid, softmax
from zerograd.tensor import Tensor
from zerograd.train.build import build_model, count_parameters, make_loss, output_kind
from zerograd.train.config import UsageError
from zerograd.train.csv_table import (csv_features, csv_frame, csv_preprocessor,
                                      load_csv_for_eval, numeric_matrix)
from zerograd.train.data import DataInfo, image_sizes, load_data, make_loaders, preprocess
from zerograd.train.loop import evaluate
from zerograd.train.metrics import confusion_matrix, per_class_accuracy, r2_score
from zerograd.train.run import find_checkpoint

__all__ = ["Trained", "load_trained", "evaluate_checkpoint", "read_inputs", "predict"]


class Trained:
    """A model rebuilt from a checkpoint, with its data description and the raw state."""

    def __init__(self, path, state, model, info):
        self.path, self.state, self.model, self.info = path, state, model, info
        self.name = state["model"]["name"]
        self.kind = output_kind(self.name, info.task)


def load_trained(path):
    """Load a training checkpoint (file, or run folder) and rebuild its model in eval mode."""
    path = find_checkpoint(path)
    state = load(path, map_location="cpu")  # a GPU run's checkpoint loads anywhere
    if not isinstance(state, dict) or state.get("kind") != "zerograd-train":
        raise CheckpointError(f"{path} is a zerograd file but not a training checkpoint "
                              "(no model description); load it with zerograd.load")
    data = state.get("data")
    if isinstance(data, dict) and data.get("kind") == "text":
        command = {"lm": "generate", "bert": "info"}.get(data.get("task"), "translate")
        raise UsageError(f"{path} holds a sequence model ('{state['model'].get('name')}'); "
                         f"use `zerograd {command}` with it")
    try:
        info = DataInfo.from_state(state["data"])
        name = state["model"]["name"]
        model = build_model(name, info)
        model.load_state_dict(state["model_state"])
    except UsageError:
        raise
    except (KeyError, TypeError, RuntimeError, ValueError) as err:
        raise CheckpointError(f"{path}: the weights do not fit model "
                              f"'{state.get('model', {}).get('name')}': "
                              f"{str(err).splitlines()[0]}") from None
    model.eval()
    return Trained(path, state, model, info)


def _evaluation_data(trained, name, limit, data_dir, force):
    """The data to score ``trained`` on: its own dataset's test split; another CSV with
    the same target through the checkpoint's preprocessing (all its rows); any other
    dataset only with ``force``, since the numbers mean little there."""
    info = trained.info
    if name == info.name:
        return load_data(name, trained.name, limit, data_dir, info=info)
    if info.kind == "csv" and name.startswith("csv:"):
        return load_csv_for_eval(name, limit, info)
    if not force:
        raise UsageError(f"the checkpoint was trained on '{info.name}', not '{name}', so its "
                         f"scores there mean little; evaluate with --data {info.name}, or "
                         "pass --force to do it anyway")
    return load_data(name, trained.name, limit, data_dir, info=info)  # its own preprocessing


def evaluate_checkpoint(trained, data=None, limit=None, data_dir=None, batch_size=256,
                        force=False):
    """Loss, accuracy, per-class accuracy and confusion matrix (or R^2) on a test split."""
    if batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {batch_size}")
    info = trained.info
    name = data or info.name
    dataset = _evaluation_data(trained, name, limit, data_dir, force)
    _, test_loader = make_loaders(dataset, batch_size, None, eval_batch_size=batch_size)
    result = evaluate(trained.model, test_loader, make_loss(trained.kind),
                      info.task == "classification", keep_outputs=True)
    report = {"checkpoint": trained.path, "data": name, "samples": result["samples"],
              "loss": result["loss"]}
    if info.task == "classification":
        matrix = confusion_matrix(result["outputs"], result["targets"], info.num_classes)
        per_class = per_class_accuracy(matrix)
        report["accuracy"] = result["acc"]
        names = dataset.info.class_names  # the rows are the evaluated data's true classes
        report["per_class_accuracy"] = {n: (None if v != v else float(v))
                                        for n, v in zip(names, per_class.tolist())}
        report["confusion_matrix"] = matrix.tolist()
        report["class_names"] = list(names)
    else:
        preds = result["outputs"].reshape(-1) * info.target_std + info.target_mean
        targets = result["targets"] * info.target_std + info.target_mean
        report["r2"] = r2_score(preds, targets)
        report["rmse"] = float(((preds - targets) ** 2).mean().item()) ** 0.5
    return report


# -- reading inputs --------------------------------------------------------------------------
def _grey(image):
    """A PNG as read by matplotlib (H, W[, 3|4]) -> (H, W) intensities in [0, 1]."""
    if image.ndim == 3:
        rgb = image[..., :3].astype(np.float32)
        image = rgb @ np.asarray([0.299, 0.587, 0.114], dtype=np.float32)
    if image.dtype == np.uint8:
        image = image / 255.0
    return image.astype(np.float32)


def _read_csv(path, info):
    try:
        import pandas as pd
        frame = pd.read_csv(path)
    except ImportError:
        raise UsageError("CSV input needs pandas: pip install 'zerograd[tabular]'") from None
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot read CSV {path}: {str(err).splitlines()[0]}") from None
    names = info.feature_names or []
    if all(n in frame.columns for n in names):
        frame = frame[names]  # extra columns (e.g. the target) are ignored
    else:
        try:  # no header with the feature names: read every row as numbers
            frame = pd.read_csv(path, header=None)
        except ValueError as err:
            raise UsageError(f"cannot read CSV {path}: {err}") from None
        missing = [n for n in names if n not in frame.columns]
        if frame.shape[1] != len(names):
            raise UsageError(f"CSV {path} lacks feature columns {', '.join(missing)} and has "
                             f"{frame.shape[1]} columns instead of {len(names)}")
    values = numeric_matrix(frame, f"CSV {path}")
    return values, [f"{path}:{i + 1}" for i in range(len(values))]


def _read_png(path, info):
    """One PNG as a model input, and a note if it had to be resized."""
    if info.kind != "image":
        raise UsageError(f"{path}: the model takes table rows (CSV), not images")
    import matplotlib.image
    try:
        image = _grey(np.asarray(matplotlib.image.imread(path)))
    except (OSError, ValueError, SyntaxError) as err:
        raise UsageError(f"cannot read PNG {path}: {err}") from None
    data_size = image_sizes(info)[0]
    note = None
    if tuple(image.shape) not in image_sizes(info):
        note = (f"resized from {image.shape[0]}x{image.shape[1]} to "
                f"{data_size[0]}x{data_size[1]}")
    return preprocess(info, image[None], resize=True)._data, note


def _read_npy(path, info):
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot read NPY {path}: {str(err).splitlines()[0]}") from None
    try:
        return preprocess(info, array)._data
    except UsageError as err:
        raise UsageError(f"{path}: {err}") from None


def _read_table(path, info):
    if info.kind == "image":
        raise UsageError(f"{path}: CSV rows are for tabular models; this model takes "
                         "images (give PNG or NPY files)")
    if info.kind != "csv":
        values, names = _read_csv(path, info)
        try:
            return preprocess(info, values)._data, names
        except UsageError as err:
            raise UsageError(f"{path}: {err}") from None
    frame = csv_frame(path)
    columns = info.preprocessor["numeric_columns"] + info.preprocessor["categorical_columns"]
    if not set(columns) <= set(frame.columns) and frame.shape[1] == len(columns):
        # No header row: read the rows as values of the training columns.
        import pandas as pd
        frame = pd.read_csv(path, header=None, names=columns)
    features = csv_features(csv_preprocessor(info.preprocessor), frame, f"CSV {path}")
    return features, [f"{path}:{i + 1}" for i in range(len(frame))]


def read_inputs(paths, info):
    """Raw samples from PNG / NPY / CSV files: ``(inputs, labels, notes)``, a label and a
    note (None, or how the input was adapted, e.g. resized) for each sample."""
    samples, labels, notes = [], [], []
    for path in paths:
        if not os.path.isfile(path):
            raise UsageError(f"input file not found: {path}")
        ext = os.path.splitext(path)[1].lower()
        if ext == ".png":
            sample, note = _read_png(path, info)
            samples.append(sample)
            labels.append(path)
            notes.append(note)
        elif ext == ".npy":
            batch = _read_npy(path, info)
            samples.append(batch)
            labels += [path] if len(batch) == 1 else [f"{path}[{i}]" for i in range(len(batch))]
            notes += [None] * len(batch)
        elif ext == ".csv":
            rows, names = _read_table(path, info)
            samples.append(rows)
            labels += names
            notes += [None] * len(names)
        else:
            raise UsageError(f"{path}: unsupported input type '{ext or 'none'}'; give .png, "
                             ".npy or .csv files")
    return Tensor._make(np.concatenate(samples)), labels, notes


def predict(trained, paths, top=3):
    """One dict per input sample: predicted class and top-k probabilities (or a value);
    ``note`` says how an input was adapted (a PNG resized), when it was."""
    if top < 1:
        raise UsageError(f"--top must be at least 1, got {top}")
    x, labels, notes = read_inputs(paths, trained.info)
    with no_grad():
        out = trained.model(x)
    info = trained.info
    results = []
    if info.task == "regression":
        values = (out.reshape(-1) * info.target_std + info.target_mean).tolist()
        results = [{"input": lab, "prediction": v} for lab, v in zip(labels, values)]
    else:
        if trained.kind == "binary":
            p1 = sigmoid(out.reshape(-1))._data
            probs = np.stack([1 - p1, p1], axis=1)
        else:
            probs = softmax(out, dim=1)._data
        order = np.argsort(-probs, axis=1, kind="stable")[:, :top]  # top > classes: all
        for lab, p, idx in zip(labels, probs.tolist(), order.tolist()):
            results.append({"input": lab, "class": info.class_names[idx[0]], "index": idx[0],
                            "probability": p[idx[0]],
                            "top": [[info.class_names[i], p[i]] for i in idx]})
    for result, note in zip(results, notes):
        if note:
            result["note"] = note
    return results


def describe(trained):
    """What ``zerograd info`` shows."""
    state = trained.state
    return {"checkpoint": trained.path, "model": trained.name,
            "class": type(trained.model).__name__,
            "parameters": count_parameters(trained.model), "epoch": state.get("epoch"),
            "data": trained.info.name, "task": trained.info.task,
            "input_shape": list(trained.info.in_shape), "classes": trained.info.class_names,
            "metrics": state.get("metrics"), "best": state.get("best"),
            "config": state.get("config"), "architecture": repr(trained.model)}
