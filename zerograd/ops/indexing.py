"""Indexing: ``x[...]`` and ``x[...] = v``, gather/scatter, index_select/index_add, masks, take.

The gradient of reading ``x[idx]`` is a zero tensor with the incoming gradient added
at ``idx`` (repeated indices add up); that scatter is itself a differentiable op whose
own gradient reads ``[idx]`` again, so higher-order derivatives work.
Sorting, top-k, unique and nonzero live in ``ops.sorting`` and are re-exported here.
"""
import builtins

from zerograd import dtypes
from zerograd.autograd.function import Function
from zerograd.backend import xp
from zerograd.ops._util import const, normalize_dim
from zerograd.ops.inplace import _needs_graph, _snapshot, check_inplace, rebase
from zerograd.ops.sorting import argsort, argwhere, nonzero, sort, topk, unique
from zerograd.tensor import Tensor

__all__ = ["getitem", "setitem_", "index_put", "gather", "scatter", "scatter_add",
           "index_select", "index_add", "masked_fill", "masked_select", "take",
           "take_along_dim", "nonzero", "argwhere", "sort", "argsort", "topk", "unique"]


# -- converting a Python index to a NumPy one -------------------------------------------------
class Staged(tuple):
    """An index applied in two steps, ``a[basic][advanced]``.

    torch applies integer indices before tensor indices (``x[0, :, [1, 2]]`` is
    ``x[0][:, [1, 2]]``, shape (3, 2)), where NumPy would treat the integer as one more
    advanced index and move the broadcast dims to the front (shape (2, 3)).
    """

    @property
    def basic(self):
        return self[0]

    @property
    def advanced(self):
        return self[1]


def _index_array(item, what):
    """An index given as a tensor, list or array -> an integer or bool array (torch's rules)."""
    if isinstance(item, Tensor):
        item = item._data
    elif isinstance(item, (list, range)):
        item = xp.asarray(_unwrap_list(item)) if len(item) else xp.zeros((0,), xp.int64)
    kind = item.dtype.kind
    if kind == "u" and item.dtype.itemsize == 1:
        return item.astype(bool)  # torch's legacy byte masks
    if kind not in "biu":
        raise IndexError(f"{what} used as indices must be long, int, byte or bool tensors "
                         f"(got {item.dtype}); convert with .long() or .bool()")
    if kind != "b" and item.ndim == 0:
        return builtins.int(item)  # a 0-d integer index selects like an int (a view)
    return item


def _unwrap_list(items):
    return [_unwrap_list(i) if isinstance(i, (list, tuple)) else
            (i._data if isinstance(i, Tensor) else i) for i in items]


def _sequence_as_tuple(index):
    """torch (like old NumPy) reads a short list holding lists/tensors/slices as a tuple."""
    return len(index) < 32 and any(
        isinstance(i, (list, tuple, range, Tensor, xp.ndarray, slice)) or i is None
        or i is Ellipsis for i in index)


def _is_int(item):
    return isinstance(item, (builtins.int, xp.integer)) and not isinstance(item, builtins.bool)


def _convert_index(index):
    if isinstance(index, list) and _sequence_as_tuple(index):
        index = tuple(index)
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    for item in index:
        if isinstance(item, slice):
            if item.step is not None and item.step <= 0:
                raise ValueError("step must be greater than zero" if item.step
                                 else "slice step cannot be zero")
        elif isinstance(item, (Tensor, list, range, xp.ndarray)):
            item = _index_array(item, "tensors" if isinstance(item, Tensor) else "lists")
        elif not (_is_int(item) or isinstance(item, builtins.bool) or item is None
                  or item is Ellipsis):
            raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or "
                             f"byte Variables are valid indices (got {type(item).__name__})")
        out.append(item)
    return _stage(tuple(out))


def _stage(idx):
    """Split an index mixing ints and integer/bool arrays into torch's two steps."""
    arrays = [i for i in idx if isinstance(i, xp.ndarray) and i.ndim]
    if not arrays or not any(_is_int(i) for i in idx):
        return idx
    basic, advanced = [], []
    for item in idx:
        if _is_int(item):
            basic.append(item)  # the dim is consumed here
        elif isinstance(item, xp.ndarray) and item.ndim:
            basic += [slice(None)] * (item.ndim if item.dtype == bool else 1)
            advanced.append(item)
        else:  # slices, None, bool scalars, Ellipsis: their dims exist after the first step
            basic.append(item)
            advanced.append(Ellipsis if item is Ellipsis else slice(None))
    return Staged((tuple(basic), tuple(advanced)))


