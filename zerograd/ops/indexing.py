"""Indexing: ``x[...]`` and ``x[...] = v``, gather/scatter, index_select/index_add, masks, take.

The gradient of reading ``x[idx]`` is a zero tensor with the incoming gradient added
at ``idx`` (repeated indices add up); that scatter is itself a differentiable op whose
own gradient reads ``[idx]`` again, so higher-order derivatives work.
gather/scatter/index_select/index_add live in ``ops.scatter`` and sorting, top-k, unique
and nonzero in ``ops.sorting``; both are re-exported here.

Index arrays live on the device of the tensor they index: lists become arrays there, and
index tensors of another device are moved there (torch accepts CPU indices for a CUDA
tensor). Masks and the index tensors of gather/scatter must share the input's device.
"""
import builtins
import operator

from zerograd import dtypes
from zerograd.autograd.function import Function
from zerograd.backend import array_module, backend_of, cpu, to_host
from zerograd.device import mixed_devices_error
from zerograd.ops._util import broadcast_shapes, const
from zerograd.ops.inplace import _needs_graph, _snapshot, check_inplace, rebase
from zerograd.tensor import Tensor

__all__ = ["getitem", "setitem_", "index_put", "masked_fill", "masked_select", "take",
           "repeat_interleave"]


# The host's scalar types: an index may hold NumPy integers (CuPy uses the same types).
_host = cpu.xp


def check_same_device(input, other, what):
    """torch's error when tensor ``other`` (an index or mask) is not on ``input``'s device."""
    if isinstance(other, Tensor) and type(other._data) is not type(input._data) \
            and other.device != input.device:
        raise mixed_devices_error([input.device, other.device], argument=what)


# -- converting a Python index to an array one ------------------------------------------------
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


def _index_array(item, what, backend):
    """An index given as a tensor, list or array -> an integer or bool array of ``backend``'s
    device (torch's rules)."""
    if isinstance(item, Tensor):
        item = item._data
    elif isinstance(item, (list, range)):
        item = _host.asarray(_unwrap_list(item)) if len(item) else \
            _host.zeros((0,), dtypes.int64.np)
    if backend_of(item) is not backend:
        item = backend.from_host(to_host(item))
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
    """Nested lists of numbers and tensors -> nested lists of numbers and host arrays."""
    return [_unwrap_list(i) if isinstance(i, (list, tuple)) else
            (to_host(i._data) if isinstance(i, Tensor) else i) for i in items]


def _is_array(item):
    """An array of any device (NumPy's array scalars are numbers, not arrays)."""
    return hasattr(item, "ndim") and not isinstance(item, _host.generic)


def _sequence_as_tuple(index):
    """torch (like old NumPy) reads a short list holding lists/tensors/slices as a tuple."""
    return len(index) < 32 and any(
        isinstance(i, (list, tuple, range, Tensor, slice)) or _is_array(i) or i is None
        or i is Ellipsis for i in index)


def _is_int(item):
    return isinstance(item, (builtins.int, _host.integer)) and not isinstance(item, builtins.bool)


def _convert_index(index, backend):
    """A user's index for a tensor of ``backend``'s device -> the index its arrays take:
    ints, slices, None, Ellipsis, bools and index arrays of that device (or ``Staged``)."""
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
        elif isinstance(item, (Tensor, list, range)) or _is_array(item):
            item = _index_array(item, "tensors" if isinstance(item, Tensor) else "lists",
                                backend)
        elif _is_int(item):
            item = operator.index(item)  # NumPy integers as Python ones: plain numbers below
        elif not (isinstance(item, builtins.bool) or item is None or item is Ellipsis):
            raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or "
                             f"byte Variables are valid indices (got {type(item).__name__})")
        out.append(item)
    return _stage(tuple(out))


