"""The oracle can fail: each helper of tests/oracle.py rejects a wrong value, a wrong
gradient, a wrong dtype or shape, and a result left on the wrong device."""
import numpy as np
import pytest
import torch

import zerograd as zg
from tests.oracle import (assert_close, assert_like, assert_same, both, check, check_jvp,
                          check_like_torch, check_module)

X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], dtype=np.float32)


class WrongGrad(zg.autograd.Function):
    """sin with the derivative of -cos forgotten: the right value, a wrong gradient."""

    @staticmethod
    def forward(ctx, a):
        return ctx.xp.sin(a)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output


def test_check_passes_a_right_op_on_each_device(device):
    zs, _ = check(lambda a: a.sin() * 2, lambda a: a.sin() * 2, X, device=device)
    assert zs[0].grad is not None and str(zs[0].grad.device) == device


def test_check_catches_a_wrong_value_and_a_wrong_gradient():
    with pytest.raises(AssertionError, match="output 0"):
        check(lambda a: a.cos(), lambda a: a.sin(), X)
    with pytest.raises(AssertionError, match="grad of input 0"):
        check(WrongGrad.apply, torch.sin, X)
    with pytest.raises(AssertionError, match="dtype"):
        check(lambda a: a.double(), lambda a: a, X)
    with pytest.raises(AssertionError, match="outputs"):
        check(lambda a: (a, a), lambda a: a, X)


def test_check_catches_a_result_left_on_the_host():
    with pytest.raises(AssertionError, match="output 0 is on cpu, expected standin"):
        check(lambda a: a.cpu() * 2, lambda a: a * 2, X, device="standin")


def test_both_and_check_like_torch():
    both(lambda m, a: m.exp(a).sum(1), X)
    with pytest.raises(AssertionError):
        both(lambda m, a: m.exp(a) if m is zg else m.exp(a) + 1e-3, X)
    # torch refuses a sum over dim 5 with IndexError: zerograd must refuse alike
    check_like_torch(lambda a: a.sum(5), lambda a: a.sum(5), X)
    with pytest.raises(AssertionError, match="zerograd did not"):
        check_like_torch(lambda a: a.sum(1), lambda a: a.sum(5), X)


def test_check_jvp_catches_a_wrong_tangent():
    check_jvp(lambda a: a.sin(), lambda a: a.sin(), X.astype(np.float64))
    with pytest.raises(AssertionError, match="tangent 0"):
        # same values, tangents off by half the input's tangent
        check_jvp(lambda a: a.sin(), lambda a: a.sin() + (a - a.detach()) * 0.5,
                  X.astype(np.float64))


def test_check_module_compares_tuple_outputs_parameter_grads_and_buffers():
    zg.manual_seed(0)
    check_module(zg.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3), X)
    z, t = zg.nn.Linear(3, 2), torch.nn.Linear(3, 2)

    class Pair(zg.nn.Module):  # a module with two outputs
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x), self.inner(x).relu()

    class TorchPair(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x), self.inner(x).relu()

    check_module(Pair(z), TorchPair(t), X)
    with pytest.raises(AssertionError, match="grad of inner.bias"):
        # zerograd's bias gets no gradient: the parameter check must notice
        check_module(Pair(_DetachedBias(3, 2)), TorchPair(torch.nn.Linear(3, 2)), X)
    bn = torch.nn.BatchNorm1d(3, momentum=0.5)
    with pytest.raises(AssertionError, match="buffer running_mean"):
        check_module(zg.nn.BatchNorm1d(3, momentum=0.1), bn, X)


class _DetachedBias(zg.nn.Linear):
    def forward(self, x):
        return x @ self.weight.t() + self.bias.detach()


def test_assert_same_is_exact():
    assert_same(zg.tensor([1.0, float("nan")]), torch.tensor([1.0, float("nan")]))
    assert_same({"a": (zg.tensor([1, 2]), 3)}, {"a": (torch.tensor([1, 2]), 3)})
    with pytest.raises(AssertionError):
        assert_same(zg.tensor([1.0]), torch.tensor([1.0 + 2 ** -20]))
    with pytest.raises(AssertionError, match="dtype"):
        assert_same(zg.tensor([1, 2]), torch.tensor([1.0, 2.0]))
    with pytest.raises(AssertionError, match="shape"):
        assert_same(zg.tensor([[1, 2]]), torch.tensor([1, 2]))
    with pytest.raises(AssertionError, match="type"):
        assert_same(1, 1.0)
    with pytest.raises(AssertionError, match="list"):
        assert_same([zg.tensor(1)], (torch.tensor(1),))


def test_assert_close_and_assert_like():
    assert_close(zg.tensor([1.0]), torch.tensor([1.0 + 1e-7]))
    with pytest.raises(AssertionError):
        assert_close(zg.tensor([1.0]), torch.tensor([1.1]))
    assert_like(zg.zeros(2, 3), torch.ones(2, 3))
    with pytest.raises(AssertionError, match="dtype"):
        assert_like(zg.zeros(2, 3, dtype=zg.float64), torch.ones(2, 3))
