"""``F.embedding`` (rows of a weight table picked by integer indices) and ``F.one_hot``.

The lookup and its gradient are the op ``zerograd.ops.embedding``; this file checks the
indices and ``padding_idx`` with torch's messages and applies ``max_norm``.
"""
from zerograd import dtypes
from zerograd.autograd.grad_mode import no_grad
from zerograd.backend import array_module
from zerograd.ops import sparse as _sparse
from zerograd.tensor import Tensor

__all__ = ["embedding", "one_hot"]


def _check_indices(input, num, what):
    if not isinstance(input, Tensor):
        raise TypeError(f"{what}: indices must be a Tensor of integers, got "
                        f"{type(input).__name__}")
    if input._data.dtype.kind not in "iu":
        raise RuntimeError(f"{what}: expected indices of an integer dtype (Long or Int), but got "
                           f"{input.dtype}; convert them with .long()")
    a = input._data
    if a.size:
        lo, hi = int(a.min()), int(a.max())
        if lo < 0 or hi >= num:
            bad = lo if lo < 0 else hi
            raise IndexError(f"{what}: index {bad} is out of range for a table of "
                             f"{num} rows (valid indices are 0..{num - 1})")
    return a


def _renorm_rows(weight, rows, max_norm, norm_type):
    """Rescale, in place and untracked, the looked-up rows whose norm exceeds max_norm."""
    with no_grad():
        w = weight._data
        xp = array_module(w)
        uniq = xp.unique(rows)
        norms = xp.linalg.norm(w[uniq], ord=norm_type, axis=1)
        scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        w[uniq] = w[uniq] * scale[:, None].astype(w.dtype)
        weight._bump_version()


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """``weight[input]``: the rows of ``weight`` (num_embeddings, embedding_dim) at the
    integer indices ``input``; output shape ``input.shape + (embedding_dim,)``."""
    if weight.ndim != 2:
        raise RuntimeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
                           f"shape {tuple(weight.shape)}")
    num = weight.shape[0]
    if padding_idx is not None:
        if padding_idx > 0 and padding_idx >= num:
            raise AssertionError("Padding_idx must be within num_embeddings")
        if padding_idx < 0:
            if padding_idx < -num:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx = num + padding_idx
    indices = _check_indices(input, num, "embedding")
    if max_norm is not None:
        _renorm_rows(weight, indices.reshape(-1), max_norm, norm_type)
    return _sparse.embedding(weight, input, -1 if padding_idx is None else padding_idx,
                             scale_grad_by_freq)


def one_hot(tensor, num_classes=-1):
    """int64 tensor of shape ``tensor.shape + (num_classes,)`` with a 1 at each index.

    ``num_classes=-1`` uses ``tensor.max() + 1``.
    """
    if not isinstance(tensor, Tensor) or tensor.dtype is not dtypes.int64:
        got = tensor.dtype if isinstance(tensor, Tensor) else type(tensor).__name__
        raise RuntimeError(f"one_hot is only applicable to index tensor of type LongTensor "
                           f"(int64), got {got}; convert with .long()")
    a = tensor._data
    if num_classes == -1:
        if a.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(a.max()) + 1
    if a.size:
        if a.min() < 0:
            raise RuntimeError(f"Class values must be non-negative (got {int(a.min())}).")
        if a.max() >= num_classes:
            raise RuntimeError(f"Class values must be smaller than num_classes "
                               f"(got {int(a.max())} with num_classes={num_classes}).")
    xp = array_module(a)
    out = xp.zeros(a.shape + (num_classes,), dtype=xp.int64)
    xp.put_along_axis(out, a[..., None], 1, axis=-1)
    return Tensor._make(out, False, None)
