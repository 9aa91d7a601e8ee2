"""LeNet-5 (d2l 7.6) and the same network with batch normalization and ReLU (d2l 8.5).

Both expect 28x28 images; the first convolution pads by 2, as in d2l, so the classic
32x32 geometry of LeCun et al. (1998) is kept.
"""
from zerograd import nn
from zerograd.models._shapes import conv_out, image_shape

__all__ = ["LeNet", "LeNetBN"]


def _flat_size(h, w):
    # conv5 (pad 2) keeps the size; pool2 halves; conv5 (no pad) takes 4; pool2 halves.
    h, w = (conv_out(conv_out(s, 2, 2), 5) for s in (h, w))
    return 16 * conv_out(h, 2, 2) * conv_out(w, 2, 2)


class LeNet(nn.Module):
    """Classic LeNet: sigmoid activations and average pooling."""

    def __init__(self, in_channels=1, num_classes=10, height=28, width=28):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=2), nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Flatten(),
            nn.Linear(_flat_size(height, width), 120), nn.Sigmoid(),
            nn.Linear(120, 84), nn.Sigmoid(),
            nn.Linear(84, num_classes))

    def forward(self, x):
        return self.net(x)


class LeNetBN(nn.Module):
    """LeNet with batch normalization after every conv/linear layer, ReLU and max pooling."""

    def __init__(self, in_channels=1, num_classes=10, height=28, width=28):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=2), nn.BatchNorm2d(6), nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Flatten(),
            nn.Linear(_flat_size(height, width), 120), nn.BatchNorm1d(120), nn.ReLU(),
            nn.Linear(120, 84), nn.BatchNorm1d(84), nn.ReLU(),
            nn.Linear(84, num_classes))

    def forward(self, x):
        return self.net(x)


def build(name, in_shape, num_outputs):
    c, h, w = image_shape(name, in_shape, 12)
    cls = LeNetBN if name == "lenet-bn" else LeNet
    return cls(c, num_outputs, h, w)
