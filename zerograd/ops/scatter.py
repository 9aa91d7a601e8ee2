"""The gather/scatter family: gather, scatter, scatter_add, index_select, index_add.

Each is the adjoint of another (gather <-> scatter_add, index_select <-> index_add), which
is how their gradients are written; index checks follow torch's messages (the index
tensor must be on the input's device).
"""
from zerograd.autograd.function import Function
from zerograd.backend import array_module
from zerograd.ops._util import broadcast_shapes, const, normalize_dim
from zerograd.ops.indexing import Index, IndexAddInto, IndexPut, check_same_device, take
from zerograd.tensor import Tensor

__all__ = ["gather", "scatter", "scatter_add", "index_select", "index_add", "take_along_dim"]


def _check_index_tensor(input, index, name, kinds="i"):
    if not isinstance(index, Tensor) or index._data.dtype.kind not in kinds or (
            index._data.dtype.itemsize < 4):
        dt = index.dtype if isinstance(index, Tensor) else type(index).__name__
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index (got {dt}); "
                           "convert with index.long()")
    check_same_device(input, index, "index")
    return index._data


def _check_bounds(idx, size, dim):
    if idx.size:
        lo, hi = idx.min(), idx.max()
        if lo < 0 or hi >= size:
            bad = int(lo) if lo < 0 else int(hi)
            raise RuntimeError(f"index {bad} is out of bounds for dimension {dim} with size "
                               f"{size}")


def _check_gather_shapes(name, idx, shape, dim, src_shape=None):
    if idx.ndim != len(shape) and idx.size:
        raise RuntimeError("Index tensor must have the same number of dimensions as "
                           f"{'self' if name != 'gather' else 'input'} tensor")
    bad = any(i != dim and idx.shape[i] > shape[i] for i in range(idx.ndim))
    if src_shape is not None and any(idx.shape[i] > src_shape[i] for i in range(idx.ndim)):
        bad = True
    if bad:
        msg = (f"Size does not match at dimension {dim} expected index {list(idx.shape)} to be "
               f"no larger than self {list(shape)} apart from dimension {dim}")
        if src_shape is not None:
            msg += f" and to be no larger size than src {list(src_shape)}"
        raise RuntimeError(msg)


def _axis_index(xp, index, dim):
    """Full index tuple addressing ``a[..., index, ...]`` along ``dim`` elementwise."""
    n = index.ndim  # open grids, as indices(sparse=True) makes them (CuPy lacks sparse=)
    grids = [xp.arange(s).reshape((1,) * i + (s,) + (1,) * (n - i - 1))
             for i, s in enumerate(index.shape)]
    grids[dim] = index
    return tuple(grids)


def _leading_part(src, index_shape):
    return src[tuple(slice(0, s) for s in index_shape)]


def _pad_to(grad, shape):
    """``grad`` (the index's shape) placed at the start of zeros of ``shape`` (src's shape)."""
    if tuple(grad.shape) == tuple(shape):
        return grad
    return IndexAddInto.apply(grad, tuple(shape), tuple(slice(0, s) for s in grad.shape))


class Gather(Function):
    jvp_linear = True

    @staticmethod
    def forward(ctx, a, index, dim):
        ctx.in_shape, ctx.dim, ctx.index = a.shape, dim, index
        return a[_axis_index(ctx.xp, index, dim)]

    @staticmethod
    def backward(ctx, grad_output):
        g = grad_output._data
        return ScatterAdd.apply(const(array_module(g).zeros(ctx.in_shape, g.dtype)),
                                ctx.index, grad_output, ctx.dim)


class ScatterAdd(Function):
    jvp_linear = True

    @staticmethod
    def forward(ctx, a, index, src, dim):
        ctx.dim, ctx.index, ctx.src_shape = dim, index, src.shape
        out = a.copy()
        ctx._backend.scatter_add(out, _axis_index(ctx.xp, index, dim),
                                 _leading_part(src, index.shape))
        return out

    @staticmethod
    def backward(ctx, grad_output):
        grad_src = None
        if ctx.needs_input_grad[2]:
            grad_src = _pad_to(Gather.apply(grad_output, ctx.index, ctx.dim), ctx.src_shape)
        return grad_output, None, grad_src


class Scatter(Function):
    @staticmethod
    def forward(ctx, a, index, src, dim):
        ctx.dim, ctx.index, ctx.src_shape = dim, index, src.shape
        out = a.copy()
        values = _leading_part(src, index.shape) if src.ndim else src
        out[_axis_index(ctx.xp, index, dim)] = values
        return out

    @staticmethod
    def backward(ctx, grad_output):
        grad_a = grad_src = None
        if ctx.needs_input_grad[0]:
            zero = const(array_module(grad_output._data).zeros((), grad_output._data.dtype))
            grad_a = Scatter.apply(grad_output, ctx.index, zero, ctx.dim)
        if ctx.needs_input_grad[2]:
            grad_src = _pad_to(Gather.apply(grad_output, ctx.index, ctx.dim), ctx.src_shape)
        return grad_a, None, grad_src

    @staticmethod
    def jvp(ctx, t_a, _, t_src, __):
        a, index, src, dim = ctx.fw_inputs
        xp = array_module(a._data)
        if t_a is None:
            t_a = const(xp.zeros(a.shape, a._data.dtype))
        if t_src is None:  # a constant src (tensor without tangent, or a number)
            t_src = const(xp.zeros((), a._data.dtype))
        return Scatter.apply(t_a, index, t_src, dim)