def _stage(idx):
    """Split an index mixing ints and integer/bool arrays into torch's two steps."""
    arrays = [i for i in idx if _is_array(i) and i.ndim]
    if not arrays or not any(_is_int(i) for i in idx):
        return idx
    basic, advanced = [], []
    for item in idx:
        if _is_int(item):
            basic.append(item)  # the dim is consumed here
        elif _is_array(item) and item.ndim:
            basic += [slice(None)] * (item.ndim if item.dtype == bool else 1)
            advanced.append(item)
        else:  # slices, None, bool scalars, Ellipsis: their dims exist after the first step
            basic.append(item)
            advanced.append(Ellipsis if item is Ellipsis else slice(None))
    return Staged((tuple(basic), tuple(advanced)))


def _is_basic(idx):
    return all(isinstance(i, (builtins.int, slice)) or i is None or i is Ellipsis for i in idx)


def _has_int_array(idx):
    return any(_is_array(i) and i.dtype.kind != "b" for i in idx)


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
    jvp_linear = True

    @staticmethod
    def forward(ctx, a, idx):
        ctx.in_shape, ctx.idx = a.shape, idx
        try:
            out = _read(a, idx)
        except IndexError as err:
            raise _index_error(err, a.shape) from None
        # a full integer index gives an array scalar: a 0-d array of the device (as CuPy)
        return out if type(out) is type(a) else ctx.xp.asarray(out)

    @staticmethod
    def backward(ctx, grad_output):
        return IndexAddInto.apply(grad_output, ctx.in_shape, ctx.idx)


def _single_axis_rows(idx, ndim):
    """The axis when ``idx`` is full slices then one 1-D integer array (``x[:, rows]``)."""
    for axis, item in enumerate(idx):
        if _is_array(item):
            rest_ok = all(isinstance(j, slice) and j == slice(None) for j in idx[axis + 1:])
            if item.ndim == 1 and item.dtype.kind in "iu" and rest_ok:
                return axis
            return None
        if not (isinstance(item, slice) and item == slice(None)):
            return None
    return None


def _accumulate_rows(xp, out, axis, rows, values):
    """``out[..., rows, ...] += values`` along ``axis``, repeated rows adding up.

    Sorting the rows and summing each run with ``add.reduceat`` beats ``add.at`` when
    rows repeat a lot and each row is wide (embedding gradients); otherwise ``add.at``.
    """
    n = out.shape[axis]
    row_size = values.size // max(values.shape[axis], 1)
    if rows.size < builtins.max(n, 1) or row_size < 16:
        backend_of(out).scatter_add(out, (slice(None),) * axis + (rows,), values)
        return
    rows = xp.where(rows < 0, rows + n, rows)
    order = xp.argsort(rows, kind="stable")
    ordered = rows[order]
    run_start = xp.empty(ordered.shape, dtype=bool)  # where a new row begins
    run_start[0] = True
    xp.not_equal(ordered[1:], ordered[:-1], out=run_start[1:])
    starts = xp.flatnonzero(run_start)
    sums = xp.add.reduceat(xp.take(values, order, axis=axis), starts, axis=axis)
    out[(slice(None),) * axis + (ordered[starts],)] += sums


def _add_into(xp, out, idx, values):
    """``out[idx] += values`` with repeated indices adding up (NumPy's ``+=`` would not)."""
    out, idx = _target(out, idx)
    if not _has_int_array(idx):
        out[idx] += values
        return
    axis = _single_axis_rows(idx, out.ndim)
    if axis is not None and values.ndim == out.ndim:
        _accumulate_rows(xp, out, axis, idx[axis], values)
    else:
        backend_of(out).scatter_add(out, idx, values)


class IndexAddInto(Function):
    """zeros(shape) with ``values`` added at ``idx``: the adjoint of ``Index``."""
    jvp_linear = True

    @staticmethod
    def forward(ctx, values, shape, idx):
        ctx.idx = idx
        out = ctx.xp.zeros(shape, dtype=values.dtype)
        if type(idx) is not Staged and _is_basic(idx):
            out[idx] = values
        else:
            _add_into(ctx.xp, out, idx, values)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        return Index.apply(grad_output, ctx.idx)


