"""Turning a list of samples into one batch (``default_collate``) and arrays into tensors.

Both follow ``torch.utils.data``'s rules exactly, including its quirks: a batch of tuples
comes back as a *list* of batched fields, Python ints become an int64 tensor and Python
floats a float64 tensor, strings stay a list.
"""
import collections.abc
import copy

import numpy as np

from zerograd import dtypes
from zerograd.tensor import Tensor

__all__ = ["default_collate", "default_convert"]

_ERR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        "found {}")


def _is_namedtuple(obj):
    return isinstance(obj, tuple) and hasattr(obj, "_fields")


def _stack(tensors):
    if any(t._requires_grad for t in tensors):
        from zerograd.ops import stack  # keeps the graph, like torch.stack would
        return stack(tensors, 0)
    first = tensors[0]._data
    for i, t in enumerate(tensors):
        if t._data.shape != first.shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(first.shape)} at entry 0 and {list(t._data.shape)} at "
                               f"entry {i}")
    return Tensor._make(np.stack([t._data for t in tensors]))


def _array_to_tensor(array):
    if array.dtype.kind in "USOV":
        raise TypeError(_ERR.format(array.dtype))
    dtypes.from_numpy_dtype(array.dtype)  # a clear error for dtypes zerograd lacks
    return Tensor._make(array)


def default_collate(batch):
    """Merge a list of samples into a batch, recursing into tuples, lists and dicts.

    Tensors and arrays are stacked along a new first dimension, numbers become 1-d
    tensors (ints int64, floats float64, bools bool), strings stay a list. Tuples of
    fields come back as a list (torch's behaviour), namedtuples keep their type.
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack(batch)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "USOV":
            raise TypeError(_ERR.format(elem.dtype))
        return _array_to_tensor(np.stack(batch))
    if isinstance(elem, np.generic):
        if elem.dtype.kind in "USOV":
            raise TypeError(_ERR.format(elem.dtype))
        return _array_to_tensor(np.asarray(batch))
    if isinstance(elem, bool):
        return Tensor._make(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, int):
        return Tensor._make(np.asarray(batch, dtype=np.int64))
    if isinstance(elem, float):
        return Tensor._make(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        fields = {key: default_collate([d[key] for d in batch]) for key in elem}
        if isinstance(elem, collections.abc.MutableMapping):
            clone = copy.copy(elem)  # keeps the mapping's own type (OrderedDict, defaultdict...)
            clone.update(fields)
            return clone
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    if _is_namedtuple(elem):
        return type(elem)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(sample) != size for sample in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        fields = [default_collate(list(field)) for field in zip(*batch)]
        if isinstance(elem, tuple):
            return fields  # torch returns a list here, for backwards compatibility
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    raise TypeError(_ERR.format(type(elem)))


def default_convert(data):
    """Turn NumPy arrays (recursively, inside containers) into tensors; leave the rest.

    The DataLoader applies it to each sample when automatic batching is off
    (``batch_size=None``).
    """
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if data.dtype.kind in "USOV" else _array_to_tensor(data)
    if isinstance(data, np.generic):
        return data if data.dtype.kind in "USOV" else _array_to_tensor(np.asarray(data))
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        fields = {key: default_convert(data[key]) for key in data}
        try:
            return type(data)(fields)
        except TypeError:
            return fields
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence):
        try:
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data
