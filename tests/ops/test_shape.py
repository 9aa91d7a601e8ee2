"""Shape ops against torch: values and gradients over hypothesis shapes (size-0/1 dims,
non-contiguous inputs), float64 gradchecks, torch's error cases, and view semantics
(shared memory and version counters). One table runs every shape op on each device (the
``device`` fixture), as do the fixed-shape tests and the forward-mode checks."""
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import zerograd as zg
from zerograd.autograd import gradcheck, gradgradcheck
from tests.oracle import both, both_jvp, check, check_like_torch
from tests.ops._tensor_helpers import arr, dims_of, nonempty_shapes, shapes, t64


# -- reshape family ------------------------------------------------------------------------
@given(shapes)
def test_reshape_view_flatten_match_torch(shape):
    x = arr(shape)
    both(lambda m, a: a.reshape(-1), x)
    both(lambda m, a: a.reshape(tuple(reversed(shape))), x)
    both(lambda m, a: a.view(tuple(reversed(shape))) * 2, x)
    both(lambda m, a: m.flatten(a), x)
    both(lambda m, a: a.reshape([*shape, 1]), x)


@given(nonempty_shapes, st.data())
def test_flatten_unflatten_ranges(shape, data):
    x = arr(shape)
    s = data.draw(dims_of(len(shape)))
    e = data.draw(st.integers(s % len(shape), len(shape) - 1))
    both(lambda m, a: a.flatten(s, e), x)
    d = data.draw(dims_of(len(shape)))
    n = shape[d]
    both(lambda m, a: a.unflatten(d, (1, n, 1)), x)
    both(lambda m, a: a.unflatten(d, (-1, 1)), x)


@given(shapes, st.data())
def test_squeeze_unsqueeze(shape, data):
    x = arr(shape)
    both(lambda m, a: a.squeeze(), x)
    d = data.draw(dims_of(len(shape)))
    both(lambda m, a: a.squeeze(d), x)
    both(lambda m, a: a.squeeze(tuple(range(len(shape)))), x)
    u = data.draw(st.integers(-len(shape) - 1, len(shape)))
    both(lambda m, a: a.unsqueeze(u), x)


def test_reshape_of_noncontiguous_copies_and_matches(device):
    x = arr((3, 4))
    both(lambda m, a: a.mT.reshape(2, 6), x, device=device)
    both(lambda m, a: a[:, ::2].reshape(-1), x, device=device)
    both(lambda m, a: m.ravel(a.mT), x, device=device)
    both(lambda m, a: a.mT.flatten(), x, device=device)


