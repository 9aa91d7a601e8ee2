"""Reductions, cumulative ops, logsumexp and softmax against PyTorch: values and gradients.

One table drives the hypothesis oracle tests (shapes with 0-d, size-0 and size-1 dims;
``dim`` as None, an int or a tuple; ``keepdim``), the non-contiguous tests and the
float64 gradchecks. Where torch refuses an input (max of an empty tensor...), zerograd
must raise the same exception type. The table, the kinks and ties, the dtype cases and the
forward-mode checks also run on the stand-in device (the ``device`` fixture).
"""
import math
from collections import namedtuple

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import zerograd as zg
from tests.oracle import check, check_jvp, check_like_torch
from tests.ops._helpers import FLOATS, SEEDS, SHAPES, values

# fn(lib, x, dim, keepdim): the same call for lib = zerograd and lib = torch.
# dims: "many" (None, int or tuple), "one" (None or int), "int" (an int is required).
Red = namedtuple("Red", "name fn dims domain smooth grad", defaults=("any", True, True))


def _call(name, **kw):
    def fn(lib, x, dim, keepdim):
        if dim is None:
            return getattr(lib, name)(x, **kw)
        return getattr(lib, name)(x, dim, keepdim=keepdim, **kw)
    return fn


REDUCTIONS = [
    Red("sum", _call("sum"), "many"),
    Red("mean", _call("mean"), "many"),
    Red("prod", _call("prod"), "one", "nonzero"),
    Red("var", _call("var"), "many"),
    Red("var_correction0", _call("var", correction=0), "many"),
    Red("var_correction2", _call("var", correction=2), "many"),
    Red("std", _call("std"), "many"),
    Red("std_biased", _call("std", unbiased=False), "many"),
    Red("amax", _call("amax"), "many", "any", False),
    Red("amin", _call("amin"), "many", "any", False),
    Red("max", _call("max"), "one", "any", False),
    Red("min", _call("min"), "one", "any", False),
    Red("argmax", _call("argmax"), "one", "any", False, False),
    Red("argmin", _call("argmin"), "one", "any", False, False),
    Red("all", _call("all"), "many", "bool", False, False),
    Red("any", _call("any"), "many", "bool", False, False),
    Red("norm", lambda m, x, d, k: m.norm(x, dim=d, keepdim=k), "many", "nonzero"),
    Red("norm_fro", lambda m, x, d, k: m.norm(x, p="fro", dim=d, keepdim=k), "many", "nonzero"),
    Red("norm_1", lambda m, x, d, k: m.norm(x, p=1, dim=d, keepdim=k), "many", "nonzero", False),
    Red("norm_inf", lambda m, x, d, k: m.norm(x, p=math.inf, dim=d, keepdim=k), "many", "any",
        False),
    Red("norm_-inf", lambda m, x, d, k: m.norm(x, p=-math.inf, dim=d, keepdim=k), "many", "any",
        False),
    Red("norm_3", lambda m, x, d, k: m.norm(x, p=3, dim=d, keepdim=k), "many", "nonzero"),
    Red("norm_1.5", lambda m, x, d, k: m.norm(x, p=1.5, dim=d, keepdim=k), "many", "nonzero"),
    Red("norm_0.5", lambda m, x, d, k: m.norm(x, p=0.5, dim=d, keepdim=k), "many", "nonzero"),
    Red("norm_0", lambda m, x, d, k: m.norm(x, p=0, dim=d, keepdim=k), "many", "any", False),
    # all dims spelled out: torch's own backward fails for dim=() on some shapes
    Red("logsumexp", lambda m, x, d, k: m.logsumexp(
        x, (tuple(range(x.dim())) or 0) if d is None else d, keepdim=k), "many"),
    Red("cumsum", lambda m, x, d, k: m.cumsum(x, d), "int"),
    Red("cumprod", lambda m, x, d, k: m.cumprod(x, d), "int"),
    Red("softmax", lambda m, x, d, k: m.softmax(x, d), "int"),
    Red("log_softmax", lambda m, x, d, k: m.log_softmax(x, d), "int"),
]


def _ids(cases):
    return [c.name for c in cases]


