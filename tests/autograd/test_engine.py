"""The backward engine: accumulation, diamonds, no_grad, graph release, deep chains, errors."""
import gc
import weakref

import numpy as np
import pytest
import torch

import zerograd as zg
from tests.oracle import assert_close


def test_gradients_accumulate_across_backward_calls():
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    for _ in range(3):
        (x * x).sum().backward()
    assert_close(x.grad, torch.tensor([6.0, 12.0]))


def test_diamond_graph_sums_both_paths():
    x = zg.tensor(3.0, requires_grad=True)
    a = x * 2
    y = a * a + a.exp()
    y.backward()
    tx = torch.tensor(3.0, requires_grad=True)
    ta = tx * 2
    (ta * ta + ta.exp()).backward()
    assert_close(x.grad, tx.grad)


def test_same_tensor_used_twice_does_not_alias_grads():
    a = zg.tensor([1.0, 2.0], requires_grad=True)
    b = zg.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad.mul_(5)
    assert b.grad.tolist() == [1.0, 1.0]


def test_non_leaf_grad_is_none_unless_retained():
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    z = x * 4
    z.retain_grad()
    (y.sum() + z.sum()).backward()
    assert y.grad is None
    assert z.grad.tolist() == [1.0, 1.0]
    assert y.is_leaf is False and x.is_leaf is True


def test_no_grad_records_nothing_and_decorator_form():
    x = zg.ones(2, requires_grad=True)
    with zg.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None

    @zg.no_grad()
    def f(t):
        return t * 2

    @zg.no_grad
    def g(t):
        return t * 2

    assert not f(x).requires_grad and not g(x).requires_grad
    with zg.no_grad():
        with zg.enable_grad():
            assert (x * 2).requires_grad
    with zg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert zg.is_grad_enabled()


def test_grad_fn_names_like_torch():
    x = zg.ones(2, requires_grad=True)
    assert (x * 2).grad_fn.name() == "MulBackward0"
    assert "AddBackward0" in repr(x + 1)
    assert repr(x) == "tensor([1., 1.], requires_grad=True)"
    (leaf_edge,) = [n for n, _ in (x * x).grad_fn.next_functions][:1]
    assert leaf_edge.name() == "AccumulateGrad" and leaf_edge.variable is x


def test_backward_twice_through_freed_graph_raises():
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0]


def test_graph_is_freed_after_backward():
    x = zg.randn(1000, requires_grad=True)
    y = x.exp()
    ref = weakref.ref(y.grad_fn)
    loss = y.sum()
    del y
    loss.backward()
    del loss
    gc.collect()
    assert ref() is None


def test_deep_chain_has_no_recursion_limit():
    x = zg.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert abs(x.grad.item() - 1.0001 ** 10_000) < 1e-2 * 1.0001 ** 10_000


def test_non_scalar_backward_needs_gradient():
    x = zg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"only for scalar outputs.*shape \(3,\)"):
        (x * 2).backward()
    (x * 2).backward(zg.tensor([1.0, 2.0, 3.0]))
    assert x.grad.tolist() == [2.0, 4.0, 6.0]


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        zg.ones(2).sum().backward()


def test_inplace_on_leaf_requiring_grad_raises_outside_no_grad():
    w = zg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.add_(1)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w[0] = 5.0
    with zg.no_grad():
        w -= 0.5 * zg.ones(3)
    assert w.tolist() == [0.5, 0.5, 0.5] and w.requires_grad


def test_saved_tensor_modified_inplace_raises():
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    z = (y * y).sum()
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()


def test_setitem_with_autograd_matches_torch():
    def run(lib, w):
        x = lib.zeros(4)
        x[1:3] = w * 2
        x[0] = w[0] ** 2
        return (x * lib.arange(1, 5)).sum()

    w = zg.tensor([1.5, -2.0], requires_grad=True)
    tw = torch.tensor([1.5, -2.0], requires_grad=True)
    run(zg, w).backward()
    run(torch, tw).backward()
    assert_close(w.grad, tw.grad)


def test_inplace_on_non_leaf_is_differentiable():
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    for lib, t in ((zg, x), (torch, tx)):
        y = t * 3
        y += t * t
        y.mul_(2)
        y.sum().backward()
    assert_close(x.grad, tx.grad)