def _is_basic(idx):
    return all(isinstance(i, (builtins.int, xp.integer, slice)) or i is None or i is Ellipsis
               for i in idx)


def _has_int_array(idx):
    return any(isinstance(i, xp.ndarray) and i.dtype.kind != "b" for i in idx)


def _index_error(err, shape):
    msg = str(err).replace("axis", "dimension").replace("array is", "tensor is")
    return IndexError(f"{msg} (tensor shape {list(shape)})")


def _read(a, idx):
    return a[idx.basic][idx.advanced] if type(idx) is Staged else a[idx]


def _target(out, idx):
    """The array and index that ``out[idx] (+)= v`` writes through (a view for Staged)."""
    return (out[idx.basic], idx.advanced) if type(idx) is Staged else (out, idx)


def _write(out, idx, values):
    out, idx = _target(out, idx)
    out[idx] = values


# -- reading x[idx] and its adjoint -------------------------------------------------------------
class Index(Function):
    is_view = True  # basic indices give a view; NumPy copies for advanced ones

    @staticmethod
    def forward(ctx, a, idx):
        ctx.in_shape, ctx.idx = a.shape, idx
        try:
            return _read(a, idx)
        except IndexError as err:
            raise _index_error(err, a.shape) from None

    @staticmethod
    def backward(ctx, grad_output):
        return IndexAddInto.apply(grad_output, ctx.in_shape, ctx.idx)


def _single_axis_rows(idx, ndim):
    """The axis when ``idx`` is full slices then one 1-D integer array (``x[:, rows]``)."""
    for axis, item in enumerate(idx):
        if isinstance(item, xp.ndarray):
            rest_ok = all(isinstance(j, slice) and j == slice(None) for j in idx[axis + 1:])
            if item.ndim == 1 and item.dtype.kind in "iu" and rest_ok:
                return axis
            return None
        if not (isinstance(item, slice) and item == slice(None)):
            return None
    return None


def _accumulate_rows(out, axis, rows, values):
    """``out[..., rows, ...] += values`` along ``axis``, repeated rows adding up.

    Sorting the rows and summing each run with ``add.reduceat`` beats ``add.at`` when
    rows repeat a lot and each row is wide (embedding gradients); otherwise ``add.at``.
    """
    n = out.shape[axis]
    row_size = values.size // max(values.shape[axis], 1)
    if rows.size < builtins.max(n, 1) or row_size < 16:
        xp.add.at(out, (slice(None),) * axis + (rows,), values)
        return
    rows = xp.where(rows < 0, rows + n, rows)
    order = xp.argsort(rows, kind="stable")
    ordered = rows[order]
    starts = xp.flatnonzero(xp.concatenate(([True], ordered[1:] != ordered[:-1])))
    sums = xp.add.reduceat(xp.take(values, order, axis=axis), starts, axis=axis)
    out[(slice(None),) * axis + (ordered[starts],)] += sums


def _add_into(out, idx, values):
    """``out[idx] += values`` with repeated indices adding up (NumPy's ``+=`` would not)."""
    out, idx = _target(out, idx)
    if not _has_int_array(idx):
        out[idx] += values
        return
    axis = _single_axis_rows(idx, out.ndim)
    if axis is not None and values.ndim == out.ndim:
        _accumulate_rows(out, axis, idx[axis], values)
    else:
        xp.add.at(out, idx, values)


class IndexAddInto(Function):
    """zeros(shape) with ``values`` added at ``idx``: the adjoint of ``Index``."""

    @staticmethod
    def forward(ctx, values, shape, idx):
        ctx.idx = idx
        out = xp.zeros(shape, dtype=values.dtype)
        if type(idx) is not Staged and _is_basic(idx):
            out[idx] = values
        else:
            _add_into(out, idx, values)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        return Index.apply(grad_output, ctx.idx)


def getitem(input, index):
    """``input[index]``: ints, slices (positive steps), None, ..., int/bool tensors and lists."""
    return Index.apply(input, _convert_index(index))


