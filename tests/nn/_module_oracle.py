"""Compare a zerograd Module with the torch Module of the same class on the same weights.

``check_module(zg_module, torch_module, *arrays)`` copies every parameter and buffer of
the torch module into the zerograd one (through NumPy), runs both on the same inputs,
back-propagates the same random upstream gradient, and compares the outputs, the input
gradients and every parameter gradient.
"""
import numpy as np
import torch

import zerograd as zg
from tests.oracle import assert_close, to_torch, to_zg


def copy_params(zg_module, torch_module):
    """Load torch's parameters and buffers into zg_module (the names must agree)."""
    state = {k: zg.tensor(v.detach().numpy().copy()) for k, v in
             torch_module.state_dict().items()}
    zg_module.load_state_dict(state)


def check_module(zg_module, torch_module, *arrays, rtol=None, atol=None, seed=0,
                 requires_grad=None, copy=True):
    if copy:
        copy_params(zg_module, torch_module)
    zs = [to_zg(a, None if requires_grad is None else requires_grad[i])
          for i, a in enumerate(arrays)]
    ts = [to_torch(a, None if requires_grad is None else requires_grad[i])
          for i, a in enumerate(arrays)]
    z_out, t_out = zg_module(*zs), torch_module(*ts)
    assert_close(z_out, t_out, rtol, atol, what="output")
    if not t_out.requires_grad:
        return z_out, t_out
    g = np.random.default_rng(seed).standard_normal(tuple(t_out.shape)).astype(
        t_out.detach().numpy().dtype)
    (z_out * zg.tensor(g)).sum().backward()
    (t_out * torch.tensor(g)).sum().backward()
    for i, (z, t) in enumerate(zip(zs, ts)):
        if t.requires_grad:
            assert_close(z.grad, t.grad, rtol, atol, what=f"grad of input {i}")
    z_params = dict(zg_module.named_parameters())
    for name, tp in torch_module.named_parameters():
        zp = z_params[name]
        if tp.grad is None:
            assert zp.grad is None or not np.any(zp.grad.numpy()), f"grad of {name}"
        else:
            assert zp.grad is not None, f"{name} got no gradient"
            assert_close(zp.grad, tp.grad, rtol, atol, what=f"grad of {name}")
    return z_out, t_out
