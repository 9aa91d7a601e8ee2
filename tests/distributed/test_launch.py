"""`zerograd launch`: the mpiexec command it builds, torchrun's variables in each rank, exit
codes forwarded, and one-line errors for what cannot start."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zerograd.cli import main
from zerograd.distributed import launch as L

ROOT = Path(__file__).parents[2]
MPIEXEC = Path(sys.executable).parent / "mpiexec"


def _env():
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_btl_tcp_if_include="lo", OMPI_MCA_oob_tcp_if_include="lo")
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "OMP_NUM_THREADS"):
        env.pop(name, None)
    return env


def _script(tmp_path):
    script = tmp_path / "show.py"
    script.write_text(
        "import os, sys\n"
        "print('rank', os.environ['RANK'], 'of', os.environ['WORLD_SIZE'], 'local',\n"
        "      os.environ['LOCAL_RANK'], 'threads', os.environ['OMP_NUM_THREADS'],\n"
        "      'args', sys.argv[1:], flush=True)\n"
        "if '--fail' in sys.argv and os.environ['RANK'] == '1':\n"
        "    sys.exit(7)\n")
    return script


# -- the command -------------------------------------------------------------------------------
def test_command_has_ranks_no_binding_and_the_rank_shim(tmp_path, monkeypatch):
    script = _script(tmp_path)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    cmd = L.build_command(2, str(script), ["--lr", "1"], mpiexec="mpiexec", env={})
    assert cmd[:5] == ["mpiexec", "-n", "2", "--bind-to", "none"]
    assert "--oversubscribe" not in cmd
    assert cmd[-4:] == ["--rank-env", str(script), "--lr", "1"]
    assert cmd[cmd.index("--rank-env") - 2] == sys.executable


def test_oversubscribe_root_hostfile_and_forwarded_variables(tmp_path, monkeypatch):
    script, hosts = _script(tmp_path), tmp_path / "hosts"
    hosts.write_text("node1 slots=2\nnode2 slots=2\n")
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "geteuid", lambda: 0, raising=False)
    cmd = L.build_command(3, str(script), mpiexec="mpiexec", env={})
    assert "--oversubscribe" in cmd and "--allow-run-as-root" in cmd
    cmd = L.build_command(4, str(script), hostfile=str(hosts), mpiexec="mpiexec",
                          env={"PATH": "/bin", "OMP_NUM_THREADS": "1", "UNRELATED": "x"})
    assert cmd[cmd.index("--hostfile") + 1] == str(hosts)
    assert "--oversubscribe" not in cmd  # the hostfile says where ranks go
    pairs = {cmd[i + 1] for i, part in enumerate(cmd) if part == "-x"}
    assert pairs == {"PATH", "OMP_NUM_THREADS"}
    monkeypatch.setattr(os, "geteuid", lambda: 1000, raising=False)
    assert "--allow-run-as-root" not in L.build_command(1, str(script), mpiexec="mpiexec")


def test_module_mode_and_threads_per_rank(monkeypatch):
    cmd = L.build_command(2, "zerograd", ["train"], module=True, mpiexec="mpiexec", env={})
    assert cmd[-4:] == ["--rank-env", "-m", "zerograd", "train"]
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    monkeypatch.setenv("RANK", "5")
    env = L._launch_environment(2, None)
    assert env["OMP_NUM_THREADS"] == "4" and "RANK" not in env
    assert L._launch_environment(2, "hosts")["OMP_NUM_THREADS"] == "1"


def test_rank_environment_from_open_mpi_and_pmi():
    ompi = {"OMPI_COMM_WORLD_RANK": "3", "OMPI_COMM_WORLD_SIZE": "4",
            "OMPI_COMM_WORLD_LOCAL_RANK": "1", "OMPI_COMM_WORLD_LOCAL_SIZE": "2"}
    env = L.rank_environment(ompi)
    assert (env["RANK"], env["WORLD_SIZE"], env["LOCAL_RANK"], env["LOCAL_WORLD_SIZE"]) == \
        ("3", "4", "1", "2")
    assert env["MASTER_ADDR"] == "127.0.0.1"
    assert L.rank_environment({"PMI_RANK": "0", "PMI_SIZE": "2"})["WORLD_SIZE"] == "2"
    assert L.rank_environment({}) == {}


# -- bad input: one line, exit 2 ---------------------------------------------------------------
@pytest.mark.parametrize("nproc", ["0", "-2"])
def test_nproc_below_one(tmp_path, capsys, nproc):
    assert main(["launch", "--nproc", nproc, str(_script(tmp_path))]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"zerograd: error: --nproc must be a whole number of processes, at least 1, " \
                  f"got {nproc}"


def test_script_missing(tmp_path, capsys):
    assert main(["launch", "--nproc", "2", str(tmp_path / "nope.py")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("zerograd: error: script not found:") and "\n" not in err


def test_mpiexec_missing_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["launch", "--nproc", "2", str(_script(tmp_path))]) == 2
    err = capsys.readouterr().err.strip()
    assert "mpiexec not found" in err and "pip install 'zerograd[distributed]'" in err
    assert "\n" not in err


def test_hostfile_missing(tmp_path, capsys):
    code = main(["launch", "--nproc", "2", "--hostfile", str(tmp_path / "h"),
                 str(_script(tmp_path))])
    assert code == 2 and "hostfile not found" in capsys.readouterr().err


# -- real launches -----------------------------------------------------------------------------
needs_mpi = pytest.mark.skipif(not MPIEXEC.exists(), reason="no mpiexec in the venv")


def _launch(tmp_path, *args, timeout=60):
    cmd = [sys.executable, "-m", "zerograd", "launch", "--nproc", "2",
           str(_script(tmp_path)), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env(),
                          cwd=tmp_path)


@pytest.mark.slow
@needs_mpi
def test_two_ranks_get_torchrun_variables_and_the_script_arguments(tmp_path):
    result = _launch(tmp_path, "--lr", "0.1", "data")
    assert result.returncode == 0, result.stderr[-2000:]
    for r in range(2):
        assert (f"rank {r} of 2 local {r} threads 1 args ['--lr', '0.1', 'data']"
                in result.stdout), result.stdout


@pytest.mark.slow
@needs_mpi
def test_a_failing_rank_exit_code_is_forwarded(tmp_path):
    result = _launch(tmp_path, "--fail")
    assert result.returncode == 7, result.stdout + result.stderr[-2000:]
