"""nn.Module on a second device (the stand-in of tests/standin_device.py): ``to`` / ``cpu`` /
``cuda`` move parameters (same objects), grads and buffers; layers built with ``device=``
initialize there; a model and an input on different devices get torch's error."""
import numpy as np
import pytest

import zerograd as zg
from zerograd import nn
from tests.nn.test_module import Net

STANDIN = "standin"  # the test device of tests/standin_device.py (registered in conftest)


def test_to_device_moves_parameters_grads_and_buffers_keeping_identity():
    net = Net()
    net(zg.randn(2, 4)).sum().backward()
    params = list(net.parameters())
    before = {n: p.detach().numpy().copy() for n, p in net.named_parameters()}
    grads = {n: p.grad for n, p in net.named_parameters()}
    assert net.to(STANDIN) is net
    for name, p in net.named_parameters():
        assert str(p.device) == STANDIN and isinstance(p, nn.Parameter) and p.requires_grad
        assert p.grad is grads[name] and str(p.grad.device) == STANDIN  # same grad object
        np.testing.assert_array_equal(p.detach().cpu().numpy(), before[name])
    assert list(net.parameters()) == params and all(a is b for a, b in
                                                    zip(net.parameters(), params))
    assert {str(b.device) for b in net.buffers()} == {STANDIN}
    assert [n for n, _ in net.named_buffers()] == ["steps", "cache"]
    assert "cache" not in net.state_dict()  # non-persistent stays non-persistent
    out = net(zg.randn(2, 4, device=STANDIN))
    assert str(out.device) == STANDIN
    net.cpu()
    assert all(str(t.device) == "cpu" for t in list(net.parameters()) + list(net.buffers()))
    assert all(a is b for a, b in zip(net.parameters(), params))
    net.to(device=STANDIN, dtype=zg.float64)  # both at once; integer buffers keep dtype
    assert net.fc.weight.dtype is zg.float64 and str(net.fc.weight.device) == STANDIN


def test_to_device_accepts_a_tensor_and_moves_lazy_and_embedding_modules():
    net = nn.Sequential(nn.LazyLinear(3), nn.BatchNorm1d(3), nn.Embedding(4, 3))
    net[0:2].to(zg.zeros(1, dtype=zg.float64, device=STANDIN))  # dtype and device of a tensor
    out = net[0:2](zg.randn(5, 6, dtype=zg.float64, device=STANDIN))
    assert str(out.device) == STANDIN and out.dtype is zg.float64
    assert str(net[0].weight.device) == STANDIN and tuple(net[0].weight.shape) == (3, 6)
    assert str(net[1].running_mean.device) == STANDIN
    assert str(net[1].num_batches_tracked.device) == STANDIN
    assert net[1].num_batches_tracked.dtype is zg.int64 and net[1].num_batches_tracked.item() == 1
    emb = net[2].to(STANDIN)
    assert str(emb(zg.tensor([[1, 3]], device=STANDIN)).device) == STANDIN


def test_layers_built_on_a_device_initialize_there():
    for layer in (nn.Linear(3, 2, device=STANDIN), nn.Conv2d(1, 2, 3, device=STANDIN),
                  nn.Embedding(5, 2, device=STANDIN), nn.PReLU(device=STANDIN),
                  nn.BatchNorm2d(2, device=STANDIN)):
        tensors = list(layer.parameters()) + list(layer.buffers())
        assert {str(t.device) for t in tensors} == {STANDIN}, type(layer).__name__
    zg.manual_seed(0)
    a = nn.Linear(30, 20, device=STANDIN).weight.detach().cpu().numpy()
    bound = 1 / np.sqrt(30)
    assert np.abs(a).max() <= bound and a.std() > bound / 3  # a real draw, on the device


def test_model_on_a_device_fed_a_cpu_input_raises_torchs_message():
    net = Net().to(STANDIN)
    with pytest.raises(RuntimeError, match="^Expected all tensors to be on the same device, but "
                       "found at least two devices, cpu and standin!$"):
        net(zg.randn(2, 4))
    conv = nn.Conv2d(1, 2, 3).to(STANDIN)
    with pytest.raises(RuntimeError, match="found at least two devices, cpu and standin!"):
        conv(zg.randn(1, 1, 5, 5))
    loss = nn.CrossEntropyLoss()
    with pytest.raises(RuntimeError, match="found at least two devices, cpu and standin!"):
        loss(zg.randn(3, 4, device=STANDIN), zg.tensor([0, 1, 2]))
    with pytest.raises(RuntimeError, match="found at least two devices, cpu and standin!"):
        nn.Embedding(5, 2).to(STANDIN)(zg.tensor([1, 2]))


@pytest.mark.skipif(zg.cuda.is_available(), reason="asserts what a machine without a GPU says")
def test_cuda_without_a_gpu_is_one_clear_line():
    net = Net()
    for move in (lambda: net.cuda(), lambda: net.cuda(0), lambda: net.to("cuda"),
                 lambda: net.to("cuda:0", zg.float64)):
        with pytest.raises(RuntimeError) as info:
            move()
        message = str(info.value)
        assert "\n" not in message and "'cuda' is not available" in message
        assert "zerograd.cuda.is_available() is False" in message
    assert str(net.fc.weight.device) == "cpu" and net.fc.weight.dtype is zg.float32
