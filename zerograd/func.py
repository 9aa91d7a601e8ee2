"""Function transforms (``torch.func``): grad, vjp, jvp, Jacobians, Hessians, vmap.

Each takes a plain Python function of tensors and returns a new function (or values):

* ``grad(f)(x)``: the gradient of a scalar ``f`` — reverse mode, one backward pass.
* ``vjp(f, x)``: ``f(x)`` and a function ``v -> v^T J`` — reverse mode.
* ``jvp(f, (x,), (v,))``: ``f(x)`` and ``J v`` — true forward mode (dual tensors).
* ``jacrev(f)``: the Jacobian row by row, one backward pass per output element.
* ``jacfwd(f)``: the Jacobian column by column, one forward pass per input element.
* ``hessian(f)``: ``jacfwd(jacrev(f))``, forward-over-reverse like torch.

Which of jacrev/jacfwd is cheaper is the textbook's claim made measurable: for
f: R^n -> R, jacrev needs 1 pass and jacfwd n; for f: R -> R^m it is the other way round
(see benchmarks/bench_autodiff_modes.py).
"""
import functools

from zerograd.autograd import forward_ad
from zerograd.autograd import grad as _autograd_grad
from zerograd.autograd.grad_mode import enable_grad
from zerograd.backend import xp
from zerograd.tensor import Tensor

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "vmap"]


def _argnums_tuple(argnums):
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def _track(x):
    """An alias of ``x`` that requires grad and stays connected to ``x``'s own graph."""
    if x._requires_grad:
        from zerograd.ops.shape import Reshape
        return Reshape.apply(x, tuple(x.shape))
    t = x.detach()
    t._fw_grad = x._fw_grad
    return t.requires_grad_(True)


def _split_aux(out, has_aux):
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError("has_aux=True requires the function to return a (output, aux) tuple")
    return out


def grad_and_value(func, argnums=0, has_aux=False):
    """A function returning ``(gradient, value)`` of a scalar-valued ``func``."""
    nums = _argnums_tuple(argnums)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        args = list(args)
        outer = any(isinstance(args[i], Tensor) and (args[i]._requires_grad or
                                                     args[i]._fw_grad is not None) for i in nums)
        for i in nums:
            if not isinstance(args[i], Tensor):
                raise TypeError(f"grad: argument {i} must be a Tensor, got {type(args[i]).__name__}")
            args[i] = _track(args[i])
        with enable_grad():
            out, aux = _split_aux(func(*args, **kwargs), has_aux)
            if not isinstance(out, Tensor) or out.numel() != 1:
                raise RuntimeError("grad: the function must return a scalar (one-element) "
                                   f"tensor, got {getattr(out, 'shape', type(out).__name__)}")
            grads = _autograd_grad(out, [args[i] for i in nums], create_graph=outer,
                                   allow_unused=True)
        grads = tuple(g if g is not None else _zeros_like(args[i]) for g, i in zip(grads, nums))
        if not outer:
            grads = tuple(g.detach() for g in grads)
            out = out.detach()
        result = grads[0] if isinstance(argnums, int) else grads
        return (result, (out, aux)) if has_aux else (result, out)

    return wrapper


