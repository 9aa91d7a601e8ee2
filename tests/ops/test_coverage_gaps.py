"""gradcheck cases for the Functions no op table reaches (tests/test_op_coverage.py finds
them): nodes that only appear inside derivatives, and the device transfer.

* ``ChannelSum`` is the bias gradient of a convolution: gradgradcheck with a bias puts it
  in the graph of the first derivative.
* ``IndexGather`` / ``WindowGather`` are the backward of the scatters that max pooling's
  backward applies (adaptive and windowed): they are the third derivative of max pooling,
  which gradgradcheck of the first-derivative function checks.
* ``ToDevice`` moves a tensor to the stand-in device and back; its gradient must come back.
* ``BackwardHookFunction`` is the identity node a module's full backward hooks hang on:
  a module with a hook that rescales its input gradient, against torch's.
"""
import numpy as np
import pytest

import torch

import zerograd as zg
from tests import standin_device
from tests.oracle import check_module
from zerograd.autograd import grad, gradcheck, gradgradcheck


def _t(array, requires_grad=True):
    return zg.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


def _spread(*shape, seed=0):
    """Values at least 0.1 apart: a max never changes under gradcheck's perturbations."""
    n = int(np.prod(shape))
    return _t(np.random.default_rng(seed).permutation(n).reshape(shape) * 0.1 - 0.5)


def test_conv2d_with_bias_gradgradcheck():
    rng = np.random.default_rng(0)
    x, w, b = _t(rng.standard_normal((1, 2, 4, 4))), _t(rng.standard_normal((3, 2, 2, 2))), \
        _t(rng.standard_normal(3))
    assert gradcheck(lambda x, w, b: zg.nn.functional.conv2d(x, w, b, padding=1), (x, w, b))
    assert gradgradcheck(lambda x, w, b: zg.nn.functional.conv2d(x, w, b, padding=1),
                         (x, w, b))


def _first_derivative(pool):
    """``(x, g) -> d<pool(x), g>/dx``, kept differentiable (the function gradgradcheck of
    which is the third derivative of ``pool``)."""
    def fn(x, g):
        with zg.enable_grad():  # gradcheck's finite differences run without grad
            (dx,) = grad(pool(x), x, g, create_graph=True)
        return dx
    return fn


@pytest.mark.parametrize("name,pool,out_shape", [
    ("max_pool2d overlapping windows",
     lambda x: zg.nn.functional.max_pool2d(x, 3, stride=1), (1, 2, 3, 3)),
    ("max_pool2d", lambda x: zg.nn.functional.max_pool2d(x, 2), (1, 2, 2, 2)),
    # 5 -> 2 windows of unequal sizes: the adaptive path (equal ones are max_pool2d's)
    ("adaptive_max_pool2d", lambda x: zg.nn.functional.adaptive_max_pool2d(x, 2), (1, 2, 2, 2)),
])
def test_max_pooling_third_derivative(name, pool, out_shape):
    x = _spread(1, 2, 4, 4) if name == "max_pool2d" else _spread(1, 2, 5, 5)
    g = _t(np.random.default_rng(1).standard_normal(out_shape))
    fn = _first_derivative(pool)
    assert gradcheck(fn, (x, g))
    assert gradgradcheck(fn, (x, g))


def test_to_device_and_back_gradcheck():
    x = _t(np.random.default_rng(0).standard_normal((2, 3)))

    def round_trip(x):
        y = x.to(standin_device.DEVICE)
        assert str(y.device) == standin_device.DEVICE
        return y.to("cpu")

    assert gradcheck(round_trip, (x,))
    assert gradgradcheck(round_trip, (x,))


def test_full_backward_hook_module_matches_torch(device):
    def double_grad_input(module, grad_input, grad_output):
        return tuple(None if g is None else g * 2 for g in grad_input)

    z, t = zg.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    for module in (z, t):
        module.register_full_backward_hook(double_grad_input)
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    check_module(z, t, x, device=device)
