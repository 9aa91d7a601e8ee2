"""In-place changes through views of graph results (torch's CopySlices): the base and every
live view are re-pointed at the new values, so gradients match torch's. d2l's masked softmax
(``X.reshape(...)[~mask] = -1e6``) depends on this."""
import numpy as np
import pytest
import torch

import zerograd as zg
from tests.oracle import assert_close

A = np.random.default_rng(0).standard_normal((3, 4))
W = np.random.default_rng(1).standard_normal(3)


def row_mul(lib, x, w):
    y = x * 1
    y[0].mul_(2)
    return (y * y).sum()


def column_iadd(lib, x, w):
    y = x * 1
    y[:, 1] += w  # Python runs: tmp = y[:, 1]; tmp += w; y[:, 1] = tmp
    return (y ** 2).sum()


def strided_writes_into_plain_tensor(lib, x, w):  # d2l's positional encoding, with grad
    P = lib.zeros(3, 8, dtype=lib.float64)
    P[:, 0::2] = lib.sin(x)
    P[:, 1::2] = lib.cos(x)
    return (P * P.sum(0)).sum()


def transposed_view(lib, x, w):
    y = x * 2
    y.t()[1] = w * 3
    return (y ** 3).sum()


def stale_view_used_after(lib, x, w):
    y = x * 1
    v = y[1:]
    u = v[:, 0]
    u.mul_(3)  # v was created before the change and must see it
    return (v ** 2).sum() + (u * w[:2]).sum()


def masked_reshape(lib, x, w):
    X = (x / 2).reshape(-1, 2)
    X[~(X > 0)] = -1e6
    return (lib.softmax(X.reshape(3, 4), -1) * lib.tensor(A)).sum()


def view_then_base_op(lib, x, w):
    y = x * 2
    y[1:, :2].zero_()
    y[0, 0] = w[0]
    return (y.exp() * y).sum()


@pytest.mark.parametrize("fn", [row_mul, column_iadd, strided_writes_into_plain_tensor,
                                transposed_view, stale_view_used_after, masked_reshape,
                                view_then_base_op])
def test_gradients_through_inplace_view_changes_match_torch(fn):
    grads = []
    for lib in (zg, torch):
        x = lib.tensor(A, requires_grad=True)
        w = lib.tensor(W, requires_grad=True)
        out = fn(lib, x, w)
        out.backward()
        grads.append((out, x.grad, w.grad if w.grad is not None else lib.zeros(3)))
    for z, t in zip(*grads):
        assert_close(z, t)


def test_view_of_leaf_still_refused_and_saved_values_still_checked():
    x = zg.tensor(A, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        x[0].mul_(2)
    y = x.exp()  # exp saves its output for backward
    y[0].zero_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_views_keep_sharing_memory_and_versions():
    x = zg.tensor(A, requires_grad=True)
    y = x * 1
    v = y[:, 2]
    v.add_(zg.tensor(W, requires_grad=True))
    assert y._version == v._version == 1
    v.data[0] = 100.0  # untracked write through the view still reaches the base
    assert float(y[0, 2]) == 100.0
    assert v.grad_fn is not None and y.grad_fn is not None