def grad(func, argnums=0, has_aux=False):
    """The gradient of a scalar-valued ``func`` w.r.t. its ``argnums`` argument(s)."""
    inner = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, value = inner(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapper


def _zeros_like(t):
    return Tensor._make(xp.zeros_like(t._data))


def vjp(func, *primals, has_aux=False):
    """``(func(*primals), vjp_fn)`` where ``vjp_fn(v)`` gives ``v^T J`` for each primal."""
    tracked = [_track(p) for p in primals]
    with enable_grad():
        out, aux = _split_aux(func(*tracked), has_aux)
    outer = any(p._requires_grad for p in primals)

    def vjp_fn(*cotangents):
        outs = out if isinstance(out, (tuple, list)) else (out,)
        cots = cotangents if len(cotangents) == len(outs) else tuple(cotangents[0])
        grads = _autograd_grad(outs, tracked, grad_outputs=cots, retain_graph=True,
                               create_graph=outer, allow_unused=True)
        return tuple(g if g is not None else _zeros_like(p) for g, p in zip(grads, tracked))

    result = out if outer else _detach_all(out)
    return (result, vjp_fn, aux) if has_aux else (result, vjp_fn)


def _detach_all(out):
    if isinstance(out, (tuple, list)):
        return type(out)(o.detach() for o in out)
    return out.detach()


def jvp(func, primals, tangents, has_aux=False):
    """``(func(*primals), J @ tangents)`` by forward-mode AD (one forward pass)."""
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise RuntimeError("jvp: primals and tangents must have the same length")
    with forward_ad.dual_level():
        duals = [forward_ad.make_dual(p, t) for p, t in zip(primals, tangents)]
        out, aux = _split_aux(func(*duals), has_aux)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        pairs = [forward_ad.unpack_dual(o) for o in outs]
        values = tuple(p.primal for p in pairs)
        jvps = tuple(p.tangent if p.tangent is not None else _zeros_like(p.primal) for p in pairs)
    if not isinstance(out, (tuple, list)):
        values, jvps = values[0], jvps[0]
    return (values, jvps, aux) if has_aux else (values, jvps)


def _basis(t, k):
    e = xp.zeros(t._data.size, dtype=t._data.dtype)
    e[k] = 1
    return Tensor._make(e.reshape(t._data.shape))


def _stack_rows(rows, out_shape, in_shape):
    from zerograd.ops.shape import stack
    if not rows:
        return Tensor._make(xp.zeros(tuple(out_shape) + tuple(in_shape)))
    return stack(rows).reshape(tuple(out_shape) + tuple(in_shape))


def jacrev(func, argnums=0, has_aux=False):
    """Jacobian by reverse mode: one backward pass per output element."""
    nums = _argnums_tuple(argnums)

    @functools.wraps(func)
    def wrapper(*args):
        args = list(args)
        outer = any(args[i]._requires_grad or args[i]._fw_grad is not None for i in nums)
        for i in nums:
            args[i] = _track(args[i])
        with enable_grad():
            out, aux = _split_aux(func(*args), has_aux)
        inputs = [args[i] for i in nums]
        rows = [[] for _ in nums]
        for k in range(out.numel()):
            grads = _autograd_grad(out, inputs, grad_outputs=_basis(out, k), retain_graph=True,
                                   create_graph=outer, allow_unused=True)
            for j, (g, x) in enumerate(zip(grads, inputs)):
                rows[j].append(g if g is not None else _zeros_like(x))
        jac = tuple(_stack_rows(r, out.shape, x.shape) for r, x in zip(rows, inputs))
        if not outer:
            jac = tuple(j.detach() for j in jac)
        result = jac[0] if isinstance(argnums, int) else jac
        return (result, aux) if has_aux else result

    return wrapper


def jacfwd(func, argnums=0, has_aux=False):
    """Jacobian by forward mode: one forward (dual) pass per input element."""
    nums = _argnums_tuple(argnums)

    @functools.wraps(func)
    def wrapper(*args):
        args = list(args)
        per_input = []
        aux = None
        for i in nums:
            x = args[i]
            cols = []
            out = None
            for k in range(x.numel()):
                def partial(xi, i=i):
                    call = list(args)
                    call[i] = xi
                    return func(*call)
                result = jvp(partial, (x,), (_basis(x, k),), has_aux=has_aux)
                out, tangent = result[0], result[1]
                if has_aux:
                    aux = result[2]
                cols.append(tangent)
            if out is None:
                out = func(*args)
                out = out[0] if has_aux else out
            from zerograd.ops.shape import stack
            jac = stack(cols, dim=-1).reshape(tuple(out.shape) + tuple(x.shape)) if cols else \
                Tensor._make(xp.zeros(tuple(out.shape) + tuple(x.shape)))
            per_input.append(jac)
        result = per_input[0] if isinstance(argnums, int) else tuple(per_input)
        return (result, aux) if has_aux else result

    return wrapper


def hessian(func, argnums=0):
    """Hessian of a scalar function: ``jacfwd(jacrev(func))`` (forward-over-reverse)."""
    return jacfwd(jacrev(func, argnums), argnums)


def vmap(func, in_dims=0, out_dims=0, randomness="error", chunk_size=None):
    """Map ``func`` over a batch dimension: one call per batch element, results stacked.

    Correct for any function; it is not faster than a loop (zerograd has no batching rules),
    so prefer writing batched code directly when speed matters.
    """
    from zerograd.ops.shape import stack

    @functools.wraps(func)
    def wrapper(*args):
        dims = in_dims if isinstance(in_dims, (tuple, list)) else (in_dims,) * len(args)
        sizes = {a.shape[d] for a, d in zip(args, dims) if d is not None}
        if len(sizes) != 1:
            raise ValueError(f"vmap: expected all mapped inputs to have the same batch size, "
                             f"got sizes {sorted(sizes)}")
        (n,) = sizes
        results = []
        for b in range(n):
            call = [a if d is None else a.select(d, b) for a, d in zip(args, dims)]
            results.append(func(*call))
        if isinstance(results[0], tuple):
            return tuple(stack([r[k] for r in results], out_dims) for k in range(len(results[0])))
        return stack(results, out_dims)

    return wrapper
