"""Check that an op's ``backward_array`` (the array-level fast path of its derivative)
agrees with its ``backward`` (the differentiable tensor form): the two copies of one
derivative must never drift apart.

    check_backward_array(lambda x: zg.nn.functional.gelu(x), x_array)

runs the op on zerograd tensors made from the arrays, then back-propagates the same
random upstream gradient twice: with ``create_graph=False`` (the engine calls
``backward_array``) and with ``create_graph=True`` (it calls ``backward``), and compares
the input gradients. It also asserts the op really has a ``backward_array``.
"""
import numpy as np

import zerograd as zg
from tests.oracle import assert_close


def _nodes(outputs):
    """Every Function node of the graph behind ``outputs``."""
    seen, stack = [], [o.grad_fn for o in outputs if o.grad_fn is not None]
    while stack:
        node = stack.pop()
        if node in seen or not hasattr(node, "backward_array"):
            continue
        seen.append(node)
        stack.extend(n for n in node._next if n is not None)
    return seen


def check_backward_array(fn, *arrays, seed=0, rtol=None, atol=None, device="cpu"):
    """``fn``'s input gradients from ``backward_array`` equal those from ``backward``."""
    inputs = [zg.tensor(a, device=device, requires_grad=a.dtype.kind == "f") for a in arrays]
    out = fn(*inputs)
    outputs = [o for o in (out if isinstance(out, (tuple, list)) else (out,))
               if isinstance(o, zg.Tensor) and o.requires_grad]
    assert any(type(n).backward_array is not None for n in _nodes(outputs)), \
        "no node of this graph defines backward_array"
    rng = np.random.default_rng(seed)
    grads = [zg.tensor(rng.standard_normal(tuple(o.shape)).astype(o.numpy(force=True).dtype),
                       device=device) for o in outputs]
    wrt = [t for t in inputs if t.requires_grad]
    fast = zg.autograd.grad(outputs, wrt, grads, retain_graph=True, allow_unused=True)
    exact = zg.autograd.grad(outputs, wrt, grads, create_graph=True, allow_unused=True)
    for i, (f, e) in enumerate(zip(fast, exact)):
        assert (f is None) == (e is None), f"input {i}: one path gives no gradient"
        if f is not None:
            assert str(f.device) == str(e.device)
            assert_close(f, e.detach(), rtol, atol, what=f"grad of input {i}")
