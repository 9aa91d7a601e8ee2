"""DistributedDataParallel on one machine: throughput, overlap, and a ring all-reduce cost model.

    python benchmarks/bench_ddp.py [--steps 20] [--batch 128] [--resnet-batch 8]

1. LeNet on Fashion-MNIST, the same job batch (``--batch``) two ways: 1 process x 2 BLAS
   threads vs 2 processes (``zerograd launch --nproc 2``) x 1 thread each, images/s.
2. Overlap, in the 2-process run: backward alone (inside ``no_sync``: no communication),
   backward with DDP's reducer (bucket all-reduces started from gradient hooks while
   backward runs, waited for at its end), and the same buckets all-reduced after backward
   (communication with nothing to hide behind). Hidden fraction =
   1 - (DDP backward - local backward) / communication time. That charges DDP's own
   copies (gradients into the buckets, averages back into ``.grad``: two passes over the
   gradients, as torch's reducer makes) to communication, so a fourth backward runs the
   reducer with a stand-in communicator that sends nothing, and a second fraction
   1 - (DDP backward - that backward) / communication time leaves them out. On one
   machine the transfer itself is CPU work (shared-memory copies and the sum, done by
   each rank inside MPI calls), so with one core per rank neither can reach 100%.
3. ResNet-18-small (``zerograd.models`` resnet18, 11.2M parameters): the step time of 1
   and of 2 processes and the all-reduce time of its gradients, then the cost model
   (ring all-reduce, weak scaling: each machine keeps its batch)::

       T_comm(p)  = 2 (p - 1) / p x bytes / bandwidth + 2 (p - 1) x latency
       T_step(p)  = T_compute + (1 - hidden) x T_comm(p)
       efficiency = T_compute / T_step(p)

   checked against the measured 2-process step (with loopback's measured bandwidth) and
   predicted for 8 and 64 machines at 10 and 100 Gbit/s.

Each run prints the load average; the machine is shared, so say so with the figures.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LATENCY = {10: 50e-6, 100: 10e-6}  # seconds per ring step: TCP over 10 GbE, 100 GbE/RoCE


def load():
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


# -- the worker (one process, or each rank of a job) -------------------------------------------
def worker(opts):
    import zerograd as torch
    from zerograd import distributed as dist, nn
    from zerograd.models import get_model
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        dist.init_process_group("mpi")
    rank = dist.get_rank() if world > 1 else 0
    torch.manual_seed(0)
    per_rank = opts.batch // world
    model = get_model(opts.model, (1, 28, 28), 10)
    x, y = _fashion(opts.batch * 4)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    replica = nn.parallel.DistributedDataParallel(
        model, bucket_cap_mb=opts.bucket_cap_mb) if world > 1 else model
    batches = [(x[i + rank * per_rank:i + (rank + 1) * per_rank],
                y[i + rank * per_rank:i + (rank + 1) * per_rank])
               for i in range(0, len(y), opts.batch)]

    def step(k, sync=True, communicate=True):
        xb, yb = batches[k % len(batches)]
        optimizer.zero_grad()
        loss = loss_fn(replica(xb), yb)
        start = time.perf_counter()
        if world > 1 and not sync:
            with replica.no_sync():
                loss.backward()
        elif not communicate:
            with _no_communication():
                loss.backward()
        else:
            loss.backward()
        backward = time.perf_counter() - start
        optimizer.step()
        return backward

    for k in range(2):
        step(k)  # warm-up: buffers, BLAS threads, MPI connections
    _barrier(world)
    start = time.perf_counter()
    for k in range(opts.steps):
        step(k)
    _barrier(world)
    seconds = time.perf_counter() - start
    result = {"model": opts.model, "world": world, "bucket_cap_mb": opts.bucket_cap_mb,
              "threads": os.environ.get("OMP_NUM_THREADS"),
              "batch": opts.batch, "images_per_s": opts.steps * opts.batch / seconds,
              "step_s": seconds / opts.steps, "load": load()}
    if world > 1:
        result.update(_overlap(opts, step, replica, world))
    if rank == 0:
        print("RESULT " + json.dumps(result), flush=True)
    if world > 1:
        dist.destroy_process_group()


def _barrier(world):
    if world > 1:
        from zerograd import distributed as dist
        dist.barrier()


class _NoComm:
    """Stands in for the group's communicator: DDP's reducer does all its own work (copies
    into buckets, averages back into .grad), and nothing is sent."""

    def Iallreduce(self, *args):
        from mpi4py import MPI
        return MPI.REQUEST_NULL

    def Allreduce(self, *args):
        pass


class _no_communication:
    def __enter__(self):
        from zerograd import distributed as dist
        self.group = dist.process_group._default()
        self.comm, self.group.comm = self.group.comm, _NoComm()

    def __exit__(self, *exc):
        self.group.comm = self.comm


def _overlap(opts, step, replica, world):
    """Medians of local backward, DDP backward, DDP backward with nothing sent (its own
    copies) and the buckets' all-reduce alone, interleaved step by step."""
    import numpy as np
    from mpi4py import MPI
    from zerograd import distributed as dist
    comm = dist.process_group._default().comm
    local, overlapped, copies, alone = [], [], [], []
    buffers = [np.ones_like(b.buffer) for b in replica._buckets]
    for k in range(opts.steps):
        _barrier(world)
        local.append(step(k, sync=False))
        _barrier(world)
        overlapped.append(step(k))
        _barrier(world)
        copies.append(step(k, communicate=False))
        _barrier(world)
        start = time.perf_counter()
        for buf in buffers:
            comm.Allreduce(MPI.IN_PLACE, buf, MPI.SUM)
        alone.append(time.perf_counter() - start)
    slowest = [comm.allreduce(statistics.median(t), op=MPI.MAX)
               for t in (local, overlapped, copies, alone)]
    b_local, b_ddp, b_copies, t_comm = slowest
    hidden = max(0.0, min(1.0, 1 - (b_ddp - b_local) / t_comm)) if t_comm > 0 else 1.0
    # the same, not charging DDP's own copies to communication
    hidden_comm = (max(0.0, min(1.0, 1 - (b_ddp - max(b_copies, b_local)) / t_comm))
                   if t_comm > 0 else 1.0)
    grad_bytes = sum(b.buffer.nbytes for b in replica._buckets)
    return {"backward_local_s": b_local, "backward_ddp_s": b_ddp,
            "backward_no_comm_s": b_copies, "allreduce_s": t_comm, "hidden": hidden,
            "hidden_of_comm": hidden_comm, "grad_bytes": grad_bytes, "buckets": len(buffers)}


