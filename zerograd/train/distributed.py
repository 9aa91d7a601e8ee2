"""``zerograd train --nproc N``: the CLI's own job on N processes (data parallel, on MPI).

The command relaunches itself with ``zerograd launch`` (``mpiexec``): every rank runs the
same ``zerograd train ...`` and builds the same session; ``DistributedSession`` gives each
rank its ``DistributedSampler`` shard of the training set, ``batch_size / N`` samples per
step (so the job's batch is the one asked for), and trains a ``DistributedDataParallel``
replica. Per-step loss and accuracy are summed over the ranks, so the progress bar, the
divergence guard and metrics.csv see the job's numbers -- the same on every rank, which
also makes every rank stop (or go on) together. The test set is split in contiguous
blocks; the ranks' outputs are gathered, and the metrics are computed from all of them,
exactly as one process would.

Rank 0 alone writes: the run folder, the progress bar, the plots, metrics.csv and the
checkpoints (each after a barrier, atomically). The checkpoint holds the bare model's
state (no ``module.`` prefix), so ``eval``/``predict``/``resume`` read it like any other;
config.json records ``nproc``, and ``zerograd resume`` relaunches that many ranks, each
loading the checkpoint. Shuffling depends only on (seed, epoch), so a resumed run sees the
batches an uninterrupted one would have.
"""
import contextlib
import json
import os
import sys
import time

import numpy as np

from zerograd import distributed as dist
from zerograd.autograd.grad_mode import no_grad
from zerograd.nn.parallel import DistributedDataParallel
from zerograd.tensor import Tensor
from zerograd.train.config import TEXT_MODELS, UsageError
from zerograd.train.loop import evaluate, train_epoch
from zerograd.train.metrics import predicted_classes
from zerograd.train.trainer import _LOADER_SEED_OFFSET, Session
from zerograd.utils.data import DataLoader, Subset
from zerograd.utils.data.distributed import DistributedSampler

__all__ = ["launched_world_size", "is_writer", "check_nproc", "needs_launch", "relaunch",
           "run_nproc", "job", "checked_on_rank_zero", "shared_folder", "DistributedSession"]

# A failed rank waits this long for the others to reach the end before stopping the job
# (they may be blocked in a collective that the failed rank will never join).
AGREE_SECONDS = 10.0
# The CLI's exit codes (zerograd.cli), so every rank of a failed job exits as rank 0 does.
_EXIT_ERROR, _EXIT_USAGE, _EXIT_INTERRUPTED = 1, 2, 130


# -- where this process stands ----------------------------------------------------------------
def launched_world_size():
    """The job's size when this process is a rank started by mpiexec, else None."""
    for name in ("WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE"):
        if os.environ.get(name):
            return int(os.environ[name])
    return None


def _launched_rank():
    for name in ("RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK"):
        if os.environ.get(name):
            return int(os.environ[name])
    return 0


def is_writer():
    """True in a single process and on rank 0: the one that writes files and prints."""
    return _launched_rank() == 0


def _in_job():
    return dist.is_initialized() and dist.get_world_size() > 1


def check_nproc(cfg):
    """Refuse what multi-process training cannot do (before anything is launched)."""
    if cfg.nproc == 1:
        return
    if cfg.model in TEXT_MODELS or cfg.data.startswith(("text:", "seq2seq:")):
        raise UsageError(f"--nproc {cfg.nproc}: multi-process training is not supported yet "
                         f"for sequence models ({cfg.model} on {cfg.data}); drop --nproc")
    if cfg.batch_size % cfg.nproc:
        raise UsageError(f"--batch-size {cfg.batch_size} is the job's batch, split evenly over "
                         f"--nproc {cfg.nproc} processes: choose a multiple of {cfg.nproc}")


def needs_launch(nproc):
    """True when ``nproc`` ranks are asked for and this process is not one of them yet."""
    world = launched_world_size()
    if world is None:
        return nproc > 1
    if world != nproc:
        raise UsageError(f"--nproc {nproc}, but this job was started with {world} processes; "
                         f"pass --nproc {world} (or start it with `zerograd train --nproc "
                         f"{nproc}`)")
    return False


