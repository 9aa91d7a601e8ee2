"""``zerograd.func.vmap``: map a function over a batch dimension of its inputs.

zerograd has no batching rules, so this is a loop (one call per batch element) whose
results are stacked: correct for any function, not faster than writing the loop.
Arguments and results may be pytrees, as in torch.func.vmap.
"""
import functools

from zerograd import random as _random
from zerograd.autograd._pytree import tree_flatten, tree_unflatten
from zerograd.ops.join import stack
from zerograd.tensor import Tensor

__all__ = ["vmap"]


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """Map ``func`` over a batch dimension: one call per batch element, results stacked.

    ``in_dims``: an int or None for every argument, or a tuple with one entry per argument
    (each an int, None, or a pytree matching that argument). ``out_dims``: an int, or one
    per output. Keyword arguments are passed unmapped. Correct for any function; it is not
    faster than a loop (zerograd has no batching rules), so write batched code directly
    where speed matters. ``randomness='same'`` replays the same random draws for every
    element; otherwise they differ.
    """
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        flat, specs = _flat_in_dims(in_dims, args)
        sizes = sorted({x.shape[d] for x, d in flat if d is not None})
        if not sizes:
            raise ValueError(f"vmap(f, in_dims={in_dims}, ...)(<inputs>): at least one input "
                             "must be a Tensor mapped over a dimension (in_dim not None)")
        if len(sizes) > 1:
            raise ValueError("vmap: Expected all tensors to have the same size in the mapped "
                             f"dimension, got sizes {sizes} for the mapped dimension")
        n = sizes[0]
        if n == 0:
            raise ValueError("vmap: the mapped dimension has size 0; there is nothing to map "
                             "over")
        state = _random.get_rng_state() if randomness == "same" else None
        results = []
        for b in range(n):
            if state is not None:
                _random.set_rng_state(state)
            leaves = [x.select(d, b) if d is not None else x for x, d in flat]
            call = _unflatten_args(leaves, specs)
            results.append(func(*call, **kwargs))
        return _stack_results(results, out_dims)

    return wrapper


def _flat_in_dims(in_dims, args):
    """``[(leaf, dim)]`` over all arguments, and what ``_unflatten_args`` needs back."""
    if isinstance(in_dims, (int, type(None))):
        dims = (in_dims,) * len(args)
    elif isinstance(in_dims, tuple):
        if len(in_dims) != len(args):
            raise ValueError(f"vmap(f, in_dims={in_dims}, ...)(<inputs>): in_dims is not "
                             f"compatible with the structure of `inputs`: expected one entry "
                             f"per positional argument ({len(args)}), got {len(in_dims)}")
        dims = in_dims
    else:
        raise ValueError(f"vmap(f, in_dims={in_dims}, ...): expected `in_dims` to be int or a "
                         f"(potentially nested) tuple matching the structure of inputs, got: "
                         f"{type(in_dims)}.")
    flat, specs = [], []
    for i, (arg, dim) in enumerate(zip(args, dims)):
        leaves, spec = tree_flatten(arg)
        if isinstance(dim, (int, type(None))):
            leaf_dims = [dim] * len(leaves)
        else:
            leaf_dims, dim_spec = tree_flatten(dim)
            if dim_spec != spec:
                raise ValueError(f"vmap: in_dims[{i}] does not match the structure of argument "
                                 f"{i}")
        for x, d in zip(leaves, leaf_dims):
            if d is not None:
                if not isinstance(x, Tensor):
                    raise ValueError(f"vmap: Got in_dim={d} for an input but the input is of "
                                     f"type {type(x)}. We cannot vmap over non-Tensor arguments, "
                                     "please use None as the respective in_dim")
                if not -x.ndim <= d < x.ndim:
                    raise ValueError(f"vmap: Got in_dim={d} for some input, but that input is a "
                                     f"Tensor of dimensionality {x.ndim} so expected in_dim to "
                                     f"satisfy -{x.ndim} <= in_dim < {x.ndim}.")
                d = d % x.ndim
            flat.append((x, d))
        specs.append((spec, len(leaves)))
    return flat, specs


def _unflatten_args(leaves, specs):
    args, pos = [], 0
    for spec, n in specs:
        args.append(tree_unflatten(leaves[pos:pos + n], spec))
        pos += n
    return args


def _stack_results(results, out_dims):
    flat0, spec = tree_flatten(results[0])
    per_call = [tree_flatten(r)[0] for r in results]
    if isinstance(out_dims, (int, type(None))):
        dims = [out_dims] * len(flat0)
    else:
        dims, dims_spec = tree_flatten(out_dims)
        if len(dims) != len(flat0):
            raise ValueError(f"vmap: out_dims={out_dims} does not match the structure of the "
                             f"outputs (expected {len(flat0)} entries)")
    stacked = []
    for i, d in enumerate(dims):
        items = [p[i] for p in per_call]
        if not isinstance(items[0], Tensor):
            raise ValueError(f"vmap: `func` must only return Tensors, got type {type(items[0])}")
        if d is None:
            stacked.append(items[0])
        else:
            stacked.append(stack(items, d))
    return tree_unflatten(stacked, spec)
