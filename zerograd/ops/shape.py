"""Shape ops: reshape/view, squeeze, transpose/permute, expand, repeat, flip, roll, cat/stack/split.

Reshape, permute, expand and basic slicing are views in NumPy (no copy) and share the
version counter with their base; their backward applies the inverse rearrangement.
"""
import builtins

from zerograd import dtypes
from zerograd.autograd.function import Function
from zerograd.backend import xp
from zerograd.ops._util import normalize_dim, normalize_dims, shape_arg
from zerograd.tensor import Tensor

__all__ = ["reshape", "view", "flatten", "unflatten", "squeeze", "unsqueeze", "transpose",
           "swapaxes", "swapdims", "permute", "movedim", "moveaxis", "t", "expand",
           "broadcast_to", "repeat", "tile", "flip", "fliplr", "flipud", "roll", "cat",
           "concat", "concatenate", "stack", "split", "chunk", "unbind", "narrow",
           "column_stack", "hstack", "vstack", "dstack", "contiguous", "clone",
           "broadcast_tensors", "atleast_1d", "atleast_2d", "ravel", "select"]


def _prod(values):
    n = 1
    for v in values:
        n *= v
    return n


def _infer_shape(shape, numel):
    """``shape`` with its one ``-1`` filled in so that it holds ``numel`` elements."""
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
    shape = _infer_shape(shape_arg(shape), input._data.size)
    if shape == input._data.shape and not input._requires_grad:
        return _alias(input)
    return Reshape.apply(input, shape)


def view(input, *shape):
    """Like ``reshape`` but never copies: raises when the strides make a view impossible."""
    shape = _infer_shape(shape_arg(shape), input._data.size)
    try:
        xp.reshape(input._data, shape, copy=False)
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


def unsqueeze(input, dim):
    """Insert a dim of size 1 at position ``dim``."""
    d = normalize_dim(dim, input.ndim + 1)
    shape = input._data.shape
    return reshape(input, shape[:d] + (1,) + shape[d:])


class Permute(Function):
    is_view = True

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
    dims = shape_arg(dims)
    if len(dims) != input.ndim:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {input.ndim} is not equal to len(dims) = {len(dims)}")
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

    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        return xp.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output.sum_to_size(ctx.in_shape)


def expand(input, *sizes):
    """A read-only view with size-1 dims repeated to ``sizes`` (-1 keeps a dim's size)."""
    sizes = shape_arg(sizes)
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
    if shape == input._data.shape and not input._requires_grad:
        return _alias(input)
    return Expand.apply(input, shape)


def broadcast_to(input, shape):
    return expand(input, tuple(shape))


