"""Indexing against torch: x[...] reads (basic, integer, boolean, tensor, mixed) with their
gradients (repeated indices add up), x[...] = v with autograd, gather/scatter family,
masks, take, sorting/topk/unique/nonzero, float64 gradchecks and error cases.

The table-driven cases also run on the stand-in device (the ``device`` fixture): inputs,
index tensors, results and gradients all live there."""
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import zerograd as zg
from zerograd.autograd import gradcheck, gradgradcheck
from tests.oracle import assert_close, both, check
from tests.ops._tensor_helpers import arr, nonempty_shapes, shapes, t64


class _OnDevice:
    """zerograd as the table functions ``fn(m, ...)`` see it, with ``m.tensor(...)`` made on
    ``device``: the index tensors a case builds live where its inputs do."""

    def __init__(self, device):
        self._device = device

    def __getattr__(self, name):
        return getattr(zg, name)

    def tensor(self, data, **kwargs):
        return zg.tensor(data, device=self._device, **kwargs)


def both_on(device, fn, *arrays, **kwargs):
    """``both`` with the zerograd side (inputs, index tensors) on ``device``."""
    lib = zg if device == "cpu" else _OnDevice(device)
    return check(lambda *a: fn(lib, *a), lambda *a: fn(torch, *a), *arrays, device=device,
                 **kwargs)


# -- reading: basic indices -------------------------------------------------------------------
@st.composite
def basic_index(draw, shape):
    """A tuple of ints, positive-step slices, None and at most one Ellipsis for ``shape``."""
    items, dim = [], 0
    used_ellipsis = False
    while dim < len(shape) and draw(st.booleans()):
        kind = draw(st.sampled_from(["int", "slice", "none", "ellipsis"]))
        n = shape[dim]
        if kind == "int" and n:
            items.append(draw(st.integers(-n, n - 1)))
            dim += 1
        elif kind == "none":
            items.append(None)
        elif kind == "ellipsis" and not used_ellipsis:
            items.append(Ellipsis)
            used_ellipsis = True
            dim = len(shape)  # the rest of the index then addresses trailing dims; keep it short
        else:
            start = draw(st.none() | st.integers(-n - 2, n + 2))
            stop = draw(st.none() | st.integers(-n - 2, n + 2))
            items.append(slice(start, stop, draw(st.none() | st.integers(1, 3))))
            dim += 1
    return tuple(items)


@given(shapes, st.data())
def test_basic_indexing(shape, data):
    idx = data.draw(basic_index(shape))
    both(lambda m, a: a[idx], arr(shape))


@given(nonempty_shapes, st.data())
def test_single_int_and_slice(shape, data):
    i = data.draw(st.integers(-shape[0], shape[0] - 1))
    both(lambda m, a: a[i], arr(shape))
    both(lambda m, a: a[i:], arr(shape))
    both(lambda m, a: a[..., None, ::2], arr(shape))


def test_negative_step_raises_value_error_like_torch():
    for lib in (torch, zg):
        with pytest.raises(ValueError, match="step must be greater than zero"):
            lib.arange(5)[::-1]
        with pytest.raises(ValueError, match="step cannot be zero"):
            lib.arange(5)[::0]
        with pytest.raises(ValueError, match="step must be greater than zero"):
            lib.zeros(2, 3)[:, 3:0:-1]


