"""AlexNet (d2l 8.1) scaled down for 28x28 inputs.

d2l upsamples Fashion-MNIST to 224x224 for the full network. This version keeps the
design (five convolutions, three max-pools, two wide dropout-regularized dense layers,
ReLU everywhere) with 3x3 kernels and fewer channels, so it runs on 28x28 images on a CPU.
"""
from zerograd import nn
from zerograd.models._shapes import conv_out, image_shape

__all__ = ["AlexNetSmall"]


class AlexNetSmall(nn.Module):
    def __init__(self, in_channels=1, num_classes=10, height=28, width=28, dropout=0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(32, 64, kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(64, 96, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(96, 96, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(96, 64, kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2))
        h, w = (conv_out(conv_out(conv_out(s, 2, 2), 2, 2), 2, 2) for s in (height, width))
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * h * w, 512), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(512, 512), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(512, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


def build(name, in_shape, num_outputs):
    c, h, w = image_shape(name, in_shape, 8)
    return AlexNetSmall(c, num_outputs, h, w)
