"""Classification and regression metrics on tensors or arrays, vectorized.

Outputs may be logits of shape (N, C), one logit per sample (N,) or (N, 1) for a binary
classifier, or class indices (N,) of an integer dtype.
"""

import numpy as np

from zerograd.tensor import Tensor

__all__ = ["predicted_classes", "accuracy", "confusion_matrix", "per_class_accuracy", "r2_score"]


def _array(x):
    return x.detach()._data if isinstance(x, Tensor) else np.asarray(x)


def predicted_classes(outputs):
    """Class indices from logits: argmax over the last dim, or ``logit > 0`` for one logit."""
    out = _array(outputs)
    if out.dtype.kind in "iub":
        return out.reshape(-1).astype(np.int64)
    if out.ndim == 1 or out.shape[-1] == 1:
        return (out.reshape(-1) > 0).astype(np.int64)
    return out.argmax(axis=-1).astype(np.int64)


def accuracy(outputs, targets):
    """Fraction of samples whose predicted class equals the target (0.0 for no samples)."""
    pred = predicted_classes(outputs)
    target = _array(targets).reshape(-1).astype(np.int64)
    if pred.shape != target.shape:
        raise ValueError(f"accuracy: {pred.shape[0]} predictions but {target.shape[0]} targets")
    return float((pred == target).mean()) if target.size else 0.0


def confusion_matrix(outputs, targets, num_classes=None):
    """``m[i, j]`` = how many samples of true class ``i`` were predicted as class ``j``."""
    pred = predicted_classes(outputs)
    target = _array(targets).reshape(-1).astype(np.int64)
    if num_classes is None:
        num_classes = int(max(pred.max(initial=-1), target.max(initial=-1))) + 1
    # One bincount over the flattened (true, predicted) pair index counts every cell at once.
    flat = np.bincount(target * num_classes + pred, minlength=num_classes * num_classes)
    return flat[:num_classes * num_classes].reshape(num_classes, num_classes)


def per_class_accuracy(matrix):
    """Recall of each class from a confusion matrix (NaN for classes with no samples)."""
    m = _array(matrix).astype(np.float64)
    totals = m.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.diagonal(m) / totals


def r2_score(outputs, targets):
    """Coefficient of determination of a regression: 1 - SS_res / SS_tot."""
    pred = _array(outputs).reshape(-1).astype(np.float64)
    target = _array(targets).reshape(-1).astype(np.float64)
    ss_res = float(((target - pred) ** 2).sum())
    ss_tot = float(((target - target.mean()) ** 2).sum()) if target.size else 0.0
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0
