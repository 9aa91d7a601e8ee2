"""``zerograd.nn.parallel``: ``DistributedDataParallel`` (MPI), ``DataParallel`` and its
steps (``scatter``, ``replicate``, ``parallel_apply``, ``gather``) as torch names them."""
from zerograd.nn.parallel.data_parallel import (  # noqa: F401
    DataParallel, gather, parallel_apply, replicate, scatter, scatter_kwargs)
from zerograd.nn.parallel.distributed import DistributedDataParallel  # noqa: F401

__all__ = ["DataParallel", "DistributedDataParallel", "gather", "parallel_apply", "replicate",
           "scatter", "scatter_kwargs"]
