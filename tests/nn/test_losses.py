"""Losses against torch: every reduction and option, gradients of inputs and float targets,
float64 gradchecks, numerical stability, bad inputs, and L1/L2 penalty gradients."""
import itertools
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import zerograd as zg
import zerograd.nn.functional as F
from zerograd import nn
from zerograd.autograd import gradcheck, gradgradcheck
from tests.oracle import assert_close, check, copy_params

REDUCTIONS = ["none", "mean", "sum"]
RNG = np.random.default_rng(0)


def randn(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def both(fn_name, **kwargs):
    """(zerograd fn, torch fn) calling F.<fn_name>(input, target, **kwargs)."""
    return (lambda a, b: getattr(F, fn_name)(a, b, **kwargs),
            lambda a, b: getattr(TF, fn_name)(a, b, **kwargs))


# -- regression losses --------------------------------------------------------------------------
REGRESSION = [("mse_loss", {}), ("l1_loss", {}), ("huber_loss", {"delta": 0.7}),
              ("huber_loss", {}), ("smooth_l1_loss", {"beta": 0.5}),
              ("smooth_l1_loss", {"beta": 0.0}), ("smooth_l1_loss", {})]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,kwargs", REGRESSION)
def test_regression_losses_match_torch(name, kwargs, reduction, dtype, device):
    x, y = randn(4, 5, dtype=dtype) * 2, randn(4, 5, dtype=dtype)
    check(*both(name, reduction=reduction, **kwargs), x, y,
          device=device)  # target grads compared too


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_weighted_regression_losses_match_torch(name, reduction, device):
    w = np.abs(randn(3, 4)) + 0.1
    zw = zg.tensor(w, device=device)
    check(lambda a, b: getattr(F, name)(a, b, reduction=reduction, weight=zw),
          lambda a, b: getattr(TF, name)(a, b, reduction=reduction, weight=torch.tensor(w)),
          randn(3, 4), randn(3, 4), device=device)
    with pytest.raises(ValueError, match="same size"):
        getattr(F, name)(zg.ones(3, 4), zg.ones(3, 4), weight=zg.ones(4))


@pytest.mark.parametrize("cls,kwargs", [("MSELoss", {}), ("L1Loss", {}), ("HuberLoss",
                                        {"delta": 2.0}), ("SmoothL1Loss", {"beta": 0.3})])
def test_regression_loss_modules(cls, kwargs, device):
    x, y = randn(6, 2), randn(6, 2)
    for reduction in REDUCTIONS:
        z = getattr(nn, cls)(reduction=reduction, **kwargs)
        t = getattr(torch.nn, cls)(reduction=reduction, **kwargs)
        check(z, t, x, y, device=device)
        assert repr(z) == repr(t)


def test_mse_broadcast_warns_and_non_broadcastable_raises():
    with pytest.warns(UserWarning, match="different to the input size"):
        out = F.mse_loss(zg.ones(3, 1), zg.zeros(3))
    assert out.item() == 1.0
    with pytest.raises(RuntimeError, match=r"input shape \(3,\) and target shape \(4,\) are not "
                       "broadcastable"):
        nn.MSELoss()(zg.ones(3), zg.ones(4))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.mse_loss(zg.ones(2), zg.ones(2), reduction="avg")
    with pytest.raises(TypeError, match="must be a Tensor"):
        F.l1_loss(zg.ones(2), [1.0, 2.0])


def test_legacy_size_average_and_reduce():
    x, y = randn(4), randn(4)
    for size_average, reduce in itertools.product([None, True, False], [None, True, False]):
        if size_average is None and reduce is None:
            continue
        with pytest.warns(UserWarning, match="deprecated"):
            z = F.mse_loss(zg.tensor(x), zg.tensor(y), size_average=size_average, reduce=reduce)
        with pytest.warns(UserWarning):
            t = TF.mse_loss(torch.tensor(x), torch.tensor(y), size_average=size_average,
                            reduce=reduce)
        assert_close(z, t)


# -- cross-entropy and NLL ------------------------------------------------------------------------
def _class_case(shape, classes, ignore=False, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32) * 3
    tshape = (shape[0],) + shape[2:] if len(shape) > 1 else ()
    t = rng.integers(0, classes, tshape).astype(np.int64)
    if ignore and t.ndim:
        t.reshape(-1)[::3] = 2  # ignore_index=2 in those tests
    return x, t


CE_OPTIONS = [dict(), dict(weight=True), dict(ignore_index=2), dict(label_smoothing=0.2),
              dict(weight=True, ignore_index=2, label_smoothing=0.1),
              dict(weight=True, label_smoothing=0.3)]


@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5), (2, 4, 3, 2), (4,)])
@pytest.mark.parametrize("options", CE_OPTIONS, ids=lambda o: "-".join(sorted(o)) or "plain")
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_class_indices_match_torch(shape, options, reduction, device):
    x, t = _class_case(shape, 4, ignore="ignore_index" in options)
    kw = dict(options, reduction=reduction)
    w = np.array([0.3, 1.0, 2.0, 0.7], dtype=np.float32)
    zkw, tkw = dict(kw), dict(kw)
    if kw.pop("weight", None):
        zkw["weight"], tkw["weight"] = zg.tensor(w, device=device), torch.tensor(w)
    check(lambda a, b: F.cross_entropy(a, b, **zkw), lambda a, b: TF.cross_entropy(a, b, **tkw),
          x, t, device=device)
    check(lambda a, b: F.nll_loss(F.log_softmax(a, dim=0 if len(shape) == 1 else 1), b,
                                  **{k: v for k, v in zkw.items() if k != "label_smoothing"}),
          lambda a, b: TF.nll_loss(TF.log_softmax(a, dim=0 if len(shape) == 1 else 1), b,
                                   **{k: v for k, v in tkw.items() if k != "label_smoothing"}),
          x, t, device=device)


