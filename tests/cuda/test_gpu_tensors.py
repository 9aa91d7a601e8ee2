"""CUDA tensors on a real GPU: creation, transfers, host conversions, zerograd.cuda's queries,
seeded randomness and memory statistics. Skipped without CuPy or a GPU."""
import numpy as np
import pytest

import zerograd as zg
from tests.cuda._gpu import require_gpu

cupy = require_gpu()


def test_creation_functions_make_cupy_arrays_on_the_current_gpu():
    for t in (zg.zeros(2, 3, device="cuda"), zg.ones(2, device="cuda:0"),
              zg.arange(5, device="cuda"), zg.tensor([1.0, 2.0], device="cuda"),
              zg.randn(4, device="cuda"), zg.rand(2, device="cuda"), zg.eye(3, device="cuda"),
              zg.full((2,), 7.0, device=zg.device("cuda", 0)), zg.empty(3, device="cuda"),
              zg.randint(0, 5, (3,), device="cuda"), zg.randperm(6, device="cuda")):
        assert isinstance(t._data, cupy.ndarray) and str(t.device) == "cuda:0" and t.is_cuda


def test_moves_between_host_and_gpu_keep_values_and_dtype():
    x = zg.arange(6, dtype=zg.float64).reshape(2, 3)
    for moved in (x.cuda(), x.cuda(0), x.to("cuda"), x.to("cuda:0"), x.to(zg.device("cuda"))):
        assert str(moved.device) == "cuda:0" and moved.dtype is zg.float64
        back = moved.cpu()
        assert str(back.device) == "cpu" and back.tolist() == x.tolist()
    assert x.cuda().cuda() is not None and x.to("cuda", zg.float32).dtype is zg.float32


def test_numpy_on_a_cuda_tensor_says_use_cpu_first_and_item_syncs():
    x = zg.tensor([1.5, 2.5], device="cuda")
    with pytest.raises(TypeError, match=r"^can't convert cuda:0 device type tensor to numpy\. "
                                        r"Use Tensor\.cpu\(\) to copy the tensor to host "
                                        r"memory first\.$"):
        x.numpy()
    with pytest.raises(TypeError, match="can't convert cuda:0"):
        np.asarray(x)
    assert x.sum().item() == 4.0 and float(x[0]) == 1.5 and int(x[1]) == 2
    assert x.tolist() == [1.5, 2.5] and "device='cuda:0'" in repr(x)


def test_pin_memory_is_accepted_by_tensors_and_loaders():
    from zerograd.utils.data import DataLoader, TensorDataset
    x = zg.ones(4, 2)
    assert x.pin_memory() is not None
    loader = DataLoader(TensorDataset(x), batch_size=2, pin_memory=True)
    (batch,) = next(iter(loader))
    assert batch.to("cuda", non_blocking=True).is_cuda


def test_cuda_queries():
    assert zg.cuda.is_available() and zg.cuda.device_count() >= 1
    assert zg.cuda.current_device() == 0
    assert isinstance(zg.cuda.get_device_name(), str) and zg.cuda.get_device_name(0)
    zg.cuda.synchronize()
    zg.cuda.set_device(0)
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        zg.cuda.get_device_name(zg.cuda.device_count())


def test_memory_statistics_follow_allocations():
    zg.cuda.empty_cache()
    zg.cuda.reset_peak_memory_stats()
    before = zg.cuda.memory_allocated()
    x = zg.empty(1 << 22, device="cuda")  # 16 MiB of float32
    assert zg.cuda.memory_allocated() >= before + (1 << 24)
    peak = zg.cuda.max_memory_allocated()
    del x
    assert zg.cuda.memory_allocated() < peak and zg.cuda.max_memory_allocated() == peak
    zg.cuda.empty_cache()


def test_seeded_draws_repeat_on_the_gpu_and_the_state_round_trips():
    zg.manual_seed(3)
    a = zg.randn(5, device="cuda").cpu().tolist()
    zg.cuda.manual_seed(3)
    b = zg.randn(5, device="cuda").cpu().tolist()
    zg.cuda.manual_seed_all(3)
    c = zg.randn(5, device="cuda").cpu().tolist()
    assert a == b == c
    gen = zg.Generator(device="cuda").manual_seed(11)
    zg.rand(3, device="cuda", generator=gen)
    state = gen.get_state()
    first = zg.rand(3, device="cuda", generator=gen).cpu().tolist()
    gen.set_state(state)
    assert zg.rand(3, device="cuda", generator=gen).cpu().tolist() == first
    draws = zg.rand(20000, device="cuda").cpu().numpy()
    assert 0.45 < draws.mean() < 0.55 and draws.min() >= 0 and draws.max() < 1
    keep = zg.nn.functional.dropout(zg.ones(10000, device="cuda"), 0.5)
    assert keep.is_cuda and 0.4 < (keep > 0).float().mean().item() < 0.6


def test_a_cpu_generator_is_refused_for_cuda_draws():
    with pytest.raises(RuntimeError, match="Expected a 'cuda' device type for generator"):
        zg.rand(2, device="cuda", generator=zg.Generator())


@pytest.mark.skipif(zg.cuda.device_count() < 2, reason="needs two GPUs")
def test_a_second_gpu():
    x = zg.ones(3, device="cuda:1")
    assert str(x.device) == "cuda:1" and str(x.cuda(0).device) == "cuda:0"
    with zg.cuda.device(1):
        assert zg.cuda.current_device() == 1
    assert zg.cuda.current_device() == 0
