"""Collectives on tensors, in place, with torch.distributed's signatures.

Each function finds its group's communicator, checks cheaply that the ranks agree on
shapes and dtypes (a mismatch would otherwise truncate or hang inside MPI), hands the
tensors' arrays to MPI and, with ``async_op=True``, returns a ``Work`` whose ``wait()``
finishes the job (AVG's division, copies back into strided or device tensors). ``src`` and
``dst`` are global ranks, ``group_src`` / ``group_dst`` ranks within ``group``; a process
outside ``group`` returns at once, as in torch.
"""
import numpy as np

from zerograd.distributed import _buffers as B
from zerograd.distributed.process_group import ReduceOp, Work, _mpi, _resolve

__all__ = ["all_reduce", "broadcast", "reduce", "all_gather", "all_gather_into_tensor",
           "reduce_scatter", "reduce_scatter_tensor", "gather", "scatter", "all_to_all",
           "all_to_all_single", "send", "recv", "isend", "irecv", "barrier"]


def _member(group):
    pg = _resolve(group)
    return pg if pg.comm is not None else None


def _root(pg, rank, group_rank, name):
    """The group rank of the root given as a global ``rank`` or a ``group_rank``."""
    if group_rank is not None:
        return group_rank
    rank = 0 if rank is None else rank
    if rank not in pg.ranks:
        raise ValueError(f"{name}: rank {rank} is not part of the group {pg.ranks}")
    return pg.ranks.index(rank)


def _launch(comm, name, args, async_op, finish=None):
    """Run MPI's ``name`` (blocking), or its ``I``-prefixed twin under a ``Work``."""
    if async_op:
        return Work(getattr(comm, "I" + name.lower())(*args), finish)
    getattr(comm, name)(*args)
    if finish is not None:
        finish()
    return None


def _then(*steps):
    steps = [s for s in steps if s is not None]
    if len(steps) < 2:
        return steps[0] if steps else None
    return lambda: [s() for s in steps]