@pytest.mark.parametrize("options", [dict(), dict(weight=True), dict(label_smoothing=0.25),
                                     dict(weight=True, label_smoothing=0.1)])
@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 4), (3,)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probability_targets_match_torch(options, shape, reduction, device):
    x = randn(*shape)
    p = np.abs(randn(*shape))
    p = p / p.sum(axis=1 if len(shape) > 1 else 0, keepdims=True)
    w = np.array([0.5, 2.0, 1.0], dtype=np.float32)
    zkw = dict(reduction=reduction, label_smoothing=options.get("label_smoothing", 0.0))
    tkw = dict(zkw)
    if options.get("weight"):
        zkw["weight"], tkw["weight"] = zg.tensor(w, device=device), torch.tensor(w)
    check(lambda a, b: F.cross_entropy(a, b, **zkw), lambda a, b: TF.cross_entropy(a, b, **tkw),
          x, p, device=device)


def test_cross_entropy_all_targets_ignored_gives_nan_like_torch(device):
    x, t = randn(3, 4), np.full(3, -100, dtype=np.int64)
    z = F.cross_entropy(zg.tensor(x, device=device), zg.tensor(t, device=device))
    assert np.isnan(z.item()) and np.isnan(TF.cross_entropy(torch.tensor(x),
                                                            torch.tensor(t)).item())


def test_cross_entropy_is_stable_for_huge_logits():
    x = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0]], dtype=np.float32)
    t = np.array([2, 1])
    zs, _ = check(lambda a, b: F.cross_entropy(a, b), lambda a, b: TF.cross_entropy(a, b), x, t)
    loss = F.cross_entropy(zg.tensor(x, requires_grad=True), zg.tensor(t))
    assert np.isfinite(loss.item()) and abs(loss.item() - 1e4) < 1
    assert np.isfinite(zs[0].grad.numpy()).all()
    check(lambda a: F.log_softmax(a, dim=1), lambda a: TF.log_softmax(a, dim=1), x)
    check(lambda a: F.nll_loss(F.log_softmax(a, 1), zg.tensor(t)),
          lambda a: TF.nll_loss(TF.log_softmax(a, 1), torch.tensor(t)), x)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", [dict(), dict(label_smoothing=0.2, ignore_index=1),
                                     dict(weight=True, label_smoothing=0.1)])
