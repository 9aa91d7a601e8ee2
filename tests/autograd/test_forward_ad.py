"""Forward-mode AD: every op's JVP rule against torch.func.jvp, the dual-tensor API
(``zerograd.autograd.forward_ad``) and its errors, and a coverage check that every
differentiable ``Function`` in ``zerograd.ops`` has a forward-mode rule.

The op table below is the spec: one row per op (and per interesting variant), each a
function written once for both libraries (``lib`` is ``zerograd`` or ``torch``), with
inputs drawn from the op's smooth domain, in float64.
"""
import importlib
import inspect
import pkgutil

import numpy as np
import pytest
import torch

import zerograd as zg
from tests.oracle import check_jvp
from zerograd.autograd import forward_ad as fwAD
from zerograd.autograd.function import Function


def _any(*shape):
    return ("any", shape)


def _pos(*shape):
    return ("pos", shape)


def _nonzero(*shape):
    return ("nonzero", shape)


def _spd(n):
    return ("spd", (n, n))


def _array(kind, shape, rng):
    if kind == "any":
        return rng.standard_normal(shape)
    if kind == "pos":
        return rng.uniform(0.3, 2.5, shape)
    if kind == "nonzero":
        return rng.uniform(0.3, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    if kind == "spd":  # well conditioned: inverses, solves and determinants are smooth
        a = rng.standard_normal(shape)
        return a @ a.T / shape[0] + np.eye(shape[0])
    raise ValueError(kind)


def _lib(like):
    return zg if isinstance(like, zg.Tensor) else torch


def _idx(like, values):
    """An index tensor of ``like``'s library, on its device."""
    return _lib(like).tensor(values, dtype=_lib(like).int64, device=like.device)


def _mask(like, values):
    return _lib(like).tensor(np.array(values, dtype=bool), device=like.device)


def _like(like, values):
    """A constant tensor with ``like``'s library, dtype and device."""
    return _lib(like).tensor(values, dtype=like.dtype, device=like.device)


# (id, fn(lib, *inputs), input specs[, torch reference]). Every op the core issue lists as
# differentiable, plus in-place forms and the hot nn.functional ops.
OPS = [
    # arithmetic
    ("add", lambda L, a, b: a + b, [_any(3, 4), _any(4)]),
    ("add_scalar_alpha", lambda L, a, b: L.add(a, b, alpha=2.5) + 1.5, [_any(3), _any(3)]),
    ("sub", lambda L, a, b: a - b, [_any(2, 3), _any(2, 1)]),
    ("rsub", lambda L, a: 2.0 - a, [_any(3)]),
    ("mul", lambda L, a, b: a * b, [_any(3, 4), _any(3, 1)]),
    ("div", lambda L, a, b: a / b, [_any(3, 4), _nonzero(4)]),
    ("rdiv", lambda L, a: 2.0 / a, [_nonzero(5)]),
    # torch has no forward AD for floor_divide: its reference treats a // b as a constant
    ("floor_divide", lambda L, a, b: a // b + a, [_any(4), _nonzero(4)],
     lambda L, a, b: (a.detach() // b.detach()) + a),
    ("remainder", lambda L, a, b: a % b, [_any(6), _nonzero(6)]),
    ("fmod", lambda L, a, b: L.fmod(a, b), [_any(6), _nonzero(6)]),
    ("pow_scalar", lambda L, a: a ** 3, [_any(5)]),
    ("pow_tensor", lambda L, a, b: a ** b, [_pos(4), _any(4)]),
    ("rpow", lambda L, a: 2.0 ** a, [_any(4)]),
    ("pow_fn", lambda L, a, b: L.pow(a, b), [_pos(2, 3), _any(3)]),
    ("neg", lambda L, a: -a, [_any(3)]),
    ("abs", lambda L, a: a.abs(), [_nonzero(5)]),
    # selection and piecewise
    ("where", lambda L, a, b: L.where(a > 0, a, b), [_any(3, 4), _any(4)]),
    ("clamp", lambda L, a: a.clamp(-0.5, 0.7), [_any(8)]),
    ("clamp_min", lambda L, a: L.clamp(a, min=0.1), [_any(8)]),
    ("clamp_tensor", lambda L, a, lo, hi: L.clamp(a, lo, hi + 2), [_any(6), _any(6), _any(6)]),
    ("maximum", lambda L, a, b: L.maximum(a, b), [_any(6), _any(6)]),
    ("minimum", lambda L, a, b: L.minimum(a, b), [_any(2, 3), _any(3)]),
    ("sign", lambda L, a: a.sign() * a, [_nonzero(5)]),
    ("floor", lambda L, a: a.floor() + a, [_any(5)]),
    ("ceil", lambda L, a: a.ceil() * a, [_any(5)]),
    ("round", lambda L, a: a.round() + 2 * a, [_any(5)]),
    ("trunc", lambda L, a: a.trunc() + a, [_any(5)]),
    ("lerp", lambda L, a, b: L.lerp(a, b, 0.3), [_any(4), _any(4)]),
    ("addcmul", lambda L, a, b, c: L.addcmul(a, b, c, value=0.5), [_any(3), _any(3), _any(3)]),
    # unary math
    ("exp", lambda L, a: a.exp(), [_any(5)]),
    ("log", lambda L, a: a.log(), [_pos(5)]),
    ("log1p", lambda L, a: a.log1p(), [_pos(5)]),
    ("expm1", lambda L, a: a.expm1(), [_any(5)]),
    ("log2", lambda L, a: a.log2(), [_pos(5)]),
    ("log10", lambda L, a: L.log10(a), [_pos(5)]),
    ("sqrt", lambda L, a: a.sqrt(), [_pos(5)]),
    ("rsqrt", lambda L, a: a.rsqrt(), [_pos(5)]),
    ("sin", lambda L, a: a.sin(), [_any(5)]),
    ("cos", lambda L, a: a.cos(), [_any(5)]),
    ("tan", lambda L, a: a.tan(), [_any(5)]),
    ("tanh", lambda L, a: a.tanh(), [_any(5)]),
    ("sigmoid", lambda L, a: a.sigmoid(), [_any(5)]),
    ("relu", lambda L, a: a.relu(), [_nonzero(6)]),
    ("square", lambda L, a: a.square(), [_any(5)]),
    ("reciprocal", lambda L, a: a.reciprocal(), [_nonzero(5)]),
    ("erf", lambda L, a: L.erf(a), [_any(5)]),
    # reductions
    ("sum", lambda L, a: a.sum(), [_any(3, 4)]),
    ("sum_dim", lambda L, a: a.sum(dim=(0, 2), keepdim=True), [_any(2, 3, 4)]),
    ("mean", lambda L, a: a.mean(1), [_any(3, 4)]),
    ("prod", lambda L, a: a.prod(), [_nonzero(5)]),
    ("prod_dim_zero", lambda L, a: (a * _like(a, [[1.0], [0.0], [1.0]])).prod(0),
     [_any(3, 2)]),
    ("var", lambda L, a: a.var(1), [_any(3, 4)]),
    ("var_pop", lambda L, a: a.var(correction=0), [_any(3, 4)]),
    ("std", lambda L, a: a.std(0, keepdim=True), [_any(4, 3)]),
    ("max_all", lambda L, a: a.max(), [_any(3, 4)]),
    ("min_dim", lambda L, a: a.min(1).values, [_any(3, 4)]),
    ("max_dim_keep", lambda L, a: a.max(0, keepdim=True)[0], [_any(3, 4)]),
    ("amax", lambda L, a: a.amax(1), [_any(3, 4)]),
    ("amin", lambda L, a: L.amin(a, (0, 1)), [_any(3, 4)]),
    ("aminmax", lambda L, a: L.aminmax(a, dim=0).max, [_any(3, 4)]),
    ("norm", lambda L, a: a.norm(), [_any(3, 4)]),
    ("norm_p1_dim", lambda L, a: a.norm(p=1, dim=1), [_nonzero(3, 4)]),
    ("norm_p3", lambda L, a: L.norm(a, p=3, dim=0), [_any(3, 4)]),
    ("norm_inf", lambda L, a: L.linalg.vector_norm(a, float("inf")), [_any(7)]),
    ("logsumexp", lambda L, a: L.logsumexp(a, 1), [_any(3, 4)]),
    ("cumsum", lambda L, a: a.cumsum(1), [_any(3, 4)]),
    ("cumprod", lambda L, a: a.cumprod(0), [_nonzero(4, 3)]),
    ("cumprod_zero", lambda L, a: (a * _like(a, [1.0, 0.0, 1.0, 1.0])).cumprod(0),
     [_any(4)]),
    # linear algebra
    ("matmul", lambda L, a, b: a @ b, [_any(3, 4), _any(4, 2)]),
    ("matmul_batched", lambda L, a, b: L.matmul(a, b), [_any(2, 3, 4), _any(4, 5)]),
    ("matmul_vec", lambda L, a, b: a @ b, [_any(4), _any(2, 4, 3)]),
    ("mm", lambda L, a, b: L.mm(a, b), [_any(3, 4), _any(4, 2)]),
    ("bmm", lambda L, a, b: L.bmm(a, b), [_any(2, 3, 4), _any(2, 4, 2)]),
    ("mv", lambda L, a, b: L.mv(a, b), [_any(3, 4), _any(4)]),
    ("dot", lambda L, a, b: L.dot(a, b), [_any(5), _any(5)]),
    ("inner", lambda L, a, b: L.inner(a, b), [_any(2, 5), _any(3, 5)]),
    ("outer", lambda L, a, b: L.outer(a, b), [_any(3), _any(4)]),
    ("addmm", lambda L, c, a, b: L.addmm(c, a, b, beta=0.5, alpha=2.0),
     [_any(3, 2), _any(3, 4), _any(4, 2)]),
    ("baddbmm", lambda L, c, a, b: L.baddbmm(c, a, b), [_any(2, 3, 2), _any(2, 3, 4),
                                                         _any(2, 4, 2)]),
    ("einsum_bilinear", lambda L, a, b: L.einsum("ij,jk->ik", a, b), [_any(3, 4), _any(4, 2)]),
    ("einsum_trace_batch", lambda L, a, b: L.einsum("bii,bj->bj", a, b),
     [_any(2, 3, 3), _any(2, 4)]),
    ("einsum_three", lambda L, a, b, c: L.einsum("i,ij,j->", a, b, c),
     [_any(3), _any(3, 4), _any(4)]),
    ("inv", lambda L, a: L.linalg.inv(a), [_spd(3)]),
    ("inverse_method", lambda L, a: a.inverse(), [_spd(3)]),
    ("solve", lambda L, a, b: L.linalg.solve(a, b), [_spd(3), _any(3, 2)]),
    ("solve_vector", lambda L, a, b: L.linalg.solve(a, b), [_spd(3), _any(3)]),
    ("det", lambda L, a: L.linalg.det(a), [_spd(3)]),
    ("det_general", lambda L, a: L.det(a), [_any(2, 3, 3)]),
    ("slogdet", lambda L, a: L.linalg.slogdet(a)[1], [_spd(3)]),
    ("pinv", lambda L, a: L.linalg.pinv(a), [_any(4, 3)]),
    ("svdvals", lambda L, a: L.linalg.svdvals(a), [_any(4, 3)]),
    ("matrix_norm_fro", lambda L, a: L.linalg.matrix_norm(a), [_any(3, 4)]),
    ("tril", lambda L, a: a.tril(), [_any(3, 3)]),
    ("triu", lambda L, a: L.triu(a, 1), [_any(3, 4)]),
    ("diag", lambda L, a: L.diag(a), [_any(4)]),
    ("diagonal", lambda L, a: L.diagonal(a, 1), [_any(3, 4)]),
    ("trace", lambda L, a: L.trace(a), [_any(3, 3)]),
    # shape ops
    ("reshape", lambda L, a: a.reshape(4, 3), [_any(2, 6)]),
    ("view", lambda L, a: a.view(-1), [_any(2, 3)]),
    ("reshape_same", lambda L, a: a.reshape(2, 3) * 2, [_any(2, 3)]),
    ("flatten", lambda L, a: a.flatten(1), [_any(2, 3, 2)]),
    ("unflatten", lambda L, a: a.unflatten(1, (2, 3)), [_any(2, 6)]),
    ("ravel", lambda L, a: L.ravel(a), [_any(2, 3)]),
    ("squeeze", lambda L, a: a.squeeze(1), [_any(3, 1, 2)]),
    ("unsqueeze", lambda L, a: a.unsqueeze(-1), [_any(3, 2)]),
    ("transpose", lambda L, a: a.transpose(0, 2), [_any(2, 3, 4)]),
    ("permute", lambda L, a: a.permute(2, 0, 1), [_any(2, 3, 4)]),
    ("movedim", lambda L, a: L.movedim(a, 0, -1), [_any(2, 3, 4)]),
    ("t", lambda L, a: a.t(), [_any(2, 3)]),
    ("mT", lambda L, a: a.mT, [_any(2, 3, 4)]),
    ("expand", lambda L, a: a.expand(4, 3), [_any(1, 3)]),
    ("expand_same", lambda L, a: a.expand(2, 3) * 2, [_any(2, 3)]),
    ("broadcast_to", lambda L, a: L.broadcast_to(a, (2, 3, 3)), [_any(3)]),
    ("repeat", lambda L, a: a.repeat(2, 3), [_any(2, 2)]),
    ("tile", lambda L, a: L.tile(a, (2,)), [_any(3)]),
    ("flip", lambda L, a: a.flip(0, 1), [_any(2, 3)]),
    ("roll", lambda L, a: L.roll(a, 2, 1), [_any(2, 5)]),
    ("clone", lambda L, a: a.clone(), [_any(3)]),
    ("contiguous", lambda L, a: a.t().contiguous(), [_any(2, 3)]),
    ("cat", lambda L, a, b: L.cat([a, b], 1), [_any(2, 3), _any(2, 2)]),
    ("stack", lambda L, a, b: L.stack([a, b], -1), [_any(2, 3), _any(2, 3)]),
    ("hstack", lambda L, a, b: L.hstack([a, b]), [_any(3), _any(2)]),
    ("vstack", lambda L, a, b: L.vstack([a, b]), [_any(3), _any(2, 3)]),
    ("dstack", lambda L, a, b: L.dstack([a, b]), [_any(2, 3), _any(2, 3)]),
    ("column_stack", lambda L, a, b: L.column_stack([a, b]), [_any(3), _any(3, 2)]),
    ("split", lambda L, a: L.split(a, 2, 1)[1], [_any(2, 5)]),
    ("chunk", lambda L, a: a.chunk(3, 0)[2], [_any(7, 2)]),
    ("unbind", lambda L, a: a.unbind(1)[1], [_any(3, 2)]),
    ("narrow", lambda L, a: a.narrow(1, 1, 2), [_any(3, 4)]),
    ("select", lambda L, a: a.select(1, 2), [_any(3, 4)]),
    ("atleast_2d", lambda L, a: L.atleast_2d(a), [_any(3)]),
    ("sum_to_size", lambda L, a: a.sum_to_size(1, 3), [_any(2, 3)]),
    # indexing, gather and scatter
    ("getitem_basic", lambda L, a: a[1:, ::2], [_any(3, 5)]),
    ("getitem_int_tensor", lambda L, a: a[_idx(a, [2, 0, 2])], [_any(3, 2)]),
    ("getitem_mixed", lambda L, a: a[:, _idx(a, [1, 1]), None, 0], [_any(2, 3, 2)]),
    ("getitem_bool", lambda L, a: a[_mask(a, [True, False, True])], [_any(3, 2)]),
    ("index_put", lambda L, a, v: a.index_put((_idx(a, [0, 2]),), v), [_any(3, 2), _any(2, 2)]),
    ("index_put_accumulate", lambda L, a, v: a.index_put((_idx(a, [0, 0]),), v, accumulate=True),
     [_any(3, 2), _any(2, 2)]),
    ("gather", lambda L, a: L.gather(a, 1, _idx(a, [[0, 0], [1, 0]])), [_any(2, 3)]),
    ("take_along_dim", lambda L, a: L.take_along_dim(a, _idx(a, [[2], [0]]), 1), [_any(2, 3)]),
    ("scatter", lambda L, a, s: a.scatter(0, _idx(a, [[1, 0, 1]]), s), [_any(2, 3), _any(1, 3)]),
    ("scatter_value", lambda L, a: a.scatter(1, _idx(a, [[0], [2]]), 1.5), [_any(2, 3)]),
    ("scatter_add", lambda L, a, s: a.scatter_add(1, _idx(a, [[0, 0], [2, 1]]), s),
     [_any(2, 3), _any(2, 2)]),
    # torch has no forward AD for scatter(reduce='multiply'): the reference scales by the
    # same constant factors
    ("scatter_multiply", lambda L, a: a.scatter(1, _idx(a, [[0], [2]]), 2.0, reduce="multiply"),
     [_any(2, 3)], lambda L, a: a * _like(a, [[2.0, 1, 1], [1, 1, 2.0]])),
    ("index_select", lambda L, a: a.index_select(1, _idx(a, [2, 0, 2])), [_any(2, 3)]),
    ("index_add", lambda L, a, s: a.index_add(0, _idx(a, [1, 1]), s, alpha=2.0),
     [_any(3, 2), _any(2, 2)]),
    ("masked_fill", lambda L, a: a.masked_fill(a > 0, 0.5), [_any(3, 4)]),
    ("masked_select", lambda L, a: a.masked_select(a > 0), [_nonzero(3, 4)]),
    ("take", lambda L, a: L.take(a, _idx(a, [[5, 0], [1, 1]])), [_any(2, 3)]),
    ("sort_values", lambda L, a: a.sort(1, descending=True).values, [_any(3, 4)]),
    ("topk_values", lambda L, a: a.topk(2).values, [_any(3, 4)]),
    ("setitem", lambda L, a, v: _setitem(a, v), [_any(3, 2), _any(2)]),
    # softmax family
    ("softmax", lambda L, a: L.softmax(a, 1), [_any(3, 4)]),
    ("log_softmax", lambda L, a: L.log_softmax(a, 0), [_any(3, 4)]),
    # dtype casts (the float64 -> float32 -> float64 round trip keeps float32 precision)
    ("to_float32", lambda L, a: a.float().double() * 2, [_any(4)]),
    ("to_dtype", lambda L, a: a.to(L.float32).to(L.float64), [_any(4)]),
    # in-place ops on a clone
    ("inplace_mul", lambda L, a: a.clone().mul_(3.0), [_any(4)]),
    ("inplace_add_tensor", lambda L, a, b: a.clone().add_(b), [_any(4), _any(4)]),
    ("copy_", lambda L, a, b: a.clone().copy_(b), [_any(4), _any(4)]),
    # nn.functional hot ops
    ("F.linear", lambda L, x, w, b: L.nn.functional.linear(x, w, b),
     [_any(2, 3), _any(4, 3), _any(4)]),
    ("F.relu", lambda L, a: L.nn.functional.relu(a), [_nonzero(5)]),
    ("F.gelu", lambda L, a: L.nn.functional.gelu(a), [_any(5)]),
    ("F.gelu_tanh", lambda L, a: L.nn.functional.gelu(a, approximate="tanh"), [_any(5)]),
    ("F.silu", lambda L, a: L.nn.functional.silu(a), [_any(5)]),
    ("F.softplus", lambda L, a: L.nn.functional.softplus(a), [_any(5)]),
    ("F.leaky_relu", lambda L, a: L.nn.functional.leaky_relu(a, 0.1), [_nonzero(5)]),
    ("F.elu", lambda L, a: L.nn.functional.elu(a), [_nonzero(5)]),
    ("F.hardtanh", lambda L, a: L.nn.functional.hardtanh(a, -0.5, 0.5), [_any(8)]),
    ("F.cross_entropy", lambda L, a: L.nn.functional.cross_entropy(a, _idx(a, [0, 2, 1])),
     [_any(3, 4)]),
    ("F.cross_entropy_smooth", lambda L, a: L.nn.functional.cross_entropy(
        a, _idx(a, [0, 2, 1]), label_smoothing=0.1, reduction="sum"), [_any(3, 4)]),
    ("F.binary_cross_entropy", lambda L, a: L.nn.functional.binary_cross_entropy(
        a.sigmoid(), _like(a, [0.0, 1.0, 1.0])), [_any(3)]),
    ("F.mse_loss", lambda L, a, b: L.nn.functional.mse_loss(a, b), [_any(3, 2), _any(3, 2)]),
    ("F.pad", lambda L, a: L.nn.functional.pad(a, (1, 2)), [_any(2, 3)]),
    ("F.embedding", lambda L, w: L.nn.functional.embedding(_idx(w, [[0, 2], [2, 1]]), w),
     [_any(3, 4)]),
    ("F.layer_norm", lambda L, a, w, b: L.nn.functional.layer_norm(a, (3,), w, b),
     [_any(2, 3), _any(3), _any(3)]),
    ("F.batch_norm", lambda L, a, w, b: L.nn.functional.batch_norm(
        a, None, None, w, b, training=True), [_any(4, 3), _any(3), _any(3)]),
    ("F.group_norm", lambda L, a: L.nn.functional.group_norm(a, 2), [_any(2, 4, 3)]),
    ("F.conv1d", lambda L, x, w, b: L.nn.functional.conv1d(x, w, b, padding=1),
     [_any(1, 2, 5), _any(3, 2, 3), _any(3)]),
    ("F.conv2d", lambda L, x, w: L.nn.functional.conv2d(x, w, stride=2, padding=1),
     [_any(1, 2, 5, 5), _any(2, 2, 3, 3)]),
    ("F.conv_transpose2d", lambda L, x, w: L.nn.functional.conv_transpose2d(x, w, stride=2),
     [_any(1, 2, 3, 3), _any(2, 1, 3, 3)]),
    ("F.max_pool2d", lambda L, x: L.nn.functional.max_pool2d(x, 2), [_any(1, 2, 4, 4)]),
    ("F.avg_pool2d", lambda L, x: L.nn.functional.avg_pool2d(x, 2, padding=1),
     [_any(1, 2, 4, 4)]),
    ("F.adaptive_avg_pool2d", lambda L, x: L.nn.functional.adaptive_avg_pool2d(x, (2, 3)),
     [_any(1, 2, 5, 5)]),
    ("F.adaptive_max_pool2d", lambda L, x: L.nn.functional.adaptive_max_pool2d(x, 2),
     [_any(1, 2, 5, 5)]),
]


def _setitem(a, v):
    out = a.clone()
    out[1] = v
    return out


def _inputs(specs, seed):
    rng = np.random.default_rng(seed)
    return [_array(kind, shape, rng) for kind, shape in specs]


@pytest.mark.parametrize("row", OPS, ids=[row[0] for row in OPS])
def test_op_jvp_matches_torch(row, device):
    name, fn, specs = row[:3]
    torch_fn = row[3] if len(row) > 3 else fn  # a reference where torch lacks forward AD
    check_jvp(lambda *x: fn(zg, *x), lambda *x: torch_fn(torch, *x),
              *_inputs(specs, seed=len(name)), seed=len(name) + 1, rtol=1e-6, atol=1e-8,
              device=device)


def test_every_differentiable_op_has_a_forward_rule():
    """Walk every Function subclass in zerograd.ops (and zerograd.nn.functional): each one
    must define ``jvp`` or be ``jvp_linear``. Ops without a derivative at all (their
    backward refuses) are the only ones allowed to lack a rule: ALLOW lists them."""
    # Even scatter(reduce='multiply'), whose backward torch refuses, has a JVP. The one
    # exception is checkpoint(use_reentrant=True)'s Function, which has no forward mode in
    # torch either (a custom Function without jvp); use_reentrant=False works with it.
    allow = {"CheckpointFunction"}
    packages = [zg.ops, zg.nn.functional]
    classes = set()
    for pkg in packages:
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            module = importlib.import_module(info.name)
            for obj in vars(module).values():
                if inspect.isclass(obj) and issubclass(obj, Function) and obj is not Function:
                    classes.add(obj)
    assert len(classes) > 60  # the walk really found the op families
    missing = sorted(c.__qualname__ for c in classes
                     if not (c.jvp_linear or getattr(c, "jvp", None) is not None)
                     and c.__qualname__ not in allow)
    assert not missing, f"Function subclasses without a forward-mode rule: {missing}"


def test_cast_to_integer_drops_the_tangent():
    with fwAD.dual_level():
        x = fwAD.make_dual(zg.tensor([1.5, -2.0]), zg.tensor([1.0, 1.0]))
        assert fwAD.unpack_dual(x.long()).tangent is None
        assert fwAD.unpack_dual(x > 0).tangent is None
        assert fwAD.unpack_dual(x.argmax()).tangent is None


# -- the dual-tensor API ------------------------------------------------------------------------
def test_make_dual_unpack_dual_roundtrip():
    p = zg.tensor([1.0, 2.0, 3.0], dtype=zg.float64)
    t = zg.tensor([0.5, -1.0, 2.0], dtype=zg.float64)
    with fwAD.dual_level():
        x = fwAD.make_dual(p, t)
        y = (x * x).sin()
        primal, tangent = fwAD.unpack_dual(y)
        assert fwAD.unpack_dual(primal).tangent is None
        expected = np.cos(p.numpy() ** 2) * 2 * p.numpy() * t.numpy()
        np.testing.assert_allclose(tangent.numpy(), expected, rtol=1e-12)
        np.testing.assert_allclose(primal.numpy(), np.sin(p.numpy() ** 2))
        assert fwAD.unpack_dual(p).tangent is None  # the original is not dual
    assert fwAD.unpack_dual(y).tangent is None  # leaving the level drops the tangents
    assert fwAD.unpack_dual(x).tangent is None


def test_dual_level_returns_level_and_enter_exit_functions():
    level = fwAD.enter_dual_level()
    try:
        assert level == 0
        x = fwAD.make_dual(zg.ones(2), zg.ones(2))
        assert fwAD.unpack_dual(x * 3).tangent.tolist() == [3.0, 3.0]
    finally:
        fwAD.exit_dual_level(level=level)
    with pytest.raises(RuntimeError, match="no level"):
        fwAD.make_dual(zg.ones(2), zg.ones(2))


def test_nested_dual_level_is_refused_like_torch():
    with fwAD.dual_level():
        with pytest.raises(RuntimeError, match="Nested forward mode AD is not supported"):
            with fwAD.dual_level():
                pass
    with torch.autograd.forward_ad.dual_level():
        with pytest.raises(RuntimeError, match="Nested forward mode AD is not supported"):
            with torch.autograd.forward_ad.dual_level():
                pass
    # the level is usable again afterwards
    with fwAD.dual_level():
        x = fwAD.make_dual(zg.ones(2), zg.ones(2))
        assert fwAD.unpack_dual(x + x).tangent.tolist() == [2.0, 2.0]


def test_make_dual_outside_a_level_raises():
    with pytest.raises(RuntimeError, match="no level exists"):
        fwAD.make_dual(zg.ones(3), zg.ones(3))
    with pytest.raises(RuntimeError, match="no level exists"):
        torch.autograd.forward_ad.make_dual(torch.ones(3), torch.ones(3))


def test_tangent_shape_mismatch_raises():
    msg = "different size than that of the original Tensor"
    with fwAD.dual_level():
        with pytest.raises(RuntimeError, match=msg):
            fwAD.make_dual(zg.ones(3), zg.ones(2))
    with pytest.raises(RuntimeError, match=msg):
        zg.func.jvp(lambda x: x * 2, (zg.ones(3),), (zg.ones(2),))
    with pytest.raises(RuntimeError, match=msg):
        torch.func.jvp(lambda x: x * 2, (torch.ones(3),), (torch.ones(2),))


def test_make_dual_refuses_integer_primal():
    with fwAD.dual_level():
        with pytest.raises(ValueError, match="floating point"):
            fwAD.make_dual(zg.tensor([1, 2]), zg.ones(2))


def test_forward_over_reverse_through_backward():
    """Tangents ride through a backward pass: the gradient's tangent is H v."""
    x0 = np.array([0.3, -1.2, 0.8])
    v = np.array([1.0, 0.5, -2.0])
    with fwAD.dual_level():
        x = fwAD.make_dual(zg.tensor(x0).requires_grad_(), zg.tensor(v))
        y = (x.sin() * x.exp()).sum() + (x ** 3).prod()
        (g,) = zg.autograd.grad(y, x, create_graph=True)
        hv = fwAD.unpack_dual(g).tangent.detach()
    th = torch.func.hessian(lambda t: (t.sin() * t.exp()).sum() + (t ** 3).prod())(
        torch.tensor(x0))
    np.testing.assert_allclose(hv.numpy(), th.numpy() @ v, rtol=1e-10)


def test_op_without_rule_raises_clearly():
    class NoRule(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output * 2

    with fwAD.dual_level():
        x = fwAD.make_dual(zg.ones(2), zg.ones(2))
        with pytest.raises(RuntimeError, match="NoRule.*forward-mode"):
            NoRule.apply(x)