# every shape op once, on each device: (name, fn(lib, *tensors), input shapes)
TABLE = [
    ("reshape", lambda m, a: a.reshape(3, -1), [(2, 3)]),
    ("view", lambda m, a: a.view(-1) * 2, [(2, 3)]),
    ("flatten", lambda m, a: m.flatten(a, 1), [(2, 1, 3)]),
    ("ravel", lambda m, a: m.ravel(a), [(2, 3)]),
    ("unflatten", lambda m, a: a.unflatten(1, (3, 1)), [(2, 3)]),
    ("squeeze", lambda m, a: a.squeeze(), [(2, 1, 3)]),
    ("squeeze_dim", lambda m, a: m.squeeze(a, 1), [(2, 1, 3)]),
    ("unsqueeze", lambda m, a: a.unsqueeze(-1), [(2, 3)]),
    ("transpose", lambda m, a: m.transpose(a, 0, 2), [(2, 1, 3)]),
    ("swapaxes", lambda m, a: m.swapaxes(a, 0, 1), [(2, 3)]),
    ("permute", lambda m, a: a.permute(2, 0, 1), [(2, 1, 3)]),
    ("movedim", lambda m, a: m.movedim(a, 0, -1), [(2, 1, 3)]),
    ("t", lambda m, a: a.t(), [(2, 3)]),
    ("T", lambda m, a: a.T, [(2, 3)]),
    ("mT", lambda m, a: a.mT, [(2, 2, 3)]),
    ("expand", lambda m, a: a.expand(2, 3, 3), [(3, 1)]),
    ("expand_as", lambda m, a, b: a.expand_as(b) * b, [(3, 1), (2, 3, 4)]),
    ("broadcast_to", lambda m, a: m.broadcast_to(a, (2, 3)), [(3,)]),
    ("broadcast_tensors", lambda m, a, b: m.broadcast_tensors(a, b), [(3, 1), (1, 4)]),
    ("repeat", lambda m, a: a.repeat(2, 1, 2), [(2, 3)]),
    ("tile", lambda m, a: m.tile(a, (2,)), [(2, 3)]),
    ("flip", lambda m, a: a.flip(0, 1), [(2, 3)]),
    ("fliplr", lambda m, a: m.fliplr(a), [(2, 3)]),
    ("flipud", lambda m, a: m.flipud(a), [(2, 3)]),
    ("roll", lambda m, a: a.roll((1, -1), (0, 1)), [(2, 3)]),
    ("roll_flat", lambda m, a: m.roll(a, 2), [(2, 3)]),
    ("cat", lambda m, a, b: m.cat([a, b], 1), [(2, 3), (2, 1)]),
    ("concat", lambda m, a, b: m.concat((a, b, a), dim=0), [(2, 3), (1, 3)]),
    ("stack", lambda m, a, b: m.stack([a, b], 1), [(2, 3), (2, 3)]),
    ("split", lambda m, a: a.split(2, 1), [(2, 3)]),
    ("split_sizes", lambda m, a: m.split(a, [1, 2], dim=1), [(2, 3)]),
    ("chunk", lambda m, a: a.chunk(2, 1), [(2, 3)]),
    ("unbind", lambda m, a: a.unbind(1), [(2, 3)]),
    ("narrow", lambda m, a: a.narrow(1, 1, 2), [(2, 3)]),
    ("select", lambda m, a: m.select(a, 1, -1), [(2, 3)]),
    ("hstack", lambda m, a, b: m.hstack([a, b]), [(2, 3), (2, 1)]),
    ("vstack", lambda m, a, b: m.vstack([a, b]), [(2, 3), (3,)]),
    ("dstack", lambda m, a, b: m.dstack([a, b]), [(2, 3), (2, 3)]),
    ("column_stack", lambda m, a, b: m.column_stack([a, b]), [(2, 3), (2,)]),
    ("atleast", lambda m, a: (m.atleast_1d(a), m.atleast_2d(a)), [()]),
    ("meshgrid_ij", lambda m, a, b: m.meshgrid(a, b, indexing="ij"), [(2,), (3,)]),
    ("meshgrid_xy", lambda m, a, b: m.meshgrid(a, b, indexing="xy"), [(2,), (3,)]),
    ("contiguous", lambda m, a: a.mT.contiguous() * 3, [(2, 3)]),
    ("clone", lambda m, a: a.clone().mT, [(2, 3)]),
]


@pytest.mark.parametrize("name,fn,shapes_", TABLE, ids=[c[0] for c in TABLE])
def test_table_on_each_device(name, fn, shapes_, device):
    both(fn, *[arr(s, seed=i) for i, s in enumerate(shapes_)], device=device)


# -- permutations ---------------------------------------------------------------------------
@given(shapes, st.data())
def test_transpose_permute_movedim(shape, data):
    x = arr(shape)
    nd = len(shape)
    d0, d1 = data.draw(dims_of(nd)), data.draw(dims_of(nd))
    both(lambda m, a: a.transpose(d0, d1), x)
    perm = data.draw(st.permutations(range(nd)))
    both(lambda m, a: a.permute(*perm) if perm else a.permute(()), x)
    both(lambda m, a: m.permute(a, tuple(perm)), x)
    if nd:
        k = data.draw(st.integers(1, nd))
        src = data.draw(st.permutations(range(nd)))[:k]
        dst = data.draw(st.permutations(range(nd)))[:k]
        both(lambda m, a: m.movedim(a, tuple(src), tuple(dst)), x)
        both(lambda m, a: a.movedim(src[0], dst[0]), x)


@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_t(shape, device):
    both(lambda m, a: a.t(), arr(shape), device=device)
    both(lambda m, a: m.t(a) + 1, arr(shape), device=device)


@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 4), (0, 1, 2)])
def test_T_and_mT(shape, device):
    both(lambda m, a: a.mT, arr(shape), device=device)
    if len(shape) == 2:
        both(lambda m, a: a.T, arr(shape), device=device)
    else:
        check(lambda a: a.T, lambda a: a.permute(*reversed(range(a.ndim))), arr(shape),
              device=device)


