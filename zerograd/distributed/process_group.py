"""Process groups on MPI: ``init_process_group``, ranks, groups, ``ReduceOp`` and work handles.

Every backend name torch knows ("mpi", "gloo", "nccl") is served by MPI through ``mpi4py``:
on the CPU they behave the same, and a script written for torch runs unchanged. The
processes are started by MPI's launcher (``mpiexec -n N python script.py`` or ``zerograd
launch``); MPI tells each one its rank. torchrun's variables (``RANK``, ``WORLD_SIZE``) are
checked against MPI's answer. Processes started some other way (``multiprocessing.spawn``)
join through MPI's dynamic processes, rank 0's port name travelling by ``init_method``
(``rendezvous.py``); where the MPI library cannot do that (Open MPI 5 singletons),
``init_process_group`` says so at once, naming ``zerograd launch``, instead of hanging.

``mpi4py`` is imported (which initialises MPI) only by ``init_process_group``, so importing
``zerograd.distributed`` costs nothing in a single-process program.
"""
import enum
import importlib.util
import os
import sys
import traceback
from datetime import timedelta

__all__ = ["Backend", "ReduceOp", "Work", "ProcessGroup", "GroupMember", "group",
           "is_available", "is_mpi_available", "is_gloo_available", "is_nccl_available",
           "is_torchelastic_launched", "init_process_group", "is_initialized",
           "destroy_process_group", "new_group", "get_rank", "get_world_size", "get_backend",
           "get_process_group_ranks", "get_global_rank", "get_group_rank"]

default_pg_timeout = timedelta(minutes=30)
_NOT_INITIALIZED = ("Default process group has not been initialized, please make sure to call "
                    "init_process_group.")


class Backend(str):
    """Backend names (``Backend.MPI == "mpi"``); all are served by MPI on the CPU."""
    UNDEFINED = "undefined"
    GLOO = "gloo"
    NCCL = "nccl"
    MPI = "mpi"

    def __new__(cls, name):
        value = str(name).lower()
        if value not in (cls.GLOO, cls.NCCL, cls.MPI):
            raise ValueError(f"Invalid backend: '{name}' (zerograd serves 'mpi', and 'gloo' "
                             "and 'nccl' through MPI)")
        return super().__new__(cls, value)


class ReduceOp(enum.Enum):
    """How a reduction combines the ranks' values (``dist.ReduceOp.SUM`` ...)."""
    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"


class Work:
    """The handle of an ``async_op=True`` collective: ``wait()`` blocks until it is done and
    the tensors hold the result; ``is_completed()`` asks without blocking."""

    def __init__(self, request=None, finish=None):
        self._request = request   # an MPI request, or None for work already done
        self._finish = finish     # host-side epilogue (AVG's division, copies back)
        self._done = request is None
        if self._done and finish is not None:
            finish()

    def _complete(self):
        self._done = True
        if self._finish is not None:
            self._finish()
        self._finish = None

    def wait(self, timeout=None):
        if not self._done:
            self._request.Wait()
            self._complete()
        return True

    def is_completed(self):
        if not self._done and self._request.Test():
            self._complete()
        return self._done

    def is_success(self):
        return self.is_completed()

    def result(self):
        self.wait()
        return []


class ProcessGroup:
    """A set of ranks with its own MPI communicator (``comm`` is None on non-members)."""

    def __init__(self, comm, ranks, backend):
        self.comm = comm
        self.ranks = list(ranks)  # global ranks, in group-rank order
        self.backend = backend

    def rank(self):
        return self.comm.Get_rank() if self.comm is not None else -1

    def size(self):
        return len(self.ranks)

    def name(self):
        return self.backend

    def __repr__(self):
        return f"ProcessGroup(backend={self.backend!r}, ranks={self.ranks})"


class GroupMember:
    """``GroupMember.WORLD`` (the default group, also ``dist.group.WORLD``)."""
    NON_GROUP_MEMBER = object()

    class _World:
        def __repr__(self):
            return "group.WORLD"

    WORLD = _World()


group = GroupMember


class _State:
    """The one process-wide default group (MPI itself is process-wide)."""
    default = None
    groups = []
    backend = None


def is_available():
    """True when ``mpi4py`` (and so an MPI library) is installed."""
    return importlib.util.find_spec("mpi4py") is not None


is_mpi_available = is_available


def is_gloo_available():
    return is_available()


def is_nccl_available():
    return False


def is_torchelastic_launched():
    return "TORCHELASTIC_RUN_ID" in os.environ


_MPI = []  # the mpi4py.MPI module once imported: every collective asks for it


