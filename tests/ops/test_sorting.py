"""bincount and histc against torch: hypothesis inputs (empty, repeated, out-of-range values),
weights and their dtypes, explicit and data ranges, error cases. (sort, topk, unique and
nonzero are tested in depth with indexing, in test_indexing.py.) One table runs every op of
the family on each device (the ``device`` fixture)."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import zerograd as zg
from tests.oracle import check

_RNG = np.random.default_rng(0)
FLOATS = _RNG.standard_normal((3, 4)).astype(np.float32)
INTS = np.array([[3, 1, 3, 0], [1, 1, 2, 0], [3, 1, 3, 0]])

# every op of the family once: (name, fn(lib, *tensors), inputs)
TABLE = [
    ("sort", lambda m, a: m.sort(a, 1), [FLOATS]),
    ("sort_descending", lambda m, a: a.sort(0, descending=True), [FLOATS]),
    ("sort_0d", lambda m, a: m.sort(a), [np.float32(1.5)]),
    ("argsort", lambda m, a: m.argsort(a, 1, descending=True), [FLOATS]),
    ("topk", lambda m, a: m.topk(a, 2, 1), [FLOATS]),
    ("topk_smallest", lambda m, a: a.topk(3, 0, largest=False), [FLOATS]),
    ("unique", lambda m, a: m.unique(a, return_inverse=True, return_counts=True), [INTS]),
    ("unique_dim", lambda m, a: m.unique(a, dim=0, return_inverse=True), [INTS]),
    ("nonzero", lambda m, a: m.nonzero(a), [INTS]),
    ("nonzero_tuple", lambda m, a: a.nonzero(as_tuple=True), [INTS]),
    ("nonzero_0d", lambda m, a: m.nonzero(a), [np.array(2)]),
    ("argwhere", lambda m, a: m.argwhere(a), [INTS]),
    ("bincount", lambda m, a: m.bincount(a, minlength=6), [INTS[0]]),
    ("bincount_weights", lambda m, a, w: a.bincount(w), [INTS[0], FLOATS[0]]),
    ("histc", lambda m, a: m.histc(a, bins=5), [FLOATS]),
    ("histc_range", lambda m, a: a.histc(bins=4, min=-1, max=1), [FLOATS]),
]


@pytest.mark.parametrize("name,fn,arrays", TABLE, ids=[c[0] for c in TABLE])
def test_table_on_each_device(name, fn, arrays, device):
    # torch defines no derivative for bincount's weights: values only there
    check(lambda *t: fn(zg, *t), lambda *t: fn(torch, *t), *[np.asarray(a) for a in arrays],
          grad=name != "bincount_weights", device=device)


def _same(z, t):
    assert str(z.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_array_equal(z.numpy(), t.numpy())


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.integers(0, 12), max_size=30), minlength=st.integers(0, 15),
       weighted=st.sampled_from([None, "float32", "float64", "int64"]))
def test_bincount_matches_torch(values, minlength, weighted):
    x = np.array(values, dtype=np.int64)
    if weighted is None:
        _same(zg.bincount(zg.tensor(x), minlength=minlength),
              torch.bincount(torch.tensor(x), minlength=minlength))
        return
    w = (np.arange(len(x)) % 5 + 0.25).astype(weighted)
    z = zg.tensor(x).bincount(zg.tensor(w), minlength=minlength)
    t = torch.tensor(x).bincount(torch.tensor(w), minlength=minlength)
    assert str(z.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_allclose(z.numpy(), t.numpy(), rtol=1e-6)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.floats(-5, 5, width=32), max_size=40), bins=st.integers(1, 12),
       bounds=st.sampled_from([(0, 0), (-2, 3), (0, 1), (-5, 5), (1.5, 1.5)]),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_histc_matches_torch(values, bins, bounds, dtype):
    x = np.array(values, dtype=dtype)
    low, high = bounds
    _same(zg.histc(zg.tensor(x), bins=bins, min=low, max=high),
          torch.histc(torch.tensor(x), bins=bins, min=low, max=high))


def test_histc_of_a_grid_and_method():
    x = np.linspace(0, 1, 101, dtype=np.float32).reshape(1, 101)  # many values on bin edges
    _same(zg.tensor(x).histc(bins=10), torch.tensor(x).histc(bins=10))


@pytest.mark.parametrize("call,message", [
    (lambda T: T.bincount(T.tensor([-1, 2])), "1-d non-negative integral"),
    (lambda T: T.bincount(T.tensor([[1]])), "1-d non-negative integral"),
    (lambda T: T.bincount(T.tensor([1, 2]), T.tensor([1.0])), "weights should be 1-d"),
    (lambda T: T.histc(T.tensor([1.0, 2.0]), bins=3, min=3, max=1),
     "max must be larger than min"),
])
def test_errors_match_torch(call, message):
    with pytest.raises(RuntimeError, match=message):
        call(zg)
    with pytest.raises(RuntimeError):
        call(torch)


def test_histc_needs_floats_and_bincount_needs_integers():
    with pytest.raises(RuntimeError, match="floating point"):
        zg.histc(zg.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="integral"):
        zg.bincount(zg.tensor([1.0]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_histc_values_on_bin_edges_fall_where_torch_puts_them(dtype):
    rng = np.random.default_rng(1)
    for _ in range(40):  # rounded values often land exactly on an edge of the data range
        x = np.round(rng.standard_normal(int(rng.integers(1, 2000))) * 30, 1).astype(dtype)
        bins = int(rng.integers(1, 200))
        _same(zg.histc(zg.tensor(x), bins=bins), torch.histc(torch.tensor(x), bins=bins))
