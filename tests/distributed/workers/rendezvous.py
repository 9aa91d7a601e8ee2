"""Run under `mpiexec -n 3`: MPI's dynamic-process join that init_process_group uses for
processes not started together. Each process starts from its own COMM_SELF, as a spawned
process would; rank 0 opens a port and publishes its name through a file, then through TCP
(nothing else travels there); the others connect; the merged communicator must order the
processes by the rank they asked for (here not their launch order) and reduce correctly.
Open MPI can do this inside one mpiexec job (one PMIx server), not for singletons.
Prints `rank r: ALL OK` per launch rank."""
import os

import numpy as np
from mpi4py import MPI

from zerograd.distributed import rendezvous

launch_rank, n = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
asked = (launch_rank + 1) % n  # a rank order different from mpiexec's
folder, port = os.environ["ZG_RENDEZVOUS_DIR"], os.environ["ZG_RENDEZVOUS_PORT"]
for method in (f"file://{folder}/port-name", f"tcp://127.0.0.1:{port}"):
    comm = rendezvous.join(MPI, MPI.COMM_SELF, asked, n, method, timeout_s=20)
    assert comm.Get_size() == n and comm.Get_rank() == asked, (comm.Get_size(), comm.Get_rank())
    everyone = np.empty(n, dtype=np.int64)
    comm.Allgather(np.array([launch_rank], dtype=np.int64), everyone)
    assert everyone.tolist() == [(r - 1) % n for r in range(n)], everyone
    total = np.array([float(asked + 1)])
    comm.Allreduce(MPI.IN_PLACE, total)
    assert total[0] == n * (n + 1) / 2
    comm.Free()
    print(f"rank {launch_rank}: joined as {asked} through {method.split(':')[0]}", flush=True)
assert not os.path.exists(f"{folder}/port-name"), "rank 0 must remove the rendezvous file"
print(f"rank {launch_rank}: ALL OK", flush=True)