def getitem(input, index):
    """``input[index]``: ints, slices (positive steps), None, ..., int/bool tensors and lists."""
    if type(index) is builtins.int:  # the most common index: skip the conversion
        return Index.apply(input, (index,))
    return Index.apply(input, _convert_index(index, backend_of(input._data)))


# -- writing x[idx] = v -------------------------------------------------------------------------
class IndexPut(Function):
    jvp_linear = True

    @staticmethod
    def forward(ctx, a, values, idx, accumulate):
        ctx.idx, ctx.accumulate, ctx.values_ndim = idx, accumulate, values.ndim
        out = a.copy()
        try:
            if accumulate:
                _add_into(ctx.xp, out, idx, values)
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
            g = grad_output._data
            grad_a = grad_output if ctx.accumulate else IndexPut.apply(
                grad_output, const(array_module(g).zeros((), g.dtype)), ctx.idx, False)
        if ctx.needs_input_grad[1]:
            grad_values = Index.apply(grad_output, ctx.idx)
            extra = ctx.values_ndim - grad_values.ndim
            if extra > 0:  # values had leading 1-dims that assignment dropped
                grad_values = grad_values.reshape((1,) * extra + tuple(grad_values.shape))
        return grad_a, grad_values


def _as_value(value, input):
    """``value`` as a tensor of ``input``'s dtype (numbers and arrays: on its device)."""
    dtype = input.dtype
    if isinstance(value, Tensor):
        return value if value.dtype is dtype else value.to(dtype)
    return const(array_module(input._data).asarray(value, dtype=dtype.np))


def index_put(input, indices, values, accumulate=False):
    """Out-of-place ``input[indices] = values``; with ``accumulate``, ``+=`` (repeats add up)."""
    idx = _convert_index(tuple(indices), backend_of(input._data))
    return IndexPut.apply(input, _as_value(values, input), idx, accumulate)


def setitem_(t, index, value):
    """``t[index] = value``, differentiable w.r.t. both when either requires grad."""
    idx = _convert_index(index, backend_of(t._data))
    check_inplace(t)
    if _needs_graph(t, (value,)):
        rebase(t, IndexPut.apply(_snapshot(t), _as_value(value, t), idx, False))
        return
    if not getattr(t._data.flags, "writeable", True):  # CuPy arrays have no read-only flag
        raise RuntimeError("unsupported operation: more than one element of the written-to "
                           "tensor refers to a single memory location (an expanded tensor). "
                           "Please clone() the tensor before performing the operation.")
    if isinstance(value, Tensor):
        array = value._data if type(value._data) is type(t._data) else \
            value.to(t.device)._data
    elif isinstance(value, (builtins.int, builtins.float, builtins.bool)):
        array = value
    else:  # lists and arrays of any device: copied onto t's device
        array = array_module(t._data).asarray(
            to_host(value) if _is_array(value) else value)
    try:
        _write(t._data, idx, array)
    except IndexError as err:
        raise _index_error(err, t.shape) from None
    except ValueError as err:
        shape = list(getattr(array, "shape", ()))
        raise RuntimeError(f"shape mismatch: value tensor of shape {shape} "
                           f"cannot be broadcast to indexing result of tensor of shape "
                           f"{list(t.shape)} ({err})") from None
    t._bump_version()


# -- masks and flat indices -----------------------------------------------------------------------
def _bool_mask(input, mask, name):
    """``mask``'s bool array on ``input``'s device (a tensor mask must already be there)."""
    check_same_device(input, mask, "mask")
    m = mask._data if isinstance(mask, Tensor) else array_module(input._data).asarray(mask)
    if m.dtype != bool:
        raise RuntimeError(f"{name} only supports boolean masks, but got mask with dtype "
                           f"{dtypes.from_numpy_dtype(m.dtype)}; convert with mask.bool()")
    return m


