"""Argument checks and reductions shared by the loss functions of ``nn.functional``.

Every loss takes ``reduction`` = 'none' | 'mean' | 'sum' (and the deprecated
``size_average`` / ``reduce`` pair, translated with torch's deprecation warning).
"""
import warnings

from zerograd.device import mixed_devices_error
from zerograd.ops._util import broadcast_shapes
from zerograd.tensor import Tensor


def _legacy_reduction(size_average, reduce, reduction):
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "none" if not reduce else ("mean" if size_average else "sum")
    warnings.warn(f"size_average and reduce args will be deprecated, please use "
                  f"reduction='{ret}' instead.", stacklevel=3)
    return ret


def _check_reduction(reduction):
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated. Please use "
                      "reduction='mean' instead.", stacklevel=3)
        return "mean"
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction "
                         "(use 'none', 'mean' or 'sum')")
    return reduction


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def _shape(t):
    return t._data.shape


def _check_tensors(name, input, target):
    for arg, value in (("input", input), ("target", target)):
        if not isinstance(value, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' must be a Tensor, not "
                            f"{type(value).__name__}")


def _check_same_device(*tensors):
    """torch's error for operands on different devices, for losses that read their arrays
    before any op would refuse the mix."""
    first = tensors[0].device
    if any(t is not None and t.device != first for t in tensors[1:]):
        raise mixed_devices_error({str(t.device) for t in tensors if t is not None})


def _pointwise_operands(name, input, target):
    """Check that ``input`` and ``target`` broadcast (warning when they differ, as torch)."""
    _check_tensors(name, input, target)
    if _shape(target) != _shape(input):
        try:
            broadcast_shapes(_shape(input), _shape(target))
        except ValueError:
            raise RuntimeError(f"{name}(): input shape {_shape(input)} and target shape "
                               f"{_shape(target)} are not broadcastable; give the target the "
                               f"input's shape, e.g. target.reshape{_shape(input)}") from None
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input "
                      f"size ({input.shape}). This will likely lead to incorrect results due "
                      "to broadcasting. Please ensure they have the same size.", stacklevel=3)


def _weighted(loss, weight, input, reduction, mean_by_weight):
    if weight.shape != input.shape:
        raise ValueError("Weights and input must have the same size.")
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)
