"""Network in Network (d2l 8.3): conv blocks with 1x1 "per-pixel MLPs", no dense layers.

The last block outputs one channel per class and global average pooling turns each
channel into that class's logit. Kernel sizes and strides are scaled for 28x28 input.
"""
from zerograd import nn
from zerograd.models._shapes import image_shape

__all__ = ["NiN", "nin_block"]


def nin_block(in_channels, out_channels, kernel_size, stride, padding):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU())


class NiN(nn.Module):
    def __init__(self, in_channels=1, num_classes=10, dropout=0.5):
        super().__init__()
        self.net = nn.Sequential(
            nin_block(in_channels, 32, kernel_size=5, stride=1, padding=2),
            nn.MaxPool2d(kernel_size=3, stride=2),          # 28 -> 13
            nin_block(32, 64, kernel_size=5, stride=1, padding=2),
            nn.MaxPool2d(kernel_size=3, stride=2),          # 13 -> 6
            nin_block(64, 96, kernel_size=3, stride=1, padding=1),
            nn.MaxPool2d(kernel_size=3, stride=2),          # 6 -> 2
            nn.Dropout(dropout),
            nin_block(96, num_classes, kernel_size=3, stride=1, padding=1),
            nn.AdaptiveAvgPool2d((1, 1)),
            nn.Flatten())

    def forward(self, x):
        return self.net(x)


def build(name, in_shape, num_outputs):
    c, _, _ = image_shape(name, in_shape, 15)
    return NiN(c, num_outputs)
