"""Class-index losses of ``nn.functional``: ``nll_loss`` and ``cross_entropy``.

Class-index cross-entropy is the fused op ``zerograd.ops.cross_entropy_loss``; this file
checks targets and weights with torch's messages. ``nll_loss`` and probability targets
compose differentiable ops.
"""
from zerograd.backend import array_module
from zerograd.nn.functional._loss_util import (
    _check_reduction, _check_same_device, _check_tensors, _legacy_reduction, _shape)
from zerograd.ops._util import const
from zerograd.ops import log_softmax
from zerograd.ops.loss import cross_entropy_loss

__all__ = ["cross_entropy", "nll_loss"]


def _check_class_targets(name, input, target, weight, ignore_index):
    """Check class-index targets and class weights; return the number of classes."""
    _check_tensors(name, input, target)
    _check_same_device(input, target, weight)
    if input.ndim == 0:
        raise RuntimeError(f"{name}(): input must have at least 1 dimension (classes), got a "
                           "scalar")
    if target._data.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): expected target of an integer dtype holding class "
                           f"indices (Long), but got {target.dtype}; convert with "
                           "target.long() (floating targets are class probabilities and "
                           "must have the input's shape)")
    batched = input.ndim >= 2
    classes = input.shape[1] if batched else input.shape[0]
    expected = (input.shape[0],) + _shape(input)[2:] if batched else ()
    if _shape(target) != expected:
        if batched and target.ndim >= 1 and target.shape[0] != input.shape[0] \
                and input.ndim == 2:
            raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                             f"batch_size ({target.shape[0]}).")
        raise RuntimeError(f"{name}(): for input of shape {_shape(input)} (classes in dim "
                           f"{1 if batched else 0}) the class-index target must have shape "
                           f"{expected}, got {_shape(target)}")
    t = target._data.reshape(-1)
    if t.size and (t.min() < 0 or t.max() >= classes):  # two reductions in the usual case
        bad = (t != ignore_index) & ((t < 0) | (t >= classes))
        if bad.any():
            raise IndexError(f"Target {int(t[bad][0])} is out of bounds: class indices must "
                             f"lie in [0, {classes - 1}] (or equal ignore_index={ignore_index})")
    if weight is not None and _shape(weight) != (classes,):
        raise RuntimeError(f"weight tensor should be defined either for all {classes} "
                           f"classes or no classes but got weight tensor of shape: "
                           f"{list(weight.shape)}")
    return classes


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """-input[i, target_i] * weight[target_i]; 'mean' divides by the summed weights of the
    targets that are not ``ignore_index``. ``input`` holds log-probabilities."""
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    _check_class_targets("nll_loss", input, target, weight, ignore_index)
    batched = input.ndim >= 2
    xp = array_module(input)
    t = target._data.reshape(-1).astype(xp.int64, copy=False)
    valid = t != ignore_index
    t = xp.where(valid, t, 0)
    dtype = input._data.dtype
    w_i = (weight._data.astype(dtype)[t] if weight is not None else xp.ones(t.shape, dtype)) \
        * valid
    index = const(t.reshape(_shape(target) if batched else (1,)))
    picked = input.gather(1 if batched else 0, index.unsqueeze(1) if batched else index)
    picked = picked.squeeze(1) if batched else picked.reshape(())
    loss = -picked * const(w_i.reshape(picked._data.shape).astype(input._data.dtype))
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / const(xp.asarray(w_i.sum(), dtype=input._data.dtype))


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """log_softmax over dim 1 (dim 0 for an unbatched input) followed by the NLL.

    ``target`` is either class indices (integer, shape ``(N, d1, ...)``) or class
    probabilities (floating, the input's shape). ``weight`` rescales classes;
    ``label_smoothing`` mixes the target with the uniform distribution.
    """
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                           f"{label_smoothing}")
    _check_tensors("cross_entropy", input, target)
    if target.is_floating_point():
        return _cross_entropy_probs(input, target, weight, reduction, label_smoothing)
    if _shape(target) == _shape(input) and input.ndim >= 2:
        raise RuntimeError(f"cross_entropy(): a target of the input's shape {_shape(input)} "
                           f"holds class probabilities and must be floating point, got "
                           f"{target.dtype}; pass class indices of shape {_shape(input)[:1]} "
                           f"+ {_shape(input)[2:]} or convert with target.float()")
    if not input.is_floating_point():
        raise RuntimeError(f"cross_entropy(): input must hold floating-point logits, got "
                           f"{input.dtype}")
    _check_class_targets("cross_entropy", input, target, weight, ignore_index)
    return cross_entropy_loss(input, target, weight, reduction, ignore_index, label_smoothing)


def _cross_entropy_probs(input, target, weight, reduction, label_smoothing):
    if _shape(target) != _shape(input):
        raise RuntimeError(f"cross_entropy(): a floating-point target is read as class "
                           f"probabilities and must have the input's shape {_shape(input)}, "
                           f"got {_shape(target)}; for class indices pass an integer tensor "
                           "(target.long())")
    class_dim = 1 if input.ndim >= 2 else 0
    classes = input.shape[class_dim]
    logp = log_softmax(input, class_dim)
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / classes
    terms = logp * target
    if weight is not None:
        if _shape(weight) != (classes,):
            raise RuntimeError(f"weight tensor should be defined either for all {classes} "
                               f"classes or no classes but got weight tensor of shape: "
                               f"{list(weight.shape)}")
        terms = terms * (weight.reshape(-1, *([1] * (input.ndim - 2))) if input.ndim > 1
                         else weight)
    if reduction == "none":
        return -terms.sum(class_dim)
    if reduction == "sum":
        return -terms.sum()
    return -terms.sum() / (input.numel() // classes) if input.numel() else -terms.sum() * \
        float("nan")
