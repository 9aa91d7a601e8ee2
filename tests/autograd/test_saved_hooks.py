"""autograd.graph.saved_tensors_hooks / save_on_cpu / disable_saved_tensors_hooks, compared
with torch: what the hooks see, that backward uses what unpack returns, that double
backward still connects through hooked saves."""
import numpy as np
import pytest
import torch

import zerograd as zg
from tests.oracle import assert_close, assert_on

A = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
B = np.array([[1.0, 2.0, -1.0], [0.5, -0.5, 3.0]])


def f(lib, a, b):
    return ((a * b).exp() * a).sum(1).tanh().sum()


def _pair(lib, device="cpu"):
    kw = {"device": device} if lib is zg else {}
    return (lib.tensor(A, requires_grad=True, **kw), lib.tensor(B, requires_grad=True, **kw))


def test_hooks_see_every_saved_tensor_and_backward_uses_what_unpack_returns():
    grads = []
    for lib in (zg, torch):
        packed, unpacked = [], []

        def pack(t):
            packed.append(tuple(t.shape))
            return t.detach().numpy().copy()  # anything may stand for the tensor

        def unpack(array):
            unpacked.append(array.shape)
            return lib.tensor(array)

        a, b = _pair(lib)
        with lib.autograd.graph.saved_tensors_hooks(pack, unpack):
            loss = f(lib, a, b)
        assert packed and len(unpacked) == 0
        loss.backward()
        assert len(unpacked) >= 1
        grads.append((a.grad, b.grad))
    assert_close(grads[0][0], grads[1][0])
    assert_close(grads[0][1], grads[1][1])


def test_hooks_apply_only_inside_the_context():
    seen = []
    a, b = _pair(zg)
    c = a * b  # saved outside: kept as is
    with zg.autograd.graph.saved_tensors_hooks(lambda t: seen.append(1) or t, lambda t: t):
        d = c.exp()
    n = len(seen)
    (d * a).sum().backward()
    assert n >= 1 and len(seen) == n


def test_double_backward_through_hooked_saves_matches_torch():
    results = []
    for lib in (zg, torch):
        a, b = _pair(lib)
        with lib.autograd.graph.saved_tensors_hooks(lambda t: t.clone(), lambda t: t):
            loss = f(lib, a, b)
            (ga, gb) = lib.autograd.grad(loss, (a, b), create_graph=True)
        (ga.pow(2).sum() + gb.sum()).backward()
        results.append((ga, a.grad, b.grad))
    for z, t in zip(*results):
        assert_close(z, t)


def test_no_version_check_on_hooked_saves_as_in_torch():
    # a copying pack hook makes a later in-place change harmless, in both frameworks
    grads = []
    for lib in (zg, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        a = x * 1
        with lib.autograd.graph.saved_tensors_hooks(lambda t: t.clone(), lambda t: t):
            y = a * a
        with lib.no_grad():
            a.add_(1)
        y.sum().backward()
        grads.append(x.grad)
    assert_close(*grads)
    assert grads[0].tolist() == [2.0, 4.0]


def test_unpack_must_return_a_tensor():
    a, b = _pair(zg)
    with zg.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: 3):
        loss = f(zg, a, b)
    with pytest.raises(TypeError, match="unpack_hook"):
        loss.backward()


def test_disable_saved_tensors_hooks():
    for lib in (zg, torch):
        graph = lib.autograd.graph
        with graph.disable_saved_tensors_hooks("hooks are off here"):
            with pytest.raises(RuntimeError, match="hooks are off here"):
                with graph.saved_tensors_hooks(lambda t: t, lambda t: t):
                    pass
        with graph.saved_tensors_hooks(lambda t: t, lambda t: t):
            pass  # allowed again


def test_save_on_cpu_brings_tensors_back_to_their_device(device):
    a, b = _pair(zg, device)
    with zg.autograd.graph.save_on_cpu():
        loss = f(zg, a, b)
    loss.backward()
    ta, tb = _pair(torch)
    f(torch, ta, tb).backward()
    assert_on(a.grad, device)
    assert_close(a.grad, ta.grad)
    assert_close(b.grad, tb.grad)


def test_saved_output_under_hooks_keeps_its_node():
    # an op saving its own output (exp): the unpacked tensor must still be that output
    x = zg.tensor([0.5, 1.0], requires_grad=True)
    with zg.autograd.graph.saved_tensors_hooks(lambda t: t.detach().clone(), lambda t: t):
        y = x.exp()
    (g,) = zg.autograd.grad(y.sum(), x, create_graph=True)
    (gg,) = zg.autograd.grad(g.sum(), x)
    tx = torch.tensor([0.5, 1.0], requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(lambda t: t.detach().clone(), lambda t: t):
        ty = tx.exp()
    (tg,) = torch.autograd.grad(ty.sum(), tx, create_graph=True)
    (tgg,) = torch.autograd.grad(tg.sum(), tx)
    assert_close(gg, tgg)
