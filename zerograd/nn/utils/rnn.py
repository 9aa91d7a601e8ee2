"""Batches of sequences of different lengths: padding and packing (``torch.nn.utils.rnn``).

A padded batch is one tensor (T, B, *) (or (B, T, *) with ``batch_first``) with filler
after each sequence's end. A ``PackedSequence`` keeps only the real steps, time-major:
``data`` holds the rows of step 0 of every sequence, then step 1 of those still running,
and so on, with ``batch_sizes[t]`` rows for step t; the sequences are ordered by
decreasing length (``sorted_indices`` maps that order to the caller's, ``unsorted_indices``
back). The recurrent layers run a packed batch step by step with the batch shrinking,
so each sequence's final state is taken at its own last step.

Every conversion here is one gather (an integer index computed on the host from the
lengths), so it is differentiable and costs one pass over the data, with no Python loop
over the samples.
"""
from collections import namedtuple

import numpy as np

from zerograd import dtypes
from zerograd.ops.creation import as_tensor
from zerograd.ops.join import cat
from zerograd.ops.sorting import argsort, sort
from zerograd.tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence",
           "pad_sequence", "unpad_sequence", "pack_sequence", "unpack_sequence"]


def invert_permutation(permutation):
    """The permutation that undoes ``permutation`` (None stays None)."""
    if permutation is None:
        return None
    return argsort(permutation)