# -- reading: advanced indices ----------------------------------------------------------------
X = arr((4, 3, 5))
ADVANCED = [
    ("int list", lambda m, a: a[[0, 2, 2, 0]]),
    ("repeated tensor", lambda m, a: a[m.tensor([1, 1, 1, 3])]),
    ("negative tensor", lambda m, a: a[m.tensor([-1, 0, -4])]),
    ("2-D tensor", lambda m, a: a[m.tensor([[0, 1], [1, 1]])]),
    ("dim 1", lambda m, a: a[:, m.tensor([2, 0, 2])]),
    ("last dim", lambda m, a: a[..., m.tensor([4, 4, 0])]),
    ("two broadcast", lambda m, a: a[m.tensor([[0], [3]]), m.tensor([1, 2, 1])]),
    ("separated", lambda m, a: a[m.tensor([0, 1]), :, m.tensor([4, 3])]),
    ("int then tensor", lambda m, a: a[0, :, m.tensor([1, 2, 1])]),
    ("tensor, int, tensor", lambda m, a: a[m.tensor([0, 3]), 1, m.tensor([2, 2])]),
    ("int and list", lambda m, a: a[1, [0, 2, 0]]),
    ("list of lists is a tuple", lambda m, a: a[[[0, 1], [1, 0]]]),
    ("bool mask full", lambda m, a: a[a > 0.3]),
    ("bool mask rows", lambda m, a: a[m.tensor([True, False, True, True])]),
    ("bool list", lambda m, a: a[:, [True, False, True]]),
    ("bool mask 2-D prefix", lambda m, a: a[a[..., 0] > 0]),
    ("bool then int", lambda m, a: a[m.tensor([True, False, True, False]), 2]),
    ("None and tensor", lambda m, a: a[None, m.tensor([1, 1]), ..., 1:]),
    ("0-d tensor", lambda m, a: a[m.tensor(2)]),
    ("empty list", lambda m, a: a[[]]),
    ("empty mask", lambda m, a: a[a > 100]),
    ("slice and tensor", lambda m, a: a[1:3, m.tensor([0, 0, 2]), ::2]),
]


BASIC = [
    ("int", lambda m, a: a[1]),
    ("full int (a 0-d result)", lambda m, a: a[1, 2, 3]),
    ("slices", lambda m, a: a[1:, ::2, -2:]),
    ("None and ellipsis", lambda m, a: a[None, ..., 1]),
]


@pytest.mark.filterwarnings("ignore:Using a non-tuple sequence")
@pytest.mark.parametrize("name,fn", BASIC + ADVANCED, ids=[a[0] for a in BASIC + ADVANCED])
def test_advanced_indexing_values_and_grads(name, fn, device):
    both_on(device, fn, X)


@given(st.lists(st.integers(-6, 5), min_size=0, max_size=20), st.sampled_from([1, 3, 20]))
def test_repeated_indices_accumulate(rows, width):
    # width 20 with many repeats takes the sorted reduceat path, 1 and 3 take add.at
    x = arr((6, width))
    both(lambda m, a: a[m.tensor(rows, dtype=m.int64)], x)
    both(lambda m, a: a[:, m.tensor(rows, dtype=m.int64) % width], x)


def test_embedding_like_gather_gradient_many_repeats(device):
    rng = np.random.default_rng(1)
    weight = arr((30, 64))
    idx = rng.integers(-30, 30, (8, 50))
    both_on(device, lambda m, w: w[m.tensor(idx)] * 2, weight)
    both_on(device, lambda m, w: m.index_select(w, 0, m.tensor(idx.reshape(-1) % 30)), weight)
    both_on(device, lambda m, w: m.index_select(w.t(), 1, m.tensor(idx.reshape(-1) % 30)),
            weight)


def test_indexing_noncontiguous_input(device):
    both_on(device, lambda m, a: a.mT[m.tensor([0, 2, 2])], arr((3, 4)))
    both_on(device, lambda m, a: a.mT[1:, ::2][a.mT[1:, ::2] > 0], arr((3, 4)))


@pytest.mark.parametrize("fn,exc,match", [
    (lambda m: m.zeros(2, 3)[5], IndexError, "index 5 is out of bounds for dimension 0 with size 2"),
    (lambda m: m.zeros(2, 3)[:, m.tensor([0, 7])], IndexError, "index 7 is out of bounds"),
    (lambda m: m.zeros(2, 3)[:, -4], IndexError, "out of bounds"),
    (lambda m: m.zeros(3)[0, 0], IndexError, "too many indices"),
    (lambda m: m.zeros(3)[m.tensor([True, False])], IndexError, "match"),
    (lambda m: m.zeros(3)[m.tensor([1.0])], IndexError, "long, int, byte or bool"),
    (lambda m: m.zeros(3)[1.5], IndexError, "only integers, slices"),
])
def test_index_errors(fn, exc, match):
    with pytest.raises(exc):
        fn(torch)
    with pytest.raises(exc, match=match):
        fn(zg)


