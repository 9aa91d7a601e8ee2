"""The device seam: which array library and kernels serve each device.

A backend is registered per device type: ``cpu`` is NumPy; an accelerator (CuPy for
``cuda``) registers the same way. Nothing else in the package picks an array library
globally: an op takes the module of its inputs (``array_module``, or ``ctx.xp`` inside a
``Function``), creation functions take the module of their ``device=``, and host-side
code (datasets, loaders, training loop, plots, checkpoints) uses NumPy directly.

    backend.get("cpu").xp           # numpy
    backend.array_module(a, b)      # the module of a's (and b's) device
    backend.device_of(a)            # zerograd.device('cpu')
    backend.backend_of(a).kernels   # the device's conv/pooling kernels
"""
from zerograd.backend._registry import (  # noqa: F401
    Backend, array_module, backend_of, device_of, get, register, register_lazy,
    registered_types, unavailable_reason, unregister)
from zerograd.backend.cpu import cpu


def _load_cuda():
    from zerograd.backend.cuda import load  # imports CuPy: only when "cuda" is asked for
    return load()


register(cpu)
register_lazy("cuda", _load_cuda)


def is_array(obj) -> bool:
    """True for arrays (and array scalars) of any registered backend."""
    if isinstance(obj, cpu.array_types):
        return True
    return any(isinstance(obj, get(t).array_types) for t in registered_types())


def to_host(array):
    """A NumPy array with the values of ``array``, whatever its device."""
    return backend_of(array).to_host(array)


def errstate(array=None, **kwargs):
    """Silence floating-point warnings (``errstate(divide='ignore')``) on ``array``'s device."""
    return (cpu if array is None else backend_of(array)).errstate(**kwargs)


def data_address(array) -> int:
    """The address of an array's first element (to relate views to the memory they share)."""
    return backend_of(array).data_address(array)