def test_cross_entropy_float64_gradcheck_and_second_derivative(reduction, options):
    x = zg.tensor(randn(3, 4, 2, dtype=np.float64), requires_grad=True)
    t = zg.tensor(np.array([[0, 1], [3, 1], [2, 2]]))
    kw = dict(options, reduction=reduction)
    if kw.pop("weight", None):
        kw["weight"] = zg.tensor([0.2, 1.0, 3.0, 0.5], dtype=zg.float64)
    assert gradcheck(lambda a: F.cross_entropy(a, t, **kw), (x,))
    assert gradgradcheck(lambda a: F.cross_entropy(a, t, **kw), (x,))


@pytest.mark.parametrize("options", [dict(), dict(weight=True, ignore_index=0)])
def test_cross_entropy_and_nll_modules(options, device):
    x, t = _class_case((8, 5), 5, seed=3)
    w = np.linspace(0.5, 2, 5).astype(np.float32)
    zkw, tkw = dict(options), dict(options)
    if zkw.pop("weight", None):
        tkw.pop("weight")
        zkw["weight"], tkw["weight"] = zg.tensor(w), torch.tensor(w)
    for reduction in REDUCTIONS:
        # the class weights are a buffer: .to(device) moves them with the module
        z = nn.CrossEntropyLoss(reduction=reduction, label_smoothing=0.05, **zkw).to(device)
        tm = torch.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=0.05, **tkw)
        check(z, tm, x, t, device=device)
        check(lambda a, b: nn.NLLLoss(reduction=reduction, **zkw).to(device)(
                  nn.LogSoftmax(1)(a), b),
              lambda a, b: torch.nn.NLLLoss(reduction=reduction, **tkw)(
                  torch.nn.LogSoftmax(1)(a), b), x, t, device=device)
    assert "weight" in dict(nn.CrossEntropyLoss(weight=zg.ones(3)).named_buffers())