@st.composite
def dims_for(draw, shape, kind):
    """A ``dim`` argument of the kind the op takes, valid (possibly negative) for ``shape``."""
    n = max(len(shape), 1)
    options = [] if kind == "int" else [None]
    if kind == "many" and len(shape) > 0:
        options.append("tuple")
    options.append("int")
    pick = draw(st.sampled_from(options))
    if pick is None:
        return None
    if pick == "int":
        return draw(st.integers(-n, n - 1))
    axes = draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=len(shape),
                         unique=True))
    return tuple(a - len(shape) if draw(st.booleans()) else a for a in axes)


def _run(red, x, dim, keepdim):
    grad = red.grad and x.dtype.kind == "f"
    check_like_torch(lambda t: red.fn(zg, t, dim, keepdim),
                     lambda t: red.fn(torch, t, dim, keepdim), x, grad=grad)


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch's note on var with dof <= 0
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's note on inf * 0 there
@pytest.mark.parametrize("red", REDUCTIONS, ids=_ids(REDUCTIONS))
@given(data=st.data(), shape=SHAPES, dtype=FLOATS, seed=SEEDS, keepdim=st.booleans())
def test_reduction_matches_torch(red, data, shape, dtype, seed, keepdim):
    dim = data.draw(dims_for(shape, red.dims))
    _run(red, values(red.domain, shape, dtype, seed), dim, keepdim)


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch's note on var with dof <= 0
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("red", REDUCTIONS, ids=_ids(REDUCTIONS))
def test_table_on_each_device(red, device):
    x = values(red.domain, (3, 2, 3), np.float32, 2)
    for dim, keepdim in GRAD_ARGS[red.dims]:  # dims of each kind (defined below)
        check_like_torch(lambda t: red.fn(zg, t, dim, keepdim),
                         lambda t: red.fn(torch, t, dim, keepdim), x,
                         grad=red.grad and x.dtype.kind == "f", device=device)
    scalar = values(red.domain, (), np.float64, 3)  # 0-d input: reductions of one element
    dim = 0 if red.dims == "int" else None
    check_like_torch(lambda t: red.fn(zg, t, dim, False), lambda t: red.fn(torch, t, dim, False),
                     scalar, grad=red.grad and scalar.dtype.kind == "f", device=device)


@pytest.mark.parametrize("fn", [
    lambda m, x: m.var_mean(x, 1), lambda m, x: m.std_mean(x, (0, 2), keepdim=True),
    lambda m, x: tuple(m.aminmax(x, dim=1)), lambda m, x: tuple(m.aminmax(x)),
    lambda m, x: x.sum_to_size(1, 2, 1), lambda m, x: m.count_nonzero(x > 0, 1),
])
def test_more_reductions_on_each_device(fn, device):
    check(lambda t: fn(zg, t), lambda t: fn(torch, t), values("any", (3, 2, 3), np.float64, 4),
          device=device)


@pytest.mark.parametrize("red", REDUCTIONS, ids=_ids(REDUCTIONS))
@pytest.mark.parametrize("dim,keepdim", [(0, False), (1, True), (None, False)])
def test_reduction_of_non_contiguous_input(red, dim, keepdim, device):
    if dim is None and red.dims == "int":
        dim = -1
    x = values(red.domain, (3, 4), np.float32, 1)

    def transposed(lib):
        return lambda t: red.fn(lib, t.t(), dim, keepdim)
    check(transposed(zg), transposed(torch), x, grad=red.grad and x.dtype.kind == "f",
          device=device)


