"""A second device that runs on the CPU: proves the device seam without a GPU.

CI has no GPU, so the tests register a backend "standin" whose arrays are a distinct type
(a NumPy ndarray subclass) and which behaves like CuPy where it matters:

* its array module makes stand-in arrays (``xp.zeros`` gives a ``StandInArray``);
* mixing a plain host ``numpy.ndarray`` into an operation on stand-in arrays raises
  ``TypeError``, as CuPy refuses implicit host arrays; Python and NumPy scalars are fine;
* reductions give 0-d stand-in arrays, not host scalars, as CuPy does;
* its kernels are the CPU kernels run on host views, results moved back.

An op that silently computes on the host (``numpy.zeros`` instead of ``ctx.xp.zeros``)
either mixes arrays (TypeError) or returns a host array for a stand-in tensor, which
``Function.apply`` reports; both fail the test that reruns on this device.

Several stand-in devices (``with several_devices(2):`` makes ``standin:0`` and
``standin:1``), for multi-device code such as ``nn.DataParallel``:

* an array remembers its device index (``_device_index``; None is device 0, the one device
  the stand-in always has, so plain "standin" tensors keep their name; with several
  devices its tensors say "standin:0", as CUDA tensors name their index);
* an operation's result lives where its stand-in inputs live, as torch's ops follow their
  inputs; inputs from two devices raise ``MixedDeviceError``, as CuPy refuses arrays of
  another GPU without peer access;
* with no stand-in input (``xp.zeros``) the result is on the current device, as in CuPy:
  device 0 unless ``standin.device_guard(index)`` switches it (per thread, as CuPy's).
"""
import contextlib
import threading
import types

import numpy as np

from zerograd import backend as _backend_pkg
from zerograd.backend import Backend, cpu

DEVICE = "standin"