def test_cross_entropy_bad_targets():
    x = zg.randn(3, 5)
    with pytest.raises(IndexError, match=r"Target 7 is out of bounds.*\[0, 4\]"):
        F.cross_entropy(x, zg.tensor([1, 2, 7]))
    with pytest.raises(IndexError, match="Target -3"):
        F.cross_entropy(x, zg.tensor([1, -3, 0]))
    with pytest.raises(RuntimeError, match=r"floating-point target .* must have the input's "
                       r"shape \(3, 5\), got \(3,\)"):
        F.cross_entropy(x, zg.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(RuntimeError, match="must be floating point"):
        F.cross_entropy(x, zg.zeros(3, 5, dtype=zg.int64))
    with pytest.raises(RuntimeError, match="integer dtype"):
        F.nll_loss(x, zg.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match=r"Expected input batch_size \(3\) to match target "
                       r"batch_size \(2\)"):
        F.cross_entropy(x, zg.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="must have shape"):
        F.cross_entropy(zg.randn(2, 5, 4), zg.tensor([[1, 2, 3], [0, 0, 0]]))
    with pytest.raises(RuntimeError, match="weight tensor should be defined"):
        F.cross_entropy(x, zg.tensor([1, 2, 3]), weight=zg.ones(4))
    with pytest.raises(RuntimeError, match="label_smoothing"):
        F.cross_entropy(x, zg.tensor([1, 2, 3]), label_smoothing=1.5)
    assert F.cross_entropy(x, zg.tensor([1, 2, 3], dtype=zg.int32)).ndim == 0


# -- binary losses ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy_matches_torch(reduction, weighted, dtype, device):
    p = RNG.uniform(0.05, 0.95, (4, 3)).astype(dtype)
    y = RNG.uniform(0, 1, (4, 3)).astype(dtype)
    w = RNG.uniform(0.5, 2, (3,)).astype(dtype)
    zkw = dict(reduction=reduction, weight=zg.tensor(w, device=device) if weighted else None)
    tkw = dict(reduction=reduction, weight=torch.tensor(w) if weighted else None)
    check(lambda a, b: F.binary_cross_entropy(a, b, **zkw),
          lambda a, b: TF.binary_cross_entropy(a, b, **tkw), p, y, device=device)
    check(nn.BCELoss(**zkw), torch.nn.BCELoss(**tkw), p, y, device=device)


def test_binary_cross_entropy_clamps_logs_at_saturated_probabilities(device):
    p = np.array([0.0, 1.0, 0.5, 1e-30, 1 - 1e-7], dtype=np.float32)
    y = np.array([1.0, 0.0, 0.3, 0.2, 1.0], dtype=np.float32)
    check(lambda a, b: F.binary_cross_entropy(a, b, reduction="none"),
          lambda a, b: TF.binary_cross_entropy(a, b, reduction="none"), p, y,
          requires_grad=[True, False], device=device)
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(zg.tensor([1.5]), zg.tensor([1.0]))
    with pytest.raises(ValueError, match="different to the input size"):
        F.binary_cross_entropy(zg.rand(3), zg.rand(3, 1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted,pos", [(False, False), (True, False), (False, True),
                                          (True, True)])
def test_bce_with_logits_matches_torch(reduction, weighted, pos, device):
    x = randn(5, 3) * 4
    x[0] = [0.0, 40.0, -40.0]  # exactly 0 and saturated logits
    y = RNG.uniform(0, 1, (5, 3)).astype(np.float32)
    w, pw = RNG.uniform(0.5, 2, (5, 1)).astype(np.float32), np.array([0.5, 2.0, 3.0],
                                                                      dtype=np.float32)
    zkw = dict(reduction=reduction, weight=zg.tensor(w, device=device) if weighted else None,
               pos_weight=zg.tensor(pw, device=device) if pos else None)
    tkw = dict(reduction=reduction, weight=torch.tensor(w) if weighted else None,
               pos_weight=torch.tensor(pw) if pos else None)
    check(lambda a, b: F.binary_cross_entropy_with_logits(a, b, **zkw),
          lambda a, b: TF.binary_cross_entropy_with_logits(a, b, **tkw), x, y, device=device)
    z, t = nn.BCEWithLogitsLoss(**zkw), torch.nn.BCEWithLogitsLoss(**tkw)
    check(z, t, x, y, device=device)
    assert [n for n, _ in z.named_buffers()] == [n for n, _ in t.named_buffers()]


def test_bce_with_logits_extreme_and_shape_error():
    x = np.array([-1e4, -100, 0, 100, 1e4], dtype=np.float32)
    y = np.array([1, 0, 1, 0, 1], dtype=np.float32)
    zs, _ = check(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="sum"),
                  lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction="sum"), x, y)
    assert np.isfinite(zs[0].grad.numpy()).all()
    with pytest.raises(ValueError, match="must be the same as input size"):
        F.binary_cross_entropy_with_logits(zg.rand(3), zg.rand(3, 1))


