"""The registry of backends: one per device type, found from a device or from an array.

Two questions every op asks go through here: "which array library serves this array?"
(``array_module``) and "on which device does it live?" (``device_of``). The answer comes
from the array's type, so CPU and accelerator tensors coexist and each op follows its
inputs (DeZero's and Chainer's ``get_array_module``).
"""
import contextlib


class Backend:
    """What one device type provides. Subclasses fill in the array library and kernels.

    * ``type``: the device type name ("cpu", "cuda", ...).
    * ``xp``: the NumPy-compatible array module (``numpy``, ``cupy``).
    * ``array_type``: the type of its arrays; ``array_types`` all types that belong to it
      (e.g. NumPy's scalars too).
    * ``kernels``: the module of device-specific kernels (convolution, pooling).
    """

    type = None
    xp = None
    array_type = None
    array_types = ()
    kernels = None
    # Whether several elementwise passes over one large array should run block by block
    # so each block stays in cache (a CPU's trick); a GPU wants one kernel per pass.
    cache_blocking = True

    def is_available(self) -> bool:
        return True

    def device_count(self) -> int:
        return 1

    def device_index(self, array):
        """The index of the device ``array`` lives on (None where the type has one device)."""
        return None

    def from_host(self, array, index=None):
        """A NumPy array copied onto this device."""
        raise NotImplementedError

    def device_guard(self, index):
        """A context manager making device ``index`` current (where new arrays are allocated
        and kernels run); nothing to do for a type with one device."""
        return contextlib.nullcontext()

    def to_host(self, array):
        """This device's array as a NumPy array (a copy unless the device is the host)."""
        raise NotImplementedError

    def errstate(self, **kwargs):
        """Silence floating-point warnings where IEEE results (inf, nan) are intended."""
        raise NotImplementedError

    def data_address(self, array) -> int:
        raise NotImplementedError

    def new_random_generator(self, seed, index=None):
        """A NumPy-``Generator``-like object drawing on this device, seeded with ``seed``."""
        raise NotImplementedError

    def scatter_add(self, out, index, values):
        """``out[index] += values`` in place, repeated indices adding up (``numpy.add.at``;
        a GPU does it with atomic adds)."""
        self.xp.add.at(out, index, values)

    def __repr__(self):
        return f"<zerograd backend {self.type!r}: {getattr(self.xp, '__name__', self.xp)}>"


_BY_DEVICE_TYPE = {}
_BY_ARRAY_TYPE = {}  # exact array type -> backend: the fast path of backend_of
_LAZY = {}  # device type -> loader of its backend (see register_lazy)
_LAZY_RESULT = {}  # device type -> what its loader answered: (backend, reason)


def register(backend: Backend) -> Backend:
    """Make ``backend`` serve its device type and its array types (later ones win)."""
    _BY_DEVICE_TYPE[backend.type] = backend
    for kind in backend.array_types:
        _BY_ARRAY_TYPE[kind] = backend
    return backend


def unregister(device_type: str) -> None:
    backend = _BY_DEVICE_TYPE.pop(device_type, None)
    if backend is not None:
        for kind, owner in list(_BY_ARRAY_TYPE.items()):
            if owner is backend:
                del _BY_ARRAY_TYPE[kind]


def registered_types():
    return tuple(_BY_DEVICE_TYPE)


def register_lazy(device_type: str, loader) -> None:
    """Let ``device_type`` be loaded on first use: ``loader()`` gives ``(backend, None)``
    or ``(None, why it is unavailable)`` (CUDA: importing CuPy is slow and often fails,
    so ``import zerograd`` must not do it)."""
    _LAZY[device_type] = loader


def _load_lazy(device_type):
    """The lazily loaded backend of ``device_type`` (registered), or None; loads once."""
    if device_type not in _LAZY_RESULT:
        _LAZY_RESULT[device_type] = _LAZY[device_type]()
    backend, _ = _LAZY_RESULT[device_type]
    if backend is not None and device_type not in _BY_DEVICE_TYPE:
        register(backend)
    return backend


def unavailable_reason(device_type: str):
    """Why a lazily loaded device type has no backend here (None if it has one)."""
    if device_type in _LAZY:
        _load_lazy(device_type)
        return _LAZY_RESULT[device_type][1]
    return None


def get(device_type: str) -> Backend:
    """The backend of a device type; a clear error when this machine has none for it."""
    backend = _BY_DEVICE_TYPE.get(device_type)
    if backend is None and device_type in _LAZY:
        backend = _load_lazy(device_type)
    if backend is None or not backend.is_available():
        if device_type == "cuda":
            why = unavailable_reason("cuda") or "no CUDA backend is registered"
            raise RuntimeError(
                f"device 'cuda' is not available: {why} (zerograd.cuda.is_available() is "
                "False); a GPU needs CuPy: pip install 'zerograd[gpu]' (cupy-cuda12x; "
                "cupy-cuda13x for CUDA 13 drivers). Use device='cpu'.")
        raise RuntimeError(f"device type {device_type!r} is not available in zerograd; "
                           f"available: {', '.join(registered_types())}")
    return backend


def backend_of(array) -> Backend:
    """The backend whose array type ``array`` is (NumPy for Python numbers)."""
    backend = _BY_ARRAY_TYPE.get(type(array))
    if backend is not None:
        return backend
    # A subclass, or a scalar type not listed: the most recently registered owner wins,
    # and the answer is cached for the next array of this type.
    if type(array).__module__.startswith("cupy") and "cuda" in _LAZY:
        _load_lazy("cuda")  # a CuPy array handed in before anything asked for "cuda"
    for backend in reversed(list(_BY_DEVICE_TYPE.values())):
        if isinstance(array, backend.array_types):
            _BY_ARRAY_TYPE[type(array)] = backend
            return backend
    return _BY_DEVICE_TYPE["cpu"]


def array_module(*arrays):
    """The array library of ``arrays`` (``numpy`` for CPU arrays and plain numbers)."""
    for a in arrays:
        if a is not None and not isinstance(a, (int, float, bool, complex)):
            return backend_of(getattr(a, "_data", a)).xp
    return _BY_DEVICE_TYPE["cpu"].xp


def device_of(array):
    """The ``zerograd.device`` an array lives on."""
    from zerograd.device import device
    backend = backend_of(array)
    return device(backend.type, backend.device_index(array))