def _fashion(n):
    from zerograd.datasets import FashionMNIST
    data = FashionMNIST(None, train=True)
    x = data.data[:n].float().reshape(n, 1, 28, 28) / 255.0
    return x, data.targets[:n]


# -- the driver --------------------------------------------------------------------------------
def run(model, nproc, threads, opts, batch):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        env.pop(name, None)
    argv = [__file__, "--worker", "--model", model, "--steps", str(opts.steps),
            "--batch", str(batch), "--bucket-cap-mb", str(opts.bucket_cap_mb)]
    if nproc == 1:
        cmd = [sys.executable, *argv]
    else:
        cmd = [sys.executable, "-m", "zerograd", "launch", "--nproc", str(nproc), *argv]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise SystemExit(f"{model} x{nproc} failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")


def ring_seconds(p, nbytes, gbit, latency):
    return 2 * (p - 1) / p * nbytes / (gbit * 1e9 / 8) + 2 * (p - 1) * latency


def cost_model(one, two):
    """Predict T_step(p) from the 1-process compute time and the ring formula; check the
    prediction against the measured 2-process step (nothing in it comes from that step)."""
    compute = one["step_s"]  # forward + backward + update of one rank's batch, alone
    nbytes, hidden = two["grad_bytes"], two["hidden"]
    # loopback's bandwidth, from the gradients' all-reduce measured alone (ring, p = 2)
    loop_gbit = 2 * (2 - 1) / 2 * nbytes / two["allreduce_s"] * 8 / 1e9
    predicted2 = compute + (1 - hidden) * two["allreduce_s"]
    print(f"\nResNet-18-small: {nbytes / 1e6:.1f} MB of gradients in {two['buckets']} "
          f"buckets; 1 process, batch {one['batch']}: {compute * 1e3:.0f} ms per step "
          f"(load {one['load']}); all-reduce alone {two['allreduce_s'] * 1e3:.1f} ms "
          f"(= {loop_gbit:.1f} Gbit/s on loopback); hidden by overlap {hidden:.0%}")
    print(f"check, 2 processes x batch {two['batch'] // 2}: predicted step "
          f"{predicted2 * 1e3:.0f} ms, measured {two['step_s'] * 1e3:.0f} ms "
          f"({(two['step_s'] / predicted2 - 1) * 100:+.0f}%; load {two['load']}); of which "
          f"backward {two['backward_local_s'] * 1e3:.0f} ms alone, "
          f"{two['backward_ddp_s'] * 1e3:.0f} ms with DDP")
    _print_copies(two)
    print(f"{'machines':>8} {'Gbit/s':>7} {'T_comm ms':>10} {'T_step ms':>10} "
          f"{'efficiency':>10} {'images/s':>10}")
    for gbit in (10, 100):
        for p in (2, 8, 64):
            t_comm = ring_seconds(p, nbytes, gbit, LATENCY[gbit])
            for h in sorted({0.0, hidden}):
                t_step = compute + (1 - h) * t_comm
                rate = p * one["batch"] / t_step
                print(f"{p:>8} {gbit:>7} {t_comm * 1e3:>10.1f} {t_step * 1e3:>10.1f} "
                      f"{compute / t_step:>10.0%} {rate:>10.0f}   (hidden {h:.0%})")


