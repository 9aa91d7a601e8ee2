"""Backward hooks with torch's names, order and semantics: tensor hooks (leaves and
non-leaves), post-accumulate-grad hooks, grad_fn hooks and pre-hooks, Module full backward
hooks, removable handles, and the end-of-backward callback. Each scenario runs in both
frameworks and the logs of what the hooks saw are compared."""
import numpy as np
import pytest
import torch

import zerograd as zg
from tests.oracle import assert_close


def _vals(x):
    if x is None:
        return None
    if isinstance(x, (tuple, list)):
        return [_vals(v) for v in x]
    return np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x).tolist()


def _same(a, b):
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return bool(np.isclose(a, b, rtol=1e-5, atol=1e-6))
    return a == b


def _both(scenario):
    """Run ``scenario(lib, log)`` for zerograd and torch; their logs must be equal."""
    logs = []
    for lib in (zg, torch):
        log = []
        result = scenario(lib, log)
        logs.append((log, _vals(result)))
    assert _same(logs[0], logs[1]), f"zerograd: {logs[0]}\ntorch:    {logs[1]}"
    return logs[0]


def test_order_of_tensor_hooks_node_hooks_retain_grad_and_leaf_hooks():
    def scenario(lib, log):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y.retain_grad()  # registered first, still sees the hooked gradient (as in torch)
        y.register_hook(lambda g: (log.append(("tensor1", _vals(g))), g * 10)[1])
        y.grad_fn.register_prehook(lambda go: log.append(("pre", _vals(go))))
        y.grad_fn.register_hook(lambda gi, go: log.append(("post", _vals(gi[0]), _vals(go))))
        y.register_hook(lambda g: log.append(("tensor2", _vals(g))))
        x.register_hook(lambda g: (log.append(("leaf", _vals(g))), g + 1)[1])
        x.register_post_accumulate_grad_hook(lambda t: log.append(("acc", _vals(t.grad))))
        y.sum().backward()
        return y.grad, x.grad

    log, (y_grad, x_grad) = _both(scenario)
    assert [entry[0] for entry in log] == ["tensor1", "tensor2", "pre", "post", "leaf", "acc"]
    assert y_grad == [10.0, 10.0] and x_grad == [21.0, 21.0]


def test_hooks_on_a_leaf_accumulator_node():
    def scenario(lib, log):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        z = x * 3
        acc = z.grad_fn.next_functions[0][0]
        acc.register_prehook(lambda go: log.append(("accpre", _vals(go))))
        acc.register_hook(lambda gi, go: log.append(("accpost", _vals(gi), _vals(go))))
        x.register_hook(lambda g: (log.append("tensor"), g * 2)[1])
        z.sum().backward()
        return x.grad

    _both(scenario)


def test_grad_fn_hook_replaces_grad_inputs_and_prehook_replaces_grad_outputs():
    def scenario(lib, log):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([3.0, 4.0], requires_grad=True)
        y = a * b
        y.grad_fn.register_prehook(lambda go: (go[0] * 2,))
        y.grad_fn.register_hook(lambda gi, go: (gi[0], gi[1] * 0 + 7))
        y.sum().backward()
        return a.grad, b.grad

    _, (a_grad, b_grad) = _both(scenario)
    assert a_grad == [6.0, 8.0] and b_grad == [7.0, 7.0]


def test_autograd_grad_sees_hooked_gradient_unless_the_node_must_run_on():
    def scenario(lib, log):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        h = x * 2
        h.register_hook(lambda g: (log.append("h"), g * 100)[1])
        alone = lib.autograd.grad((h * 3).sum(), h)
        h = x * 2
        h.register_hook(lambda g: (log.append("h"), g * 100)[1])
        with_x = lib.autograd.grad((h * 3).sum(), [h, x])
        x.register_hook(lambda g: (log.append("leaf"), g + 1)[1])
        leaf = lib.autograd.grad((x * 3).sum(), x)
        return alone, with_x, leaf, x.grad

    _both(scenario)


