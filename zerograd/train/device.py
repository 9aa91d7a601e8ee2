"""Where a training run computes: ``--device cpu|cuda|cuda:N|auto`` and moving batches there.

``auto`` (the default) takes the GPU when ``zerograd.cuda.is_available()``, else the CPU,
so the same command trains anywhere. The data loaders stay on the host (datasets are
NumPy); ``on_device`` wraps them so each batch is copied to the run's device as it is
drawn. On the CPU nothing is wrapped: the CPU path is exactly what it was.
"""
from zerograd import cuda
from zerograd.device import device as _device, resolve
from zerograd.tensor import Tensor
from zerograd.train.config import UsageError

__all__ = ["DEVICE_CHOICES", "pick_device", "to_device", "on_device"]

DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N")


def pick_device(name="auto"):
    """The ``zerograd.device`` a run asked for; a one-line ``UsageError`` if it is unusable."""
    name = "auto" if name is None else str(name)
    if name == "auto":
        return _device("cuda", cuda.current_device()) if cuda.is_available() else _device("cpu")
    try:
        dev = _device(name)
        resolve(dev)
    except RuntimeError as err:
        raise UsageError(f"--device {name}: {str(err).splitlines()[0]}") from None
    if dev.type == "cuda":
        index = cuda.current_device() if dev.index is None else dev.index
        if index >= cuda.device_count():
            raise UsageError(f"--device {name}: this machine has {cuda.device_count()} GPU(s)")
        return _device("cuda", index)
    return dev


def to_device(batch, device):
    """``batch`` (a tensor, or a tuple/list/dict of them) with every tensor on ``device``."""
    if isinstance(batch, Tensor):
        return batch.to(device)
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


class DeviceLoader:
    """A data loader whose batches arrive on ``device`` (the loader itself is unchanged)."""

    def __init__(self, loader, device):
        self.loader, self.device = loader, device

    def __iter__(self):
        for batch in self.loader:
            yield to_device(batch, self.device)

    def __len__(self):
        return len(self.loader)

    def __getattr__(self, name):  # sampler, dataset, batch_size, ... as the loader has them
        return getattr(self.loader, name)


def on_device(loaders, device):
    """Each loader wrapped to deliver batches on ``device`` (returned as is on the CPU)."""
    if device.type == "cpu":
        return loaders
    return tuple(DeviceLoader(loader, device) for loader in loaders)
