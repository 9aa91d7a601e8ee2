"""The CUDA backend's glue to CuPy, on a CPU: a fake ``cupy`` module answers like CuPy on a
machine with two GPUs (or with none), and ``zerograd.cuda`` and the registry must ask it
the right questions. The arithmetic on real GPUs is tests/cuda/test_gpu_*.py's job."""
import types

import numpy as np
import pytest

import zerograd as zg
from zerograd.backend import _registry
from zerograd.backend import cuda as cuda_backend
from zerograd.backend.cuda import memory


class FakeCudaError(RuntimeError):
    pass


def fake_cupy(gpus=2, names=(b"Fake GPU 0", b"Fake GPU 1")):
    """The parts of CuPy's API the backend uses, with ``gpus`` devices and a memory pool."""
    state = {"current": 0, "used": 0, "synced": 0, "freed": 0}

    class Device:
        def __init__(self, index=None):
            self.id = state["current"] if index is None else index

        def use(self):
            state["current"] = self.id

        def __enter__(self):
            self._previous = state["current"]
            state["current"] = self.id
            return self

        def __exit__(self, *exc):
            state["current"] = self._previous

    def device_count():
        if gpus is None:
            raise FakeCudaError("cudaErrorNoDevice: no CUDA-capable device is detected")
        return gpus

    class Pool:
        def malloc(self, size):
            state["used"] += size
            return size

        def used_bytes(self):
            return state["used"]

        def free_all_blocks(self):
            state["freed"] += 1

    class Stream:
        def synchronize(self):
            state["synced"] += 1

    pool, stream = Pool(), Stream()
    runtime = types.SimpleNamespace(
        CUDARuntimeError=FakeCudaError, getDeviceCount=device_count,
        getDevice=lambda: state["current"],
        getDeviceProperties=lambda i: {"name": names[i]})
    cuda = types.SimpleNamespace(
        runtime=runtime, Device=Device, Stream=types.SimpleNamespace(null=stream),
        get_current_stream=lambda: stream, set_allocator=lambda f: state.update(alloc=f))
    module = types.SimpleNamespace(__name__="cupy", __version__="0-fake", cuda=cuda,
                                   ndarray=type("ndarray", (), {}),
                                   get_default_memory_pool=lambda: pool)
    return module, state


@pytest.fixture
def with_fake_cupy(monkeypatch):
    """Install a fake CuPy as what ``import cupy`` gives the backend; undo everything after."""
    def install(**kwargs):
        module, state = fake_cupy(**kwargs)
        monkeypatch.setattr(cuda_backend, "_import_cupy", lambda: module)
        return module, state
    monkeypatch.setattr(memory, "_pool", None)
    monkeypatch.setattr(memory, "_cupy", None)
    monkeypatch.setattr(memory, "_peak", {})
    monkeypatch.setattr(_registry, "_LAZY_RESULT", {})
    monkeypatch.setattr(_registry, "_BY_DEVICE_TYPE", dict(_registry._BY_DEVICE_TYPE))
    monkeypatch.setattr(_registry, "_BY_ARRAY_TYPE", dict(_registry._BY_ARRAY_TYPE))
    _registry._BY_DEVICE_TYPE.pop("cuda", None)
    return install


def test_cupy_without_a_gpu_is_not_available_and_says_why(with_fake_cupy):
    with_fake_cupy(gpus=None)
    assert not zg.cuda.is_available() and zg.cuda.device_count() == 0
    with pytest.raises(RuntimeError) as err:
        zg.zeros(2, device="cuda")
    message = str(err.value)
    assert "\n" not in message and "CuPy found no usable NVIDIA GPU" in message
    assert "cudaErrorNoDevice" in message and "pip install 'zerograd[gpu]'" in message
    zg.cuda.manual_seed_all(0)  # accepted, as torch does without a GPU
    zg.cuda.empty_cache()


def test_no_cupy_at_all_names_the_extra(with_fake_cupy, monkeypatch):
    def missing():
        raise ImportError("No module named 'cupy'")
    monkeypatch.setattr(cuda_backend, "_import_cupy", missing)
    with pytest.raises(RuntimeError, match="CuPy is not installed .*cupy-cuda13x"):
        zg.cuda.current_device()


def test_queries_go_to_cupy(with_fake_cupy):
    module, state = with_fake_cupy(gpus=2)
    assert zg.cuda.is_available() and zg.cuda.device_count() == 2
    assert "cuda" in zg.backend.registered_types()
    assert zg.cuda.current_device() == 0 and zg.cuda.get_device_name(1) == "Fake GPU 1"
    zg.cuda.set_device("cuda:1")
    assert zg.cuda.current_device() == 1 and zg.cuda.get_device_name() == "Fake GPU 1"
    with zg.cuda.device(0):
        assert zg.cuda.current_device() == 0
    assert zg.cuda.current_device() == 1
    zg.cuda.synchronize()
    assert state["synced"] >= 1
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        zg.cuda.set_device(2)
    with pytest.raises(ValueError, match="Expected a cuda device"):
        zg.cuda.get_device_name("cpu")


def test_memory_statistics_come_from_the_pool_with_a_recorded_peak(with_fake_cupy):
    module, state = with_fake_cupy(gpus=1)
    assert zg.cuda.is_available()
    allocate = state["alloc"]  # what CuPy calls for every new array
    allocate(1000)
    allocate(500)
    assert zg.cuda.memory_allocated() == 1500 and zg.cuda.max_memory_allocated() == 1500
    state["used"] -= 1200  # arrays freed back to the pool
    assert zg.cuda.memory_allocated() == 300 and zg.cuda.max_memory_allocated() == 1500
    zg.cuda.reset_peak_memory_stats()
    assert zg.cuda.max_memory_allocated() == 300
    zg.cuda.empty_cache()
    assert state["freed"] == 1


def test_the_backend_answers_for_its_arrays(with_fake_cupy):
    module, _ = with_fake_cupy(gpus=2)
    backend = zg.backend.get("cuda")
    assert isinstance(backend, cuda_backend.CupyBackend) and backend.xp is module
    assert backend.cache_blocking is False and backend.kernels.optim.FUSED
    array = module.ndarray()
    array.device = types.SimpleNamespace(id=1)
    array.data = types.SimpleNamespace(ptr=1234)
    assert zg.backend.backend_of(array) is backend
    assert str(zg.backend.device_of(array)) == "cuda:1"
    assert zg.backend.data_address(array) == 1234
    with backend.errstate(divide="ignore"):  # CuPy never warns: nothing to silence
        pass
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        backend.from_host(np.ones(2), index=5)
