"""nn.DataParallel: a pass-through on the CPU; on several devices of one type torch's
scatter / replicate / parallel_apply / gather, checked against the plain module on the
whole batch.

CI has no GPUs, so the several devices are the stand-in's (tests/standin_device.py:
``several_devices(n)`` makes ``standin:0`` ... ``standin:n-1``). Its arrays remember their
device, an op mixing two devices fails, and arrays made without inputs (an op's scratch
buffers) land on the current device, as in CuPy: a replica that computed on the wrong
device would fail here.
"""
import collections
import copy

import numpy as np
import pytest

import zerograd as zg
from zerograd import nn
from zerograd.nn.parallel.data_parallel import gather, replicate, scatter, scatter_kwargs
from tests.standin_device import MixedDeviceError, several_devices, standin

TIGHT = dict(rtol=1e-12, atol=1e-13)


@pytest.fixture
def devices():
    """Two stand-in devices: [standin:0, standin:1]."""
    with several_devices(2) as devs:
        yield devs


def host(t):
    return t.detach().cpu().numpy()


def mlp(seed=0):
    """A float64 MLP whose backward allocates nothing outside its inputs' devices."""
    zg.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.Linear(8, 8), nn.ELU(),
                         nn.Linear(8, 3)).double()


def run(model, x, y, dev):
    """Forward, cross-entropy loss on ``dev`` and backward: the output and the loss."""
    out = model(x)
    loss = nn.functional.cross_entropy(out, y.to(dev))
    loss.backward()
    return out, loss


def assert_same_training_step(net, devs, batch, **dp_kwargs):
    """DataParallel over ``devs`` gives the plain module's output, loss and gradients (on
    the original parameters, on devs[0]) for a batch of ``batch``."""
    plain = copy.deepcopy(net).to(devs[0])
    net.to(devs[0])
    x = zg.randn(batch, 6, dtype=zg.float64)
    y = zg.randint(0, 3, (batch,))
    x_plain, x_dp = x.clone().requires_grad_(), x.clone().requires_grad_()
    out, loss = run(plain, x_plain.to(devs[0]), y, devs[0])
    dp_out, dp_loss = run(nn.DataParallel(net, device_ids=devs, **dp_kwargs), x_dp, y, devs[0])
    assert str(dp_out.device) == "standin:0"
    np.testing.assert_allclose(host(dp_out), host(out), **TIGHT)
    np.testing.assert_allclose(dp_loss.item(), loss.item(), **TIGHT)
    for (name, p), q in zip(net.named_parameters(), plain.parameters()):
        assert p.grad is not None, name
        assert str(p.grad.device) == str(p.device), name
        np.testing.assert_allclose(host(p.grad), host(q.grad), **TIGHT, err_msg=name)
    assert str(x_dp.grad.device) == "cpu"  # scatter's backward brings the input's gradient home
    np.testing.assert_allclose(host(x_dp.grad), host(x_plain.grad), **TIGHT)


# -- the CPU: a pass-through ----------------------------------------------------------------
def test_on_the_cpu_it_calls_the_module_unchanged():
    net = mlp()
    x = zg.randn(5, 6, dtype=zg.float64)
    for device_ids in (None, [0, 1], [zg.device("cpu"), zg.device("cpu")]):
        model = nn.DataParallel(net, device_ids=device_ids)
        assert model.device_ids == [] and model.module is net
        np.testing.assert_array_equal(host(model(x)), host(net(x)))
    assert sorted(model.state_dict()) == sorted("module." + k for k in net.state_dict())
    assert [id(p) for p in model.parameters()] == [id(p) for p in net.parameters()]


class Residual(nn.Module):
    """d2l's residual block (chapter 8), small."""

    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn1, self.bn2 = nn.BatchNorm2d(channels), nn.BatchNorm2d(channels)

    def forward(self, X):
        Y = nn.functional.relu(self.bn1(self.conv1(X)))
        return nn.functional.relu(self.bn2(self.conv2(Y)) + X)


def small_resnet(seed=0):
    zg.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         Residual(4), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                         nn.Linear(4, 10))


def d2l_train(net, devices, steps=3, batch=6):
    """d2l's multi-GPU chapter (concise): DataParallel, then SGD on its parameters."""
    net = nn.DataParallel(net, device_ids=devices)
    trainer = zg.optim.SGD(net.parameters(), lr=0.1)
    loss = nn.CrossEntropyLoss()
    gen = np.random.default_rng(0)
    net.train()
    for _ in range(steps):
        X = zg.tensor(gen.standard_normal((batch, 1, 6, 6)), dtype=zg.float32)
        y = zg.tensor(gen.integers(0, 10, batch))
        trainer.zero_grad()
        X, y = X.to(devices[0]), y.to(devices[0])
        l = loss(net(X), y)
        l.backward()
        trainer.step()
    return net