# -- expand / repeat / flip / roll ----------------------------------------------------------
@given(hnp_shape := st.lists(st.sampled_from([1, 3]), min_size=0, max_size=3), st.data())
def test_expand_and_expand_as(small, data):
    x = arr(tuple(small))
    lead = data.draw(st.lists(st.integers(0, 3), max_size=2))
    target = tuple(lead) + tuple(3 if s == 1 and data.draw(st.booleans()) else s for s in small)
    both(lambda m, a: a.expand(*target) if target else a.expand(()), x)
    both(lambda m, a: a.expand(tuple(lead) + (-1,) * len(small)), x)
    y = arr(target, seed=1)
    both(lambda m, a, b: a.expand_as(b) * b, x, y)
    both(lambda m, a: m.broadcast_to(a, target), x)


@given(shapes, st.data())
def test_repeat_and_tile(shape, data):
    x = arr(shape)
    extra = data.draw(st.lists(st.integers(0, 2), max_size=2))
    reps = tuple(extra) + tuple(data.draw(st.integers(0, 3)) for _ in shape)
    both(lambda m, a: a.repeat(*reps) if reps else a.repeat(()), x)
    both(lambda m, a: a.repeat(list(reps)), x)
    both(lambda m, a: a.tile(reps[-1:] if reps else (2,)), x)


@given(shapes, st.data())
def test_flip_and_roll(shape, data):
    x = arr(shape)
    nd = len(shape)
    if nd:
        dims = data.draw(st.lists(st.integers(0, nd - 1), unique=True, min_size=1))
        both(lambda m, a: a.flip(dims), x)
        both(lambda m, a: m.flip(a, tuple(dims)), x)
        shifts = [data.draw(st.integers(-5, 5)) for _ in dims]
        both(lambda m, a: a.roll(shifts, dims), x)
        both(lambda m, a: m.roll(a, shifts[0], dims[0]), x)
    shift = data.draw(st.integers(-7, 7))
    both(lambda m, a: a.roll(shift), x)


def test_fliplr_flipud():
    both(lambda m, a: m.fliplr(a), arr((2, 3)))
    both(lambda m, a: m.flipud(a), arr((2, 3)))


# -- joining and splitting ------------------------------------------------------------------
@given(nonempty_shapes, st.data())
def test_cat_stack(shape, data):
    d = data.draw(dims_of(len(shape)))
    other = list(shape)
    other[d] = data.draw(st.integers(0, 3))
    x, y = arr(shape), arr(tuple(other), seed=1)
    both(lambda m, a, b: m.cat([a, b], d), x, y)
    both(lambda m, a, b: m.concat((a, b, a), dim=d), x, y)
    both(lambda m, a, b: m.stack([a, a * 2, a], d), x, y[..., :0].sum() + x)
    s = data.draw(st.integers(-len(shape) - 1, len(shape)))
    both(lambda m, a: m.stack((a, a + 1), s), x)


def test_cat_promotes_dtypes_and_skips_legacy_empty(device):
    a = arr((2, 3))
    b = np.arange(6).reshape(2, 3)
    both(lambda m, x: m.cat([x, m.tensor(b, device=x.device)]), a, device=device)
    both(lambda m, x: m.cat([x, m.zeros(0, device=x.device), x], 0), a, device=device)
    both(lambda m, x: m.cat([x, x.double()], 1), a, device=device)


@given(nonempty_shapes, st.data())
def test_split_chunk_unbind_narrow(shape, data):
    x = arr(shape)
    d = data.draw(dims_of(len(shape)))
    n = shape[d]
    size = data.draw(st.integers(1, n + 1))
    both(lambda m, a: a.split(size, d), x)
    cut = data.draw(st.integers(0, n))
    both(lambda m, a: m.split(a, [cut, n - cut], dim=d), x)
    chunks = data.draw(st.integers(1, 5))
    both(lambda m, a: a.chunk(chunks, d), x)
    both(lambda m, a: a.unbind(d), x)
    start = data.draw(st.integers(-n, n))
    length = data.draw(st.integers(0, n - (start % n if start < 0 else start)))
    both(lambda m, a: a.narrow(d, start, length), x)


def test_chunk_and_split_of_empty_dims(device):
    x = arr((0, 2))
    both(lambda m, a: m.chunk(a, 3), x, device=device)
    both(lambda m, a: m.split(a, 2), x, device=device)
    both(lambda m, a: a.chunk(4, 1), arr((6, 3)), device=device)


