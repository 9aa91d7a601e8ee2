"""Synthetic data for the first regression examples (d2l's ``synthetic_data``)."""
from zerograd.dtypes import get_default_dtype
from zerograd.ops.creation import tensor
from zerograd.ops.random_sampling import normal
from zerograd.tensor import Tensor

__all__ = ["synthetic_linear"]


def synthetic_linear(w, b, n, noise=0.01, generator=None):
    """Features ``X ~ N(0, 1)`` of shape ``(n, len(w))`` and targets
    ``y = X @ w + b + N(0, noise)`` of shape ``(n, 1)``, exactly as d2l's
    ``synthetic_data(w, b, num_examples)``; draws come from zerograd's generator
    (``zerograd.manual_seed`` makes them repeatable)."""
    w = w if isinstance(w, Tensor) else tensor(w, dtype=None)
    if w.ndim != 1:
        raise ValueError(f"w should be a 1-d weight vector, got shape {tuple(w.shape)}")
    if not w.dtype.is_floating_point:
        w = w.to(get_default_dtype())
    x = normal(0, 1, (n, len(w)), generator=generator, dtype=w.dtype)
    y = x.matmul(w) + b
    y = y + normal(0, noise, tuple(y.shape), generator=generator, dtype=w.dtype)
    return x, y.reshape((-1, 1))
