"""Multilayer perceptron (d2l chapter 5): hidden ReLU layers on the flattened input."""
from zerograd import nn
from zerograd.models._shapes import num_features

__all__ = ["MLP"]


class MLP(nn.Module):
    """``Flatten -> [Linear -> ReLU -> Dropout] * len(hidden) -> Linear``.

    d2l's default is one hidden layer of 256 units.
    """

    def __init__(self, in_features, num_outputs, hidden=(256,), dropout=0.0):
        super().__init__()
        layers = [nn.Flatten()]
        width = in_features
        for units in hidden:
            layers += [nn.Linear(width, units), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = units
        layers.append(nn.Linear(width, num_outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def build(name, in_shape, num_outputs):
    return MLP(num_features(in_shape), num_outputs)
