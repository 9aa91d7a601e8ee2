"""Shared fixtures for the optimizer tests: one tiny MLP written with plain tensor ops, run
identically in zerograd and in PyTorch from the same weights and the same batches.

``device`` places zerograd's parameters and batches (torch always runs on the CPU)."""
import numpy as np
import torch

import zerograd as zg

IN, HIDDEN, OUT, BATCH = 5, 8, 3, 16


def make_problem(steps, dtype=np.float32, seed=0):
    """Initial weights [W1, b1, W2, b2] and ``steps`` batches (x, y), as NumPy arrays."""
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal((HIDDEN, IN)) * 0.5, rng.standard_normal(HIDDEN) * 0.1,
               rng.standard_normal((OUT, HIDDEN)) * 0.5, rng.standard_normal(OUT) * 0.1]
    batches = [(rng.standard_normal((BATCH, IN)), rng.standard_normal((BATCH, OUT)))
               for _ in range(steps)]
    cast = lambda a: a.astype(dtype)  # noqa: E731
    return [cast(w) for w in weights], [(cast(x), cast(y)) for x, y in batches]


def mlp_loss(lib, params, x, y):
    """Mean squared error of tanh-MLP ``x @ W1.T + b1 -> tanh -> @ W2.T + b2``."""
    w1, b1, w2, b2 = params
    out = (x @ w1.T + b1).tanh() @ w2.T + b2
    return ((out - y) ** 2).mean()


def tensor(lib, array, device="cpu", **kwargs):
    """``lib.tensor(array)``, on ``device`` for zerograd."""
    if lib is zg:
        kwargs["device"] = device
    return lib.tensor(array, **kwargs)


def host(t):
    """A tensor's values as a NumPy array (copied from its device)."""
    return t.detach().cpu().numpy().copy()


def leaves(lib, arrays, device="cpu"):
    return [tensor(lib, a.copy(), device, requires_grad=True) for a in arrays]


def train(lib, build, weights, batches, sign=1.0, device="cpu"):
    """Run the textbook loop; ``build(lib, params) -> (optimizer, scheduler or None)``.

    Returns the final parameters, the learning rates seen at each step and the optimizer.
    ``sign=-1`` backpropagates the negated loss (for ``maximize=True`` configurations).
    """
    params = leaves(lib, weights, device)
    opt, sched = build(lib, params)
    lrs = []
    for x, y in batches:
        x, y = tensor(lib, x, device), tensor(lib, y, device)
        opt.zero_grad()
        loss = mlp_loss(lib, params, x, y) * sign
        loss.backward()
        opt.step()
        lrs.append([g["lr"] for g in opt.param_groups])
        if sched is not None:
            sched.step()
    return [host(p) for p in params], lrs, opt


def assert_params_close(zg_params, torch_params, rtol, atol, what=""):
    zg_params, torch_params = list(zg_params), list(torch_params)
    assert len(zg_params) == len(torch_params), \
        f"{what}: {len(zg_params)} parameters, torch has {len(torch_params)}"
    for i, (z, t) in enumerate(zip(zg_params, torch_params)):
        np.testing.assert_allclose(z, t, rtol=rtol, atol=atol, err_msg=f"{what} param {i}")


__all__ = ["make_problem", "mlp_loss", "tensor", "host", "leaves", "train",
           "assert_params_close", "zg", "torch"]
