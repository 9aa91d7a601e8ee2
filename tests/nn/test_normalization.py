"""Normalization against torch: batch norm (train and eval, running statistics, momentum
None, no affine, no tracking), layer norm and group norm; functional and layers.

Outputs, input gradients and parameter gradients are compared on the same weights, and
the running buffers after several training steps. float64 gradcheck and gradgradcheck.
"""
import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd import nn
from zerograd.autograd import gradcheck, gradgradcheck
from tests.oracle import assert_close, check, check_module, copy_params

RNG = np.random.default_rng(0)
F, TF = nn.functional, torch.nn.functional
TOL = dict(rtol=1e-4, atol=1e-4)


def randn(*shape, dtype=np.float32, loc=0.0, scale=1.0):
    return (RNG.standard_normal(shape) * scale + loc).astype(dtype)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (4, 3, 5, 6), (2, 3, 2, 2, 3)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training_matches_torch(shape, affine, device):
    x = randn(*shape, loc=2.0, scale=3.0)
    params = [randn(3), randn(3)] if affine else []
    check(lambda x, *p: F.batch_norm(x, None, None, *p, training=True),
          lambda x, *p: TF.batch_norm(x, None, None, *p, training=True), x, *params, **TOL,
          device=device)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5, 6)])
def test_batch_norm_eval_matches_torch(shape, device):
    rm, rv = randn(3), RNG.random(3).astype(np.float32) + 0.5
    check(lambda x, w, b: F.batch_norm(x, zg.tensor(rm, device=device),
                                       zg.tensor(rv, device=device), w, b, training=False),
          lambda x, w, b: TF.batch_norm(x, torch.tensor(rm), torch.tensor(rv), w, b,
                                        training=False),
          randn(*shape), randn(3), randn(3), **TOL, device=device)


def test_functional_batch_norm_updates_running_stats(device):
    z_stats = [zg.zeros(3, device=device), zg.ones(3, device=device)]
    t_stats = [torch.zeros(3), torch.ones(3)]
    for i in range(4):
        x = randn(5, 3, 4, loc=i, scale=i + 1)
        F.batch_norm(zg.tensor(x, device=device), *z_stats, training=True, momentum=0.3)
        TF.batch_norm(torch.tensor(x), *t_stats, training=True, momentum=0.3)
    for z, t in zip(z_stats, t_stats):
        assert str(z.device) == device
        assert_close(z, t, **TOL)


@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (8, 3)), ("BatchNorm1d", (4, 3, 5)),
                                       ("BatchNorm2d", (4, 3, 5, 6))])
@pytest.mark.parametrize("kwargs", [{}, dict(momentum=None), dict(affine=False),
                                    dict(track_running_stats=False), dict(bias=False),
                                    dict(momentum=0.5, eps=1e-3)],
                         ids=["default", "momentum_None", "no_affine", "no_tracking", "no_bias",
                              "momentum_eps"])
def test_batch_norm_layer_train_then_eval(cls, shape, kwargs, device):
    z, t = getattr(nn, cls)(3, **kwargs), getattr(torch.nn, cls)(3, **kwargs)
    assert repr(z) == repr(t)
    if z.weight is not None:  # non-trivial affine parameters
        t.weight.data.uniform_(0.5, 1.5)
        if t.bias is not None:
            t.bias.data.uniform_(-1, 1)
    copy_params(z, t)
    for step in range(3):  # train: batch statistics, buffers updated each step
        x = randn(*shape, loc=step, scale=step + 1)
        check_module(z, t, x, copy=False, seed=step, **TOL, device=device)
        for name, tb in t.named_buffers():
            assert_close(getattr(z, name), tb, what=name, **TOL)
    z.eval()
    t.eval()
    check_module(z, t, randn(*shape), copy=False, **TOL,  # eval: running statistics (if any)
                 device=device)
    if t.track_running_stats:
        assert int(z.num_batches_tracked) == 3


