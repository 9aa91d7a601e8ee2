"""GoogLeNet (d2l 8.4) scaled down for 28x28 inputs.

The Inception block runs four paths side by side (1x1; 1x1 then 3x3; 1x1 then 5x5;
3x3 max-pool then 1x1) and concatenates their channels. This version keeps a small
stem, three Inception blocks and the global-average-pool head, with fewer channels.
"""
from zerograd import nn
from zerograd.models._shapes import image_shape
from zerograd.ops import cat

__all__ = ["Inception", "GoogLeNetSmall"]


class Inception(nn.Module):
    """``c1``, ``c2`` (a pair), ``c3`` (a pair), ``c4``: output channels of the four paths."""

    def __init__(self, in_channels, c1, c2, c3, c4):
        super().__init__()
        self.b1 = nn.Sequential(nn.Conv2d(in_channels, c1, kernel_size=1), nn.ReLU())
        self.b2 = nn.Sequential(nn.Conv2d(in_channels, c2[0], kernel_size=1), nn.ReLU(),
                                nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1), nn.ReLU())
        self.b3 = nn.Sequential(nn.Conv2d(in_channels, c3[0], kernel_size=1), nn.ReLU(),
                                nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2), nn.ReLU())
        self.b4 = nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1),
                                nn.Conv2d(in_channels, c4, kernel_size=1), nn.ReLU())
        self.out_channels = c1 + c2[1] + c3[1] + c4

    def forward(self, x):
        return cat((self.b1(x), self.b2(x), self.b3(x), self.b4(x)), dim=1)


class GoogLeNetSmall(nn.Module):
    def __init__(self, in_channels=1, num_classes=10):
        super().__init__()
        i1 = Inception(32, 16, (16, 32), (4, 8), 8)                      # -> 64 channels
        i2 = Inception(i1.out_channels, 32, (32, 48), (8, 16), 16)        # -> 112
        i3 = Inception(i2.out_channels, 48, (24, 64), (8, 16), 16)        # -> 144
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, 32, kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),                          # 28 -> 14
            i1, i2,
            nn.MaxPool2d(kernel_size=2, stride=2),                          # 14 -> 7
            i3,
            nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
            nn.Linear(i3.out_channels, num_classes))

    def forward(self, x):
        return self.net(x)


def build(name, in_shape, num_outputs):
    c, _, _ = image_shape(name, in_shape, 4)
    return GoogLeNetSmall(c, num_outputs)