def test_d2l_chapter_on_the_cpu():
    """d2l.try_all_gpus() gives [cpu] on a machine without a GPU: the chapter trains as the
    plain network would."""
    trained = d2l_train(small_resnet(), [zg.device("cpu")])
    reference = small_resnet()
    trainer = zg.optim.SGD(reference.parameters(), lr=0.1)
    gen = np.random.default_rng(0)
    for _ in range(3):
        X = zg.tensor(gen.standard_normal((6, 1, 6, 6)), dtype=zg.float32)
        y = zg.tensor(gen.integers(0, 10, 6))
        trainer.zero_grad()
        nn.CrossEntropyLoss()(reference(X), y).backward()
        trainer.step()
    for (name, a), b in zip(trained.module.state_dict().items(), reference.state_dict().values()):
        np.testing.assert_array_equal(host(a), host(b), err_msg=name)


# -- several devices --------------------------------------------------------------------------
@pytest.mark.parametrize("batch", [6, 5, 7, 3])  # even, odd, a last chunk of one
def test_two_devices_give_the_plain_modules_outputs_and_gradients(devices, batch):
    assert_same_training_step(mlp(), devices, batch)


def test_gradients_accumulate_over_steps_into_the_original_parameters(devices):
    net = mlp().to(devices[0])
    plain = copy.deepcopy(net)
    model = nn.DataParallel(net, device_ids=devices)
    for seed in range(2):  # no zero_grad: both steps add up in .grad
        zg.manual_seed(seed)
        x, y = zg.randn(4, 6, dtype=zg.float64), zg.randint(0, 3, (4,))
        run(model, x, y, devices[0])
        run(plain, x.to(devices[0]), y, devices[0])
    for p, q in zip(net.parameters(), plain.parameters()):
        np.testing.assert_allclose(host(p.grad), host(q.grad), **TIGHT)
    assert len(list(model.parameters())) == len(list(plain.parameters()))


def test_each_replica_runs_on_its_own_device_and_registers_nothing(devices):
    net = mlp().to(devices[0])
    seen = []
    net[0].register_forward_hook(
        lambda mod, args, out: seen.append((mod is net[0], str(args[0].device),
                                            str(mod.weight.device), len(list(mod.parameters())),
                                            isinstance(mod.weight, nn.Parameter))))
    model = nn.DataParallel(net, device_ids=devices)
    names = [n for n, _ in model.named_modules()]
    model(zg.randn(4, 6, dtype=zg.float64))
    # replica 0 holds the original tensors (torch: it shares their storage), replica 1 copies
    assert seen == [(False, "standin:0", "standin:0", 0, True),
                    (False, "standin:1", "standin:1", 0, False)]
    assert [n for n, _ in model.named_modules()] == names  # replicas are not submodules
    assert sorted(model.state_dict()) == sorted("module." + k for k in net.state_dict())


def test_a_batch_smaller_than_the_device_count_uses_fewer_replicas():
    with several_devices(3) as devs:
        net = mlp()
        assert_same_training_step(net, devs, 2)
        calls = []
        net.register_forward_pre_hook(lambda mod, args: calls.append(str(args[0].device)))
        nn.DataParallel(net, device_ids=devs)(zg.randn(2, 6, dtype=zg.float64))
        assert calls == ["standin:0", "standin:1"]


def test_three_devices_with_uneven_chunks():
    with several_devices(3) as devs:
        assert_same_training_step(mlp(), devs, 7)  # chunks of 3, 3, 1


class TwoHeads(nn.Module):
    """Keyword arguments (a tensor and a number) and a tuple output with a dict in it."""

    def __init__(self):
        super().__init__()
        self.body, self.head = nn.Linear(6, 4), nn.Linear(4, 2)

    def forward(self, x, shift=None, scale=1.0):
        h = nn.functional.gelu(self.body(x))
        if shift is not None:
            h = h + shift
        return h * scale, {"logits": self.head(h), "none": None}