def relaunch(nproc, argv):
    """Run ``zerograd ARGV`` on ``nproc`` ranks; the job's exit status."""
    from zerograd.distributed.launch import LaunchError, launch
    try:
        return launch(nproc, "zerograd", list(argv), module=True)
    except LaunchError as err:
        raise UsageError(str(err)) from None


def run_nproc(run_dir):
    """How many processes the run in ``run_dir`` trained with (1 if it does not say)."""
    try:
        with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as handle:
            nproc = json.load(handle).get("nproc")
    except (OSError, ValueError, AttributeError):
        return 1  # resume itself reports a missing or broken run folder
    return nproc if isinstance(nproc, int) and nproc >= 1 else 1


# -- the job -----------------------------------------------------------------------------------
class RankZeroFailed(UsageError):
    """Rank 0 refused (its message is the job's); the other ranks stop quietly."""


def _exit_code(err):
    if isinstance(err, SystemExit):
        return err.code if isinstance(err.code, int) else _EXIT_ERROR
    if isinstance(err, KeyboardInterrupt):
        return _EXIT_INTERRUPTED
    return _EXIT_USAGE if isinstance(err, UsageError) else _EXIT_ERROR


@contextlib.contextmanager
def job(nproc):
    """Inside a launched rank: the default process group, and an end all ranks agree on.

    When a rank fails, the ranks meet once more: if they all get there (they all failed the
    same way, or the others finished), rank 0 reports and the others exit with its code;
    if the others do not come within ``AGREE_SECONDS`` (blocked in a collective the failed
    rank will never join), the failed rank prints its error and aborts the job.
    """
    if nproc == 1 or launched_world_size() in (None, 1):
        yield
        return
    if not dist.is_initialized():
        dist.init_process_group("mpi")
    # the meeting has its own communicator: on the training one, a failed rank's barrier
    # could be matched with a collective the others are still blocked in
    comm = dist.process_group._default().comm.Dup()
    try:
        yield
    except BaseException as err:
        rank0_code = _agree(comm, _exit_code(err), err)
        comm.Free()
        dist.destroy_process_group()
        if _launched_rank() != 0 and rank0_code:
            raise SystemExit(rank0_code) from None  # rank 0 says what went wrong
        raise
    _agree(comm, 0, None)
    comm.Free()
    dist.destroy_process_group()


def _agree(comm, code, err):
    """Meet the other ranks; returns rank 0's exit code (see ``job``)."""
    request = comm.Ibarrier()
    deadline = time.monotonic() + AGREE_SECONDS
    while not request.Test():
        if err is not None and time.monotonic() > deadline:
            first = (str(err).splitlines() or [type(err).__name__])[0]
            sys.stderr.write(f"zerograd: error: rank {comm.Get_rank()}: {first}; the other "
                             "ranks are not responding, stopping the job\n")
            sys.stderr.flush()
            comm.Abort(code or _EXIT_ERROR)
        time.sleep(0.005)
    codes = np.zeros(comm.Get_size(), dtype=np.int64)
    codes[comm.Get_rank()] = code
    from mpi4py import MPI
    comm.Allreduce(MPI.IN_PLACE, codes)
    return int(codes[0])


def checked_on_rank_zero(check):
    """Run ``check`` (folder checks, recovery) on rank 0 only; the others wait for its
    verdict and fail with it, instead of starting collectives rank 0 will never join."""
    if not _in_job():
        return check()
    verdict = [None]
    if dist.get_rank() == 0:
        try:
            check()
        except Exception as err:
            verdict = [str(err) or type(err).__name__]
            dist.broadcast_object_list(verdict, src=0)
            raise
    dist.broadcast_object_list(verdict, src=0)
    if verdict[0] is not None:
        raise RankZeroFailed(verdict[0])