# -- KL divergence --------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(reduction, log_target, device):
    logq = TF.log_softmax(torch.tensor(randn(4, 5)), 1).numpy()
    p = TF.softmax(torch.tensor(randn(4, 5)), 1).numpy()
    target = np.log(p) if log_target else p
    kw = dict(reduction=reduction, log_target=log_target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # 'mean' warns in both libraries
        check(lambda a, b: F.kl_div(a, b, **kw), lambda a, b: TF.kl_div(a, b, **kw), logq,
              target, device=device)
        check(nn.KLDivLoss(**kw), torch.nn.KLDivLoss(**kw), logq, target, device=device)


def test_kl_div_mean_warns_about_batchmean():
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(zg.zeros(2, 3), zg.ones(2, 3) / 3)


def test_kl_div_zero_target_entries_contribute_zero():
    logq = zg.log_softmax(zg.randn(2, 3), 1)
    p = zg.tensor([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])
    out = F.kl_div(logq, p, reduction="none")
    assert out.numpy()[0, 0] == 0.0 and np.isfinite(out.numpy()).all()


# -- gradchecks for every loss (float64) ----------------------------------------------------------
@pytest.mark.parametrize("name,fn", [
    ("mse", lambda x, y: F.mse_loss(x, y)),
    ("l1", lambda x, y: F.l1_loss(x, y, reduction="sum")),
    ("huber", lambda x, y: F.huber_loss(x, y, delta=0.5)),
    ("smooth_l1", lambda x, y: F.smooth_l1_loss(x, y, beta=0.8)),
    ("bce", lambda x, y: F.binary_cross_entropy(x.sigmoid(), y.sigmoid())),
    ("bce_logits", lambda x, y: F.binary_cross_entropy_with_logits(
        x, y.sigmoid(), pos_weight=zg.tensor([2.0, 0.5, 1.0], dtype=zg.float64))),
    ("kl", lambda x, y: F.kl_div(F.log_softmax(x, 1), F.softmax(y, 1), reduction="batchmean")),
    ("kl_log", lambda x, y: F.kl_div(x, y, reduction="sum", log_target=True)),
    ("ce_probs", lambda x, y: F.cross_entropy(x, F.softmax(y, 1), label_smoothing=0.1)),
    ("nll", lambda x, y: F.nll_loss(x * y, zg.tensor([0, 2, 1, 2]), ignore_index=1,
                                    weight=zg.tensor([1.0, 2.0, 0.5], dtype=zg.float64))),
])
def test_loss_gradcheck_float64(name, fn):
    x = zg.tensor(randn(4, 3, dtype=np.float64), requires_grad=True)
    y = zg.tensor(randn(4, 3, dtype=np.float64), requires_grad=True)
    assert gradcheck(fn, (x, y))
    if name not in ("l1", "huber", "smooth_l1"):  # kinks: second derivative is a delta
        assert gradgradcheck(fn, (x, y))


# -- regularization ----------------------------------------------------------------------------------
def test_l1_l2_penalties_match_torch_gradients():
    z_net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    t_net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    copy_params(z_net, t_net)
    x, y = randn(6, 4), randn(6, 2)
    lam1, lam2 = 0.01, 0.05

    def total(net, lib, X, Y):
        loss = lib.nn.functional.mse_loss(net(X), Y)
        l1 = sum(p.abs().sum() for p in net.parameters())
        l2 = sum((p ** 2).sum() for p in net.parameters())
        return loss + lam1 * l1 + lam2 / 2 * l2

    zl = total(z_net, zg, zg.tensor(x), zg.tensor(y))
    tl = total(t_net, torch, torch.tensor(x), torch.tensor(y))
    assert_close(zl, tl)
    zl.backward()
    tl.backward()
    for (name, zp), (_, tp) in zip(z_net.named_parameters(), t_net.named_parameters()):
        assert_close(zp.grad, tp.grad, what=name)


@settings(max_examples=20)
@given(batch=st.integers(1, 4), classes=st.integers(1, 5), extra=st.lists(st.integers(1, 3),
       max_size=2), smoothing=st.sampled_from([0.0, 0.15]), weighted=st.booleans(),
       reduction=st.sampled_from(REDUCTIONS), seed=st.integers(0, 2 ** 16))
def test_cross_entropy_random_shapes_and_options_match_torch(batch, classes, extra, smoothing,
                                                             weighted, reduction, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, classes, *extra)).astype(np.float32)
    t = rng.integers(0, classes, (batch, *extra))
    t.reshape(-1)[rng.random(t.size) < 0.2] = -100  # some targets ignored
    w = rng.uniform(0.2, 2.0, classes).astype(np.float32)
    zkw = dict(reduction=reduction, label_smoothing=smoothing,
               weight=zg.tensor(w) if weighted else None)
    tkw = dict(zkw, weight=torch.tensor(w) if weighted else None)
    assume(reduction != "mean" or not (t == -100).all())  # 0/0: both nan, checked elsewhere
    check(lambda a, b: F.cross_entropy(a, b, **zkw), lambda a, b: TF.cross_entropy(a, b, **tkw),
          x, t, rtol=1e-4, atol=1e-5)
