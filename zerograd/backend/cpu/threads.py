"""zerograd's own worker threads on the CPU: one lazily created pool, split by batch slices.

NumPy releases the GIL inside its loops and BLAS calls, so a large array op split into a
few slices of the batch axis runs on several cores from plain Python threads. Ops reach
this module through their backend (``ctx.kernels.threads``), never globally.

* ``set_num_threads(n)`` / ``get_num_threads()``: torch's names. The default is the BLAS
  library's own thread count when ``threadpoolctl`` can read it (so the test suite's
  ``threadpool_limits(1)`` pins zerograd to 1 as well), else ``OMP_NUM_THREADS`` /
  ``OPENBLAS_NUM_THREADS``, else the CPUs this process may run on.
  ``set_num_threads`` also sets the BLAS library's thread count (through threadpoolctl,
  when installed), as torch's sets its BLAS's; nothing else changes the BLAS setting,
  except that inside ``split`` each worker's BLAS calls run single-threaded (the
  workers already occupy the cores) and the setting is restored afterwards; OpenBLAS's
  own workers, which spin for a while after each call, are stopped first.
* ``split(n, work, fn)``: calls ``fn(start, stop)`` on contiguous slices of ``range(n)``,
  one per thread (a split inside a slice runs inline), and returns the results **in slice
  order**, so callers that add partial
  results do it in a fixed order: the same thread count gives bit-identical results.
  Work under ``MIN_WORK`` elements per thread runs inline: a dispatch costs ~20-50 us,
  and 50-150 us where the other core sleeps and has to be woken (a 2-vCPU VM: measured
  73-140 us for a no-op split). The same wake-up is paid whenever the GIL passes between
  threads, so work split over threads should run as few, long NumPy calls.
* ``in_chunks``: a slice walked in cache-sized chunks (``CHUNK_BYTES``), for elementwise
  runs of several passes.
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor

MIN_WORK = 1 << 17  # elements per thread below which splitting costs more than it saves
# Bytes of each array an elementwise run of several NumPy passes takes at a time, so its
# later passes read what the first left in L2 (2 MB a core here). Measured on sigmoid
# (1 thread, (256, 6, 28, 28) float32): forward, 4 passes, 1336 -> 1084 us; backward, 3
# passes, 989 -> 621 us; 128K-element chunks beat 32K and 64K.
CHUNK_BYTES = 1 << 19

_lock = threading.Lock()
_state = {"n": None, "pool": None, "pool_size": 0, "blas": None}
_local = threading.local()  # marks pool workers: no nested splitting


def _blas():
    """threadpoolctl's controllers of the BLAS libraries NumPy loaded ([] without it)."""
    if _state["blas"] is None:
        try:
            from threadpoolctl import ThreadpoolController
            _state["blas"] = [c for c in ThreadpoolController().lib_controllers
                              if c.user_api == "blas"]
        except Exception:  # threadpoolctl is optional: no control, BLAS keeps its setting
            _state["blas"] = []
    return _state["blas"]


def _default_threads():
    counts = [c.num_threads for c in _blas()]
    if counts:
        return max(1, min(counts))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def get_num_threads():
    """The number of threads zerograd uses for CPU ops (torch.get_num_threads)."""
    if _state["n"] is None:
        _state["n"] = _default_threads()
    return _state["n"]


def set_num_threads(n):
    """Use ``n`` threads for CPU ops: zerograd's pool and the BLAS library's threads
    (the latter through threadpoolctl, when installed). As torch.set_num_threads."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive integer, got {n!r}")
    _state["n"] = n
    for controller in _blas():
        controller.set_num_threads(n)


def _pool(n):
    with _lock:
        if _state["pool_size"] < n:
            if _state["pool"] is not None:
                _state["pool"].shutdown(wait=False)
            _state["pool"] = ThreadPoolExecutor(n - 1, thread_name_prefix="zerograd",
                                                initializer=_mark_worker)
            _state["pool_size"] = n
        return _state["pool"]


def _mark_worker():
    _local.worker = True


def _forget_pool_in_child():
    # a forked child inherits the pool object but not its threads: work submitted to it
    # would wait forever, so the child makes its own pool when it first needs one
    _state["pool"], _state["pool_size"] = None, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)


def threads_for(n, work):
    """How many slices ``split`` cuts ``n`` items of ``work`` elements in total into."""
    if getattr(_local, "worker", False):
        return 1
    return max(1, min(get_num_threads(), n, work // MIN_WORK))


def in_chunks(start, stop, chunk, fn):
    """fn(c0, c1) on consecutive chunks of range(start, stop), ``chunk`` long."""
    for c0 in range(start, stop, chunk):
        fn(c0, min(c0 + chunk, stop))


def _park_spinning_blas_threads(blas, counts):
    """Stop OpenBLAS's own worker threads before the pool's threads start.

    After each multithreaded call OpenBLAS's workers busy-wait for new work for about
    0.1 s (its THREAD_TIMEOUT); meanwhile they take a core from the pool's threads (the
    attention blocks that follow a 2-thread projection GEMM ran about 1.9x slower, and
    setting the thread count to 1 does not stop them). ``blas_thread_shutdown_`` (what
    OpenBLAS itself calls before a fork) ends them; its next multithreaded call starts
    them again, which costs about 0.1 ms.
    """
    for c, count in zip(blas, counts):
        if count > 1 and c.internal_api == "openblas":
            shutdown = getattr(getattr(c, "dynlib", None), "blas_thread_shutdown_", None)
            if shutdown is not None:
                shutdown()


def split(n, work, fn):
    """[fn(start, stop) for each slice of range(n)], the slices run on the pool's threads.

    The calling thread runs the first slice itself; the results come back in slice order.
    """
    k = threads_for(n, work)
    if k == 1:
        return [fn(0, n)]
    bounds = [n * i // k for i in range(k + 1)]
    pool = _pool(k)
    blas = _blas()
    saved = [c.num_threads for c in blas]
    for c in blas:
        c.set_num_threads(1)
    _park_spinning_blas_threads(blas, saved)
    try:
        futures = [pool.submit(fn, bounds[i], bounds[i + 1]) for i in range(1, k)]
        # the caller's own slice, like the workers' ones, runs any nested split inline: a
        # split from there would wait for the threads busy with the other slices
        _local.worker = True
        try:
            first = fn(bounds[0], bounds[1])
        finally:
            _local.worker = False
        return [first] + [f.result() for f in futures]
    finally:
        for c, count in zip(blas, saved):
            c.set_num_threads(count)
