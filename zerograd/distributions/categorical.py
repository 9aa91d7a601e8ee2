"""``Categorical``: a distribution over ``0 .. K-1`` given by probabilities or logits."""
import math

from zerograd import dtypes
from zerograd.backend import backend_of
from zerograd.distributions.distribution import Distribution
from zerograd.ops import arange, broadcast_tensors, clamp, full, multinomial, softmax, zeros
from zerograd.size import Size
from zerograd.tensor import Tensor

__all__ = ["Categorical"]


def _check_param(dist, name, value, ok, constraint):
    if not ok:
        raise ValueError(
            f"Expected parameter {name} ({type(value).__name__} of shape {tuple(value.shape)}) "
            f"of distribution {dist!r} to satisfy the constraint {constraint}, but found "
            f"invalid values:\n{value}")


class Categorical(Distribution):
    """torch.distributions.Categorical: exactly one of ``probs`` (non-negative weights
    along the last dim, normalized here) or ``logits`` (unnormalized log-probabilities).

    ``batch_shape`` is the parameter's shape without its last dim; ``event_shape`` is
    ``()``. ``sample(sample_shape)`` gives int64 indices of shape
    ``sample_shape + batch_shape``; ``log_prob`` and ``entropy`` are differentiable in
    the parameter.
    """

    _param_names = ("probs", "logits")
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            if probs.dim() < 1:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            self.__dict__["probs"] = probs / probs.sum(-1, keepdim=True)
            param = self.__dict__["probs"]
        else:
            if logits.dim() < 1:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            self.__dict__["logits"] = logits - logits.logsumexp(dim=-1, keepdim=True)
            param = self.__dict__["logits"]
        self._param = param
        self._num_events = param.size()[-1]
        super().__init__(Size(param.shape[:-1]), validate_args=validate_args)
        if self._validate_args:
            self._validate_param(probs, logits)

    def _validate_param(self, probs, logits):
        if probs is not None:
            p = probs.detach()
            total = self.__dict__["probs"].detach().sum(-1)
            ok = bool((p >= 0).all().item()) and bool(((total - 1).abs() < 1e-6).all().item())
            _check_param(self, "probs", probs, ok, "Simplex()")
        else:
            ok = not bool(logits.detach().isnan().any().item())
            _check_param(self, "logits", logits, ok, "IndependentConstraint(Real(), 1)")

    # -- parameters: the one not given is derived lazily, as in torch --------------------
    @property
    def probs(self):
        if "probs" not in self.__dict__:
            self.__dict__["probs"] = softmax(self.__dict__["logits"], dim=-1)
        return self.__dict__["probs"]

    @property
    def logits(self):
        if "logits" not in self.__dict__:
            eps = float(_finfo(self.__dict__["probs"]).eps)
            self.__dict__["logits"] = clamp(self.__dict__["probs"], min=eps, max=1 - eps).log()
        return self.__dict__["logits"]

    @property
    def param_shape(self):
        return self._param.size()

    @property
    def mean(self):
        return _full(self._extended_shape(), math.nan, self._param)

    @property
    def mode(self):
        return self.probs.argmax(dim=-1)

    @property
    def variance(self):
        return _full(self._extended_shape(), math.nan, self._param)

    # -- sampling and densities ---------------------------------------------------------------
    def sample(self, sample_shape=Size()):
        """int64 indices of shape ``sample_shape + batch_shape`` (from the default
        generator, like every torch distribution)."""
        if not isinstance(sample_shape, Size):
            sample_shape = Size(sample_shape)
        probs_2d = self.probs.detach().reshape(-1, self._num_events)
        n = math.prod(sample_shape)
        if n == 0:
            return zeros(tuple(self._extended_shape(sample_shape)), dtype=dtypes.int64,
                         device=self._param.device)
        samples_2d = multinomial(probs_2d, n, True).T
        return samples_2d.reshape(self._extended_shape(sample_shape))

    def _validate_sample(self, value):
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        v = value.detach()
        ok = bool(((v == v.floor()) & (v >= 0) & (v <= self._num_events - 1)).all().item())
        if not ok:
            raise ValueError(
                f"Expected value argument ({type(value).__name__} of shape "
                f"{tuple(value.shape)}) to be within the support (IntegerInterval("
                f"lower_bound=0, upper_bound={self._num_events - 1})) of the distribution "
                f"{self!r}, but found invalid values:\n{value}")

    def log_prob(self, value):
        """log P(value): broadcast ``value`` against the batch shape."""
        if self._validate_args:
            self._validate_sample(value)
        value = value.long().unsqueeze(-1)
        value, log_pmf = broadcast_tensors(value, self.logits)
        return log_pmf.gather(-1, value[..., :1]).squeeze(-1)

    def entropy(self):
        """-sum p log p over the last dim (0 log 0 counts as 0)."""
        logits = self.logits
        min_real = float(_finfo(logits).min)
        p_log_p = clamp(logits, min=min_real) * self.probs
        return -p_log_p.sum(-1)

    def enumerate_support(self, expand=True):
        values = arange(self._num_events).reshape((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = values.expand((-1,) + tuple(self._batch_shape))
        return values


def _full(shape, value, like):
    return full(tuple(shape), value, dtype=like.dtype, device=like.device)


def _finfo(tensor):
    """The floating-point limits of ``tensor``'s dtype, from its own array library."""
    return backend_of(tensor._data).xp.finfo(tensor._data.dtype)