# -- writing: x[idx] = v with autograd ---------------------------------------------------------
def _setitem(idx, value_is_tensor=True):
    def fn(m, a, v):
        out = a * 1  # a non-leaf copy that may be changed in place
        out[idx(m)] = v if value_is_tensor else 2.5
        return out * out
    return fn


SETITEM = [
    ("int row", lambda m: 1, (5,)),
    ("slice", lambda m: (slice(1, 3), slice(None, None, 2)), (2, 3)),
    ("tensor index", lambda m: m.tensor([0, 3]), (2, 5)),
    ("broadcast value", lambda m: m.tensor([0, 3]), (5,)),
    ("repeated index", lambda m: m.tensor([2, 2]), (2, 5)),
    ("bool mask", lambda m: m.tensor([True, False, False, True]), (2, 5)),
    ("two tensors", lambda m: (m.tensor([0, 1]), m.tensor([4, 4])), (2,)),
    ("int and tensor", lambda m: (0, m.tensor([1, 3])), (2,)),
    ("value with leading 1", lambda m: 1, (1, 5)),
    ("ellipsis", lambda m: (Ellipsis, 0), (4,)),
]


@pytest.mark.parametrize("name,idx,vshape", SETITEM, ids=[s[0] for s in SETITEM])
def test_setitem_values_and_grads(name, idx, vshape, device):
    x, v = arr((4, 5)), arr(vshape, seed=1)
    if name == "repeated index":
        v[1] = v[0]  # torch leaves duplicate writes unordered; make them agree
    both_on(device, _setitem(idx), x, v)
    both_on(device, lambda m, a: _setitem(idx, False)(m, a, None), x)


def test_setitem_bool_mask_of_tensor_values():
    def fn(m, a, v):
        out = a.clone()
        out[a > 0] = v
        return out.exp()
    both(fn, arr((3, 4)), arr((), seed=2))


def test_setitem_into_tensor_without_grad_makes_it_require_grad():
    for lib in (torch, zg):
        buf = lib.zeros(3, 2)
        v = lib.ones(2, requires_grad=True)
        buf[1] = v * 3
        assert buf.requires_grad and not buf.is_leaf
        (buf * buf).sum().backward()
        assert v.grad.tolist() == [18.0, 18.0]


