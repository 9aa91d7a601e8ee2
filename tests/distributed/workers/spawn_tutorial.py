"""Run under `mpiexec -n 2` (as `zerograd launch --nproc 2` does): the PyTorch DDP tutorial's
structure, unchanged: mp.spawn(fn, args=(world_size,), nprocs=world_size), and in fn
init_process_group with MASTER_ADDR/MASTER_PORT, rank and world_size, then DDP. Each MPI
rank runs fn(its rank); prints `rank r: ALL OK` per rank."""
import os

import numpy as np

import zerograd as torch
import zerograd.distributed as dist
import zerograd.multiprocessing as mp
from zerograd import nn
from zerograd.nn.parallel import DistributedDataParallel as DDP


def demo_basic(rank, world_size):
    os.environ["MASTER_ADDR"] = "localhost"
    os.environ["MASTER_PORT"] = "12355"
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    assert dist.get_rank() == rank and dist.get_world_size() == world_size
    torch.manual_seed(rank)  # different weights: DDP must broadcast rank 0's
    model = DDP(nn.Linear(10, 5))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001)
    optimizer.zero_grad()
    nn.MSELoss()(model(torch.randn(20, 10)), torch.randn(20, 5)).backward()
    optimizer.step()
    weights = [None] * world_size
    dist.all_gather_object(weights, model.module.weight.detach().numpy().tolist())
    np.testing.assert_array_equal(weights[0], weights[1])
    dist.destroy_process_group()
    print(f"rank {rank}: ALL OK", flush=True)


if __name__ == "__main__":
    mp.spawn(demo_basic, args=(2,), nprocs=2, join=True)
