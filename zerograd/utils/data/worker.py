"""Background loading for ``DataLoader(num_workers > 0)``: worker threads, not processes.

Threads share the dataset with the main thread (no pickling, no copies) and NumPy
releases the GIL in its copy loops, so preparing the next batches overlaps the
training step. The main thread keeps the sampler: it hands out at most
``prefetch_factor * num_workers`` batches of indices ahead, then yields results in
sampler order (or as they finish with ``in_order=False``). A worker that fails sends
its exception back; the main thread re-raises that same exception object when it
reaches the batch, with a note saying which worker and batch.

Random transforms running in workers draw from the shared default generator, so their
draws are not repeatable across runs with ``num_workers > 0``.
"""
import copy
import queue
import threading
import weakref

__all__ = ["get_worker_info", "WorkerInfo"]

_local = threading.local()
_POLL_S = 1.0  # how often a waiting main thread checks that its workers are still alive


class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: id, num_workers, seed, dataset."""

    def __init__(self, id, num_workers, seed, dataset):
        self.id = id
        self.num_workers = num_workers
        self.seed = seed
        self.dataset = dataset

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed})"


def get_worker_info():
    """Inside a DataLoader worker thread, its ``WorkerInfo``; in any other thread, None."""
    return getattr(_local, "info", None)


def _note(exc, text):
    if hasattr(exc, "add_note") and text not in getattr(exc, "__notes__", ()):
        exc.add_note(text)
    return exc


def _copy_error(exc):
    try:
        return copy.copy(exc)
    except Exception:  # an exception type that cannot be rebuilt from its args
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def _run_worker(tasks, info, worker_init_fn):
    _local.info = info
    init_error = None
    if worker_init_fn is not None:
        try:
            worker_init_fn(info.id)
        except BaseException as exc:  # reported with every task this worker receives
            init_error = _note(exc, f"raised by worker_init_fn in DataLoader worker {info.id}")
    while (task := tasks.get()) is not None:
        fetch, indices, results, seq, cancelled = task
        if cancelled.is_set():
            continue
        if init_error is not None:
            # a fresh copy per batch: the one raised in the main thread collects a traceback
            # that references the iterator, which this thread must not keep alive
            results.put((seq, False, _copy_error(init_error)))
            continue
        try:
            results.put((seq, True, fetch(indices)))
        except BaseException as exc:
            results.put((seq, False, _note(
                exc, f"raised in DataLoader worker thread {info.id} while loading batch {seq}")))


class WorkerPool:
    """``num_workers`` threads running fetch tasks taken from one shared queue."""

    def __init__(self, num_workers, dataset, base_seed, worker_init_fn):
        self._tasks = queue.SimpleQueue()
        self.threads = [
            threading.Thread(target=_run_worker, daemon=True,
                             name=f"zerograd-DataLoader-worker-{i}",
                             args=(self._tasks, WorkerInfo(i, num_workers, base_seed + i, dataset),
                                   worker_init_fn))
            for i in range(num_workers)]
        for t in self.threads:
            t.start()

    def submit(self, fetch, indices, results, seq, cancelled):
        self._tasks.put((fetch, indices, results, seq, cancelled))

    def alive(self):
        return any(t.is_alive() for t in self.threads)

    def shutdown(self):
        for _ in self.threads:
            self._tasks.put(None)
        for t in self.threads:
            if t is not threading.current_thread():
                t.join(timeout=5.0)


def _stop(pool, cancelled):
    """Finalizer of an iterator: stop its pending tasks, and its own threads if it owns them."""
    cancelled.set()
    if pool is not None:
        pool.shutdown()


def _wait(results, timeout, alive):
    """Next result from a worker; honours the loader's ``timeout`` and notices dead workers."""
    if timeout > 0:
        try:
            return results.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"DataLoader timed out after {timeout} seconds") from None
    while True:
        try:
            return results.get(timeout=_POLL_S)
        except queue.Empty:
            if not alive():
                raise RuntimeError("DataLoader worker threads exited unexpectedly") from None


