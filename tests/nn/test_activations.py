"""Activations (functional and modules) against torch: values, input gradients, second
derivatives (float64 gradgradcheck), in-place variants, extreme inputs, reprs."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import zerograd as zg
import zerograd.nn.functional as F
from zerograd import nn
from zerograd.autograd import gradcheck, gradgradcheck
from tests.oracle import assert_close, check, check_module

# name, zerograd functional call, torch functional call, smooth (second derivative checked)
ACTS = [
    ("relu", lambda f, x: f.relu(x), False),
    ("relu6", lambda f, x: f.relu6(x * 4), False),
    ("leaky_relu", lambda f, x: f.leaky_relu(x, 0.2), False),
    ("elu", lambda f, x: f.elu(x, 0.7), True),
    ("selu", lambda f, x: f.selu(x), True),
    ("celu", lambda f, x: f.celu(x, 1.3), True),
    ("gelu", lambda f, x: f.gelu(x), True),
    ("gelu_tanh", lambda f, x: f.gelu(x, approximate="tanh"), True),
    ("silu", lambda f, x: f.silu(x), True),
    ("mish", lambda f, x: f.mish(x), True),
    ("sigmoid", lambda f, x: f.sigmoid(x), True),
    ("tanh", lambda f, x: f.tanh(x), True),
    ("softplus", lambda f, x: f.softplus(x), True),
    ("softplus_beta", lambda f, x: f.softplus(x * 10, beta=2, threshold=5), True),
    ("logsigmoid", lambda f, x: f.logsigmoid(x), True),
    ("hardtanh", lambda f, x: f.hardtanh(x * 2), False),
    ("hardtanh_range", lambda f, x: f.hardtanh(x, -0.5, 0.3), False),
    ("hardsigmoid", lambda f, x: f.hardsigmoid(x * 4), False),
    ("hardswish", lambda f, x: f.hardswish(x * 4), False),
    ("softsign", lambda f, x: f.softsign(x), True),
    ("tanhshrink", lambda f, x: f.tanhshrink(x), True),
    ("hardshrink", lambda f, x: f.hardshrink(x, 0.3), False),
    ("softshrink", lambda f, x: f.softshrink(x, 0.3), False),
    ("threshold", lambda f, x: f.threshold(x, 0.1, -2.0), False),
    ("glu", lambda f, x: f.glu(x, 1), True),
    ("softmax", lambda f, x: f.softmax(x, dim=1), True),
    ("softmax_neg", lambda f, x: f.softmax(x, dim=-1), True),
    ("log_softmax", lambda f, x: f.log_softmax(x, dim=1), True),
    ("softmin", lambda f, x: f.softmin(x, dim=0), True),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,fn,smooth", ACTS, ids=[a[0] for a in ACTS])
def test_activation_matches_torch(name, fn, smooth, dtype, device):
    x = np.random.default_rng(1).standard_normal((4, 6, 3)).astype(dtype) * 2
    check(lambda t: fn(F, t), lambda t: fn(TF, t), x, device=device)


@pytest.mark.parametrize("name,fn,smooth", [a for a in ACTS if a[2]],
                         ids=[a[0] for a in ACTS if a[2]])
def test_smooth_activation_second_derivative(name, fn, smooth):
    x = zg.tensor(np.random.default_rng(2).standard_normal((2, 4)) * 1.5, requires_grad=True)
    assert gradcheck(lambda t: fn(F, t), (x,))
    assert gradgradcheck(lambda t: fn(F, t), (x,))


def test_piecewise_second_derivative_w_r_t_grad_output():
    x = zg.tensor(np.array([[-1.5, 0.3], [2.0, -0.2]]), requires_grad=True)
    for fn in (F.leaky_relu, F.hardtanh, F.relu6):
        assert gradgradcheck(lambda t: fn(t) * t, (x,))


def test_prelu_and_rrelu_eval_match_torch():
    x = np.random.default_rng(3).standard_normal((3, 4, 5)).astype(np.float32)
    w = np.array([0.1, 0.25, -0.3, 0.5], dtype=np.float32)
    check(F.prelu, TF.prelu, x, w)
    check(F.prelu, TF.prelu, x, np.array([0.2], dtype=np.float32))
    check(lambda t: F.rrelu(t, 0.1, 0.3), lambda t: TF.rrelu(t, 0.1, 0.3), x)
    zg.manual_seed(0)
    y = F.rrelu(zg.tensor(-np.ones(10000, dtype=np.float32)), 0.1, 0.3, training=True).numpy()
    assert -0.3 <= y.min() and y.max() <= -0.1 and abs(y.mean() + 0.2) < 0.01


@pytest.mark.parametrize("make", [
    lambda m: m.ReLU(), lambda m: m.ReLU6(), lambda m: m.LeakyReLU(0.3), lambda m: m.ELU(0.5),
    lambda m: m.SELU(), lambda m: m.CELU(0.8), lambda m: m.GELU(), lambda m: m.GELU("tanh"),
    lambda m: m.SiLU(), lambda m: m.Mish(), lambda m: m.Sigmoid(), lambda m: m.Tanh(),
    lambda m: m.Softplus(2.0, 3.0), lambda m: m.Softmax(dim=1), lambda m: m.LogSoftmax(dim=2),
    lambda m: m.Softmin(dim=1), lambda m: m.Hardtanh(-0.5, 0.5), lambda m: m.Hardsigmoid(),
    lambda m: m.Hardswish(), lambda m: m.LogSigmoid(), lambda m: m.Softsign(),
    lambda m: m.Tanhshrink(), lambda m: m.Hardshrink(0.2), lambda m: m.Softshrink(0.2),
    lambda m: m.Threshold(0.1, 20.0), lambda m: m.GLU(1), lambda m: m.PReLU(),
    lambda m: m.PReLU(4), lambda m: m.Softmax2d(),
])
def test_activation_modules_match_torch(make, device):
    x = np.random.default_rng(4).standard_normal((2, 4, 3, 2)).astype(np.float32) * 2
    z, t = make(nn), make(torch.nn)
    assert repr(z) == repr(t)
    check_module(z, t, x, device=device)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "silu", "hardtanh", "relu6",
                                  "selu", "celu", "mish", "hardswish", "hardsigmoid"])
def test_inplace_variants_modify_input_and_backprop(name):
    x = np.random.default_rng(5).standard_normal((3, 4)).astype(np.float32)
    zx = zg.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    zy, ty = zx * 1, tx * 1
    zo = getattr(F, name)(zy, inplace=True)
    to = getattr(TF, name)(ty, inplace=True)
    assert zo is zy
    assert_close(zy, ty)
    (zo * zo).sum().backward()
    (to * to).sum().backward()
    assert_close(zx.grad, tx.grad)
    assert isinstance(nn.ReLU(inplace=True)(zg.ones(2)), zg.Tensor)


def test_activations_stay_finite_at_extreme_inputs():
    big = np.array([-1e4, -100.0, -30.0, 0.0, 30.0, 100.0, 1e4], dtype=np.float32)
    for name in ["softplus", "logsigmoid", "silu", "gelu", "elu", "selu", "mish", "sigmoid",
                 "tanh", "softsign"]:
        fn = getattr(F, name)
        x = zg.tensor(big, requires_grad=True)
        y = fn(x)
        y.sum().backward()
        tx = torch.tensor(big, requires_grad=True)
        ty = getattr(TF, name)(tx)
        ty.sum().backward()
        assert np.isfinite(y.detach().numpy()).all(), name
        assert np.isfinite(x.grad.numpy()).all(), name
        assert_close(y, ty, rtol=1e-5, atol=1e-5, what=name)
        assert_close(x.grad, tx.grad, rtol=1e-5, atol=1e-5, what=name)
    s = F.softmax(zg.tensor([[1e4, 0.0, -1e4]]), dim=1).numpy()
    assert np.isfinite(s).all() and s[0, 0] == 1.0


def test_gelu_float32_erf_approximation_accuracy():
    x = np.linspace(-10, 10, 20001).astype(np.float32)
    ours = F.gelu(zg.tensor(x)).numpy()
    # exact reference x * Phi(x) (scipy's ndtr keeps the tail); torch's float32 kernel
    # computes 1 + erf(x / sqrt 2) and loses digits below x = -4
    from scipy.special import ndtr
    exact = x.astype(np.float64) * ndtr(x.astype(np.float64))
    np.testing.assert_allclose(ours, exact, rtol=1e-6, atol=1e-37)
    np.testing.assert_allclose(ours, TF.gelu(torch.tensor(x)).numpy(), rtol=1e-5, atol=1e-6)


def test_activation_bad_arguments():
    with pytest.raises(RuntimeError, match="approximate"):
        F.gelu(zg.ones(2), approximate="fast")
    with pytest.raises(RuntimeError, match="Halving dimension must be even"):
        F.glu(zg.ones(2, 3), dim=1)
    with pytest.raises(RuntimeError, match="parameter numbers"):
        F.prelu(zg.ones(2, 3), zg.ones(2))
    with pytest.warns(UserWarning, match="Implicit dimension"):
        F.softmax(zg.ones(2, 3))


def test_activation_integer_input_promotes_like_torch():
    x = np.array([-2, 0, 3])
    for name in ["gelu", "silu", "elu", "softplus"]:
        z = getattr(F, name)(zg.tensor(x).float())
        t = getattr(TF, name)(torch.tensor(x).float())
        assert_close(z, t)
    assert F.relu(zg.tensor(x)).dtype is zg.int64
