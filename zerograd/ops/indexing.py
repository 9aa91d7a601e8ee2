"""Indexing: ``x[...]`` and ``x[...] = v``, gather/scatter, masked ops, sorting, unique.

The gradient of reading ``x[idx]`` is a zero tensor with the incoming gradient added
at ``idx`` (repeated indices add up); that scatter is itself a differentiable op whose
own gradient reads ``[idx]`` again, so higher-order derivatives work.
"""
from zerograd import dtypes, return_types
from zerograd.autograd.function import Function
from zerograd.backend import xp
from zerograd.ops._util import const, normalize_dim
from zerograd.ops.inplace import _needs_graph, _snapshot, check_inplace, rebase, write_inplace
from zerograd.tensor import Tensor

__all__ = ["getitem", "setitem_", "index_put", "gather", "scatter", "scatter_add",
           "index_select", "index_add", "masked_fill", "masked_select", "take",
           "take_along_dim", "nonzero", "argwhere", "sort", "argsort", "topk", "unique"]


def _convert_index(index):
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    for item in index:
        if isinstance(item, Tensor):
            item = item._data
            if item.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool "
                                 f"tensors (got {dtypes.from_numpy_dtype(item.dtype)})")
        elif isinstance(item, (list, range)):
            item = xp.asarray(item)
            if item.dtype.kind == "f":
                raise IndexError("lists used as indices must hold integers or bools")
        out.append(item)
    return tuple(out)


def _is_basic(idx):
    return all(isinstance(i, (int, slice)) or i is None or i is Ellipsis for i in idx)


def _index_error(err, shape):
    msg = str(err).replace("axis", "dimension")
    return IndexError(f"{msg} (tensor shape {list(shape)})")


class Index(Function):
    is_view = True

    @staticmethod
    def forward(ctx, a, idx):
        ctx.in_shape, ctx.idx = a.shape, idx
        try:
            return a[idx]
        except IndexError as err:
            raise _index_error(err, a.shape) from None

    @staticmethod
    def backward(ctx, grad_output):
        return IndexAddInto.apply(grad_output, ctx.in_shape, ctx.idx)


class IndexAddInto(Function):
    """zeros(shape) with ``values`` added at ``idx``: the adjoint of ``Index``."""

    @staticmethod
    def forward(ctx, values, shape, idx):
        ctx.idx = idx
        out = xp.zeros(shape, dtype=values.dtype)
        if _is_basic(idx):
            out[idx] = values
        else:
            xp.add.at(out, idx, values)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        return Index.apply(grad_output, ctx.idx)


def getitem(input, index):
    return Index.apply(input, _convert_index(index))


class IndexPut(Function):
    @staticmethod
    def forward(ctx, a, values, idx, accumulate):
        ctx.idx, ctx.accumulate = idx, accumulate
        out = a.copy()
        if accumulate:
            xp.add.at(out, idx, values)
        else:
            out[idx] = values
        return out

    @staticmethod
    def backward(ctx, grad_output):
        grad_a = grad_values = None
        if ctx.needs_input_grad[0]:
            grad_a = grad_output if ctx.accumulate else IndexPut.apply(
                grad_output, const(xp.zeros((), grad_output._data.dtype)), ctx.idx, False)
        if ctx.needs_input_grad[1]:
            grad_values = Index.apply(grad_output, ctx.idx)
        return grad_a, grad_values


def index_put(input, indices, values, accumulate=False):
    idx = _convert_index(tuple(indices))
    values = values if isinstance(values, Tensor) else const(xp.asarray(values, input._data.dtype))
    return IndexPut.apply(input, values.to(input.dtype), idx, accumulate)


