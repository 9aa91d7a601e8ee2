"""Shape ops that copy data rather than view it: repeat/tile, flip, roll, clone.

torch's ``repeat``, ``flip`` and ``roll`` always return new memory (NumPy's ``flip`` would
be a view, so it is copied). Their backward is the adjoint rearrangement: repeat sums
the tiles, flip flips back, roll rolls back, clone passes the gradient through.
"""
import builtins

from zerograd.autograd.function import Function
from zerograd.ops._util import normalize_dim, normalize_dims, shape_arg

__all__ = ["repeat", "tile", "flip", "fliplr", "flipud", "roll", "clone", "contiguous"]


class Repeat(Function):
    jvp_linear = True

    @staticmethod
    def forward(ctx, a, reps):
        ctx.in_shape = (1,) * (len(reps) - a.ndim) + a.shape
        ctx.reps = reps
        return ctx.xp.tile(a, reps)

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
    jvp_linear = True

    @staticmethod
    def forward(ctx, a, axes):
        ctx.axes = axes
        return ctx.xp.flip(a, axes).copy()  # torch's flip copies; a view would alias the input

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
    jvp_linear = True

    @staticmethod
    def forward(ctx, a, shifts, axes):
        ctx.shifts, ctx.axes = shifts, axes
        return ctx.xp.roll(a, shifts, axes)

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


class Clone(Function):
    jvp_linear = True

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