# -- kinks, ties and special values: torch's conventions -------------------------------------
KINKS = [
    ("max_ties_share_evenly", lambda m, x: m.max(x), [[1.0, 3.0, 3.0, 0.0, 3.0]]),
    ("min_ties_share_evenly", lambda m, x: m.min(x), [[1.0, 0.0, 3.0, 0.0]]),
    ("amax_ties_per_row", lambda m, x: m.amax(x, 1), [[[1.0, 2.0, 2.0], [5.0, 5.0, 5.0]]]),
    ("amin_ties_tuple_dim", lambda m, x: m.amin(x, (0, 1)), [[[1.0, 1.0], [4.0, 1.0]]]),
    ("max_dim_ties_pick_first", lambda m, x: m.max(x, 1), [[[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]]),
    ("min_dim_ties_pick_first", lambda m, x: m.min(x, 0, keepdim=True),
     [[[1.0, 3.0], [1.0, 0.0]]]),
    ("max_with_nan", lambda m, x: m.max(x, 0), [[[1.0, np.nan], [2.0, 0.0]]]),
    ("norm2_at_zero", lambda m, x: m.norm(x), [[0.0, 0.0, 0.0]]),
    ("norm2_dim_with_zero_row", lambda m, x: m.norm(x, dim=1), [[[0.0, 0.0], [3.0, 4.0]]]),
    ("norm1_with_zeros", lambda m, x: m.norm(x, p=1), [[0.0, -2.0, 3.0]]),
    ("norm_inf_ties_and_zero", lambda m, x: m.norm(x, p=math.inf, dim=1),
     [[[-3.0, 3.0, 1.0], [0.0, 0.0, 0.0]]]),
    ("norm3_at_zero", lambda m, x: m.norm(x, p=3), [[0.0, 0.0]]),
    ("norm3_with_zeros", lambda m, x: m.norm(x, p=3), [[0.0, 1.0, -2.0]]),
    ("norm1.5_at_zero", lambda m, x: m.norm(x, p=1.5, dim=0), [[[0.0, 1.0], [0.0, -2.0]]]),
    ("norm0.5_with_zeros", lambda m, x: m.norm(x, p=0.5), [[0.0, 1.0, 4.0]]),
    ("std_zero_variance", lambda m, x: m.std(x, 1), [[[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]]]),
    ("std_full_zero_variance", lambda m, x: m.std(x), [[5.0, 5.0]]),
    ("var_single_sample", lambda m, x: m.var(x), [[3.0]]),
    ("var_correction_too_big", lambda m, x: m.var(x, correction=3), [[1.0, 2.0]]),
    ("var_dim_dof_zero", lambda m, x: m.var(x, 1), [[[1.0], [2.0]]]),
    ("var_dim_dof_negative", lambda m, x: m.var(x, 1, correction=3), [[[1.0, 2.0], [2.0, 2.0]]]),
    ("prod_one_zero", lambda m, x: m.prod(x), [[2.0, 0.0, 3.0]]),
    ("prod_two_zeros", lambda m, x: m.prod(x), [[0.0, 4.0, 0.0]]),
    ("prod_dim_mixed_zeros", lambda m, x: m.prod(x, 1),
     [[[0.0, 2.0, 3.0], [0.0, 0.0, 1.0], [1.0, 2.0, 3.0]]]),
    ("cumprod_zeros", lambda m, x: m.cumprod(x, 1),
     [[[2.0, 0.0, 3.0, 4.0], [0.0, 0.0, 2.0, 1.0], [1.0, 2.0, 3.0, 0.0], [0.0, 5.0, 0.0, 2.0]]]),
    ("logsumexp_infinities", lambda m, x: m.logsumexp(x, 1),
     [[[-np.inf, -np.inf], [np.inf, 1.0], [-np.inf, 2.0]]]),
    ("logsumexp_large", lambda m, x: m.logsumexp(x, 0), [[1000.0, 1000.0, -1000.0]]),
    ("softmax_large_logits", lambda m, x: m.softmax(x, 0), [[1e4, 0.0, -1e4]]),
    ("softmax_neg_inf", lambda m, x: m.softmax(x, 1), [[[-np.inf, 0.0], [1.0, -np.inf]]]),
    ("log_softmax_large_logits", lambda m, x: m.log_softmax(x, 0), [[1e4, 0.0, -1e4]]),
    ("mean_of_empty", lambda m, x: m.mean(x), [np.zeros(0)]),
    ("sum_of_empty_dim", lambda m, x: m.sum(x, 0), [np.zeros((0, 3))]),
    ("softmax_empty", lambda m, x: m.softmax(x, 1), [np.zeros((2, 0))]),
]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,fn,data", KINKS, ids=[k[0] for k in KINKS])
def test_kinks_ties_and_special_values_follow_torch(name, fn, data, dtype, device):
    arrays = [np.array(d, dtype=dtype) for d in data]
    check(lambda *t: fn(zg, *t), lambda *t: fn(torch, *t), *arrays, device=device)


# -- dtypes of reductions ----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int8, np.int32, np.int64])
@pytest.mark.parametrize("fn", [
    lambda m, x: m.sum(x), lambda m, x: m.sum(x, 0, keepdim=True), lambda m, x: m.prod(x, 1),
    lambda m, x: m.cumsum(x, 1), lambda m, x: m.cumprod(x, 0), lambda m, x: m.amax(x, 1),
    lambda m, x: m.max(x), lambda m, x: m.min(x, 0), lambda m, x: m.argmax(x),
    lambda m, x: m.all(x), lambda m, x: m.any(x, 1), lambda m, x: m.logsumexp(x, 1),
    lambda m, x: m.mean(x, dtype=m.float64), lambda m, x: m.sum(x, dtype=m.float32),
    lambda m, x: m.count_nonzero(x, 0),
])
def test_integer_and_bool_reductions_match_torch_dtypes(fn, dtype, device):
    x = (np.array([[3, 0, 2], [1, 5, 1]]) % (2 if dtype == np.bool_ else 6)).astype(dtype)
    check_like_torch(lambda t: fn(zg, t), lambda t: fn(torch, t), x, grad=False, device=device)


def test_float_dtype_argument_and_float16(device):
    x = np.array([[1.5, 2.5], [3.0, -1.0]], dtype=np.float32)
    for name, args in (("sum", ()), ("mean", (0,)), ("cumsum", (1,)), ("norm", ())):
        check(lambda t: getattr(t, name)(*args, dtype=zg.float64),
              lambda t: getattr(t, name)(*args, dtype=torch.float64), x, device=device)
    h = x.astype(np.float16)
    check(lambda t: t.sum(0), lambda t: t.sum(0), h, grad=False, rtol=1e-3, atol=1e-3,
          device=device)


# -- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda m: m.zeros(0).max(), lambda m: m.zeros(0).amax(), lambda m: m.zeros(2, 0).amin(1),
    lambda m: m.zeros(0).argmax(), lambda m: m.zeros(2, 0).argmin(1),
    lambda m: m.zeros(2, 0).max(1), lambda m: m.zeros(0).norm(p=math.inf),
    lambda m: m.tensor([1, 2]).mean(), lambda m: m.tensor([1, 2]).var(),
    lambda m: m.tensor([1, 2]).std(), lambda m: m.tensor([3, 4]).norm(),
    lambda m: m.ones(2, 3).sum(2), lambda m: m.ones(2, 3).amax((0, 0)),
    lambda m: m.ones(2, 3).max(-3), lambda m: m.ones(2, 3).softmax(2),
])
def test_invalid_reductions_raise_like_torch(fn):
    try:
        fn(torch)
    except (RuntimeError, IndexError) as err:
        with pytest.raises(type(err)) as z_err:
            fn(zg)
        if "Expected" in str(err) or "std and var" in str(err) or "mean()" in str(err):
            assert str(z_err.value)[:50] == str(err)[:50]  # torch's wording, then a hint
    else:
        pytest.fail("torch accepted the input")


