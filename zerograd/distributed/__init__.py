"""``zerograd.distributed``: torch.distributed's API on MPI (mpi4py).

Start the processes with MPI's launcher and initialise as in torch::

    mpiexec -n 4 python train.py          # as root add --allow-run-as-root; --oversubscribe
                                          # when ranks outnumber cores; -hostfile for machines
    import zerograd.distributed as dist
    dist.init_process_group("gloo")        # "mpi", "gloo" and "nccl" are all MPI here
    dist.all_reduce(t, op=dist.ReduceOp.SUM)

Collectives work in place on tensors; host arrays go to MPI without copies. Objects travel
as JSON, never pickle. An uncaught exception on one rank aborts the whole job.
"""
from zerograd.distributed.process_group import *  # noqa: F401,F403
from zerograd.distributed.collectives import *  # noqa: F401,F403
from zerograd.distributed.objects import *  # noqa: F401,F403
