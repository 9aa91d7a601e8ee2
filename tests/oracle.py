"""The one helper that compares zerograd with PyTorch on the same inputs: values and gradients.

Every op, layer and module test goes through it, and every helper takes ``device`` (the
``device`` fixture of tests/conftest.py): the zerograd side runs there and its results must
stay there, while torch runs on the CPU.

* ``check(zg_fn, torch_fn, *arrays)``: builds a zerograd and a torch tensor from each NumPy
  array (float arrays require grad), runs both functions, compares the outputs, then
  back-propagates the same random upstream gradient through both and compares the gradient
  of every input. ``both(fn, *arrays)`` is ``check`` for one function written against a
  library argument, ``fn(lib, *tensors)``; ``check_like_torch`` also accepts inputs torch
  refuses, if zerograd raises the same exception type.
* ``check_jvp(zg_fn, torch_fn, *arrays)``: forward mode, ``zerograd.func.jvp`` against
  ``torch.func.jvp`` (values and tangents); ``both_jvp(fn, *arrays)`` likewise.
* ``check_module(zg_module, torch_module, *arrays)``: a Module against torch's on the same
  weights: outputs (one or a tuple), input gradients, every parameter's gradient and the
  buffers after the call.
* ``assert_close`` (within a dtype's tolerance), ``assert_same`` (exactly: dtype, shape and
  values, also nested in tuples, lists and dicts) and ``assert_like`` (dtype and shape only)
  compare results.

``RECORDED`` serves tests/test_op_coverage.py: while it is a set, the helpers add the class
of every node in the backward graphs they check.
"""
import numpy as np
import torch

import zerograd as zg

TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-7, atol=1e-9)}

# None in normal runs; a set while tests/_op_recorder.py records which Functions are checked.
RECORDED = None


def record_graph(*tensors):
    """Add the class of every node reachable backwards from ``tensors`` to ``RECORDED``."""
    if RECORDED is None:
        return
    stack = [t.grad_fn for t in tensors if isinstance(t, zg.Tensor)]
    seen = set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        RECORDED.add(type(node))
        stack.extend(node._next)


# -- building inputs --------------------------------------------------------------------------
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


