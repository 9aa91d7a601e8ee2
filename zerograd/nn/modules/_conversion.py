"""dtype and device conversion of a ``Module``: ``to``, ``float``, ``double``, ``cpu``...

Every conversion goes through ``_apply``, which converts parameters in place (keeping
their identity, so an optimizer built earlier still holds them), their grads, and buffers.
"""
from zerograd import dtypes
from zerograd.autograd.grad_mode import no_grad
from zerograd.device import check_device, device as _device_type
from zerograd.tensor import Tensor


class _ConversionMixin:
    """The dtype/device methods of ``Module`` (which supplies ``_parameters``,
    ``_buffers`` and ``children``)."""

    def _apply(self, fn):
        """Convert every parameter (in place, keeping its identity), its grad, and buffers."""
        for module in self.children():
            module._apply(fn)
        with no_grad():
            for p in self._parameters.values():
                if p is None:
                    continue
                new = fn(p)
                if new is not p:
                    p.data = new
                    if p.grad is not None:
                        p.grad.data = fn(p.grad)
            for key, b in self._buffers.items():
                if b is not None:
                    self._buffers[key] = fn(b)
        return self

    def to(self, *args, **kwargs):
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)`` or ``to(tensor)``.

        Parameters move in place (the same objects, so an optimizer built before still
        holds them), with their grads; buffers are replaced. Only floating-point
        parameters and buffers change dtype (integer buffers stay)."""
        dtype = kwargs.pop("dtype", None)
        dev = kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dtype, dev = a.dtype, a.device
            elif isinstance(a, (str, _device_type)) and not (
                    isinstance(a, str) and a in dtypes._BY_NAME):
                dev = a
            elif a is not None:
                dtype = a
        if dev is not None:
            check_device(dev)
        if dtype is not None:
            dtype = dtypes.as_dtype(dtype)
            if not dtype.is_floating_point:
                raise TypeError("nn.Module.to only accepts floating point or complex dtypes, "
                                f"but got desired dtype={dtype}")
        if dtype is None and dev is None:
            return self

        def convert(t):
            if dtype is not None and t.is_floating_point():
                return t.to(device=dev, dtype=dtype)
            return t.to(device=dev) if dev is not None else t
        return self._apply(convert)

    def float(self):
        return self._apply(lambda t: t.float() if t.is_floating_point() else t)

    def double(self):
        return self._apply(lambda t: t.double() if t.is_floating_point() else t)

    def half(self):
        return self._apply(lambda t: t.half() if t.is_floating_point() else t)

    def type(self, dst_type):
        return self._apply(lambda t: t.to(dst_type))

    def cpu(self):
        """Move every parameter and buffer to the CPU (in place for parameters)."""
        return self._apply(lambda t: t.cpu())

    def cuda(self, device=None):
        """Move every parameter and buffer to a CUDA device; a clear one-line error where
        zerograd has no CUDA backend."""
        check_device("cuda" if device is None else _device_type(
            f"cuda:{device}" if isinstance(device, int) else device))
        return self._apply(lambda t: t.cuda(device))

    def share_memory(self):
        return self