class ThreadedMapIter:
    """Iterator over a map-style dataset whose batches are fetched by a ``WorkerPool``."""

    def __init__(self, sampler_iter, fetch, pool, owns_pool, ahead, timeout, in_order):
        self._sampler_iter = sampler_iter
        self._fetch = fetch
        self._pool = pool
        self._timeout = timeout
        self._in_order = in_order
        self._results = queue.SimpleQueue()
        self._cancelled = threading.Event()
        self._sent = self._received = 0
        self._ready = {}
        self._sampler_done = False
        self._finalizer = weakref.finalize(self, _stop, pool if owns_pool else None,
                                           self._cancelled)
        for _ in range(max(ahead, 1)):
            self._dispatch()

    def _dispatch(self):
        if self._sampler_done:
            return
        try:
            indices = next(self._sampler_iter)
        except StopIteration:
            self._sampler_done = True
            return
        self._pool.submit(self._fetch, indices, self._results, self._sent, self._cancelled)
        self._sent += 1

    def __iter__(self):
        return self

    def _has_next(self):
        return self._received in self._ready if self._in_order else bool(self._ready)

    def __next__(self):
        if self._received == self._sent:
            self.close()
            raise StopIteration
        while not self._has_next():
            seq, ok, value = _wait(self._results, self._timeout, self._pool.alive)
            self._ready[seq] = (ok, value)
        ok, value = self._ready.pop(self._received if self._in_order else next(iter(self._ready)))
        self._received += 1
        self._dispatch()  # keep the pipeline full before handing the batch (or error) over
        if not ok:
            raise value
        return value

    def close(self):
        """Stop the workers now (also done automatically when exhausted or dropped)."""
        self._finalizer()


_END = object()


def _run_stream(make_batches, out, cancelled, info, worker_init_fn):
    _local.info = info

    def put(item):  # blocks while the queue is full, but gives up once the reader is gone
        while not cancelled.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    try:
        if worker_init_fn is not None:
            worker_init_fn(info.id)
        for batch in make_batches():
            if not put((True, batch)):
                return
        put((True, _END))
    except BaseException as exc:
        put((False, _note(exc, "raised in the DataLoader worker thread reading the iterable "
                               "dataset")))


def _stop_stream(cancelled, thread):
    cancelled.set()  # the reader notices within 0.1 s unless it is inside the dataset
    if thread is not threading.current_thread():
        thread.join(timeout=1.0)


class ThreadedStreamIter:
    """Iterator over an iterable dataset read ahead by one background thread.

    A Python iterator cannot be shared between threads, so one thread reads the stream
    (``get_worker_info()`` reports ``num_workers=1`` there, so sharding code reads all
    of it once) and keeps up to ``ahead`` batches ready in a bounded queue.
    """

    def __init__(self, make_batches, dataset, ahead, timeout, seed, worker_init_fn):
        self._out = queue.Queue(maxsize=max(ahead, 1))
        self._cancelled = threading.Event()
        self._timeout = timeout
        self._done = False
        self._thread = threading.Thread(
            target=_run_stream, daemon=True, name="zerograd-DataLoader-stream",
            args=(make_batches, self._out, self._cancelled, WorkerInfo(0, 1, seed, dataset),
                  worker_init_fn))
        self._thread.start()
        self._finalizer = weakref.finalize(self, _stop_stream, self._cancelled, self._thread)

    def __iter__(self):
        return self

    def __next__(self):
        if self._done:
            raise StopIteration
        ok, value = _wait(self._out, self._timeout, self._thread.is_alive)
        if not ok or value is _END:
            self.close()
        if not ok:
            raise value
        if value is _END:
            raise StopIteration
        return value

    def close(self):
        """Stop the reader thread now (also done automatically when exhausted or dropped)."""
        self._done = True
        self._finalizer()
