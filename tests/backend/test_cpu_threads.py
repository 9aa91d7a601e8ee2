"""zerograd's own CPU threads: set/get_num_threads, the batch-slice splitter, and training
that matches torch at 1 and 2 threads and repeats bit for bit at a given thread count."""
import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd.backend.cpu import compiled, threads
from tests.oracle import assert_close


def test_set_and_get_num_threads(restore_threads):
    zg.set_num_threads(2)
    assert zg.get_num_threads() == 2
    zg.set_num_threads(1)
    assert zg.get_num_threads() == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_set_num_threads_rejects_non_positive_integers(bad):
    with pytest.raises(ValueError, match="positive integer"):
        zg.set_num_threads(bad)


def test_split_returns_slices_in_order(restore_threads, monkeypatch):
    zg.set_num_threads(2)
    monkeypatch.setattr(threads, "MIN_WORK", 1)
    assert threads.split(10, 10, lambda a, b: (a, b)) == [(0, 5), (5, 10)]


def test_blas_works_at_two_threads_after_the_pool_parked_its_threads(restore_threads,
                                                                     monkeypatch):
    """``split`` stops OpenBLAS's spinning workers; its next multithreaded product starts
    them again and is still right."""
    zg.set_num_threads(2)
    monkeypatch.setattr(threads, "MIN_WORK", 1)
    a = np.random.default_rng(0).standard_normal((256, 256))
    expected = a @ a.T
    for _ in range(3):
        assert threads.split(2, 2, lambda i, j: (a[128 * i:128 * j] @ a.T).shape) == \
            [(128, 256)] * 2
        np.testing.assert_allclose(a @ a.T, expected, rtol=1e-12, atol=1e-9)


def test_small_work_runs_inline(restore_threads):
    zg.set_num_threads(2)
    assert threads.split(10, threads.MIN_WORK - 1, lambda a, b: (a, b)) == [(0, 10)]


def _net(nn):
    # every threaded kernel: conv (the input gradient by col2im for 6 channels, by the
    # fused backward for 16), BN, ReLU, sigmoid, pools
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 3, padding=1), nn.Sigmoid(), nn.Conv2d(16, 16, 3, padding=1),
        nn.AvgPool2d(2), nn.Flatten(), nn.Linear(16 * 7 * 7, 10))


def _train(lib, model, x, y, steps=3):
    optimizer = lib.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = lib.nn.CrossEntropyLoss()
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    return [p.detach().numpy().copy() for p in model.parameters()]


def _zg_params(n_threads, t_model, x, y):
    zg.set_num_threads(n_threads)
    model = _net(zg.nn)
    for zp, tp in zip(model.parameters(), t_model.parameters()):
        zp._data[...] = tp.detach().numpy()
    return _train(zg, model, zg.tensor(x), zg.tensor(y))


@pytest.mark.parametrize("kernels", ["numpy", "compiled"])
def test_lenet_training_matches_torch_at_1_and_2_threads(restore_threads, monkeypatch, kernels):
    if kernels == "compiled":  # the optional numba kernels: BN, pooling, sigmoid, col2im
        pytest.importorskip("numba")
    monkeypatch.setitem(compiled._state, "on", kernels == "compiled")
    monkeypatch.setattr(threads, "MIN_WORK", 4096)  # small batch, yet the kernels split
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 32)
    torch.manual_seed(0)
    t_model = _net(torch.nn)
    start = [p.detach().clone() for p in t_model.parameters()]
    one = _zg_params(1, t_model, x, y)
    two = _zg_params(2, t_model, x, y)
    two_again = _zg_params(2, t_model, x, y)
    expected = _train(torch, t_model, torch.tensor(x), torch.tensor(y))
    for i, (a, b, c, e) in enumerate(zip(one, two, two_again, expected)):
        assert_close(zg.tensor(a), torch.tensor(e), 1e-4, 1e-5, what=f"param {i}, 1 thread")
        assert_close(zg.tensor(b), torch.tensor(e), 1e-4, 1e-5, what=f"param {i}, 2 threads")
        assert np.array_equal(b, c), f"param {i}: 2-thread runs differ"
    assert any(not np.array_equal(s.numpy(), e) for s, e in zip(start, expected))


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_makes_its_own_pool(restore_threads, monkeypatch):
    import os
    zg.set_num_threads(2)
    monkeypatch.setattr(threads, "MIN_WORK", 1)
    threads.split(4, 4, lambda a, b: b - a)  # the parent's pool exists now
    pid = os.fork()
    if pid == 0:  # child: must not wait on the parent's (absent) worker threads
        import signal
        signal.alarm(30)  # a hang ends the child (killed) instead of the test run
        ok = threads.split(4, 4, lambda a, b: (a, b)) == [(0, 2), (2, 4)]
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_split_inside_a_slice_runs_inline_on_every_thread(restore_threads):
    # the caller's own slice as well as the pool's: a nested split from there would wait
    # for the threads that run the other slices
    threads.set_num_threads(2)
    seen = threads.split(2, 1 << 40, lambda lo, hi: threads.threads_for(100, 1 << 40))
    assert seen == [1, 1]
    assert threads.threads_for(100, 1 << 40) == 2  # and the caller is itself again after