def test_backward_with_inputs_runs_leaf_hooks_and_post_accumulate_hooks():
    def scenario(lib, log):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        w = lib.tensor([5.0, 5.0], requires_grad=True)
        x.register_hook(lambda g: (log.append("leaf"), g + 1)[1])
        x.register_post_accumulate_grad_hook(lambda t: log.append(("acc", _vals(t.grad))))
        w.register_post_accumulate_grad_hook(lambda t: log.append("w"))
        (x * w).sum().backward(inputs=[x])
        return x.grad, w.grad

    _both(scenario)


def test_handles_remove_hooks_and_work_as_context_managers():
    def scenario(lib, log):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        handle = y.register_hook(lambda g: g * 100)
        handle.remove()
        with x.register_hook(lambda g: g * 10):
            pass
        node_handle = y.grad_fn.register_prehook(lambda go: (go[0] * 3,))
        node_handle.remove()
        y.sum().backward()
        with x.register_hook(lambda g: g * 5):
            (x * 1).sum().backward()
        (x * 1).sum().backward()
        return x.grad

    _, grad = _both(scenario)
    assert grad == [8.0, 8.0]


def test_hooks_on_the_same_tensor_used_twice_see_the_sum():
    def scenario(lib, log):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        h = x.exp()
        h.register_hook(lambda g: log.append(_vals(g)))
        (h * h + h).sum().backward()
        return x.grad

    _both(scenario)


def test_hooks_under_create_graph_give_differentiable_gradients():
    def scenario(lib, log):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x ** 3
        y.register_hook(lambda g: g * x)  # the replacement depends on x
        (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        g.sum().backward()
        return g, x.grad

    _both(scenario)


def test_hook_registration_errors_match_torch():
    for lib in (zg, torch):
        with pytest.raises(RuntimeError, match="doesn't require gradient"):
            lib.tensor([1.0]).register_hook(lambda g: g)
        x = lib.tensor([1.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="non-leaf"):
            (x * 2).register_post_accumulate_grad_hook(lambda t: None)


def test_no_hook_tables_exist_until_a_hook_is_registered():
    x = zg.tensor([1.0], requires_grad=True)
    y = x * 2
    assert y.grad_fn._hooks is None and x._grad_accumulator._hooks is None
    y.register_hook(lambda g: g)
    assert y.grad_fn._hooks is not None


# -- the end-of-backward callback --------------------------------------------------------------
def test_queued_callback_runs_once_after_the_whole_backward():
    def scenario(lib, log):
        engine = lib.autograd.Variable._execution_engine
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([3.0, 4.0], requires_grad=True)

        def hook(g):
            log.append("hook")
            engine.queue_callback(lambda: log.append(("callback", _vals(a.grad), _vals(b.grad))))
        a.register_hook(hook)
        b.register_hook(lambda g: log.append("b hook"))
        (a * b).sum().backward()
        return a.grad

    log, _ = _both(scenario)
    assert log[-1][0] == "callback" and log[-1][2] == [1.0, 2.0]  # every grad is in


def test_callback_may_queue_another_and_nested_backward_has_its_own():
    log = []
    engine = zg.autograd.Variable._execution_engine
    x = zg.tensor([1.0], requires_grad=True)

    def hook(g):
        inner = zg.tensor([2.0], requires_grad=True)
        inner.register_hook(lambda g: engine.queue_callback(lambda: log.append("inner done")))
        with zg.enable_grad():  # hooks run in backward's grad mode (off), as in torch
            (inner * 3).sum().backward()  # a backward inside a hook: its own callbacks
        engine.queue_callback(lambda: (log.append("first"),
                                       engine.queue_callback(lambda: log.append("second"))))
    x.register_hook(hook)
    (x * 2).sum().backward()
    assert log == ["inner done", "first", "second"]
    for lib in (zg, torch):
        with pytest.raises(RuntimeError, match="during backward pass"):
            lib.autograd.Variable._execution_engine.queue_callback(lambda: None)


def test_variable_is_the_legacy_tensor_wrapper():
    for lib in (zg, torch):
        x = lib.ones(2)
        v = lib.autograd.Variable(x, requires_grad=True)
        assert isinstance(x, lib.autograd.Variable) and v.is_leaf and v.requires_grad
        assert v is not x and v.data_ptr() == x.data_ptr()


# -- Module full backward hooks ------------------------------------------------------------------
def _linear(lib):
    lib.manual_seed(0)
    lin = lib.nn.Linear(3, 2)
    with lib.no_grad():
        lin.weight.copy_(lib.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3)))
        lin.bias.copy_(lib.tensor([0.5, -0.5]))
    return lin