@pytest.mark.parametrize("name", ["hstack", "vstack", "column_stack"])
@pytest.mark.parametrize("shapes_", [[(), (2,)], [(2,), (2,)], [(2, 1), (2, 3)], [(1, 3), (2, 3)]])
def test_hstack_vstack_column_stack(shapes_, name, device):
    # where torch refuses the shapes, zerograd must raise the same exception type
    arrays = [arr(s, seed=i) for i, s in enumerate(shapes_)]
    check_like_torch(lambda *a: getattr(zg, name)(a), lambda *a: getattr(torch, name)(a),
                     *arrays, device=device)


# -- copies -----------------------------------------------------------------------------------
def test_contiguous_and_clone():
    x = arr((3, 4))
    both(lambda m, a: a.mT.contiguous() * 3, x)
    both(lambda m, a: a.clone().mT, x)
    z = zg.tensor(x)
    assert z.contiguous() is z
    assert z.mT.contiguous().is_contiguous() and not z.mT.is_contiguous()
    c = z.clone()
    c.add_(1)
    assert np.array_equal(z.numpy(), x)


# -- gradchecks -------------------------------------------------------------------------------
GRADCHECK = [
    ("reshape", lambda a: a.reshape(3, 2), (2, 3)),
    ("view", lambda a: a.view(-1), (2, 3)),
    ("flatten", lambda a: a.flatten(1), (2, 1, 3)),
    ("unflatten", lambda a: a.unflatten(1, (3, 1)), (2, 3)),
    ("squeeze", lambda a: a.squeeze(1), (2, 1, 3)),
    ("unsqueeze", lambda a: a.unsqueeze(-1), (2, 3)),
    ("transpose", lambda a: a.transpose(0, 2), (2, 1, 3)),
    ("permute", lambda a: a.permute(2, 0, 1), (2, 1, 3)),
    ("movedim", lambda a: a.movedim(0, -1), (2, 1, 3)),
    ("t", lambda a: a.t(), (2, 3)),
    ("mT", lambda a: a.mT, (2, 2, 3)),
    ("expand", lambda a: a.expand(2, 3, 3), (3, 1)),
    ("repeat", lambda a: a.repeat(2, 1, 2), (2, 3)),
    ("tile", lambda a: a.tile(2), (2, 3)),
    ("flip", lambda a: a.flip(0, 1), (2, 3)),
    ("roll", lambda a: a.roll((1, -1), (0, 1)), (2, 3)),
    ("narrow", lambda a: a.narrow(1, 1, 2), (2, 3)),
    ("split", lambda a: a.split([1, 2], 1), (2, 3)),
    ("chunk", lambda a: a.chunk(2, 1), (2, 3)),
    ("unbind", lambda a: a.unbind(1), (2, 3)),
    ("cat", lambda a: zg.cat([a, a * 2], 1), (2, 3)),
    ("stack", lambda a: zg.stack([a, a.exp()], 1), (2, 3)),
    ("hstack", lambda a: zg.hstack([a, a]), (2, 3)),
    ("vstack", lambda a: zg.vstack([a, a[0]]), (2, 3)),
    ("column_stack", lambda a: zg.column_stack([a, a[:, 0]]), (2, 3)),
    ("contiguous", lambda a: a.mT.contiguous(), (2, 3)),
    ("clone", lambda a: a.clone(), (2, 3)),
]


@pytest.mark.parametrize("name,fn,shape", GRADCHECK, ids=[g[0] for g in GRADCHECK])
def test_gradcheck(name, fn, shape):
    x = t64(arr(shape, seed=3))
    assert gradcheck(lambda a: fn(a), (x,))


@pytest.mark.parametrize("name,fn,shape", GRADCHECK[:6] + GRADCHECK[11:13],
                         ids=[g[0] for g in GRADCHECK[:6] + GRADCHECK[11:13]])
def test_gradgradcheck(name, fn, shape):
    x = t64(arr(shape, seed=3))
    assert gradgradcheck(lambda a: fn(a) ** 2, (x,))


# -- torch's error cases ------------------------------------------------------------------------
def _raises_like_torch(fn, exc, match):
    """zerograd raises ``exc`` matching ``match``; torch raises the same exception type."""
    with pytest.raises(exc):
        fn(torch)
    with pytest.raises(exc, match=match):
        fn(zg)