def broadcast_tensors(*tensors):
    """Expand all tensors to their common broadcast shape."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    try:
        shape = xp.broadcast_shapes(*(tuple(t_.shape) for t_ in tensors))
    except ValueError:
        raise RuntimeError("broadcast_tensors: shapes "
                           f"{[list(t_.shape) for t_ in tensors]} cannot be broadcast "
                           "together") from None
    return tuple(expand(t_, shape) for t_ in tensors)


class Repeat(Function):
    @staticmethod
    def forward(ctx, a, reps):
        ctx.in_shape = (1,) * (len(reps) - a.ndim) + a.shape
        ctx.reps = reps
        return xp.tile(a, reps)

    @staticmethod
    def backward(ctx, grad_output):
        # the output seen as (rep0, size0, rep1, size1, ...): sum over the rep axes
        split = []
        for r, s in zip(ctx.reps, ctx.in_shape):
            split += [r, s]
        return grad_output.reshape(tuple(split)).sum(tuple(range(0, len(split), 2)))


def _check_reps(reps):
    if any(r < 0 for r in reps):
        raise RuntimeError(f"Trying to create tensor with negative dimension "
                           f"{min(reps)}: {list(reps)}")


def repeat(input, *sizes):
    """Tile the tensor ``sizes[i]`` times along each dim (a copy, like torch.Tensor.repeat)."""
    reps = shape_arg(sizes)
    if len(reps) < input.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    _check_reps(reps)
    return Repeat.apply(input, reps)


def tile(input, *dims):
    """``repeat`` that pads missing leading repetition counts with 1."""
    reps = shape_arg(dims)
    reps = (1,) * (input.ndim - len(reps)) + reps
    _check_reps(reps)
    return Repeat.apply(input, reps)


class Flip(Function):
    @staticmethod
    def forward(ctx, a, axes):
        ctx.axes = axes
        return xp.flip(a, axes).copy()  # torch's flip copies; a view would alias the input

    @staticmethod
    def backward(ctx, grad_output):
        return Flip.apply(grad_output, ctx.axes)


def flip(input, *dims):
    """Reverse the order of elements along ``dims`` (a copy)."""
    if not dims:
        raise TypeError("flip() missing 1 required positional arguments: \"dims\"")
    dims = shape_arg(dims)
    axes = normalize_dims(dims, input.ndim) if dims else ()
    if input.ndim == 0:
        return clone(input)
    return Flip.apply(input, axes)


def fliplr(input):
    if input.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, 1)


def flipud(input):
    if input.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, 0)


class Roll(Function):
    @staticmethod
    def forward(ctx, a, shifts, axes):
        ctx.shifts, ctx.axes = shifts, axes
        return xp.roll(a, shifts, axes)

    @staticmethod
    def backward(ctx, grad_output):
        back = tuple(-s for s in ctx.shifts) if isinstance(ctx.shifts, tuple) else -ctx.shifts
        return Roll.apply(grad_output, back, ctx.axes)


def roll(input, shifts, dims=None):
    """Shift elements cyclically along ``dims`` (over the flattened tensor when None)."""
    shifts = (builtins.int(shifts),) if isinstance(shifts, builtins.int) or hasattr(
        shifts, "__index__") else tuple(builtins.int(s) for s in shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                               "dims:0")
        return Roll.apply(input, shifts[0], None)
    dims = (dims,) if isinstance(dims, builtins.int) else tuple(dims)
    if len(dims) != len(shifts):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                           f"dims:{len(dims)}")
    if input.ndim == 0:
        return clone(input)
    return Roll.apply(input, shifts, tuple(normalize_dim(d, input.ndim) for d in dims))


class Cat(Function):
    @staticmethod
    def forward(ctx, *arrays, dim):
        ctx.dim = dim
        ctx.sizes = [a.shape[dim] for a in arrays]
        return xp.concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, grad_output):
        grads, start = [], 0
        for size, need in zip(ctx.sizes, ctx.needs_input_grad):
            grads.append(narrow(grad_output, ctx.dim, start, size) if need else None)
            start += size
        return tuple(grads)


def _tensor_list(tensors, name):
    if isinstance(tensors, Tensor):
        raise TypeError(f"{name}(): argument 'tensors' must be a tuple or list of Tensors, not "
                        "Tensor")
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{name}(): expected a non-empty list of Tensors")
    for i, t_ in enumerate(tensors):
        if not isinstance(t_, Tensor):
            raise TypeError(f"{name}(): expected a sequence of Tensors, but element {i} is "
                            f"{type(t_).__name__}")
    return tensors


def cat(tensors, dim=0):
    """Join tensors along an existing dim; all other dims must match."""
    tensors = _tensor_list(tensors, "cat")
    # torch skips legacy empty 1-D tensors (shape (0,)) when concatenating
    for i, t_ in enumerate(tensors):
        if t_.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be "
                               "concatenated")
    multi_dim = any(t_.ndim > 1 for t_ in tensors)
    numbered = [(i, t_) for i, t_ in enumerate(tensors)
                if not (multi_dim and t_._data.shape == (0,))] or [(0, tensors[0])]
    kept = [t_ for _, t_ in numbered]
    ref = kept[0]
    d = normalize_dim(dim, ref.ndim)
    for i, t_ in numbered:
        if t_.ndim != ref.ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ref.ndim} "
                               f"and {t_.ndim}")
        for ax in range(ref.ndim):
            if ax != d and t_.shape[ax] != ref.shape[ax]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. "
                                   f"Expected size {ref.shape[ax]} but got size {t_.shape[ax]} "
                                   f"for tensor number {i} in the list.")
    common = ref.dtype
    for t_ in tensors[1:]:
        if t_.dtype is not common:
            common = dtypes.promote_types(common, t_.dtype)
    kept = [t_ if t_.dtype is common else t_.to(common) for t_ in kept]
    return Cat.apply(*kept, dim=d)


concat = concatenate = cat


def stack(tensors, dim=0):
    """Join equally shaped tensors along a new dim ``dim``."""
    tensors = _tensor_list(tensors, "stack")
    for i, t_ in enumerate(tensors[1:], 1):
        if t_.shape != tensors[0].shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(tensors[0].shape)} at entry 0 and {list(t_.shape)} at "
                               f"entry {i}")
    d = normalize_dim(dim, tensors[0].ndim + 1)
    return cat([unsqueeze(t_, d) for t_ in tensors], d)


def narrow(input, dim, start, length):
    """The view ``input[..., start:start + length, ...]`` along ``dim``."""
    d = normalize_dim(dim, input.ndim)
    n = input.shape[d]
    start, length = builtins.int(start), builtins.int(length)
    if not -n <= start <= n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but got "
                         f"{start})")
    if start < 0:
        start += n
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    if start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    from zerograd.ops.indexing import Index
    return Index.apply(input, (slice(None),) * d + (slice(start, start + length),))


def select(input, dim, index):
    """The view ``input[..., index, ...]`` with dim ``dim`` removed."""
    d = normalize_dim(dim, input.ndim)
    n = input.shape[d]
    index = builtins.int(index)
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input.shape)} at dimension {d}")
    from zerograd.ops.indexing import Index
    return Index.apply(input, (slice(None),) * d + (index % n,))


def split(tensor, split_size_or_sections, dim=0):
    """Views of consecutive pieces along ``dim``: of one size (the last may be smaller), or of
    the listed sizes."""
    d = normalize_dim(dim, tensor.ndim)
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, builtins.int) or hasattr(split_size_or_sections,
                                                                   "__index__"):
        step = builtins.int(split_size_or_sections)
        if step < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got "
                               f"split_size={step}")
        if step == 0 and n:
            raise RuntimeError("split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {n}")
        sizes = [builtins.min(step, n - s) for s in range(0, n, step)] if n else [0]
    else:
        sizes = [builtins.int(s) for s in split_size_or_sections]
        if builtins.sum(sizes) != n or any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {d}), but got "
                               f"split_sizes={sizes}")
    out, start = [], 0
    for size in sizes:
        out.append(narrow(tensor, d, start, size))
        start += size
    return tuple(out)


def chunk(input, chunks, dim=0):
    """At most ``chunks`` pieces of equal size (the last may be smaller) along ``dim``."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = normalize_dim(dim, input.ndim)
    n = input.shape[d]
    if n == 0:
        return tuple(narrow(input, d, 0, 0) for _ in range(chunks))
    return split(input, -(-n // chunks), d)


def unbind(input, dim=0):
    """The slices along ``dim`` as a tuple of views with that dim removed."""
    if input.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    d = normalize_dim(dim, input.ndim)
    return tuple(select(input, d, i) for i in range(input.shape[d]))


def atleast_1d(input):
    return reshape(input, 1) if input.ndim == 0 else input


def atleast_2d(input):
    if input.ndim == 0:
        return reshape(input, 1, 1)
    return unsqueeze(input, 0) if input.ndim == 1 else input


def hstack(tensors):
    """Concatenate along dim 1 (dim 0 for 1-D tensors)."""
    tensors = [atleast_1d(t_) for t_ in _tensor_list(tensors, "hstack")]
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors):
    """Concatenate along dim 0, treating 0-D/1-D tensors as rows."""
    return cat([atleast_2d(t_) for t_ in _tensor_list(tensors, "vstack")], 0)


def dstack(tensors):
    out = []
    for t_ in _tensor_list(tensors, "dstack"):
        t_ = atleast_2d(t_)
        out.append(unsqueeze(t_, -1) if t_.ndim == 2 else t_)
    return cat(out, 2)


def column_stack(tensors):
    """Concatenate along dim 1, treating 0-D/1-D tensors as columns."""
    cols = [reshape(t_, -1, 1) if t_.ndim <= 1 else t_
            for t_ in _tensor_list(tensors, "column_stack")]
    return cat(cols, 1)


class Clone(Function):
    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output


def clone(input):
    """A copy with its own memory, still connected to the graph."""
    return Clone.apply(input)


def contiguous(input):
    """``input`` itself if C-contiguous, otherwise a contiguous copy."""
    return input if input._data.flags["C_CONTIGUOUS"] else Clone.apply(input)
