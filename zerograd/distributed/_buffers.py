"""The bridge between tensors and MPI buffers, and the NumPy side of reductions.

A contiguous host tensor hands its own array to MPI (zero copy); anything else (a strided
view, a device tensor) goes through a contiguous host copy that is written back afterwards.
Data movement (broadcast, gather, scatter, send...) travels as raw bytes, so every dtype
works; reductions use MPI's typed operations for the dtypes MPI reduces natively and fall
back to gathering every rank's bytes and reducing with NumPy otherwise (bool, float16).
"""
import array
import math

import numpy as np

from zerograd.backend import backend_of
from zerograd.distributed.process_group import ReduceOp, _mpi

_NATIVE = {np.dtype(t) for t in (np.float32, np.float64, np.int8, np.int16, np.int32,
                 np.int64, np.uint8, np.complex64, np.complex128)}
_MPI_OPS = {ReduceOp.SUM: "SUM", ReduceOp.AVG: "SUM", ReduceOp.PRODUCT: "PROD",
            ReduceOp.MIN: "MIN", ReduceOp.MAX: "MAX", ReduceOp.BAND: "BAND",
            ReduceOp.BOR: "BOR", ReduceOp.BXOR: "BXOR"}


def host_buffer(tensor):
    """``(array, write_back)``: a C-contiguous NumPy array holding ``tensor``'s values (its
    own memory when possible) and a function that copies the array back (None if shared)."""
    data = tensor._data
    if type(data) is np.ndarray and data.flags.c_contiguous:
        return data, None
    if type(data) is np.ndarray:
        host = np.ascontiguousarray(data)

        def write_back():
            data[...] = host
        return host, write_back
    backend = backend_of(data)
    host = np.ascontiguousarray(backend.to_host(data))

    def write_back_device():
        data[...] = backend.from_host(host)
    return host, write_back_device


def as_bytes(array):
    """A uint8 view of a contiguous array (MPI.BYTE messages move any dtype)."""
    return array.reshape(-1).view(np.uint8)


def mpi_op(op, dtype):
    """The MPI operation for ``op``, or None where NumPy must reduce (non-native dtype)."""
    # every collective asks: the answer for each (op, dtype) is worked out once, and kept
    # under the op's value (an Enum member hashes in Python, ~3x slower than its string)
    found = (_MPI_OP_OF.get((op._value_, dtype), _UNKNOWN) if type(op) is ReduceOp
             else _UNKNOWN)
    if found is not _UNKNOWN:
        return found
    if not isinstance(op, ReduceOp):
        raise TypeError(f"op must be a dist.ReduceOp, got {op!r}")
    if op is ReduceOp.AVG and dtype.kind not in "fc":
        raise ValueError(f"ReduceOp.AVG needs a floating-point tensor, got {dtype}")
    found = getattr(_mpi(), _MPI_OPS[op]) if dtype in _NATIVE else None
    _MPI_OP_OF[op._value_, dtype] = found
    return found


_MPI_OP_OF = {}
_UNKNOWN = object()


def reduce_stack(stack, op):
    """Reduce the ranks' arrays stacked on axis 0 with NumPy (the non-native fallback)."""
    if stack.dtype == np.bool_:
        if op in (ReduceOp.SUM, ReduceOp.MAX, ReduceOp.BOR):
            return stack.any(0)
        if op in (ReduceOp.PRODUCT, ReduceOp.MIN, ReduceOp.BAND):
            return stack.all(0)
        return np.logical_xor.reduce(stack, 0)
    table = {ReduceOp.SUM: np.add, ReduceOp.AVG: np.add, ReduceOp.PRODUCT: np.multiply,
             ReduceOp.MIN: np.minimum, ReduceOp.MAX: np.maximum, ReduceOp.BAND: np.bitwise_and,
             ReduceOp.BOR: np.bitwise_or, ReduceOp.BXOR: np.bitwise_xor}
    out = table[op].reduce(stack, 0).astype(stack.dtype, copy=False)
    if op is ReduceOp.AVG:
        out = (out / stack.shape[0]).astype(stack.dtype)
    return out


