"""zerograd.func and zerograd.autograd.functional against torch.func and
torch.autograd.functional, on composite functions that together touch every
differentiable op family (elementwise, reductions, linear algebra, shape and indexing,
softmax, casts, nn layers).

Checks: Jacobians by forward and reverse mode agree with each other and with torch;
Hessians (every nesting of jacfwd/jacrev) match torch, are symmetric and match finite
differences of the gradient; nested transforms do not confuse their perturbations;
pytrees, argnums, has_aux, vmap; torch's result nesting, create_graph and strict for the
functional API; and the errors.
"""
import numpy as np
import pytest
import torch

import zerograd as zg
from tests.oracle import assert_close

zF = zg.func
tF = torch.func
ZA = zg.autograd.functional
TA = torch.autograd.functional


# -- composite functions: each takes (lib, x) with x of shape (6,), float64 -------------------
def elementwise(L, x):
    y = x.sin() * x.exp() + x ** 3 / (1 + x * x) - x.tanh() * x.sigmoid()
    y = y + (x * x + 1).sqrt() + (x * x).log1p() + (x * x + 1).log() + (0.1 * x).expm1()
    y = y + L.erf(x)
    y = y + (x * x + 0.5).rsqrt() + (x * x + 2).log2() + x.cos().square() + (x + 3).reciprocal()
    y = y + (x * 0.3).tan() + 2.0 ** x - (x - 5.0).abs() + (x + 4) ** x.cos()
    y = y + L.where(x > 0, x * 2, -x) + x.clamp(-0.8, 0.8) + L.maximum(x, x.flip(0))
    y = y + L.minimum(x, 0.3 * x) + x.relu() + x.sign() * x + x.floor() * x + (x % 0.7)
    y = y + x.trunc() * x + x.round() * x + x.ceil() + x / (x.abs() + 1) - (-x)
    return y.sum()


def reductions(L, x):
    m = x.reshape(2, 3)
    parts = [m.sum(), m.mean(0).sum(), m.var(), m.std(1).sum(), m.prod(1).sum(), m.amax(),
             m.amin(0).sum(), m.max(1).values.sum(), m.min(), m.norm(), m.norm(p=3, dim=0).sum(),
             L.logsumexp(m, 1).sum(), m.cumsum(1).sum(0)[1], m.cumprod(1)[:, -1].sum(),
             L.linalg.vector_norm(m, 1)]
    return L.stack(parts)


def linalg(L, x):
    a = x.reshape(2, 3)
    sq = a @ a.mT + L.eye(2, dtype=x.dtype) * 2
    v = x[:3]
    parts = [L.linalg.det(sq), L.linalg.inv(sq).sum(), L.linalg.solve(sq, a).sum(),
             L.linalg.pinv(a).sum(), L.mv(a, v).sum(), L.dot(v, v.cos()),
             L.outer(v, x[3:]).sum(), L.einsum("ij,kj->ik", a, a).sum(),
             L.einsum("i,ij,j->", x[:2], a, v), L.linalg.slogdet(sq)[1], L.trace(sq),
             L.bmm(a.unsqueeze(0), a.mT.unsqueeze(0)).sum(), L.mm(a, a.mT).sum(),
             L.matmul(v, a.mT).sum(),
             L.linalg.matrix_norm(a), L.tril(sq).sum() * L.triu(sq, 1).sum()]
    return L.stack(parts)


def shapes_and_indexing(L, x):
    idx = L.tensor([[2, 0], [1, 1]], dtype=L.int64)
    m = x.reshape(2, 3)
    y = m.t().flip(0).roll(1, 1).reshape(-1)
    y = L.cat([y, m.gather(1, idx).reshape(-1), m.index_select(1, idx[0]).reshape(-1)])
    once = L.tensor([[2, 0], [1, 0]], dtype=L.int64)  # scatter: no repeated index per row
    y = L.cat([y, m.scatter(1, once, m[:, :2] * 2).reshape(-1),
               m.scatter_add(1, idx, m[:, 1:]).reshape(-1),
               m.masked_fill(m > 0.5, 0.25).reshape(-1), L.take(m, idx).reshape(-1)])
    y = L.cat([y, m.sort(1).values.reshape(-1), m.topk(2, dim=1).values.reshape(-1),
               L.stack([m, m * 2], -1).sum(-1).reshape(-1), m.unsqueeze(0).expand(2, 2, 3)
               .permute(2, 0, 1).reshape(-1), m[:, 1:].repeat(1, 2).reshape(-1),
               m[L.tensor([True, False])].reshape(-1), m.unbind(1)[2], m.narrow(1, 0, 2)
               .flatten(), L.diagonal(m, 1), m.chunk(3, 1)[1].squeeze(1)])
    return y * L.arange(y.shape[0], dtype=y.dtype).cos()