@pytest.mark.parametrize("expr", [
    "x.sum()", "x.sum(0)", "x.mean()", "x.mean(1)", "x.var()", "x.var(0)", "x.std(1)",
    "x.prod()", "x.prod(1)", "x.amax(0)", "x.amin(1)", "x.max()", "x.min()",
    "x.max(1).values", "x.min(0).values", "x.norm()", "x.norm(p=1, dim=0)", "x.cumsum(0)",
    "x.cumprod(1)", "x.logsumexp(1)", "x.softmax(1)", "x.log_softmax(0)",
])
def test_grad_fn_names_match_torch(expr):
    names = []
    for m in (zg, torch):
        x = m.ones(2, 3, requires_grad=True)
        names.append(eval(expr).grad_fn.name())
    assert names[0] == names[1]


def test_max_with_dim_returns_named_tuple(device):
    x = zg.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]], requires_grad=True, device=device)
    out = x.max(dim=1)
    values_, indices = out
    assert out.values is values_ and out.indices is indices
    assert indices.dtype is zg.int64 and indices.tolist() == [1, 0]
    assert values_.device == indices.device == x.device
    assert zg.max(x, 1, True).values.shape == (2, 1)
    mn = zg.min(x, dim=0)
    assert mn.indices.tolist() == [0, 1, 0]
    assert zg.aminmax(x).min.item() == 0.0 and zg.aminmax(x).max.item() == 7.0


# -- gradients of the reductions and of their gradients (float64) -------------------------------
GRAD_CASES = [r for r in REDUCTIONS if r.grad]
GRAD_ARGS = {"int": [(2, False), (0, False)], "one": [(None, False), (2, True)],
             "many": [(None, False), ((0, 2), True), (-1, False)]}


def _gc_input(red, seed=0):
    # every reduced group has >= 3 elements, so var with correction=2 stays finite
    return zg.tensor(values(red.domain, (3, 2, 3), np.float64, seed), requires_grad=True)


