"""Metrics against scikit-learn's on the same predictions."""
import numpy as np
from sklearn import metrics as skm

import zerograd as zg
from zerograd.train.metrics import (accuracy, confusion_matrix, per_class_accuracy,
                                    predicted_classes, r2_score)


def test_classification_metrics_match_sklearn(rng):
    logits = rng.standard_normal((200, 5)).astype(np.float32)
    targets = rng.integers(0, 5, 200)
    pred = logits.argmax(1)
    assert accuracy(zg.tensor(logits), zg.tensor(targets)) == skm.accuracy_score(targets, pred)
    m = confusion_matrix(zg.tensor(logits), targets, num_classes=5)
    np.testing.assert_array_equal(m, skm.confusion_matrix(targets, pred, labels=range(5)))
    np.testing.assert_allclose(per_class_accuracy(m),
                               skm.recall_score(targets, pred, average=None, labels=range(5)))


def test_binary_logits_and_class_indices():
    logit = zg.tensor([[2.0], [-1.0], [0.5]])
    assert predicted_classes(logit).tolist() == [1, 0, 1]
    assert accuracy(logit, [1, 1, 1]) == 2 / 3
    assert predicted_classes(zg.tensor([3, 1])).tolist() == [3, 1]
    m = confusion_matrix(zg.tensor([0, 0, 1]), zg.tensor([0, 2, 1]), num_classes=4)
    assert m.tolist() == [[1, 0, 0, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]
    recall = per_class_accuracy(m)
    assert recall[:3].tolist() == [1.0, 1.0, 0.0] and np.isnan(recall[3])
    assert accuracy(zg.zeros(0, 3), zg.zeros(0, dtype=zg.int64)) == 0.0


def test_r2_matches_sklearn(rng):
    y = rng.standard_normal(50)
    p = y + 0.3 * rng.standard_normal(50)
    np.testing.assert_allclose(r2_score(zg.tensor(p).reshape(-1, 1), y), skm.r2_score(y, p))