# -- writing x[idx] = v -------------------------------------------------------------------------
class IndexPut(Function):
    @staticmethod
    def forward(ctx, a, values, idx, accumulate):
        ctx.idx, ctx.accumulate, ctx.values_ndim = idx, accumulate, values.ndim
        out = a.copy()
        try:
            if accumulate:
                _add_into(out, idx, values)
            else:
                _write(out, idx, values)
        except IndexError as err:
            raise _index_error(err, a.shape) from None
        except ValueError as err:
            raise RuntimeError(f"shape mismatch: value tensor of shape {list(values.shape)} "
                               f"cannot be broadcast to the indexing result of tensor of shape "
                               f"{list(a.shape)} ({err})") from None
        return out

    @staticmethod
    def backward(ctx, grad_output):
        grad_a = grad_values = None
        if ctx.needs_input_grad[0]:
            grad_a = grad_output if ctx.accumulate else IndexPut.apply(
                grad_output, const(xp.zeros((), grad_output._data.dtype)), ctx.idx, False)
        if ctx.needs_input_grad[1]:
            grad_values = Index.apply(grad_output, ctx.idx)
            extra = ctx.values_ndim - grad_values.ndim
            if extra > 0:  # values had leading 1-dims that assignment dropped
                grad_values = grad_values.reshape((1,) * extra + tuple(grad_values.shape))
        return grad_a, grad_values


def _as_value(value, dtype):
    if isinstance(value, Tensor):
        return value if value.dtype is dtype else value.to(dtype)
    return const(xp.asarray(value, dtype=dtype.np))


def index_put(input, indices, values, accumulate=False):
    """Out-of-place ``input[indices] = values`` (``+=`` with repeats adding up if ``accumulate``)."""
    idx = _convert_index(tuple(indices))
    return IndexPut.apply(input, _as_value(values, input.dtype), idx, accumulate)


def setitem_(t, index, value):
    """``t[index] = value``, differentiable w.r.t. both when either requires grad."""
    idx = _convert_index(index)
    check_inplace(t)
    if _needs_graph(t, (value,)):
        rebase(t, IndexPut.apply(_snapshot(t), _as_value(value, t.dtype), idx, False))
        return
    if not t._data.flags.writeable:
        raise RuntimeError("unsupported operation: more than one element of the written-to "
                           "tensor refers to a single memory location (an expanded tensor). "
                           "Please clone() the tensor before performing the operation.")
    array = value._data if isinstance(value, Tensor) else value
    try:
        _write(t._data, idx, array)
    except IndexError as err:
        raise _index_error(err, t.shape) from None
    except ValueError as err:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(xp.shape(array))} "
                           f"cannot be broadcast to indexing result of tensor of shape "
                           f"{list(t.shape)} ({err})") from None
    t._bump_version()


# -- gather / scatter -------------------------------------------------------------------------
def _check_index_tensor(index, name, kinds="i"):
    if not isinstance(index, Tensor) or index._data.dtype.kind not in kinds or (
            index._data.dtype.itemsize < 4):
        dt = index.dtype if isinstance(index, Tensor) else type(index).__name__
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index (got {dt}); "
                           "convert with index.long()")
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


def _axis_index(index, dim):
    """Full index tuple addressing ``a[..., index, ...]`` along ``dim`` elementwise."""
    grids = list(xp.indices(index.shape, sparse=True))
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
    @staticmethod
    def forward(ctx, a, index, dim):
        ctx.in_shape, ctx.dim, ctx.index = a.shape, dim, index
        return a[_axis_index(index, dim)]

    @staticmethod
    def backward(ctx, grad_output):
        return ScatterAdd.apply(const(xp.zeros(ctx.in_shape, grad_output._data.dtype)),
                                ctx.index, grad_output, ctx.dim)


class ScatterAdd(Function):
    @staticmethod
    def forward(ctx, a, index, src, dim):
        ctx.dim, ctx.index, ctx.src_shape = dim, index, src.shape
        out = a.copy()
        xp.add.at(out, _axis_index(index, dim), _leading_part(src, index.shape))
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
        ctx.dim, ctx.index, ctx.src_shape = dim, index, xp.shape(src)
        out = a.copy()
        out[_axis_index(index, dim)] = _leading_part(src, index.shape) if xp.ndim(src) else src
        return out

    @staticmethod
    def backward(ctx, grad_output):
        grad_a = grad_src = None
        if ctx.needs_input_grad[0]:
            zero = const(xp.zeros((), grad_output._data.dtype))
            grad_a = Scatter.apply(grad_output, ctx.index, zero, ctx.dim)
        if ctx.needs_input_grad[2]:
            grad_src = _pad_to(Gather.apply(grad_output, ctx.index, ctx.dim), ctx.src_shape)
        return grad_a, None, grad_src


