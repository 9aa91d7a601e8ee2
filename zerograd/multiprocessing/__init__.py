"""``zerograd.multiprocessing``: Python's multiprocessing plus torch's ``spawn``.

As in ``torch.multiprocessing``, everything of the standard library's ``multiprocessing``
is here (``get_context``, ``Process``, ``Queue``...), and ``spawn(fn, args, nprocs)`` starts
``nprocs`` processes running ``fn(i, *args)``, raising in the parent when one of them fails.
Tensors are not shared between processes: data-parallel training talks through
``zerograd.distributed`` (MPI); start such jobs with ``zerograd launch`` (see spawn.py).
"""
import multiprocessing as _mp
from multiprocessing import *  # noqa: F401,F403

from zerograd.multiprocessing.spawn import (  # noqa: F401
    ProcessContext, ProcessException, ProcessExitedException, ProcessRaisedException,
    spawn, start_processes)

__all__ = _mp.__all__ + ["spawn", "start_processes", "ProcessContext", "ProcessException",
                         "ProcessRaisedException", "ProcessExitedException"]