def test_batch_norm_buffers_and_state_dict():
    bn = nn.BatchNorm2d(4)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]
    assert bn.num_batches_tracked.dtype is zg.int64
    assert list(nn.BatchNorm2d(4, track_running_stats=False).state_dict()) == ["weight", "bias"]
    bn(zg.randn(3, 4, 2, 2))
    bn.reset_running_stats()
    assert bn.running_var.tolist() == [1.0] * 4 and int(bn.num_batches_tracked) == 0
    with zg.no_grad():  # running stats still update without autograd, as in torch
        bn(zg.randn(3, 4, 2, 2) + 5)
    assert bn.running_mean.numpy().min() > 0.3


def test_batch_norm_output_may_be_changed_in_place():
    x = zg.randn(4, 3, 2, 2, requires_grad=True)
    bn = nn.BatchNorm2d(3)
    y = bn(x)
    y.relu_()  # common: BatchNorm followed by ReLU(inplace=True)
    y.sum().backward()
    xt = torch.tensor(x.detach().numpy(), requires_grad=True)
    torch.nn.BatchNorm2d(3)(xt).relu_().sum().backward()
    assert_close(x.grad, xt.grad, **TOL)


@pytest.mark.parametrize("shape,normalized", [((4, 3), (3,)), ((2, 4, 3, 5), (3, 5)),
                                              ((6,), (6,)), ((2, 3, 4), 4)])
@pytest.mark.parametrize("affine", ["full", "weight_only", "none"])
def test_layer_norm_matches_torch(shape, normalized, affine, device):
    ns = (normalized,) if isinstance(normalized, int) else normalized
    params = {"full": [randn(*ns), randn(*ns)], "weight_only": [randn(*ns)], "none": []}[affine]
    check(lambda x, *p: F.layer_norm(x, ns, *p), lambda x, *p: TF.layer_norm(x, ns, *p),
          randn(*shape, loc=1.0, scale=2.0), *params, **TOL, device=device)


@pytest.mark.parametrize("shape,groups", [((4, 6), 3), ((2, 6, 5), 2), ((2, 6, 4, 5), 6),
                                          ((2, 6, 4, 5), 1)])
def test_group_norm_matches_torch(shape, groups, device):
    check(lambda x, w, b: F.group_norm(x, groups, w, b),
          lambda x, w, b: TF.group_norm(x, groups, w, b),
          randn(*shape, loc=-1.0, scale=2.0), randn(6), randn(6), **TOL, device=device)
    check(lambda x: F.group_norm(x, groups), lambda x: TF.group_norm(x, groups), randn(*shape),
          **TOL, device=device)


@pytest.mark.parametrize("name,args,kwargs,shape", [
    ("LayerNorm", (5,), {}, (2, 3, 5)),
    ("LayerNorm", ((3, 5),), dict(bias=False), (2, 3, 5)),
    ("LayerNorm", (5,), dict(elementwise_affine=False, eps=1e-3), (4, 5)),
    ("GroupNorm", (2, 6), {}, (2, 6, 3, 3)),
    ("GroupNorm", (3, 6), dict(affine=False), (2, 6, 4)),
])
def test_norm_layers_match_torch(name, args, kwargs, shape, device):
    z, t = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(z) == repr(t)
    for p in t.parameters():
        p.data.uniform_(-1, 1)
    check_module(z, t, randn(*shape, loc=0.5), **TOL, device=device)


