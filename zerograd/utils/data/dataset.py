"""Datasets: map-style (``len`` + ``[i]``) and iterable, plus the usual combinators.

The batch protocol
------------------
A map-style dataset may define ``__getbatch__(indices)``, returning exactly what
``default_collate([self[i] for i in indices])`` would, but gathered in one vectorized
step (one fancy-indexing call per field instead of a Python loop over samples). The
DataLoader uses it whenever the default collate function is in effect. ``TensorDataset``,
``Subset`` of such a dataset, and ``zerograd.datasets.MNIST``/``FashionMNIST`` implement
it. torch's ``__getitems__(indices)`` (a list of samples, then collated) is honoured too.
"""
import bisect
import math
import warnings
from itertools import accumulate

import numpy as np

from zerograd.random import rng_of
from zerograd.tensor import Tensor

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "Subset",
           "ConcatDataset", "ChainDataset", "random_split"]


class Dataset:
    """A map-style dataset: subclasses define ``__getitem__(index)`` and ``__len__()``.

    ``a + b`` concatenates two datasets (a ``ConcatDataset``).
    """

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of samples: subclasses define ``__iter__``. ``a + b`` chains two streams."""

    def __add__(self, other):
        return ChainDataset([self, other])


def as_index_array(indices):
    """A batch of indices (list, array or tensor) as an integer array for fancy indexing."""
    if isinstance(indices, Tensor):
        indices = indices._data
    array = np.asarray(indices)
    if array.dtype.kind not in "iu":
        if array.size == 0:
            return array.astype(np.intp)
        raise IndexError(f"batch indices must be integers, got an array of {array.dtype}")
    return array


def _take(tensor, index):
    """``tensor[index]`` for one sample index or an index array; keeps autograd if needed."""
    if tensor._requires_grad:
        return tensor[index]
    # `[index, ...]` makes a 0-d *array* (not a NumPy scalar) for an int index on a 1-d tensor
    return Tensor._make(tensor._data[index, ...])


class TensorDataset(Dataset):
    """Samples are the i-th rows of each tensor: ``ds[i] == (t0[i], t1[i], ...)``.

    Supports the batch protocol: a batch of indices is gathered with one indexing call
    per tensor, which is what makes ``DataLoader`` over it fast.
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        tensors = tuple(t if isinstance(t, Tensor) else Tensor._make(np.asarray(t))
                        for t in tensors)
        for t in tensors:
            if t.ndim == 0:
                raise ValueError("TensorDataset tensors need a first (sample) dimension; got "
                                 "a 0-d tensor")
        sizes = [t.shape[0] for t in tensors]
        if len(set(sizes)) > 1:
            raise ValueError(f"Size mismatch between tensors: their first dimensions are "
                             f"{sizes}; every tensor must hold the same number of samples")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(_take(t, index) for t in self.tensors)

    def __getbatch__(self, indices):
        idx = as_index_array(indices)
        return [_take(t, idx) for t in self.tensors]

    def __len__(self):
        return self.tensors[0].shape[0]


class StackDataset(Dataset):
    """Zip datasets of equal length: ``StackDataset(a, b)[i] == (a[i], b[i])`` and
    ``StackDataset(x=a, y=b)[i] == {"x": a[i], "y": b[i]}``."""

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ValueError("Supported either ``tuple``- (via ``args``) or``dict``- (via "
                             "``kwargs``) like input/output, but both types are given.")
        parts = list(args) or list(kwargs.values())
        if not parts:
            raise ValueError("StackDataset needs at least one dataset")
        sizes = [len(d) for d in parts]
        if len(set(sizes)) > 1:
            raise ValueError(f"Size mismatch between datasets: lengths {sizes}")
        self.datasets = args if args else kwargs
        self._length = sizes[0]

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    @property
    def __getbatch__(self):
        """The batch protocol, present when every stacked dataset has it."""
        named = self.datasets if isinstance(self.datasets, dict) else dict(
            enumerate(self.datasets))
        gathers = {k: getattr(d, "__getbatch__", None) for k, d in named.items()}
        if any(g is None for g in gathers.values()):
            raise AttributeError("not every stacked dataset has __getbatch__")
        if isinstance(self.datasets, dict):
            return lambda indices: {k: g(indices) for k, g in gathers.items()}
        return lambda indices: [g(indices) for g in gathers.values()]

    def __len__(self):
        return self._length


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices
        self._array_for = None  # the indices object the cached array was built from
        self._array = None

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices):
        inner = getattr(self.dataset, "__getitems__", None)
        if callable(inner):
            return inner([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def _index_array(self):
        # cached so a batch costs one fancy index, not a conversion of all the indices;
        # rebuilt when `indices` is replaced (mutating it in place is not detected)
        if self._array_for is not self.indices:
            self._array = as_index_array(self.indices)
            self._array_for = self.indices
        return self._array

    @property
    def __getbatch__(self):
        """The batch protocol, present only when the wrapped dataset has it."""
        inner = getattr(self.dataset, "__getbatch__", None)
        if inner is None:
            raise AttributeError(f"{type(self.dataset).__name__} has no __getbatch__")
        return lambda indices: inner(self._index_array()[as_index_array(indices)])

    def __len__(self):
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several map-style datasets one after another."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset; use "
                                "ChainDataset to chain iterable datasets")
        self.cumulative_sizes = list(accumulate(len(d) for d in self.datasets))

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx += len(self)
        if idx >= len(self):
            raise IndexError(f"index {idx} is out of range for a ConcatDataset of length "
                             f"{len(self)}")
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        offset = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][idx - offset]


class ChainDataset(IterableDataset):
    """Several iterable datasets read one after another."""

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError("ChainDataset only supports IterableDataset")
            yield from d

    def __len__(self):
        return sum(len(d) for d in self.datasets)


def _lengths_from_fractions(fractions, n):
    for i, frac in enumerate(fractions):
        if not 0 <= frac <= 1:
            raise ValueError(f"Fraction at index {i} is not between 0 and 1")
    lengths = [math.floor(n * frac) for frac in fractions]
    for i in range(n - sum(lengths)):  # hand out the rounding remainder round-robin (torch)
        lengths[i % len(lengths)] += 1
    for i, length in enumerate(lengths):
        if length == 0:
            warnings.warn(f"Length of split at index {i} is 0. This might result in an empty "
                          "dataset.")
    return lengths


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` at random into non-overlapping ``Subset``s.

    ``lengths`` are sample counts summing to ``len(dataset)``, or fractions summing to 1
    (the remainder of rounding down is handed out round-robin, as torch does). The
    permutation is drawn from ``generator`` (default: zerograd's default generator).
    """
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        lengths = _lengths_from_fractions(lengths, n)
    if sum(lengths) != n:
        raise ValueError(f"Sum of input lengths does not equal the length of the input dataset! "
                         f"(lengths sum to {sum(lengths)}, the dataset has {n} samples)")
    perm = rng_of(generator).permutation(n).tolist()
    return [Subset(dataset, perm[end - length:end])
            for end, length in zip(accumulate(lengths), lengths)]