def softmax_and_casts(L, x):
    m = x.reshape(2, 3)
    y = L.softmax(m, 1) * L.log_softmax(m.mT, 1).mT + m.float().double() * 0.5
    return L.cat([y.reshape(-1), L.softmax(x, 0) * 3])


def mlp_loss(L, x):
    """A small network's cross-entropy loss as a function of its input."""
    F = L.nn.functional
    rng = np.random.default_rng(7)
    w1 = L.tensor(rng.standard_normal((5, 6)) * 0.5)
    b1 = L.tensor(rng.standard_normal(5) * 0.1)
    w2 = L.tensor(rng.standard_normal((3, 5)) * 0.5)
    h = F.gelu(F.linear(x.reshape(1, 6), w1, b1))
    h = F.silu(h) + F.softplus(h) + F.layer_norm(h, (5,))
    logits = F.linear(h, w2)
    return F.cross_entropy(logits, L.tensor([2], dtype=L.int64)) + F.mse_loss(h, h * 0.5)


SCALAR = [elementwise, mlp_loss]
VECTOR = [reductions, linalg, shapes_and_indexing, softmax_and_casts]
X0 = np.array([0.31, -1.17, 0.73, 1.42, -0.58, 0.26])


def _zx():
    return zg.tensor(X0)


def _tx():
    return torch.tensor(X0)


def _both(fn):
    return (lambda x: fn(zg, x)), (lambda x: fn(torch, x))


@pytest.mark.parametrize("fn", SCALAR + VECTOR, ids=lambda f: f.__name__)
def test_jacobians_forward_equals_reverse_equals_torch(fn):
    zf, tf = _both(fn)
    expected = tF.jacrev(tf)(_tx())
    j_fwd = zF.jacfwd(zf)(_zx())
    j_rev = zF.jacrev(zf)(_zx())
    assert_close(j_fwd, expected, rtol=1e-6, atol=1e-9, what="jacfwd")
    assert_close(j_rev, expected, rtol=1e-6, atol=1e-9, what="jacrev")
    np.testing.assert_allclose(j_fwd.numpy(), j_rev.numpy(), rtol=1e-9, atol=1e-11)
    assert not j_fwd.requires_grad and not j_rev.requires_grad