def _host(value):
    """A NumPy array of a zerograd tensor (any device), a torch tensor or a plain value."""
    if isinstance(value, zg.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    return np.asarray(value)


def _dtype_name(t):
    return str(t.dtype).split(".")[-1]


# -- comparing results --------------------------------------------------------------------------
def assert_like(actual, expected, what="value"):
    """Same dtype name and shape, values not compared (random results, for instance)."""
    assert _dtype_name(actual) == _dtype_name(expected), \
        f"{what}: dtype {actual.dtype} != {expected.dtype}"
    assert tuple(actual.shape) == tuple(expected.shape), \
        f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"


def assert_close(zg_value, torch_value, rtol=None, atol=None, what="value"):
    """Same shape (and dtype, for two tensors) and values within the dtype's tolerance."""
    z, t = _host(zg_value), _host(torch_value)
    assert z.shape == t.shape, f"{what}: shape {z.shape} != torch's {t.shape}"
    if isinstance(zg_value, zg.Tensor) and isinstance(torch_value, torch.Tensor):
        assert _dtype_name(zg_value) == _dtype_name(torch_value), \
            f"{what}: dtype {zg_value.dtype} != torch's {torch_value.dtype}"
    tol = TOL.get(z.dtype.type, dict(rtol=0, atol=0))
    np.testing.assert_allclose(z, t, rtol=rtol if rtol is not None else tol["rtol"],
                               atol=atol if atol is not None else tol["atol"], err_msg=what,
                               equal_nan=True)


def assert_same(actual, expected, what="value"):
    """Exactly equal: for tensors (zerograd or torch, either side) and arrays the same dtype
    name, shape and values (NaN equal to NaN, 0.0 to -0.0); containers (tuple, list, dict)
    of the same kind and length, compared item by item; anything else with ``==`` and the
    same type name."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and list(actual) == list(expected), \
            f"{what}: keys {list(actual)} != {list(expected)}"
        for k in expected:
            assert_same(actual[k], expected[k], f"{what}[{k!r}]")
    elif isinstance(expected, (tuple, list)) and not isinstance(expected, torch.Size):
        assert type(actual).__name__ == type(expected).__name__ and \
            len(actual) == len(expected), \
            f"{what}: {type(actual).__name__} of {len(actual)} != " \
            f"{type(expected).__name__} of {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_same(a, e, f"{what}[{i}]")
    elif isinstance(expected, (zg.Tensor, torch.Tensor, np.ndarray)):
        assert isinstance(actual, (zg.Tensor, torch.Tensor, np.ndarray)), \
            f"{what}: a {type(actual).__name__} where a tensor is expected"
        assert_like(actual, expected, what)
        np.testing.assert_array_equal(_host(actual), _host(expected), err_msg=what)
    else:
        assert type(actual).__name__ == type(expected).__name__, \
            f"{what}: type {type(actual).__name__} != {type(expected).__name__}"
        same_nan = isinstance(expected, float) and expected != expected and actual != actual
        assert same_nan or actual == expected, f"{what}: {actual!r} != {expected!r}"


def assert_on(tensor, device, what="value"):
    """``tensor`` lives on ``device`` (an op must not move results to the host)."""
    assert str(tensor.device) == str(zg.device(device)), \
        f"{what} is on {tensor.device}, expected {device}"


def _compare_outputs(z_out, t_out, rtol, atol, device):
    assert len(z_out) == len(t_out), f"{len(z_out)} outputs, torch has {len(t_out)}"
    for i, (z, t) in enumerate(zip(z_out, t_out)):
        if isinstance(z, zg.Tensor):
            assert_on(z, device, what=f"output {i}")
        assert_close(z, t, rtol, atol, what=f"output {i}")


def _backward_same_upstream(z_out, t_out, seed, device):
    """Back-propagate one random upstream gradient per differentiable output through both."""
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


def _compare_grad(z, t, rtol, atol, device, what):
    """``z.grad`` against torch's ``t.grad`` (no gradient on one side: zeros on the other)."""
    if t.grad is None:
        assert z.grad is None or not np.any(_host(z.grad)), f"{what}: torch has none"
    else:
        assert z.grad is not None, f"{what} is None, torch has one"
        assert_on(z.grad, device, what=what)
        assert_close(z.grad, t.grad, rtol, atol, what=what)


# -- functions ----------------------------------------------------------------------------------
def check(zg_fn, torch_fn, *arrays, rtol=None, atol=None, grad=True, seed=0,
          requires_grad=None, device="cpu"):
    """Run both frameworks on ``arrays``; compare outputs and input gradients.

    ``device``: where the zerograd inputs live; outputs and gradients must stay there.
    Returns the zerograd and torch input tensors.
    """
    zs = [to_zg(a, None if requires_grad is None else requires_grad[i], device)
          for i, a in enumerate(arrays)]
    ts = [to_torch(a, None if requires_grad is None else requires_grad[i])
          for i, a in enumerate(arrays)]
    z_out, t_out = _flatten(zg_fn(*zs)), _flatten(torch_fn(*ts))
    _compare_outputs(z_out, t_out, rtol, atol, device)
    record_graph(*z_out)
    if not grad:
        return zs, ts
    _backward_same_upstream(z_out, t_out, seed, device)
    for i, (z, t) in enumerate(zip(zs, ts)):
        if t.requires_grad:
            _compare_grad(z, t, rtol, atol, device, f"grad of input {i}")
    return zs, ts


def both(fn, *arrays, **kwargs):
    """``check`` with one function written against a library argument: ``fn(lib, *tensors)``."""
    return check(lambda *a: fn(zg, *a), lambda *a: fn(torch, *a), *arrays, **kwargs)


_ERRORS = (RuntimeError, IndexError, ValueError, TypeError)


def check_like_torch(zg_fn, torch_fn, *arrays, device="cpu", **kwargs):
    """``check`` when torch accepts the inputs; otherwise zerograd must raise the same type."""
    try:
        torch_fn(*[torch.tensor(a) for a in arrays])
    except _ERRORS as err:
        try:
            zg_fn(*[zg.tensor(a, device=device) for a in arrays])
        except type(err):
            return
        raise AssertionError(f"torch raised {type(err).__name__}({err}) but zerograd did not")
    check(zg_fn, torch_fn, *arrays, device=device, **kwargs)


def check_jvp(zg_fn, torch_fn, *arrays, seed=0, rtol=None, atol=None, device="cpu"):
    """Forward mode: ``zerograd.func.jvp`` against ``torch.func.jvp`` with the same random
    tangents (values and tangents compared; results must stay on ``device``)."""
    rng = np.random.default_rng(seed)
    tangents = [rng.standard_normal(a.shape).astype(a.dtype) for a in arrays]
    t_val, t_tan = torch.func.jvp(torch_fn, tuple(torch.tensor(a) for a in arrays),
                                  tuple(torch.tensor(t) for t in tangents))
    z_val, z_tan = zg.func.jvp(zg_fn, tuple(zg.tensor(a, device=device) for a in arrays),
                               tuple(zg.tensor(t, device=device) for t in tangents))
    for kind, z_res, t_res in (("value", z_val, t_val), ("tangent", z_tan, t_tan)):
        z_res, t_res = _flatten(z_res), _flatten(t_res)
        assert len(z_res) == len(t_res), f"{len(z_res)} {kind}s, torch has {len(t_res)}"
        for i, (z, t) in enumerate(zip(z_res, t_res)):
            assert_on(z, device, what=f"{kind} {i}")
            assert_close(z, t, rtol, atol, what=f"{kind} {i}")
    if RECORDED is not None:  # forward mode builds no graph: record one reverse-mode call
        record_graph(*_flatten(zg_fn(*[to_zg(a, device=device) for a in arrays])))


def both_jvp(fn, *arrays, **kwargs):
    """``check_jvp`` with one function written against a library argument."""
    return check_jvp(lambda *a: fn(zg, *a), lambda *a: fn(torch, *a), *arrays, **kwargs)


# -- modules ------------------------------------------------------------------------------------
def copy_params(zg_module, torch_module):
    """Load torch's parameters and buffers into zg_module (the names must agree)."""
    state = {k: zg.tensor(v.detach().numpy().copy()) for k, v in
             torch_module.state_dict().items()}
    zg_module.load_state_dict(state)


def check_module(zg_module, torch_module, *arrays, rtol=None, atol=None, seed=0,
                 requires_grad=None, copy=True, device="cpu"):
    """A zerograd Module against the torch Module of the same class on the same weights.

    Copies torch's parameters and buffers into ``zg_module`` (unless ``copy=False``), moves
    it to ``device``, runs both on the same inputs and compares: the outputs (one tensor or
    a tuple), then, after back-propagating the same random upstream gradient, every input
    gradient and every parameter's gradient, and finally the buffers (running statistics
    a forward may update). Returns both modules' outputs.
    """
    if copy:
        copy_params(zg_module, torch_module)
    zg_module.to(device)
    zs = [to_zg(a, None if requires_grad is None else requires_grad[i], device)
          for i, a in enumerate(arrays)]
    ts = [to_torch(a, None if requires_grad is None else requires_grad[i])
          for i, a in enumerate(arrays)]
    z_res, t_res = zg_module(*zs), torch_module(*ts)
    z_out, t_out = _flatten(z_res), _flatten(t_res)
    _compare_outputs(z_out, t_out, rtol, atol, device)
    record_graph(*z_out)
    _backward_same_upstream(z_out, t_out, seed, device)
    for i, (z, t) in enumerate(zip(zs, ts)):
        if t.requires_grad:
            _compare_grad(z, t, rtol, atol, device, f"grad of input {i}")
    z_params = dict(zg_module.named_parameters())
    t_params = dict(torch_module.named_parameters())
    assert list(z_params) == list(t_params), \
        f"parameters {list(z_params)} != torch's {list(t_params)}"
    for name, tp in t_params.items():
        _compare_grad(z_params[name], tp, rtol, atol, device, f"grad of {name}")
    z_buffers = dict(zg_module.named_buffers())
    t_buffers = dict(torch_module.named_buffers())
    assert list(z_buffers) == list(t_buffers), \
        f"buffers {list(z_buffers)} != torch's {list(t_buffers)}"
    for name, tb in t_buffers.items():
        assert_close(z_buffers[name], tb, rtol, atol, what=f"buffer {name}")
    return z_res, t_res
