"""Functions with several outputs, compared with torch.autograd.Function: one gradient per
output in backward (zeros for unused ones, or None without materialization), outputs
marked non-differentiable, saved outputs, double backward and forward mode."""
import numpy as np
import pytest
import torch

import zerograd as zg
from tests.oracle import assert_close, assert_on


class SinCos(zg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        s, c = ctx.xp.sin(x), ctx.xp.cos(x)
        ctx.save_for_backward(s, c)
        return s, c

    @staticmethod
    def backward(ctx, grad_s, grad_c):
        ctx.seen = (grad_s, grad_c)
        s, c = ctx.saved_tensors
        return grad_s * c - grad_c * s

    @staticmethod
    def jvp(ctx, tangent):
        s, c = ctx.fw_output
        return tangent * c, -tangent * s


class TorchSinCos(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        s, c = x.sin(), x.cos()
        ctx.save_for_backward(s, c)
        ctx.save_for_forward(s, c)
        return s, c

    @staticmethod
    def backward(ctx, grad_s, grad_c):
        ctx.seen = (grad_s, grad_c)
        s, c = ctx.saved_tensors
        return grad_s * c - grad_c * s

    @staticmethod
    def jvp(ctx, tangent):
        s, c = ctx.saved_tensors
        return tangent * c, -tangent * s


X = np.array([0.3, -1.2, 2.0, 0.7], dtype=np.float64)


def both(x=X, device="cpu"):
    z = zg.tensor(x, device=device, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    return z, t


def test_apply_returns_a_tuple_sharing_one_node(device):
    z, t = both(device=device)
    zs, zc = SinCos.apply(z)
    ts, tc = TorchSinCos.apply(t)
    assert_close(zs, ts)
    assert_close(zc, tc)
    assert_on(zs, device)
    assert zs.grad_fn is zc.grad_fn
    assert (zs.output_nr, zc.output_nr) == (ts.output_nr, tc.output_nr) == (0, 1)
    w = zs * zc
    assert [nr for _, nr in w.grad_fn.next_functions] == \
        [nr for _, nr in (ts * tc).grad_fn.next_functions] == [0, 1]


def test_both_outputs_used_gradients_match_torch(device):
    z, t = both(device=device)
    zs, zc = SinCos.apply(z)
    ts, tc = TorchSinCos.apply(t)
    (zs * 2 + zc * zc).sum().backward()
    (ts * 2 + tc * tc).sum().backward()
    assert_close(z.grad, t.grad)
    assert_on(z.grad, device)


def test_unused_output_gets_zeros_like_torch():
    z, t = both()
    zs, zc = SinCos.apply(z)
    ts, tc = TorchSinCos.apply(t)
    zc.sum().backward()
    tc.sum().backward()
    assert_close(z.grad, t.grad)
    (z_gs, z_gc), (t_gs, t_gc) = zc.grad_fn.seen, tc.grad_fn.seen
    assert_close(z_gs, t_gs)  # materialized zeros
    assert_close(z_gc, t_gc)


def test_set_materialize_grads_false_passes_none():
    class NoZeros(zg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g2, g3):
            ctx.seen = (g2, g3)
            return (0 if g2 is None else g2 * 2) + (0 if g3 is None else g3 * 3)

    z = zg.tensor([1.0, 2.0], requires_grad=True)
    a, b = NoZeros.apply(z)
    b.sum().backward()
    assert a.grad_fn.seen[0] is None
    assert z.grad.tolist() == [3.0, 3.0]


def test_mark_non_differentiable_and_integer_outputs():
    class MaxWithIndex(zg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            i = x.argmax(0)
            mask = (x == x.max()).astype(x.dtype)
            ctx.mark_non_differentiable(mask)
            ctx.save_for_backward(i)
            ctx.n = x.shape[0]
            return x[i], i, mask

        @staticmethod
        def backward(ctx, g, g_index, g_mask):
            ctx.seen = (g_index, g_mask)
            (i,) = ctx.saved_tensors
            return zg.nn.functional.one_hot(i, ctx.n).to(g.dtype) * g

    class TorchMaxWithIndex(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            i = x.argmax(0)
            mask = (x == x.max()).to(x.dtype)
            ctx.mark_non_differentiable(mask)
            ctx.save_for_backward(i)
            ctx.n = x.shape[0]
            return x[i], i, mask

        @staticmethod
        def backward(ctx, g, g_index, g_mask):
            ctx.seen = (g_index, g_mask)
            (i,) = ctx.saved_tensors
            return torch.nn.functional.one_hot(i, ctx.n).to(g.dtype) * g

    z, t = both()
    zv, zi, zm = MaxWithIndex.apply(z)
    tv, ti, tm = TorchMaxWithIndex.apply(t)
    for zo, to in ((zv, tv), (zi, ti), (zm, tm)):
        assert_close(zo, to)
        assert zo.requires_grad == to.requires_grad
        assert (zo.grad_fn is None) == (to.grad_fn is None)
    (zv * 5).backward()
    (tv * 5).backward()
    assert_close(z.grad, t.grad)
    for zs, ts in zip(zv.grad_fn.seen, tv.grad_fn.seen):
        assert_close(zs, ts)  # zeros, in the output's dtype (int64 for the index)


def test_double_backward_through_a_multi_output_node():
    z, t = both()
    zs, zc = SinCos.apply(z)
    ts, tc = TorchSinCos.apply(t)
    (zg_grad,) = zg.autograd.grad((zs * zc * zc).sum(), z, create_graph=True)
    (t_grad,) = torch.autograd.grad((ts * tc * tc).sum(), t, create_graph=True)
    assert_close(zg_grad, t_grad)
    (zg_grad * zg_grad).sum().backward()
    (t_grad * t_grad).sum().backward()
    assert_close(z.grad, t.grad)
    assert zg.autograd.gradcheck(lambda x: SinCos.apply(x), (z.detach().requires_grad_(),))
    assert zg.autograd.gradgradcheck(lambda x: SinCos.apply(x), (z.detach().requires_grad_(),))


def test_jvp_gives_one_tangent_per_output():
    from torch.autograd import forward_ad as tfw
    from zerograd.autograd import forward_ad as zfw
    tangent = np.array([1.0, 0.5, -2.0, 3.0])
    with zfw.dual_level():
        zs, zc = SinCos.apply(zfw.make_dual(zg.tensor(X), zg.tensor(tangent)))
        z_ts, z_tc = zfw.unpack_dual(zs).tangent, zfw.unpack_dual(zc).tangent
    with tfw.dual_level():
        ts, tc = TorchSinCos.apply(tfw.make_dual(torch.tensor(X), torch.tensor(tangent)))
        t_ts, t_tc = tfw.unpack_dual(ts).tangent, tfw.unpack_dual(tc).tangent
    assert_close(z_ts, t_ts)
    assert_close(z_tc, t_tc)


def test_saved_output_modified_in_place_is_caught_with_its_index():
    z, _ = both()
    zs, zc = SinCos.apply(z)
    with zg.no_grad():
        zc.add_(1)
    with pytest.raises(RuntimeError, match="output 1 of"):
        zs.sum().backward()


def test_saved_outputs_are_held_weakly():
    import gc
    import weakref
    z, _ = both()
    zs, zc = SinCos.apply(z)
    node = weakref.ref(zs.grad_fn)
    del zs, zc
    gc.collect()
    assert node() is None


def test_a_one_element_tuple_stays_a_tuple():
    class One(zg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return (x * 2,)

        @staticmethod
        def backward(ctx, g):
            return g * 2

    z = zg.tensor([1.0], requires_grad=True)
    out = One.apply(z)
    assert isinstance(out, tuple) and len(out) == 1
    out[0].sum().backward()
    assert z.grad.tolist() == [2.0]


def test_retain_grad_and_hooks_on_the_second_output():
    z, t = both()
    zs, zc = SinCos.apply(z)
    ts, tc = TorchSinCos.apply(t)
    for c in (zc, tc):
        c.retain_grad()
        c.register_hook(lambda g: g * 3)
    (zs + zc * 2).sum().backward()
    (ts + tc * 2).sum().backward()
    assert_close(zc.grad, tc.grad)
    assert_close(z.grad, t.grad)


# -- ops that are one node with several outputs -------------------------------------------------
def _sym(lib, x):
    return x @ x.mT + 4 * lib.eye(x.shape[-1], dtype=x.dtype, device=x.device)


def _pool(lib, x):
    return lib.nn.functional.max_pool2d(x.reshape(1, 1, 4, 4), 2, return_indices=True)


def _adaptive(lib, x):
    return lib.nn.functional.adaptive_max_pool2d(x.reshape(1, 1, 4, 4), 3, return_indices=True)


# (name, fn(lib, x) -> tuple of outputs, torch's grad_fn name or None where torch's differs)
CONVERTED = [
    ("max(dim)", lambda lib, x: lib.max(x, 1), "MaxBackward0"),
    ("min(dim, keepdim)", lambda lib, x: x.min(0, keepdim=True), "MinBackward0"),
    ("sort", lambda lib, x: x.sort(1, descending=True), "SortBackward0"),
    ("topk", lambda lib, x: x.topk(2, 0), "TopkBackward0"),
    ("eigh", lambda lib, x: lib.linalg.eigh(_sym(lib, x)), "LinalgEighBackward0"),
    ("split", lambda lib, x: x.split(3, 1), "SplitBackward0"),
    ("split sizes", lambda lib, x: x.split([1, 3], 1), None),
    ("chunk", lambda lib, x: x.chunk(2, 0), "SplitBackward0"),
    ("unbind", lambda lib, x: x.unbind(1), "UnbindBackward0"),
    ("max_pool2d indices", _pool, "MaxPool2DWithIndicesBackward0"),
    ("adaptive_max_pool2d indices", _adaptive, None),
]
SQUARE = np.random.default_rng(5).standard_normal((4, 4))


@pytest.mark.parametrize("name,fn,torch_name", CONVERTED, ids=[c[0] for c in CONVERTED])
def test_converted_op_is_one_node_with_several_outputs(name, fn, torch_name, device):
    from tests.oracle import check
    zs, _ = check(lambda x: fn(zg, x), lambda x: fn(torch, x), SQUARE, device=device)
    outs = fn(zg, zs[0].detach().requires_grad_())
    t_outs = fn(torch, torch.tensor(SQUARE, requires_grad=True))
    nodes = {id(o.grad_fn) for o in outs if o.is_floating_point()}
    assert len(nodes) == 1, f"{name}: {len(nodes)} nodes"
    for o, t in zip(outs, t_outs):
        assert o.requires_grad == t.requires_grad and (o.grad_fn is None) == (t.grad_fn is None)
    if torch_name is not None:
        assert outs[0].grad_fn.name() == t_outs[0].grad_fn.name() == torch_name


@pytest.mark.parametrize("name,fn,torch_name", CONVERTED, ids=[c[0] for c in CONVERTED])
def test_converted_op_forward_mode_and_second_derivatives(name, fn, torch_name):
    from tests.oracle import check_jvp

    def floats(lib, x):
        return tuple(o for o in fn(lib, x) if o.is_floating_point())

    check_jvp(lambda x: floats(zg, x), lambda x: floats(torch, x), SQUARE)
    x = zg.tensor(SQUARE, requires_grad=True)
    assert zg.autograd.gradgradcheck(lambda a: floats(zg, a), (x,), atol=1e-4)