class StandInArray(np.ndarray):
    """An array that pretends to live on another device."""

    _device_index = None  # device 0 unless set (see several_devices)

    def __array_finalize__(self, obj):
        # views and copies made by ndarray methods (reshape, astype, copy) stay on the device
        index = getattr(obj, "_device_index", None)
        if index is not None:
            self._device_index = index

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        index = _device_index_of(inputs, out or ())
        args = [_unwrap_strict(x) for x in inputs]
        if out is not None:
            kwargs["out"] = tuple(_unwrap_strict(o) for o in out)
        result = getattr(ufunc, method)(*args, **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap(result, index)

    def __array_function__(self, func, types_, args, kwargs):
        index = _device_index_of(args, kwargs)
        return _wrap(func(*_unwrap_tree(args, strict=True), **_unwrap_tree(kwargs, strict=True)),
                     index)

    def __repr__(self):
        return "standin:" + repr(self.view(np.ndarray))


class MixedDeviceError(TypeError):
    pass


def _unwrap_strict(x):
    if type(x) is StandInArray:
        return x.view(np.ndarray)
    if type(x) is np.ndarray:
        raise MixedDeviceError(
            "a host numpy.ndarray was mixed into an operation on stand-in device arrays "
            f"(shape {x.shape}, dtype {x.dtype}): an op computed on the host")
    return x


def _unwrap_tree(obj, strict):
    if type(obj) is StandInArray:
        return obj.view(np.ndarray)
    if type(obj) is np.ndarray:
        return _unwrap_strict(obj) if strict else obj
    if isinstance(obj, _HostProxy):
        return obj._target
    if isinstance(obj, (list, tuple)):
        items = [_unwrap_tree(o, strict) for o in obj]
        return type(obj)(items) if not hasattr(obj, "_fields") else type(obj)(*items)
    if isinstance(obj, dict):
        return {k: _unwrap_tree(v, strict) for k, v in obj.items()}
    return obj


class _CurrentDevice(threading.local):
    index = None  # device 0


_current = _CurrentDevice()


def _device_index_of(*trees):
    """The device index of the stand-in arrays in ``trees`` (None: device 0), the current
    device's where there are none; arrays of two devices raise ``MixedDeviceError``."""
    found = set()
    _collect_indices(trees, found)
    if len(found) > 1:
        names = sorted(f"{DEVICE}:{i or 0}" for i in found)
        raise MixedDeviceError(f"stand-in arrays of two devices, {names[0]} and {names[1]}, were "
                               "mixed in one operation (CuPy refuses arrays of another GPU)")
    return found.pop() if found else _current.index


def _collect_indices(obj, found):
    if type(obj) is StandInArray:
        found.add(obj._device_index)
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            _collect_indices(o, found)
    elif isinstance(obj, dict):
        for o in obj.values():
            _collect_indices(o, found)
    elif isinstance(obj, _HostProxy) and obj._device_index is not None:
        found.add(obj._device_index)  # a kernel object made on a device (modules have none)


def _wrap(obj, index=None):
    if type(obj) is np.ndarray:
        return _on_device(obj.view(StandInArray), index)
    if isinstance(obj, np.generic):  # CuPy reductions give 0-d arrays
        return _on_device(np.asarray(obj).view(StandInArray), index)
    if isinstance(obj, tuple):
        items = [_wrap(o, index) for o in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
    if isinstance(obj, list):
        return [_wrap(o, index) for o in obj]
    if isinstance(obj, types.GeneratorType):
        return (_wrap(o, index) for o in obj)
    return obj


def _on_device(array, index):
    if index is not None:
        array._device_index = index
    return array


# Functions that take host data on purpose (cupy.asarray(numpy_array) is a transfer).
_TRANSFERS = {"array", "asarray", "asanyarray", "ascontiguousarray"}


class _ModuleProxy:
    """``numpy`` (or a submodule) whose functions make and take stand-in arrays."""

    def __init__(self, module):
        self._module = module

    def __getattr__(self, name):
        attr = getattr(self._module, name)
        if name == "ndarray":
            return StandInArray
        if isinstance(attr, types.ModuleType):
            return _ModuleProxy(attr)
        if isinstance(attr, type):
            return attr  # dtypes, errstate, ...
        if isinstance(attr, np.ufunc):
            return _UfuncProxy(attr)
        if callable(attr):
            strict = name not in _TRANSFERS

            def call(*args, **kwargs):
                index = _device_index_of(args, kwargs)
                return _wrap(attr(*_unwrap_tree(args, strict), **_unwrap_tree(kwargs, strict)),
                             index)
            return call
        return attr


class _UfuncProxy:
    def __init__(self, ufunc):
        self._ufunc = ufunc

    def __call__(self, *args, **kwargs):
        if "out" in kwargs:
            return self._ufunc(*args, **kwargs)  # dispatches through StandInArray
        index = _device_index_of(args, kwargs)
        return _wrap(self._ufunc(*_unwrap_tree(args, True), **_unwrap_tree(kwargs, True)), index)

    def __getattr__(self, name):
        attr = getattr(self._ufunc, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            index = _device_index_of(args, kwargs)
            return _wrap(attr(*_unwrap_tree(args, True), **_unwrap_tree(kwargs, True)), index)
        return call


class _HostProxy:
    """A CPU kernel (function, class or object) run on host views of stand-in arrays.

    A kernel object made from arrays of one device keeps that device (``_device_index``)
    for what its methods return."""

    def __init__(self, target, index=None):
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_device_index", index)

    def __call__(self, *args, **kwargs):
        index = _device_index_of(args, kwargs, [self])
        return _wrap_kernel(self._target(*_unwrap_tree(args, False),
                                         **_unwrap_tree(kwargs, False)), index)

    def __getattr__(self, name):
        return _wrap_kernel(getattr(self._target, name), self._device_index)

    def __setattr__(self, name, value):
        setattr(self._target, name, _unwrap_tree(value, False))


def _wrap_kernel(obj, index=None):
    if callable(obj) or isinstance(obj, types.ModuleType) or (
            type(obj).__module__ or "").startswith("zerograd.backend.cpu"):
        return _HostProxy(obj, index)
    return _wrap(obj, index)


class _Generator:
    """NumPy's Generator drawing stand-in arrays (the device's own random stream)."""

    def __init__(self, seed, index=None):
        self._rng = np.random.Generator(np.random.PCG64(seed))
        self._index = index or None  # device 0 is None, as on arrays

    def __getattr__(self, name):
        attr = getattr(self._rng, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            return _wrap(attr(*_unwrap_tree(args, True), **_unwrap_tree(kwargs, True)),
                         self._index)
        return call


class StandInBackend(Backend):
    type = DEVICE
    xp = _ModuleProxy(np)
    array_type = StandInArray
    array_types = (StandInArray,)
    kernels = types.SimpleNamespace(conv=_HostProxy(cpu.kernels.conv),
                                    pool=_HostProxy(cpu.kernels.pool))
    _count = 1  # how many stand-in devices there are (several_devices changes it)

    def device_count(self) -> int:
        return self._count

    def device_index(self, array):
        if type(array) is not StandInArray:
            return None
        # with one device its arrays are "standin"; with several, "standin:0" ... as CUDA's
        return array._device_index or (0 if self._count > 1 else None)

    def _check_index(self, index):
        if not 0 <= index < self._count:
            raise RuntimeError(f"stand-in error: invalid device ordinal ({DEVICE}:{index}; "
                               f"there are {self._count} stand-in device(s): use "
                               "tests.standin_device.several_devices)")

    def from_host(self, array, index=None):
        moved = np.array(array).view(StandInArray)
        if index is None:
            index = _current.index  # CuPy's asarray copies to the current device
        if index:  # index 0 is the stand-in's first device: None on arrays
            self._check_index(index)
            moved._device_index = index
        return moved

    @contextlib.contextmanager
    def device_guard(self, index):
        """Make ``standin:index`` the current device in this block (``cupy.cuda.Device``)."""
        self._check_index(index)
        previous, _current.index = _current.index, index or None
        try:
            yield
        finally:
            _current.index = previous

    def to_host(self, array):
        return np.array(array.view(np.ndarray) if type(array) is StandInArray else array)

    def errstate(self, **kwargs):
        return np.errstate(**kwargs)

    def data_address(self, array) -> int:
        return array.__array_interface__["data"][0]

    def new_random_generator(self, seed, index=None):
        return _Generator(seed, index)


standin = StandInBackend()


def register():
    """Register the stand-in device (idempotent)."""
    if DEVICE not in _backend_pkg.registered_types():
        _backend_pkg.register(standin)
    return standin


@contextlib.contextmanager
def several_devices(count):
    """Within it there are ``count`` stand-in devices: ``standin:0`` ... (their
    ``zerograd.device`` objects are what it yields)."""
    import zerograd
    register()
    previous, standin._count = standin._count, count
    try:
        yield [zerograd.device(DEVICE, i) for i in range(count)]
    finally:
        standin._count = previous