def test_setitem_on_leaf_requiring_grad_raises_and_no_grad_allows():
    for lib in (torch, zg):
        w = lib.zeros(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            w[0] = 1.0
        with lib.no_grad():
            w[0] = 1.0
        assert w.tolist() == [1.0, 0.0, 0.0]


def test_setitem_plain_data_and_versions():
    z = zg.zeros(2, 3, dtype=zg.int64)
    v0 = z._version
    z[0, 1:] = zg.tensor([7, 8])
    z[z == 0] = -1
    z[:, zg.tensor([0])] = 5
    assert z.tolist() == [[5, 7, 8], [5, -1, -1]] and z._version == v0 + 3
    with pytest.raises(RuntimeError, match="expanded tensor|single memory location"):
        zg.zeros(3)[None].expand(2, 3)[0, 0] = 1.0
    with pytest.raises(RuntimeError, match="shape mismatch"):
        z[0] = zg.zeros(4, dtype=zg.int64)


def test_setitem_saved_base_invalidates_backward():
    for lib in (torch, zg):
        w = lib.ones(3)
        x = lib.ones(3, requires_grad=True)
        y = (x * w).sum()
        w[1] = 5.0
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.backward()


def test_index_put(device):
    both_on(device, lambda m, a, v: m.index_put(a, (m.tensor([0, 2, 0]),), v, accumulate=True),
            arr((3, 2)), arr((3, 2), seed=1))
    both_on(device, lambda m, a, v: m.index_put(a, (m.tensor([1]), m.tensor([0])), v) * a,
            arr((3, 2)), arr((1,), seed=1))


# -- gather / scatter family ------------------------------------------------------------------
@given(nonempty_shapes, st.data())
def test_gather(shape, data):
    d = data.draw(st.integers(-len(shape), len(shape) - 1))
    idx_shape = tuple(data.draw(st.integers(0, s)) if i != d % len(shape) else
                      data.draw(st.integers(0, 4)) for i, s in enumerate(shape))
    idx = np.random.default_rng(0).integers(0, shape[d], idx_shape)
    both(lambda m, a: m.gather(a, d, m.tensor(idx)), arr(shape))
    both(lambda m, a: a.gather(d, m.tensor(idx, dtype=m.int32)), arr(shape))


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
@given(nonempty_shapes, st.data())
def test_scatter_add_and_scatter(shape, data):
    d = data.draw(st.integers(0, len(shape) - 1))
    idx_shape = tuple(data.draw(st.integers(0, s)) for s in shape)
    rng = np.random.default_rng(1)
    idx = rng.integers(0, shape[d], idx_shape)
    # (src larger than index is covered by the gradchecks: torch's backward rejects it)
    src = arr(idx_shape, seed=2)
    both(lambda m, a, s: a.scatter_add(d, m.tensor(idx), s), arr(shape), src)
    # torch has no derivative for scatter(reduce=...): compare values only
    both(lambda m, a, s: m.scatter(a, d, m.tensor(idx), s, reduce="add"), arr(shape), src,
         grad=False)
    # plain scatter: unique positions per slice so that torch's write order cannot matter
    perm = np.argsort(rng.random(shape), axis=d)
    uniq = np.take(perm, np.arange(min(idx_shape[d], shape[d])), axis=d)
    uniq = uniq[tuple(slice(0, s) for s in idx_shape)]
    both(lambda m, a, s: a.scatter(d, m.tensor(uniq), s), arr(shape), src)
    both(lambda m, a: a.scatter(d, m.tensor(uniq), 1.5), arr(shape))


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
def test_scatter_multiply_forward():
    idx = torch.tensor([[0, 1, 0]])
    check(lambda a, s: a.scatter(1, zg.tensor(idx.numpy()), s, reduce="multiply"),
          lambda a, s: a.scatter(1, idx, s, reduce="multiply"), arr((2, 3)), arr((1, 3), seed=1),
          grad=False)


@given(nonempty_shapes, st.data())
def test_index_select_and_index_add(shape, data):
    d = data.draw(st.integers(-len(shape), len(shape) - 1))
    idx = np.random.default_rng(3).integers(0, shape[d], data.draw(st.integers(0, 6)))
    both(lambda m, a: a.index_select(d, m.tensor(idx)), arr(shape))
    src_shape = list(shape)
    src_shape[d] = len(idx)
    both(lambda m, a, s: a.index_add(d, m.tensor(idx), s, alpha=-2), arr(shape),
         arr(tuple(src_shape), seed=1))


@given(shapes, st.data())
def test_masked_fill_select_take(shape, data):
    x = arr(shape)
    mask = np.random.default_rng(4).random(shape) < 0.5
    both(lambda m, a: a.masked_fill(m.tensor(mask), -7.0), x)
    both(lambda m, a, v: a.masked_fill(m.tensor(mask), v), x, arr((), seed=5))
    both(lambda m, a: a.masked_select(m.tensor(mask)), x)
    if shape:
        row_mask = np.random.default_rng(7).random(shape[-1]) < 0.5
        both(lambda m, a: m.masked_select(a, m.tensor(row_mask)), x)
        both(lambda m, a: a.masked_fill(m.tensor(row_mask), 1.0), x)
    n = int(np.prod(shape))
    if n:
        flat = np.random.default_rng(5).integers(-n, n, (2, 3))
        both(lambda m, a: a.take(m.tensor(flat)), x)


def test_masked_fill_dtype_follows_input():
    both(lambda m, a: m.tensor([1, 2, 3]).masked_fill(a > 0, 2.7), arr((3,)), grad=False)


@pytest.mark.parametrize("fn,exc,match", [
    (lambda m: m.zeros(2, 3).gather(1, m.tensor([[0.0]])), RuntimeError, "int32/int64"),
    (lambda m: m.zeros(2, 3).gather(1, m.tensor([[0]], dtype=m.int16)), RuntimeError, "int32/int64"),
    (lambda m: m.zeros(2, 3).gather(1, m.tensor([[5], [1]])), RuntimeError, "out of bounds"),
    (lambda m: m.zeros(2, 3).gather(1, m.tensor([[-1], [1]])), RuntimeError, "out of bounds"),
    (lambda m: m.zeros(2, 3).gather(0, m.tensor([0])), RuntimeError, "same number of dimensions"),
    (lambda m: m.zeros(2, 3).gather(0, m.tensor([[0, 1, 2, 0]])), RuntimeError, "no larger"),
    (lambda m: m.zeros(2, 3).scatter_add(1, m.tensor([[0, 5]]), m.ones(1, 2)), RuntimeError, "out of bounds"),
    (lambda m: m.zeros(2, 3).scatter_add(1, m.tensor([[0, 1, 2]]), m.ones(1, 2)), RuntimeError, "no larger"),
    (lambda m: m.zeros(2, 3).index_select(0, m.tensor([[0]])), IndexError, "vector"),
    (lambda m: m.zeros(2, 3).index_select(0, m.tensor([0.0])), RuntimeError, "int32 or int64"),
    (lambda m: m.zeros(2, 3).index_select(0, m.tensor([5])), IndexError, "out of range"),
    (lambda m: m.ones(2, 3).index_add(0, m.tensor([0, 1, 0]), m.ones(2, 3)), RuntimeError, "Number of indices"),
    (lambda m: m.ones(2, 3).index_add(0, m.tensor([0, 1]), m.ones(2, 2)), RuntimeError, "shape must match"),
    (lambda m: m.ones(2, 3).index_add(0, m.tensor([0, 5]), m.ones(2, 3)), RuntimeError, "out of bounds"),
    (lambda m: m.ones(3).masked_fill(m.tensor([1, 0, 1]), 1.0), RuntimeError, "boolean masks"),
    (lambda m: m.ones(3).masked_fill(m.ones(3) > 0, m.tensor([0.0])), RuntimeError, "0-dimensional"),
    (lambda m: m.ones(3).masked_select(m.ones(3)), RuntimeError, "BoolTensor"),
    (lambda m: m.ones(2, 3).take(m.tensor([7])), IndexError, "out of range"),
])
def test_gather_family_errors(fn, exc, match):
    with pytest.raises(exc):
        fn(torch)
    with pytest.raises(exc, match=match):
        fn(zg)


# -- nonzero, sorting, unique -------------------------------------------------------------------
@given(shapes)
def test_nonzero(shape):
    x = np.where(np.random.default_rng(6).random(shape) < 0.5, 0, 1.5).astype(np.float32)
    both(lambda m, a: m.nonzero(a), x, grad=False)
    both(lambda m, a: a.nonzero(as_tuple=True), x, grad=False)
    both(lambda m, a: m.argwhere(a), x, grad=False)


@pytest.mark.parametrize("value", [0.0, 5.0])
def test_nonzero_of_0d(value):
    both(lambda m, a: m.nonzero(a), np.float32(value), grad=False)
    both(lambda m, a: m.nonzero(a, as_tuple=True), np.float32(value), grad=False)


@given(nonempty_shapes, st.data())
def test_sort_argsort_topk(shape, data):
    x = arr(shape)  # continuous values: no ties
    d = data.draw(st.integers(-len(shape), len(shape) - 1))
    desc = data.draw(st.booleans())
    both(lambda m, a: m.sort(a, d, descending=desc), x)
    both(lambda m, a: a.sort(dim=d, descending=desc, stable=True), x)
    both(lambda m, a: a.argsort(d, descending=desc), x)
    k = data.draw(st.integers(0, shape[d]))
    largest = data.draw(st.booleans())
    both(lambda m, a: a.topk(k, d, largest=largest), x)


def test_sort_ties_stable_and_nan():
    x = np.array([2.0, 1.0, 2.0, np.nan, 1.0], dtype=np.float32)
    for desc in (False, True):
        both(lambda m, a: a.sort(stable=True, descending=desc), x)
    both(lambda m, a: m.sort(m.tensor([[3, 1, 2], [0, 0, 1]])), np.zeros(1, np.float32),
         grad=False)


@pytest.mark.parametrize("kw", [{}, {"return_inverse": True}, {"return_counts": True},
                                {"return_inverse": True, "return_counts": True, "dim": 0},
                                {"return_inverse": True, "dim": 1}])
def test_unique(kw):
    x = np.array([[1, 2, 1], [1, 2, 1], [0, 5, 0]])
    check(lambda a: zg.unique(zg.tensor(x), **kw), lambda a: torch.unique(torch.tensor(x), **kw),
          np.zeros(1, np.float32), grad=False)
    check(lambda a: a.unique(sorted=True, **kw), lambda a: a.unique(sorted=True, **kw),
          x.astype(np.float32), grad=False)


# -- gradchecks -------------------------------------------------------------------------------------
I64 = zg.tensor([0, 2, 2, -1])
GRADCHECK = [
    ("basic", lambda a: a[1:, ::2, None]),
    ("int", lambda a: a[-1]),
    ("repeated tensor", lambda a: a[I64]),
    ("mixed", lambda a: a[0, I64]),
    ("bool", lambda a: a[a > 0]),
    ("gather", lambda a: a.gather(1, zg.tensor([[0, 0, 3], [2, 1, 0], [3, 3, 3]]))),
    ("scatter_add", lambda a: zg.zeros(3, 5, dtype=zg.float64).scatter_add(
        1, zg.tensor([[0, 0, 3, 4], [2, 1, 0, 0], [3, 3, 3, 3]]), a)),
    ("scatter", lambda a: a.scatter(1, zg.tensor([[0, 1], [2, 3], [3, 0]]), a[:, :2] * 2)),
    ("scatter_add src larger than index", lambda a: zg.ones(2, 5, dtype=zg.float64).scatter_add(
        1, zg.tensor([[4, 4], [0, 1]]), a)),
    ("scatter src larger than index", lambda a: zg.ones(2, 5, dtype=zg.float64).scatter(
        1, zg.tensor([[4, 2], [0, 1]]), a)),
    ("index_select", lambda a: a.index_select(1, zg.tensor([3, 0, 3]))),
    ("index_add", lambda a: a.index_add(0, zg.tensor([2, 2]), a[:2] * 3)),
    ("masked_fill", lambda a: a.masked_fill(a > 0.5, 0.0)),
    ("masked_select", lambda a: a.masked_select(a < 0)),
    ("take", lambda a: a.take(zg.tensor([[0, 11], [11, 5]]))),
    ("sort", lambda a: a.sort(1).values),
    ("topk", lambda a: a.topk(2, 0).values),
    ("index_put", lambda a: zg.index_put(a, (zg.tensor([1, 1]),), a[0], accumulate=True)),
]


@pytest.mark.parametrize("name,fn", GRADCHECK, ids=[g[0] for g in GRADCHECK])
def test_gradcheck(name, fn):
    assert gradcheck(fn, (t64(arr((3, 4), seed=7)),))


@pytest.mark.parametrize("name,fn", GRADCHECK[:5] + GRADCHECK[5:12:2],
                         ids=[g[0] for g in GRADCHECK[:5] + GRADCHECK[5:12:2]])
def test_gradgradcheck(name, fn):
    assert gradgradcheck(lambda a: fn(a) ** 2, (t64(arr((3, 4), seed=7)),))


def test_setitem_gradcheck():
    def f(a, v):
        out = a * 1
        out[zg.tensor([0, 2])] = v * v
        return out
    a, v = t64(arr((3, 2), seed=8)), t64(arr((2,), seed=9))
    assert gradcheck(f, (a, v))
    assert gradgradcheck(f, (a, v))


def test_getitem_backward_matches_numpy_add_at_for_large_index():
    rng = np.random.default_rng(3)
    w = zg.tensor(arr((40, 32)), requires_grad=True)
    rows = rng.integers(0, 40, 1000)
    g = arr((1000, 32), seed=4)
    w[zg.tensor(rows)].backward(zg.tensor(g))
    expected = np.zeros((40, 32), np.float32)
    np.add.at(expected, rows, g)
    assert_close(w.grad, torch.tensor(expected))


@pytest.mark.parametrize("name,fn", [
    ("getitem", lambda m, a: a[m.tensor([0, 0, 2]), 1:]),
    ("gather/scatter_add", lambda m, a: a.gather(1, m.tensor([[0], [3], [1]])).scatter_add(
        0, m.tensor([[0], [0], [1]]), a[:, :1])),
    ("scatter value", lambda m, a: a.scatter(1, m.tensor([[0], [3], [1]]), 2.0)),
    ("index_add/index_put", lambda m, a: m.index_put(a.index_add(0, m.tensor([1, 1]), a[:2]),
                                                     (m.tensor([2]),), a[0])),
    ("masked/take/sort", lambda m, a: m.cat([a.masked_select(a > 0), a.take(m.tensor([5, 5])),
                                              a.sort(1).values[:, 0], a.topk(2, 0).values[0]])),
])
def test_forward_mode_jvp(name, fn):
    from tests.oracle import both_jvp
    both_jvp(fn, arr((3, 4), dtype=np.float64))


def test_index_put_methods(device):
    def fn(m, a, v):
        b = a.index_put((m.tensor([0, 0, 2]),), v, accumulate=True)
        c = a * 1
        c.index_put_((m.tensor([1]), m.tensor([3])), v[0, :1])
        return b * c
    both_on(device, fn, arr((3, 4)), arr((3, 4), seed=1))


def test_take_along_dim(device):
    x = arr((3, 4))
    idx = np.argsort(x, axis=1)[:, :2]
    both_on(device, lambda m, a: m.take_along_dim(a, m.tensor(idx), dim=1), x)
    both_on(device, lambda m, a: m.take_along_dim(a, m.tensor([[0], [2], [1]]), 1), x)
    both_on(device, lambda m, a: m.take_along_dim(a, m.tensor([[1, 0, 0, 2]]), dim=0), x)
    both_on(device, lambda m, a: m.take_along_dim(a, m.tensor([11, 0])), x)


# -- every op of the family on the device (the hypothesis tests above stay on the CPU) -----------
def _scatter_into_view(m, a):
    out = a * 1
    out.t()[1].scatter_(0, m.tensor([2, 0]), a[0, :2] * 3)
    return out


def _setitem_view(m, a):
    """d2l's masked softmax: a reshaped view written through a mask, then its base used."""
    out = a * 1
    flat = out.reshape(-1)
    flat[flat > 0.5] = -1.0
    return out.exp()


def _setitem_view_tensor_value(m, a):
    out = a * 1
    out[1:][:, m.tensor([0, 2])] = a[:2, :2] * 2  # a view of a view, a tensor value
    return out * out


def _inplace_on_views(m, a):
    out = a * 1
    out[:, 0].fill_(2.0)
    out.t()[1].mul_(a[:, 2])
    out[2].copy_(a[0] * 3)
    out[1:, 1:].masked_fill_(a[1:, 1:] > 0, 0.5)
    out[0].index_add_(0, m.tensor([1, 1]), a[1, :2])
    return out


FAMILY = [
    ("gather", lambda m, a: a.gather(1, m.tensor([[0, 0, 3], [2, 1, 0], [3, 3, 3]]))),
    ("gather int32", lambda m, a: m.gather(a, 0, m.tensor([[2, 0, 1, 1]], dtype=m.int32))),
    ("scatter_add", lambda m, a: a.scatter_add(1, m.tensor([[0, 0, 3], [2, 1, 0], [3, 3, 3]]),
                                               a[:, :3] * 2)),
    ("scatter", lambda m, a: a.scatter(1, m.tensor([[0, 1], [2, 3], [3, 0]]), a[:, 2:] * 2)),
    ("scatter value", lambda m, a: a.scatter(1, m.tensor([[0], [3], [1]]), 2.0)),
    ("scatter_ on a view", _scatter_into_view),
    ("index_select", lambda m, a: a.index_select(1, m.tensor([3, 0, 3]))),
    ("index_add", lambda m, a: a.index_add(0, m.tensor([2, 2]), a[:2] * 3, alpha=-2)),
    ("index_put accumulate", lambda m, a: m.index_put(a, (m.tensor([1, 1]),), a[0],
                                                      accumulate=True)),
    ("masked_fill number", lambda m, a: a.masked_fill(a > 0.5, 0.0)),
    ("masked_fill 0-d tensor", lambda m, a: a.masked_fill(a > 0, a[0, 0])),
    ("masked_fill broadcast mask", lambda m, a: a.masked_fill(m.tensor([True, False, True, True]),
                                                              -1.0)),
    ("masked_select", lambda m, a: a.masked_select(a < 0)),
    ("masked_select broadcast", lambda m, a: a.masked_select(m.tensor([False, True, True,
                                                                        False]))),
    ("take", lambda m, a: a.take(m.tensor([[0, 11], [11, 5]]))),
    ("repeat_interleave int", lambda m, a: a.repeat_interleave(2, dim=0)),
    ("repeat_interleave tensor", lambda m, a: a.repeat_interleave(m.tensor([1, 0, 3]), dim=0)),
    ("repeat_interleave flat", lambda m, a: m.repeat_interleave(a, 2)),
    ("setitem through a reshaped view", _setitem_view),
    ("setitem on a view of a view", _setitem_view_tensor_value),
    ("in-place ops on views", _inplace_on_views),
]


@pytest.mark.parametrize("name,fn", FAMILY, ids=[f[0] for f in FAMILY])
def test_gather_scatter_masks_on_device(name, fn, device):
    both_on(device, fn, arr((3, 4), seed=7))


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
def test_scatter_reduce_and_count_only_forms_on_device(device):
    idx = [[0, 1, 0], [2, 2, 3]]
    both_on(device, lambda m, a: a.scatter(1, m.tensor(idx), 1.5, reduce="add"), arr((2, 4)),
            grad=False)
    both_on(device, lambda m, a, s: a.scatter(1, m.tensor(idx), s, reduce="multiply"),
            arr((2, 4)), arr((2, 3), seed=1), grad=False)
    both_on(device, lambda m, a: m.repeat_interleave(m.tensor([2, 0, 1])) + a.sum().long(),
            arr(()), grad=False)


def test_index_tensors_of_another_device():
    """As in torch: ``x[i]`` takes indices from the CPU; gather and masks must match."""
    x = zg.tensor(arr((3, 4)), device="standin", requires_grad=True)
    y = x[zg.tensor([2, 0, 2])]
    assert str(y.device) == "standin"
    y.sum().backward()
    assert str(x.grad.device) == "standin" and x.grad.tolist()[2] == [2.0] * 4
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device, but "
                                           "found at least two devices, cpu and standin!"):
        x.gather(1, zg.tensor([[0], [1], [2]]))
    with pytest.raises(RuntimeError, match="same device"):
        x.index_select(0, zg.tensor([0]))
    with pytest.raises(RuntimeError, match="same device"):
        x.masked_fill(zg.ones(3, 4) > 0, 0.0)
