"""nn.functional: pad, one_hot, embedding, dropout, linear, bilinear against torch; the
namespace has every name the d2l code and the losses need."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import zerograd as zg
import zerograd.nn.functional as F
from zerograd.autograd import gradcheck, gradgradcheck
from tests.oracle import assert_close, check

RNG = np.random.default_rng(0)


def randn(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


REQUIRED = ["linear", "bilinear", "relu", "gelu", "softmax", "log_softmax", "one_hot", "pad",
            "embedding", "dropout", "dropout2d", "leaky_relu", "elu", "silu", "softplus",
            "hardtanh", "sigmoid", "tanh", "mse_loss", "l1_loss", "huber_loss",
            "smooth_l1_loss", "cross_entropy", "nll_loss", "binary_cross_entropy",
            "binary_cross_entropy_with_logits", "kl_div"]


def test_functional_namespace_has_required_names():
    missing = [n for n in REQUIRED if not callable(getattr(F, n, None))]
    assert not missing


@pytest.mark.parametrize("pad_", [(1, 2), (0, 1, 2, 0), (1, 1, 1, 1, 1, 1), (-1, 2),
                                  (2, -1, -1, 1), (0, 0, 0, 0, 0, 0, 1, 0)])
@pytest.mark.parametrize("value", [None, 0.5])
def test_constant_pad_any_dims_and_negative_crop(pad_, value, device):
    x = randn(2, 3, 4, 5)
    check(lambda a: F.pad(a, pad_, value=value),
          lambda a: TF.pad(a, pad_, value=value if value is not None else 0.0), x, device=device)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pad_", [((2, 3, 6), (2, 1)), ((3, 6), (1, 3)),
                                        ((2, 3, 5, 6), (1, 2, 3, 0)), ((3, 5, 6), (2, 2, 1, 1)),
                                        ((1, 2, 4, 4, 5), (1, 1, 2, 0, 3, 1))])
def test_reflect_replicate_circular_pad_match_torch(mode, shape, pad_, device):
    check(lambda a: F.pad(a, pad_, mode=mode), lambda a: TF.pad(a, pad_, mode=mode),
          randn(*shape), device=device)


def test_pad_double_backward_and_errors():
    x = zg.tensor(randn(2, 3, 3, dtype=np.float64), requires_grad=True)
    assert gradgradcheck(lambda a: F.pad(a, (1, -1, 2, 0)) ** 2, (x,))
    assert gradgradcheck(lambda a: F.pad(a, (2, 1), mode="reflect") ** 2, (x,))
    with pytest.raises(ValueError, match="divisible by 2"):
        F.pad(zg.ones(2, 2), (1,))
    with pytest.raises(ValueError, match="too large"):
        F.pad(zg.ones(2), (1, 1, 1, 1))
    with pytest.raises(RuntimeError, match="less than the corresponding input dimension"):
        F.pad(zg.ones(1, 2, 3), (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="unrecognised padding mode"):
        F.pad(zg.ones(1, 2, 3), (1, 0), mode="mirror")
    with pytest.raises(RuntimeError, match="negative size"):
        F.pad(zg.ones(2, 3), (-2, -2))


def test_one_hot_matches_torch_and_rejects_bad_input():
    t = np.array([[0, 2], [3, 1]])
    assert_close(F.one_hot(zg.tensor(t)), TF.one_hot(torch.tensor(t)))
    assert_close(F.one_hot(zg.tensor(t), 6), TF.one_hot(torch.tensor(t), 6))
    assert F.one_hot(zg.tensor(t)).dtype is zg.int64
    with pytest.raises(RuntimeError, match="LongTensor"):
        F.one_hot(zg.tensor([1, 2], dtype=zg.int32))
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        F.one_hot(zg.tensor([1, 5]), 3)
    with pytest.raises(RuntimeError, match="non-negative"):
        F.one_hot(zg.tensor([-1, 0]), 3)
    # d2l's RNN input: one_hot(X.T, vocab) then float
    X = zg.randint(0, 28, (2, 5))
    assert tuple(F.one_hot(X.T, 28).float().shape) == (5, 2, 28)


def test_embedding_functional_matches_torch(device):
    idx = np.array([[0, 3, 3], [2, 1, 0]])
    z_idx = zg.tensor(idx, device=device)
    check(lambda w: F.embedding(z_idx, w, padding_idx=3),
          lambda w: TF.embedding(torch.tensor(idx), w, padding_idx=3), randn(5, 4),
          device=device)
    check(lambda w: F.embedding(z_idx, w, scale_grad_by_freq=True),
          lambda w: TF.embedding(torch.tensor(idx), w, scale_grad_by_freq=True), randn(5, 4),
          device=device)


def test_dropout_functional_training_flag_and_p_validation():
    x = zg.ones(1000)
    assert F.dropout(x, 0.5, training=False) is x
    zg.manual_seed(0)
    y = F.dropout(x, 0.3).numpy()
    assert set(np.unique(y)).issubset({0.0, np.float32(1 / 0.7)})
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, -0.1)
    zg.manual_seed(1)
    z = F.alpha_dropout(zg.randn(20000), 0.2, training=True).numpy()
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05  # self-normalizing
    d3 = F.dropout3d(zg.ones(2, 4, 2, 2, 2), 0.5).numpy().reshape(2, 4, -1)
    assert np.all((d3 == d3[..., :1]).all(-1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_and_bilinear_functional(dtype, device):
    check(F.linear, TF.linear, randn(3, 2, 5, dtype=dtype), randn(4, 5, dtype=dtype),
          randn(4, dtype=dtype), device=device)
    check(F.linear, TF.linear, randn(5, dtype=dtype), randn(4, 5, dtype=dtype), device=device)
    check(F.bilinear, TF.bilinear, randn(3, 2, dtype=dtype), randn(3, 4, dtype=dtype),
          randn(5, 2, 4, dtype=dtype), randn(5, dtype=dtype), device=device)


def test_linear_create_graph_gradient_of_gradient():
    x = zg.tensor(randn(4, 3, dtype=np.float64), requires_grad=True)
    w = zg.tensor(randn(2, 3, dtype=np.float64), requires_grad=True)
    b = zg.tensor(randn(2, dtype=np.float64), requires_grad=True)
    assert gradgradcheck(lambda x, w, b: F.linear(x, w, b) ** 2, (x, w, b))
    tx, tw, tb = (torch.tensor(a.detach().numpy(), requires_grad=True) for a in (x, w, b))
    (gx,) = zg.autograd.grad((F.linear(x, w, b) ** 3).sum(), x, create_graph=True)
    (tgx,) = torch.autograd.grad((TF.linear(tx, tw, tb) ** 3).sum(), tx, create_graph=True)
    gx.sum().backward()
    tgx.sum().backward()
    assert_close(w.grad, tw.grad)
    assert_close(b.grad, tb.grad)
    assert gradcheck(lambda a: F.softmax(a, dim=0), (x,))


@settings(max_examples=20)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), data=st.data())
def test_constant_pad_random_amounts_match_torch(shape, data):
    n = data.draw(st.integers(1, len(shape)))
    pads = []
    for d in range(n):
        size = shape[-1 - d]
        before = data.draw(st.integers(-size // 2, 2))
        after = data.draw(st.integers(-(size + min(before, 0)) // 2, 2))
        pads += [before, after]
    x = np.random.default_rng(len(pads)).standard_normal(shape).astype(np.float32)
    check(lambda a: F.pad(a, pads, value=1.5), lambda a: TF.pad(a, pads, value=1.5), x)


# -- the fused ops of nn.functional: gradients of gradients, on every device -------------------
# Each fused op (zerograd.ops.affine / activation_* / loss / padding / sparse) has a backward
# written twice: an array formula for plain backward and a differentiable one under
# create_graph. ``check`` covers the first; this table covers the second, against torch.
IDX = np.array([[0, 2], [3, 2], [1, 1]])
FUSED = [
    ("linear", lambda L, t, x, w, b: L.nn.functional.linear(x, w, b), [(3, 5), (4, 5), (4,)]),
    ("gelu", lambda L, t, x: L.nn.functional.gelu(x), [(3, 4)]),
    ("gelu_tanh", lambda L, t, x: L.nn.functional.gelu(x, approximate="tanh"), [(3, 4)]),
    ("silu", lambda L, t, x: L.nn.functional.silu(x), [(3, 4)]),
    ("softplus", lambda L, t, x: L.nn.functional.softplus(x * 3, beta=2, threshold=4), [(3, 4)]),
    ("elu", lambda L, t, x: L.nn.functional.elu(x, 0.7), [(3, 4)]),
    ("selu", lambda L, t, x: L.nn.functional.selu(x), [(3, 4)]),
    ("celu", lambda L, t, x: L.nn.functional.celu(x, 1.3), [(3, 4)]),
    ("leaky_relu", lambda L, t, x: L.nn.functional.leaky_relu(x, 0.2) * x, [(3, 4)]),
    ("hardtanh", lambda L, t, x: L.nn.functional.hardtanh(x * 2) * x, [(3, 4)]),
    ("constant_pad", lambda L, t, x: L.nn.functional.pad(x, (1, -1, 2, 0), value=0.5) ** 2,
     [(3, 4)]),
    ("embedding", lambda L, t, w: L.nn.functional.embedding(t(IDX), w, padding_idx=2) ** 2,
     [(4, 3)]),
    ("cross_entropy", lambda L, t, x: L.nn.functional.cross_entropy(
        x, t(IDX), weight=t(np.array([0.5, 1.0, 2.0, 1.5])), label_smoothing=0.1), [(3, 4, 2)]),
    ("cross_entropy_sum", lambda L, t, x: L.nn.functional.cross_entropy(
        x, t(IDX[:, 0]), reduction="sum", ignore_index=3), [(3, 4)]),
    ("binary_cross_entropy", lambda L, t, x, y: L.nn.functional.binary_cross_entropy(
        x.sigmoid(), y.sigmoid(), reduction="none"), [(3, 4), (3, 4)]),
]


def _grad_of_grad(lib, make, fn, arrays, upstream):
    """First derivatives (kept differentiable) w.r.t. the inputs and the upstream gradient,
    then the gradients of their squared sum: every path of a double backward."""
    xs = [make(a).requires_grad_() for a in arrays]
    u = make(upstream).requires_grad_()
    firsts = lib.autograd.grad((fn(lib, make, *xs) * u).sum(), xs, create_graph=True)
    sum((g * g).sum() for g in firsts).backward()
    return list(firsts) + [x.grad for x in xs] + [u.grad]


@pytest.mark.parametrize("name,fn,shapes", FUSED, ids=[f[0] for f in FUSED])
def test_fused_ops_gradient_of_gradient_matches_torch(name, fn, shapes, device):
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(s) for s in shapes]
    t_out = fn(torch, torch.tensor, *[torch.tensor(a) for a in arrays])
    upstream = rng.standard_normal(tuple(t_out.shape))
    z_res = _grad_of_grad(zg, lambda a: zg.tensor(a, device=device), fn, arrays, upstream)
    t_res = _grad_of_grad(torch, torch.tensor, fn, arrays, upstream)
    for i, (z, t) in enumerate(zip(z_res, t_res)):
        if t is None:
            assert z is None or not z.cpu().numpy().any(), f"result {i}: torch has none"
            continue
        assert z is not None and str(z.device) == device, f"result {i} on {z and z.device}"
        assert_close(z, t, what=f"result {i}")


def test_op_level_functions_with_torch_top_level_names_match_torch():
    """The fused ops are also ``zerograd.<op>``; where torch has the same top-level name
    (ATen's argument order: weight first for embedding) the two agree."""
    idx = np.array([[0, 2], [3, 2]])
    check(lambda w: zg.embedding(w, zg.tensor(idx), 2),
          lambda w: torch.embedding(w, torch.tensor(idx), 2), randn(4, 3))
    check(lambda w: zg.embedding(w, zg.tensor(idx)),
          lambda w: torch.embedding(w, torch.tensor(idx)), randn(4, 3))
    check(lambda a: zg.constant_pad_nd(a, (1, -1, 0, 2), 0.5),
          lambda a: torch.constant_pad_nd(a, (1, -1, 0, 2), 0.5), randn(2, 3, 4))
