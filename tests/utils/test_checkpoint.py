"""zerograd.utils.checkpoint: same values and gradients as without it (and as torch's),
the random state replayed so dropout matches, intermediates really dropped."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.utils.checkpoint as torch_checkpoint

import zerograd as zg
from tests.oracle import assert_close, assert_on
from zerograd.utils.checkpoint import checkpoint, checkpoint_sequential

WIDTH = 6


def _mlp(lib, n_blocks=4, dropout=0.0, device="cpu"):
    lib.manual_seed(0)
    layers = []
    for _ in range(n_blocks):
        layers += [lib.nn.Linear(WIDTH, WIDTH), lib.nn.Tanh()]
        if dropout:
            layers.append(lib.nn.Dropout(dropout))
    net = lib.nn.Sequential(*layers)
    rng = np.random.default_rng(1)
    with lib.no_grad():
        for p in net.parameters():
            p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32) * 0.5))
    return net.to(device) if lib is zg else net


def _run(lib, net, mode, seed=3, device="cpu", **kw):
    """(output, input grad, parameter grads) of sum(net(x)^2) with ``mode`` of checkpointing."""
    kwargs = {"device": device} if lib is zg else {}
    x = lib.tensor(np.linspace(-1, 1, 3 * WIDTH, dtype=np.float32).reshape(3, WIDTH),
                   requires_grad=True, **kwargs)
    ck = checkpoint if lib is zg else torch_checkpoint.checkpoint
    seq = checkpoint_sequential if lib is zg else torch_checkpoint.checkpoint_sequential
    lib.manual_seed(seed)
    blocks = [net[i:i + 2] for i in range(0, len(net), 2)] if mode.startswith("block") else None
    if mode == "plain":
        y = net(x)
    elif mode == "sequential":
        y = seq(net, 2, x, use_reentrant=False, **kw)
    else:
        y = x
        for block in blocks:
            y = ck(block, y, use_reentrant=mode == "block-reentrant", **kw)
    (y * y).sum().backward()
    return y, x.grad, [p.grad for p in net.parameters()]


@pytest.mark.parametrize("mode", ["block", "block-reentrant", "sequential"])
def test_same_values_and_gradients_as_without_checkpointing_and_as_torch(mode, device):
    zg_net, torch_net = _mlp(zg, device=device), _mlp(torch)
    plain = _run(zg, zg_net, "plain", device=device)
    for p in zg_net.parameters():
        p.grad = None
    got = _run(zg, zg_net, mode, device=device)
    expected = _run(torch, torch_net, mode)
    assert_close(got[0], plain[0])
    assert_close(got[0], expected[0])
    assert_on(got[1], device)
    for g, p_g, t_g in zip([got[1]] + got[2], [plain[1]] + plain[2],
                           [expected[1]] + expected[2]):
        assert_close(g, p_g)
        assert_close(g, t_g)


@pytest.mark.parametrize("mode", ["block", "block-reentrant"])
def test_dropout_mask_is_replayed_in_the_recomputation(mode):
    net = _mlp(zg, dropout=0.5)
    plain = _run(zg, net, "plain")
    for p in net.parameters():
        p.grad = None
    got = _run(zg, net, mode)
    assert_close(got[0], plain[0])
    for g, p_g in zip(got[2], plain[2]):
        assert_close(g, p_g)
    for p in net.parameters():
        p.grad = None
    # without replaying, the recomputation draws other masks: other (wrong) gradients
    unpreserved = _run(zg, net, mode, preserve_rng_state=False)
    assert not all(np.allclose(g.numpy(), p_g.numpy())
                   for g, p_g in zip(unpreserved[2], plain[2]))


def test_non_reentrant_recomputes_once_and_supports_grad_and_kwargs():
    calls = []

    def fn(a, *, scale):
        calls.append(1)
        return (a.sin() * scale).exp()

    x = zg.tensor([0.1, 0.2, 0.3], requires_grad=True)
    y = checkpoint(fn, x, scale=2.0, use_reentrant=False)
    assert len(calls) == 1
    (g,) = zg.autograd.grad(y.sum(), x)
    assert len(calls) == 2
    tx = torch.tensor([0.1, 0.2, 0.3], requires_grad=True)
    (tg,) = torch.autograd.grad((tx.sin() * 2.0).exp().sum(), tx)
    assert_close(g, tg)


def test_a_recomputation_that_saves_differently_is_refused():
    state = {"n": 0}

    def moody(a):
        state["n"] += 1
        return a.exp() if state["n"] == 1 else a.exp().exp()

    x = zg.tensor([0.1, 0.2], requires_grad=True)
    y = checkpoint(moody, x, use_reentrant=False)
    with pytest.raises(RuntimeError, match="different number"):
        y.sum().backward()


def test_use_reentrant_must_be_passed_like_torch():
    x = zg.tensor([1.0], requires_grad=True)
    with pytest.warns(UserWarning, match="use_reentrant"):
        checkpoint(lambda a: a * 2, x)
    with pytest.raises(ValueError, match="Unexpected keyword"):
        checkpoint(lambda a, b=1: a * b, x, b=2, use_reentrant=True)


def test_checkpointing_a_block_stack_saves_at_least_40_percent_of_activation_memory():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from bench_checkpoint import measure
    results = measure(blocks=8, width=64, batch=64)
    plain = results["plain"][0]
    for mode in ("checkpoint", "reentrant"):
        activation, _, loss = results[mode]
        assert loss == pytest.approx(results["plain"][2], rel=1e-6)
        assert activation <= 0.6 * plain, f"{mode}: {activation} bytes vs {plain} without"


@pytest.mark.parametrize("reentrant", [False, True])
def test_gradcheck_through_checkpoint(reentrant):
    x = zg.tensor(np.linspace(-1, 1, 4), requires_grad=True)
    w = zg.tensor(np.linspace(0.5, 2, 4), requires_grad=True)

    def segment(a, b):
        return (a.sin() * b).exp()

    assert zg.autograd.gradcheck(
        lambda a, b: checkpoint(segment, a, b, use_reentrant=reentrant), (x, w))
