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
"""
import types

import numpy as np

from zerograd import backend as _backend_pkg
from zerograd.backend import Backend, cpu

DEVICE = "standin"


class StandInArray(np.ndarray):
    """An array that pretends to live on another device."""

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        args = [_unwrap_strict(x) for x in inputs]
        if out is not None:
            kwargs["out"] = tuple(_unwrap_strict(o) for o in out)
        result = getattr(ufunc, method)(*args, **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap(result)

    def __array_function__(self, func, types_, args, kwargs):
        return _wrap(func(*_unwrap_tree(args, strict=True), **_unwrap_tree(kwargs, strict=True)))

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


def _wrap(obj):
    if type(obj) is np.ndarray:
        return obj.view(StandInArray)
    if isinstance(obj, np.generic):
        return np.asarray(obj).view(StandInArray)  # CuPy reductions give 0-d arrays
    if isinstance(obj, tuple):
        items = [_wrap(o) for o in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
    if isinstance(obj, list):
        return [_wrap(o) for o in obj]
    if isinstance(obj, types.GeneratorType):
        return (_wrap(o) for o in obj)
    return obj


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
                return _wrap(attr(*_unwrap_tree(args, strict), **_unwrap_tree(kwargs, strict)))
            return call
        return attr


class _UfuncProxy:
    def __init__(self, ufunc):
        self._ufunc = ufunc

    def __call__(self, *args, **kwargs):
        if "out" in kwargs:
            return self._ufunc(*args, **kwargs)  # dispatches through StandInArray
        return _wrap(self._ufunc(*_unwrap_tree(args, True), **_unwrap_tree(kwargs, True)))

    def __getattr__(self, name):
        attr = getattr(self._ufunc, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            return _wrap(attr(*_unwrap_tree(args, True), **_unwrap_tree(kwargs, True)))
        return call


class _HostProxy:
    """A CPU kernel (function, class or object) run on host views of stand-in arrays."""

    def __init__(self, target):
        object.__setattr__(self, "_target", target)

    def __call__(self, *args, **kwargs):
        return _wrap_kernel(self._target(*_unwrap_tree(args, False),
                                         **_unwrap_tree(kwargs, False)))

    def __getattr__(self, name):
        return _wrap_kernel(getattr(self._target, name))

    def __setattr__(self, name, value):
        setattr(self._target, name, _unwrap_tree(value, False))


def _wrap_kernel(obj):
    if callable(obj) or isinstance(obj, types.ModuleType) or (
            type(obj).__module__ or "").startswith("zerograd.backend.cpu"):
        return _HostProxy(obj)
    return _wrap(obj)


class _Generator:
    """NumPy's Generator drawing stand-in arrays (the device's own random stream)."""

    def __init__(self, seed):
        self._rng = np.random.Generator(np.random.PCG64(seed))

    def __getattr__(self, name):
        attr = getattr(self._rng, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            return _wrap(attr(*_unwrap_tree(args, True), **_unwrap_tree(kwargs, True)))
        return call


class StandInBackend(Backend):
    type = DEVICE
    xp = _ModuleProxy(np)
    array_type = StandInArray
    array_types = (StandInArray,)
    kernels = types.SimpleNamespace(conv=_HostProxy(cpu.kernels.conv),
                                    pool=_HostProxy(cpu.kernels.pool))

    def from_host(self, array, index=None):
        return np.array(array).view(StandInArray)

    def to_host(self, array):
        return np.array(array.view(np.ndarray) if type(array) is StandInArray else array)

    def errstate(self, **kwargs):
        return np.errstate(**kwargs)

    def data_address(self, array) -> int:
        return array.__array_interface__["data"][0]

    def new_random_generator(self, seed, index=None):
        return _Generator(seed)


standin = StandInBackend()


def register():
    """Register the stand-in device (idempotent)."""
    if DEVICE not in _backend_pkg.registered_types():
        _backend_pkg.register(standin)
    return standin
