"""``zerograd.train``: the training loop, metrics, run folders and the CLI's machinery.

``fit(resolve(cli_options={...}))`` is what ``zerograd train`` runs; ``resume(run_dir)``
what ``zerograd resume`` runs. ``train_epoch``/``evaluate`` are the loops on their own.
"""
from zerograd.train.config import TrainConfig, UsageError, resolve  # noqa: F401
from zerograd.train.loop import evaluate, train_epoch  # noqa: F401
from zerograd.train.metrics import (  # noqa: F401
    accuracy, confusion_matrix, per_class_accuracy, predicted_classes, r2_score)
from zerograd.train.run import RunFolder  # noqa: F401
from zerograd.train.trainer import fit, resume  # noqa: F401

__all__ = ["TrainConfig", "UsageError", "resolve", "fit", "resume", "train_epoch", "evaluate",
           "accuracy", "confusion_matrix", "per_class_accuracy", "predicted_classes",
           "r2_score", "RunFolder"]
