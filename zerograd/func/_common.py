"""Machinery of the ``zerograd.func`` transforms: argument handling (``argnums``, pytrees,
``has_aux``) with torch.func's messages, and the reverse-mode evaluation ``_Reverse``
(``func`` run on fresh aliases of its differentiated arguments, whose results stay
differentiable exactly when an enclosing transform can see them).

The forward-mode pass and the Jacobian assembly, which ``autograd.functional`` needs too,
live in ``zerograd.autograd._transforms``.
"""
from zerograd.autograd import forward_ad
from zerograd.autograd import grad as _autograd_grad
from zerograd.autograd._pytree import tree_flatten, tree_map, tree_unflatten
from zerograd.autograd._transforms import split_aux, zeros_like_shape
from zerograd.autograd.function import AccumulateGrad
from zerograd.autograd.grad_mode import enable_grad, is_grad_enabled
from zerograd.ops.shape import Reshape
from zerograd.tensor import Tensor


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


def _grads(outputs, inputs, cotangents, create_graph):
    """Gradients of ``outputs`` (weighted by ``cotangents``) w.r.t. ``inputs``; zeros where
    an input was not used."""
    pairs = [(o, c) for o, c in zip(outputs, cotangents) if o._requires_grad]
    found = [None] * len(inputs)
    if pairs:
        found = _autograd_grad([o for o, _ in pairs], inputs, [c for _, c in pairs],
                               retain_graph=True, create_graph=create_graph, allow_unused=True)
    return [g if g is not None else zeros_like_shape(x.shape, x)
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
            out, aux = split_aux(func(*call, **kwargs), has_aux, api)
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
