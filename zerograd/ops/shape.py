"""Shape ops: reshape/view, squeeze, transpose/permute, movedim, expand/broadcast.

Reshape, permute and expand are views in NumPy (no copy) and share the version counter
with their base; their backward applies the inverse rearrangement. The ops that copy
(repeat, tile, flip, roll, clone, contiguous) live in ``ops.copying``, joining and
splitting (cat, stack, split, chunk, narrow...) in ``ops.join``.
"""
import builtins
import math

from zerograd._aliases import numpy_aliases
from zerograd.autograd.function import Function
from zerograd.backend import array_module
from zerograd.ops._util import broadcast_shapes, normalize_dim, shape_arg
from zerograd.size import Size
from zerograd.tensor import Tensor

__all__ = ["reshape", "view", "flatten", "unflatten", "squeeze", "unsqueeze", "transpose",
           "swapaxes", "swapdims", "permute", "movedim", "moveaxis", "t", "expand",
           "broadcast_to", "broadcast_tensors", "ravel"]


def _prod(values):
    n = 1
    for v in values:
        n *= v
    return n


def _sizes(args):
    """``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` or ``f(Size)`` -> a tuple of ints (fast path)."""
    if len(args) == 1 and type(args[0]) in (tuple, list, Size):
        args = args[0]
    if all(type(s) is builtins.int for s in args):
        return tuple(args)
    return shape_arg(tuple(args))


def _infer_shape(shape, numel):
    """``shape`` with its one ``-1`` filled in so that it holds ``numel`` elements."""
    if -1 not in shape:  # the common cases first, in C: no per-dim Python loop
        if math.prod(shape) == numel and (not shape or min(shape) >= 0):
            return shape
    elif min(shape) >= -1 and shape.count(-1) == 1:
        known = -math.prod(shape)
        if known > 0 and numel % known == 0:
            i = shape.index(-1)
            return shape[:i] + (numel // known,) + shape[i + 1:]
    unknown = -1
    for i, s in enumerate(shape):
        if s == -1:
            if unknown >= 0:
                raise RuntimeError("only one dimension can be inferred")
            unknown = i
        elif s < 0:
            raise RuntimeError(f"invalid shape dimension {s} at index {i} of shape "
                               f"{list(shape)}")
    if unknown < 0:
        if _prod(shape) != numel:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        return shape
    known = _prod(s for s in shape if s != -1)
    if known == 0:
        raise RuntimeError(f"cannot reshape tensor of 0 elements into shape {list(shape)} "
                           "because the unspecified dimension size -1 can be any value and is "
                           "ambiguous")
    if numel % known:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape[:unknown] + (numel // known,) + shape[unknown + 1:]


class Reshape(Function):
    is_view = True  # NumPy returns a view whenever the strides allow it
    jvp_linear = True

    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, grad_output):
        return Reshape.apply(grad_output, ctx.in_shape)


def _alias(input):
    """A new tensor object over the same memory and version counter (no graph node)."""
    out = Tensor._make(input._data, False, None)
    out._share_version_with(input)
    return out


def reshape(input, *shape):
    """The same elements in a new shape; a view when possible, a copy otherwise."""
    shape = _infer_shape(_sizes(shape), input._data.size)
    if shape == input._data.shape and not input._requires_grad and input._fw_grad is None:
        return _alias(input)
    return Reshape.apply(input, shape)


def view(input, *shape):
    """Like ``reshape`` but never copies: raises when the strides make a view impossible."""
    shape = _infer_shape(_sizes(shape), input._data.size)
    try:
        array_module(input).reshape(input._data, shape, copy=False)
    except ValueError:
        raise RuntimeError("view size is not compatible with input tensor's size and stride "
                           "(at least one dimension spans across two contiguous subspaces). "
                           "Use .reshape(...) instead.") from None
    return Reshape.apply(input, shape)


def flatten(input, start_dim=0, end_dim=-1):
    """Merge dims ``start_dim..end_dim`` into one."""
    if input.ndim == 0:
        return reshape(input, 1)
    s = normalize_dim(start_dim, input.ndim)
    e = normalize_dim(end_dim, input.ndim)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shape = input._data.shape
    return reshape(input, shape[:s] + (_prod(shape[s:e + 1]),) + shape[e + 1:])


def ravel(input):
    """The elements as a 1-D tensor (a copy when the input is not contiguous)."""
    return reshape(input, -1)


def unflatten(input, dim, sizes):
    """Split dim ``dim`` into ``sizes`` (one of which may be -1)."""
    d = normalize_dim(dim, input.ndim)
    sizes = tuple(builtins.int(s) for s in sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    n = input.shape[d]
    if -1 not in sizes and _prod(sizes) != n:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {dim} ({n}) in the input tensor")
    sizes = _infer_shape(sizes, n)
    shape = input._data.shape
    return reshape(input, shape[:d] + sizes + shape[d + 1:])


@numpy_aliases
def squeeze(input, dim=None):
    """Drop dims of size 1 (all of them, or only those in ``dim``)."""
    shape = input._data.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        dims = {normalize_dim(d, input.ndim) for d in (
            (dim,) if isinstance(dim, builtins.int) or hasattr(dim, "__index__") else dim)}
        new = tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1))
    return reshape(input, new)