def test_tuple_and_dict_outputs_and_scattered_keyword_arguments(devices):
    zg.manual_seed(0)
    net = TwoHeads().double().to(devices[0])
    plain = copy.deepcopy(net)
    x, shift = zg.randn(5, 6, dtype=zg.float64), zg.randn(5, 4, dtype=zg.float64)
    h, rest = nn.DataParallel(net, device_ids=devices)(x, shift=shift, scale=2.0)
    h_ref, rest_ref = plain(x.to(devices[0]), shift=shift.to(devices[0]), scale=2.0)
    assert rest["none"] is None and sorted(rest) == ["logits", "none"]
    np.testing.assert_allclose(host(h), host(h_ref), **TIGHT)
    np.testing.assert_allclose(host(rest["logits"]), host(rest_ref["logits"]), **TIGHT)
    (h.sum() + rest["logits"].pow(2).sum()).backward()
    (h_ref.sum() + rest_ref["logits"].pow(2).sum()).backward()
    for p, q in zip(net.parameters(), plain.parameters()):
        np.testing.assert_allclose(host(p.grad), host(q.grad), **TIGHT)


def test_keyword_only_inputs_and_a_small_batch_with_a_number_argument():
    with several_devices(3) as devs:
        zg.manual_seed(0)
        net = TwoHeads().double().to(devs[0])
        model = nn.DataParallel(net, device_ids=devs)
        x = zg.randn(2, 6, dtype=zg.float64)
        # torch hands the third replica scale=3.0 without x; here two replicas run
        h, _ = model(x, scale=3.0)
        np.testing.assert_allclose(host(h), host(net(x.to(devs[0]), scale=3.0)[0]), **TIGHT)
        h, _ = model(x=x, scale=3.0)  # everything by keyword
        np.testing.assert_allclose(host(h), host(net(x.to(devs[0]), scale=3.0)[0]), **TIGHT)


def test_scalar_outputs_gather_into_a_vector_with_torchs_warning(devices):
    class Total(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(zg.ones(3, dtype=zg.float64))

        def forward(self, x):
            return (x * self.w).sum()

    net = Total().to(devices[0])
    x = zg.randn(4, 3, dtype=zg.float64)
    with pytest.warns(UserWarning, match="all input tensors were scalars; will instead unsqueeze"):
        out = nn.DataParallel(net, device_ids=devices)(x)
    assert out.shape == (2,) and str(out.device) == "standin:0"
    np.testing.assert_allclose(host(out), [host(x[:2]).sum(), host(x[2:]).sum()], **TIGHT)


def test_scatter_and_gather_along_another_dim(devices):
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(zg.tensor([2.0, -1.0, 0.5], dtype=zg.float64))

        def forward(self, x):  # x: (3, T), scaled per row: a batch along dim 1 is fine
            assert x.shape[1] <= 3
            return x * self.w[:, None]

    net = Scale().to(devices[0])
    x = zg.randn(3, 5, dtype=zg.float64)
    out = nn.DataParallel(net, device_ids=devices, dim=1)(x)
    np.testing.assert_allclose(host(out), host(x) * [[2.0], [-1.0], [0.5]], **TIGHT)
    out.sum().backward()
    np.testing.assert_allclose(host(net.w.grad), host(x).sum(1), **TIGHT)


def test_tied_weights_stay_tied_in_the_replicas(devices):
    zg.manual_seed(0)
    shared = nn.Linear(4, 4).double()
    net = nn.Sequential(shared, nn.GELU(), shared).to(devices[0])
    plain = copy.deepcopy(net)
    x = zg.randn(5, 4, dtype=zg.float64)
    nn.DataParallel(net, device_ids=devices)(x).pow(2).sum().backward()
    plain(x.to(devices[0])).pow(2).sum().backward()
    np.testing.assert_allclose(host(net[0].weight.grad), host(plain[0].weight.grad), **TIGHT)


def test_batch_norm_keeps_the_first_replicas_running_statistics(devices):
    """torch's guarantee: the replica on device_ids[0] shares the module's buffers, so its
    in-place updates are kept; the other replicas' are dropped."""
    zg.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).double().to(devices[0])
    first_half = copy.deepcopy(net)
    x = zg.randn(6, 3, dtype=zg.float64)
    with zg.no_grad():
        nn.DataParallel(net, device_ids=devices)(x)
        first_half(x[:3].to(devices[0]))
    bn, ref = net[1], first_half[1]
    np.testing.assert_allclose(host(bn.running_mean), host(ref.running_mean), **TIGHT)
    np.testing.assert_allclose(host(bn.running_var), host(ref.running_var), **TIGHT)
    assert bn.num_batches_tracked.item() == 1
    assert str(bn.running_mean.device) == "standin:0"  # still the original, on device 0


