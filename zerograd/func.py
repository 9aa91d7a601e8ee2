"""Function transforms (``torch.func``): grad, vjp, jvp, Jacobians, Hessians, vmap.

Each takes a plain Python function of tensors and returns a new function (or values):

* ``grad(f)(x)``: the gradient of a scalar ``f`` — reverse mode, one backward pass.
* ``vjp(f, x)``: ``f(x)`` and a function ``v -> v^T J`` — reverse mode.
* ``jvp(f, (x,), (v,))``: ``f(x)`` and ``J v`` — true forward mode (dual tensors).
* ``jacrev(f)``: the Jacobian row by row, one backward pass per output element.
* ``jacfwd(f)``: the Jacobian column by column, one forward pass per input element.
* ``hessian(f)``: ``jacfwd(jacrev(f))``, forward-over-reverse like torch.

Which of jacrev/jacfwd is cheaper is the textbook's claim made measurable: for
f: R^n -> R, jacrev needs 1 backward pass and jacfwd n forward passes; for f: R -> R^m
it is the other way round (see benchmarks/bench_autodiff_modes.py).

Arguments and results may be pytrees (tuples, lists, dicts of tensors), and transforms
compose: ``jacfwd(jacrev(f))``, ``jacfwd(jacfwd(f))``, ``grad(grad(f))``, ``jvp`` of
``grad``... A derivative stays differentiable exactly when an enclosing transform (or
ordinary autograd, for inputs that require grad) can see it; otherwise it comes back
detached, as torch.func's results do.
"""
import functools

from zerograd.autograd import forward_ad
from zerograd.autograd import grad as _autograd_grad
from zerograd.autograd.function import AccumulateGrad
from zerograd.autograd.grad_mode import enable_grad, is_grad_enabled
from zerograd.backend import xp
from zerograd.tensor import Tensor
from zerograd.utils._pytree import tree_flatten, tree_map, tree_unflatten
from zerograd._vmap import vmap

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "vmap"]


# -- arguments ----------------------------------------------------------------------------------
def _check_argnums(argnums, num_args):
    """``argnums`` validated and made non-negative (torch's rules and messages)."""
    def one(n):
        if isinstance(n, bool) or not isinstance(n, int):
            raise RuntimeError(f"argnum must be int, got: {type(n)}")
        if -num_args <= n < num_args:
            return n % num_args
        raise RuntimeError(f"Got argnum={n}, but only {num_args} positional inputs")

    if isinstance(argnums, int) and not isinstance(argnums, bool):
        return one(argnums)
    if not isinstance(argnums, tuple):
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")
    if not argnums:
        raise RuntimeError("argnums must be non-empty")
    nums = tuple(one(n) for n in argnums)
    if len(set(nums)) != len(nums):
        raise RuntimeError(f"argnums elements must be unique, got {argnums}")
    return nums


def _slice_argnums(args, nums):
    return args[nums] if isinstance(nums, int) else tuple(args[i] for i in nums)


def _replace_argnums(args, nums, new):
    args = list(args)
    if isinstance(nums, int):
        args[nums] = new
    else:
        for i, value in zip(nums, new):
            args[i] = value
    return args


def _check_tensors(leaves):
    for x in leaves:
        if not isinstance(x, Tensor):
            raise ValueError(f"Thing passed to transform API must be Tensor, got {type(x)}")


def _check_outputs(leaves, api):
    if not leaves:
        raise RuntimeError(f"{api}: Expected f to be a function that has non-empty output "
                           f"(got output = {leaves})")
    for o in leaves:
        if not isinstance(o, Tensor):
            raise RuntimeError(f"{api}: expected f(*primals) to return only tensors, got "
                               f"unsupported type {type(o)}")


def _split_aux(out, has_aux, api):
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError(f"{api}: output of function f should be a tuple: (output, aux) if "
                           "has_aux is True")
    return out


# -- differentiable aliases, and what an enclosing transform can see --------------------------
def _track(x):
    """A fresh alias of ``x`` to differentiate against.

    When ``x`` requires grad the alias stays connected to ``x``'s graph (so an enclosing
    ``grad`` or plain autograd can differentiate the result); otherwise it is a new leaf.
    Forward-mode tangents of enclosing ``jvp``/``jacfwd`` levels are kept either way.
    """
    if not x.is_floating_point():
        raise RuntimeError("only Tensors of floating point dtype can require gradients")
    if x._requires_grad and is_grad_enabled():
        from zerograd.ops.shape import Reshape
        return Reshape.apply(x, tuple(x.shape))
    alias = forward_ad.copy_tangents(x, x.detach())
    return alias.requires_grad_(True)


