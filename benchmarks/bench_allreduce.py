"""All-reduce in zerograd vs raw mpi4py on the same float32 buffers (1 KB ... 64 MB).

    zerograd launch --nproc 2 benchmarks/bench_allreduce.py [TOP_BYTES] [--from BYTES]
        [--repeats N]
    (or: mpiexec -n 2 --oversubscribe .venv/bin/python benchmarks/bench_allreduce.py)

Sizes go from ``--from`` (1 KB) to TOP_BYTES (64 MB) by factors of 4; each size is timed
``--repeats`` times (default: 256 MB / size, at least 50 and at most 1000; 256 at 1 MB,
where 20 samples left the median to a few bursts of load on a shared machine).

zerograd's ``dist.all_reduce`` adds a shape/dtype agreement check (one tiny all-reduce) and
Python dispatch to MPI_Allreduce on the tensor's own memory; the overhead column is that
cost relative to raw ``comm.Allreduce`` on the same memory (the tensor's NumPy view). The two are
interleaved call by call (each after a barrier) and the medians compared, so a burst of
load from other jobs hits both alike; the "check us" column times the agreement check
alone, and "+barrier us" is raw mpi4py after one more MPI_Barrier: a control that shows
what any extra synchronisation point (the check is one) costs on the machine of the day.
Bus bandwidth uses the ring formula 2(p-1)/p x bytes / time.
"""
import argparse
import statistics
import time

from mpi4py import MPI

import zerograd as torch
import zerograd.distributed as dist
from zerograd.distributed import _buffers


def interleaved(fns, repeats):
    """Median seconds of each of ``fns``, called in turn ``repeats`` times after barriers.

    The order rotates every round: the first collective after the others' runs is slower
    (measured: ~20% at 16 MB), and a fixed order would charge that to one column."""
    times = [[] for _ in fns]
    for r in range(repeats):
        for i in range(len(fns)):
            k = (i + r) % len(fns)
            MPI.COMM_WORLD.Barrier()
            start = time.perf_counter()
            fns[k]()
            times[k].append(time.perf_counter() - start)
    # every rank reports rank 0's view; the slowest rank decides a collective's time
    return [MPI.COMM_WORLD.allreduce(statistics.median(t), op=MPI.MAX) for t in times]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("top", nargs="?", type=int, default=64 * 2**20)
    parser.add_argument("--from", type=int, default=1024, dest="start")
    parser.add_argument("--repeats", type=int, default=None)
    opts = parser.parse_args()
    dist.init_process_group("mpi")
    comm, rank, p = MPI.COMM_WORLD, dist.get_rank(), dist.get_world_size()
    if rank == 0:
        with open("/proc/loadavg") as handle:
            load = handle.read().split()[:3]
        print(f"# {p} ranks, load average {' '.join(load)}")
        print(f"{'bytes':>10} {'mpi4py us':>10} {'zerograd us':>12} {'overhead':>9} "
              f"{'check us':>9} {'+barrier us':>11} {'busbw GB/s':>10}")
    size = opts.start
    while size <= opts.top:
        t = torch.ones(size // 4)
        # raw mpi4py on the tensor's own memory: where a buffer lies decides a large
        # all-reduce's time by up to ~60% (two arrays of 16 MB, measured), so separate
        # buffers would measure their placement, not zerograd's overhead
        raw = t.numpy()
        repeats = opts.repeats or max(50, min(1000, (256 * 2**20) // size))
        t_raw, t_zg, t_check, t_barrier = interleaved(
            [lambda: comm.Allreduce(MPI.IN_PLACE, raw, MPI.SUM),
             lambda: dist.all_reduce(t),
             lambda: _buffers.check_same(comm, [t], "all_reduce"),
             lambda: (comm.Barrier(), comm.Allreduce(MPI.IN_PLACE, raw, MPI.SUM))], repeats)
        if rank == 0:
            bw = 2 * (p - 1) / p * size / t_raw / 1e9
            print(f"{size:>10} {t_raw * 1e6:>10.1f} {t_zg * 1e6:>12.1f} "
                  f"{(t_zg / t_raw - 1) * 100:>8.1f}% {t_check * 1e6:>9.1f} "
                  f"{t_barrier * 1e6:>11.1f} {bw:>10.2f}",
                  flush=True)
        size *= 4
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
