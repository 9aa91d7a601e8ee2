"""The array-level first-order backwards of issue 16 agree with the differentiable ones:
the fused convolution backward (one im2col of gy gives gx and gw), blocked batch norm,
in-place sigmoid/tanh/ReLU, and max-pool scatter written straight into strided slices."""
import warnings

import numpy as np
import pytest

import zerograd as zg
from tests.autograd.backward_array_check import check_backward_array
from zerograd.ops import _norm_passes

F = zg.nn.functional
RNG = np.random.default_rng(16)

CONV = [
    ("fused, 16 channels", (3, 16, 7, 6), (5, 16, 3, 3), dict(padding=1)),
    ("fused, groups and dilation", (2, 32, 8, 7), (4, 16, 3, 2), dict(padding=2, dilation=2,
                                                                      groups=2)),
    ("fused, even kernel 'same'", (2, 16, 6, 6), (3, 16, 4, 4), dict(padding="same")),
    ("col2im, few channels", (3, 3, 7, 7), (4, 3, 5, 5), dict(padding=2)),
    ("strided", (2, 16, 9, 9), (4, 16, 3, 3), dict(stride=2, padding=1)),
]


@pytest.mark.parametrize("xs,ws,kw", [c[1:] for c in CONV], ids=[c[0] for c in CONV])
def test_conv_backward_array_agrees(xs, ws, kw, device):
    fn = lambda x, w, b: F.conv2d(x, w, b, **kw)  # noqa: E731
    check_backward_array(fn, RNG.standard_normal(xs), RNG.standard_normal(ws),
                         RNG.standard_normal(ws[0]), device=device)


def test_batch_norm_blocks_agree(monkeypatch, device):
    monkeypatch.setattr(_norm_passes, "_BLOCK_BYTES", 3000)  # several blocks and a remainder
    fn = lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True)  # noqa: E731
    check_backward_array(fn, RNG.standard_normal((7, 3, 5, 4)) * 3 + 2,
                         RNG.standard_normal(3), RNG.standard_normal(3), device=device)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu"])
def test_activation_backward_array_agrees(name, device):
    check_backward_array(getattr(zg, name), RNG.standard_normal((4, 5, 3)), device=device)


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
@pytest.mark.parametrize("threads", [1, 2])
def test_activations_in_chunks(name, threads, monkeypatch, restore_threads):
    """Sigmoid's and tanh's multi-pass runs walked in chunks on 1 thread (40 bytes: 10
    float32, so chunks end mid-row and the array in a shorter chunk), in slices on 2: the
    same bits as in one piece, torch's values and gradients, and no overflow warning from
    the pool's threads (NumPy's error state is per thread)."""
    import torch
    from zerograd.backend.cpu import threads as pool
    from tests.oracle import check
    x = np.concatenate([RNG.standard_normal(57) * 4, [-120.0, -30.0, 0.0, 30.0, 120.0]])
    x = x.astype(np.float32).reshape(2, 31)
    g = RNG.standard_normal(x.shape).astype(np.float32)

    def run():
        t = zg.tensor(x, requires_grad=True)
        y = getattr(zg, name)(t)
        y.backward(zg.tensor(g))
        return y.detach().numpy(), t.grad.numpy()
    whole = run()
    zg.set_num_threads(threads)
    monkeypatch.setattr(pool, "MIN_WORK", 1 if threads > 1 else pool.MIN_WORK)
    monkeypatch.setattr(pool, "CHUNK_BYTES", 40)
    with warnings.catch_warnings():  # exp(120) overflows to inf on purpose, on every thread
        warnings.simplefilter("error", RuntimeWarning)
        chunked = run()
    for a, b in zip(chunked, whole):
        np.testing.assert_array_equal(a, b)
    check(getattr(zg, name), getattr(torch, name), x, rtol=1e-4, atol=1e-6)


def test_sigmoid_keeps_tiny_outputs_and_saturates():
    x = zg.tensor([-200.0, -30.0, 0.0, 30.0, 200.0], dtype=zg.float32)
    y = zg.sigmoid(x).numpy()
    assert y[0] == 0.0 and y[-1] == 1.0 and y[2] == 0.5
    assert abs(y[1] / 9.357623e-14 - 1) < 1e-5  # full relative precision, not rounded to 0


@pytest.mark.parametrize("shape,kw", [((2, 3, 8, 8), dict(kernel_size=2)),  # windows tile
                                      ((2, 3, 9, 7), dict(kernel_size=2)),  # a ragged edge
                                      ((2, 3, 8, 8), dict(kernel_size=2, padding=1))])
def test_max_pool_scatter_matches_torch(shape, kw, device):
    import torch
    x = RNG.standard_normal(shape).astype(np.float32)
    zx = zg.tensor(x, device=device, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    zy, ty = F.max_pool2d(zx, **kw), torch.nn.functional.max_pool2d(tx, **kw)
    g = RNG.standard_normal(tuple(ty.shape)).astype(np.float32)
    zy.backward(zg.tensor(g, device=device))
    ty.backward(torch.tensor(g))
    np.testing.assert_array_equal(zx.grad.numpy(force=True), tx.grad.numpy())


@pytest.mark.parametrize("xs,ws", [((5, 4), (3, 4)),  # one GEMM each way
                                   ((2, 3, 4), (6, 4)),  # batch dims folded into rows
                                   ((4,), (3, 4)),  # an unbatched vector
                                   ((300, 784), (10, 784))])  # skinny: the GEMM in pieces
def test_linear_backward_array_agrees(xs, ws, device):
    check_backward_array(F.linear, RNG.standard_normal(xs), RNG.standard_normal(ws),
                         RNG.standard_normal(ws[0]), device=device)
    check_backward_array(lambda x, w: F.linear(x, w), RNG.standard_normal(xs),
                         RNG.standard_normal(ws), device=device)


CE_CASES = [((6, 5), dict()),  # the plain case: no weights, smoothing or ignored targets
            ((6, 5), dict(reduction="sum")),
            ((6, 5), dict(reduction="none")),
            ((3, 5, 2, 2), dict()),  # classes in dim 1 of a 4-D input
            ((6, 5), dict(ignore_index=2)),  # some targets ignored
            ((6, 5), dict(weight=True, label_smoothing=0.2))]


@pytest.mark.parametrize("shape,kw", CE_CASES, ids=[str(c) for c in CE_CASES])
def test_cross_entropy_backward_array_agrees(shape, kw, device):
    target = RNG.integers(0, shape[1], (shape[0],) + shape[2:])
    kw = dict(kw)
    weight = RNG.random(shape[1]) + 0.5 if kw.pop("weight", False) else None

    def fn(x):
        w = None if weight is None else zg.tensor(weight, device=device)
        return F.cross_entropy(x, zg.tensor(target, device=device), weight=w, **kw)
    check_backward_array(fn, RNG.standard_normal(shape), device=device)


def test_cross_entropy_backward_twice_with_retain_graph():
    # the plain case reuses its saved exp(x - max) in place only when nothing keeps it
    x = zg.tensor(RNG.standard_normal((4, 3)), requires_grad=True)
    loss = F.cross_entropy(x, zg.tensor([0, 2, 1, 1]))
    loss.backward(retain_graph=True)
    first = x.grad.clone()
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first.numpy(), rtol=1e-12)
