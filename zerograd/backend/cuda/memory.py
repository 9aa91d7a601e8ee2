"""CuPy's memory pool with a peak counter, for ``zerograd.cuda.max_memory_allocated``.

CuPy's pool reports the bytes in use now (``used_bytes``) but not the most ever used;
torch's allocator reports both. Routing allocations through ``_malloc`` records the
peak per device at the only moment it can rise, for the cost of one comparison.
"""

_peak = {}  # device id -> the most bytes the pool has had in use
_pool = None
_cupy = None


def install(cupy):
    """Make CuPy allocate from its default pool through the peak-recording allocator."""
    global _pool, _cupy
    if _pool is not None:
        return
    _cupy, _pool = cupy, cupy.get_default_memory_pool()
    current = cupy.cuda.runtime.getDevice

    def _malloc(size):
        pointer = _pool.malloc(size)
        dev = current()
        used = _pool.used_bytes()
        if used > _peak.get(dev, 0):
            _peak[dev] = used
        return pointer

    cupy.cuda.set_allocator(_malloc)


def pool():
    return _pool


def allocated(device_id) -> int:
    """Bytes held by tensors on ``device_id`` (the pool's bytes in use there)."""
    with _cupy.cuda.Device(device_id):
        return int(_pool.used_bytes())


def max_allocated(device_id) -> int:
    return max(_peak.get(device_id, 0), allocated(device_id))


def reset_peak(device_id) -> None:
    _peak[device_id] = allocated(device_id)


def empty_cache() -> None:
    """Give the pool's unused blocks back to the driver (torch.cuda.empty_cache)."""
    _pool.free_all_blocks()
