"""zerograd.func / autograd.functional (reverse-mode parts) against torch.func and
torch.autograd.functional on the same functions."""
import numpy as np
import pytest
import torch

import zerograd as zg
from tests.oracle import assert_close


def f_scalar(lib):
    def f(x):
        return (x.sin() * x.exp()).sum() + (x ** 3).mean() + x[0] * x[-1]
    return f


def f_vector(lib):
    def f(x):
        return lib.cat([x.tanh() * 2, (x * x).cumsum(0), x.sum().reshape(1)])
    return f


@pytest.fixture
def x_np():
    return np.random.default_rng(1).standard_normal(4)


def test_grad_matches_torch_func(x_np):
    g = zg.func.grad(f_scalar(zg))(zg.tensor(x_np))
    tg = torch.func.grad(f_scalar(torch))(torch.tensor(x_np))
    assert_close(g, tg)
    assert not g.requires_grad


def test_grad_of_grad_is_second_derivative():
    d2 = zg.func.grad(zg.func.grad(lambda x: (x ** 4).sum()))
    # d/dx of sum of 4x^3 w.r.t. a scalar x
    x = zg.tensor(1.5, dtype=zg.float64)
    assert abs(d2(x).item() - 12 * 1.5 ** 2) < 1e-9


def test_grad_and_value_and_argnums(x_np):
    def f(a, b):
        return (a * b).sum()
    a, b = zg.tensor(x_np), zg.tensor(x_np * 2)
    (ga, gb), value = zg.func.grad_and_value(f, argnums=(0, 1))(a, b)
    assert_close(ga, torch.tensor(x_np * 2))
    assert_close(gb, torch.tensor(x_np))
    assert abs(value.item() - float((x_np * x_np * 2).sum())) < 1e-9


def test_vjp_matches_torch(x_np):
    v = np.random.default_rng(2).standard_normal(9)
    out, fn = zg.func.vjp(f_vector(zg), zg.tensor(x_np))
    (g,) = fn(zg.tensor(v))
    tout, tfn = torch.func.vjp(f_vector(torch), torch.tensor(x_np))
    (tg,) = tfn(torch.tensor(v))
    assert_close(out, tout)
    assert_close(g, tg)


def test_jacrev_matches_torch(x_np):
    j = zg.func.jacrev(f_vector(zg))(zg.tensor(x_np))
    tj = torch.func.jacrev(f_vector(torch))(torch.tensor(x_np))
    assert_close(j, tj)


def test_autograd_functional_jacobian_and_hessian(x_np):
    j = zg.autograd.functional.jacobian(f_vector(zg), zg.tensor(x_np))
    tj = torch.autograd.functional.jacobian(f_vector(torch), torch.tensor(x_np))
    assert_close(j, tj)
    h = zg.autograd.functional.hessian(f_scalar(zg), zg.tensor(x_np))
    th = torch.autograd.functional.hessian(f_scalar(torch), torch.tensor(x_np))
    assert_close(h, th)
    np.testing.assert_allclose(h.numpy(), h.numpy().T, atol=1e-12)


def test_hvp_matches_torch(x_np):
    v = np.random.default_rng(3).standard_normal(4)
    value, hv = zg.autograd.functional.hvp(f_scalar(zg), zg.tensor(x_np), zg.tensor(v))
    tvalue, thv = torch.autograd.functional.hvp(f_scalar(torch), torch.tensor(x_np),
                                                torch.tensor(v))
    assert_close(value, tvalue)
    assert_close(hv, thv)


def test_hessian_equals_finite_differences(x_np):
    f = f_scalar(zg)
    h = zg.autograd.functional.hessian(f, zg.tensor(x_np)).numpy()
    eps = 1e-5
    grad = zg.func.grad(f)
    fd = np.stack([(grad(zg.tensor(x_np + eps * e)).numpy() - grad(zg.tensor(x_np - eps * e)).numpy())
                   / (2 * eps) for e in np.eye(4)])
    np.testing.assert_allclose(h, fd, atol=1e-6)


def test_vmap_maps_over_batch():
    xs = zg.randn(5, 3)
    out = zg.func.vmap(lambda x: (x * x).sum())(xs)
    assert_close(out, torch.tensor((xs.numpy() ** 2).sum(1)))


def test_grad_requires_scalar_output():
    with pytest.raises(RuntimeError, match="scalar"):
        zg.func.grad(lambda x: x * 2)(zg.ones(3))