def setitem_(t, index, value):
    """``t[index] = value``, differentiable w.r.t. both when either requires grad."""
    idx = _convert_index(index)
    check_inplace(t)
    if isinstance(value, Tensor) and _needs_graph(t, (value,)) or _needs_graph(t, ()):
        if not isinstance(value, Tensor):
            value = const(xp.asarray(value, dtype=t._data.dtype))
        rebase(t, IndexPut.apply(_snapshot(t), value.to(t.dtype), idx, False))
        return
    array = value._data if isinstance(value, Tensor) else value
    try:
        t._data[idx] = array
    except IndexError as err:
        raise _index_error(err, t.shape) from None
    except ValueError as err:
        raise RuntimeError(f"cannot assign a value of shape {list(xp.shape(array))} to "
                           f"tensor[{index!r}] of tensor shape {list(t.shape)}: {err}") from None
    t._bump_version()


# -- gather / scatter -------------------------------------------------------------------------
def _check_index_tensor(index, name):
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu":
        dt = index.dtype if isinstance(index, Tensor) else type(index).__name__
        raise RuntimeError(f"{name}(): Expected dtype int64 for index (got {dt})")
    return index._data


def _axis_index(index, dim, ndim):
    """Full index tuple addressing ``a[..., index, ...]`` along ``dim`` elementwise."""
    grids = list(xp.indices(index.shape, sparse=True))
    grids[dim] = index
    return tuple(grids)


class Gather(Function):
    @staticmethod
    def forward(ctx, a, index, dim):
        ctx.in_shape, ctx.dim, ctx.index = a.shape, dim, index
        return xp.take_along_axis(a, index, axis=dim) if index.shape[:dim] + index.shape[dim + 1:] \
            == a.shape[:dim] + a.shape[dim + 1:] else a[_axis_index(index, dim, a.ndim)]

    @staticmethod
    def backward(ctx, grad_output):
        return ScatterAdd.apply(const(xp.zeros(ctx.in_shape, grad_output._data.dtype)),
                                ctx.index, grad_output, ctx.dim)


class ScatterAdd(Function):
    @staticmethod
    def forward(ctx, a, index, src, dim):
        ctx.dim, ctx.index = dim, index
        out = a.copy()
        xp.add.at(out, _axis_index(index, dim, a.ndim), src[tuple(slice(0, s) for s in index.shape)])
        return out

    @staticmethod
    def backward(ctx, grad_output):
        grad_src = Gather.apply(grad_output, ctx.index, ctx.dim) if ctx.needs_input_grad[2] else None
        return grad_output, None, grad_src


class Scatter(Function):
    @staticmethod
    def forward(ctx, a, index, src, dim):
        ctx.dim, ctx.index = dim, index
        out = a.copy()
        pos = _axis_index(index, dim, a.ndim)
        out[pos] = src[tuple(slice(0, s) for s in index.shape)] if xp.ndim(src) else src
        return out

    @staticmethod
    def backward(ctx, grad_output):
        zero = const(xp.zeros(ctx.index.shape, grad_output._data.dtype))
        grad_a = Scatter.apply(grad_output, ctx.index, zero, ctx.dim) if ctx.needs_input_grad[0] \
            else None
        grad_src = Gather.apply(grad_output, ctx.index, ctx.dim) if ctx.needs_input_grad[2] \
            else None
        return grad_a, None, grad_src


def gather(input, dim, index, sparse_grad=False):
    idx = _check_index_tensor(index, "gather")
    d = normalize_dim(dim, input.ndim)
    if idx.ndim != input.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    if idx.size and (idx.max() >= input.shape[d] or idx.min() < -input.shape[d]):
        raise RuntimeError(f"index {int(idx.max())} is out of bounds for dimension {d} with "
                           f"size {input.shape[d]}")
    return Gather.apply(input, idx, d)


def scatter(input, dim, index, src=None, value=None, reduce=None):
    idx = _check_index_tensor(index, "scatter")
    d = normalize_dim(dim, input.ndim)
    if src is None:
        src = value
    if reduce == "add":
        return scatter_add(input, dim, index, src if isinstance(src, Tensor)
                           else const(xp.full(idx.shape, src, input._data.dtype)))
    if reduce is not None:
        raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce!r}; "
                           "zerograd supports reduce='add'")
    if isinstance(src, Tensor):
        return Scatter.apply(input, idx, src.to(input.dtype), d)
    return Scatter.apply(input, idx, xp.asarray(src, dtype=input._data.dtype), d)


