"""``DataLoader``: batches from a dataset, in sampler order, optionally prepared ahead.

The loader is a recipe, not an iterator: each ``iter(loader)`` starts an independent
pass, so two passes can run at the same time. A batch is fetched in the cheapest way
the dataset allows: ``__getbatch__(indices)`` (one vectorized gather, see
``dataset.py``) when the default collate is in use, else torch's ``__getitems__``, else
one ``dataset[i]`` per sample followed by ``collate_fn``.
"""
import itertools
import weakref

from zerograd.random import rng_of
from zerograd.utils.data.collate import default_collate, default_convert
from zerograd.utils.data.dataset import IterableDataset
from zerograd.utils.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler
from zerograd.utils.data.worker import ThreadedMapIter, ThreadedStreamIter, WorkerPool

__all__ = ["DataLoader"]

_FROZEN = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
           "persistent_workers")


class _InfiniteConstantSampler(Sampler):
    """The placeholder sampler of an iterable dataset (torch's): None, forever."""

    def __iter__(self):
        while True:
            yield None


def _batch_fetcher(dataset, collate_fn):
    """A function from a list of indices to a collated batch, as fast as the dataset allows."""
    if collate_fn is default_collate:
        gather = getattr(dataset, "__getbatch__", None)
        if gather is not None:
            return gather
    items = getattr(dataset, "__getitems__", None)
    if callable(items):
        return lambda indices: collate_fn(items(indices))
    return lambda indices: collate_fn([dataset[i] for i in indices])


def _stream_batches(dataset, batch_size, drop_last, collate_fn):
    """A generator function over an iterable dataset's batches (or converted samples)."""
    def batches():
        it = iter(dataset)
        if batch_size is None:
            for sample in it:
                yield collate_fn(sample)
            return
        while chunk := list(itertools.islice(it, batch_size)):
            if drop_last and len(chunk) < batch_size:
                return
            yield collate_fn(chunk)
    return batches


class _SingleProcessIter:
    """Fetches each batch in the calling thread when it is asked for."""

    def __init__(self, sampler_iter, fetch):
        self._sampler_iter = sampler_iter
        self._fetch = fetch

    def __iter__(self):
        return self

    def __next__(self):
        return self._fetch(next(self._sampler_iter))


class DataLoader:
    """Iterate over ``dataset`` in batches (torch.utils.data.DataLoader's signature).

    Args:
        dataset: a map-style ``Dataset`` (``len`` and ``[i]``) or an ``IterableDataset``.
        batch_size: samples per batch; ``None`` turns batching off (samples come one by
            one, arrays converted to tensors).
        shuffle: a new random order every pass (``RandomSampler``). Without ``generator``
            each pass draws one seed from the default generator, so
            ``zerograd.manual_seed`` makes the order repeatable.
        sampler / batch_sampler: custom index order / custom batches of indices.
        num_workers: background *threads* preparing batches ahead (0: load in the loop).
            Batches still come in sampler order; a worker's exception is re-raised here.
        collate_fn: merges a list of samples into a batch (default: ``default_collate``).
        pin_memory: accepted for compatibility; zerograd runs on the CPU, so it does nothing.
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        timeout: seconds to wait for a worker's batch before failing (0: wait forever).
        worker_init_fn: called as ``fn(worker_id)`` at the start of each worker thread.
        multiprocessing_context: accepted for compatibility; workers are threads.
        generator: the ``zerograd.Generator`` used for shuffling and worker seeds.
        prefetch_factor: batches prepared ahead per worker (default 2 when workers are used).
        persistent_workers: keep the worker threads alive between passes.
        pin_memory_device: accepted for compatibility (ignored).
        in_order: with workers, yield batches in sampler order (False: as they finish).
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                             "let num_workers > 0 to enable multiprocessing, otherwise set "
                             "prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        iterable = isinstance(dataset, IterableDataset)
        if iterable:
            for name, value in (("shuffle", shuffle), ("sampler", sampler),
                                ("batch_sampler", batch_sampler)):
                if value not in (None, False):
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                     f"{name} option, but got {name}={value}")
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None:
            if iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if batch_sampler is not None else default_convert)
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self._pool = None
        self._initialized = True

    def __setattr__(self, name, value):
        if getattr(self, "_initialized", False) and name in _FROZEN:
            raise ValueError(f"{name} attribute should not be set after "
                             f"{type(self).__name__} is initialized")
        super().__setattr__(name, value)

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def _fetcher(self):
        if self._auto_collation:
            return _batch_fetcher(self.dataset, self.collate_fn)
        dataset, collate_fn = self.dataset, self.collate_fn
        return lambda index: collate_fn(dataset[index])

    def _worker_pool(self, base_seed):
        if not self.persistent_workers:
            return WorkerPool(self.num_workers, self.dataset, base_seed, self.worker_init_fn), True
        if self._pool is None:
            self._pool = WorkerPool(self.num_workers, self.dataset, base_seed,
                                    self.worker_init_fn)
            weakref.finalize(self, self._pool.shutdown)  # threads end with the loader
        return self._pool, False

    def __iter__(self):
        """A fresh, independent pass over the data."""
        # like torch, every pass draws a base seed (the workers' seeds) from the generator
        base_seed = int(rng_of(self.generator).integers(0, 2 ** 63 - 1))
        ahead = self.prefetch_factor * self.num_workers if self.num_workers else 0
        if isinstance(self.dataset, IterableDataset):
            batches = _stream_batches(self.dataset, self.batch_size, self.drop_last,
                                      self.collate_fn)
            if self.num_workers == 0:
                return iter(batches())
            return ThreadedStreamIter(batches, self.dataset, ahead, self.timeout, base_seed,
                                      self.worker_init_fn)
        sampler_iter = iter(self._index_sampler)
        if self.num_workers == 0:
            return _SingleProcessIter(sampler_iter, self._fetcher())
        pool, owns = self._worker_pool(base_seed)
        return ThreadedMapIter(sampler_iter, self._fetcher(), pool, owns, ahead, self.timeout,
                               self.in_order)

    def __len__(self):
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
            return n
        return len(self._index_sampler)

    def __repr__(self):
        return (f"DataLoader(dataset={type(self.dataset).__name__}, batch_size={self.batch_size}, "
                f"num_workers={self.num_workers})")