def test_float64_gradcheck_and_gradgradcheck():
    zg.manual_seed(0)
    d = zg.float64
    x = zg.randn(4, 3, 2, 2, dtype=d, requires_grad=True)
    w = zg.randn(3, dtype=d, requires_grad=True)
    b = zg.randn(3, dtype=d, requires_grad=True)
    assert gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, True), (x, w, b))
    x2 = zg.randn(3, 2, 4, dtype=d, requires_grad=True)
    w2 = zg.randn(2, 4, dtype=d, requires_grad=True)
    b2 = zg.randn(2, 4, dtype=d, requires_grad=True)
    assert gradcheck(lambda x, w, b: F.layer_norm(x, (2, 4), w, b), (x2, w2, b2))
    x3 = zg.randn(2, 4, 3, dtype=d, requires_grad=True)
    w3 = zg.randn(4, dtype=d, requires_grad=True)
    b3 = zg.randn(4, dtype=d, requires_grad=True)
    assert gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), (x3, w3, b3))
    xs = zg.randn(3, 2, 2, dtype=d, requires_grad=True)
    ws = zg.randn(2, dtype=d, requires_grad=True)
    assert gradgradcheck(lambda x, w: F.batch_norm(x, None, None, w, None, True), (xs, ws))
    assert gradgradcheck(lambda x, w: F.layer_norm(x, (2,), w), (xs, ws))
    assert gradgradcheck(lambda x, w: F.group_norm(x, 2, w), (xs, ws))


@pytest.mark.parametrize("fn", ["batch_norm", "layer_norm", "group_norm"])
def test_double_backward_matches_torch(fn, device):
    x, w, b = randn(4, 6, 3, dtype=np.float64), randn(6, dtype=np.float64), randn(6,
                                                                                 dtype=np.float64)
    calls = {"batch_norm": lambda f, x, w, b: f.batch_norm(x, None, None, w, b, True),
             "layer_norm": lambda f, x, w, b: f.layer_norm(x.transpose(1, 2), (6,), w, b),
             "group_norm": lambda f, x, w, b: f.group_norm(x, 3, w, b)}

    def run(lib, f, **where):
        ts = [lib.tensor(a, requires_grad=True, **where) for a in (x, w, b)]
        y = calls[fn](f, *ts)
        grads = lib.autograd.grad((y ** 3).sum(), ts, create_graph=True)
        sum((g * g).sum() for g in grads).backward()
        return [t.grad for t in ts]

    for a, b_ in zip(run(zg, F, device=device), run(torch, TF)):
        assert str(a.device) == device
        assert_close(a, b_, rtol=1e-8, atol=1e-8)


# -- errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("call,error,match", [
    (lambda: nn.BatchNorm2d(3)(zg.randn(2, 3, 4)), ValueError, r"expected 4D input \(got 3D"),
    (lambda: nn.BatchNorm1d(3)(zg.randn(2, 3, 4, 5)), ValueError, r"expected 2D or 3D input"),
    (lambda: nn.BatchNorm2d(3)(zg.randn(2, 4, 4, 4)), RuntimeError,
     "running_mean should contain 4 elements not 3"),
    (lambda: nn.BatchNorm1d(3)(zg.randn(1, 3)), ValueError,
     "Expected more than 1 value per channel when training"),
    (lambda: F.batch_norm(zg.randn(4, 3), None, None, training=False), RuntimeError,
     "running_mean must be defined in evaluation mode"),
    (lambda: F.batch_norm(zg.randn(4, 3), zg.zeros(3), zg.ones(3), weight=zg.ones(4)),
     RuntimeError, "weight should contain 3 elements not 4"),
    (lambda: nn.LayerNorm(3)(zg.randn(2, 4)), RuntimeError,
     r"Given normalized_shape=\[3\], expected input with shape \[\*, 3\], but got input of "
     r"size\[2, 4\]"),
    (lambda: F.layer_norm(zg.randn(4, 3), (3,), weight=zg.ones(4)), RuntimeError,
     "Expected weight to be of same shape as normalized_shape"),
    (lambda: nn.GroupNorm(2, 3), ValueError, r"num_channels \(3\) must be divisible by "
     r"num_groups \(2\)"),
    (lambda: F.group_norm(zg.randn(2, 6, 3), 4), RuntimeError,
     "Expected number of channels in input to be divisible by num_groups"),
    (lambda: nn.GroupNorm(2, 4)(zg.randn(2, 6, 3)), RuntimeError,
     "Expected weight to be a vector of size equal to the number of channels"),
])
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
