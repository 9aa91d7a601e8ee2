"""The CUDA backend: CuPy arrays on NVIDIA GPUs (``device="cuda"``, ``"cuda:1"``).

This package is imported only when something asks for the ``cuda`` device (``load`` is
the lazy entry the registry calls), so ``import zerograd`` never imports CuPy. ``load``
answers ``(backend, None)`` on a machine with CuPy and a GPU, else ``(None, why)``:
the reason becomes the one-line error of ``device="cuda"``.

CuPy mirrors NumPy's API, so the ops run unchanged with ``xp = cupy``; what differs
lives here: host transfers, atomic ``scatter_add``, the random generator (``random.py``),
a memory pool that records its peak (``memory.py``), the convolution and pooling kernels,
written for the GPU (whole-batch im2col + one cuBLAS GEMM, col2im by kernel offsets), and
fused optimizer updates (``optim_kernels.py``).

Ops run on the current device (``zerograd.cuda.set_device``), as CuPy launches kernels
there: tensors on ``cuda:1`` are computed on under ``with zerograd.cuda.device(1)``.
"""
import contextlib
import importlib
import types

from zerograd.backend._registry import Backend

__all__ = ["CupyBackend", "load"]

_ATOMIC_ADD = frozenset("iIlLqQefd")  # dtype chars that CUDA's atomicAdd covers


class CupyBackend(Backend):
    """``xp = cupy``; one backend for every GPU, an array's device index is its own."""

    type = "cuda"
    cache_blocking = False  # one kernel launch per pass beats many over cache-sized blocks

    def __init__(self, cupy):
        from zerograd.backend.cuda import conv_kernels, optim_kernels, pool_kernels
        self.xp = cupy
        self.array_type = cupy.ndarray
        self.array_types = (cupy.ndarray,)
        self.kernels = types.SimpleNamespace(conv=conv_kernels, pool=pool_kernels,
                                             optim=optim_kernels)
        self._count = None

    def is_available(self) -> bool:
        return self.device_count() > 0

    def device_count(self) -> int:
        if self._count is None:
            try:
                self._count = self.xp.cuda.runtime.getDeviceCount()
            except self.xp.cuda.runtime.CUDARuntimeError:
                self._count = 0
        return self._count

    def device_index(self, array):
        return array.device.id

    def _device(self, index):
        """The CuPy device context for ``index`` (the current device when None)."""
        if index is None:
            return contextlib.nullcontext()
        if not 0 <= index < self.device_count():
            raise RuntimeError(f"CUDA error: invalid device ordinal (cuda:{index}; this "
                               f"machine has {self.device_count()} GPU(s))")
        return self.xp.cuda.Device(index)

    def device_guard(self, index):
        return self._device(index)

    def from_host(self, array, index=None):
        with self._device(index):
            return self.xp.asarray(array)

    def to_host(self, array):
        return self.xp.asnumpy(array)  # waits for the kernels that write ``array``

    def errstate(self, **kwargs):
        # CuPy kernels never warn about inf/nan (IEEE results, as on the CPU under errstate).
        return contextlib.nullcontext()

    def data_address(self, array) -> int:
        return array.data.ptr

    def scatter_add(self, out, index, values):
        """``out[index] += values`` with CUDA atomic adds (``cupyx.scatter_add``); dtypes
        without an atomic add (bool, 8/16-bit integers, complex) add in a wider copy."""
        import cupyx
        if out.dtype.char in _ATOMIC_ADD:
            cupyx.scatter_add(out, index, values)
        elif out.dtype.kind in "biu":
            wide = out.astype("int64")
            cupyx.scatter_add(wide, index, self.xp.asarray(values).astype("int64"))
            out[...] = wide.astype(out.dtype)
        else:
            self.xp.add.at(out, index, values)

    def new_random_generator(self, seed, index=None):
        from zerograd.backend.cuda.random import CupyGenerator
        with self._device(index):
            return CupyGenerator(self.xp, seed, self.xp.cuda.Device().id)


def _import_cupy():
    """CuPy, or raise ImportError. A separate function so tests can stand one in."""
    return importlib.import_module("cupy")


def load():
    """``(CupyBackend, None)`` where CuPy imports and sees a GPU, else ``(None, reason)``."""
    try:
        cupy = _import_cupy()
    except ImportError:
        return None, "CuPy is not installed"
    except Exception as err:  # a broken CUDA install fails at import with its own types
        return None, f"CuPy failed to import ({type(err).__name__}: {_first_line(err)})"
    backend = CupyBackend(cupy)
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except cupy.cuda.runtime.CUDARuntimeError as err:
        return None, f"CuPy found no usable NVIDIA GPU ({_first_line(err)})"
    if count == 0:
        return None, "CuPy found no NVIDIA GPU"
    from zerograd.backend.cuda import memory
    memory.install(cupy)
    return backend, None


def _first_line(err):
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