def _reaches_outside(outputs, fresh):
    """Whether the reverse graph of ``outputs`` reaches a leaf other than the ``fresh`` ones:
    then an enclosing transform (or the caller's autograd) differentiates through us."""
    fresh_ids = {id(t) for t in fresh}
    stack = [o.grad_fn if o.grad_fn is not None else o._accumulator()
             for o in outputs if o._requires_grad]
    seen = set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if type(node) is AccumulateGrad:
            leaf = node.variable_ref()
            if leaf is not None and id(leaf) not in fresh_ids:
                return True
            continue
        stack.extend(node._next)
    return False


def _strip_graph(t):
    """``t`` without reverse-mode history, keeping its forward tangents (themselves stripped)."""
    if not isinstance(t, Tensor):
        return t
    out = t.detach()
    if t._fw_grad:
        for level, tangent in t._fw_grad.items():
            forward_ad._set_tangent(out, level, _strip_graph(tangent))
    return out


def _zeros(shape, dtype):
    return Tensor._make(xp.zeros(tuple(shape), dtype=dtype))


def _grads(outputs, inputs, cotangents, create_graph):
    """Gradients of ``outputs`` (weighted by ``cotangents``) w.r.t. ``inputs``; zeros where
    an input was not used."""
    pairs = [(o, c) for o, c in zip(outputs, cotangents) if o._requires_grad]
    found = [None] * len(inputs)
    if pairs:
        found = _autograd_grad([o for o, _ in pairs], inputs, [c for _, c in pairs],
                               retain_graph=True, create_graph=create_graph, allow_unused=True)
    return [g if g is not None else _zeros(x.shape, x._data.dtype)
            for g, x in zip(found, inputs)]


class _Reverse:
    """One reverse-mode evaluation: ``func`` run on fresh aliases of the differentiated
    arguments, ready for any number of backward passes."""

    def __init__(self, func, args, kwargs, nums, has_aux, api):
        self.outer_grad = is_grad_enabled()
        diff = _slice_argnums(args, nums) if nums is not None else args
        flat, self.in_spec = tree_flatten(diff)
        _check_tensors(flat)
        self.inputs = [_track(x) for x in flat]
        tracked = tree_unflatten(self.inputs, self.in_spec)
        call = _replace_argnums(args, nums, tracked) if nums is not None else tracked
        with enable_grad():
            out, aux = _split_aux(func(*call, **kwargs), has_aux, api)
        self.output, self.aux = out, aux
        self.flat_out, self.out_spec = tree_flatten(out)
        # A derivative must stay differentiable if an enclosing reverse transform can see
        # it, and carry tangents if an enclosing forward level is open.
        outs = [o for o in self.flat_out if isinstance(o, Tensor)]
        self.reverse_outer = self.outer_grad and _reaches_outside(outs, self.inputs)
        self.forward_outer = forward_ad.is_active()

    @property
    def create_graph(self):
        return self.reverse_outer or self.forward_outer

    def finish(self, tree):
        """Results as an enclosing transform should see them."""
        if self.reverse_outer:
            return tree
        return tree_map(_strip_graph, tree)


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
    return _jvp_leaves(lambda leaves: func(*tree_unflatten(leaves, spec_p)), flat_p, flat_t,
                       strict, has_aux, api)


def _jvp_leaves(fn, flat_p, flat_t, strict, has_aux, api):
    """One forward pass of ``fn(list_of_leaves)`` at a new level, perturbing each leaf by
    its tangent (None: not perturbed)."""
    with forward_ad._nested_level() as level:
        duals = [p if t is None else forward_ad.make_dual(p, t, level=level)
                 for p, t in zip(flat_p, flat_t)]
        out, aux = _split_aux(fn(duals), has_aux, api)
        flat_out, out_spec = tree_flatten(out)
        if not flat_out:
            raise RuntimeError(f"{api}: Expected f to be a function that has non-empty output "
                               f"(got output = {out})")
        values, jvps = [], []
        for o in flat_out:
            if not isinstance(o, Tensor):
                raise RuntimeError(f"{api}: expected f(*args) to return only tensors, got "
                                   f"unsupported type {type(o)}")
            primal, tangent = forward_ad.unpack_dual(o, level=level)
            if tangent is None:
                if strict:
                    raise RuntimeError("jvp(f, primals, tangents, strict=True): The output of f "
                                       "is independent of the inputs. This is not allowed with "
                                       "strict=True.")
                tangent = _zeros(o.shape, o._data.dtype)
            values.append(primal)
            jvps.append(tangent)
        if has_aux:
            aux = tree_map(lambda a: forward_ad.unpack_dual(a, level=level).primal
                           if isinstance(a, Tensor) else a, aux)
    result = (tree_unflatten(values, out_spec), tree_unflatten(jvps, out_spec))
    return result + (aux,) if has_aux else result


# -- Jacobians and Hessians ------------------------------------------------------------------------
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
