"""The bridge between tensors and MPI buffers, and the NumPy side of reductions.

A contiguous host tensor hands its own array to MPI (zero copy); anything else (a strided
view, a device tensor) goes through a contiguous host copy that is written back afterwards.
Data movement (broadcast, gather, scatter, send...) travels as raw bytes, so every dtype
works; reductions use MPI's typed operations for the dtypes MPI reduces natively and fall
back to gathering every rank's bytes and reducing with NumPy otherwise (bool, float16).
"""
import array

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
    if not isinstance(op, ReduceOp):
        raise TypeError(f"op must be a dist.ReduceOp, got {op!r}")
    if op is ReduceOp.AVG and dtype.kind not in "fc":
        raise ValueError(f"ReduceOp.AVG needs a floating-point tensor, got {dtype}")
    if dtype not in _NATIVE:
        return None
    return getattr(_mpi(), _MPI_OPS[op])


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
    shape: one small all-gather of (dtype, ndim, shape...) per call."""
    # Plain Python arrays and one bytes comparison: this check runs before every collective,
    # and for ten numbers NumPy's array set-up costs more than the exchange itself. The
    # buffers of a one-tensor check are made once per (shape, dtype, world size).
    size = comm.Get_size()
    if len(tensors) == 1:
        data = tensors[0]._data
        key = (data.shape, data.dtype, shapes, size)
        made = _CHECK_BUFFERS.get(key)
        if made is None:
            made = _CHECK_BUFFERS[key] = _check_buffers(tensors, shapes, size)
        meta, gathered, expected = made
    else:
        meta, gathered, expected = _check_buffers(tensors, shapes, size)
    comm.Allgather(meta, gathered)
    if gathered.tobytes() == expected:
        return
    everyone = np.frombuffer(gathered, dtype=np.int64).reshape(size, len(tensors), 10)
    diff = "; ".join(f"rank {r} has " + ", ".join(_describe(row) for row in rank_meta)
                     for r, rank_meta in enumerate(everyone))
    raise RuntimeError(f"{what}: the tensors differ across ranks ({diff}); every rank must pass "
                       "tensors of the same shape and dtype")


_CHECK_BUFFERS = {}


def _check_buffers(tensors, shapes, size):
    """(this rank's signature, a receive buffer for every rank's, what agreement looks like)."""
    meta = array.array("q", [n for t in tensors for n in _signature(t, shapes)])
    gathered = array.array("q", bytes(meta.itemsize * len(meta) * size))
    return meta, gathered, meta.tobytes() * size


def _signature(tensor, shapes):
    """(dtype code, ndim, shape..., -1 padding): 10 numbers, the same on agreeing ranks."""
    data = tensor._data
    shape = data.shape if shapes else (data.size,)
    row = [ord(data.dtype.kind) * 1000 + data.dtype.itemsize, len(shape), *shape[:8]]  # 'f'4
    return row + [-1] * (10 - len(row))


def _describe(row):
    dtype = np.dtype(f"{chr(row[0] // 1000)}{row[0] % 1000}")
    return f"{dtype} {list(int(n) for n in row[2:2 + row[1]])}"