def test_without_grad_the_replicas_record_no_graph(devices):
    net = mlp().to(devices[0])
    x = zg.randn(4, 6, dtype=zg.float64)
    with zg.no_grad():
        out = nn.DataParallel(net, device_ids=devices)(x)
    assert not out.requires_grad and out.grad_fn is None
    np.testing.assert_allclose(host(out), host(net(x.to(devices[0]))), **TIGHT)


def test_one_device_moves_the_module_there_and_calls_it(devices):
    net = mlp()
    plain = copy.deepcopy(net)
    model = nn.DataParallel(net, device_ids=["standin:1"])
    assert model.device_ids == [1] and model.output_device == 1
    assert {str(p.device) for p in net.parameters()} == {"standin:1"}  # torch moves it
    x = zg.randn(3, 6, dtype=zg.float64)
    out = model(x)
    assert str(out.device) == "standin:1"
    np.testing.assert_allclose(host(out), host(plain(x)), **TIGHT)


def test_output_device_picks_where_the_outputs_are_gathered(devices):
    net = mlp().to(devices[0])
    x = zg.randn(4, 6, dtype=zg.float64)
    out = nn.DataParallel(net, device_ids=devices, output_device=1)(x)
    assert str(out.device) == "standin:1"
    np.testing.assert_allclose(host(out), host(net(x.to(devices[0]))), **TIGHT)


# -- errors -----------------------------------------------------------------------------------
def test_parameters_off_device_ids_0_get_torchs_error(devices):
    model = nn.DataParallel(mlp(), device_ids=devices)  # the module stayed on the CPU
    with pytest.raises(RuntimeError) as err:
        model(zg.randn(4, 6, dtype=zg.float64))
    assert str(err.value) == ("module must have its parameters and buffers on device standin:0 "
                              "(device_ids[0]) but found one of them on device: cpu")


def test_bad_device_ids_are_one_clear_line(devices):
    net = mlp().to(devices[0])
    with pytest.raises(RuntimeError, match=r"invalid device ordinal standin:2 .*2 standin device"):
        nn.DataParallel(net, device_ids=[devices[0], 2])
    with pytest.raises(ValueError, match="Expected a non cpu device, but got: cpu"):
        nn.DataParallel(net, device_ids=[devices[0], "cpu"])
    with pytest.raises(ValueError, match="Expected a non cpu device, but got: cpu"):
        nn.DataParallel(net, device_ids=devices, output_device="cpu")


