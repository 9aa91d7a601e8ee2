"""Linear algebra against torch: matmul in all its shapes, mm/mv/dot/outer/bmm, einsum,
zerograd.linalg (inv, solve, det, slogdet, pinv, norms), tril/triu/diag/trace; values,
gradients, float64 gradchecks/gradgradchecks, and error messages. The fixed-shape oracle
tests and the forward-mode checks run on each device (the ``device`` fixture)."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import zerograd as zg
from zerograd.autograd import gradcheck, gradgradcheck
from tests.oracle import both, both_jvp, check
from tests.ops._tensor_helpers import arr, t64


def well_conditioned(shape, seed=0, dtype=np.float64):
    """Random square matrices with a strong diagonal (safely invertible)."""
    a = arr(shape, seed, dtype)
    n = shape[-1]
    return (a + n * np.eye(n, dtype=dtype)).astype(dtype)


# -- matmul ---------------------------------------------------------------------------------
@st.composite
def matmul_shapes(draw):
    """Operand shapes for every matmul case: 1-D, 2-D, batched with broadcasting, mixed."""
    m, k, n = (draw(st.integers(0, 3)) for _ in range(3))
    batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3))
    ba, bb = batch.input_shapes
    a_kind, b_kind = draw(st.sampled_from(["vec", "mat", "batch"])), \
        draw(st.sampled_from(["vec", "mat", "batch"]))
    a = {"vec": (k,), "mat": (m, k), "batch": ba + (m, k)}[a_kind]
    b = {"vec": (k,), "mat": (k, n), "batch": bb + (k, n)}[b_kind]
    return a, b


@given(matmul_shapes())
def test_matmul_all_shapes(shapes):
    sa, sb = shapes
    a, b = arr(sa), arr(sb, seed=1)
    both(lambda m, x, y: m.matmul(x, y), a, b)
    both(lambda m, x, y: x @ y, a, b)


@pytest.mark.parametrize("sa,sb", [((3,), (3,)), ((3,), (2, 3, 4)), ((2, 2, 3), (3,)),
                                   ((2, 1, 2, 3), (3, 3, 2)), ((0, 3), (3, 2))])
def test_matmul_cases_on_each_device(sa, sb, device):
    both(lambda m, x, y: x @ y, arr(sa), arr(sb, seed=1), device=device)


def test_matmul_noncontiguous_and_float64(device):
    a, b = arr((4, 3), dtype=np.float64), arr((2, 4), seed=1, dtype=np.float64)
    both(lambda m, x, y: x.mT @ y.mT, a, b, device=device)
    both(lambda m, x, y: x[::2].mT @ y.t()[::2, :], a, b, device=device)


def test_matmul_integer():
    both(lambda m, a: m.tensor([[1, 2], [3, 4]]) @ m.tensor([5, 6]), arr((1,)), grad=False)


def test_mm_mv_dot_outer_bmm_inner_addmm(device):
    a, b, v, w = arr((2, 3)), arr((3, 4), seed=1), arr((3,), seed=2), arr((2,), seed=3)
    p, q = arr((5, 2, 3), seed=4), arr((5, 3, 4), seed=5)
    for fn, arrays in [
        (lambda m, x, y: m.mm(x, y), (a, b)), (lambda m, x, y: x.mm(y), (a, b)),
        (lambda m, x, y: m.mv(x, y), (a, v)), (lambda m, x, y: x.dot(y), (v, v * 2)),
        (lambda m, x, y: m.vdot(x, y), (v, v * 2)),
        (lambda m, x, y: m.outer(x, y), (v, w)), (lambda m, x, y: x.ger(y), (v, w)),
        (lambda m, x, y: m.bmm(x, y), (p, q)), (lambda m, x, y: x.bmm(y), (p, q)),
        (lambda m, x, y: m.inner(x, y), (arr((2, 3)), arr((4, 5, 3), seed=6))),
        (lambda m, x, y: m.inner(x, y), (v, arr((4, 3), seed=6))),
        (lambda m, c, x, y: m.addmm(c, x, y, beta=0.5, alpha=2), (arr((2, 4), seed=7), a, b)),
        (lambda m, c, x, y: m.baddbmm(c, x, y), (arr((1, 4), seed=7), p, q)),
    ]:
        both(fn, *arrays, device=device)


def test_transposes(device):
    both(lambda m, x: x.t() @ x, arr((3, 2)), device=device)
    both(lambda m, x: x.T @ x, arr((3, 2)), device=device)
    both(lambda m, x: x.mT @ x, arr((4, 3, 2)), device=device)


@pytest.mark.parametrize("fn,match", [
    (lambda m: m.ones(2, 3) @ m.ones(4, 2), r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x2\)"),
    (lambda m: m.ones(2, 3, 4) @ m.ones(5, 4, 2), r"\[2, 3, 4\].*\[5, 4, 2\]"),
    (lambda m: m.ones(3) @ m.ones(4), "inconsistent tensor size"),
    (lambda m: m.ones(2, 3) @ m.ones(2), r"\(2x3 and 2\)"),
    (lambda m: m.ones(3) @ m.ones(3, 1, dtype=m.float64), "same dtype"),
    (lambda m: m.matmul(m.ones(()), m.ones(3)), "at least 1D"),
    (lambda m: m.mm(m.ones(3), m.ones(3, 5)), "self must be a matrix"),
    (lambda m: m.mm(m.ones(2, 3), m.ones(2, 5)), r"cannot be multiplied \(2x3 and 2x5\)"),
    (lambda m: m.bmm(m.ones(2, 3, 4), m.ones(3, 4, 5)), "Expected size for first two dimensions of batch2"),
    (lambda m: m.mv(m.ones(2, 3), m.ones(2)), "size mismatch"),
    (lambda m: m.dot(m.ones(3), m.ones(3, dtype=m.int64)), "same dtype"),
    (lambda m: m.dot(m.ones(3), m.ones(4)), "inconsistent tensor size"),
    (lambda m: m.outer(m.ones(2, 3), m.ones(2)), "Expected 1-D argument"),
])
def test_product_errors(fn, match):
    with pytest.raises(RuntimeError):
        fn(torch)
    with pytest.raises(RuntimeError, match=match):
        fn(zg)


# -- einsum ---------------------------------------------------------------------------------
EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),  # implicit output
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 1)]),
    ("...ij,...jk->...ik", [(5, 1, 2, 3), (4, 3, 2)]),  # ellipsis with broadcasting
    ("...ij,...jk", [(2, 2, 3), (2, 3, 4)]),  # implicit output keeps the ellipsis first
    ("i,i->", [(4,), (4,)]),
    ("i,j->ij", [(2,), (3,)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ii->", [(3, 3)]),  # trace
    ("ii->i", [(3, 3)]),  # diagonal
    ("...ii->...i", [(2, 3, 3)]),
    ("iij->j", [(2, 2, 3)]),
    ("bA", [(2, 3)]),  # implicit output sorts ASCII: 'A' before 'b'
    ("i...j->j...i", [(4, 2, 3)]),
    ("ij,ij->i", [(3, 4), (1, 4)]),  # broadcast a size-1 labeled dim
    ("abc,cd,de->abe", [(2, 3, 4), (4, 2), (2, 3)]),
    ("i,jk->", [(2,), (3, 4)]),  # letters summed within one operand
    (" i j , j k -> i k ", [(2, 3), (3, 2)]),  # spaces are ignored
]


@pytest.mark.parametrize("eq,shapes", EINSUM, ids=[e[0] for e in EINSUM])
def test_einsum(eq, shapes, device):
    arrays = [arr(s, seed=i) for i, s in enumerate(shapes)]
    both(lambda m, *ops: m.einsum(eq, *ops), *arrays, device=device)
    if len(arrays) > 1:
        both(lambda m, *ops: m.einsum(eq, list(ops)), *arrays, device=device)


@pytest.mark.parametrize("eq,shapes", [e for e in EINSUM if len(e[1]) < 3 and "A" not in e[0]],
                         ids=[e[0] for e in EINSUM if len(e[1]) < 3 and "A" not in e[0]])
def test_einsum_gradcheck(eq, shapes):
    ops = [t64(arr(s, seed=i)) for i, s in enumerate(shapes)]
    assert gradcheck(lambda *a: zg.einsum(eq, *a), ops)
    assert gradgradcheck(lambda *a: zg.einsum(eq, *a), ops)


def test_einsum_sublist_form(device):
    a, b = arr((2, 3)), arr((3, 4), seed=1)
    both(lambda m, x, y: m.einsum(x, [0, 1], y, [1, 2], [0, 2]), a, b, device=device)
    both(lambda m, x: m.einsum(x, [Ellipsis, 1]), a, device=device)


@pytest.mark.parametrize("fn,match", [
    (lambda m: m.einsum("ij->ii", m.ones(2, 3)), "appears more than once in the output"),
    (lambda m: m.einsum("ij,jk->ik", m.ones(2, 3)), "fewer operands"),
    (lambda m: m.einsum("ij", m.ones(2, 3), m.ones(2)), "more operands"),
    (lambda m: m.einsum("ijk->ij", m.ones(2, 3)), r"number of subscripts in the equation \(3\)"),
    (lambda m: m.einsum("i->j", m.ones(2)), "does not appear in the equation for any input"),
    (lambda m: m.einsum("ii->i", m.ones(2, 3)), "repeated for operand 0 but the sizes don't match"),
    (lambda m: m.einsum("ij,jk->ik", m.ones(1, 3), m.ones(2, 4)), "does not broadcast"),
    (lambda m: m.einsum("i,i", m.ones(3), m.ones(3, dtype=m.int64)), "dtype"),
])
def test_einsum_errors(fn, match):
    with pytest.raises(RuntimeError):
        fn(torch)
    with pytest.raises(RuntimeError, match=match):
        fn(zg)


# -- zerograd.linalg --------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (1, 1)])
def test_inv_det_slogdet(shape, device):
    a = well_conditioned(shape, seed=1)
    for fn in (lambda m, x: m.linalg.inv(x), lambda m, x: m.inverse(x), lambda m, x: x.inverse(),
               lambda m, x: m.linalg.det(x), lambda m, x: m.det(x) * x.det()):
        both(fn, a, device=device)
    both(lambda m, x: tuple(m.linalg.slogdet(x)), a - 2 * np.eye(shape[-1]), device=device)
    sign, logabs = zg.linalg.slogdet(zg.tensor(a, device=device))
    assert sign.shape == logabs.shape == a.shape[:-2]
    assert sign.device == logabs.device == zg.device(device)


def test_det_of_singular_matrix_has_cofactor_gradient(device):
    a = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])
    both(lambda m, x: m.linalg.det(x), a, device=device)
    x = zg.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=zg.float64, requires_grad=True, device=device)
    zg.linalg.det(x).backward()
    assert x.grad.device == x.device
    np.testing.assert_allclose(x.grad.cpu().numpy(), [[4.0, -2.0], [-2.0, 1.0]])  # the cofactor


@pytest.mark.parametrize("a_shape,b_shape,left", [
    ((3, 3), (3, 2), True), ((3, 3), (3,), True), ((2, 3, 3), (2, 3), True),
    ((2, 3, 3), (3, 4), True), ((2, 3, 3), (3,), True), ((1, 3, 3), (4, 3, 2), True),
    ((3, 3), (2, 3), False), ((2, 3, 3), (2, 4, 3), False),
])
def test_solve(a_shape, b_shape, left, device):
    a, b = well_conditioned(a_shape, seed=2), arr(b_shape, seed=3, dtype=np.float64)
    both(lambda m, x, y: m.linalg.solve(x, y, left=left), a, b, device=device)


@pytest.mark.parametrize("shape", [(3, 2), (2, 4), (2, 3, 3), (3, 3)])
def test_pinv(shape, device):
    a = arr(shape, seed=4, dtype=np.float64)
    both(lambda m, x: m.linalg.pinv(x), a, rtol=1e-6, atol=1e-8, device=device)
    both(lambda m, x: m.pinverse(x), a, rtol=1e-6, atol=1e-8, device=device)
    both(lambda m, x: x.pinverse(), a, rtol=1e-6, atol=1e-8, device=device)


def test_pinv_of_rank_deficient_matrix_and_cutoffs(device):
    a = np.outer([1.0, 2.0, 3.0], [1.0, -1.0])  # rank 1
    both(lambda m, x: m.linalg.pinv(x), a, rtol=1e-6, atol=1e-8, device=device)
    b = np.diag([1.0, 1e-3, 1e-9])
    both(lambda m, x: m.linalg.pinv(x, atol=1e-2), b, grad=False, device=device)
    both(lambda m, x: m.linalg.pinv(x, rtol=1e-5), b, grad=False, device=device)


NORMS = [
    ({}, (2, 3)), ({}, (2, 3, 4)), ({"ord": 2}, (3, 2)), ({"ord": -2}, (3, 2)),
    ({"ord": "fro"}, (3, 2)), ({"ord": "nuc"}, (3, 2)), ({"ord": 1}, (2, 3)),
    ({"ord": -1}, (2, 3)), ({"ord": math.inf}, (2, 3)), ({"ord": -math.inf}, (2, 3)),
    ({"ord": 3}, (4,)), ({"ord": 0.5, "dim": 1}, (2, 3)), ({"dim": (0, 2), "ord": "nuc"}, (2, 3, 4)),
    ({"dim": (2, 0), "ord": 2, "keepdim": True}, (2, 3, 4)), ({"dim": 1, "keepdim": True}, (2, 3)),
    ({"ord": 1, "dim": (0, 1)}, (2, 3)),
]


@pytest.mark.parametrize("kw,shape", NORMS, ids=[f"{k}-{s}" for k, s in NORMS])
def test_linalg_norm(kw, shape, device):
    a = arr(shape, seed=5, dtype=np.float64)
    both(lambda m, x: m.linalg.norm(x, **kw), a, device=device)
    if "dim" in kw and not isinstance(kw["dim"], int) or len(shape) >= 2 and "dim" not in kw \
            and kw.get("ord") is not None:
        both(lambda m, x: m.linalg.matrix_norm(x, **{"dim": (-2, -1), **kw}), a, device=device)


def test_vector_and_matrix_norm_functions(device):
    a = arr((3, 4), seed=6, dtype=np.float64)
    for fn in (lambda m, x: m.linalg.vector_norm(x),
               lambda m, x: m.linalg.vector_norm(x, ord=math.inf, dim=0),
               lambda m, x: m.norm(x, p="nuc"), lambda m, x: m.linalg.matrix_norm(x),
               lambda m, x: m.linalg.svdvals(x), lambda m, x: m.linalg.multi_dot([x[0], x.mT, x]),
               lambda m, x: m.linalg.matrix_power(x[:, :3], 3),
               lambda m, x: m.linalg.matrix_power(
                   x[:, :3] + 3 * m.eye(3, dtype=x.dtype, device=x.device), -2)):
        both(fn, a, device=device)
    both(lambda m, x: m.linalg.matrix_power(x[:, :3], 0), a, grad=False, device=device)


@pytest.mark.parametrize("fn,match", [
    (lambda m: m.linalg.inv(m.ones(2, 2)), "singular"),
    (lambda m: m.linalg.inv(m.ones(2, 3)), "square"),
    (lambda m: m.linalg.inv(m.ones(2, 2, dtype=m.int64)), "floating point"),
    (lambda m: m.linalg.solve(m.zeros(2, 2), m.ones(2)), "singular"),
    (lambda m: m.linalg.solve(m.eye(3), m.ones(4, 3)), "Incompatible shapes"),
    (lambda m: m.linalg.solve(m.eye(3), m.ones(3, dtype=m.float64)), "same dtype"),
    (lambda m: m.linalg.det(m.ones(2, 3)), "square"),
    (lambda m: m.linalg.det(m.ones(2, 2, dtype=m.int64)), "floating point"),
    (lambda m: m.linalg.norm(m.ones(2, 3, 4), ord=2), "must be 1D or 2D"),
    (lambda m: m.linalg.norm(m.ones(2, 3), ord=3), "Order 3 not supported"),
    (lambda m: m.linalg.matrix_norm(m.ones(3)), "at least 2 dimensions"),
    (lambda m: m.linalg.pinv(m.ones(3)), "at least 2 dimensions"),
])
def test_linalg_errors(fn, match):
    with pytest.raises(RuntimeError):
        fn(torch)
    with pytest.raises(RuntimeError, match=match):
        fn(zg)


# -- triangular and diagonal parts --------------------------------------------------------------
@pytest.mark.parametrize("k", [-1, 0, 2])
def test_triangles_and_diagonals_on_each_device(k, device):
    for fn, shape in [(lambda m, x: m.tril(x, k), (2, 3, 4)), (lambda m, x: m.triu(x, k), (3, 3)),
                      (lambda m, x: m.diag(x, k), (3,)), (lambda m, x: m.diag(x, k), (3, 4)),
                      (lambda m, x: m.diagonal(x, k), (4, 3)), (lambda m, x: m.trace(x), (3, 3)),
                      (lambda m, x: m.diag_embed(x, k), (2, 3))]:
        both(fn, arr(shape), device=device)


@given(st.sampled_from([(3, 3), (2, 4), (4, 2), (2, 3, 3), (0, 3), (1, 1)]), st.integers(-3, 3))
def test_tril_triu(shape, k):
    both(lambda m, x: m.tril(x, k), arr(shape))
    both(lambda m, x: m.triu(x, diagonal=k), arr(shape))


@given(st.sampled_from([(3,), (0,), (1,), (3, 3), (2, 4), (4, 2), (0, 2)]), st.integers(-3, 4))
def test_diag_and_trace(shape, k):
    both(lambda m, x: m.diag(x, k), arr(shape))
    if len(shape) == 2:
        both(lambda m, x: m.trace(x), arr(shape))
        both(lambda m, x: m.diagonal(x, k), arr(shape))


def test_diagonal_dims_and_integer_trace(device):
    both(lambda m, x: m.diagonal(x, 1, 0, 2), arr((3, 2, 4)), device=device)
    both(lambda m, x: m.linalg.diagonal(x, offset=-1), arr((2, 3, 3)), device=device)
    both(lambda m, x: m.trace(x.reshape(3, 3).int()), np.arange(9), grad=False, device=device)
    both(lambda m, x: m.diag(x, -1), np.array([1, 2], dtype=np.int32), grad=False,
         device=device)


def test_tri_diag_errors():
    for lib in (torch, zg):
        with pytest.raises(RuntimeError, match="at least 2 dimensions"):
            lib.tril(lib.ones(3))
        with pytest.raises(RuntimeError, match="1D or 2D"):
            lib.diag(lib.ones(2, 2, 2))
        with pytest.raises(RuntimeError, match="expected a matrix"):
            lib.trace(lib.ones(3))


# -- gradchecks -------------------------------------------------------------------------------
def _sq(seed, shape=(3, 3)):
    return t64(well_conditioned(shape, seed))


GRADCHECK = [
    ("matmul 2d", lambda a, b: a @ b, [(2, 3), (3, 2)]),
    ("matmul batched broadcast", lambda a, b: a @ b, [(2, 1, 2, 3), (3, 3, 2)]),
    ("matmul vec-mat", lambda a, b: a @ b, [(3,), (2, 3, 2)]),
    ("matmul mat-vec", lambda a, b: a @ b, [(2, 2, 3), (3,)]),
    ("dot", lambda a, b: a.dot(b), [(3,), (3,)]),
    ("outer", lambda a, b: zg.outer(a, b), [(3,), (2,)]),
    ("bmm", lambda a, b: a.bmm(b), [(2, 2, 3), (2, 3, 2)]),
    ("tril", lambda a: zg.tril(a, -1), [(3, 3)]),
    ("triu", lambda a: zg.triu(a, 1), [(2, 3)]),
    ("diag 1d", lambda a: zg.diag(a, 1), [(3,)]),
    ("diag 2d", lambda a: zg.diag(a, -1), [(3, 3)]),
    ("trace", lambda a: zg.trace(a), [(3, 3)]),
    ("pinv wide", lambda a: zg.linalg.pinv(a), [(2, 3)]),
    ("pinv tall", lambda a: zg.linalg.pinv(a), [(3, 2)]),
]


@pytest.mark.parametrize("name,fn,shapes", GRADCHECK, ids=[g[0] for g in GRADCHECK])
def test_gradcheck(name, fn, shapes):
    ops = [t64(arr(s, seed=i + 10)) for i, s in enumerate(shapes)]
    assert gradcheck(fn, ops)


@pytest.mark.parametrize("name,fn,shapes", GRADCHECK[:4] + GRADCHECK[12:],
                         ids=[g[0] for g in GRADCHECK[:4] + GRADCHECK[12:]])
def test_gradgradcheck(name, fn, shapes):
    ops = [t64(arr(s, seed=i + 10)) for i, s in enumerate(shapes)]
    assert gradgradcheck(fn, ops)


@pytest.mark.parametrize("name,fn", [
    ("inv", lambda a: zg.linalg.inv(a)),
    ("det", lambda a: zg.linalg.det(a)),
    ("logabsdet", lambda a: zg.linalg.slogdet(a).logabsdet),
    ("solve matrix", lambda a: zg.linalg.solve(a, a[:, :2] * 2)),
    ("solve left=False", lambda a: zg.linalg.solve(a, a[:2], left=False)),
    ("pinv square", lambda a: zg.linalg.pinv(a)),
])
def test_matrix_function_grad_and_gradgrad(name, fn):
    a = _sq(3)
    assert gradcheck(fn, (a,))
    assert gradgradcheck(fn, (a,))


def test_solve_gradcheck_both_inputs_batched():
    a, b = t64(well_conditioned((2, 3, 3), 5)), t64(arr((3,), seed=6))
    assert gradcheck(lambda x, y: zg.linalg.solve(x, y), (a, b))
    assert gradgradcheck(lambda x, y: zg.linalg.solve(x, y), (a, b))


def test_singular_value_norms_gradcheck_and_no_double_backward():
    a = t64(arr((3, 2), seed=8))
    for ord_ in (2, -2, "nuc"):
        assert gradcheck(lambda x: zg.linalg.matrix_norm(x, ord_), (a,))
    with pytest.raises(RuntimeError, match="twice"):
        gradgradcheck(lambda x: zg.linalg.matrix_norm(x, "nuc"), (a,))


@pytest.mark.parametrize("name,fn,shapes", [
    ("matmul", lambda m, a, b: a @ b, [(2, 3, 3), (3,)]),
    ("einsum", lambda m, a, b: m.einsum("bij,jk->bk", a, b), [(2, 3, 3), (3, 2)]),
    ("trace einsum", lambda m, a: m.einsum("...ii", a), [(2, 3, 3)]),
    ("inv", lambda m, a: m.linalg.inv(a), [(2, 3, 3)]),
    ("det", lambda m, a: m.linalg.det(a), [(2, 3, 3)]),
    ("slogdet", lambda m, a: m.linalg.slogdet(a).logabsdet, [(2, 3, 3)]),
    ("solve", lambda m, a, b: m.linalg.solve(a, b), [(2, 3, 3), (3, 2)]),
    ("pinv", lambda m, a: m.linalg.pinv(a), [(3, 2)]),
    ("svdvals", lambda m, a: m.linalg.svdvals(a), [(3, 2)]),
    ("tril/diag", lambda m, a: m.diag(m.diag(m.tril(a[0]), 1)), [(2, 3, 3)]),
])
def test_forward_mode_jvp(name, fn, shapes, device):
    arrays = [well_conditioned(s, seed=i) if len(s) == 3 and s[-1] == s[-2] else
              arr(s, seed=i, dtype=np.float64) for i, s in enumerate(shapes)]
    both_jvp(fn, *arrays, device=device)


def test_tensor_methods_for_triangles_and_diagonals(device):
    x = arr((3, 4))
    both(lambda m, a: a.tril() + a.triu(1) * 2 + a.diag(1).sum() + a.trace(), x, device=device)
    both(lambda m, a: m.cat([a.diagonal(-1), a.t().diagonal()]) * 2, x[:, :3].copy(),
         device=device)
    both(lambda m, a: a[:2].diag(), x[0].copy(), device=device)

    def inplace(m, a):
        b = a * 1
        b.tril_(-1)
        c = a * 1
        c.triu_(2)
        return b + c
    both(inplace, x, device=device)


# -- linalg.eigh: values, vectors, gradients of both, second order and forward mode ---------------
def _symmetric(shape, seed):
    a = np.random.default_rng(seed).standard_normal(shape)
    return a + np.swapaxes(a, -1, -2)


def _eigh_loss(lib, a, uplo="L"):
    """Sign-invariant use of both outputs (an eigenvector's sign is arbitrary)."""
    w, v = lib.linalg.eigh(a, UPLO=uplo)
    n = a.shape[-1]
    weights = lib.tensor(np.arange(n * n, dtype=np.float64).reshape(n, n) / n, dtype=a.dtype,
                         device=a.device)
    return w * lib.arange(1, n + 1, dtype=a.dtype, device=a.device), (v ** 2) * weights


@pytest.mark.parametrize("shape,dtype,uplo", [((4, 4), np.float64, "L"),
                                              ((2, 3, 5, 5), np.float64, "U"),
                                              ((3, 3), np.float32, "L"), ((1, 1), np.float64, "L")])
def test_eigh_values_vectors_and_gradients_match_torch(shape, dtype, uplo, device):
    a = _symmetric(shape, 0).astype(dtype)
    check(lambda x: _eigh_loss(zg, x, uplo), lambda x: _eigh_loss(torch, x, uplo), a,
          rtol=1e-4 if dtype == np.float32 else None, atol=1e-4 if dtype == np.float32 else None,
          device=device)
    check(lambda x: zg.linalg.eigvalsh(x, UPLO=uplo), lambda x: torch.linalg.eigvalsh(x, UPLO=uplo),
          a, rtol=1e-4 if dtype == np.float32 else None, atol=1e-4 if dtype == np.float32 else None,
          device=device)
    w, v = zg.linalg.eigh(zg.tensor(a, device=device))
    assert w.device == v.device == zg.device(device)
    np.testing.assert_allclose(((v * w.unsqueeze(-2)) @ v.mT).cpu().numpy(), a, atol=1e-4)
    assert type(zg.linalg.eigh(zg.tensor(a))).__name__ == "linalg_eigh"


def test_eigh_gradcheck_gradgradcheck_and_forward_mode():
    x = t64(np.random.default_rng(2).standard_normal((2, 3, 3)))
    fn = lambda m: _eigh_loss(zg, m + m.mT)  # noqa: E731  (FD perturbs one triangle only)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))
    a, t = _symmetric((3, 3), 3), _symmetric((3, 3), 4)
    _, z_tangent = zg.func.jvp(lambda m: _eigh_loss(zg, m), (zg.tensor(a),), (zg.tensor(t),))
    _, t_tangent = torch.func.jvp(lambda m: _eigh_loss(torch, m), (torch.tensor(a),),
                                  (torch.tensor(t),))
    for z, r in zip(z_tangent, t_tangent):
        np.testing.assert_allclose(z.numpy(), r.numpy(), rtol=1e-10, atol=1e-10)


def test_eigh_errors():
    with pytest.raises(RuntimeError, match="square"):
        zg.linalg.eigh(zg.ones(2, 3))
    with pytest.raises(RuntimeError, match="UPLO"):
        zg.linalg.eigh(zg.eye(2), UPLO="X")
    with pytest.raises(RuntimeError, match="floating point"):
        zg.linalg.eigh(zg.eye(2, dtype=zg.int64))


@pytest.mark.parametrize("shape,kwargs", [((3,), {}), ((2, 3), dict(offset=1)),
                                          ((2, 3), dict(offset=-2)), ((2, 3), dict(dim1=0, dim2=2)),
                                          ((2, 4, 3), dict(offset=1, dim1=2, dim2=0)),
                                          ((2, 0), dict(offset=1)), ((0,), {})])
def test_diag_embed_matches_torch(shape, kwargs, device):
    both(lambda lib, x: lib.diag_embed(x, **kwargs), arr(shape), device=device)
    both(lambda lib, x: x.diag_embed(**kwargs), arr(shape), device=device)
    assert gradcheck(lambda x: zg.diag_embed(x, **kwargs), (t64(arr(shape)),))


def test_diag_embed_errors():
    with pytest.raises(RuntimeError, match="cannot be identical"):
        zg.diag_embed(zg.ones(3), dim1=0, dim2=-2)
    with pytest.raises(IndexError, match="Dimension out of range"):
        zg.diag_embed(zg.tensor(2.0))
