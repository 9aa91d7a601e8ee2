"""zerograd.distributed under `mpiexec -n 2` on loopback: each test launches one worker
script (in workers/) that checks many things and prints `ALL OK` per rank; a failed
assertion on any rank aborts the job with a non-zero exit."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

WORKERS = Path(__file__).parent / "workers"
MPIEXEC = Path(sys.executable).parent / "mpiexec"
if os.environ.get("CI"):
    # CI installs the dev extra, which brings mpi4py and Open MPI's mpiexec: a missing one
    # is a broken install step, not a reason to skip
    import mpi4py  # noqa: F401
    assert MPIEXEC.exists(), f"{MPIEXEC} is missing: the 'distributed' extra did not install"
else:
    pytest.importorskip("mpi4py")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not MPIEXEC.exists(), reason="no mpiexec in the venv")]


def mpiexec(script, n=2, timeout=60, **extra_env):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_btl_tcp_if_include="lo", OMPI_MCA_oob_tcp_if_include="lo",
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", **extra_env)
    env.pop("RANK", None)
    env.pop("WORLD_SIZE", None)
    cmd = [str(MPIEXEC), "-n", str(n), "--oversubscribe", sys.executable, str(WORKERS / script)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=Path(__file__).parents[2])


def _assert_all_ok(result, n=2):
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    for r in range(n):
        assert f"rank {r}: ALL OK" in out, out[-4000:]


def test_every_collective_and_reduce_op_against_numpy_and_the_errors():
    _assert_all_ok(mpiexec("collectives.py"))


def test_ddp_matches_one_process_for_mlp_and_sync_batchnorm_lenet_no_sync_and_sampler():
    _assert_all_ok(mpiexec("ddp.py", timeout=180))


def test_a_rank_that_raises_aborts_the_job_quickly():
    start = time.monotonic()
    result = mpiexec("abort.py", timeout=30)
    assert time.monotonic() - start < 30
    assert result.returncode != 0
    assert "rank 1 failed on purpose" in result.stderr
    assert "should not get here" not in result.stdout


def test_separately_started_processes_join_through_an_mpi_port(tmp_path):
    result = mpiexec("rendezvous.py", n=3, timeout=60, ZG_RENDEZVOUS_DIR=str(tmp_path),
                     ZG_RENDEZVOUS_PORT="29519")
    _assert_all_ok(result, n=3)


def test_a_pytorch_ddp_tutorial_script_with_spawn_runs_under_the_launcher():
    _assert_all_ok(mpiexec("spawn_tutorial.py"))
