"""Training on a real GPU: gradients cross device moves, live where their parameters live,
optimizer state stays on the GPU, devices never mix silently, checkpoints travel GPU -> CPU
-> GPU, and the GPU kernels agree with the CPU ones. Skipped without CuPy or a GPU."""
import copy

import numpy as np
import pytest

import zerograd as zg
from zerograd.backend.cpu import conv_kernels as cpu_conv, pool_kernels as cpu_pool
from zerograd.backend.cuda import conv_kernels as gpu_conv, pool_kernels as gpu_pool
from tests.cuda._gpu import require_gpu

cupy = require_gpu()


def test_device_moves_keep_the_graph_connected():
    x = zg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x.cuda() * 2).exp().sum()
    z = (y.cpu() + x.sum()).cuda()
    z.backward()
    assert str(x.grad.device) == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(2 * np.arange(1, 4)) + 1, rtol=1e-5)
    w = zg.ones(3, device="cuda", requires_grad=True)
    (w.cpu() * zg.arange(3.0)).sum().backward()
    assert str(w.grad.device) == "cuda:0" and w.grad.cpu().tolist() == [0.0, 1.0, 2.0]


def test_grads_and_optimizer_state_live_on_the_gpu():
    zg.manual_seed(0)
    model = zg.nn.Sequential(zg.nn.Linear(4, 8), zg.nn.ReLU(), zg.nn.Linear(8, 2)).cuda()
    opt = zg.optim.Adam(model.parameters(), lr=1e-2)
    x, y = zg.randn(16, 4, device="cuda"), zg.randint(0, 2, (16,), device="cuda")
    for _ in range(3):
        loss = zg.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    for p in model.parameters():
        assert p.is_cuda and p.grad.is_cuda
        assert all(v.is_cuda for v in opt.state[p].values() if isinstance(v, zg.Tensor)
                   and v.ndim > 0)


def test_mixing_devices_is_torchs_one_line_error():
    a, b = zg.ones(2, device="cuda"), zg.ones(2)
    for op in (lambda: a + b, lambda: a @ zg.ones(2, 2), lambda: a < b,
               lambda: zg.cat([a, b]), lambda: zg.nn.Linear(2, 2)(a)):
        with pytest.raises(RuntimeError, match="found at least two devices, cpu and cuda:0!"):
            op()
    assert (a + zg.tensor(1.0)).is_cuda  # a 0-d CPU tensor is a scalar, as in torch


def test_checkpoint_round_trip_gpu_to_cpu_and_back(tmp_path):
    model = zg.nn.Linear(3, 2).cuda()
    opt = zg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(zg.ones(4, 3, device="cuda")).sum().backward()
    opt.step()
    zg.save({"model": model.state_dict(), "opt": opt.state_dict()}, tmp_path / "gpu.safetensors")
    same = zg.load(tmp_path / "gpu.safetensors")
    assert same["model"]["weight"].is_cuda
    host = zg.load(tmp_path / "gpu.safetensors", map_location="cpu")
    assert str(host["model"]["weight"].device) == "cpu"
    cpu_model = zg.nn.Linear(3, 2)
    cpu_model.load_state_dict(host["model"])
    np.testing.assert_array_equal(cpu_model.weight.detach().numpy(),
                                  model.weight.detach().cpu().numpy())
    zg.save(host, tmp_path / "cpu.safetensors")
    again = zg.load(tmp_path / "cpu.safetensors", map_location="cuda:0")
    assert again["model"]["weight"].is_cuda
    gpu_model = zg.nn.Linear(3, 2).cuda()
    gpu_model.load_state_dict(host["model"])  # copied onto the GPU
    assert gpu_model.weight.is_cuda


@pytest.mark.parametrize("case", [(2, 3, 9, 8, 4, 3, 3, (1, 1), (1, 1), (1, 1, 1, 1), 1),
                                  (2, 4, 9, 9, 6, 3, 3, (2, 2), (1, 1), (1, 1, 1, 1), 2),
                                  (2, 2, 8, 8, 2, 2, 2, (1, 1), (2, 2), (0, 1, 0, 1), 1)])
