"""Functions run by zerograd.multiprocessing.spawn in tests/distributed/test_multiprocessing.py
(a spawned child imports the module of its function: this one stays free of torch)."""
import sys
from pathlib import Path


def write_rank(i, folder, text):
    Path(folder, f"{i}.txt").write_text(f"{text} {i}")


def raise_on_one(i, message):
    if i == 1:
        raise ValueError(message)


def exit_with_three(i):
    if i == 0:
        sys.exit(3)


def join_the_group(i, world_size, init_method, folder):
    """The PyTorch DDP tutorial's setup: init_process_group with an init_method, then an
    all-reduce whose result is written to ``folder``."""
    import zerograd as torch
    import zerograd.distributed as dist
    dist.init_process_group("gloo", init_method=init_method, rank=i, world_size=world_size)
    t = torch.ones(3) * (i + 1)
    dist.all_reduce(t)
    Path(folder, f"{i}.txt").write_text(" ".join(str(v) for v in t.tolist()))
    dist.destroy_process_group()
