"""``zerograd.func``'s ``grad``, ``grad_and_value`` and ``vjp`` (reverse mode) and ``jvp``
(forward mode)."""
import functools

from zerograd.autograd import forward_ad
from zerograd.autograd._pytree import tree_flatten, tree_unflatten
from zerograd.autograd._transforms import jvp_leaves
from zerograd.autograd.grad_mode import enable_grad, is_grad_enabled
from zerograd.func._common import (
    _Reverse, _check_argnums, _check_outputs, _check_tensors, _grads)
from zerograd.tensor import Tensor

__all__ = ["grad", "grad_and_value", "vjp", "jvp"]


# -- grad, vjp ------------------------------------------------------------------------------------
def grad_and_value(func, argnums=0, has_aux=False):
    """A function returning ``(gradient, value)`` of a scalar-valued ``func``
    (``(gradient, (value, aux))`` with ``has_aux``)."""
    api = "grad_and_value(f)(*args)"

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nums = _check_argnums(argnums, len(args))
        run = _Reverse(func, args, kwargs, nums, has_aux, api)
        out = run.output
        if not isinstance(out, Tensor):
            raise RuntimeError(f"{api}: Expected f(*args) to return a Tensor, got {type(out)}")
        if out.ndim != 0:
            raise RuntimeError(f"{api}: Expected f(*args) to return a scalar Tensor, got tensor "
                               f"with {out.ndim} dims. Maybe you wanted to use the vjp or "
                               "jacrev APIs instead?")
        with enable_grad():
            g = _grads([out], run.inputs, [None], run.create_graph)
        g = run.finish(tree_unflatten(g, run.in_spec))
        value = run.finish(out)
        return (g, (value, run.finish(run.aux))) if has_aux else (g, value)

    return wrapper


def grad(func, argnums=0, has_aux=False):
    """The gradient of a scalar-valued ``func`` w.r.t. its ``argnums`` argument(s), with the
    structure of those arguments (a dict of parameters gives a dict of gradients)."""
    inner = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, value = inner(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapper


def vjp(func, *primals, has_aux=False):
    """``(func(*primals), vjp_fn)``: ``vjp_fn(cotangents)`` gives ``v^T J`` for every primal.

    ``cotangents`` must have the structure of ``func``'s output; the result is a tuple
    with one entry (of the primal's structure) per primal.
    """
    api = "vjp(f, *primals)"
    run = _Reverse(func, primals, {}, None, has_aux, api)
    _check_outputs(run.flat_out, api)
    for o in run.flat_out:
        if not o.is_floating_point():
            raise RuntimeError("vjp(f, ...): All outputs of f must be floating-point or complex "
                               f"Tensors, got Tensor with dtype {o.dtype}")

    def vjp_fn(cotangents, retain_graph=True, create_graph=None):
        flat_cot, cot_spec = tree_flatten(cotangents)
        if cot_spec != run.out_spec:
            raise RuntimeError("Expected pytree structure of cotangents to be the same as pytree "
                               f"structure of outputs to the function. cotangents: {cot_spec}, "
                               f"primal output: {run.out_spec}")
        _check_tensors(flat_cot)
        # asked for, or needed to differentiate w.r.t. the cotangents (the double-vjp trick)
        wanted = bool(create_graph) or (create_graph is None and is_grad_enabled() and
                                        any(c._requires_grad for c in flat_cot))
        with enable_grad():
            g = _grads(run.flat_out, run.inputs, flat_cot,
                       wanted or run.create_graph or forward_ad.is_active())
        g = tree_unflatten(g, run.in_spec)
        return g if wanted else run.finish(g)

    result = run.finish(run.output)
    return (result, vjp_fn, run.finish(run.aux)) if has_aux else (result, vjp_fn)


# -- jvp -----------------------------------------------------------------------------------------
def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """``(func(*primals), J @ tangents)`` by true forward-mode AD: one forward pass."""
    api = "jvp(f, primals, tangents)"
    if not isinstance(primals, tuple):
        raise RuntimeError(f"{api}: Expected primals to be a tuple. E.g. it should be valid to "
                           "call f(*primals).")
    flat_p, spec_p = tree_flatten(primals)
    flat_t, spec_t = tree_flatten(tangents)
    if spec_p != spec_t:
        raise RuntimeError(f"{api}: Expected primals and tangents to have the same python "
                           "structure. For example, if primals is a tuple of 3 tensors, "
                           f"tangents also must be. Got primals with structure {spec_p} and "
                           f"tangents with structure {spec_t}")
    for name, leaves in (("primals", flat_p), ("tangents", flat_t)):
        if not leaves:
            raise RuntimeError(f"{api}: Expected {name} to contain at least one Tensor.")
        for x in leaves:
            if not isinstance(x, Tensor):
                raise RuntimeError(f"{api}: Expected {name} to only contain Tensors, got "
                                   f"{type(x)}")
    res = jvp_leaves(lambda leaves: func(*tree_unflatten(leaves, spec_p)), flat_p, flat_t,
                     strict, has_aux, api)
    values, tangents, out_spec = res[:3]
    result = (tree_unflatten(values, out_spec), tree_unflatten(tangents, out_spec))
    return result + (res[3],) if has_aux else result