def _done(async_op, finish=None):
    """The return value of work finished synchronously (the NumPy fallback)."""
    work = Work(None, finish)
    return work if async_op else None


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` over all ranks with ``op``; every rank ends with the result."""
    # The most called collective, so spelt out rather than through _launch: its fixed cost
    # is what a small all-reduce pays over raw mpi4py (benchmarks/bench_allreduce.py).
    pg = _member(group)
    if pg is None:
        return None
    comm, MPI = pg.comm, _mpi()
    B.check_same(comm, [tensor], "all_reduce")
    buf, write_back = B.host_buffer(tensor)
    mpi_op = B.mpi_op(op, buf.dtype)
    if mpi_op is None:
        buf[...] = B.reduce_stack(B.gather_all(comm, buf), op)
        return _done(async_op, write_back)
    finish = write_back if op is not _AVG else _then(_averager(buf, pg.size()), write_back)
    if async_op:
        return Work(comm.Iallreduce(MPI.IN_PLACE, buf, mpi_op), finish)
    comm.Allreduce(MPI.IN_PLACE, buf, mpi_op)
    if finish is not None:
        finish()
    return None


_AVG = ReduceOp.AVG  # a module constant: an Enum class attribute costs ~70 ns per look-up


def _averager(buf, n):
    def divide():
        np.divide(buf, n, out=buf)
    return divide


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """Copy rank ``src``'s ``tensor`` into every other rank's."""
    pg = _member(group)
    if pg is None:
        return None
    B.check_same(pg.comm, [tensor], "broadcast")
    buf, write_back = B.host_buffer(tensor)
    root = _root(pg, src, group_src, "broadcast")
    return _launch(pg.comm, "Bcast", (B.as_bytes(buf), root), async_op, write_back)


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """Reduce ``tensor`` over all ranks into rank ``dst``'s (the others keep theirs)."""
    pg = _member(group)
    if pg is None:
        return None
    B.check_same(pg.comm, [tensor], "reduce")
    buf, write_back = B.host_buffer(tensor)
    root = _root(pg, dst, group_dst, "reduce")
    is_root = pg.rank() == root
    mpi_op = B.mpi_op(op, buf.dtype)
    if mpi_op is None:
        stack = B.gather_all(pg.comm, buf)
        if is_root:
            buf[...] = B.reduce_stack(stack, op)
        return _done(async_op, write_back if is_root else None)
    if not is_root:
        return _launch(pg.comm, "Reduce", (buf, None, mpi_op, root), async_op)
    avg = _averager(buf, pg.size()) if op is ReduceOp.AVG else None
    return _launch(pg.comm, "Reduce", (_mpi().IN_PLACE, buf, mpi_op, root), async_op,
                   _then(avg, write_back))


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """``tensor_list[r]`` receives rank r's ``tensor``."""
    pg = _member(group)
    if pg is None:
        return None
    _check_list(tensor_list, tensor, pg.size(), "all_gather")
    B.check_same(pg.comm, [tensor], "all_gather")
    src, _ = B.host_buffer(tensor)
    out = np.empty((pg.size(),) + src.shape, dtype=src.dtype)

    def scatter_into_list():
        for t, part in zip(tensor_list, out):
            _assign(t, part)
    return _launch(pg.comm, "Allgather", (B.as_bytes(src), B.as_bytes(out)), async_op,
                   scatter_into_list)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Rank r's ``input_tensor`` lands in the r-th slice of ``output_tensor`` (whose first
    dim is world_size times the input's, or a new leading dim of world_size)."""
    pg = _member(group)
    if pg is None:
        return None
    _check_sizes(output_tensor, input_tensor, pg.size(), "all_gather_into_tensor", "output")
    B.check_same(pg.comm, [input_tensor], "all_gather_into_tensor")
    src, _ = B.host_buffer(input_tensor)
    out, write_back = B.host_buffer(output_tensor)
    return _launch(pg.comm, "Allgather", (B.as_bytes(src), B.as_bytes(out)), async_op,
                   write_back)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input`` over ranks and give rank r the r-th slice of the result."""
    pg = _member(group)
    if pg is None:
        return None
    _check_sizes(input, output, pg.size(), "reduce_scatter_tensor", "input")
    B.check_same(pg.comm, [input], "reduce_scatter_tensor")
    src, _ = B.host_buffer(input)
    out, write_back = B.host_buffer(output)
    mpi_op = B.mpi_op(op, src.dtype)
    if mpi_op is None:
        total = B.reduce_stack(B.gather_all(pg.comm, src), op).reshape(pg.size(), -1)
        out.reshape(-1)[...] = total[pg.rank()]
        return _done(async_op, write_back)
    avg = _averager(out, pg.size()) if op is ReduceOp.AVG else None
    return _launch(pg.comm, "Reduce_scatter_block", (src, out, mpi_op), async_op,
                   _then(avg, write_back))


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input_list[r]`` over ranks into rank r's ``output``."""
    from zerograd.ops import stack
    return reduce_scatter_tensor(output, stack([t.detach() for t in input_list]), op, group,
                                 async_op)


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    """Rank ``dst`` receives every rank's ``tensor`` in ``gather_list``."""
    pg = _member(group)
    if pg is None:
        return None
    root = _root(pg, dst, group_dst, "gather")
    is_root = pg.rank() == root
    if is_root:
        _check_list(gather_list, tensor, pg.size(), "gather")
    B.check_same(pg.comm, [tensor], "gather")
    src, _ = B.host_buffer(tensor)
    out = np.empty((pg.size(),) + src.shape, dtype=src.dtype) if is_root else None

    def into_list():
        for t, part in zip(gather_list, out):
            _assign(t, part)
    return _launch(pg.comm, "Gather", (B.as_bytes(src), None if out is None else
                                       B.as_bytes(out), root), async_op,
                   into_list if is_root else None)


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    """Rank r's ``tensor`` receives ``scatter_list[r]`` of rank ``src``."""
    pg = _member(group)
    if pg is None:
        return None
    root = _root(pg, src, group_src, "scatter")
    is_root = pg.rank() == root
    if is_root:
        _check_list(scatter_list, tensor, pg.size(), "scatter")
    B.check_same(pg.comm, [tensor], "scatter")
    sendbuf = (np.stack([np.asarray(B.host_buffer(t)[0]) for t in scatter_list])
               if is_root else None)
    out, write_back = B.host_buffer(tensor)
    return _launch(pg.comm, "Scatter", (None if sendbuf is None else B.as_bytes(sendbuf),
                                        B.as_bytes(out), root), async_op, write_back)


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None,
                      group=None, async_op=False):
    """Rank r sends its ``input``'s r-th split (rows, dim 0) to rank r' and receives
    theirs into the r-th split of ``output``; equal splits unless sizes are given."""
    pg = _member(group)
    if pg is None:
        return None
    n = pg.size()
    if output_split_sizes is None and input_split_sizes is None:
        if input.shape[0] % n if input.dim() else True:
            raise ValueError(f"all_to_all_single: input's first dim ({tuple(input.shape)}) "
                             f"must divide evenly among {n} ranks")
        B.check_same(pg.comm, [input, output], "all_to_all_single")
    elif input.dtype != output.dtype:
        raise RuntimeError("all_to_all_single: input and output must have the same dtype")
    src, _ = B.host_buffer(input)
    out, write_back = B.host_buffer(output)
    send = _counts(src, input_split_sizes, n)
    recv = _counts(out, output_split_sizes, n)
    return _launch(pg.comm, "Alltoallv", ([B.as_bytes(src), send, _mpi().BYTE],
                                          [B.as_bytes(out), recv, _mpi().BYTE]),
                   async_op, write_back)


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    """Rank r's ``input_tensor_list[r']`` goes to rank r' as its ``output_tensor_list[r]``."""
    pg = _member(group)
    if pg is None:
        return None
    src = np.concatenate([B.as_bytes(B.host_buffer(t)[0]) for t in input_tensor_list])
    outs = [np.empty(t.shape, dtype=t._data.dtype) for t in output_tensor_list]
    sizes = [o.nbytes for o in outs]
    out = np.empty(sum(sizes), dtype=np.uint8)
    send = _bytes_counts([t._data.nbytes for t in input_tensor_list])

    def into_list():
        for t, o, part in zip(output_tensor_list, outs, np.split(out, np.cumsum(sizes)[:-1])):
            _assign(t, part.view(o.dtype).reshape(o.shape))
    return _launch(pg.comm, "Alltoallv", ([src, send, _mpi().BYTE],
                                          [out, _bytes_counts(sizes), _mpi().BYTE]),
                   async_op, into_list)


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    """Send ``tensor`` to rank ``dst`` (blocks until MPI has taken the data)."""
    pg = _resolve(group)
    buf, _ = B.host_buffer(tensor)
    pg.comm.Send(B.as_bytes(buf), dest=_root(pg, dst, group_dst, "send"), tag=tag)


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    """Receive into ``tensor`` from rank ``src`` (any rank if None); returns the sender.
    A message of another byte size is refused with a clear error (left unreceived); the
    same size in another dtype cannot be told apart (MPI moves bytes). ``irecv`` cannot
    check without blocking: there MPI reports a longer message as truncated."""
    pg = _resolve(group)
    MPI = _mpi()
    buf, write_back = B.host_buffer(tensor)
    source = MPI.ANY_SOURCE if src is None and group_src is None else _root(
        pg, src, group_src, "recv")
    status = MPI.Status()
    pg.comm.Probe(source=source, tag=tag, status=status)  # size the message before taking it
    sent = status.Get_count(MPI.BYTE)
    if sent != buf.nbytes:
        raise RuntimeError(f"recv: rank {pg.ranks[status.Get_source()]} sent {sent} bytes but "
                           f"the receiving tensor ({tensor.dtype} {list(tensor.shape)}) holds "
                           f"{buf.nbytes}; send and recv tensors must match in size and dtype")
    pg.comm.Recv(B.as_bytes(buf), source=status.Get_source(), tag=status.Get_tag(),
                 status=status)
    if write_back is not None:
        write_back()
    return pg.ranks[status.Get_source()]


def isend(tensor, dst=None, group=None, tag=0, group_dst=None):
    pg = _resolve(group)
    buf, _ = B.host_buffer(tensor)
    return Work(pg.comm.Isend(B.as_bytes(buf), dest=_root(pg, dst, group_dst, "isend"),
                              tag=tag))


def irecv(tensor, src=None, group=None, tag=0, group_src=None):
    pg = _resolve(group)
    MPI = _mpi()
    buf, write_back = B.host_buffer(tensor)
    source = MPI.ANY_SOURCE if src is None and group_src is None else _root(
        pg, src, group_src, "irecv")
    return Work(pg.comm.Irecv(B.as_bytes(buf), source=source, tag=tag), write_back)


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank of ``group`` has reached this call."""
    pg = _member(group)
    if pg is None:
        return None
    return _launch(pg.comm, "Barrier", (), async_op)


# -- argument checks and small helpers ---------------------------------------------------------
def _check_list(tensors, tensor, n, what):
    if tensors is None or len(tensors) != n:
        raise ValueError(f"{what}: expected a list of {n} tensors (one per rank), got "
                         f"{None if tensors is None else len(tensors)}")
    for t in tensors:
        if tuple(t.shape) != tuple(tensor.shape) or t.dtype != tensor.dtype:
            raise ValueError(f"{what}: every tensor in the list must match the input "
                             f"({tensor.dtype} {list(tensor.shape)}), got {t.dtype} "
                             f"{list(t.shape)}")


def _check_sizes(big, small, n, what, name):
    if big.numel() != n * small.numel() or big.dtype != small.dtype:
        raise ValueError(f"{what}: {name} must hold world_size ({n}) times the other tensor's "
                         f"elements with the same dtype, got {big.dtype} {list(big.shape)} and "
                         f"{small.dtype} {list(small.shape)}")


def _counts(array, split_sizes, n):
    """(byte counts, byte displacements) for splitting ``array``'s rows among ``n`` ranks."""
    rows = array.shape[0] if array.ndim else 1
    row_bytes = array.nbytes // rows if rows else 0
    splits = [rows // n] * n if split_sizes is None else [int(s) for s in split_sizes]
    if len(splits) != n or sum(splits) != rows:
        raise ValueError(f"all_to_all_single: split sizes {splits} must be {n} numbers "
                         f"adding up to the first dim ({rows})")
    return _bytes_counts([s * row_bytes for s in splits])


def _bytes_counts(sizes):
    displs = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int).tolist()
    return [int(s) for s in sizes], displs


def _assign(tensor, array):
    """Write ``array``'s values into ``tensor`` in place (host or device)."""
    data = tensor._data
    if type(data) is np.ndarray:
        data[...] = array.reshape(data.shape)
    else:
        from zerograd.backend import backend_of
        data[...] = backend_of(data).from_host(array.reshape(data.shape))