def test_gpu_conv_kernels_match_the_cpu_kernels(case):
    rng = np.random.default_rng(0)
    N, C, H, W, O, kh, kw, stride, dil, pad, groups = case
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = rng.standard_normal((O, C // groups, kh, kw)).astype(np.float32)
    b = rng.standard_normal(O).astype(np.float32)
    gc = cpu_conv.ConvGeometry(H, W, kh, kw, stride, dil, pad, groups)
    gg = gpu_conv.ConvGeometry(H, W, kh, kw, stride, dil, pad, groups)
    y = cpu_conv.conv_forward(x, w, b, gc)
    dx, dw, db = (cupy.asarray(a) for a in (x, w, b))
    np.testing.assert_allclose(cupy.asnumpy(gpu_conv.conv_forward(dx, dw, db, gg)), y,
                               rtol=1e-4, atol=1e-4)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    np.testing.assert_allclose(
        cupy.asnumpy(gpu_conv.conv_transpose_forward(cupy.asarray(gy), dw, None, gg)),
        cpu_conv.conv_transpose_forward(gy, w, None, gc), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        cupy.asnumpy(gpu_conv.conv_weight_forward(dx, cupy.asarray(gy), gg)),
        cpu_conv.conv_weight_forward(x, gy, gc), rtol=1e-3, atol=1e-3)


def test_gpu_pool_kernels_match_the_cpu_kernels():
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 7)).astype(np.float32)
    args = (7, 7, (3, 3), (2, 2), (1, 1), (1, 1), True)
    y, arg = gpu_pool.WindowPlan(*args).max_with_arg(cupy.asarray(x))
    y_cpu, arg_cpu = cpu_pool.WindowPlan(*args).max_with_arg(x)
    np.testing.assert_array_equal(cupy.asnumpy(y), y_cpu)
    np.testing.assert_array_equal(cupy.asnumpy(arg), arg_cpu)
    m = gpu_pool.averaging_matrix(7, 3, np.float32)
    assert isinstance(m, cupy.ndarray)
    np.testing.assert_array_equal(cupy.asnumpy(m), cpu_pool.averaging_matrix(7, 3, np.float32))


def test_a_lenet_step_on_the_gpu_matches_the_cpu():
    zg.manual_seed(0)
    cpu_net = zg.nn.Sequential(zg.nn.Conv2d(1, 6, 5, padding=2), zg.nn.Sigmoid(),
                               zg.nn.AvgPool2d(2), zg.nn.Conv2d(6, 16, 5), zg.nn.Sigmoid(),
                               zg.nn.MaxPool2d(2), zg.nn.Flatten(), zg.nn.Linear(400, 10))
    gpu_net = copy.deepcopy(cpu_net).cuda()
    x = zg.randn(8, 1, 28, 28)
    y = zg.randint(0, 10, (8,))
    losses = []
    for net, xs, ys in ((cpu_net, x, y), (gpu_net, x.cuda(), y.cuda())):
        loss = zg.nn.functional.cross_entropy(net(xs), ys)
        loss.backward()
        losses.append(loss.item())
    assert abs(losses[0] - losses[1]) < 1e-4
    for pc, pg in zip(cpu_net.parameters(), gpu_net.parameters()):
        np.testing.assert_allclose(pg.grad.cpu().numpy(), pc.grad.numpy(), rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("options", [{}, {"weight_decay": 0.01, "maximize": True},
                                     {"amsgrad": True}])
def test_adam_on_the_gpu_matches_the_cpu(options):
    """The GPU runs Adam as one fused kernel (amsgrad: the generic passes)."""
    zg.manual_seed(0)
    cpu_model = zg.nn.Linear(64, 32)
    gpu_model = copy.deepcopy(cpu_model).cuda()
    x = zg.randn(16, 64)
    for model, xs in ((cpu_model, x), (gpu_model, x.cuda())):
        opt = zg.optim.Adam(model.parameters(), lr=1e-2, **options)
        for _ in range(3):
            opt.zero_grad()
            (model(xs) ** 2).mean().backward()
            opt.step()
    for pc, pg in zip(cpu_model.parameters(), gpu_model.parameters()):
        np.testing.assert_allclose(pg.detach().cpu().numpy(), pc.detach().numpy(), rtol=1e-4,
                                   atol=1e-6)
