"""The CPU backend's GEMM (``zerograd.backend.cpu.gemm``): every plan it can cut a product
into gives NumPy's result, the rule picks the plans it was measured for, and the results
repeat bit for bit between calls and between 1 and 2 threads."""
import numpy as np
import pytest

import zerograd as zg
from zerograd.backend.cpu import conv_kernels, gemm, threads


def _operands(m, k, n, la, lb, dtype, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k) if la == "C" else (k, m)).astype(dtype)
    b = rng.standard_normal((k, n) if lb == "C" else (n, k)).astype(dtype)
    return (a if la == "C" else a.T), (b if lb == "C" else b.T)


def _tolerance(dtype, k):
    eps = np.finfo(dtype).eps
    return {"rtol": 64 * eps, "atol": 64 * eps * np.sqrt(k)}


# one product per plan (m, k, n): the cut lengths leave a shorter last piece
PLANS = [None, (0, 24), (1, 40), (2, 48)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cut", PLANS)
@pytest.mark.parametrize("la", ["C", "F"])
@pytest.mark.parametrize("lb", ["C", "F"])
@pytest.mark.parametrize("with_out", [False, True])
def test_every_plan_equals_numpy(dtype, cut, la, lb, with_out):
    a, b = _operands(70, 130, 90, la, lb, dtype)
    expected = np.matmul(a, b)
    out = np.full((70, 90), np.nan, dtype=dtype) if with_out else None
    got = gemm.run(a, b, out, cut)
    if with_out:
        assert got is out
    assert got.shape == (70, 90) and got.dtype == dtype
    np.testing.assert_allclose(got, expected, **_tolerance(dtype, 130))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, la, lb, axis", [
    ((256, 784, 10), "C", "F", 0),   # x @ W.T of a 784-10 Linear: rows
    ((6, 25, 41216), "C", "C", 1),   # LeNet's first conv: columns
    ((25, 41216, 6), "C", "F", 2),   # its weight gradient: the inner dimension
    ((10, 256, 784), "F", "C", 2),   # g.T @ x of the 784-10 Linear: the inner dimension
    ((150, 16, 6860), "F", "C", 0),  # LeNet's second conv, transposed: rows
    ((32, 288, 3360), "C", "C", None),  # 32 channels: the general kernel is the faster
    ((150, 6860, 16), "C", "F", None),  # C @ F with a large output: no small kernel
    ((256, 3136, 10), "F", "F", None),  # F @ F never takes the small kernel
])
def test_matmul_picks_the_measured_plan_and_equals_numpy(dtype, shape, la, lb, axis):
    m, k, n = shape
    cut = gemm.plan(m, k, n, la, lb, np.dtype(dtype).itemsize)
    assert (cut and cut[0]) == axis
    a, b = _operands(m, k, n, la, lb, dtype)
    np.testing.assert_allclose(gemm.matmul(a, b), np.matmul(a, b), **_tolerance(dtype, k))


def test_every_piece_fits_the_small_kernel():
    for shape, la, lb in [((256, 784, 10), "C", "F"), ((6, 25, 41216), "C", "C"),
                          ((25, 41216, 6), "C", "F"), ((10, 256, 3136), "F", "C")]:
        m, k, n = shape
        axis, piece = gemm.plan(m, k, n, la, lb)
        dims = [m, k, n]
        dims[(0, 2, 1)[axis]] = piece
        assert dims[0] * dims[1] * dims[2] <= gemm._SMALL
        assert gemm._small(*dims, la, lb)


@pytest.mark.parametrize("out_order", ["C", "F"])
def test_matmul_writes_into_out(out_order):
    a, b = _operands(256, 784, 10, "C", "F", np.float32)
    out = np.zeros((256, 10), dtype=np.float32, order=out_order)
    assert gemm.matmul(a, b, out=out) is out
    np.testing.assert_allclose(out, a @ b, **_tolerance(np.float32, 784))


def test_other_inputs_go_to_numpy_as_they_are():
    a = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(gemm.matmul(a, a.T), a @ a.T)  # integers
    x = np.ones((2, 3, 4), dtype=np.float32)
    np.testing.assert_array_equal(gemm.matmul(x, x.transpose(0, 2, 1)),
                                  x @ x.transpose(0, 2, 1))  # batched
    a, b = _operands(25, 41216, 6, "C", "F", np.float32)
    with pytest.raises(ValueError):  # no piece may hide a mismatch of the inner dimension
        gemm.matmul(a, b[:41000])
    with pytest.raises(ValueError):  # nor of the output's shape
        gemm.matmul(a, b, out=np.empty((25, 1), np.float32))


# products large enough that ``threads.split`` runs their pieces on 2 threads
THREADED = [((6, 25, 100000), "C", "C", 1), ((512, 3136, 10), "C", "F", 0),
            ((25, 100000, 6), "C", "F", 2)]


@pytest.mark.parametrize("shape, la, lb, axis", THREADED)
def test_same_bits_between_calls_and_between_1_and_2_threads(restore_threads, shape, la,
                                                             lb, axis):
    m, k, n = shape
    cut = gemm.plan(m, k, n, la, lb)
    assert cut[0] == axis
    a, b = _operands(m, k, n, la, lb, np.float32)
    zg.set_num_threads(1)
    one = gemm.matmul(a, b)
    np.testing.assert_array_equal(gemm.matmul(a, b), one)
    zg.set_num_threads(2)
    assert threads.threads_for(len(range(0, (m, n, k)[axis], cut[1])), m * n * k // 32) == 2
    two = gemm.matmul(a, b)
    np.testing.assert_array_equal(two, one)
    np.testing.assert_array_equal(gemm.matmul(a, b), two)
    # inside a split's slices (a convolution's batch slices) the pieces run inline
    for inner in threads.split(2, 1 << 40, lambda lo, hi: gemm.matmul(a, b)):
        np.testing.assert_array_equal(inner, two)
    np.testing.assert_allclose(one, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)


def test_weight_gradient_with_gy_channels_last_equals_the_other_layout(monkeypatch):
    """LeNet's 16-channel conv takes gy channels last where its blocks are 4 MB (2 threads:
    49 samples of 10x10 compact columns; its GEMM then cuts into small-kernel pieces);
    both layouts give the same weight gradient."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 6, 14, 14)).astype(np.float32)
    gy = rng.standard_normal((64, 16, 10, 10)).astype(np.float32)
    g = conv_kernels.ConvGeometry(14, 14, 5, 5, (1, 1), (1, 1), (0, 0, 0, 0), 1)
    columns = g.for_columns()
    K, pixels = 6 * 25, columns.block(256, 6, split=True) * columns.Ho * columns.Wo
    assert conv_kernels._channels_last_pays(K, pixels, 16, 1, np.float32)
    monkeypatch.setattr(conv_kernels, "_channels_last_pays", lambda *args: True)
    last = conv_kernels.conv_weight_forward(x, gy, g)
    monkeypatch.setattr(conv_kernels, "_channels_last_pays", lambda *args: False)
    other = conv_kernels.conv_weight_forward(x, gy, g)
    np.testing.assert_allclose(last, other, rtol=1e-5, atol=1e-4)
    windows = np.lib.stride_tricks.sliding_window_view(x, (5, 5), axis=(2, 3))
    expected = np.einsum("nohw,nchwij->ocij", gy.astype(np.float64), windows)
    np.testing.assert_allclose(last, expected, rtol=1e-4, atol=1e-3)