@pytest.mark.parametrize("fn", VECTOR, ids=lambda f: f.__name__)
def test_jvp_and_vjp_match_torch(fn):
    zf, tf = _both(fn)
    rng = np.random.default_rng(3)
    v = rng.standard_normal(6)
    value, tangent = zF.jvp(zf, (_zx(),), (zg.tensor(v),))
    t_value, t_tangent = tF.jvp(tf, (_tx(),), (torch.tensor(v),))
    assert_close(value, t_value)
    assert_close(tangent, t_tangent, rtol=1e-7, atol=1e-9)
    u = rng.standard_normal(tuple(t_value.shape))
    out, vjp_fn = zF.vjp(zf, _zx())
    (g,) = vjp_fn(zg.tensor(u))
    t_out, t_vjp_fn = tF.vjp(tf, _tx())
    assert_close(out, t_out)
    assert_close(g, t_vjp_fn(torch.tensor(u))[0], rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("fn", SCALAR, ids=lambda f: f.__name__)
def test_hessian_matches_torch_symmetric_and_finite_differences(fn):
    zf, tf = _both(fn)
    h = zF.hessian(zf)(_zx()).numpy()
    th = tF.hessian(tf)(_tx()).numpy()
    np.testing.assert_allclose(h, th, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(h, h.T, rtol=1e-9, atol=1e-10)
    grad = zF.grad(zf)
    eps = 1e-6
    fd = np.stack([(grad(zg.tensor(X0 + eps * e)).numpy() - grad(zg.tensor(X0 - eps * e)).numpy())
                   / (2 * eps) for e in np.eye(6)])
    np.testing.assert_allclose(h, fd, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("outer,inner", [("jacfwd", "jacfwd"), ("jacrev", "jacrev"),
                                         ("jacrev", "jacfwd"), ("jacfwd", "jacrev")])
def test_every_nesting_of_jacobians_gives_the_hessian(outer, inner):
    zf, tf = _both(elementwise)
    h = getattr(zF, outer)(getattr(zF, inner)(zf))(_zx())
    assert_close(h, tF.hessian(tf)(_tx()), rtol=1e-6, atol=1e-8)
    assert not h.requires_grad


def test_third_derivative_forward_and_reverse():
    def f(L, x):
        return (x.sin() * x.exp()).sum() + (x ** 4).prod()
    zf, tf = _both(f)
    expected = tF.jacfwd(tF.jacfwd(tF.jacrev(tf)))(_tx())
    assert_close(zF.jacfwd(zF.jacfwd(zF.jacfwd(zf)))(_zx()), expected, rtol=1e-6, atol=1e-8)
    assert_close(zF.jacrev(zF.jacfwd(zF.jacrev(zf)))(_zx()), expected, rtol=1e-6, atol=1e-8)


def test_forward_over_reverse_hvp():
    zf, tf = _both(mlp_loss)
    v = np.linspace(-1, 1, 6)
    _, hv = zF.jvp(zF.grad(zf), (_zx(),), (zg.tensor(v),))
    _, thv = tF.jvp(tF.grad(tf), (_tx(),), (torch.tensor(v),))
    assert_close(hv, thv, rtol=1e-7, atol=1e-9)


def test_vjp_fn_is_differentiable_in_its_cotangent():
    """The double-vjp trick: J v as the gradient of u -> u^T J v w.r.t. the cotangent u."""
    zf, tf = _both(linalg)
    _, vjp_fn = zF.vjp(zf, _zx())
    u = zg.zeros(16, dtype=zg.float64, requires_grad=True)
    (g,) = vjp_fn(u)
    v = np.linspace(0.5, -0.5, 6)
    (jv,) = zg.autograd.grad(g, u, grad_outputs=zg.tensor(v))
    assert_close(jv, tF.jvp(tf, (_tx(),), (torch.tensor(v),))[1], rtol=1e-7, atol=1e-9)
    assert not vjp_fn(zg.ones(16, dtype=zg.float64))[0].requires_grad


def test_nested_transforms_do_not_confuse_perturbations():
    # d/dx [x * d/dy (x + y)] = 1; a perturbation mix-up gives 2 (Siskind & Pearlmutter)
    def outer(L, api, x):
        inner = api.jvp(lambda y: x + y, (L.ones(()),), (L.ones(()),))[1]
        return x * inner
    x = zg.tensor(2.0)
    assert zF.jvp(lambda t: outer(zg, zF, t), (x,), (zg.ones(()),))[1].item() == 1.0
    assert zF.grad(lambda t: outer(zg, zF, t))(x).item() == 1.0
    # reverse inside reverse: the inner gradient w.r.t. y depends on the closed-over x
    g = zF.grad(lambda t: zF.grad(lambda y: (t * y * y).sum())(zg.ones(3)).sum())(zg.tensor(1.5))
    tg = tF.grad(lambda t: tF.grad(lambda y: (t * y * y).sum())(torch.ones(3)).sum())(
        torch.tensor(1.5))
    assert_close(g, tg)


# -- grad / vjp / jvp API details -----------------------------------------------------------
def test_grad_pytree_argnums_and_aux():
    def loss(L, params, x):
        h = (x @ params["w"]).tanh() + params["b"]
        return (h * h).sum(), h.mean()
    rng = np.random.default_rng(0)
    p_np = {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    x_np = rng.standard_normal((4, 3))
    zp = {k: zg.tensor(v) for k, v in p_np.items()}
    tp = {k: torch.tensor(v) for k, v in p_np.items()}
    (zg_g, zg_gx), zaux = zF.grad(lambda p, x: loss(zg, p, x), argnums=(0, 1),
                                  has_aux=True)(zp, zg.tensor(x_np))
    (t_g, t_gx), taux = tF.grad(lambda p, x: loss(torch, p, x), argnums=(0, 1),
                                has_aux=True)(tp, torch.tensor(x_np))
    assert set(zg_g) == {"w", "b"}
    for k in p_np:
        assert_close(zg_g[k], t_g[k])
    assert_close(zg_gx, t_gx)
    assert_close(zaux, taux)
    g, (value, aux) = zF.grad_and_value(lambda p, x: loss(zg, p, x), has_aux=True)(
        zp, zg.tensor(x_np))
    assert_close(value, loss(torch, tp, torch.tensor(x_np))[0])
    assert not g["w"].requires_grad and not value.requires_grad


def test_grad_keeps_graph_only_for_inputs_that_require_grad():
    f = lambda x: (x ** 3).sum()  # noqa: E731
    assert not zF.grad(f)(zg.ones(3)).requires_grad
    x = zg.ones(3, requires_grad=True)
    g = zF.grad(f)(x)
    assert g.requires_grad  # as torch: grad(f)(x) is differentiable w.r.t. an outer x
    (gg,) = zg.autograd.grad(g.sum(), x)
    assert gg.tolist() == [6.0, 6.0, 6.0]
    assert zF.grad(lambda x: zg.tensor(3.0))(zg.ones(2)).tolist() == [0.0, 0.0]


@pytest.mark.parametrize("call,match", [
    (lambda api, L: api.grad(lambda x: x * 2)(L.ones(3)), "scalar Tensor"),
    (lambda api, L: api.grad(lambda x: 3.0)(L.ones(3)), "to return a Tensor"),
    (lambda api, L: api.grad(lambda x: x.sum(), argnums=(0, 0))(L.ones(3)), "unique"),
    (lambda api, L: api.grad(lambda x: x.sum(), argnums=2)(L.ones(3)), "positional inputs"),
    (lambda api, L: api.grad(lambda x: x.sum(), argnums=())(L.ones(3)), "non-empty"),
    (lambda api, L: api.grad(lambda x: x.sum(), has_aux=True)(L.ones(3)), "(output, aux)"),
    (lambda api, L: api.vjp(lambda x: x * 2, L.ones(2))[1](L.ones(3)), "shape"),
    (lambda api, L: api.vjp(lambda x: (x, x), L.ones(2))[1]([L.ones(2), L.ones(2)]),
     "pytree structure"),
    (lambda api, L: api.jvp(lambda x: x, [L.ones(2)], [L.ones(2)]), "primals to be a tuple"),
    (lambda api, L: api.jvp(lambda x: x, (L.ones(2),), (L.ones(2), L.ones(2))),
     "same python structure"),
    (lambda api, L: api.jvp(lambda x: 3, (L.ones(2),), (L.ones(2),)), "only tensors"),
    (lambda api, L: api.jvp(lambda x: x, (1.0,), (1.0,)), "only contain Tensors"),
])
def test_errors_like_torch(call, match):
    with pytest.raises((RuntimeError, ValueError), match=match) as expected:
        call(tF, torch)
    with pytest.raises(expected.type, match=match):  # zerograd: torch's type, not just any
        call(zF, zg)


def test_grad_of_non_tensor_argument_raises():
    with pytest.raises(ValueError, match="must be Tensor"):
        zF.grad(lambda x: x)(3.0)


def test_jacobians_with_pytree_outputs_and_argnums():
    def f(L, x, y):
        return {"a": x * y, "b": (x.sin() * y).sum()}
    x, y = np.array([0.5, -1.0]), np.array([2.0, 0.3])
    for name in ("jacrev", "jacfwd"):
        zj = getattr(zF, name)(lambda a, b: f(zg, a, b), argnums=(0, 1))(zg.tensor(x),
                                                                          zg.tensor(y))
        tj = getattr(tF, name)(lambda a, b: f(torch, a, b), argnums=(0, 1))(torch.tensor(x),
                                                                            torch.tensor(y))
        for k in ("a", "b"):
            for i in range(2):
                assert_close(zj[k][i], tj[k][i], what=f"{name}[{k}][{i}]")
    h = zF.hessian(lambda a, b: (a * a * b).sum(), argnums=(0, 1))(zg.tensor(x), zg.tensor(y))
    th = tF.hessian(lambda a, b: (a * a * b).sum(), argnums=(0, 1))(torch.tensor(x),
                                                                   torch.tensor(y))
    for i in range(2):
        for j in range(2):
            assert_close(h[i][j], th[i][j])


def test_jacobian_of_constant_and_has_aux():
    assert_close(zF.jacrev(lambda x: zg.ones(3))(zg.ones(2)),
                 tF.jacrev(lambda x: torch.ones(3))(torch.ones(2)))
    assert_close(zF.jacfwd(lambda x: zg.ones(3))(zg.ones(2)),
                 tF.jacfwd(lambda x: torch.ones(3))(torch.ones(2)))
    j, aux = zF.jacfwd(lambda x: (x * 2, x.sum()), has_aux=True)(zg.ones(2))
    assert_close(j, torch.eye(2) * 2)
    assert aux.item() == 2.0
    j, aux = zF.jacrev(lambda x: (x * 2, x.sum()), has_aux=True)(zg.ones(2))
    assert_close(j, torch.eye(2) * 2)


def test_vmap_matches_torch():
    rng = np.random.default_rng(5)
    xs, w = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))

    def f(L, x, w, scale=1.0):
        return (x @ w).tanh() * scale, x.sum()
    z = zF.vmap(lambda x, w: f(zg, x, w, scale=2.0), in_dims=(0, None))(zg.tensor(xs),
                                                                        zg.tensor(w))
    t = tF.vmap(lambda x, w: f(torch, x, w, scale=2.0), in_dims=(0, None))(torch.tensor(xs),
                                                                          torch.tensor(w))
    assert_close(z[0], t[0])
    assert_close(z[1], t[1])
    z = zF.vmap(lambda x: x * 2, in_dims=1, out_dims=1)(zg.tensor(xs))
    assert_close(z, torch.tensor(xs) * 2)
    # per-sample gradients, the classic use of vmap(grad)
    per_sample = zF.vmap(zF.grad(lambda w, x: ((x @ w) ** 2).sum()), in_dims=(None, 0))(
        zg.tensor(w), zg.tensor(xs))
    expected = tF.vmap(tF.grad(lambda w, x: ((x @ w) ** 2).sum()), in_dims=(None, 0))(
        torch.tensor(w), torch.tensor(xs))
    assert_close(per_sample, expected)
    with pytest.raises(ValueError, match="same size"):
        zF.vmap(lambda a, b: a + b)(zg.ones(2, 3), zg.ones(3, 3))


# -- torch.autograd.functional ----------------------------------------------------------------
def _pair(L):
    return lambda x, y: ((x * y).sin(), (x ** 2).sum(0) * y.exp())


def _scalar(L):
    return lambda x, y: (x * y).sin().sum() + (x ** 2 * y).sum() * y.exp().sum()


def _flat(r):
    if isinstance(r, (tuple, list)):
        return [leaf for item in r for leaf in _flat(item)]
    return [r]


def _close_nested(z, t, structure=True):
    if structure:  # the same tuple nesting (torch's forward-mode jacobian gives lists)
        assert isinstance(z, tuple) == isinstance(t, (tuple, list))
    zs, ts = _flat(z), _flat(t)
    assert len(zs) == len(ts)
    for a, b in zip(zs, ts):
        assert_close(a, b, rtol=1e-7, atol=1e-9)


@pytest.fixture
def xy():
    rng = np.random.default_rng(11)
    return rng.standard_normal((2, 3)), rng.standard_normal(3)


def test_functional_jacobian_nesting(xy):
    a, b = xy
    za, zb, ta, tb = zg.tensor(a), zg.tensor(b), torch.tensor(a), torch.tensor(b)
    _close_nested(ZA.jacobian(_pair(zg), (za, zb)), TA.jacobian(_pair(torch), (ta, tb)))
    _close_nested(ZA.jacobian(lambda x: _pair(zg)(x, zb)[0], za),
                  TA.jacobian(lambda x: _pair(torch)(x, tb)[0], ta))
    _close_nested(ZA.jacobian(lambda x: _pair(zg)(x, zb), za),
                  TA.jacobian(lambda x: _pair(torch)(x, tb), ta))
    _close_nested(ZA.jacobian(lambda x, y: _pair(zg)(x, y)[1], (za, zb)),
                  TA.jacobian(lambda x, y: _pair(torch)(x, y)[1], (ta, tb)))
    fwd = ZA.jacobian(_pair(zg), (za, zb), strategy="forward-mode")
    _close_nested(fwd, TA.jacobian(_pair(torch), (ta, tb), strategy="forward-mode",
                                   vectorize=True), structure=False)
    assert isinstance(fwd, tuple) and isinstance(fwd[0], tuple)


def test_functional_hessian_and_products(xy):
    a, b = xy
    za, zb, ta, tb = zg.tensor(a), zg.tensor(b), torch.tensor(a), torch.tensor(b)
    _close_nested(ZA.hessian(_scalar(zg), (za, zb)), TA.hessian(_scalar(torch), (ta, tb)))
    _close_nested(ZA.hessian(_scalar(zg), (za, zb), outer_jacobian_strategy="forward-mode"),
                  TA.hessian(_scalar(torch), (ta, tb), outer_jacobian_strategy="forward-mode",
                             vectorize=True), structure=False)
    h = ZA.hessian(lambda x: _scalar(zg)(x, zb), za).numpy().reshape(6, 6)
    np.testing.assert_allclose(h, h.T, atol=1e-12)
    v = (zg.ones(2, 3, dtype=zg.float64), zg.tensor(b))
    tv = (torch.ones(2, 3, dtype=torch.float64), tb)
    for name in ("hvp", "vhp", "jvp", "vjp"):
        fn = _pair if name in ("jvp", "vjp") else _scalar
        vv, tvv = ((v[0], v[0] * 2), (tv[0], tv[0] * 2)) if name == "vjp" else (v, tv)
        if name == "vjp":
            vv, tvv = (v[0], zg.tensor(b)), (tv[0], tb)
        _close_nested(getattr(ZA, name)(fn(zg), (za, zb), vv),
                      getattr(TA, name)(fn(torch), (ta, tb), tvv))


def test_functional_create_graph_is_differentiable(xy):
    a, b = xy
    za = zg.tensor(a, requires_grad=True)
    zb = zg.tensor(b, requires_grad=True)
    ta = torch.tensor(a, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    h = ZA.hessian(_scalar(zg), (za, zb), create_graph=True)
    th = TA.hessian(_scalar(torch), (ta, tb), create_graph=True)
    _close_nested(zg.autograd.grad(h[0][1].sum(), (za, zb)),
                  torch.autograd.grad(th[0][1].sum(), (ta, tb)))
    v = (zg.ones(2, 3, dtype=zg.float64), zg.ones(3, dtype=zg.float64))
    tv = (torch.ones(2, 3, dtype=torch.float64), torch.ones(3, dtype=torch.float64))
    hv = ZA.hvp(_scalar(zg), (za, zb), v, create_graph=True)[1]
    thv = TA.hvp(_scalar(torch), (ta, tb), tv, create_graph=True)[1]
    _close_nested(zg.autograd.grad(hv[1].sum(), (za, zb)),
                  torch.autograd.grad(thv[1].sum(), (ta, tb)))
    out, jv = ZA.jvp(_pair(zg), (za, zb), v, create_graph=True)
    assert jv[0].requires_grad and out[0].requires_grad
    out, jv = ZA.jvp(_pair(zg), (za, zb), v)
    assert not jv[0].requires_grad and not out[0].requires_grad


def test_functional_defaults_and_strict():
    _close_nested(ZA.hvp(lambda x: (x ** 3).sum(), zg.tensor([2.0])),
                  TA.hvp(lambda x: (x ** 3).sum(), torch.tensor([2.0])))
    _close_nested(ZA.vjp(lambda x: (x ** 3).sum(), zg.tensor([2.0, 1.0])),
                  TA.vjp(lambda x: (x ** 3).sum(), torch.tensor([2.0, 1.0])))
    _close_nested(ZA.jacobian(lambda x, y: x * 2, (zg.ones(2), zg.ones(2))),
                  TA.jacobian(lambda x, y: x * 2, (torch.ones(2), torch.ones(2))))
    for api, L in ((ZA, zg), (TA, torch)):
        with pytest.raises(RuntimeError, match="independent of input 1"):
            api.jacobian(lambda x, y: x * 2, (L.ones(2), L.ones(2)), strict=True)
        with pytest.raises(RuntimeError, match="independent of input 1"):
            api.vjp(lambda x, y: x * 2, (L.ones(2), L.ones(2)), L.ones(2), strict=True)


@pytest.mark.parametrize("call,err,match", [
    (lambda A, L: A.vjp(lambda x: x * 2, L.ones(2)), RuntimeError, "can only be None"),
    (lambda A, L: A.vjp(lambda x: x * 2, L.ones(2), L.ones(3)), RuntimeError, "invalid size"),
    (lambda A, L: A.vjp(lambda x: x * 2, (L.ones(2),), (L.ones(2), L.ones(2))), RuntimeError,
     "single Tensor"),
    (lambda A, L: A.jvp(lambda x, y: x, (L.ones(2), L.ones(2)), (L.ones(2),)), RuntimeError,
     "invalid length"),
    (lambda A, L: A.hessian(lambda x: x * 2, L.ones(2)), RuntimeError, "single element"),
    (lambda A, L: A.hvp(lambda x: x * 2, L.ones(2), L.ones(2)), RuntimeError, "single element"),
    (lambda A, L: A.vjp(lambda x: x * 2, 3.0), TypeError, "Tensor or a tuple of Tensors"),
    (lambda A, L: A.vjp(lambda x: 3.0, L.ones(1)), TypeError, "outputs of the user-provided"),
    (lambda A, L: A.jacobian(lambda x: x, L.ones(1), strategy="sideways"), AssertionError,
     "forward-mode"),
])
def test_functional_errors_like_torch(call, err, match):
    for api, L in ((ZA, zg), (TA, torch)):
        with pytest.raises(err, match=match):
            call(api, L)


# -- on each device ---------------------------------------------------------------------------
def _cubic(x):
    return (x * x * x).sum() + x.sin().prod()


DEVICE_TRANSFORMS = {
    "grad": lambda x: zF.grad(_cubic)(x),
    "jacrev": lambda x: zF.jacrev(lambda x: x.exp() * x.sum())(x),
    "jacfwd": lambda x: zF.jacfwd(lambda x: x.exp() * x.sum())(x),
    "hessian": lambda x: zF.hessian(_cubic)(x),
    "vmap": lambda x: zF.vmap(lambda r: r * r.sum())(x.reshape(3, 2)),
    "jvp": lambda x: zF.jvp(_cubic, (x,), (x.cos(),))[1],
    "vjp": lambda x: zF.vjp(lambda x: x.exp(), x)[1](x.cos())[0],
    # zeros made for what the output does not depend on: on the device too
    "jacrev unused input": lambda x: zF.jacrev(lambda x, y: x * 2, argnums=1)(x, x[:2]),
    "jacfwd constant output": lambda x: zF.jacfwd(lambda x: x.detach() * 2)(x),
    "jvp constant output": lambda x: zF.jvp(lambda x: x.detach(), (x,), (x,))[1],
    "jacfwd empty input": lambda x: zF.jacfwd(lambda x: x.sum() * 2)(x[:0]),
    "functional.jacobian": lambda x: ZA.jacobian(lambda x: x.exp(), x),
    "functional.jacobian forward": lambda x: ZA.jacobian(lambda x: x.exp(), x,
                                                         strategy="forward-mode"),
    "functional.hessian": lambda x: ZA.hessian(_cubic, x),
    "functional.hvp": lambda x: ZA.hvp(_cubic, x, x.cos())[1],
    "functional.vhp": lambda x: ZA.vhp(_cubic, x, x.cos())[1],
    "functional.jvp": lambda x: ZA.jvp(lambda x: x.exp(), x, x.cos())[1],
    "functional.vjp": lambda x: ZA.vjp(_cubic, x)[1],
}


@pytest.mark.parametrize("name", list(DEVICE_TRANSFORMS))
def test_transforms_stay_on_the_device_of_their_inputs(name, device):
    transform = DEVICE_TRANSFORMS[name]
    on_device = transform(_zx().to(device))
    assert str(on_device.device) == device
    assert type(on_device._data) is type(_zx().to(device)._data)
    assert_close(on_device, transform(_zx()), what=name)
