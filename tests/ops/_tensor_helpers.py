"""Input generators of the tensor-manipulation op tests (shape, indexing, linalg); the
comparison with torch is tests/oracle.py."""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import zerograd as zg

# shapes with size-0 and size-1 dims included
shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)
nonempty_shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4)


def arr(shape, seed=0, dtype=np.float32):
    """Standard normal values of ``shape`` (reproducible per seed)."""
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def t64(array, requires_grad=True):
    """A float64 zerograd tensor for gradcheck."""
    return zg.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


def dims_of(ndim):
    """Strategy: one valid (possibly negative) dim of a tensor with ``ndim`` dims."""
    n = max(ndim, 1)
    return st.integers(-n, n - 1)