@pytest.mark.parametrize("red", GRAD_CASES, ids=_ids(GRAD_CASES))
def test_gradcheck(red):
    x = _gc_input(red)
    for dim, keepdim in GRAD_ARGS[red.dims]:
        assert zg.autograd.gradcheck(lambda t: red.fn(zg, t, dim, keepdim), [x])


SMOOTH = [r for r in GRAD_CASES if r.smooth]


@pytest.mark.parametrize("red", SMOOTH, ids=_ids(SMOOTH))
def test_gradgradcheck(red):
    zg.manual_seed(0)
    x = _gc_input(red)
    dim, keepdim = GRAD_ARGS[red.dims][-1]
    assert zg.autograd.gradgradcheck(lambda t: red.fn(zg, t, dim, keepdim), [x])


@pytest.mark.parametrize("red", GRAD_CASES, ids=_ids(GRAD_CASES))
def test_forward_mode_jvp_matches_torch(red, device):
    x = values(red.domain, (3, 2, 3), np.float64, 0)
    for dim, keepdim in GRAD_ARGS[red.dims]:
        check_jvp(lambda t: red.fn(zg, t, dim, keepdim), lambda t: red.fn(torch, t, dim, keepdim),
                  x, device=device)


ZEROS = np.array([[2.0, 0.0, 3.0, 1.5], [0.0, 0.0, 2.0, 1.0], [1.0, -2.0, 3.0, 0.0]])


@pytest.mark.parametrize("fn", [
    lambda m, t: t.prod(1), lambda m, t: t.prod(), lambda m, t: t.cumprod(1),
    lambda m, t: t.cumprod(0), lambda m, t: m.norm(t, dim=0), lambda m, t: t.amax(1),
    lambda m, t: t.max(1).values, lambda m, t: t.std(0),
])
def test_forward_mode_through_zeros_and_ties_matches_torch(fn, device):
    check_jvp(lambda t: fn(zg, t), lambda t: fn(torch, t), ZEROS, device=device)


@pytest.mark.parametrize("fn", [
    lambda t: t.prod(1), lambda t: t.prod(), lambda t: t.cumprod(1), lambda t: t.cumprod(0),
])
def test_gradcheck_through_zeros(fn):
    # products with zeros: the analytic gradient must not divide by zero
    x = zg.tensor(ZEROS, requires_grad=True)
    assert zg.autograd.gradcheck(fn, [x])
    zg.manual_seed(0)
    assert zg.autograd.gradgradcheck(fn, [x])


def test_max_and_min_gradcheck_with_dim():
    x = zg.tensor(values("any", (3, 4), np.float64, 3), requires_grad=True)
    for fn in (lambda t: t.max(1).values, lambda t: t.min(0, keepdim=True).values,
               lambda t: t.max(), lambda t: t.amin((0, 1))):
        assert zg.autograd.gradcheck(fn, [x])


def test_hessian_by_forward_over_forward_and_forward_over_reverse_matches_torch():
    # every rule is written with differentiable ops, so JVPs nest and compose with backward
    x = np.array([0.3, -0.7, 1.1])

    def f(m, t):
        return ((t.exp() * t.sin() + t.sigmoid() * t.tanh() ** 2 + m.softmax(t, 0) * t.cumprod(0))
                .sum() + t.norm() + t.logsumexp(0) + t.var() + t.prod() + t.amax() / t.std())
    expected = torch.func.hessian(lambda t: f(torch, t))(torch.tensor(x))
    for outer, inner in ((zg.func.jacfwd, zg.func.jacfwd), (zg.func.jacfwd, zg.func.jacrev)):
        got = outer(inner(lambda t: f(zg, t)))(zg.tensor(x))
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("p, dim", [("fro", (0, 1, 2)), ("nuc", (0, 1, 2)), ("fro", (1,)),
                                    ("fro", (0, 2)), ("nuc", (0, 2))])
def test_matrix_norm_dims_like_torch(p, dim):
    # 'fro' and 'nuc' over an explicit dim list are matrix norms: more than two dims is
    # torch's "dim must be a 2-tuple" error (found by hypothesis' dev profile)
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    check_like_torch(lambda t: t.norm(p=p, dim=dim), lambda t: t.norm(p=p, dim=dim), x)
    if len(dim) == 3:
        with pytest.raises(RuntimeError, match="dim must be a 2-tuple"):
            zg.tensor(x).norm(p=p, dim=dim)