@pytest.mark.parametrize("fn,exc,match", [
    (lambda m: m.zeros(2, 3).reshape(4, 2), RuntimeError, r"shape '\[4, 2\]' is invalid for input of size 6"),
    (lambda m: m.zeros(2, 3).reshape(-1, -1), RuntimeError, "only one dimension can be inferred"),
    (lambda m: m.zeros(0).reshape(-1, 0), RuntimeError, "ambiguous"),
    (lambda m: m.zeros(2, 3).t().view(6), RuntimeError, "view size is not compatible"),
    (lambda m: m.zeros(2, 3).view(-1, 4), RuntimeError, "invalid for input of size 6"),
    (lambda m: m.cat([m.zeros(2, 3), m.zeros(3, 2)]), RuntimeError,
     "Sizes of tensors must match except in dimension 0. Expected size 3 but got size 2 for tensor number 1"),
    (lambda m: m.cat([m.zeros(2, 3), m.zeros(2)]), RuntimeError, "same number of dimensions"),
    (lambda m: m.cat([m.zeros(())]), RuntimeError, "zero-dimensional tensor"),
    (lambda m: m.cat([]), ValueError, "non-empty"),
    (lambda m: m.stack([m.zeros(2), m.zeros(3)]), RuntimeError, r"stack expects each tensor to be equal size"),
    (lambda m: m.zeros(2, 3).permute(0, 0), RuntimeError, "duplicate dims"),
    (lambda m: m.zeros(2, 3).permute(0), RuntimeError, "number of dimensions"),
    (lambda m: m.zeros(2, 3).transpose(0, 2), IndexError, "Dimension out of range"),
    (lambda m: m.zeros(2, 3).expand(3, 2), RuntimeError, "must match the existing size"),
    (lambda m: m.zeros(3).expand(-1, 3), RuntimeError, "leading, non-existing dimension"),
    (lambda m: m.zeros(2, 3).expand(3), RuntimeError, "number of sizes provided"),
    (lambda m: m.zeros(2, 3).repeat(2), RuntimeError, "can not be smaller"),
    (lambda m: m.zeros(2, 3).flip(0, 0), RuntimeError, "multiple times"),
    (lambda m: m.zeros(3, 3).roll((1,), (0, 1)), RuntimeError, "shifts and dimensions must align"),
    (lambda m: m.zeros(3, 3).roll((1, 2)), RuntimeError, "shifts and dimensions must align"),
    (lambda m: m.zeros(2, 3).narrow(1, 2, 2), RuntimeError, r"start \(2\) \+ length \(2\) exceeds"),
    (lambda m: m.zeros(3).narrow(0, 4, 0), IndexError, "start out of range"),
    (lambda m: m.zeros(2, 3).unflatten(1, (2, 2)), RuntimeError, "don't multiply up"),
    (lambda m: m.zeros(3).split(0), RuntimeError, "split_size can only be 0"),
    (lambda m: m.zeros(3).split([1, 3]), RuntimeError, "sum exactly to 3"),
    (lambda m: m.zeros(3).chunk(0), RuntimeError, "greater than 0"),
    (lambda m: m.zeros(()).unbind(0), IndexError, "no dimensions"),
    (lambda m: m.zeros(2, 3, 4).t(), RuntimeError, "<= 2 dimensions"),
    (lambda m: m.movedim(m.zeros(2, 3), (0, 1), (1,)), RuntimeError, "same number of dims"),
    (lambda m: m.movedim(m.zeros(2, 3, 4), (0, 1), (2, 2)), RuntimeError, "repeated dim"),
    (lambda m: m.zeros(2, 3).flatten(1, 0), RuntimeError, "start_dim cannot come after end_dim"),
])
def test_errors_match_torch(fn, exc, match):
    _raises_like_torch(fn, exc, match)


