"""``spawn`` / ``start_processes``: run ``fn(i, *args)`` in ``nprocs`` new processes.

torch.multiprocessing's behaviour: the parent waits for all of them; when one raises, its
traceback is written to an error file, the others are terminated and the parent raises
``ProcessRaisedException`` carrying that traceback (``ProcessExitedException`` when a child
died of a signal or exit code without a Python exception). The traceback travels as plain
UTF-8 text, not a pickle.

For ``zerograd.distributed``, each child calls ``init_process_group(init_method=...,
rank=i, world_size=n)``. Joining separately started processes needs MPI's dynamic
processes; Open MPI cannot do it for such (singleton) processes, so there the children fail
at once with a message naming ``zerograd launch``. Under ``zerograd launch --nproc n`` (or
``mpiexec -n n``) the processes already exist: ``spawn(fn, nprocs=n)`` then runs
``fn(rank, *args)`` in each MPI rank instead of starting children, so a PyTorch DDP
tutorial script runs unchanged (an exception there is an ordinary one, which
``zerograd.distributed``'s except hook turns into an abort of the whole job).
"""
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import tempfile
import traceback
import warnings

__all__ = ["spawn", "start_processes", "ProcessContext", "ProcessException",
           "ProcessRaisedException", "ProcessExitedException"]


class ProcessException(Exception):
    """A spawned process failed; ``error_index`` is its ``i``, ``pid`` its process id."""

    def __init__(self, msg, error_index, pid):
        super().__init__(msg)
        self.msg = msg
        self.error_index = error_index
        self.pid = pid

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.pid)


class ProcessRaisedException(ProcessException):
    """A spawned process raised an exception; the message holds its traceback."""

    def __init__(self, msg, error_index, error_pid):
        super().__init__(msg, error_index, error_pid)


class ProcessExitedException(ProcessException):
    """A spawned process exited with a non-zero code or a signal, without an exception."""

    def __init__(self, msg, error_index, error_pid, exit_code, signal_name=None):
        super().__init__(msg, error_index, error_pid)
        self.exit_code = exit_code
        self.signal_name = signal_name

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.pid, self.exit_code,
                            self.signal_name)


def _wrap(fn, i, args, error_file):
    """The child's entry point: run ``fn``; on an exception leave its traceback for the
    parent and exit 1."""
    try:
        fn(i, *args)
    except KeyboardInterrupt:
        pass  # the parent is shutting everyone down
    except Exception:
        with open(error_file, "w", encoding="utf-8") as f:
            f.write(traceback.format_exc())
        sys.exit(1)


class ProcessContext:
    """The processes of one ``start_processes`` call; ``join`` waits and reports failures."""

    def __init__(self, processes, error_files):
        self.processes = processes
        self.error_files = error_files
        self.sentinels = {p.sentinel: i for i, p in enumerate(processes)}

    def pids(self):
        return [int(p.pid) for p in self.processes]

    def join(self, timeout=None, grace_period=None):
        """Wait up to ``timeout`` seconds for a process to finish. True when all have
        finished successfully, False while some still run; raises when one failed (after
        terminating the others)."""
        if not self.sentinels:
            return True
        ready = multiprocessing.connection.wait(list(self.sentinels), timeout=timeout)
        failed = None
        for sentinel in ready:
            index = self.sentinels.pop(sentinel)
            self.processes[index].join()
            if self.processes[index].exitcode != 0:
                failed = index
                break
        if failed is None:
            return not self.sentinels
        self._terminate_all(grace_period)
        self._raise_for(failed)

    def _terminate_all(self, grace_period):
        for p in self.processes:
            if p.is_alive():
                p.terminate()
        for p in self.processes:
            p.join(grace_period)
            if p.is_alive():
                p.kill()
                p.join()

    def _raise_for(self, index):
        process = self.processes[index]
        try:
            with open(self.error_files[index], encoding="utf-8") as f:
                original = f.read()
        except FileNotFoundError:
            code = process.exitcode
            if code < 0:
                name = signal.Signals(-code).name
                raise ProcessExitedException(f"process {index} terminated with signal {name}",
                                             index, process.pid, code, name) from None
            raise ProcessExitedException(f"process {index} terminated with exit code {code}",
                                         index, process.pid, code) from None
        msg = f"\n\n-- Process {index} terminated with the following error:\n{original}"
        raise ProcessRaisedException(msg, index, process.pid)

    def __del__(self):
        for path in getattr(self, "error_files", ()):
            try:
                os.remove(path)
            except OSError:
                pass


def _mpi_launch():
    """(rank, size) when mpiexec started this process (Open MPI's or MPICH's), else None."""
    for rank_var, size_var in (("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
                               ("PMI_RANK", "PMI_SIZE")):
        if rank_var in os.environ and size_var in os.environ:
            return int(os.environ[rank_var]), int(os.environ[size_var])
    return None


def start_processes(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """Start ``nprocs`` processes running ``fn(i, *args)`` with ``start_method``; wait for
    them (``join=True``) or return their ``ProcessContext``. Inside an MPI job of exactly
    ``nprocs`` ranks, run ``fn(rank, *args)`` here instead (see the module docstring)."""
    if int(nprocs) < 1:
        raise ValueError(f"nprocs must be at least 1, got {nprocs}")
    launched = _mpi_launch()
    if launched is not None and launched[1] == nprocs:
        fn(launched[0], *args)
        return None if join else ProcessContext([], [])
    ctx = multiprocessing.get_context(start_method)
    error_files, processes = [], []
    for i in range(nprocs):
        fd, path = tempfile.mkstemp(prefix="zerograd-errorfile-", suffix=".txt")
        os.close(fd)
        os.remove(path)  # the child creates it only when it fails
        process = ctx.Process(target=_wrap, args=(fn, i, args, path), daemon=daemon)
        process.start()
        error_files.append(path)
        processes.append(process)
    context = ProcessContext(processes, error_files)
    if not join:
        return context
    while not context.join():
        pass
    return None


def spawn(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """``start_processes`` with the "spawn" start method (torch.multiprocessing.spawn)."""
    if start_method != "spawn":
        warnings.warn(f"This method only supports start_method=spawn (got: {start_method}).\n"
                      "To use a different start_method use:\n\t\t"
                      " torch.multiprocessing.start_processes(...)", FutureWarning,
                      stacklevel=2)
    return start_processes(fn, args, nprocs, join, daemon, start_method="spawn")