class _SharedFolder:
    """A run folder as all ranks see it: rank 0 writes, the others only keep step; every
    checkpoint waits for all ranks to finish the epoch (a barrier) before it is written."""

    def __init__(self, run, writes):
        self.run, self.writes = run, writes
        self.path, self.checkpoints = run.path, run.checkpoints

    def file(self, name):
        return self.run.file(name)

    def save_checkpoint(self, state, epoch, best=False, keep=2):
        dist.barrier()
        if self.writes:
            return self.run.save_checkpoint(state, epoch, best, keep)
        return None

    def write_metrics(self, *args, **kwargs):
        if self.writes:
            self.run.write_metrics(*args, **kwargs)

    def write_json(self, name, data):
        if self.writes:
            self.run.write_json(name, data)

    def write_figure(self, name, figure):
        if self.writes:
            self.run.write_figure(name, figure)


def shared_folder(run):
    """``run`` itself in one process; in a job, the view above."""
    return _SharedFolder(run, is_writer()) if _in_job() else run


# -- the session -------------------------------------------------------------------------------
def _sum_over_ranks(values):
    totals = Tensor._make(np.asarray(values, dtype=np.float64))
    dist.all_reduce(totals)
    return totals._data.tolist()


class DistributedSession(Session):
    """A ``Session`` whose epoch is shared by the ranks of the job (see the module doc)."""

    def __init__(self, cfg, data_info=None):
        self.world, self.rank = dist.get_world_size(), dist.get_rank()
        super().__init__(cfg, data_info)
        self.replica = DistributedDataParallel(self.model)

    def make_loaders(self):
        self.sampler = DistributedSampler(self.data.train, self.world, self.rank, shuffle=True,
                                          seed=self.cfg.seed + _LOADER_SEED_OFFSET)
        train = DataLoader(self.data.train, batch_size=self.cfg.batch_size // self.world,
                           sampler=self.sampler, generator=self.loader_generator)
        n = len(self.data.test)
        self.block = -(-n // self.world)  # ceil: rows per rank's block of the test set
        start = min(self.rank * self.block, n)
        self.test_counts = [min(n, (r + 1) * self.block) - min(n, r * self.block)
                            for r in range(self.world)]
        rows = range(start, start + self.test_counts[self.rank]) or range(0, 1)
        test = DataLoader(Subset(self.data.test, rows),
                          batch_size=max(self.cfg.batch_size, 256))
        return train, test

    def train_pass(self, progress=None):
        self.sampler.set_epoch(self.epoch)
        return train_epoch(self.replica, self.train_loader, self.loss_fn, self.optimizer,
                           self.classify, self.scheduler if self.schedule_on == "batch" else None,
                           self.epoch, progress, self.guard, combine=_sum_over_ranks)

    def test_pass(self):
        """Each rank scores its block; the gathered outputs are scored as one process would."""
        for buffer in self.model.buffers():  # rank 0's BatchNorm statistics, as it saves them
            dist.broadcast(buffer.detach(), src=0)
        mine = evaluate(self.model, self.test_loader, self.loss_fn, self.classify,
                        keep_outputs=True)
        start = time.perf_counter()
        outputs = self._gather(mine["outputs"]._data)
        targets = self._gather(mine["targets"]._data)
        out_t, tgt_t = Tensor._make(outputs), Tensor._make(targets)
        with no_grad():
            loss = float(self.loss_fn(out_t, tgt_t).item()) if len(targets) else float("nan")
        acc = None
        if self.classify:
            acc = float((predicted_classes(out_t) == targets.reshape(-1)).mean())
        return {"loss": loss, "acc": acc, "samples": len(targets),
                "seconds": mine["seconds"] + time.perf_counter() - start,
                "outputs": out_t, "targets": tgt_t}

    def _gather(self, rows):
        """Every rank's block of ``rows`` (padded to equal size for MPI), in rank order."""
        padded = np.zeros((self.block,) + rows.shape[1:], dtype=rows.dtype)
        mine = self.test_counts[self.rank]
        padded[:mine] = rows[:mine]
        everyone = Tensor._make(np.zeros((self.world * self.block,) + rows.shape[1:],
                                         dtype=rows.dtype))
        dist.all_gather_into_tensor(everyone, Tensor._make(padded))
        blocks = everyone._data.reshape((self.world, self.block) + rows.shape[1:])
        return np.concatenate([blocks[r, :c] for r, c in enumerate(self.test_counts)])

    def describe_data(self):
        return (super().describe_data() + f", {self.world} processes x "
                f"{self.cfg.batch_size // self.world} samples per step")
