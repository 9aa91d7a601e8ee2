"""nn.init: gains, fans, and the distributions of every initializer (tested statistically),
including the default initialization of layers; generator reproducibility; no autograd."""
import math

import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd import nn
from zerograd.nn import init


def _w(*shape):
    return nn.Parameter(zg.empty(*shape))


@pytest.mark.parametrize("args", [("linear",), ("conv2d",), ("sigmoid",), ("tanh",), ("relu",),
                                  ("leaky_relu",), ("leaky_relu", 0.2), ("selu",),
                                  ("leaky_relu", math.sqrt(5))])
def test_calculate_gain_matches_torch(args):
    assert init.calculate_gain(*args) == pytest.approx(torch.nn.init.calculate_gain(*args))


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", True)


@pytest.mark.parametrize("shape", [(3, 5), (4, 3, 2, 2), (6, 2, 7)])
def test_fan_in_and_fan_out_match_torch(shape):
    assert init._calculate_fan_in_and_fan_out(zg.empty(*shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(zg.empty(4))


def _assert_uniform(values, bound):
    v = values.detach().numpy().ravel()
    assert v.min() >= -bound and v.max() <= bound
    assert v.min() < -0.95 * bound and v.max() > 0.95 * bound
    assert abs(v.std() - bound / math.sqrt(3)) < 0.03 * bound  # std of U(-b, b) is b/sqrt 3
    assert abs(v.mean()) < 0.03 * bound


def _assert_normal(values, std, mean=0.0):
    v = values.detach().numpy().ravel()
    assert abs(v.std() - std) < 0.03 * std
    assert abs(v.mean() - mean) < 0.03 * std + 1e-12


def test_uniform_normal_constant_zeros_ones():
    w = _w(200, 100)
    assert init.uniform_(w, -2.0, 3.0) is w
    v = w.detach().numpy()
    assert v.min() >= -2 and v.max() <= 3 and abs(v.mean() - 0.5) < 0.05
    init.normal_(w, 1.5, 0.2)
    _assert_normal(w, 0.2, 1.5)
    init.constant_(w, 0.3)
    assert np.all(w.detach().numpy() == np.float32(0.3))
    init.zeros_(w)
    assert not w.detach().numpy().any()
    init.ones_(w)
    assert np.all(w.detach().numpy() == 1)
    assert w.requires_grad and w.is_leaf and w.grad_fn is None  # no history recorded


def test_xavier_and_kaiming_distributions():
    w = _w(300, 200)
    init.xavier_uniform_(w, gain=2.0)
    _assert_uniform(w, 2.0 * math.sqrt(6 / 500))
    init.xavier_normal_(w)
    _assert_normal(w, math.sqrt(2 / 500))
    init.kaiming_uniform_(w, nonlinearity="relu")
    _assert_uniform(w, math.sqrt(2) * math.sqrt(3 / 200))
    init.kaiming_uniform_(w, a=0.1, mode="fan_out")
    _assert_uniform(w, math.sqrt(2 / 1.01) * math.sqrt(3 / 300))
    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    _assert_normal(w, math.sqrt(2 / 300))
    conv = _w(64, 16, 3, 3)
    init.kaiming_normal_(conv)
    _assert_normal(conv, math.sqrt(2 / 1.0001) / math.sqrt(16 * 9))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(w, mode="fan_avg")
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(_w(0, 3))


@pytest.mark.filterwarnings("ignore:mean is more than 2 std")
@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (0.0, 0.02, -0.04, 0.04),
                                          (1.0, 2.0, 0.0, 5.0), (0.0, 1.0, 3.0, 4.0)])
def test_trunc_normal_matches_torch_distribution(mean, std, a, b):
    z = _w(400, 250)
    init.trunc_normal_(z, mean, std, a, b)
    t = torch.nn.init.trunc_normal_(torch.empty(400, 250), mean, std, a, b)
    zv, tv = z.detach().numpy().ravel(), t.numpy().ravel()
    assert zv.min() >= a and zv.max() <= b
    assert abs(zv.mean() - tv.mean()) < 0.02 * (b - a)
    assert abs(zv.std() - tv.std()) < 0.02 * (b - a)
    # same shape of distribution: the deciles agree
    np.testing.assert_allclose(np.quantile(zv, np.linspace(0.1, 0.9, 9)),
                               np.quantile(tv, np.linspace(0.1, 0.9, 9)), atol=0.02 * (b - a))


def test_orthogonal_eye_dirac_sparse():
    for shape in [(6, 4), (4, 6), (5, 2, 3)]:
        w = _w(*shape)
        init.orthogonal_(w, gain=2.0)
        m = w.detach().numpy().reshape(shape[0], -1)
        gram = m @ m.T if shape[0] <= m.shape[1] else m.T @ m
        np.testing.assert_allclose(gram, 4 * np.eye(gram.shape[0]), atol=1e-5)
    w = _w(3, 5)
    init.eye_(w)
    np.testing.assert_array_equal(w.detach().numpy(), np.eye(3, 5))
    with pytest.raises(ValueError, match="2 dimensions"):
        init.eye_(_w(2, 2, 2))
    for groups in (1, 2):
        z, t = _w(4, 3, 3, 3), torch.empty(4, 3, 3, 3)
        init.dirac_(z, groups)
        torch.nn.init.dirac_(t, groups)
        np.testing.assert_array_equal(z.detach().numpy(), t.numpy())
    s = _w(10, 40)
    init.sparse_(s, 0.3, std=0.5)
    zeros = (s.detach().numpy() == 0).sum(axis=0)
    assert np.all(zeros == 3)


def test_generator_argument_and_seed_reproducibility():
    g1, g2 = zg.Generator().manual_seed(7), zg.Generator().manual_seed(7)
    a, b = _w(5, 5), _w(5, 5)
    init.kaiming_uniform_(a, generator=g1)
    init.kaiming_uniform_(b, generator=g2)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    zg.manual_seed(11)
    l1 = nn.Linear(4, 4)
    zg.manual_seed(11)
    l2 = nn.Linear(4, 4)
    np.testing.assert_array_equal(l1.weight.detach().numpy(), l2.weight.detach().numpy())


def test_default_layer_initialization_matches_torch_distributions():
    lin = nn.Linear(400, 300)
    _assert_uniform(lin.weight, 1 / math.sqrt(400))
    b = lin.bias.detach().numpy()
    assert np.abs(b).max() <= 1 / math.sqrt(400) and np.abs(b).max() > 0.9 / math.sqrt(400)
    bil = nn.Bilinear(50, 20, 30)
    _assert_uniform(bil.weight, 1 / math.sqrt(50))
    assert np.abs(bil.bias.detach().numpy()).max() <= 1 / math.sqrt(50)
    emb = nn.Embedding(300, 100, padding_idx=5)
    _assert_normal(emb.weight, 1.0)
    assert not emb.weight.detach().numpy()[5].any()
    assert np.all(nn.PReLU(3).weight.detach().numpy() == np.float32(0.25))
    lin.reset_parameters()
    _assert_uniform(lin.weight, 1 / math.sqrt(400))


def test_init_under_grad_mode_does_not_record_and_bumps_version():
    w = _w(3, 3)
    v = w._version
    init.normal_(w)
    assert w._version > v and w.grad_fn is None
    with pytest.raises(TypeError, match="expects a zerograd Tensor"):
        init.normal_(np.zeros(3))
    with pytest.warns(FutureWarning, match="deprecated"):
        init.normal(w)
