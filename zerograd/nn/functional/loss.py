"""Loss functions of ``nn.functional``, with PyTorch's reductions and edge semantics.

Every loss takes ``reduction`` = 'none' | 'mean' | 'sum' (and the deprecated
``size_average`` / ``reduce`` pair; checks and reductions are in ``_loss_util``).
Regression losses and the binary / KL losses here are compositions of differentiable ops
(the binary cross-entropy of probabilities is the fused op ``ops.binary_cross_entropy``),
so gradients reach targets too. ``cross_entropy`` and ``nll_loss`` live in
``loss_classification`` and are re-exported here, so this module still lists every loss.
"""
import math
import warnings

from zerograd.nn.functional._loss_util import (
    _check_reduction, _check_tensors, _legacy_reduction, _pointwise_operands, _reduce, _shape,
    _weighted)
from zerograd.nn.functional.loss_classification import cross_entropy, nll_loss
from zerograd import ops as E
from zerograd.ops import loss as _loss
from zerograd.ops._util import const
from zerograd.ops.activation_smooth import softplus

__all__ = ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "cross_entropy",
           "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div"]


# -- regression losses ------------------------------------------------------------------------
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """(input - target)^2, reduced; with ``weight``, 'mean' is sum(w l) / sum(w)."""
    _pointwise_operands("mse_loss", input, target)
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    loss = E.square(input - target)
    if weight is not None:
        return _weighted(loss, weight, input, reduction, True)
    return _reduce(loss, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """|input - target|, reduced."""
    _pointwise_operands("l1_loss", input, target)
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    loss = E.abs(input - target)
    if weight is not None:
        return _weighted(loss, weight, input, reduction, True)
    return _reduce(loss, reduction)


def _huber(diff, delta):
    ad = E.abs(diff)
    return E.where(ad < delta, diff * diff * 0.5, (ad - 0.5 * delta) * delta)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d^2 where |d| < delta, else delta (|d| - delta/2)."""
    _pointwise_operands("huber_loss", input, target)
    reduction = _check_reduction(reduction)
    if delta <= 0:
        raise RuntimeError(f"huber_loss does not support non-positive values for delta "
                           f"(got {delta}).")
    loss = _huber(input - target, delta)
    if weight is not None:
        return _weighted(loss, weight, input, reduction, False)
    return _reduce(loss, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - beta/2 (= huber / beta)."""
    _pointwise_operands("smooth_l1_loss", input, target)
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss does not support negative values for beta "
                           f"(got {beta}).")
    diff = input - target
    if beta == 0:
        return _reduce(E.abs(diff), reduction)
    ad = E.abs(diff)
    loss = E.where(ad < beta, diff * diff * (0.5 / beta), ad - 0.5 * beta)
    return _reduce(loss, reduction)


# -- binary and KL losses ---------------------------------------------------------------------
def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """BCE of probabilities ``input`` in [0, 1] against ``target`` of the same shape."""
    _check_tensors("binary_cross_entropy", input, target)
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if _shape(target) != _shape(input):
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input "
                         f"size ({input.shape}) is deprecated. Please ensure they have the "
                         "same size.")
    if target.dtype is not input.dtype:
        target = target.to(input.dtype)
    return _loss.binary_cross_entropy(input, target, weight, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction="mean", pos_weight=None):
    """BCE of sigmoid(input), computed from logits without overflow:
    (1 - t) x + (1 + (pos_weight - 1) t) softplus(-x)."""
    _check_tensors("binary_cross_entropy_with_logits", input, target)
    reduction = _check_reduction(_legacy_reduction(size_average, reduce, reduction))
    if _shape(target) != _shape(input):
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    softplus_neg = softplus(-input, 1.0, math.inf)
    if pos_weight is not None:
        log_weight = (pos_weight - 1) * target + 1
        loss = (1 - target) * input + log_weight * softplus_neg
    else:
        loss = (1 - target) * input + softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL(target || exp(input)) pointwise: target (log target - input).

    ``input`` holds log-probabilities; 'batchmean' divides the sum by the batch size
    (the mathematical KL divergence), 'mean' by the number of elements.
    """
    _check_tensors("kl_div", input, target)
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce, reduction)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    if reduction != "batchmean":
        reduction = _check_reduction(reduction)
    if log_target:
        loss = E.exp(target) * (target - input)
    else:
        # xlogy(t, t): 0 where t == 0 instead of 0 * log 0 = nan
        safe = E.where(const(target._data > 0), target, 1.0)
        loss = target * E.log(safe) - target * input
    if reduction == "batchmean":
        total = loss.sum()
        return total / input.shape[0] if input.ndim else total
    return _reduce(loss, reduction)
