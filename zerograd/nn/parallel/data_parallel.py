"""``DataParallel``: torch's single-process multi-device wrapper.

zerograd runs one device per process, so on the CPU (and on a single device) this is a
pass-through that keeps torch's surface (``.module``, ``module.``-prefixed state_dict); use
``DistributedDataParallel`` to train on several processes."""
from zerograd.nn.modules.module import Module

__all__ = ["DataParallel"]


class DataParallel(Module):
    """Call ``module`` unchanged; ``device_ids``, ``output_device`` and ``dim`` are kept for
    torch's signature."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        self.device_ids = list(device_ids) if device_ids is not None else []
        self.output_device = output_device
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)
