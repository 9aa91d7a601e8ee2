"""``zerograd.cuda``: torch's CUDA queries, answered by the backend registry.

Everything here asks the registry for the ``cuda`` backend (CuPy, loaded on first use;
see ``zerograd.backend.cuda``). On a machine without CuPy or without a GPU,
``is_available()`` is False and ``device_count()`` is 0, and seeding is a no-op, exactly
as torch on a CPU-only machine; the calls that need a GPU raise the registry's one-line
error, which says how to install the ``gpu`` extra.
"""
from zerograd.backend import get, registered_types, unavailable_reason
from zerograd.random import manual_seed_device_type

__all__ = ["is_available", "device_count", "current_device", "set_device", "get_device_name",
           "synchronize", "manual_seed", "manual_seed_all", "memory_allocated",
           "max_memory_allocated", "reset_peak_memory_stats", "empty_cache", "device"]


def _backend():
    """The usable CUDA backend, or None (loading CuPy if nothing has yet)."""
    if "cuda" not in registered_types():
        unavailable_reason("cuda")  # runs the lazy loader, which registers on success
    if "cuda" not in registered_types():
        return None
    try:
        return get("cuda")
    except RuntimeError:  # registered, but this machine has no usable GPU
        return None


def _require():
    return get("cuda")  # the one-line error when there is no usable GPU


def _cupy():
    return _require().xp


def _index(device):
    """A device index from None (current), an int, 'cuda:1' or a zerograd.device."""
    if device is None:
        return current_device()
    if isinstance(device, int) and not isinstance(device, bool):
        index = device
    else:
        from zerograd.device import device as _device
        d = _device(device)
        if d.type != "cuda":
            raise ValueError(f"Expected a cuda device, but got: {d}")
        index = current_device() if d.index is None else d.index
    count = device_count()
    if not 0 <= index < count:
        raise RuntimeError(f"CUDA error: invalid device ordinal (device {index}; this machine "
                           f"has {count} GPU(s))")
    return index


def is_available() -> bool:
    return _backend() is not None


def device_count() -> int:
    backend = _backend()
    return 0 if backend is None else backend.device_count()


def current_device() -> int:
    """The index of the current CUDA device (where ``device="cuda"`` without index goes)."""
    backend = _require()
    xp = getattr(backend, "xp", None)
    return xp.cuda.Device().id if hasattr(xp, "cuda") else 0


def set_device(device) -> None:
    """Make ``device`` the current CUDA device (``"cuda"`` without index then means it)."""
    index = _index(device)
    _cupy().cuda.Device(index).use()


class device:
    """``with zerograd.cuda.device(1): ...``: a block with another current CUDA device."""

    def __init__(self, device):
        self.index = _index(device)
        self._previous = None

    def __enter__(self):
        self._previous = current_device()
        set_device(self.index)
        return self

    def __exit__(self, *exc):
        set_device(self._previous)
        return False


def get_device_name(device=None) -> str:
    index = _index(device)
    props = _cupy().cuda.runtime.getDeviceProperties(index)
    name = props["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def synchronize(device=None) -> None:
    """Wait until every kernel queued on ``device`` (the current one) has finished."""
    index = _index(device)
    with _cupy().cuda.Device(index):
        _cupy().cuda.Stream.null.synchronize()
        _cupy().cuda.get_current_stream().synchronize()


def manual_seed(seed: int) -> None:
    """Seed the current CUDA device's default generator (a no-op without a CUDA backend,
    so seeding code written for GPUs runs anywhere)."""
    if is_available():
        manual_seed_device_type("cuda", seed, index=current_device())


def manual_seed_all(seed: int) -> None:
    """Seed the default generators of every CUDA device (a no-op without a CUDA backend)."""
    if is_available():
        manual_seed_device_type("cuda", seed)


def memory_allocated(device=None) -> int:
    """Bytes of GPU memory held by tensors on ``device`` (CuPy's memory pool in use)."""
    from zerograd.backend.cuda import memory
    index = _index(device)
    return memory.allocated(index) if memory.pool() is not None else 0


def max_memory_allocated(device=None) -> int:
    """The most bytes ``memory_allocated`` has reached since start or the last reset."""
    from zerograd.backend.cuda import memory
    index = _index(device)
    return memory.max_allocated(index) if memory.pool() is not None else 0


def reset_peak_memory_stats(device=None) -> None:
    from zerograd.backend.cuda import memory
    index = _index(device)
    if memory.pool() is not None:
        memory.reset_peak(index)


def empty_cache() -> None:
    """Release the pool's unused cached blocks to the driver (a no-op without a GPU, as
    in torch)."""
    if is_available():
        from zerograd.backend.cuda import memory
        if memory.pool() is not None:
            memory.empty_cache()
