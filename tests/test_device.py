"""The device seam itself: devices, moving tensors, mixed-device errors, the registry."""
import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd import backend
from tests.oracle import assert_close
from tests.standin_device import DEVICE, MixedDeviceError, StandInArray


def test_device_names_like_torch():
    for name in ("cpu", "cuda", "cuda:1"):
        assert str(zg.device(name)) == str(torch.device(name))
        assert repr(zg.device(name)) == repr(torch.device(name))
    assert zg.device("cuda", 1) == zg.device("cuda:1")
    assert zg.device("cpu") != "cpu"  # as in torch, a device never equals a string
    with pytest.raises(RuntimeError, match="Expected one of"):
        zg.device("tpu")


@pytest.mark.skipif(zg.cuda.is_available(), reason="asserts what a machine without a GPU says")
def test_cuda_without_a_gpu_backend_is_one_clear_line():
    assert not zg.cuda.is_available() and zg.cuda.device_count() == 0
    for make in (lambda: zg.zeros(2, device="cuda"), lambda: zg.ones(2).cuda(),
                 lambda: zg.ones(2).to("cuda:0"), lambda: zg.nn.Linear(2, 2).cuda()):
        with pytest.raises(RuntimeError) as err:
            make()
        message = str(err.value)
        assert "\n" not in message and "cuda" in message and "device='cpu'" in message


def test_registry_answers_per_array():
    host = np.zeros(3)
    dev = backend.get(DEVICE).from_host(host)
    assert type(dev) is StandInArray
    assert backend.array_module(host) is np
    assert backend.backend_of(dev).type == DEVICE
    assert str(backend.device_of(dev)) == DEVICE and str(backend.device_of(host)) == "cpu"
    assert backend.array_module(2.0) is np and backend.is_array(dev)
    np.testing.assert_array_equal(backend.to_host(dev), host)


def test_to_device_and_back_is_differentiable():
    x = zg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.to(DEVICE)
    assert str(y.device) == DEVICE and type(y._data) is StandInArray
    assert y.grad_fn.name() == "ToCopyBackward0"
    (y * y).sum().backward()
    assert str(x.grad.device) == "cpu"
    assert_close(x.grad, torch.tensor([2.0, 4.0, 6.0]))
    assert x.to("cpu") is x and y.to(DEVICE) is y
    assert str(y.cpu().device) == "cpu" and not y.is_cuda


def test_to_other_tensor_takes_its_dtype_and_device():
    a = zg.ones(2)
    b = zg.zeros(2, dtype=zg.float64).to(DEVICE)
    moved = a.to(b)
    assert moved.dtype == zg.float64 and str(moved.device) == DEVICE


def test_mixed_devices_raise_torchs_message():
    a, b = zg.ones(3), zg.ones(3).to(DEVICE)
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device, but "
                                           "found at least two devices, cpu and standin!"):
        a + b


def test_a_zero_dim_cpu_tensor_joins_another_device_as_torch_allows():
    b = zg.ones(3).to(DEVICE)
    out = b * zg.tensor(2.0)
    assert str(out.device) == DEVICE
    np.testing.assert_array_equal(out.cpu().numpy(), [2.0, 2.0, 2.0])


def test_host_conversions_of_a_device_tensor():
    y = zg.tensor([1.5, 2.5]).to(DEVICE)
    with pytest.raises(TypeError, match="Use Tensor.cpu"):
        y.numpy()
    with pytest.raises(TypeError, match="Use Tensor.cpu"):
        np.asarray(y)
    assert y.tolist() == [1.5, 2.5] and y[1].item() == 2.5 and float(y.sum()) == 4.0
    assert "device='standin'" in repr(y)


def test_creation_on_a_device_and_the_root_gradient_there():
    x = zg.randn(2, 3, device=DEVICE, requires_grad=True)
    assert str(x.device) == DEVICE
    loss = (x * 3).sum()
    loss.backward()
    assert str(x.grad.device) == DEVICE
    np.testing.assert_array_equal(x.grad.cpu().numpy(), np.full((2, 3), 3.0, np.float32))


def test_an_op_that_computes_on_the_host_is_caught():
    class HostZeros(zg.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return np.zeros(a.shape, a.dtype)  # wrong: must be ctx.xp.zeros

    class HostMix(zg.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a + np.ones(a.shape, a.dtype)

    x = zg.ones(2).to(DEVICE)
    with pytest.raises(RuntimeError, match="HostZeros.forward returned a ndarray"):
        HostZeros.apply(x)
    with pytest.raises(MixedDeviceError):
        HostMix.apply(x)
    assert str(HostZeros.apply(zg.ones(2)).device) == "cpu"  # fine on the CPU


def test_collate_and_loaders_stay_on_the_host():
    from zerograd.utils.data import DataLoader, TensorDataset
    from zerograd.utils.data.collate import default_collate
    batch = default_collate([np.ones(3, np.float32), np.zeros(3, np.float32)])
    assert str(batch.device) == "cpu" and type(batch._data) is np.ndarray
    loader = DataLoader(TensorDataset(zg.arange(6.0).reshape(3, 2)), batch_size=2)
    (first,) = next(iter(loader))
    assert str(first.device) == "cpu"


def test_comparisons_refuse_two_devices_but_take_a_cpu_scalar():
    x = zg.tensor([0.0, 2.0]).to(DEVICE)
    for compare in (lambda a, b: a < b, lambda a, b: a == b, zg.logical_and):
        with pytest.raises(RuntimeError, match=f"found at least two devices, cpu and {DEVICE}!"):
            compare(x, zg.ones(2))
    assert (x < zg.tensor(1.0)).tolist() == [True, False]  # a 0-d CPU tensor is a scalar
    assert str((zg.tensor(1.0) < x).device) == DEVICE