class ScatterMultiply(Function):
    @staticmethod
    def forward(ctx, a, index, src, dim):
        xp = ctx.xp
        out = a.copy()
        values = _leading_part(src, index.shape) if src.ndim else \
            xp.broadcast_to(src, index.shape)
        xp.multiply.at(out, _axis_index(xp, index, dim), values)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        raise RuntimeError("the derivative of scatter with reduce='multiply' is not "
                           "implemented (as in torch); use scatter_reduce-free code, e.g. "
                           "gather + prod, for a differentiable version")

    @staticmethod
    def jvp(ctx, t_a, _, t_src, __):
        # For a fixed src the op scales entries of a: the tangent is scaled the same way.
        if t_src is not None:
            raise RuntimeError("forward-mode derivative of scatter(reduce='multiply') w.r.t. "
                               "src is not implemented (torch has none either); use gather + "
                               "prod for a differentiable version")
        a, index, src, dim = ctx.fw_inputs
        return ScatterMultiply.apply(t_a, index, src, dim)


def gather(input, dim, index, sparse_grad=False):
    """``out[i][j] = input[i][index[i][j]]`` for ``dim=1`` (any dim likewise)."""
    idx = _check_index_tensor(input, index, "gather")
    d = normalize_dim(dim, input.ndim)
    _check_gather_shapes("gather", idx, input.shape, d)
    _check_bounds(idx, input.shape[d] if input.ndim else 1, d)
    if input.ndim == 0:
        return Index.apply(input, ()) if not idx.ndim else Index.apply(input.reshape(1), idx)
    return Gather.apply(input, idx, d)


def _scatter_checks(name, input, dim, index, src):
    idx = _check_index_tensor(input, index, name)
    d = normalize_dim(dim, input.ndim)
    src_shape = src.shape if isinstance(src, Tensor) and src.ndim else None
    _check_gather_shapes(name, idx, input.shape, d, src_shape)
    _check_bounds(idx, input.shape[d] if input.ndim else 1, d)
    return idx, d


def scatter(input, dim, index, src=None, value=None, reduce=None):
    """Write ``src`` (or the number ``value``) into ``input`` at ``index`` along ``dim``."""
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter() needs src (a tensor) or value (a number)")
    idx, d = _scatter_checks("scatter", input, dim, index, src)
    if isinstance(src, Tensor):
        src = src if src.dtype is input.dtype else src.to(input.dtype)
    else:
        src = array_module(input._data).asarray(src, dtype=input._data.dtype)
    if reduce is None:
        return Scatter.apply(input, idx, src, d)
    if reduce == "add":
        if not isinstance(src, Tensor):
            src = const(array_module(src).broadcast_to(src, idx.shape))
        return ScatterAdd.apply(input, idx, src, d)
    if reduce == "multiply":
        return ScatterMultiply.apply(input, idx, src, d)
    raise RuntimeError(f"reduce argument must be either add or multiply. Got {reduce!r}")


def scatter_add(input, dim, index, src):
    """``input`` with ``src`` added at ``index`` along ``dim``; repeated indices add up."""
    idx, d = _scatter_checks("scatter_add", input, dim, index, src)
    return ScatterAdd.apply(input, idx, src if src.dtype is input.dtype else src.to(input.dtype),
                            d)


def take_along_dim(input, indices, dim=None):
    if dim is None:
        return take(input, indices)
    d = normalize_dim(dim, input.ndim)
    shape = broadcast_shapes(
        tuple(s if i != d else 1 for i, s in enumerate(input.shape)),
        tuple(s if i != d else 1 for i, s in enumerate(indices.shape)))
    input = input.expand(*[s if i != d else -1 for i, s in enumerate(shape)])
    indices = indices.expand(*[s if i != d else -1 for i, s in enumerate(shape)])
    return gather(input, d, indices)


# -- index_select / index_add -------------------------------------------------------------------
def _vector_index(input, index, name):
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu" or (
            index._data.dtype.itemsize < 4):
        dt = index.dtype if isinstance(index, Tensor) else type(index).__name__
        raise RuntimeError(f"{name}(): Expected dtype int32 or int64 for index (got {dt})")
    if index.ndim > 1:
        raise IndexError(f"{name}(): Index is supposed to be a vector")
    check_same_device(input, index, "index")
    return index._data.reshape(-1)


def index_select(input, dim, index):
    """The entries of ``input`` at positions ``index`` (a vector) along ``dim``."""
    idx = _vector_index(input, index, "index_select")
    d = normalize_dim(dim, input.ndim)
    n = input.shape[d] if input.ndim else 1
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(f"index out of range in self: index_select got index "
                         f"{int(idx.max()) if idx.max() >= n else int(idx.min())} for "
                         f"dimension {d} of size {n}")
    if input.ndim == 0:
        return Index.apply(input, ())
    return Index.apply(input, (slice(None),) * d + (idx,))


def index_add(input, dim, index, source, alpha=1):
    """``input`` with ``alpha * source`` added at rows ``index`` along ``dim`` (repeats add up)."""
    idx = _vector_index(input, index, "index_add")
    d = normalize_dim(dim, input.ndim)
    if source.ndim and idx.size != source.shape[d if source.ndim > d else 0]:
        raise RuntimeError(f"index_add_(): Number of indices ({idx.size}) should be equal to "
                           f"source.size(dim): ({source.shape[d]}), for dim: {d}")
    if source.ndim and input.ndim and any(
            i != d and source.shape[i] != input.shape[i] for i in range(input.ndim)):
        raise RuntimeError("source tensor shape must match self tensor shape, excluding the "
                           f"specified dimension. Got self.shape = {list(input.shape)} "
                           f"source.shape = {list(source.shape)}")
    _check_bounds(idx, input.shape[d] if input.ndim else 1, d)
    if alpha != 1:
        source = source * alpha
    return IndexPut.apply(input, source if source.dtype is input.dtype else source.to(input.dtype),
                          (slice(None),) * d + (idx,), True)