# -- views share memory and the version counter ------------------------------------------------
VIEWS = [
    ("slice", lambda b: b[1:, ::2]),
    ("int index", lambda b: b[0]),
    ("reshape", lambda b: b.reshape(3, 4)),
    ("view", lambda b: b.view(-1)),
    ("transpose", lambda b: b.transpose(0, 1)),
    ("permute", lambda b: b.permute(1, 0)),
    ("t", lambda b: b.t()),
    ("mT", lambda b: b.mT),
    ("squeeze", lambda b: b.unsqueeze(0).squeeze(0)),
    ("unsqueeze", lambda b: b.unsqueeze(1)),
    ("flatten", lambda b: b.flatten()),
    ("narrow", lambda b: b.narrow(1, 1, 2)),
    ("select", lambda b: b.select(1, 2)),
    ("unbind", lambda b: b.unbind(0)[1]),
    ("split", lambda b: b.split(2, 1)[1]),
    ("chunk", lambda b: b.chunk(2, 0)[0]),
    ("movedim", lambda b: b.movedim(0, 1)),
    ("expand", lambda b: b[:, :1].expand(3, 5)),
]


@pytest.mark.parametrize("name,make", VIEWS, ids=[v[0] for v in VIEWS])
def test_views_share_memory_and_version(name, make):
    base = zg.arange(12.0).reshape(3, 4)
    v = make(base)
    assert np.shares_memory(v.numpy(), base.numpy())
    before = base._version
    if name != "expand":
        v.mul_(2)  # writes through the view
        assert base._version == before + 1 == v._version
        assert (base.numpy() != np.arange(12.0).reshape(3, 4)).any()
    base.add_(1)
    assert v._version == base._version


@pytest.mark.parametrize("name,make", [
    ("flip", lambda b: b.flip(0)), ("roll", lambda b: b.roll(1)),
    ("repeat", lambda b: b.repeat(1, 1)), ("clone", lambda b: b.clone()),
    ("contiguous of transposed", lambda b: b.t().contiguous()),
    ("cat", lambda b: zg.cat([b])), ("tensor index", lambda b: b[zg.tensor([0, 1])]),
])
def test_copies_do_not_share(name, make):
    base = zg.arange(12.0).reshape(3, 4)
    c = make(base)
    assert not np.shares_memory(c.numpy(), base.numpy())
    c.add_(1)
    assert base._version == 0 and np.array_equal(base.numpy(), np.arange(12.0).reshape(3, 4))


@pytest.mark.parametrize("name,make", VIEWS[:-1], ids=[v[0] for v in VIEWS[:-1]])
def test_inplace_through_view_invalidates_saved_base(name, make):
    for lib in (torch, zg):
        w = lib.arange(12.0).reshape(3, 4)
        x = lib.ones(3, 4, requires_grad=True)
        y = (x * w).sum()  # Mul saves w for the gradient of x
        make(w).mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.backward()


def test_inplace_through_view_of_saved_output_raises():
    for lib in (torch, zg):
        x = lib.ones(2, 3, requires_grad=True)
        b = x.exp()  # exp saves its output
        with lib.no_grad():
            b.t()[0].mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            b.sum().backward()


def test_gradient_through_view_chain(device):
    both(lambda m, a: a.t().reshape(-1)[1:5].view(2, 2).unsqueeze(0).expand(3, 2, 2), arr((2, 3)),
         device=device)


@pytest.mark.parametrize("name,fn", [
    ("reshape/permute", lambda m, a: a.reshape(3, 2).permute(1, 0).flatten()),
    ("expand/repeat", lambda m, a: a[:, :1].expand(2, 4).repeat(2, 1)),
    ("flip/roll", lambda m, a: a.flip(0).roll(1, 1)),
    ("cat/stack/split", lambda m, a: m.stack([m.cat(a.split([1, 2], 1), 1), a.t().contiguous().t()])),
    ("unbind/narrow", lambda m, a: m.cat([a.unbind(1)[2], a.narrow(1, 0, 1).squeeze(1)])),
])
def test_forward_mode_jvp(name, fn, device):
    both_jvp(fn, arr((2, 3), dtype=np.float64), device=device)


def test_aliases_and_small_helpers(device):
    x = arr((2, 3, 4))
    both(lambda m, a: m.swapaxes(a, 0, 2) + m.swapdims(a, 2, 0), x, device=device)
    both(lambda m, a: m.moveaxis(a, -1, 0), x, device=device)
    both(lambda m, a: m.select(a, 1, -1), x, device=device)
    both(lambda m, a, b: m.broadcast_tensors(a, b), arr((3, 1)), arr((1, 4), seed=1),
         device=device)
    both(lambda m, a: (m.atleast_1d(a), m.atleast_2d(a)), arr(()), device=device)
    both(lambda m, a: m.dstack([a, a]), arr((2, 3)), device=device)
