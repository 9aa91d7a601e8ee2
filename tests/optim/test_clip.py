"""Gradient clipping and parameter/vector conversion against PyTorch."""
import warnings

import numpy as np
import pytest

from tests.oracle import assert_close
from tests.optim._problems import torch, zg


def _with_grads(lib, grads, dtype, device="cpu"):
    on = {"device": device} if lib is zg else {}
    params = []
    for g in grads:
        p = lib.zeros(g.shape, dtype=getattr(lib, dtype), requires_grad=True, **on)
        if g is not None:
            p.grad = lib.tensor(g.astype(dtype), **on)
        params.append(p)
    return params


def _assert_on(tensors, device):
    assert {str(t.device) for t in tensors} == {device}


def _grads(scale=1.0):
    rng = np.random.default_rng(0)
    return [rng.standard_normal((4, 3)) * scale, rng.standard_normal(3) * scale,
            rng.standard_normal((2, 2, 2)) * scale]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("norm_type", [2.0, 1, float("inf"), -float("inf"), 0, 3.5, 0.5])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(dtype, norm_type, max_norm, device):
    grads = _grads()
    grads[0][0, 0] = 0.0  # a zero entry, so the 0-"norm" counts something
    z, t = _with_grads(zg, grads, dtype, device), _with_grads(torch, grads, dtype)
    z_total = zg.nn.utils.clip_grad_norm_(z, max_norm, norm_type=norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(t, max_norm, norm_type=norm_type)
    _assert_on([z_total] + [p.grad for p in z], device)
    assert_close(z_total, t_total, rtol=1e-6 if dtype == "float32" else 1e-12)
    for a, b in zip(z, t):
        assert_close(a.grad, b.grad, rtol=1e-6 if dtype == "float32" else 1e-12,
                     atol=1e-7 if dtype == "float32" else 1e-15)


def test_clip_grad_norm_skips_missing_grads_and_accepts_one_tensor():
    grads = _grads()
    z = _with_grads(zg, grads, "float32") + [zg.zeros(3, requires_grad=True)]
    t = _with_grads(torch, grads, "float32") + [torch.zeros(3, requires_grad=True)]
    assert_close(zg.nn.utils.clip_grad_norm_(iter(z), 1.0),
                 torch.nn.utils.clip_grad_norm_(iter(t), 1.0))
    assert z[-1].grad is None
    single_z, single_t = z[0], t[0]
    assert_close(zg.nn.utils.clip_grad_norm_(single_z, 0.1),
                 torch.nn.utils.clip_grad_norm_(single_t, 0.1))
    assert_close(single_z.grad, single_t.grad)


@pytest.mark.parametrize("scale", [1e15, 1e25])
def test_clip_grad_norm_huge_values_like_torch(scale):
    """float32 squares of 1e25 overflow in torch too: the norm is inf, the grads become 0."""
    grads = _grads(scale=scale)
    z, t = _with_grads(zg, grads, "float32"), _with_grads(torch, grads, "float32")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy overflow warnings leak out
        z_total = zg.nn.utils.clip_grad_norm_(z, 1.0)
    t_total = torch.nn.utils.clip_grad_norm_(t, 1.0)
    assert_close(z_total, t_total, rtol=1e-5)
    for a, b in zip(z, t):
        assert_close(a.grad, b.grad, rtol=1e-5)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_error_if_nonfinite(bad, device):
    grads = _grads()
    grads[1][0] = bad
    z = _with_grads(zg, grads, "float32", device)
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        zg.nn.utils.clip_grad_norm_(z, 1.0, error_if_nonfinite=True)
    t = _with_grads(torch, grads, "float32")
    z_total = zg.nn.utils.clip_grad_norm_(z, 1.0)  # without the flag: scaled, like torch
    t_total = torch.nn.utils.clip_grad_norm_(t, 1.0)
    assert_close(z_total, t_total)
    for a, b in zip(z, t):
        assert_close(a.grad, b.grad)


def test_empty_inputs():
    assert zg.nn.utils.clip_grad_norm_([], 1.0).item() == 0.0
    with pytest.warns(UserWarning, match="empty generator"):
        zg.nn.utils.clip_grad_norm_((p for p in []), 1.0)
    with pytest.warns(FutureWarning, match="deprecated"):
        zg.nn.utils.clip_grad_norm([], 1.0)


def test_total_norm_helpers(device):
    grads = _grads()
    z, t = _with_grads(zg, grads, "float64", device), _with_grads(torch, grads, "float64")
    z_norm = zg.nn.utils.get_total_norm([p.grad for p in z], 3.0)
    t_norm = torch.nn.utils.get_total_norm([p.grad for p in t], 3.0)
    assert_close(z_norm, t_norm)
    _assert_on([z_norm], device)
    zg.nn.utils.clip_grads_with_norm_(z, 0.3, z_norm)
    torch.nn.utils.clip_grads_with_norm_(t, 0.3, t_norm)
    for a, b in zip(z, t):
        assert_close(a.grad, b.grad)
    _assert_on([p.grad for p in z], device)


def test_clip_grad_norm_of_grads_on_two_devices():
    """As torch: the per-tensor norms are combined on the first gradient's device, and each
    gradient is scaled on its own."""
    grads = _grads()
    z = _with_grads(zg, grads[:2], "float32") + _with_grads(zg, grads[2:], "float32", "standin")
    t = _with_grads(torch, grads, "float32")
    total = zg.nn.utils.clip_grad_norm_(z, 0.5)
    assert_close(total, torch.nn.utils.clip_grad_norm_(t, 0.5))
    assert str(total.device) == "cpu" and str(z[2].grad.device) == "standin"
    for a, b in zip(z, t):
        assert_close(a.grad, b.grad)


def test_clip_grad_value(device):
    grads = _grads(scale=2.0)
    z, t = _with_grads(zg, grads, "float32", device), _with_grads(torch, grads, "float32")
    z.append(zg.zeros(2, requires_grad=True))  # no grad: skipped
    version = z[0].grad._version
    assert zg.nn.utils.clip_grad_value_(z, 0.7) is None
    torch.nn.utils.clip_grad_value_(t, 0.7)
    for a, b in zip(z, t):
        assert_close(a.grad, b.grad)
    assert z[0].grad._version > version
    zg.nn.utils.clip_grad_value_(z[1], 0.1)  # one tensor
    assert np.abs(z[1].grad.cpu().numpy()).max() <= 0.1
    _assert_on([p.grad for p in z[:-1]], device)


def test_clip_in_training_loop_matches_torch():
    """Clip between backward and step in a short Adam run; parameters follow torch's."""
    from tests.optim._problems import make_problem, mlp_loss, leaves
    weights, batches = make_problem(10)

    def run(lib):
        params = leaves(lib, weights)
        opt = lib.optim.SGD(params, lr=0.5, momentum=0.9)
        norms = []
        for x, y in batches:
            opt.zero_grad()
            mlp_loss(lib, params, lib.tensor(x), lib.tensor(y)).backward()
            norms.append(lib.nn.utils.clip_grad_norm_(params, 0.25).item())
            opt.step()
        return [p.detach().numpy().copy() for p in params], norms

    (z, z_norms), (t, t_norms) = run(zg), run(torch)
    np.testing.assert_allclose(z_norms, t_norms, rtol=1e-5)
    assert max(z_norms) > 0.25  # clipping was active
    for a, b in zip(z, t):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_parameters_to_vector_and_back():
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((2, 3)), rng.standard_normal(4)]
    z = [zg.tensor(a, requires_grad=True) for a in arrays]
    t = [torch.tensor(a, requires_grad=True) for a in arrays]
    zv = zg.nn.utils.parameters_to_vector(z)
    tv = torch.nn.utils.parameters_to_vector(t)
    assert_close(zv, tv)
    # differentiable, like torch's cat of views
    (zv * zg.arange(10.0, dtype=zg.float64)).sum().backward()
    (tv * torch.arange(10.0, dtype=torch.float64)).sum().backward()
    for a, b in zip(z, t):
        assert_close(a.grad, b.grad)

    new = rng.standard_normal(10)
    zg.nn.utils.vector_to_parameters(zg.tensor(new), z)
    torch.nn.utils.vector_to_parameters(torch.tensor(new), t)
    for a, b in zip(z, t):
        assert_close(a, b)
        assert a.requires_grad
    with pytest.raises(TypeError, match="expected zerograd.Tensor"):
        zg.nn.utils.vector_to_parameters(new, z)
    with pytest.raises(RuntimeError, match="fewer than the parameters need"):
        zg.nn.utils.vector_to_parameters(zg.zeros(5), z)


def test_no_warnings_in_normal_use():
    p = zg.zeros(3, requires_grad=True)
    p.grad = zg.ones(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zg.nn.utils.clip_grad_norm_([p], 1.0)