def masked_fill(input, mask, value):
    """``input`` with ``value`` wherever ``mask`` (bool, broadcastable) is True."""
    from zerograd.ops.selection import where
    m = _bool_mask(input, mask, "masked_fill_")
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError("masked_fill_ only supports a 0-dimensional value tensor, but "
                               f"got tensor with {value.ndim} dimension(s).")
        value = value if value.dtype is input.dtype else value.to(input.dtype)
    else:
        value = const(array_module(input._data).asarray(value).astype(input._data.dtype))
    return where(const(m), value, input)


def masked_select(input, mask):
    """The entries of ``input`` where ``mask`` is True, as a 1-D tensor (shapes broadcast)."""
    check_same_device(input, mask, "mask")
    xp = array_module(input._data)
    m = mask._data if isinstance(mask, Tensor) else xp.asarray(mask)
    if m.dtype != bool:
        raise RuntimeError("masked_select: expected BoolTensor for mask (got "
                           f"{dtypes.from_numpy_dtype(m.dtype)})")
    shape = broadcast_shapes(tuple(input.shape), m.shape)
    if tuple(input.shape) != shape:
        input = input.expand(shape)
    return Index.apply(input, (xp.broadcast_to(m, shape),))


def take(input, index):
    """``input`` seen as 1-D, read at ``index`` (the result has ``index``'s shape)."""
    if not isinstance(index, Tensor) or index._data.dtype.kind not in "iu":
        raise RuntimeError("take(): Expected a long tensor for index, but got "
                           f"{index.dtype if isinstance(index, Tensor) else type(index).__name__}")
    check_same_device(input, index, "index")
    idx, n = index._data, input.numel()
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = int(idx.max()) if idx.max() >= n else int(idx.min())
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} "
                         "elements.")
    return Index.apply(input.reshape(-1), (idx,))


def _repeat_counts(repeats, n, dim=0):
    """The repeat counts as a host array: the output's length depends on their values, so
    the index is built on the host (one small transfer) and then moved to the device."""
    counts = to_host(repeats._data) if isinstance(repeats, Tensor) else _host.asarray(repeats)
    if counts.dtype.kind not in "iu":
        raise RuntimeError(f"repeat_interleave: repeats has to be an integer or a Long tensor, "
                           f"got {counts.dtype}")
    if counts.ndim > 1:
        raise RuntimeError("repeat_interleave: repeats must be 0-dim or 1-dim tensor")
    if n is not None and counts.ndim == 1 and counts.size not in (1, n):
        raise RuntimeError(f"repeats must have the same size as input along dim, but got "
                           f"repeats.size(0) = {counts.size} and input.size({dim}) = {n}")
    if (counts < 0).any():
        raise RuntimeError("repeat_interleave: repeats must be non-negative")
    return counts if n is None else _host.broadcast_to(counts.reshape(-1), (n,))


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each slice along ``dim`` ``repeats`` times, in place (``[a, b] -> [a, a, b, b]``),
    where ``Tensor.repeat`` tiles the whole tensor. With ``dim=None`` the input is flattened.
    ``repeat_interleave(counts)`` alone gives ``0, ..., n-1`` each repeated ``counts[i]`` times.
    """
    if repeats is None:
        counts = _repeat_counts(input, None)
        idx = _host.repeat(_host.arange(counts.size, dtype=dtypes.int64.np), counts)
        return Tensor._make(backend_of(input._data).from_host(idx))
    if dim is None:
        input, dim = input.reshape(-1), 0
    d = builtins.range(input.ndim)[dim] if -input.ndim <= dim < input.ndim else None
    if d is None:
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-input.ndim}, {input.ndim - 1}], but got {dim})")
    idx = _host.repeat(_host.arange(input.shape[d]), _repeat_counts(repeats, input.shape[d], d))
    if output_size is not None and output_size != idx.size:
        raise RuntimeError(f"repeat_interleave: output_size {output_size} does not match the "
                           f"total of repeats ({idx.size})")
    idx = backend_of(input._data).from_host(idx)
    return Index.apply(input, (slice(None),) * d + (idx,))