def gather_all(comm, array):
    """Every rank's copy of ``array``, stacked on a new axis 0 (for the NumPy fallback)."""
    out = np.empty((comm.Get_size(),) + array.shape, dtype=array.dtype)
    comm.Allgather(as_bytes(array), as_bytes(out))
    return out


def check_same(comm, tensors, what, shapes=True):
    """Raise on every rank (not hang on some) when the ranks' tensors differ in dtype or
    shape: one small all-reduce per call, the maximum of (signature, -signature).

    Each rank gets its own numbers back exactly when every rank's signature is the same
    (the maximum of each number equals it and so does its minimum); where any two differ,
    some number's maximum and minimum differ, so every rank sees it and raises. Only then
    are the signatures gathered, for the message. The buffer size does not grow with the
    world, and agreement is one comparison."""
    # Plain Python arrays and one comparison: this check runs before every collective, and
    # for twenty numbers NumPy's array set-up costs more than the exchange itself. The
    # buffers of a one-tensor check are made once per (shape, dtype).
    if len(tensors) == 1:
        data = tensors[0]._data
        key = (data.shape, data.dtype, shapes)
        made = _CHECK_BUFFERS.get(key)
        if made is None:
            made = _CHECK_BUFFERS[key] = _check_buffers(tensors, shapes)
        mine, agreed, maximum = made
    else:
        mine, agreed, maximum = _check_buffers(tensors, shapes)
    comm.Allreduce(mine, agreed, maximum)
    if agreed == mine:
        return
    _raise_mismatch(comm, mine[:len(mine) // 2], len(tensors), what)


_CHECK_BUFFERS = {}


def _check_buffers(tensors, shapes):
    """(this rank's signature and its negation, a buffer for the ranks' maximum, MPI.MAX)."""
    signature = [n for t in tensors for n in _signature(t, shapes)]
    mine = array.array("q", signature + [-n for n in signature])
    return mine, array.array("q", bytes(mine.itemsize * len(mine))), _mpi().MAX


def _raise_mismatch(comm, signature, n_tensors, what):
    """Every rank's signature, gathered (on every rank: all of them found the mismatch)."""
    size = comm.Get_size()
    gathered = array.array("q", bytes(signature.itemsize * len(signature) * size))
    comm.Allgather(signature, gathered)
    everyone = np.frombuffer(gathered, dtype=np.int64).reshape(size, n_tensors, 10)
    diff = "; ".join(f"rank {r} has " + ", ".join(_describe(row) for row in rank_meta)
                     for r, rank_meta in enumerate(everyone))
    raise RuntimeError(f"{what}: the tensors differ across ranks ({diff}); every rank must pass "
                       "tensors of the same shape and dtype")


def _signature(tensor, shapes):
    """(dtype code, ndim, shape..., -1 padding): 10 numbers, the same on agreeing ranks. Past
    8 dims the last number is the product of the rest, so the sizes still must agree."""
    data = tensor._data
    shape = data.shape if shapes else (data.size,)
    if len(shape) > 8:
        shape = (*shape[:7], math.prod(shape[7:]))
    row = [ord(data.dtype.kind) * 1000 + data.dtype.itemsize, data.ndim if shapes else 1,
           *shape]  # 'f'4 -> 102004
    return row + [-1] * (10 - len(row))


def _describe(row):
    dtype = np.dtype(f"{chr(row[0] // 1000)}{row[0] % 1000}")
    ndim = int(row[1])
    dims = [int(n) for n in row[2:2 + min(ndim, 8)]]
    if ndim > 8:
        return f"{dtype} {dims[:7]} + {ndim - 7} more dims of {dims[7]} elements"
    return f"{dtype} {dims}"
