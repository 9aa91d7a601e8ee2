"""Collectives on Python objects, carried as JSON (never pickle: unpickling what another
process sent can run arbitrary code). Objects must be JSON-serialisable (dicts, lists,
strings, numbers, bools, None); tuples come back as lists, as JSON has no tuples."""
import json

import numpy as np

from zerograd.distributed.process_group import _resolve

__all__ = ["broadcast_object_list", "all_gather_object", "gather_object"]


def _encode(obj):
    """UTF-8 JSON bytes, or None when ``obj`` is not JSON-serialisable."""
    try:
        return np.frombuffer(json.dumps(obj).encode(), dtype=np.uint8)
    except (TypeError, ValueError):
        return None


def _refuse(what, obj):
    raise TypeError(f"{what}: objects must be JSON-serialisable (zerograd never pickles), "
                    f"got {type(obj).__name__}")


def _gather_lengths(comm, payload):
    lengths = np.empty(comm.Get_size(), dtype=np.int64)
    comm.Allgather(np.array([-1 if payload is None else payload.size], dtype=np.int64), lengths)
    return lengths


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """Replace ``object_list``'s items on every rank with those of rank ``src``."""
    pg = _resolve(group)
    if pg.comm is None:
        return
    root = group_src if group_src is not None else pg.ranks.index(0 if src is None else src)
    payload = _encode(list(object_list)) if pg.rank() == root else None
    length = np.array([-1 if payload is None else payload.size], dtype=np.int64)
    pg.comm.Bcast(length, root)
    if length[0] < 0:  # the root could not encode: every rank raises, none waits
        _refuse("broadcast_object_list", object_list)
    data = payload if payload is not None else np.empty(int(length[0]), dtype=np.uint8)
    pg.comm.Bcast(data, root)
    object_list[:] = json.loads(data.tobytes().decode())


def all_gather_object(object_list, obj, group=None):
    """``object_list[r]`` becomes rank r's ``obj``."""
    pg = _resolve(group)
    if pg.comm is None:
        return
    if len(object_list) != pg.size():
        raise ValueError(f"all_gather_object: object_list must have {pg.size()} items")
    payload = _encode(obj)
    lengths = _gather_lengths(pg.comm, payload)
    if (lengths < 0).any():
        _refuse("all_gather_object", obj)
    out = np.empty(int(lengths.sum()), dtype=np.uint8)
    displs = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    pg.comm.Allgatherv(payload, [out, (lengths.tolist(), displs.tolist())])
    for r in range(pg.size()):
        object_list[r] = json.loads(out[displs[r]:displs[r] + lengths[r]].tobytes().decode())


def gather_object(obj, object_gather_list=None, dst=None, group=None, group_dst=None):
    """Rank ``dst``'s ``object_gather_list[r]`` becomes rank r's ``obj``."""
    pg = _resolve(group)
    if pg.comm is None:
        return
    everyone = [None] * pg.size()
    all_gather_object(everyone, obj, group)
    root = group_dst if group_dst is not None else pg.ranks.index(0 if dst is None else dst)
    if pg.rank() == root:
        object_gather_list[:] = everyone
