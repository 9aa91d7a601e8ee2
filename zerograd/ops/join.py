"""Joining and splitting tensors: cat/stack (and h/v/d/column_stack), split/chunk/unbind,
narrow/select, and meshgrid (vectors joined into coordinate grids).

Pieces of a split are views of the input (basic slicing), all outputs of one node whose
backward joins their gradients; ``cat``'s backward hands each input the matching slice of
the gradient.
"""
import builtins
import warnings

from zerograd._aliases import numpy_aliases
from zerograd import dtypes
from zerograd.autograd.function import Function
from zerograd.ops._util import normalize_dim
from zerograd.ops.indexing import Index
from zerograd.ops.shape import reshape, unsqueeze
from zerograd.tensor import Tensor

__all__ = ["cat", "concat", "concatenate", "stack", "split", "chunk", "unbind", "narrow",
           "select", "column_stack", "hstack", "vstack", "dstack", "atleast_1d", "atleast_2d",
           "meshgrid"]


class Cat(Function):
    jvp_linear = True

    @staticmethod
    def forward(ctx, *arrays, dim):
        ctx.dim = dim
        ctx.sizes = [a.shape[dim] for a in arrays]
        return ctx.xp.concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, grad_output):
        grads, start = [], 0
        for size, need in zip(ctx.sizes, ctx.needs_input_grad):
            grads.append(narrow(grad_output, ctx.dim, start, size) if need else None)
            start += size
        return tuple(grads)


class Split(Function):
    """Consecutive pieces of ``sizes`` along ``dim``, views of the input: one node with an
    output per piece; its backward joins the pieces' gradients (zeros for unused ones)."""

    is_view = True
    jvp_linear = True

    @staticmethod
    def forward(ctx, a, sizes, dim):
        ctx.dim = dim
        pieces, start, lead = [], 0, (slice(None),) * dim
        for size in sizes:
            pieces.append(a[lead + (slice(start, start + size),)])
            start += size
        return tuple(pieces)

    @staticmethod
    def backward(ctx, *grad_outputs):
        return Cat.apply(*grad_outputs, dim=ctx.dim)


class Unbind(Function):
    """The slices along ``dim`` with that dim removed, views of the input (one node)."""

    is_view = True
    jvp_linear = True

    @staticmethod
    def forward(ctx, a, dim):
        ctx.dim = dim
        lead = (slice(None),) * dim
        # (i, ...) keeps even a 1-D input's elements as 0-d views, not array scalars
        return tuple(a[lead + (i, Ellipsis)] for i in range(a.shape[dim]))

    @staticmethod
    def backward(ctx, *grad_outputs):
        return Cat.apply(*[unsqueeze(g, ctx.dim) for g in grad_outputs], dim=ctx.dim)


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


@numpy_aliases
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


@numpy_aliases
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
    return Index.apply(input, (slice(None),) * d + (slice(start, start + length),))


def select(input, dim, index):
    """The view ``input[..., index, ...]`` with dim ``dim`` removed."""
    d = normalize_dim(dim, input.ndim)
    n = input.shape[d]
    index = builtins.int(index)
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input.shape)} at dimension {d}")
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
    return Split.apply(tensor, tuple(sizes), d)


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
    return Unbind.apply(input, d) if input.shape[d] else ()


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


def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 1-D tensors: output ``i`` holds ``tensors[i]`` spread along its own
    dim. ``indexing='ij'`` (the default) gives shape (len0, len1, ...); ``'xy'`` swaps the
    first two dims, as NumPy's and MATLAB's Cartesian convention. Outputs are expanded views.
    """
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the "
                      "indexing argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but "
                           f"received: {indexing}")
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for i, t_ in enumerate(tensors):
        if not isinstance(t_, Tensor) or t_.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list "
                               f"but got: {t_!r} (argument {i})")
        if t_.dtype != tensors[0].dtype:
            raise RuntimeError("torch.meshgrid: Expected all tensors in the tensor list to have "
                               f"the same dtype, got {tensors[0].dtype} and {t_.dtype}")
    # 'xy' puts the second input's axis first: output dim of input k is axes[k]
    axes = list(builtins.range(len(tensors)))
    if indexing == "xy" and len(tensors) >= 2:
        axes[0], axes[1] = 1, 0
    shape = [0] * len(tensors)
    for k, t_ in enumerate(tensors):
        shape[axes[k]] = t_.numel()
    grids = []
    for k, t_ in enumerate(tensors):
        view = [1] * len(tensors)
        view[axes[k]] = -1
        grids.append(reshape(t_, view).expand(shape))
    return tuple(grids)
