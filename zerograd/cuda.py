"""``zerograd.cuda``: torch's device queries, answered by the backend registry.

Everything here asks whether a ``cuda`` backend is registered (``zerograd.backend``): on a
machine without one, ``is_available()`` is False and ``device_count()`` is 0, exactly as
torch on a CPU-only machine; a GPU backend only has to register itself.
"""
from zerograd.backend import get, registered_types
from zerograd.random import manual_seed_device_type


def _backend():
    """The registered, usable CUDA backend, or None."""
    if "cuda" not in registered_types():
        return None
    try:
        return get("cuda")
    except RuntimeError:  # registered, but this machine has no usable GPU
        return None


def is_available() -> bool:
    return _backend() is not None


def device_count() -> int:
    backend = _backend()
    return 0 if backend is None else backend.device_count()


def current_device() -> int:
    """The index of the current CUDA device: 0, as zerograd has no ``set_device`` (the
    one-line error when there is no CUDA backend)."""
    get("cuda")
    return 0


def manual_seed(seed: int) -> None:
    """Seed the current CUDA device's default generator (a no-op without a CUDA backend,
    so seeding code written for GPUs runs anywhere)."""
    if is_available():
        manual_seed_device_type("cuda", seed, index=current_device())


def manual_seed_all(seed: int) -> None:
    """Seed the default generators of every CUDA device (a no-op without a CUDA backend)."""
    if is_available():
        manual_seed_device_type("cuda", seed)
