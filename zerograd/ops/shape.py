"""Shape ops: reshape/view, squeeze, transpose/permute, expand, repeat, flip, roll, cat/stack/split.

Most are views in NumPy (no copy); their backward applies the inverse rearrangement.
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


def _infer_shape(shape, numel, op):
    shape = list(shape)
    unknown = [i for i, s in enumerate(shape) if s == -1]
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    if len(unknown) > 1:
        raise RuntimeError("only one dimension can be inferred")
    if any(s < -1 for s in shape):
        raise RuntimeError(f"invalid shape dimension {min(shape)}")
    if unknown:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape[unknown[0]] = numel // known
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return tuple(shape)


class Reshape(Function):
    is_view = True

    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output.reshape(ctx.in_shape)


def reshape(input, *shape):
    shape = _infer_shape(shape_arg(shape), input.numel(), "reshape")
    if shape == input._data.shape:
        return Reshape.apply(input, shape) if input._requires_grad else _alias(input)
    return Reshape.apply(input, shape)


def _alias(input):
    out = Tensor._make(input._data, False, None)
    out._share_version_with(input)
    return out


def view(input, *shape):
    shape = _infer_shape(shape_arg(shape), input.numel(), "view")
    try:
        xp.reshape(input._data, shape, copy=False)
    except ValueError:
        raise RuntimeError("view size is not compatible with input tensor's size and stride "
                           "(at least one dimension spans across two contiguous subspaces). "
                           "Use .reshape(...) instead.") from None
    return Reshape.apply(input, shape)


def flatten(input, start_dim=0, end_dim=-1):
    if input.ndim == 0:
        return reshape(input, 1)
    s = normalize_dim(start_dim, input.ndim)
    e = normalize_dim(end_dim, input.ndim)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shape = input.shape
    n = 1
    for d in shape[s:e + 1]:
        n *= d
    return reshape(input, tuple(shape[:s]) + (n,) + tuple(shape[e + 1:]))


ravel = lambda input: flatten(input)  # noqa: E731


def unflatten(input, dim, sizes):
    d = normalize_dim(dim, input.ndim)
    sizes = list(sizes)
    if -1 in sizes:
        known = 1
        for s in sizes:
            if s != -1:
                known *= s
        sizes[sizes.index(-1)] = input.shape[d] // known
    shape = tuple(input.shape[:d]) + tuple(sizes) + tuple(input.shape[d + 1:])
    if _prod(sizes) != input.shape[d]:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {dim} ({input.shape[d]}) in the input tensor")
    return reshape(input, shape)


def _prod(values):
    n = 1
    for v in values:
        n *= v
    return n


def squeeze(input, dim=None):
    shape = input.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        dims = normalize_dims(dim, input.ndim) if input.ndim else ()
        new = tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1))
    return reshape(input, new)


def unsqueeze(input, dim):
    d = normalize_dim(dim, input.ndim + 1)
    shape = list(input.shape)
    shape.insert(d, 1)
    return reshape(input, tuple(shape))


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
    dims = shape_arg(dims) if dims and not isinstance(dims[0], int) else tuple(dims)
    if len(dims) != input.ndim:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {input.ndim} is not equal to len(dims) = {len(dims)}")
    axes = tuple(normalize_dim(d, input.ndim) for d in dims)
    if len(set(axes)) != len(axes):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    if input.ndim == 0:
        return _alias(input) if not input._requires_grad else Reshape.apply(input, ())
    return Permute.apply(input, axes)


def transpose(input, dim0, dim1):
    if input.ndim == 0:
        return permute(input)
    axes = list(range(input.ndim))
    a, b = normalize_dim(dim0, input.ndim), normalize_dim(dim1, input.ndim)
    axes[a], axes[b] = axes[b], axes[a]
    return Permute.apply(input, tuple(axes))


swapaxes = swapdims = transpose


def t(input):
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                           f"{input.ndim}D")
    return transpose(input, 0, 1) if input.ndim == 2 else permute(input, *range(input.ndim))


def movedim(input, source, destination):
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    src = tuple(normalize_dim(s, input.ndim) for s in src)
    dst = tuple(normalize_dim(s, input.ndim) for s in dst)
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
    sizes = shape_arg(sizes)
    if len(sizes) < input.ndim:
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater "
                           f"or equal to the number of dimensions in the tensor ({input.ndim})")
    lead = len(sizes) - input.ndim
    shape = list(sizes)
    for i, s in enumerate(input.shape):
        target = sizes[lead + i]
        if target == -1:
            shape[lead + i] = s
        elif s != 1 and s != target:
            raise RuntimeError(f"The expanded size of the tensor ({target}) must match the "
                               f"existing size ({s}) at non-singleton dimension {lead + i}.  "
                               f"Target sizes: {list(sizes)}.  Tensor sizes: {list(input.shape)}")
    shape = tuple(shape)
    if shape == input._data.shape:
        return input if not input._requires_grad else Expand.apply(input, shape)
    return Expand.apply(input, shape)


def broadcast_to(input, shape):
    return expand(input, tuple(shape))


def broadcast_tensors(*tensors):
    shape = xp.broadcast_shapes(*(t.shape for t in tensors))
    return tuple(expand(t, shape) for t in tensors)


class Repeat(Function):
    @staticmethod
    def forward(ctx, a, reps):
        ctx.in_shape = (1,) * (len(reps) - a.ndim) + a.shape
        ctx.reps = reps
        return xp.tile(a, reps)

    @staticmethod
    def backward(ctx, grad_output):
        # view the output as (rep0, size0, rep1, size1, ...) and sum over the rep axes
        split = []
        for r, s in zip(ctx.reps, ctx.in_shape):
            split += [r, s]
        g = grad_output.reshape(tuple(split)).sum(tuple(range(0, len(split), 2)))
        return g


def repeat(input, *sizes):
    reps = shape_arg(sizes)
    if len(reps) < input.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    return Repeat.apply(input, reps)


def tile(input, *dims):
    reps = shape_arg(dims)
    reps = (1,) * (input.ndim - len(reps)) + reps
    return Repeat.apply(input, reps)


class Flip(Function):
    @staticmethod
    def forward(ctx, a, axes):
        ctx.axes = axes
        return xp.flip(a, axes)

    @staticmethod
    def backward(ctx, grad_output):
        return Flip.apply(grad_output, ctx.axes)


def flip(input, *dims):
    dims = shape_arg(dims) if dims and not isinstance(dims[0], int) else dims
    return Flip.apply(input, normalize_dims(tuple(dims), input.ndim) if dims else ())


def fliplr(input):
    return flip(input, 1)


def flipud(input):
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
    if dims is None:
        return Roll.apply(input, shifts, None)
    if isinstance(dims, int):
        dims, shifts = (dims,), (shifts,)
    dims = tuple(normalize_dim(d, input.ndim) for d in dims)
    shifts = tuple(shifts)
    if len(dims) != len(shifts):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                           f"dims:{len(dims)}")
    return Roll.apply(input, shifts, dims)


class Cat(Function):
    @staticmethod
    def forward(ctx, *arrays, dim):
        ctx.dim = dim
        ctx.sizes = [a.shape[dim] if a.ndim else 0 for a in arrays]
        return xp.concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, grad_output):
        grads, start = [], 0
        for size, need in zip(ctx.sizes, ctx.needs_input_grad):
            grads.append(narrow(grad_output, ctx.dim, start, size) if need else None)
            start += size
        return tuple(grads)


def cat(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("cat expects a non-empty list of Tensors")
    for i, t_ in enumerate(tensors):
        if not isinstance(t_, Tensor):
            raise TypeError(f"cat(): expected a sequence of Tensors, but element {i} is "
                            f"{type(t_).__name__}")
    # torch skips legacy empty 1-D tensors (shape (0,)) when concatenating
    kept = [t_ for t_ in tensors if not (t_.ndim == 1 and t_.shape[0] == 0)] or tensors[:1]
    ref = kept[0]
    if ref.ndim == 0:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
    d = normalize_dim(dim, ref.ndim)
    for i, t_ in enumerate(kept):
        if t_.ndim != ref.ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ref.ndim} "
                               f"and {t_.ndim}")
        for ax in range(ref.ndim):
            if ax != d and t_.shape[ax] != ref.shape[ax]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. "
                                   f"Expected size {ref.shape[ax]} but got size {t_.shape[ax]} "
                                   f"for tensor number {i} in the list.")
    common = dtypes.result_type(*kept) if len({t_.dtype for t_ in kept}) > 1 else ref.dtype
    kept = [t_ if t_.dtype is common else t_.to(common) for t_ in kept]
    return Cat.apply(*kept, dim=d)


concat = concatenate = cat


def stack(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    for i, t_ in enumerate(tensors[1:], 1):
        if t_.shape != tensors[0].shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(tensors[0].shape)} at entry 0 and {list(t_.shape)} at "
                               f"entry {i}")
    d = normalize_dim(dim, tensors[0].ndim + 1)
    return cat([unsqueeze(t_, d) for t_ in tensors], d)


def narrow(input, dim, start, length):
    d = normalize_dim(dim, input.ndim)
    start = int(start)
    if start < 0:
        start += input.shape[d]
    if start < 0 or length < 0 or start + length > input.shape[d]:
        raise IndexError(f"start ({start}) + length ({length}) exceeds dimension size "
                         f"({input.shape[d]}).")
    index = (slice(None),) * d + (slice(start, start + length),)
    return input[index]


def select(input, dim, index):
    d = normalize_dim(dim, input.ndim)
    return input[(slice(None),) * d + (int(index),)]


def split(tensor, split_size_or_sections, dim=0):
    d = normalize_dim(dim, tensor.ndim)
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0 and n:
            raise RuntimeError(f"split expects split_size be non-negative, but got "
                               f"split_size={step}")
        sizes = [builtins.min(step, n - s) for s in range(0, n, step)] if n else [0]
    else:
        sizes = list(split_size_or_sections)
        if builtins.sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {d}), but got "
                               f"split_sizes={sizes}")
    out, start = [], 0
    for size in sizes:
        out.append(narrow(tensor, d, start, size))
        start += size
    return tuple(out)


def chunk(input, chunks, dim=0):
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0")
    n = input.shape[normalize_dim(dim, input.ndim)]
    step = -(-n // chunks) if n else 1
    return split(input, step, dim)


def unbind(input, dim=0):
    d = normalize_dim(dim, input.ndim)
    return tuple(select(input, d, i) for i in range(input.shape[d]))


def atleast_1d(input):
    return reshape(input, 1) if input.ndim == 0 else input


def atleast_2d(input):
    if input.ndim == 0:
        return reshape(input, 1, 1)
    return unsqueeze(input, 0) if input.ndim == 1 else input


def hstack(tensors):
    tensors = [atleast_1d(t_) for t_ in tensors]
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors):
    return cat([atleast_2d(t_) for t_ in tensors], 0)


def dstack(tensors):
    out = []
    for t_ in tensors:
        t_ = atleast_2d(t_)
        out.append(unsqueeze(t_, -1) if t_.ndim == 2 else t_)
    return cat(out, 2)


def column_stack(tensors):
    cols = [reshape(t_, -1, 1) if t_.ndim <= 1 else t_ for t_ in tensors]
    return cat(cols, 1)


class Clone(Function):
    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output


def clone(input):
    return Clone.apply(input)


def contiguous(input):
    return input if input._data.flags["C_CONTIGUOUS"] else Clone.apply(input)
