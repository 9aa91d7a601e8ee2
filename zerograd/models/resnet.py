"""ResNet-18 (d2l 8.6) in the small-input form d2l uses for Fashion-MNIST (d2l 13.6).

The stem is one 3x3 convolution without the 7x7/stride-2 convolution and max-pool of the
ImageNet version, so 28x28 images keep their resolution into the first stage. Four
stages of two residual blocks each (64, 128, 256, 512 channels; stride 2 from the
second stage on), global average pooling and one linear layer: 18 weighted layers.
"""
from zerograd import nn
from zerograd.models._shapes import image_shape
from zerograd.ops import relu

__all__ = ["Residual", "ResNet18"]


class Residual(nn.Module):
    """``relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))``; a 1x1 conv shortcut when the
    shape changes."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1,
                               stride=stride)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv3 = None
        if stride != 1 or in_channels != out_channels:
            self.conv3 = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride)

    def forward(self, x):
        y = relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        shortcut = x if self.conv3 is None else self.conv3(x)
        return relu(y + shortcut)


def _stage(in_channels, out_channels, num_blocks, first=False):
    blocks = []
    for i in range(num_blocks):
        stride = 2 if i == 0 and not first else 1
        blocks.append(Residual(in_channels if i == 0 else out_channels, out_channels, stride))
    return nn.Sequential(*blocks)


class ResNet18(nn.Module):
    def __init__(self, in_channels=1, num_classes=10, width=64):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, w, kernel_size=3, stride=1, padding=1),
            nn.BatchNorm2d(w), nn.ReLU(),
            _stage(w, w, 2, first=True),
            _stage(w, 2 * w, 2),
            _stage(2 * w, 4 * w, 2),
            _stage(4 * w, 8 * w, 2),
            nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
            nn.Linear(8 * w, num_classes))

    def forward(self, x):
        return self.net(x)


def build(name, in_shape, num_outputs):
    c, _, _ = image_shape(name, in_shape, 8)
    return ResNet18(c, num_outputs)
