"""zerograd.multiprocessing.spawn as torch.multiprocessing has it (fn(i, *args), failures
raised in the parent with the child's traceback), and init_process_group's rendezvous for
processes not started by mpiexec: the port-name exchange over a file and over TCP, and
the one-line error naming `zerograd launch` where Open MPI cannot join such processes."""
import time

import pytest

import zerograd.multiprocessing as mp
from zerograd.distributed import rendezvous
from tests.distributed import spawn_targets as targets

pytestmark = pytest.mark.slow


def test_spawn_runs_fn_with_its_index_and_args(tmp_path):
    assert mp.spawn(targets.write_rank, args=(str(tmp_path), "hello"), nprocs=2) is None
    assert sorted(p.read_text() for p in tmp_path.iterdir()) == ["hello 0", "hello 1"]
    assert callable(mp.get_context) and mp.get_context("spawn").Process is not None


def test_an_exception_in_a_child_is_raised_in_the_parent_with_its_message():
    start = time.monotonic()
    with pytest.raises(mp.ProcessRaisedException,
                       match="Process 1 terminated with the following error") as info:
        mp.spawn(targets.raise_on_one, args=("child 1 failed on purpose",), nprocs=2)
    assert "ValueError: child 1 failed on purpose" in str(info.value)
    assert info.value.error_index == 1 and info.value.pid > 0
    assert time.monotonic() - start < 30


def test_a_child_exit_code_and_join_false():
    context = mp.start_processes(targets.exit_with_three, nprocs=2, join=False)
    assert isinstance(context, mp.ProcessContext) and len(context.pids()) == 2
    with pytest.raises(mp.ProcessExitedException,
                       match="process 0 terminated with exit code 3") as info:
        while not context.join(timeout=30):
            pass
    assert info.value.exit_code == 3
    with pytest.raises(ValueError, match="nprocs must be at least 1"):
        mp.spawn(targets.write_rank, nprocs=0)


def test_inside_an_mpi_job_of_nprocs_ranks_spawn_runs_fn_for_this_rank(tmp_path, monkeypatch):
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "1")
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    assert mp.spawn(targets.write_rank, args=(str(tmp_path), "launched"), nprocs=2) is None
    assert [p.name for p in tmp_path.iterdir()] == ["1.txt"]
    context = mp.start_processes(targets.write_rank, (str(tmp_path), "again"), 2, join=False)
    assert context.join() is True and (tmp_path / "1.txt").read_text() == "again 1"


def test_spawned_processes_get_a_one_line_error_naming_zerograd_launch(tmp_path):
    pytest.importorskip("mpi4py")
    for method in ("tcp://127.0.0.1:29517", f"file://{tmp_path}/rendezvous"):
        start = time.monotonic()
        with pytest.raises(mp.ProcessRaisedException) as info:
            mp.spawn(targets.join_the_group, args=(2, method, str(tmp_path)), nprocs=2)
        last = str(info.value).strip().splitlines()[-1]
        assert last.startswith("RuntimeError: init_process_group: init_method=")
        assert "`zerograd launch --nproc 2 script.py`" in last and method in last
        assert time.monotonic() - start < 30  # at once, not after a rendezvous timeout


def test_a_spawned_world_of_one_process_initialises(tmp_path):
    pytest.importorskip("mpi4py")
    mp.spawn(targets.join_the_group, args=(1, f"file://{tmp_path}/rdv", str(tmp_path)),
             nprocs=1)
    assert (tmp_path / "0.txt").read_text() == "1.0 1.0 1.0"


def test_init_methods_are_parsed_like_torchs(monkeypatch):
    assert rendezvous.parse_init_method("tcp://10.0.0.1:23456") == ("tcp", ("10.0.0.1", 23456))
    assert rendezvous.parse_init_method("file:///tmp/x") == ("file", "/tmp/x")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    assert rendezvous.parse_init_method("env://") == ("env", None)
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29500")
    assert rendezvous.parse_init_method(None) == ("tcp", ("127.0.0.1", 29500))
    for bad in ("tcp://nohost", "http://x:1", "file://"):
        with pytest.raises(ValueError, match="is not understood: use 'env://'"):
            rendezvous.parse_init_method(bad)


@pytest.mark.parametrize("kind", ["file", "tcp"])
def test_the_rendezvous_carries_the_port_name_to_one_rank_at_a_time(kind, tmp_path):
    where = str(tmp_path / "port") if kind == "file" else ("127.0.0.1", 29518)
    name = "3271950336.0:1775985200"
    board = rendezvous.publish_port(kind, where, name)
    try:
        board.set_turn(1)
        assert rendezvous.lookup_port(kind, where, 1, 5) == name
        with pytest.raises(TimeoutError, match="did not publish its MPI port for rank 2"):
            rendezvous.lookup_port(kind, where, 2, 0.2)
        board.set_turn(2)
        assert rendezvous.lookup_port(kind, where, 2, 5) == name
    finally:
        board.close()
    if kind == "file":
        assert not (tmp_path / "port").exists()
    with pytest.raises(TimeoutError):
        rendezvous.lookup_port(kind, where, 2, 0.2)


def test_open_mpi_refuses_the_dynamic_join_naming_the_launcher(monkeypatch):
    class OpenMPI:
        @staticmethod
        def Get_library_version():
            return "Open MPI v5.0.11, package: Open MPI"

    monkeypatch.delenv("ZEROGRAD_MPI_DYNAMIC", raising=False)
    msg = rendezvous.dynamic_join_error(OpenMPI, 1, 4, "tcp://h:1")
    assert "\n" not in msg and "`zerograd launch --nproc 4 script.py`" in msg
    monkeypatch.setenv("ZEROGRAD_MPI_DYNAMIC", "1")
    assert rendezvous.dynamic_join_error(OpenMPI, 1, 4, "tcp://h:1") is None
