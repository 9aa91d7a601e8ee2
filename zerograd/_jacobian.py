"""Jacobians and Hessians of ``zerograd.func``: ``jacrev``, ``jacfwd``, ``hessian``.

jacrev builds the Jacobian row by row (one backward pass per output element), jacfwd
column by column (one forward pass per input element); for f: R^n -> R the first needs
1 pass and the second n, and the other way round for f: R -> R^m.
"""
import functools

from zerograd._func_common import (
    _Reverse, _check_argnums, _check_tensors, _check_outputs, _grads, _jvp_leaves,
    _replace_argnums, _slice_argnums, _split_aux, _zeros)
from zerograd.autograd.grad_mode import enable_grad
from zerograd.backend import xp
from zerograd.tensor import Tensor
from zerograd.utils._pytree import tree_flatten, tree_unflatten

__all__ = ["jacrev", "jacfwd", "hessian"]


def _basis(shape, dtype, k):
    e = xp.zeros(int(xp.prod(shape)) if shape else 1, dtype=dtype)
    e[k] = 1
    return Tensor._make(e.reshape(tuple(shape)))


def _assemble(parts, out, x, dim, dtype):
    """The Jacobian block of shape ``out.shape + x.shape`` from one piece per element:
    rows (reverse mode, ``dim=0``) or columns (forward mode, ``dim=-1``)."""
    from zerograd.ops.join import stack
    shape = tuple(out.shape) + tuple(x.shape)
    if not parts:
        return _zeros(shape, dtype)
    return stack(parts, dim=dim).reshape(shape)


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
                        e = _basis(o.shape, o._data.dtype, k)
                        for j, g in enumerate(_grads([o], run.inputs, [e], run.create_graph)):
                            rows[j].append(g)
                blocks = [_assemble(r, o, x, 0, x._data.dtype) for r, x in zip(rows, run.inputs)]
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

        columns = [None] * len(flat_p)  # columns[j][i]: tangents of output i along input j
        out_spec = values = aux = None
        for j, x in enumerate(flat_p):
            cols = None
            for k in range(x.numel()):
                tangents = [None] * len(flat_p)
                tangents[j] = _basis(x.shape, x._data.dtype, k)
                res = _jvp_leaves(call, flat_p, tangents, False, has_aux, api)
                values, out_spec = tree_flatten(res[0])
                aux = res[2] if has_aux else None
                tans = tree_flatten(res[1])[0]
                cols = [[] for _ in tans] if cols is None else cols
                for i, t in enumerate(tans):
                    cols[i].append(t)
            columns[j] = cols
        if values is None:  # every input is empty: evaluate once for the output's shape
            out, aux = _split_aux(call(flat_p), has_aux, api)
            values, out_spec = tree_flatten(out)
        per_output = []
        for i, o in enumerate(values):
            blocks = [_assemble(columns[j][i] if columns[j] is not None else [], o, x, -1,
                                o._data.dtype) for j, x in enumerate(flat_p)]
            per_output.append(tree_unflatten(blocks, spec_p))
        jac = tree_unflatten(per_output, out_spec)
        return (jac, aux) if has_aux else jac

    return wrapper


def hessian(func, argnums=0):
    """Hessian of a scalar function: ``jacfwd(jacrev(func))`` (forward-over-reverse)."""
    return jacfwd(jacrev(func, argnums), argnums)