class ScatterMultiply(Function):
    @staticmethod
    def forward(ctx, a, index, src, dim):
        out = a.copy()
        values = _leading_part(src, index.shape) if xp.ndim(src) else \
            xp.broadcast_to(src, index.shape)
        xp.multiply.at(out, _axis_index(index, dim), values)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        raise RuntimeError("the derivative of scatter with reduce='multiply' is not "
                           "implemented (as in torch); use scatter_reduce-free code, e.g. "
                           "gather + prod, for a differentiable version")


def gather(input, dim, index, sparse_grad=False):
    """``out[i][j] = input[i][index[i][j]]`` for ``dim=1`` (any dim likewise)."""
    idx = _check_index_tensor(index, "gather")
    d = normalize_dim(dim, input.ndim)
    _check_gather_shapes("gather", idx, input.shape, d)
    _check_bounds(idx, input.shape[d] if input.ndim else 1, d)
    if input.ndim == 0:
        return Index.apply(input, ()) if not idx.ndim else Index.apply(input.reshape(1), idx)
    return Gather.apply(input, idx, d)


def _scatter_checks(name, input, dim, index, src):
    idx = _check_index_tensor(index, name)
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
        src = xp.asarray(src, dtype=input._data.dtype)
    if reduce is None:
        return Scatter.apply(input, idx, src, d)
    if reduce == "add":
        if not isinstance(src, Tensor):
            src = const(xp.broadcast_to(src, idx.shape))
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
    shape = xp.broadcast_shapes(
        tuple(s if i != d else 1 for i, s in enumerate(input.shape)),
        tuple(s if i != d else 1 for i, s in enumerate(indices.shape)))
    input = input.expand(*[s if i != d else -1 for i, s in enumerate(shape)])
    indices = indices.expand(*[s if i != d else -1 for i, s in enumerate(shape)])
    return gather(input, d, indices)


# -- index_select / index_add -------------------------------------------------------------------
def _vector_index(index, name):
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu" or (
            index._data.dtype.itemsize < 4):
        dt = index.dtype if isinstance(index, Tensor) else type(index).__name__
        raise RuntimeError(f"{name}(): Expected dtype int32 or int64 for index (got {dt})")
    if index.ndim > 1:
        raise IndexError(f"{name}(): Index is supposed to be a vector")
    return index._data.reshape(-1)


def index_select(input, dim, index):
    """The entries of ``input`` at positions ``index`` (a vector) along ``dim``."""
    idx = _vector_index(index, "index_select")
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
    idx = _vector_index(index, "index_add")
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


# -- masks and flat indices -----------------------------------------------------------------------
def _bool_mask(mask, name):
    m = mask._data if isinstance(mask, Tensor) else xp.asarray(mask)
    if m.dtype != bool:
        raise RuntimeError(f"{name} only supports boolean masks, but got mask with dtype "
                           f"{dtypes.from_numpy_dtype(m.dtype)}; convert with mask.bool()")
    return m


def masked_fill(input, mask, value):
    """``input`` with ``value`` wherever ``mask`` (bool, broadcastable) is True."""
    from zerograd.ops.elementwise import where
    m = _bool_mask(mask, "masked_fill_")
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError("masked_fill_ only supports a 0-dimensional value tensor, but "
                               f"got tensor with {value.ndim} dimension(s).")
        value = value if value.dtype is input.dtype else value.to(input.dtype)
    else:
        value = const(xp.asarray(value).astype(input._data.dtype))
    return where(const(m), value, input)


def masked_select(input, mask):
    """The entries of ``input`` where ``mask`` is True, as a 1-D tensor (shapes broadcast)."""
    m = mask._data if isinstance(mask, Tensor) else xp.asarray(mask)
    if m.dtype != bool:
        raise RuntimeError("masked_select: expected BoolTensor for mask (got "
                           f"{dtypes.from_numpy_dtype(m.dtype)})")
    shape = xp.broadcast_shapes(tuple(input.shape), m.shape)
    if tuple(input.shape) != shape:
        input = input.expand(shape)
    return Index.apply(input, (xp.broadcast_to(m, shape),))


def take(input, index):
    """``input`` seen as 1-D, read at ``index`` (the result has ``index``'s shape)."""
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu":
        raise RuntimeError("take(): Expected a long tensor for index, but got "
                           f"{index.dtype if isinstance(index, Tensor) else type(index).__name__}")
    idx, n = index._data, input.numel()
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = int(idx.max()) if idx.max() >= n else int(idx.min())
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} "
                         "elements.")
    return Index.apply(input.reshape(-1), (idx,))
