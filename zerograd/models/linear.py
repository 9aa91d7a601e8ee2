"""Linear models (d2l chapters 3-4): one affine map from the flattened input.

The softmax and the sigmoid live in the losses (``CrossEntropyLoss``,
``BCEWithLogitsLoss``), which fold them into log-sum-exp for numerical stability; the
models return logits.
"""
from zerograd import nn
from zerograd.models._shapes import num_features

__all__ = ["LinearRegression", "SoftmaxRegression", "LogisticRegression"]


class _Affine(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x):
        return self.linear(self.flatten(x))


class LinearRegression(_Affine):
    """``y = x w + b``: real-valued predictions, shape (N, out_features)."""

    def __init__(self, in_features, out_features=1):
        super().__init__(in_features, out_features)


class SoftmaxRegression(_Affine):
    """Logits ``x W + b`` of shape (N, num_classes), for softmax cross-entropy."""

    def __init__(self, in_features, num_classes):
        super().__init__(in_features, num_classes)


class LogisticRegression(_Affine):
    """One logit per sample, shape (N, 1): the log-odds of the positive class."""

    def __init__(self, in_features):
        super().__init__(in_features, 1)


def build(name, in_shape, num_outputs):
    n = num_features(in_shape)
    if name == "linear":
        return LinearRegression(n, num_outputs)
    if name == "logistic":
        return LogisticRegression(n)
    return SoftmaxRegression(n, num_outputs)