def _mpi():
    if _MPI:
        return _MPI[0]
    if not is_available():
        raise RuntimeError("zerograd.distributed needs mpi4py and an MPI library: "
                           "pip install 'zerograd[distributed]'")
    from mpi4py import MPI
    _MPI.append(MPI)
    return MPI


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):
    """Join this process to the default group.

    Processes started by ``mpiexec`` (or ``zerograd launch``) form the group MPI started
    them in; ``rank`` and ``world_size`` (or the ``RANK``/``WORLD_SIZE`` environment
    variables) must then agree with MPI's, and ``init_method`` is not needed. Processes
    started otherwise (``zerograd.multiprocessing.spawn``, torchrun) join through MPI's
    dynamic processes, with ``init_method`` ("tcp://host:port", "file:///path", or
    "env://" with MASTER_ADDR/MASTER_PORT) carrying rank 0's port name (see
    ``rendezvous``); on Open MPI that fails at once with a message naming
    ``zerograd launch``. ``backend`` may be "mpi", "gloo" or "nccl" (all served by MPI);
    ``timeout`` bounds the rendezvous (MPI collectives themselves have no deadline)."""
    if _State.default is not None:
        raise ValueError("trying to initialize the default process group twice!")
    name = Backend(backend or Backend.MPI)
    MPI = _mpi()
    world = MPI.COMM_WORLD
    mpi_size, mpi_rank = world.Get_size(), world.Get_rank()
    want_size = world_size if world_size not in (None, -1) else int(
        os.environ.get("WORLD_SIZE", mpi_size))
    want_rank = rank if rank not in (None, -1) else int(os.environ.get("RANK", mpi_rank))
    if mpi_size == 1 and want_size > 1 and 0 <= want_rank < want_size:
        comm = _join_started_elsewhere(MPI, want_rank, want_size, init_method, timeout)
    elif want_size != mpi_size or want_rank != mpi_rank:
        how = f"init_method={init_method!r}" if init_method else "the environment"
        raise RuntimeError(
            f"init_process_group: {how} asks for rank {want_rank} of {want_size}, but MPI "
            f"started this process as rank {mpi_rank} of {mpi_size}; zerograd joins processes "
            f"through MPI: start them with `zerograd launch --nproc {want_size} script.py` "
            f"(or `mpiexec -n {want_size} python script.py`)")
    else:
        comm = world.Dup()
    _State.default = ProcessGroup(comm, range(comm.Get_size()), name)
    _State.backend = name
    _State.groups = []
    os.environ.setdefault("RANK", str(comm.Get_rank()))
    os.environ.setdefault("WORLD_SIZE", str(comm.Get_size()))
    os.environ.setdefault("LOCAL_RANK", os.environ.get("OMPI_COMM_WORLD_LOCAL_RANK", "0"))
    if comm.Get_size() > 1:
        _install_abort_hook(comm)


def _join_started_elsewhere(MPI, rank, world_size, init_method, timeout):
    """The communicator of processes not started together by mpiexec (MPI singletons)."""
    from zerograd.distributed import rendezvous
    rendezvous.parse_init_method(init_method)  # a malformed address fails first
    error = rendezvous.dynamic_join_error(MPI, rank, world_size, init_method)
    if error is not None:
        raise RuntimeError(error)
    seconds = (timeout or default_pg_timeout).total_seconds()
    return rendezvous.join(MPI, MPI.COMM_SELF, rank, world_size, init_method, seconds)


def _install_abort_hook(world):
    """An uncaught exception on one rank aborts every rank (ChainerMN's global except hook):
    otherwise the others would wait forever in their next collective. ``world`` is the
    group's communicator; Abort kills every process connected to it."""
    previous = sys.excepthook

    def abort_everyone(exc_type, exc, tb):
        sys.stderr.write(f"[rank {world.Get_rank()}] uncaught exception, aborting the job:\n")
        sys.stderr.write("".join(traceback.format_exception(exc_type, exc, tb)))
        sys.stderr.flush()
        if previous is not sys.__excepthook__ and previous is not abort_everyone:
            previous(exc_type, exc, tb)
        world.Abort(1)

    sys.excepthook = abort_everyone


def is_initialized():
    return _State.default is not None


def _default():
    if _State.default is None:
        raise ValueError(_NOT_INITIALIZED)
    return _State.default


def _resolve(group_):
    """The ProcessGroup meant by ``group`` (None or ``group.WORLD`` is the default)."""
    default = _default()
    if group_ is None or group_ is GroupMember.WORLD:
        return default
    if not isinstance(group_, ProcessGroup):
        raise TypeError(f"group must be a ProcessGroup from new_group, got {type(group_)}")
    return group_


def destroy_process_group(group=None):
    """Free ``group`` (or every group, and leave the default so init may run again)."""
    if group is None or group is GroupMember.WORLD:
        for g in _State.groups + ([_State.default] if _State.default else []):
            if g.comm is not None:
                g.comm.Free()
        _State.default, _State.groups, _State.backend = None, [], None
        return
    if group.comm is not None:
        group.comm.Free()
        group.comm = None
    if group in _State.groups:
        _State.groups.remove(group)


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None, device_id=None):
    """A group of the given global ``ranks`` (every rank must call it, as in torch)."""
    world = _default()
    ranks = list(range(world.size())) if ranks is None else sorted(int(r) for r in ranks)
    if any(r < 0 or r >= world.size() for r in ranks) or len(set(ranks)) != len(ranks):
        raise ValueError(f"new_group: ranks {ranks} must be distinct ranks of the "
                         f"{world.size()}-rank world")
    MPI = _mpi()
    me = world.rank()
    member = me in ranks
    comm = world.comm.Split(0 if member else MPI.UNDEFINED, ranks.index(me) if member else 0)
    pg = ProcessGroup(comm if member else None, ranks, Backend(backend or world.backend))
    _State.groups.append(pg)
    return pg


def get_rank(group=None):
    """This process's rank in ``group`` (-1 if it is not a member)."""
    return _resolve(group).rank()


def get_world_size(group=None):
    return _resolve(group).size()


def get_backend(group=None):
    return _resolve(group).backend


def get_process_group_ranks(group):
    return list(_resolve(group).ranks)


def get_global_rank(group, group_rank):
    return _resolve(group).ranks[group_rank]


def get_group_rank(group, global_rank):
    ranks = _resolve(group).ranks
    if global_rank not in ranks:
        raise ValueError(f"Global rank {global_rank} is not part of group {group}")
    return ranks.index(global_rank)