def test_module_full_backward_hooks_see_and_replace_like_torch():
    def scenario(lib, log):
        lin = _linear(lib)
        lin.register_full_backward_pre_hook(
            lambda m, go: (log.append(("pre", _vals(go))), (go[0] * 2,))[1])

        def hook(m, gi, go):
            log.append(("hook", m is lin, _vals(gi), _vals(go)))
            return (gi[0] * 10,)
        lin.register_full_backward_hook(hook)
        x = lib.ones(1, 3, requires_grad=True)
        (lin(x) * lib.tensor([[1.0, 2.0]])).sum().backward()
        return x.grad, lin.weight.grad, lin.bias.grad

    log, _ = _both(scenario)
    assert [entry[0] for entry in log] == ["pre", "hook"]


def test_module_backward_hook_when_no_input_requires_grad():
    def scenario(lib, log):
        lin = _linear(lib)
        lin.register_full_backward_hook(lambda m, gi, go: log.append((_vals(gi), _vals(go))))
        with pytest.warns(UserWarning, match="no inputs require gradients"):
            lin(lib.ones(2, 3)).sum().backward()
        return lin.weight.grad

    log, _ = _both(scenario)
    assert log[0][0] == [None]


def test_module_hooks_with_several_inputs_and_outputs_and_removal():
    def scenario(lib, log):
        class Split(lib.nn.Module):
            def forward(self, a, k, b):
                return a * b, a + k * b

        m = Split()
        handle = m.register_full_backward_hook(
            lambda mod, gi, go: log.append(("hook", _vals(gi), _vals(go))))
        pre = m.register_full_backward_pre_hook(lambda mod, go: log.append(("pre", _vals(go))))
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([3.0, 4.0], requires_grad=True)
        p, q = m(a, 2.0, b)
        (p * 3).sum().backward()  # q unused: its grad_output is zeros
        handle.remove()
        pre.remove()
        p, q = m(a, 2.0, b)
        (p + q).sum().backward()
        return a.grad, b.grad

    log, _ = _both(scenario)
    assert [entry[0] for entry in log] == ["pre", "hook"]


def test_module_backward_hooks_in_a_sequential_run_outputs_first():
    def scenario(lib, log):
        lib.manual_seed(0)
        net = lib.nn.Sequential(lib.nn.Linear(4, 3), lib.nn.ReLU(), lib.nn.Linear(3, 2))
        for name, module in net.named_children():
            module.register_full_backward_hook(
                lambda m, gi, go, name=name: log.append((name, _vals(go[0]).__len__())))
        x = lib.tensor(np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4), requires_grad=True)
        net(x).sum().backward()
        return None

    log, _ = _both(scenario)
    assert [name for name, _ in log] == ["2", "1", "0"]


def test_module_without_backward_hooks_calls_forward_directly():
    lin = zg.nn.Linear(2, 2)
    assert not lin._forward_hooks and not lin._forward_pre_hooks
    out = lin(zg.ones(1, 2))
    assert out.grad_fn.name() != "BackwardHookFunctionBackward0"
    assert_close(out, out)


def test_gradcheck_through_a_module_with_backward_hooks():
    lin = zg.nn.Linear(3, 2).double()
    seen = []
    lin.register_full_backward_hook(lambda m, gi, go: seen.append(len(gi)))
    lin.register_full_backward_pre_hook(lambda m, go: None)
    x = zg.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    assert zg.autograd.gradcheck(lin, (x,))
    assert zg.autograd.gradgradcheck(lin, (x,))
    assert seen
