"""``zerograd.nn.parallel``: ``DistributedDataParallel`` (MPI) and ``DataParallel``."""
from zerograd.nn.parallel.data_parallel import DataParallel  # noqa: F401
from zerograd.nn.parallel.distributed import DistributedDataParallel  # noqa: F401

__all__ = ["DataParallel", "DistributedDataParallel"]
