"""``zerograd launch --nproc N script.py args...``: torchrun's job, done by MPI's ``mpiexec``.

The launcher runs ``mpiexec -n N python launch.py --rank-env script.py args...``: each of
the N processes first passes through this file (run by path, so it imports nothing but the
standard library), which copies the rank MPI gave it into torchrun's variables (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR``/``MASTER_PORT``) and
then *replaces itself* (``exec``) with ``python script.py args...``. A script written for
torchrun -- reading ``LOCAL_RANK`` before ``init_process_group`` -- runs unchanged, and it
runs exactly as ``python script.py`` would (its own ``sys.path[0]``, ``__main__``).

The ``mpiexec`` command gets:

* ``--bind-to none``: Open MPI pins each rank to one core by default, which would cap a
  rank's BLAS threads at one core; the OS scheduler does better on a shared machine;
* ``--oversubscribe`` when ranks outnumber this machine's cores (and no hostfile says
  where they go), ``--allow-run-as-root`` when run as root (containers, CI);
* ``-x VAR`` for the variables remote ranks need (``PATH``, ``PYTHONPATH``, threads...),
  since Open MPI forwards only what it is told to other machines;
* ``OMP_NUM_THREADS`` = cores / ranks when the user set no thread count, so N ranks on one
  machine do not start N x cores BLAS threads (torchrun sets it to 1).

The exit status is ``mpiexec``'s: non-zero when any rank failed.
"""
import os
import shutil
import subprocess
import sys

__all__ = ["LaunchError", "find_mpiexec", "build_command", "launch", "rank_environment"]

INSTALL_HINT = "pip install 'zerograd[distributed]' (it brings mpi4py and Open MPI's mpiexec)"
# Forwarded to every rank (``-x``) when set here: what a remote python needs to start the
# same program with the same threads and options.
FORWARDED = ("PATH", "PYTHONPATH", "VIRTUAL_ENV", "LD_LIBRARY_PATH", "OMP_NUM_THREADS",
             "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "MASTER_ADDR", "MASTER_PORT",
             "ZEROGRAD_DEBUG", "ZEROGRAD_DATA")
_RANK_FLAG = "--rank-env"


class LaunchError(ValueError):
    """A launch that cannot start: bad ``--nproc``, no script, no ``mpiexec``."""


def find_mpiexec():
    """The ``mpiexec`` of this Python's environment (a venv's bin/), else the one on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.path.isfile(here) and os.access(here, os.X_OK):
        return here
    found = shutil.which("mpiexec")
    if found is None:
        raise LaunchError(f"mpiexec not found (looked next to {sys.executable} and on PATH); "
                          f"install MPI with: {INSTALL_HINT}")
    return found


def _check(nproc, target, module, hostfile):
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise LaunchError(f"--nproc must be a whole number of processes, at least 1, "
                          f"got {nproc}")
    if not target:
        raise LaunchError("give the script to run: zerograd launch --nproc N script.py [args]")
    if not module and not os.path.isfile(target):
        raise LaunchError(f"script not found: {target}")
    if hostfile is not None and not os.path.isfile(hostfile):
        raise LaunchError(f"hostfile not found: {hostfile} (one line per machine, e.g. "
                          "'node1 slots=4')")


def build_command(nproc, target, args=(), module=False, hostfile=None, mpiexec=None,
                  mpi_args=(), env=None):
    """The ``mpiexec`` command line that starts ``nproc`` ranks of ``target`` (a script
    path, or a module name with ``module=True``); ``env`` is the launch's environment."""
    _check(nproc, target, module, hostfile)
    env = os.environ if env is None else env
    cmd = [mpiexec or find_mpiexec(), "-n", str(nproc), "--bind-to", "none"]
    if hostfile is not None:
        cmd += ["--hostfile", hostfile]
    elif nproc > (os.cpu_count() or 1):
        cmd.append("--oversubscribe")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    for name in FORWARDED:
        if name in env:
            cmd += ["-x", name]
    cmd += list(mpi_args)
    program = ["-m", target] if module else [target]
    return cmd + [sys.executable, os.path.abspath(__file__), _RANK_FLAG, *program, *args]


def _launch_environment(nproc, hostfile):
    env = dict(os.environ)
    if not any(v in env for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")):
        per_rank = 1 if hostfile else max(1, (os.cpu_count() or 1) // nproc)
        env["OMP_NUM_THREADS"] = str(per_rank)
    for stale in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        env.pop(stale, None)  # each rank gets its own from MPI
    return env


def launch(nproc, target, args=(), module=False, hostfile=None, mpi_args=()):
    """Run ``target`` on ``nproc`` ranks and return the job's exit status."""
    _check(nproc, target, module, hostfile)
    env = _launch_environment(nproc, hostfile)
    cmd = build_command(nproc, target, args, module, hostfile, mpi_args=mpi_args, env=env)
    try:
        completed = subprocess.run(cmd, env=env)
    except KeyboardInterrupt:  # mpiexec got the Ctrl-C too and stops the ranks
        return 130
    code = completed.returncode
    return 128 - code if code < 0 else code  # killed by a signal: the shell's convention


# -- inside each rank, before the user's program -----------------------------------------------
def _first(env, names):
    for name in names:
        if env.get(name) not in (None, ""):
            return env[name]
    return None


def rank_environment(env):
    """torchrun's variables derived from the MPI launcher's (Open MPI, or MPICH's PMI)."""
    rank = _first(env, ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"))
    size = _first(env, ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE"))
    if rank is None or size is None:
        return {}
    local = _first(env, ("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID")) or "0"
    local_size = _first(env, ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS")) or size
    return {"RANK": rank, "WORLD_SIZE": size, "LOCAL_RANK": local,
            "LOCAL_WORLD_SIZE": local_size, "GROUP_RANK": "0",
            "MASTER_ADDR": env.get("MASTER_ADDR", "127.0.0.1"),
            "MASTER_PORT": env.get("MASTER_PORT", "29500")}


def _become_rank(argv):
    """Set torchrun's variables, then become ``python argv...`` (same process, same pid)."""
    os.environ.update(rank_environment(os.environ))
    os.execv(sys.executable, [sys.executable, *argv])


if __name__ == "__main__" and sys.argv[1:2] == [_RANK_FLAG]:
    _become_rank(sys.argv[2:])
