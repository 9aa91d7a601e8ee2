"""Jacobians and Hessians of ``zerograd.func``: ``jacrev``, ``jacfwd``, ``hessian``.

jacrev builds the Jacobian row by row (one backward pass per output element), jacfwd
column by column (one forward pass per input element); for f: R^n -> R the first needs
1 pass and the second n, and the other way round for f: R -> R^m.
"""
import functools

from zerograd.autograd._pytree import tree_flatten, tree_unflatten
from zerograd.autograd._transforms import assemble, basis, forward_jacobian
from zerograd.autograd.grad_mode import enable_grad
from zerograd.func._common import (
    _Reverse, _check_argnums, _check_outputs, _check_tensors, _grads, _replace_argnums,
    _slice_argnums)

__all__ = ["jacrev", "jacfwd", "hessian"]


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None, _preallocate_and_copy=False):
    """Jacobian by reverse mode: one forward pass, then one backward pass per output element.

    The result has the structure of ``func``'s output, each leaf replaced by the Jacobian
    w.r.t. ``args[argnums]`` (a tuple of them when ``argnums`` is a tuple).
    ``chunk_size`` is accepted for compatibility; rows are computed one at a time.
    """
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nums = _check_argnums(argnums, len(args))
        run = _Reverse(func, args, kwargs, nums, has_aux, "vjp(f, *primals)")
        _check_outputs(run.flat_out, "vjp(f, *primals)")
        per_output = []
        with enable_grad():
            for o in run.flat_out:
                rows = [[] for _ in run.inputs]
                if o._requires_grad:
                    for k in range(o.numel()):
                        e = basis(o, k)
                        for j, g in enumerate(_grads([o], run.inputs, [e], run.create_graph)):
                            rows[j].append(g)
                blocks = [assemble(r, o, x, 0, x) for r, x in zip(rows, run.inputs)]
                per_output.append(tree_unflatten(blocks, run.in_spec))
        jac = run.finish(tree_unflatten(per_output, run.out_spec))
        return (jac, run.finish(run.aux)) if has_aux else jac

    return wrapper


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """Jacobian by forward mode: one forward (dual) pass per input element.

    The result has the structure of ``func``'s output, each leaf replaced by the Jacobian
    w.r.t. ``args[argnums]`` (a tuple of them when ``argnums`` is a tuple).
    """
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")
    api = "jvp(f, primals, tangents)"

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nums = _check_argnums(argnums, len(args))
        flat_p, spec_p = tree_flatten(_slice_argnums(args, nums))
        _check_tensors(flat_p)

        def call(leaves):
            return func(*_replace_argnums(args, nums, tree_unflatten(leaves, spec_p)), **kwargs)

        res = forward_jacobian(call, flat_p, has_aux, api)
        blocks, out_spec = res[:2]
        per_output = [tree_unflatten(b, spec_p) for b in blocks]
        jac = tree_unflatten(per_output, out_spec)
        return (jac, res[2]) if has_aux else jac

    return wrapper


def hessian(func, argnums=0):
    """Hessian of a scalar function: ``jacfwd(jacrev(func))`` (forward-over-reverse)."""
    return jacfwd(jacrev(func, argnums), argnums)
