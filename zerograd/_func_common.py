"""Machinery shared by the ``zerograd.func`` transforms and ``autograd.functional``.

Argument handling (``argnums``, pytrees, ``has_aux``) with torch.func's messages; the
reverse-mode evaluation ``_Reverse`` (``func`` run on fresh aliases of its differentiated
arguments, whose results stay differentiable exactly when an enclosing transform can see
them); and ``_jvp_leaves``, one forward-mode pass at a new level.
"""
from zerograd.autograd import forward_ad
from zerograd.autograd import grad as _autograd_grad
from zerograd.autograd.function import AccumulateGrad
from zerograd.autograd.grad_mode import enable_grad, is_grad_enabled
from zerograd.backend import xp
from zerograd.tensor import Tensor
from zerograd.utils._pytree import tree_flatten, tree_map, tree_unflatten


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


# -- one forward-mode pass -----------------------------------------------------------------------
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
