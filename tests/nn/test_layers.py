"""Layers against torch on the same weights: Linear, Bilinear, Flatten, Unflatten, Embedding,
Identity; Dropout behaviour; bad inputs; a d2l-style training snippet."""
import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd import nn
from zerograd.autograd import gradcheck, gradgradcheck
from tests.oracle import assert_close, check_module, copy_params

RNG = np.random.default_rng(0)


def randn(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(5, 4), (4,), (2, 3, 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(dtype, shape, bias, device):
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    zdt = zg.float32 if dtype == np.float32 else zg.float64
    check_module(nn.Linear(4, 3, bias=bias, dtype=zdt),
                 torch.nn.Linear(4, 3, bias=bias, dtype=tdt), randn(*shape, dtype=dtype),
                 device=device)


def test_linear_double_backward_and_gradcheck():
    lin = nn.Linear(3, 2, dtype=zg.float64)
    x = zg.randn(4, 3, dtype=zg.float64, requires_grad=True)
    assert gradcheck(lambda x, w, b: nn.functional.linear(x, w, b), (x, lin.weight, lin.bias))
    assert gradgradcheck(lambda x, w: nn.functional.linear(x, w).tanh(), (x, lin.weight))


def test_linear_bad_input_names_in_features_and_shape():
    lin = nn.Linear(4, 3)
    with pytest.raises(RuntimeError, match=r"in_features=4.*shape \(2, 5\)"):
        lin(zg.randn(2, 5))
    with pytest.raises(RuntimeError, match="dtype"):
        lin(zg.randn(2, 4, dtype=zg.float64))
    with pytest.raises(RuntimeError, match=r"in_features=4.*\(2, 5\)"):
        nn.functional.linear(zg.randn(2, 5), lin.weight)


@pytest.mark.parametrize("bias", [True, False])
def test_bilinear_matches_torch(bias, device):
    check_module(nn.Bilinear(3, 4, 5, bias=bias), torch.nn.Bilinear(3, 4, 5, bias=bias),
                 randn(6, 3), randn(6, 4), device=device)
    check_module(nn.Bilinear(3, 4, 2, dtype=zg.float64),
                 torch.nn.Bilinear(3, 4, 2, dtype=torch.float64),
                 randn(2, 5, 3, dtype=np.float64), randn(2, 5, 4, dtype=np.float64),
                 device=device)
    with pytest.raises(RuntimeError, match="batch dimensions"):
        nn.Bilinear(3, 4, 5)(zg.randn(2, 3), zg.randn(3, 4))


@pytest.mark.parametrize("args", [(), (0,), (1, 2), (2, -1), (0, -2)])
def test_flatten_matches_torch(args, device):
    check_module(nn.Flatten(*args), torch.nn.Flatten(*args), randn(2, 3, 4, 5), device=device)


@pytest.mark.parametrize("dim,size", [(1, (3, 4)), (-1, (5, 1)), (1, [2, -1])])
def test_unflatten_matches_torch(dim, size, device):
    check_module(nn.Unflatten(dim, size), torch.nn.Unflatten(dim, size), randn(2, 12, 5),
                 device=device)


def test_identity_passes_input_through():
    x = zg.randn(3, requires_grad=True)
    assert nn.Identity(54, unused=1)(x) is x


def test_embedding_matches_torch_with_repeats_and_padding(device):
    idx = np.array([[1, 2, 4, 5], [4, 3, 2, 9], [1, 1, 1, 0]], dtype=np.int64)
    for kwargs in [{}, {"padding_idx": 1}, {"padding_idx": -1},
                   {"scale_grad_by_freq": True}, {"padding_idx": 0, "scale_grad_by_freq": True}]:
        z, t = nn.Embedding(10, 3, **kwargs), torch.nn.Embedding(10, 3, **kwargs)
        check_module(z, t, idx, device=device)
    z, t = nn.Embedding(10, 3), torch.nn.Embedding(10, 3)
    check_module(z, t, np.array(7, dtype=np.int64), device=device)  # a single index


def test_embedding_padding_row_is_zero_and_gets_no_gradient():
    emb = nn.Embedding(6, 4, padding_idx=2)
    assert not emb.weight[2].detach().numpy().any()
    emb(zg.tensor([2, 2, 3])).sum().backward()
    assert not emb.weight.grad[2].numpy().any()
    assert emb.weight.grad[3].numpy().tolist() == [1.0] * 4


def test_embedding_max_norm_renormalizes_like_torch(device):
    z, t = nn.Embedding(5, 3, max_norm=1.0), torch.nn.Embedding(5, 3, max_norm=1.0)
    with torch.no_grad():
        t.weight.mul_(3)
    copy_params(z, t)
    idx = np.array([0, 2, 2, 4])
    check_module(z, t, idx, copy=False, device=device)
    assert_close(z.weight, t.weight)


def test_embedding_from_pretrained_and_double_backward():
    w = zg.randn(4, 2, dtype=zg.float64)
    emb = nn.Embedding.from_pretrained(w)
    assert not emb.weight.requires_grad and emb.weight.data_ptr() == w.data_ptr()
    emb = nn.Embedding.from_pretrained(w, freeze=False)
    idx = zg.tensor([0, 3, 3])
    assert gradcheck(lambda w: nn.functional.embedding(idx, w), (emb.weight,))
    assert gradgradcheck(lambda w: nn.functional.embedding(idx, w) ** 2, (emb.weight,))


def test_embedding_bad_indices():
    emb = nn.Embedding(10, 3)
    with pytest.raises(IndexError, match="index 12 is out of range.*10 rows"):
        emb(zg.tensor([1, 12]))
    with pytest.raises(IndexError, match="-1"):
        emb(zg.tensor([-1]))
    with pytest.raises(RuntimeError, match="integer dtype"):
        emb(zg.tensor([1.0, 2.0]))
    with pytest.raises(AssertionError, match="Padding_idx"):
        nn.Embedding(3, 2, padding_idx=3)


def test_embedding_backward_is_vectorized_for_big_batches():
    emb = nn.Embedding(1000, 64)
    idx = zg.randint(0, 1000, (256, 35))
    emb(idx).sum().backward()
    counts = np.bincount(idx.numpy().ravel(), minlength=1000)
    np.testing.assert_allclose(emb.weight.grad.numpy()[:, 0], counts)


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 0.9])
def test_dropout_train_mask_scaling_and_eval_identity(p):
    zg.manual_seed(0)
    drop = nn.Dropout(p)
    x = zg.ones(200, 500, requires_grad=True)
    y = drop(x)
    kept = y.detach().numpy() != 0
    assert abs(1 - kept.mean() - p) < 0.01
    np.testing.assert_allclose(y.detach().numpy()[kept], 1 / (1 - p), rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())  # grad = mask/(1-p)
    drop.eval()
    assert drop(x) is x