def test_autograd_grad_second_order_and_allow_unused():
    x = zg.tensor([0.5, -1.0], requires_grad=True)
    unused = zg.tensor(1.0, requires_grad=True)
    y = (x ** 3).sum()
    (g,) = zg.autograd.grad(y, x, create_graph=True)
    (h,) = zg.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 6 * x.detach().numpy())
    assert x.grad is None  # autograd.grad does not accumulate
    with pytest.raises(RuntimeError, match="not have been used"):
        zg.autograd.grad((x * 2).sum(), [x, unused])
    gx, gu = zg.autograd.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gu is None and gx.tolist() == [2.0, 2.0]


def test_grad_wrt_non_leaf_intermediate():
    x = zg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    y = (h * h).sum()
    (gh,) = zg.autograd.grad(y, h)
    assert gh.tolist() == [4.0, 8.0]


def test_broadcast_gradient_summed_to_input_shape():
    a = zg.ones(3, 1, requires_grad=True)
    b = zg.ones(4, requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (3, 1) and a.grad.tolist() == [[4.0]] * 3
    assert b.grad.tolist() == [3.0] * 4


def test_float64_float32_mix_gives_grads_in_input_dtype():
    a = zg.ones(2, dtype=zg.float32, requires_grad=True)
    b = zg.ones(2, dtype=zg.float64, requires_grad=True)
    out = a * b
    assert out.dtype == zg.float64
    out.sum().backward()
    assert a.grad.dtype == zg.float32 and b.grad.dtype == zg.float64


def test_leaf_grad_never_aliases_user_gradient_or_other_leaves():
    x = zg.ones(3, requires_grad=True)
    g = zg.tensor([1.0, 2.0, 3.0])
    y = x.reshape(3)
    y.backward(g)
    x.grad.mul_(10)
    assert g.tolist() == [1.0, 2.0, 3.0]
    a = zg.ones(2, 2, requires_grad=True)
    b = zg.ones(2, 2, requires_grad=True)
    (a * 1 + b.t()).sum().backward()
    a.grad.zero_()
    assert b.grad.tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_fresh_gradient_is_stored_without_copy():
    w = zg.ones(4, 3, requires_grad=True)
    x = zg.ones(5, 4)
    (x @ w).sum().backward()
    assert w.grad._data.base is None and w.grad._data.flags.writeable


def test_three_input_op_sending_one_gradient_twice_does_not_alias():
    a = zg.ones(2, requires_grad=True)
    b = zg.ones(2, requires_grad=True)
    c = zg.ones(2, requires_grad=True)
    zg.cat([a, b, c]).sum().backward()
    zg.stack([a, b, c]).sum().backward()
    a.grad.mul_(3)
    assert b.grad.tolist() == [2.0, 2.0] and c.grad.tolist() == [2.0, 2.0]


def test_gradient_on_another_device_than_its_input_is_an_internal_error():
    from tests.standin_device import DEVICE

    class HostGrad(zg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad_output):  # wrong: builds its gradient on the host
            return zg.tensor(np.ones(grad_output.shape, dtype=np.float32))

    x = zg.ones(3, device=DEVICE, requires_grad=True)
    with pytest.raises(RuntimeError, match="internal error: HostGradBackward0 returned a "
                                           "gradient on device 'cpu'"):
        HostGrad.apply(x).sum().backward()


def test_leaf_gradients_are_delivered_in_torchs_order():
    # leaves first (torch gives AccumulateGrad the highest priority), in input order
    def order(lib):
        log = []
        leaves = {n: lib.tensor(np.full((2, 2), 0.5), requires_grad=True)
                  for n in ("w1", "b1", "w2", "b2", "a", "b", "c")}
        for n, t in leaves.items():
            t.register_hook(lambda g, n=n: log.append(n))
        p = leaves
        x = lib.ones(2, 2, dtype=lib.float64)
        y = ((x @ p["w1"] + p["b1"]).relu() @ p["w2"] + p["b2"]).sum()
        (y + (p["a"] * p["b"] * p["c"]).sum()).backward()
        return log

    assert order(zg) == order(torch)


def test_array_level_backward_runs_unless_a_graph_of_the_derivative_is_built():
    calls = []

    class Cube(zg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad_output):
            calls.append("backward")
            (x,) = ctx.saved_tensors
            return grad_output * 3 * x * x

        @staticmethod
        def backward_array(ctx, grad_output):
            calls.append("backward_array")
            (x,) = ctx.saved_tensors
            return grad_output * 3 * x._data * x._data

    x = zg.tensor([1.0, 2.0], requires_grad=True)
    Cube.apply(x).sum().backward()
    assert calls == ["backward_array"] and x.grad.tolist() == [3.0, 12.0]
    (g,) = zg.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    assert calls[-1] == "backward"
    (gg,) = zg.autograd.grad(g.sum(), x)
    assert gg.tolist() == [6.0, 12.0]


def test_backward_array_check_catches_a_drifted_fast_path():
    from tests.autograd.backward_array_check import check_backward_array

    def cube(wrong):
        class Cube(zg.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x ** 3

            @staticmethod
            def backward(ctx, grad_output):
                (x,) = ctx.saved_tensors
                return grad_output * 3 * x * x

            @staticmethod
            def backward_array(ctx, grad_output):
                (x,) = ctx.saved_tensors
                return grad_output * (2 if wrong else 3) * x._data * x._data
        return Cube.apply

    x = np.array([0.5, -1.0, 2.0])
    check_backward_array(cube(wrong=False), x)
    with pytest.raises(AssertionError):
        check_backward_array(cube(wrong=True), x)


def test_gradcheck_and_gradgradcheck_work_on_any_device(device):
    x = zg.tensor(np.linspace(-1, 1, 5), device=device, requires_grad=True)
    assert zg.autograd.gradcheck(lambda t: (t.sin() * t).exp(), (x,))
    assert zg.autograd.gradgradcheck(lambda t: (t.sin() * t).exp(), (x,))


def test_gradients_meeting_at_a_node_add_in_place_without_touching_what_others_see():
    # w feeds four products: the engine adds the four gradients into the first in place
    # (it owns that array); what a post hook or a tensor hook was shown must not change.
    seen = []
    w_np = np.arange(1.0, 4.0, dtype=np.float32)
    zw, tw = zg.tensor(w_np, requires_grad=True), torch.tensor(w_np, requires_grad=True)
    outs = []
    for w in (zw, tw):
        h = w * 1.5
        parts = [h * float(k) for k in range(1, 5)]
        if w is zw:
            for p in parts:
                p.grad_fn.register_hook(lambda gi, go: seen.append((gi[0].clone(), gi[0])))
        outs.append(sum(p.sum() for p in parts))
    outs[0].backward()
    outs[1].backward()
    assert_close(zw.grad.numpy(), tw.grad.numpy())
    assert len(seen) == 4
    for copy, shown in seen:  # the hooks' tensors were not added into
        assert np.array_equal(copy.numpy(), shown.numpy())


def test_implicit_root_gradient_may_be_changed_by_a_hook():
    x = zg.ones(3, requires_grad=True)
    y = (x * 2).sum()
    y.register_hook(lambda g: g.mul_(3))
    y.backward()
    y2 = (x * 2).sum()
    y2.backward()
    assert x.grad.tolist() == [8.0, 8.0, 8.0]


def test_relu_writes_its_mask_into_an_owned_gradient_only():
    x = zg.tensor([[-1.0, 2.0], [3.0, -4.0]], requires_grad=True)
    g = zg.ones(2, 2)
    x.relu().backward(g)  # the caller's gradient: never written into
    assert g.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert x.grad.tolist() == [[0.0, 1.0], [1.0, 0.0]]
    seen = []
    x.grad = None
    y = (x * 3).relu()
    y.register_hook(lambda grad: seen.append((grad.clone(), grad)))  # a hook sees it
    (y * 2).sum().backward()
    copy, shown = seen[0]
    assert np.array_equal(copy.numpy(), shown.numpy())
    assert x.grad.tolist() == [[0.0, 6.0], [6.0, 0.0]]
    x.grad = None
    (x * 3).relu().mul(2).sum().backward()  # owned: in place, same result
    assert x.grad.tolist() == [[0.0, 6.0], [6.0, 0.0]]
