"""Small helpers shared by the op families: operand conversion, dim handling, constants."""
from zerograd import dtypes
from zerograd.backend import array_module
from zerograd.tensor import Tensor

def const(array):
    """A tensor that is not part of any graph."""
    return Tensor._make(array, False, None)


def as_tensor_operand(x, dtype=None):
    """A Tensor for ``x``; Python numbers and arrays become constants (of ``dtype``) on the
    device of ``x`` (the CPU for numbers)."""
    if isinstance(x, Tensor):
        return x if dtype is None or x.dtype is dtype else x.to(dtype)
    xp = array_module(x)
    if dtype is None:
        dtype = dtypes.result_type(x) if not hasattr(x, "dtype") else dtypes.from_numpy_dtype(
            xp.asarray(x).dtype)
    return const(xp.asarray(x, dtype=dtype.np))


def float_operand(x):
    """``x`` as a floating Tensor: integer and bool inputs go to the default float dtype."""
    if not isinstance(x, Tensor):
        x = as_tensor_operand(x)
    if x._data.dtype.kind != "f":
        x = x.to(dtypes.get_default_dtype())
    return x


def normalize_dim(dim, ndim):
    """One dim index, negative allowed, checked like torch (0-d tensors accept -1 and 0)."""
    n = max(ndim, 1)
    if not isinstance(dim, int):
        dim = int(dim)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim % n


_ALL_DIMS = tuple(tuple(range(n)) for n in range(65))  # made once: reductions over all dims


def normalize_dims(dim, ndim):
    """``None`` (all dims), an int, or a tuple/list of ints -> a sorted tuple of axes."""
    if dim is None:
        return _ALL_DIMS[ndim]
    if isinstance(dim, (int,)) or hasattr(dim, "__index__"):
        dims = (normalize_dim(dim, ndim),)
    else:
        dims = tuple(normalize_dim(d, ndim) for d in dim)
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"dim {tuple(dim)} appears multiple times in the list of dims")
        if not dims:  # torch: an empty dim list means all dims
            return tuple(range(ndim))
    return tuple(sorted(dims)) if ndim else ()


def shape_arg(shape):
    """Accept ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` or ``f(Size)`` as a tuple of ints."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)) or (
            len(shape) == 1 and hasattr(shape[0], "__len__") and not isinstance(shape[0], Tensor)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


class ShapeMismatch(RuntimeError, ValueError):
    """Shapes that do not broadcast: a RuntimeError as in torch; also a ValueError, which
    callers that word their own op's message catch."""


def broadcast_shapes(*shapes):
    """The shape that ``shapes`` broadcast to (NumPy's rule); ``ShapeMismatch`` otherwise."""
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for s in shapes:
        for i, n in enumerate(s, ndim - len(s)):
            if n != 1:
                if out[i] != 1 and out[i] != n:
                    raise ShapeMismatch("shape mismatch: objects cannot be broadcast to a "
                                        "single shape: "
                                        + " and ".join(str(tuple(x)) for x in shapes))
                out[i] = n
    return tuple(out)