def scatter_add(input, dim, index, src):
    idx = _check_index_tensor(index, "scatter_add")
    return ScatterAdd.apply(input, idx, src.to(input.dtype), normalize_dim(dim, input.ndim))


def take_along_dim(input, indices, dim=None):
    if dim is None:
        return take(input, indices)
    return gather(input, dim, indices.expand(*[
        s if i != normalize_dim(dim, input.ndim) else -1 for i, s in enumerate(input.shape)])
        if indices.ndim == input.ndim else indices)


def index_select(input, dim, index):
    idx = _check_index_tensor(index, "index_select")
    if idx.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    d = normalize_dim(dim, input.ndim)
    return getitem(input, (slice(None),) * d + (idx.reshape(-1),))


def index_add(input, dim, index, source, alpha=1):
    idx = _check_index_tensor(index, "index_add")
    d = normalize_dim(dim, input.ndim)
    if alpha != 1:
        source = source * alpha
    return IndexPut.apply(input, source.to(input.dtype), (slice(None),) * d + (idx,), True)


def masked_fill(input, mask, value):
    m = mask._data if isinstance(mask, Tensor) else xp.asarray(mask)
    if m.dtype != bool:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{dtypes.from_numpy_dtype(m.dtype)}")
    from zerograd.ops.elementwise import where
    if isinstance(value, Tensor):
        return where(const(m), value.to(input.dtype), input)
    return where(const(m), const(xp.asarray(value, dtype=input._data.dtype)), input)


def masked_select(input, mask):
    m = mask._data if isinstance(mask, Tensor) else xp.asarray(mask)
    shape = xp.broadcast_shapes(input.shape, m.shape)
    return getitem(input.expand(shape), const(xp.broadcast_to(m, shape)))


def take(input, index):
    return getitem(input.reshape(-1), index)


def nonzero(input, as_tuple=False):
    found = xp.nonzero(input._data) if input.ndim else xp.nonzero(input._data.reshape(1))
    if as_tuple:
        return tuple(const(i.astype(xp.int64)) for i in found)
    return const(xp.stack(found, axis=1).astype(xp.int64) if found else
                 xp.zeros((0, 0), xp.int64))


def argwhere(input):
    return nonzero(input)


# -- sorting ---------------------------------------------------------------------------------
def _sort_index(a, dim, descending, stable):
    if descending:
        # Stable descending order (ties keep their original order): sort the reversed
        # array ascending, map positions back, and reverse the result.
        j = xp.argsort(xp.flip(a, axis=dim), axis=dim, kind="stable")
        return xp.flip(a.shape[dim] - 1 - j, axis=dim)
    return xp.argsort(a, axis=dim, kind="stable" if stable else None)


def sort(input, dim=-1, descending=False, stable=False):
    if input.ndim == 0:
        return return_types.sort(input.clone(), const(xp.asarray(0)))
    d = normalize_dim(dim, input.ndim)
    idx = _sort_index(input._data, d, descending, stable)
    return return_types.sort(gather(input, d, const(idx)), const(idx))


def argsort(input, dim=-1, descending=False, stable=False):
    return sort(input, dim, descending, stable).indices


def topk(input, k, dim=-1, largest=True, sorted=True):
    d = normalize_dim(dim, input.ndim) if input.ndim else 0
    n = input.shape[d] if input.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"selected index k out of range: k={k} but dimension {d} has size {n}")
    values, indices = sort(input, d, descending=largest, stable=True)
    idx = (slice(None),) * d + (slice(0, k),)
    return return_types.topk(values[idx], indices[idx])


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    if dim is None:
        values, inverse, counts = xp.unique(input._data, return_inverse=True, return_counts=True)
        inverse = inverse.reshape(input.shape)
    else:
        values, inverse, counts = xp.unique(input._data, return_inverse=True, return_counts=True,
                                            axis=normalize_dim(dim, input.ndim))
    out = [const(values)]
    if return_inverse:
        out.append(const(inverse.astype(xp.int64)))
    if return_counts:
        out.append(const(counts.astype(xp.int64)))
    return out[0] if len(out) == 1 else tuple(out)

