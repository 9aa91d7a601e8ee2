"""Gradient clipping: rescale all gradients to a maximal total norm, or clamp each entry.

Both act in place on ``p.grad`` under no-grad, as torch's do; the norm of many tensors is
the norm of their per-tensor norms, so nothing is concatenated.
"""
import math
import types
import warnings

from zerograd import dtypes
from zerograd.autograd.grad_mode import no_grad
from zerograd.backend import array_module, backend_of, errstate
from zerograd.ops.creation import tensor as _new_tensor
from zerograd.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm",
           "clip_grads_with_norm_"]


def _vector_norm(array, norm_type):
    """The ``norm_type``-norm of all entries of ``array`` (torch.linalg.vector_norm), a 0-d
    array on the array's device.

    Sums run in the array's dtype, as torch's do: float32 squares above ~1e38 overflow to
    an infinite norm there too (then ``error_if_nonfinite`` can catch it).
    """
    xp = array_module(array)
    flat = array.reshape(-1)
    if flat.size == 0:
        return xp.full((), math.inf if norm_type == -math.inf else 0, dtype=array.dtype)
    if norm_type == 2.0:
        return xp.sqrt(xp.dot(flat, flat))  # dot: one fused pass, no squared temporary
    absolute = xp.abs(flat)
    if norm_type == math.inf:
        return absolute.max()
    if norm_type == -math.inf:
        return absolute.min()
    if norm_type == 0.0:
        return xp.asarray(xp.count_nonzero(flat), dtype=array.dtype)
    if norm_type == 1.0:
        return absolute.sum()
    return (absolute ** norm_type).sum() ** (1.0 / norm_type)


def _to_device_of(array, like):
    """``array`` on the device of the array ``like`` (itself when already there)."""
    src, dst = backend_of(array), backend_of(like)
    if src is dst and src.device_index(array) == dst.device_index(like):
        return array
    return dst.from_host(src.to_host(array), dst.device_index(like))


def _as_list(tensors):
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


@no_grad()
def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm of all ``tensors`` together, as if concatenated into one vector.

    Raises if the norm is nan or inf and ``error_if_nonfinite`` is set.
    """
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if len(tensors) == 0:
        return _new_tensor(0.0, dtype=dtypes.get_default_dtype())
    # per-tensor norms on each tensor's device, combined on the first one's (as torch)
    first = tensors[0]._data
    xp = array_module(first)
    with errstate(first, over="ignore", invalid="ignore"):
        norms = [xp.asarray(_to_device_of(_vector_norm(t._data, norm_type), first))
                 for t in tensors]
        dtype = xp.result_type(*norms)
        total = xp.asarray(_vector_norm(xp.stack([n.astype(dtype) for n in norms]),
                                        norm_type), dtype=dtype)
    if error_if_nonfinite and not xp.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the "
            "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`")
    return Tensor._make(total)


@no_grad()
def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale the gradients by ``min(1, max_norm / (total_norm + 1e-6))``, in place."""
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    total = total_norm._data if isinstance(total_norm, Tensor) else \
        array_module(grads[0]._data).asarray(float(total_norm))
    # computed in the norm's dtype and kept if nan (nan gradients stay visible), like torch
    with errstate(total, invalid="ignore"):  # inf or nan norms give nan gradients, as in torch
        coef = array_module(total).minimum(float(max_norm) / (total + 1e-6), 1.0)
        for g in grads:
            g._data *= _to_device_of(coef, g._data).astype(g._data.dtype)
            g._bump_version()


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Rescale the gradients of ``parameters`` in place so their total norm is at most
    ``max_norm``; returns the total norm before clipping (a 0-d tensor).

    Args:
        parameters: a tensor or an iterable of tensors whose ``.grad`` is clipped.
        max_norm: the largest allowed total norm.
        norm_type: the p of the p-norm (``float("inf")`` for the largest entry).
        error_if_nonfinite: raise if the total norm is nan or inf instead of scaling.
        foreach: accepted for compatibility.
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        is_generator = isinstance(parameters, types.GeneratorType)
        parameters = list(parameters)
        if is_generator and len(parameters) == 0:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.",
                          stacklevel=2)
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                   foreach=None):
    """Deprecated alias of :func:`clip_grad_norm_`."""
    warnings.warn("`zerograd.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`zerograd.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


@no_grad()
def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient entry of ``parameters`` to ``[-clip_value, clip_value]`` in place."""
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            g = p.grad._data
            array_module(g).clip(g, -clip_value, clip_value, out=g)
            p.grad._bump_version()
