"""Samplers: the order in which a DataLoader visits a map-style dataset's indices.

Random samplers draw from a ``zerograd.Generator``. ``RandomSampler`` without one does
what torch does: at the start of each pass it draws one seed from the default generator
and shuffles with a fresh generator seeded by it, so ``zerograd.manual_seed`` makes the
whole sequence of epochs repeatable while costing the default generator one draw.

Samplers whose whole order is known up front expose ``_index_array()``; ``BatchSampler``
slices that array instead of grouping indices one at a time in Python.
"""
import itertools

import numpy as np

from zerograd.random import Generator, rng_of
from zerograd.tensor import Tensor

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler"]


class Sampler:
    """Base class: subclasses define ``__iter__`` (yielding indices) and usually ``__len__``."""

    def __init__(self, data_source=None):
        pass


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def _index_array(self):
        return np.arange(len(self.data_source))

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


def _fresh_rng(generator):
    """torch's RandomSampler recipe: one seed from the default generator per pass."""
    if generator is not None:
        return rng_of(generator)
    seed = int(rng_of(None).integers(0, 2 ** 63 - 1))
    return Generator().manual_seed(seed).rng


class RandomSampler(Sampler):
    """A random order: a permutation per pass (or ``num_samples`` draws with replacement).

    Without replacement and with ``num_samples`` larger than the dataset, whole
    permutations are concatenated (torch's behaviour).
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got "
                            f"replacement={replacement}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.num_samples, int) or isinstance(self.num_samples, bool) \
                or self.num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _index_array(self):
        n, k = len(self.data_source), self.num_samples
        if n == 0:
            raise ValueError("RandomSampler cannot draw from an empty dataset")
        rng = _fresh_rng(self.generator)
        if self.replacement:
            return rng.integers(0, n, k)
        perms = [rng.permutation(n) for _ in range(-(-k // n))]
        return np.concatenate(perms)[:k]

    def __iter__(self):
        yield from self._index_array().tolist()

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order (a fresh permutation each pass)."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def _index_array(self):
        perm = rng_of(self.generator).permutation(len(self.indices))
        return np.asarray(self.indices)[perm]

    def __iter__(self):
        yield from self._index_array().tolist()

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got "
                             f"replacement={replacement}")
        w = np.asarray(weights._data if isinstance(weights, Tensor) else weights,
                       dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape "
                             f"{tuple(w.shape)}")
        if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise ValueError("weights must be finite, non-negative and not all zero")
        if not replacement and num_samples > int((w > 0).sum()):
            raise ValueError(f"cannot draw {num_samples} samples without replacement from "
                             f"{int((w > 0).sum())} indices with non-zero weight")
        self.weights = Tensor._make(w)
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def _index_array(self):
        w = self.weights._data
        return rng_of(self.generator).choice(w.shape[0], self.num_samples,
                                             replace=self.replacement, p=w / w.sum())

    def __iter__(self):
        yield from self._index_array().tolist()

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Group another sampler's indices into lists of ``batch_size``."""

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got "
                             f"drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        whole = getattr(self.sampler, "_index_array", None)
        if whole is not None:
            # the order is known up front: slice it instead of grouping index by index
            order = whole()
            stop = len(order) - len(order) % self.batch_size if self.drop_last else len(order)
            for start in range(0, stop, self.batch_size):
                yield order[start:start + self.batch_size].tolist()
            return
        it = iter(self.sampler)
        while batch := list(itertools.islice(it, self.batch_size)):
            if len(batch) < self.batch_size and self.drop_last:
                return
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