def test_dropout_edge_cases_and_generator_reproducibility():
    x = zg.randn(4, 5)
    assert not nn.Dropout(1.0)(x).numpy().any()
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)
    zg.manual_seed(3)
    a = nn.Dropout(0.5)(x)
    zg.manual_seed(3)
    b = nn.Dropout(0.5)(x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    y = x.clone()
    out = nn.Dropout(0.5, inplace=True)(y)
    assert out is y


def test_dropout2d_drops_whole_channels():
    zg.manual_seed(1)
    x = zg.ones(64, 32, 5, 5, requires_grad=True)
    y = nn.Dropout2d(0.25)(x).detach().numpy()
    per_channel = y.reshape(64, 32, -1)
    assert np.all((per_channel == 0).all(-1) | (per_channel == per_channel[..., :1]).all(-1))
    assert abs((per_channel[..., 0] == 0).mean() - 0.25) < 0.03
    np.testing.assert_allclose(y[y != 0], 1 / 0.75, rtol=1e-6)
    with pytest.warns(UserWarning, match="3D input to dropout2d"):
        three_d = nn.Dropout2d(0.5)(zg.ones(8, 3, 3)).numpy()  # read as (N, C, L), as torch
    assert np.all((three_d == three_d[..., :1]).all(-1))
    d1 = nn.Dropout1d(0.5)(zg.ones(4, 6, 7)).numpy()
    assert np.all((d1 == d1[..., :1]).all(-1))
    with pytest.raises(RuntimeError, match="Expected 3D or 4D"):
        nn.Dropout2d()(zg.ones(2, 2))
    assert nn.Dropout2d().eval()(x) is x


def test_d2l_style_snippet_runs():
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))

    def init_weights(m):
        if type(m) == nn.Linear:
            nn.init.normal_(m.weight, std=0.01)

    net.apply(init_weights)
    assert isinstance(net[0], nn.Flatten)
    net[1].weight.data.normal_(0, 0.01)
    net[1].bias.data.fill_(0)
    assert not net[1].bias.detach().numpy().any()
    assert abs(float(net[3].weight.detach().numpy().std()) - 0.01) < 0.002
    text = str(net)
    assert text.startswith("Sequential(\n  (0): Flatten(start_dim=1, end_dim=-1)\n  (1): Linear(")
    loss = nn.CrossEntropyLoss(reduction="none")
    X, y = zg.randn(32, 1, 28, 28), zg.randint(0, 10, (32,))
    lr = 0.1
    before = loss(net(X), y).mean().item()
    for _ in range(5):
        l = loss(net(X), y)
        net.zero_grad()
        l.mean().backward()
        with zg.no_grad():
            for param in net.parameters():
                param -= lr * param.grad
    assert loss(net(X), y).mean().item() < before
    assert all(p.is_leaf for p in net.parameters())
    # the same snippet through torch's API names: d2l's accuracy helper
    y_hat = net(X)
    acc = float((y_hat.argmax(1).type(y.dtype) == y).type(y.dtype).sum())
    assert 0 <= acc <= 32


