"""nn.init: gains, fans, and the distributions of every initializer (tested statistically),
including the default initialization of layers; generator reproducibility; no autograd."""
import math

import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd import nn
from zerograd.nn import init


def _w(*shape, device="cpu"):
    return nn.Parameter(zg.empty(*shape, device=device))


def _host(t):
    """The values of a tensor as a NumPy array (copied from its device)."""
    return t.detach().cpu().numpy()


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
    v = _host(values).ravel()
    assert v.min() >= -bound and v.max() <= bound
    assert v.min() < -0.95 * bound and v.max() > 0.95 * bound
    assert abs(v.std() - bound / math.sqrt(3)) < 0.03 * bound  # std of U(-b, b) is b/sqrt 3
    assert abs(v.mean()) < 0.03 * bound


def _assert_normal(values, std, mean=0.0):
    v = _host(values).ravel()
    assert abs(v.std() - std) < 0.03 * std
    assert abs(v.mean() - mean) < 0.03 * std + 1e-12


def test_uniform_normal_constant_zeros_ones(device):
    w = _w(200, 100, device=device)
    assert init.uniform_(w, -2.0, 3.0) is w
    v = _host(w)
    assert v.min() >= -2 and v.max() <= 3 and abs(v.mean() - 0.5) < 0.05
    init.normal_(w, 1.5, 0.2)
    _assert_normal(w, 0.2, 1.5)
    init.constant_(w, 0.3)
    assert np.all(_host(w) == np.float32(0.3))
    init.zeros_(w)
    assert not _host(w).any()
    init.ones_(w)
    assert np.all(_host(w) == 1)
    assert w.requires_grad and w.is_leaf and w.grad_fn is None  # no history recorded
    assert str(w.device) == device and w.dtype is zg.float32
    w64 = _w(200, 100, device=device).double()  # float64 draws in place too
    init.normal_(init.uniform_(w64), 0.0, 2.0)
    _assert_normal(w64, 2.0)
    half = nn.Parameter(zg.zeros(60, 50, dtype=zg.float16, device=device))  # drawn in float64
    init.uniform_(half, -1.0, 1.0)
    assert half.dtype is zg.float16 and np.abs(_host(half)).max() <= 1


def test_xavier_and_kaiming_distributions(device):
    w = _w(300, 200, device=device)
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
    conv = _w(64, 16, 3, 3, device=device)
    init.kaiming_normal_(conv)
    _assert_normal(conv, math.sqrt(2 / 1.0001) / math.sqrt(16 * 9))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(w, mode="fan_avg")
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(_w(0, 3))


@pytest.mark.filterwarnings("ignore:mean is more than 2 std")
@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (0.0, 0.02, -0.04, 0.04),
                                          (1.0, 2.0, 0.0, 5.0), (0.0, 1.0, 3.0, 4.0)])
def test_trunc_normal_matches_torch_distribution(mean, std, a, b, device):
    z = _w(400, 250, device=device)
    init.trunc_normal_(z, mean, std, a, b)
    t = torch.nn.init.trunc_normal_(torch.empty(400, 250), mean, std, a, b)
    assert str(z.device) == device
    zv, tv = _host(z).ravel(), t.numpy().ravel()
    assert zv.min() >= a and zv.max() <= b
    assert abs(zv.mean() - tv.mean()) < 0.02 * (b - a)
    assert abs(zv.std() - tv.std()) < 0.02 * (b - a)
    # same shape of distribution: the deciles agree
    np.testing.assert_allclose(np.quantile(zv, np.linspace(0.1, 0.9, 9)),
                               np.quantile(tv, np.linspace(0.1, 0.9, 9)), atol=0.02 * (b - a))


def test_orthogonal_eye_dirac_sparse(device):
    for shape in [(6, 4), (4, 6), (5, 2, 3)]:
        w = _w(*shape, device=device)
        init.orthogonal_(w, gain=2.0)
        m = _host(w).reshape(shape[0], -1)
        gram = m @ m.T if shape[0] <= m.shape[1] else m.T @ m
        np.testing.assert_allclose(gram, 4 * np.eye(gram.shape[0]), atol=1e-5)
    w = _w(3, 5, device=device)
    init.eye_(w)
    np.testing.assert_array_equal(_host(w), np.eye(3, 5))
    with pytest.raises(ValueError, match="2 dimensions"):
        init.eye_(_w(2, 2, 2))
    for groups in (1, 2):
        z, t = _w(4, 3, 3, 3, device=device), torch.empty(4, 3, 3, 3)
        init.dirac_(z, groups)
        torch.nn.init.dirac_(t, groups)
        np.testing.assert_array_equal(_host(z), t.numpy())
    s = _w(10, 40, device=device)
    init.sparse_(s, 0.3, std=0.5)
    zeros = (_host(s) == 0).sum(axis=0)
    assert np.all(zeros == 3)
    assert all(str(t.device) == device for t in (w, z, s))


def test_generator_argument_and_seed_reproducibility(device):
    g1, g2 = zg.Generator(device).manual_seed(7), zg.Generator(device).manual_seed(7)
    a, b = _w(5, 5, device=device), _w(5, 5, device=device)
    init.kaiming_uniform_(a, generator=g1)
    init.kaiming_uniform_(b, generator=g2)
    np.testing.assert_array_equal(_host(a), _host(b))
    zg.manual_seed(11)
    l1 = nn.Linear(4, 4, device=device)
    zg.manual_seed(11)
    l2 = nn.Linear(4, 4, device=device)
    np.testing.assert_array_equal(_host(l1.weight), _host(l2.weight))
    if device != "cpu":  # torch's rule: a generator draws on its own device only
        with pytest.raises(RuntimeError, match="Expected a 'standin' device type for generator"):
            init.normal_(a, generator=zg.Generator())


def test_default_layer_initialization_matches_torch_distributions(device):
    lin = nn.Linear(400, 300, device=device)
    _assert_uniform(lin.weight, 1 / math.sqrt(400))
    b = _host(lin.bias)
    assert np.abs(b).max() <= 1 / math.sqrt(400) and np.abs(b).max() > 0.9 / math.sqrt(400)
    bil = nn.Bilinear(50, 20, 30, device=device)
    _assert_uniform(bil.weight, 1 / math.sqrt(50))
    assert np.abs(_host(bil.bias)).max() <= 1 / math.sqrt(50)
    emb = nn.Embedding(300, 100, padding_idx=5, device=device)
    _assert_normal(emb.weight, 1.0)
    assert not _host(emb.weight)[5].any()
    assert np.all(_host(nn.PReLU(3, device=device).weight) == np.float32(0.25))
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