def _print_copies(two):
    print(f"  DDP with nothing sent (its copies into buckets and back): backward "
          f"{two['backward_no_comm_s'] * 1e3:.1f} ms; hidden, not charging those copies to "
          f"communication: {two['hidden_of_comm']:.0%}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--model", default="lenet")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--resnet-batch", type=int, default=8, dest="resnet_batch",
                        help="ResNet-18's per-rank batch")
    parser.add_argument("--bucket-cap-mb", type=float, default=25.0, dest="bucket_cap_mb",
                        help="DDP's bucket size (torch's default 25; the first is <= 1 MB)")
    parser.add_argument("--skip-resnet", action="store_true", dest="skip_resnet")
    opts = parser.parse_args()
    if opts.worker:
        return worker(opts)
    print(f"# load average before: {load()}")
    one = run("lenet", 1, 2, opts, opts.batch)
    two = run("lenet", 2, 1, opts, opts.batch)
    print(f"LeNet, Fashion-MNIST, batch {opts.batch}: 1 process x 2 threads "
          f"{one['images_per_s']:.0f} images/s (load {one['load']}); 2 processes x 1 thread "
          f"{two['images_per_s']:.0f} images/s (load {two['load']}); ratio "
          f"{two['images_per_s'] / one['images_per_s']:.2f}x")
    print(f"  overlap: backward {two['backward_local_s'] * 1e3:.1f} ms alone, "
          f"{two['backward_ddp_s'] * 1e3:.1f} ms with DDP; all-reduce of the "
          f"{two['grad_bytes'] / 1e3:.0f} KB of gradients ({two['buckets']} buckets) "
          f"{two['allreduce_s'] * 1e3:.2f} ms; hidden {two['hidden']:.0%}")
    _print_copies(two)
    if not opts.skip_resnet:
        steps = max(3, opts.steps // 4)
        opts.steps = steps
        r1 = run("resnet18", 1, 1, opts, opts.resnet_batch)
        r2 = run("resnet18", 2, 1, opts, 2 * opts.resnet_batch)
        cost_model(r1, r2)
    print(f"# load average after: {load()}")


if __name__ == "__main__":
    main()