def test_an_error_in_a_replica_names_it(devices):
    class FailsOnOddBatches(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(zg.ones(1))

        def forward(self, x):
            if x.shape[0] == 1:
                raise ValueError("a batch of one")
            return x * self.w

    model = nn.DataParallel(FailsOnOddBatches().to(devices[0]), device_ids=devices)
    with pytest.raises(ValueError, match="a batch of one") as err:
        model(zg.randn(3, 1))
    assert err.value.__notes__ == ["Caught in replica 1 on device standin:1."]


def test_device_ids_none_means_every_cuda_device(monkeypatch):
    """On a machine with CUDA (a registered backend answering two devices), None is all of
    them, and a module left on the CPU gets torch's message naming cuda:0."""
    from zerograd.backend import _registry

    class TwoFakeGpus(zg.backend.Backend):
        type = "cuda"

        def device_count(self):
            return 2

    monkeypatch.setattr(_registry, "_BY_DEVICE_TYPE", dict(_registry._BY_DEVICE_TYPE))
    monkeypatch.setattr(_registry, "_BY_ARRAY_TYPE", dict(_registry._BY_ARRAY_TYPE))
    _registry.register(TwoFakeGpus())
    model = nn.DataParallel(nn.Linear(2, 2))
    assert model.device_ids == [0, 1] and model.output_device == 0
    assert str(model.src_device_obj) == "cuda:0"
    with pytest.raises(RuntimeError, match=r"^module must have its parameters and buffers on "
                                           r"device cuda:0 \(device_ids\[0\]\) but found one "
                                           r"of them on device: cpu$"):
        model(zg.randn(3, 2))


# -- torch.nn.parallel's functions ------------------------------------------------------------
def test_scatter_follows_torchs_rules_for_containers(devices):
    Pair = collections.namedtuple("Pair", "a b")
    x = zg.arange(10.0).reshape(5, 2)
    parts = scatter((x, "tag", [x], {"k": x}, Pair(x, 7)), devices)
    assert len(parts) == 2 and isinstance(parts[0], tuple)
    first, second = parts
    assert first[1] == second[1] == "tag"
    assert isinstance(first[2], list) and isinstance(first[4], Pair) and first[4].b == 7
    assert [t.shape[0] for t in (first[0], second[0], second[2][0], second[3]["k"])] == [3, 2, 2, 2]
    assert str(second[4].a.device) == "standin:1" and str(first[0].device) == "standin:0"
    np.testing.assert_array_equal(host(second[0]), host(x[3:]))
    assert scatter(zg.ones(1, 2), devices)[0].shape == (1, 2)  # one chunk for a batch of one
    args, kwargs = scatter_kwargs((x,), {"flag": True}, devices)
    assert len(args) == len(kwargs) == 2 and kwargs[1] == {"flag": True}


def test_gather_concatenates_and_is_differentiable(devices):
    a = zg.ones(2, 3, dtype=zg.float64, requires_grad=True)
    b = (zg.ones(1, 3, dtype=zg.float64) * 2).to(devices[1]).requires_grad_()
    out = gather([(a.to(devices[0]), None), (b, None)], devices[0])
    assert out[1] is None and str(out[0].device) == "standin:0"
    np.testing.assert_array_equal(host(out[0]), [[1, 1, 1], [1, 1, 1], [2, 2, 2]])
    (out[0] * zg.arange(9.0, dtype=zg.float64).reshape(3, 3).to(devices[0])).sum().backward()
    np.testing.assert_array_equal(host(b.grad), [[6, 7, 8]])
    assert str(b.grad.device) == "standin:1" and str(a.grad.device) == "cpu"
    with pytest.raises(ValueError, match="All dicts must have the same number of keys"):
        gather([{"x": a}, {"x": a, "y": a}], devices[0])


def test_replicate_copies_parameters_and_buffers_to_each_device(devices):
    net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3)).to(devices[0])
    first, second = replicate(net, devices)
    assert first is not net and list(first.parameters()) == [] == list(second.parameters())
    assert first[0].weight is net[0].weight  # the originals on their own device
    assert str(second[0].weight.device) == "standin:1"
    assert second[0].weight.grad_fn.name() == "ToCopyBackward0"
    assert str(second[1].running_mean.device) == "standin:1"
    assert second[1].running_mean.grad_fn is None  # buffers are copied without a graph
    assert second[1] is second._modules["1"] and second[1] is not first[1]


# -- the stand-in devices themselves -----------------------------------------------------------
def test_the_standin_devices_catch_work_on_the_wrong_device(devices):
    a, b = zg.ones(3).to(devices[0]), zg.ones(3).to(devices[1])
    with standin.device_guard(1):  # the number 2 becomes an array on the current device
        assert str(b.device) == "standin:1" and str((b * 2).device) == "standin:1"
    # zerograd's own mixed-device check compares array types, which two GPUs share: the
    # arrays meet inside the op, where CuPy (and the stand-in) refuse them
    with pytest.raises(MixedDeviceError, match="standin:0 and standin:1"):
        a + b
    assert standin.device_index(standin.xp.zeros(2)) == 0  # the current device
    with standin.device_guard(1):
        assert standin.device_index(standin.xp.zeros(2)) == 1
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        zg.ones(2).to("standin:2")


# -- layers whose backward allocates scratch arrays on the current device --------------------
# (ReLU's mask, convolution and pooling buffers, batch norm's sums): the autograd engine
# makes each node's device current while it runs, as torch's does per device.


@pytest.mark.parametrize("act", [nn.ReLU, nn.Tanh, nn.Sigmoid])
def test_two_devices_through_layers_that_allocate_in_backward(devices, act):
    zg.manual_seed(0)
    assert_same_training_step(nn.Sequential(nn.Linear(6, 8), act(), nn.Linear(8, 3)).double(),
                              devices, 5)


def test_gradients_of_scalar_outputs_and_of_outputs_gathered_on_device_1(devices):
    net = mlp().to(devices[0])
    plain = copy.deepcopy(net)
    x = zg.randn(4, 6, dtype=zg.float64)
    nn.DataParallel(net, device_ids=devices, output_device=1)(x).sum().backward()
    plain(x.to(devices[0])).sum().backward()
    for p, q in zip(net.parameters(), plain.parameters()):
        assert str(p.grad.device) == "standin:0"
        np.testing.assert_allclose(host(p.grad), host(q.grad), **TIGHT)


def test_d2l_chapter_on_two_devices(devices):
    net = d2l_train(small_resnet().to(devices[0]), devices)
    assert {str(p.device) for p in net.parameters()} == {"standin:0"}