class PackedSequence(namedtuple("PackedSequence",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """A packed batch: (data, batch_sizes, sorted_indices, unsorted_indices).

    Build it with ``pack_padded_sequence`` or ``pack_sequence``; ``batch_sizes`` is an
    int64 CPU tensor, the indices (or None when the batch came sorted) live with ``data``.
    """

    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        elif batch_sizes.device.type != "cpu":
            raise ValueError(
                "batch_sizes should always be on CPU. Instances of PackedSequence should never "
                "be created manually. They should be instantiated by functions like "
                "pack_sequence and pack_padded_sequences in nn.utils.rnn.")
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """``data`` converted like ``Tensor.to``; the indices follow it to its device."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        move = (lambda t: None if t is None else t.to(data.device))
        return type(self)(data, self.batch_sizes, move(self.sorted_indices),
                          move(self.unsorted_indices))

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else device)

    def double(self):
        return self.to(dtype=dtypes.float64)

    def float(self):
        return self.to(dtype=dtypes.float32)

    def half(self):
        return self.to(dtype=dtypes.float16)

    def long(self):
        return self.to(dtype=dtypes.int64)

    def int(self):
        return self.to(dtype=dtypes.int32)

    def short(self):
        return self.to(dtype=dtypes.int16)

    def char(self):
        return self.to(dtype=dtypes.int8)

    def byte(self):
        return self.to(dtype=dtypes.uint8)

    @property
    def is_cuda(self):
        return self.data.is_cuda


def _gather_rows(source, rows, padding_value):
    """``source`` (N, *) with a padding row appended, picked by the host int array ``rows``
    (N stands for padding): one differentiable gather, shape ``rows.shape + (*)``."""
    if (rows == source.shape[0]).any():
        pad = source.new_full((1,) + tuple(source.shape[1:]), padding_value)
        source = cat([source, pad], 0)
    return source[rows]


def _host_lengths(lengths):
    return np.asarray([int(n) for n in lengths], dtype=np.int64)


def _batch_sizes(sorted_lengths):
    """batch_sizes[t]: how many sequences (sorted by decreasing length) are longer than t."""
    steps = np.arange(sorted_lengths[0])
    return (sorted_lengths[None, :] > steps[:, None]).sum(1)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences (L_i, *) into (L_max, B, *) (or (B, L_max, *)), filling with
    ``padding_value`` after (``padding_side="right"``) or before (``"left"``) each one."""
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    else:
        try:
            sequences = tuple(sequences)
        except TypeError:
            raise RuntimeError("pad_sequence: Expected iterable for input sequences, but got "
                               f"arg of type: {type(sequences)}") from None
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got "
                           f"{padding_side}.")
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    trailing = tuple(sequences[0].shape[1:])
    for seq in sequences[1:]:
        for d, (want, got) in enumerate(zip(trailing, tuple(seq.shape[1:])), 1):
            if want != got:
                raise RuntimeError(f"The size of tensor a ({want}) must match the size of "
                                   f"tensor b ({got}) at non-singleton dimension {d}")
    lengths = _host_lengths(s.shape[0] for s in sequences)
    longest, total = int(lengths.max()), int(lengths.sum())
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    t = np.arange(longest)[:, None]
    if padding_side == "left":
        t = t - (longest - lengths)[None, :]
    rows = np.where((t >= 0) & (t < lengths[None, :]), starts[None, :] + t, total)
    if batch_first:
        rows = rows.T
    return _gather_rows(cat(list(sequences), 0), rows, padding_value)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *) (or (B, T, *)) of sequences with the given lengths.

    With ``enforce_sorted=True`` the lengths must be in decreasing order; otherwise the
    batch is sorted here and the permutation kept in ``sorted_indices``.
    """
    if isinstance(lengths, Tensor):
        if lengths.ndim != 1:
            raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got "
                               f"{lengths.ndim}D {lengths.device.type} tensor")
        lengths = lengths.to(dtypes.int64)
    else:
        lengths = as_tensor([int(n) for n in lengths], dtype=dtypes.int64)
    if enforce_sorted:
        sorted_indices = None
        host = lengths.cpu().numpy()
        if (host[1:] > host[:-1]).any():
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is "
                "True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
                "pack_sequence to sidestep this requirement if you do not need ONNX "
                "exportability.")
        order = np.arange(host.shape[0])
    else:
        lengths, sorted_indices = sort(lengths, descending=True)
        host, order = lengths.cpu().numpy(), sorted_indices.cpu().numpy()
        sorted_indices = sorted_indices.to(input.device)
    steps, batch = (input.shape[1], input.shape[0]) if batch_first else input.shape[:2]
    if host.shape[0] != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{host.shape[0]} (batch_size={batch})")
    if host.size and host.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an "
                           "element in 'lengths' that is <= 0")
    if host.size and host.max() > steps:
        raise RuntimeError(f"pack_padded_sequence: a sequence length of {int(host.max())} "
                           f"exceeds the padded length {steps} of the input")
    batch_sizes = _batch_sizes(host)
    # step t takes the first batch_sizes[t] sorted sequences: rows of the flattened input
    t = np.repeat(np.arange(batch_sizes.shape[0]), batch_sizes)
    b = order[np.arange(t.shape[0]) - np.repeat(np.cumsum(batch_sizes) - batch_sizes,
                                                 batch_sizes)]
    rows = b * steps + t if batch_first else t * batch + b
    data = input.flatten(0, 1)[rows]
    return PackedSequence(data, as_tensor(batch_sizes, dtype=dtypes.int64), sorted_indices,
                          None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Undo ``pack_padded_sequence``: (padded batch, lengths), in the caller's batch order;
    ``total_length`` pads to that many steps (at least the longest sequence)."""
    sizes = sequence.batch_sizes.numpy()
    steps = sizes.shape[0]
    if total_length is not None:
        if total_length < steps:
            raise ValueError("Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {steps}")
        steps = total_length
    batch = int(sizes[0])
    lengths = (sizes[None, :] > np.arange(batch)[:, None]).sum(1)  # per sorted sequence
    running = np.zeros(steps, dtype=np.int64)  # sequences running at each step
    running[:sizes.shape[0]] = sizes
    step_start = np.zeros(steps, dtype=np.int64)  # where each step's rows begin in data
    step_start[:sizes.shape[0]] = np.cumsum(sizes) - sizes
    b = np.arange(batch)[None, :]
    rows = np.where(b < running[:, None], step_start[:, None] + b, sequence.data.shape[0])
    if sequence.unsorted_indices is not None:
        unsorted = sequence.unsorted_indices.cpu().numpy()
        rows, lengths = rows[:, unsorted], lengths[unsorted]
    if batch_first:
        rows = rows.T
    padded = _gather_rows(sequence.data, rows, padding_value)
    return padded, as_tensor(lengths, dtype=dtypes.int64)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """Split a padded batch back into a list of sequences of the given lengths."""
    lengths = [int(n) for n in lengths]
    if batch_first:
        return [padded_sequences[b, :n] for b, n in enumerate(lengths)]
    return [padded_sequences[:n, b] for b, n in enumerate(lengths)]


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of sequences (L_i, *) (by decreasing length unless
    ``enforce_sorted=False``)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """Undo ``pack_sequence``: the list of sequences, in the caller's order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