@numpy_aliases
def unsqueeze(input, dim):
    """Insert a dim of size 1 at position ``dim``."""
    d = normalize_dim(dim, input.ndim + 1)
    shape = input._data.shape
    return reshape(input, shape[:d] + (1,) + shape[d:])


class Permute(Function):
    is_view = True
    jvp_linear = True

    @staticmethod
    def forward(ctx, a, axes):
        ctx.axes = axes
        return a.transpose(axes)

    @staticmethod
    def backward(ctx, grad_output):
        inverse = [0] * len(ctx.axes)
        for i, ax in enumerate(ctx.axes):
            inverse[ax] = i
        return Permute.apply(grad_output, tuple(inverse))


def permute(input, *dims):
    """Reorder the dims: output dim ``i`` is input dim ``dims[i]`` (a view)."""
    dims = _sizes(dims)
    if len(dims) != input.ndim:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {input.ndim} is not equal to len(dims) = {len(dims)}")
    if sorted(dims) == list(range(input.ndim)):  # the usual case: already a permutation
        return Permute.apply(input, dims) if dims else reshape(input, ())
    axes = tuple(normalize_dim(d, input.ndim) for d in dims)
    if len(set(axes)) != len(axes):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    if input.ndim == 0:
        return reshape(input, ())
    return Permute.apply(input, axes)


def transpose(input, dim0, dim1):
    """Swap dims ``dim0`` and ``dim1`` (a view)."""
    if input.ndim == 0:
        normalize_dim(dim0, 0), normalize_dim(dim1, 0)
        return reshape(input, ())
    axes = list(range(input.ndim))
    a, b = normalize_dim(dim0, input.ndim), normalize_dim(dim1, input.ndim)
    axes[a], axes[b] = axes[b], axes[a]
    return Permute.apply(input, tuple(axes))


swapaxes = swapdims = transpose


def t(input):
    """Transpose of a matrix; 0-D and 1-D tensors are returned as they are."""
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                           f"{input.ndim}D")
    return transpose(input, 0, 1) if input.ndim == 2 else reshape(input, input._data.shape)


def _dim_list(dims, ndim, what):
    dims = (dims,) if isinstance(dims, builtins.int) or hasattr(dims, "__index__") else tuple(dims)
    out = tuple(normalize_dim(d, ndim) for d in dims)
    if len(set(out)) != len(out):
        raise RuntimeError(f"movedim: repeated dim in `{what}` ({list(dims)})")
    return out


def movedim(input, source, destination):
    """Move dims ``source`` to positions ``destination``; the others keep their order."""
    src = _dim_list(source, input.ndim, "source")
    dst = _dim_list(destination, input.ndim, "destination")
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source "
                           f"({list(src)} dims) should contain the same number of dims as "
                           f"destination ({list(dst)} dims)")
    order = [d for d in range(input.ndim) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(input, *order)


moveaxis = movedim


class Expand(Function):
    is_view = True
    jvp_linear = True

    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        return ctx.xp.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output.sum_to_size(ctx.in_shape)


def expand(input, *sizes):
    """A read-only view with size-1 dims repeated to ``sizes`` (-1 keeps a dim's size)."""
    sizes = _sizes(sizes)
    if len(sizes) < input.ndim:
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater "
                           f"or equal to the number of dimensions in the tensor ({input.ndim})")
    lead = len(sizes) - input.ndim
    shape = list(sizes)
    for i in range(lead):
        if sizes[i] < 0:
            raise RuntimeError(f"The expanded size of the tensor ({sizes[i]}) isn't allowed in "
                               f"a leading, non-existing dimension {i}")
    for i, s in enumerate(input._data.shape):
        target = sizes[lead + i]
        if target == -1:
            shape[lead + i] = s
        elif s != target and (s != 1 or target < 0):
            raise RuntimeError(f"The expanded size of the tensor ({target}) must match the "
                               f"existing size ({s}) at non-singleton dimension {lead + i}.  "
                               f"Target sizes: {list(sizes)}.  Tensor sizes: {list(input.shape)}")
    shape = tuple(shape)
    if shape == input._data.shape and not input._requires_grad and input._fw_grad is None:
        return _alias(input)
    return Expand.apply(input, shape)


def broadcast_to(input, shape):
    return expand(input, tuple(shape))


def broadcast_tensors(*tensors):
    """Expand all tensors to their common broadcast shape."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    try:
        shape = broadcast_shapes(*(tuple(t_.shape) for t_ in tensors))
    except ValueError:
        raise RuntimeError("broadcast_tensors: shapes "
                           f"{[list(t_.shape) for t_ in tensors]} cannot be broadcast "
                           "together") from None
    return tuple(expand(t_, shape) for t_ in tensors)
