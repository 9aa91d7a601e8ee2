"""VGG (d2l 8.2): blocks of 3x3 convolutions followed by a 2x2 max-pool.

d2l's small VGG for Fashion-MNIST divides the channels of VGG-11 by four on 224x224
inputs. On 28x28 images three blocks fit (28 -> 14 -> 7 -> 3), so this version keeps
VGG-11's first three blocks (1, 1 and 2 convolutions) at a quarter of the width.
"""
from zerograd import nn
from zerograd.models._shapes import image_shape

__all__ = ["VGGSmall", "vgg_block"]


def vgg_block(num_convs, in_channels, out_channels):
    layers = []
    for _ in range(num_convs):
        layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU()]
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


class VGGSmall(nn.Module):
    def __init__(self, in_channels=1, num_classes=10, height=28, width=28,
                 arch=((1, 16), (1, 32), (2, 64)), dropout=0.5):
        super().__init__()
        blocks = []
        for num_convs, out_channels in arch:
            blocks.append(vgg_block(num_convs, in_channels, out_channels))
            in_channels = out_channels
            height, width = height // 2, width // 2
        self.features = nn.Sequential(*blocks)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_channels * height * width, 256), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(256, 256), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(256, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


def build(name, in_shape, num_outputs):
    c, h, w = image_shape(name, in_shape, 8)
    return VGGSmall(c, num_outputs, h, w)
