"""Moving a tensor between devices: ``Tensor.to(device)``, ``.cpu()``, ``.cuda()``.

A copy to another device is differentiable (torch's ``ToCopyBackward0``): the gradient
travels back to the device the input came from, and a tangent travels forward with it.
"""
from zerograd.autograd.function import Function
from zerograd.backend import backend_of, device_of
from zerograd.device import resolve, same_device

__all__ = ["to_device"]


def _move(array, backend, index):
    source = backend_of(array)
    if source is backend and source.device_index(array) == index:
        return array
    host = source.to_host(array)
    return backend.from_host(host, index)


class ToDevice(Function):
    changes_device = True

    @staticmethod
    def forward(ctx, a, device):
        backend, index = resolve(device)
        ctx.source = device_of(a)
        return _move(a, backend, index)

    @staticmethod
    def backward(ctx, grad_output):
        return to_device(grad_output, ctx.source)

    @staticmethod
    def jvp(ctx, tangent, _device=None):  # one tangent per forward argument
        return None if tangent is None else to_device(tangent, ctx.fw_output.device)

    @classmethod
    def name(cls):
        return "ToCopyBackward0"


def to_device(input, device, copy=False):
    """``input`` on ``device`` (the same tensor when it is already there, unless ``copy``)."""
    if same_device(input.device, device):
        return input.clone() if copy else input
    return ToDevice.apply(input, device)
