"""The one helper that compares zerograd with PyTorch on the same inputs: values and gradients.

``check(zg_fn, torch_fn, *arrays)`` builds a zerograd tensor and a torch tensor from each
NumPy array (float arrays require grad), runs both functions, compares the outputs,
then back-propagates the same random upstream gradient through both and compares the
gradient of every input.
"""
import numpy as np
import torch

import zerograd as zg

TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-7, atol=1e-9)}


def to_zg(array, requires_grad=None, device="cpu"):
    t = zg.tensor(array, device=device)
    if requires_grad if requires_grad is not None else array.dtype.kind == "f":
        t.requires_grad_(True)
    return t


def to_torch(array, requires_grad=None):
    t = torch.tensor(array)
    if requires_grad if requires_grad is not None else array.dtype.kind == "f":
        t.requires_grad_(True)
    return t


def _flatten(out):
    if isinstance(out, (tuple, list)):
        result = []
        for o in out:
            result.extend(_flatten(o))
        return result
    return [out]


def assert_close(zg_value, torch_value, rtol=None, atol=None, what="value"):
    z = zg_value.detach().cpu().numpy() if isinstance(zg_value, zg.Tensor) \
        else np.asarray(zg_value)
    t = torch_value.detach().numpy() if isinstance(torch_value, torch.Tensor) \
        else np.asarray(torch_value)
    assert z.shape == t.shape, f"{what}: shape {z.shape} != torch's {t.shape}"
    if isinstance(zg_value, zg.Tensor) and isinstance(torch_value, torch.Tensor):
        assert str(zg_value.dtype).split(".")[-1] == str(torch_value.dtype).split(".")[-1], \
            f"{what}: dtype {zg_value.dtype} != torch's {torch_value.dtype}"
    tol = TOL.get(z.dtype.type, dict(rtol=0, atol=0))
    np.testing.assert_allclose(z, t, rtol=rtol if rtol is not None else tol["rtol"],
                               atol=atol if atol is not None else tol["atol"], err_msg=what,
                               equal_nan=True)


def assert_on(tensor, device, what="value"):
    """``tensor`` lives on ``device`` (an op must not move results to the host)."""
    assert str(tensor.device) == str(zg.device(device)), \
        f"{what} is on {tensor.device}, expected {device}"


def check(zg_fn, torch_fn, *arrays, rtol=None, atol=None, grad=True, seed=0,
          requires_grad=None, device="cpu"):
    """Run both frameworks on ``arrays``; compare outputs and input gradients.

    ``device``: where the zerograd inputs live; outputs and gradients must stay there.
    """
    zs = [to_zg(a, None if requires_grad is None else requires_grad[i], device)
          for i, a in enumerate(arrays)]
    ts = [to_torch(a, None if requires_grad is None else requires_grad[i])
          for i, a in enumerate(arrays)]
    z_out, t_out = _flatten(zg_fn(*zs)), _flatten(torch_fn(*ts))
    assert len(z_out) == len(t_out)
    for i, (z, t) in enumerate(zip(z_out, t_out)):
        if isinstance(z, zg.Tensor):
            assert_on(z, device, what=f"output {i}")
        assert_close(z, t, rtol, atol, what=f"output {i}")
    if not grad:
        return zs, ts
    rng = np.random.default_rng(seed)
    z_loss, t_loss = 0, 0
    for z, t in zip(z_out, t_out):
        if isinstance(t, torch.Tensor) and t.requires_grad:
            g = rng.standard_normal(tuple(t.shape)).astype(t.detach().numpy().dtype)
            z_loss = z_loss + (z * zg.tensor(g, device=device)).sum()
            t_loss = t_loss + (t * torch.tensor(g)).sum()
    if isinstance(t_loss, torch.Tensor):
        z_loss.backward()
        t_loss.backward()
    for i, (z, t) in enumerate(zip(zs, ts)):
        if t.requires_grad:
            if t.grad is None:
                assert z.grad is None or not np.any(z.grad.cpu().numpy()), f"grad of input {i}"
            else:
                assert z.grad is not None, f"grad of input {i} is None, torch has one"
                assert_on(z.grad, device, what=f"grad of input {i}")
                assert_close(z.grad, t.grad, rtol, atol, what=f"grad of input {i}")
    return zs, ts
