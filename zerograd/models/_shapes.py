"""Shape bookkeeping shared by the model zoo: checking inputs and conv/pool output sizes."""
import math

__all__ = ["conv_out", "image_shape", "num_features"]


def conv_out(size, kernel, stride=1, padding=0):
    """Output length of a convolution or pooling window along one spatial dim."""
    return (size + 2 * padding - kernel) // stride + 1


def num_features(in_shape):
    """Inputs per sample once flattened: (64,) -> 64, (1, 28, 28) -> 784."""
    return int(math.prod(in_shape))


def image_shape(name, in_shape, min_size):
    """``(channels, height, width)`` of an image input, or a clear error for other inputs."""
    shape = tuple(int(s) for s in in_shape)
    if len(shape) != 3:
        raise ValueError(f"model '{name}' needs image input (channels, height, width), but the "
                         f"data has samples of shape {shape}; use linear, logistic, softmax or "
                         "mlp for tabular data")
    c, h, w = shape
    if h < min_size or w < min_size:
        raise ValueError(f"model '{name}' needs images of at least {min_size}x{min_size} "
                         f"pixels, got {h}x{w}")
    return c, h, w
