"""Run under `mpiexec -n 2`: rank 1 raises while rank 0 waits in a collective; the global
except hook must abort the whole job (non-zero exit) instead of leaving rank 0 hanging."""
import zerograd as torch
import zerograd.distributed as dist

dist.init_process_group("gloo")
if dist.get_rank() == 1:
    raise ValueError("rank 1 failed on purpose")
dist.all_reduce(torch.ones(3))  # never completes: rank 1 is gone
print("rank 0 should not get here", flush=True)