def test_default_dtype_float64_layers():
    zg.set_default_dtype(zg.float64)
    try:
        lin = nn.Linear(2, 2)
        assert lin.weight.dtype is zg.float64
    finally:
        zg.set_default_dtype(zg.float32)


def test_lazy_linear_infers_in_features_like_torch():
    z, t = nn.LazyLinear(3), torch.nn.LazyLinear(3)
    assert repr(z) == repr(t)
    params_before = list(z.parameters())
    assert all(isinstance(p, nn.parameter.UninitializedParameter) for p in params_before)
    x = randn(4, 5)
    z(zg.tensor(x))
    t(torch.tensor(x))
    assert type(z) is nn.Linear and repr(z) == repr(t)
    assert params_before[0] is z.weight and type(z.weight) is nn.Parameter  # same objects
    assert tuple(z.weight.shape) == (3, 5)
    b = 1 / np.sqrt(5)
    assert np.abs(z.weight.detach().numpy()).max() <= b
    check_module(z, t, x)
    # a lazy model takes its shapes from a checkpoint
    fresh = nn.Sequential(nn.LazyLinear(3), nn.ReLU())
    fresh.load_state_dict({"0.weight": z.weight.detach(), "0.bias": z.bias.detach()})
    assert_close(fresh(zg.tensor(x)), z(zg.tensor(x)).relu())
    assert len(fresh[0]._forward_pre_hooks) == 0


def test_lazy_linear_d2l_pattern_forward_then_apply_init():
    net = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(2))
    net(zg.randn(2, 20))
    net.apply(lambda m: nn.init.xavier_uniform_(m.weight) if type(m) == nn.Linear else None)
    assert [tuple(p.shape) for p in net.parameters()] == [(8, 20), (8,), (2, 8), (2,)]


def test_model_with_dropout_matches_torch_in_eval_mode_and_differs_in_train(device):
    def build(lib):
        return lib.Sequential(lib.Linear(6, 16), lib.ReLU(), lib.Dropout(0.5),
                              lib.Linear(16, 16), lib.GELU(), lib.Dropout(0.2),
                              lib.Linear(16, 3))

    z, t = build(nn), build(torch.nn)
    z.eval()
    t.eval()
    check_module(z, t, randn(8, 6), device=device)
    z.train()
    x = zg.tensor(randn(8, 6), device=device)
    outs = [z(x).detach().cpu().numpy() for _ in range(2)]
    assert not np.allclose(outs[0], outs[1])  # a fresh mask each call
