"""Winograd F(2x2, 3x3) convolutions (``zerograd.backend.cpu.winograd``): when they are
used, that forward and first-order backward equal the im2col kernels' and torch's, odd
sizes and every padding included, and that runs repeat bit for bit per thread count."""
import numpy as np
import pytest
import torch

import zerograd as zg
from tests.oracle import both, both_jvp
from zerograd.backend.cpu import conv_kernels, threads, winograd

RNG = np.random.default_rng(0)


def _geometry(H, W, padding, kernel=3, stride=1, dilation=1, groups=1):
    return conv_kernels.ConvGeometry(H, W, kernel, kernel, (stride, stride),
                                     (dilation, dilation), padding, groups)


def _arrays(N, C, O, H, W, dtype, kernel=3):
    x = RNG.standard_normal((N, C, H, W)).astype(dtype)
    w = (RNG.standard_normal((O, C, kernel, kernel)) / np.sqrt(9 * C)).astype(dtype)
    b = RNG.standard_normal(O).astype(dtype)
    return x, w, b


@pytest.mark.parametrize("change, forward, backward", [
    ({}, True, True),
    ({"C": 16}, False, False), ({"O": 16}, False, False),  # too few channels on one side
    ({"C": 32, "O": 32}, True, False),  # the backward wants one side wider
    ({"C": 32, "O": 64}, True, True), ({"C": 64, "O": 32}, True, True),
    ({"kernel": 5}, False, False), ({"stride": 2}, False, False),
    ({"dilation": 2}, False, False), ({"groups": 2}, False, False),
    ({"dtype": np.int64}, False, False), ({"H": 2}, False, False),
])
def test_applies_to_3x3_stride_1_convolutions_with_many_channels(change, forward, backward):
    p = dict(C=64, O=64, H=8, kernel=3, stride=1, dilation=1, groups=1, dtype=np.float32)
    p.update(change)
    x = np.zeros((2, p["C"], p["H"], 8), dtype=p["dtype"])
    w = np.zeros((p["O"], p["C"] // p["groups"], p["kernel"], p["kernel"]), dtype=p["dtype"])
    g = _geometry(p["H"], 8, (0, 0, 0, 0), p["kernel"], p["stride"], p["dilation"],
                  p["groups"])
    assert winograd.applies(x, w, g) is forward
    assert winograd.applies(x, w, g, backward=True) is backward


def test_split_over_threads_the_forward_also_wants_64_channels_on_one_side(monkeypatch):
    monkeypatch.setattr(threads, "threads_for", lambda n, work: 2)
    g = _geometry(8, 8, (1, 1, 1, 1))
    for C, O, used in [(32, 32, False), (32, 64, True), (64, 32, True)]:
        x, w = np.zeros((2, C, 8, 8), np.float32), np.zeros((O, C, 3, 3), np.float32)
        assert winograd.applies(x, w, g) is used


# (N, C, O, H, W, padding): odd and even output sizes, no / symmetric / uneven padding
SHAPES = [(2, 32, 64, 8, 8, (1, 1, 1, 1)), (3, 64, 32, 7, 9, (1, 1, 1, 1)),
          (2, 32, 32, 7, 8, (1, 1, 1, 1)),
          (1, 64, 64, 5, 6, (0, 0, 0, 0)), (2, 33, 65, 6, 5, (2, 2, 1, 1)),
          (4, 64, 40, 3, 3, (0, 1, 1, 0))]


@pytest.mark.parametrize("N, C, O, H, W, padding", SHAPES)
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("chunk_bytes", [None, 1], ids=["dU-at-once", "dU-by-position"])
def test_forward_and_backward_equal_the_im2col_kernels(N, C, O, H, W, padding, dtype, rtol,
                                                        chunk_bytes, monkeypatch):
    if chunk_bytes is not None:  # as for 512 x 512 channels: dU added position by position
        monkeypatch.setattr(winograd, "_CHUNK_BYTES", chunk_bytes)
    x, w, b = _arrays(N, C, O, H, W, dtype)
    g = _geometry(H, W, padding)
    assert winograd.applies(x, w, g)
    y = winograd.conv_forward(x, w, b, g)
    gy = RNG.standard_normal(y.shape).astype(dtype)
    # the im2col path: the same kernels with Winograd switched off
    monkeypatch.setattr(winograd, "applies", lambda *args, **kwargs: False)
    expected_y = conv_kernels.conv_forward(x, w, b, g)
    expected_gx, expected_gw = conv_kernels.conv_backward(x, w, gy, g, True, True)
    monkeypatch.undo()
    scale = lambda a: rtol * np.abs(a).max()  # noqa: E731
    np.testing.assert_allclose(y, expected_y, rtol=0, atol=scale(expected_y))
    gx, gw = winograd.conv_backward(x, w, gy, g, True, True)
    np.testing.assert_allclose(gx, expected_gx, rtol=0, atol=scale(expected_gx))
    np.testing.assert_allclose(gw, expected_gw, rtol=0, atol=scale(expected_gw))
    assert y.dtype == gx.dtype == gw.dtype == dtype
    # one of the two gradients alone
    only_x, none = winograd.conv_backward(x, w, gy, g, True, False)
    assert none is None and np.array_equal(only_x, gx)
    none, only_w = winograd.conv_backward(x, w, gy, g, False, True)
    assert none is None and np.array_equal(only_w, gw)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding", [1, 0, "same"])
def test_conv2d_through_winograd_matches_torch(dtype, padding):
    x, w, b = _arrays(2, 32, 64, 6, 7, dtype)
    assert winograd.applies(x, w, _geometry(6, 7, (0, 0, 0, 0)))
    both(lambda lib, x, w, b: lib.nn.functional.conv2d(x, w, b, padding=padding), x, w, b)


def test_forward_mode_through_winograd_matches_torch():
    x, w, b = _arrays(2, 64, 32, 5, 5, np.float64)
    both_jvp(lambda lib, x, w, b: lib.nn.functional.conv2d(x, w, b, padding=1), x, w, b)


def test_second_order_gradients_match_torch():
    """The graph backward (create_graph) runs conv_transpose_forward's flipped conv, which
    is a Winograd forward: a gradient of the input gradient, as torch computes it."""
    x, w, b = _arrays(1, 32, 64, 4, 5, np.float64)
    results = []
    for lib in (zg, torch):
        xt, wt = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        y = lib.nn.functional.conv2d(xt, wt, lib.tensor(b), padding=1)
        gx, = lib.autograd.grad((y ** 2).sum(), xt, create_graph=True)
        gw, = lib.autograd.grad((gx ** 2).sum(), wt)
        results.append(gw.detach().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("two_pass", [False, True], ids=["one-pass", "two-pass"])
def test_same_bits_per_thread_count(two_pass, restore_threads, monkeypatch):
    """Split over threads: the forward and the one-pass backward by batch slices, the
    weight gradient's own pass (two-pass, as for 512 x 512 channels) by tile positions."""
    monkeypatch.setattr(threads, "MIN_WORK", 1024)  # every call splits
    monkeypatch.setattr(winograd, "_BLOCK_TILES", 8)  # several blocks per slice
    monkeypatch.setattr(winograd, "_SPLIT_BLOCK_TILES", 8)
    if two_pass:
        monkeypatch.setattr(winograd, "_TWO_PASS_BYTES", 1)
    x, w, b = _arrays(6, 32, 64, 9, 8, np.float32)
    g = _geometry(9, 8, (1, 1, 1, 1))
    gy = RNG.standard_normal((6, 64, 9, 8)).astype(np.float32)
    runs = {}
    for n in (1, 2, 2, 1):
        zg.set_num_threads(n)
        result = (winograd.conv_forward(x, w, b, g),) + winograd.conv_backward(
            x, w, gy, g, True, True) + winograd.conv_backward(x, w, gy, g, False, True)[1:]
        if n in runs:
            for a, b_ in zip(result, runs[n]):
                assert np.array_equal(a, b_), f"{n} thread(s): runs differ"
        runs[n] = result
    for a, b_ in zip(runs[1], runs[2]):
        np.testing.assert_allclose(a, b_, rtol=1e-5, atol=1e-5 * np.abs(a).max())


def test_a_resnet_block_trains_like_torch():
    """Conv2d(64, 64, 3) layers inside a module, one SGD step, against torch."""
    torch.manual_seed(0)
    layers = lambda nn: nn.Sequential(  # noqa: E731
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1),
        nn.Flatten(), nn.Linear(64 * 25, 3))
    t_model, z_model = layers(torch.nn), layers(zg.nn)
    for zp, tp in zip(z_model.parameters(), t_model.parameters()):
        zp._data[...] = tp.detach().numpy()
    x = RNG.standard_normal((4, 32, 5, 5)).astype(np.float32)
    y = RNG.integers(0, 3, 4)
    for lib, model in ((torch, t_model), (zg, z_model)):
        opt = lib.optim.SGD(model.parameters(), lr=0.1)
        lib.nn.functional.cross_entropy(model(lib.tensor(x)), lib.tensor(y)).backward()
        opt.step()
    for zp, tp in zip(z_model.parameters(), t_model.parameters()):
        np.testing.assert_allclose(zp.detach().numpy(), tp.detach().numpy(),
                                   rtol=1e-4, atol=1e-5)


def test_an_empty_batch():
    conv = zg.nn.Conv2d(32, 64, 3, padding=1)
    x = zg.zeros(0, 32, 5, 5, requires_grad=True)
    y = conv(x)
    y.sum().backward()
    assert y.shape == (0, 64, 5, 5) and x.grad.shape == (0, 32, 5, 5)
    assert not conv.weight.grad.numpy().any()


def test_conv_transpose2d_through_winograd_matches_torch():
    """A stride-1 transposed conv with many channels runs as the flipped kernel's forward
    conv, which is a Winograd one."""
    x = RNG.standard_normal((2, 64, 5, 6)).astype(np.float32)
    w = (RNG.standard_normal((64, 32, 3, 3)) / 24).astype(np.float32)
    b = RNG.standard_normal(32).astype(np.float32)
    both(lambda lib, x, w, b: lib.nn.functional.conv_transpose2d(x, w, b, padding=1), x, w, b)
