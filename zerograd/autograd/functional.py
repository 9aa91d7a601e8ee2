"""``zerograd.autograd.functional``: torch.autograd.functional's API on top of ``zerograd.func``.

Inputs may be one tensor or a tuple of tensors; results follow torch's nesting: a
Jacobian is a tensor for one input and one output, a tuple per input (or per output),
and a tuple of tuples for several of both.
"""
from zerograd import func as _func
from zerograd.tensor import Tensor

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _as_tuple(x):
    return (tuple(x), True) if isinstance(x, (tuple, list)) else ((x,), False)


def _maybe_detach(x, create_graph):
    if create_graph:
        return x
    if isinstance(x, tuple):
        return tuple(_maybe_detach(v, False) for v in x)
    return x.detach() if isinstance(x, Tensor) else x


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T J)``; ``v`` may be omitted for a scalar output."""
    inputs_t, tuple_in = _as_tuple(inputs)
    out, fn = _func.vjp(func, *inputs_t)
    outs, _ = _as_tuple(out)
    if v is None:
        if any(o.numel() != 1 for o in outs):
            raise RuntimeError("The vector v can only be None if the user-provided function "
                               "returns a single Tensor with a single element.")
        from zerograd.ops.creation import ones_like
        v = tuple(ones_like(o) for o in outs)
    v_t, _ = _as_tuple(v)
    grads = fn(*v_t)
    return _maybe_detach(out, create_graph), _maybe_detach(grads if tuple_in else grads[0],
                                                           create_graph)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J v)`` computed in forward mode."""
    inputs_t, tuple_in = _as_tuple(inputs)
    if v is None:
        if any(x.numel() != 1 for x in inputs_t):
            raise RuntimeError("The vector v can only be None if the input to the user-provided "
                               "function is a single Tensor with a single element.")
        from zerograd.ops.creation import ones_like
        v = tuple(ones_like(x) for x in inputs_t)
    v_t, _ = _as_tuple(v)
    out, tangent = _func.jvp(lambda *a: func(*a) if tuple_in else func(a[0]), inputs_t, v_t)
    return _maybe_detach(out, create_graph), _maybe_detach(tangent, create_graph)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: shape ``out.shape + in.shape`` per pair."""
    inputs_t, tuple_in = _as_tuple(inputs)
    argnums = tuple(range(len(inputs_t)))
    make = _func.jacrev if strategy == "reverse-mode" else _func.jacfwd
    probe = func(*inputs_t)
    outs, tuple_out = _as_tuple(probe)
    per_output = []
    for k in range(len(outs)):
        def pick(*a, k=k):
            r = func(*a)
            return r[k] if tuple_out else r
        per_output.append(tuple(make(pick, argnums)(*inputs_t)))
    if not tuple_out and not tuple_in:
        result = per_output[0][0]
    elif not tuple_out:
        result = per_output[0]
    elif not tuple_in:
        result = tuple(p[0] for p in per_output)
    else:
        result = tuple(per_output)
    return _maybe_detach(result, create_graph)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar ``func``: shape ``in.shape + in.shape`` per pair of inputs."""
    inputs_t, tuple_in = _as_tuple(inputs)
    argnums = tuple(range(len(inputs_t)))
    rows = []
    for i in argnums:
        def grad_i(*a, i=i):
            return _func.grad(func, argnums=i)(*a)
        make = _func.jacrev if outer_jacobian_strategy == "reverse-mode" else _func.jacfwd
        rows.append(tuple(make(grad_i, argnums)(*inputs_t)))
    result = rows[0][0] if not tuple_in else tuple(rows)
    return _maybe_detach(result, create_graph)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T H)`` by reverse-over-reverse."""
    inputs_t, tuple_in = _as_tuple(inputs)
    v_t, _ = _as_tuple(v)
    grads = None

    def grad_dot_v(*a):
        g = _func.grad(func, argnums=tuple(range(len(a))))(*a)
        total = 0
        for gi, vi in zip(g, v_t):
            total = total + (gi * vi).sum()
        return total

    value = func(*inputs_t)
    grads = _func.grad(grad_dot_v, argnums=tuple(range(len(inputs_t))))(*inputs_t)
    return _maybe_detach(value, create_graph), _maybe_detach(
        grads if tuple_in else grads[0], create_graph)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), H v)``; equal to vhp for the symmetric Hessian of a smooth function."""
    return vhp(func, inputs, v, create_graph, strict)
