"""All-reduce in zerograd vs raw mpi4py on the same float32 buffers (1 KB ... 64 MB).

    mpiexec -n 2 --oversubscribe .venv/bin/python benchmarks/bench_allreduce.py

zerograd's ``dist.all_reduce`` adds a shape/dtype agreement check (one tiny all-gather) and
Python dispatch to MPI_Allreduce on the tensor's own memory; the overhead column is that
cost relative to raw ``comm.Allreduce``. Bus bandwidth uses the ring formula
2(p-1)/p x bytes / time.
"""
import sys
import time

import numpy as np
from mpi4py import MPI

import zerograd as torch
import zerograd.distributed as dist


def best(fn, repeats):
    times = []
    for _ in range(repeats):
        MPI.COMM_WORLD.Barrier()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    dist.init_process_group("mpi")
    comm, rank, p = MPI.COMM_WORLD, dist.get_rank(), dist.get_world_size()
    top = int(sys.argv[1]) if len(sys.argv) > 1 else 64 * 2**20
    if rank == 0:
        print(f"{'bytes':>10} {'mpi4py us':>10} {'zerograd us':>12} {'overhead':>9} "
              f"{'busbw GB/s':>10}")
    size = 1024
    while size <= top:
        t = torch.ones(size // 4)
        raw = np.ones(size // 4, dtype=np.float32)
        repeats = max(3, min(200, (8 * 2**20) // size))
        t_raw = best(lambda: comm.Allreduce(MPI.IN_PLACE, raw, MPI.SUM), repeats)
        t_zg = best(lambda: dist.all_reduce(t), repeats)
        if rank == 0:
            bw = 2 * (p - 1) / p * size / t_raw / 1e9
            print(f"{size:>10} {t_raw * 1e6:>10.1f} {t_zg * 1e6:>12.1f} "
                  f"{(t_zg / t_raw - 1) * 100:>8.1f}% {bw:>10.2f}", flush=True)
        size *= 4
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
