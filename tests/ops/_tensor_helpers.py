"""Shared pieces of the op tests: array factories, hypothesis shapes, the two-library runner."""
import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import zerograd as zg
from tests.oracle import check

# shapes with size-0 and size-1 dims included
shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)
nonempty_shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4)


def arr(shape, seed=0, dtype=np.float32):
    """Standard normal values of ``shape`` (reproducible per seed)."""
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def both(fn, *arrays, **kw):
    """``check`` with one function written against a library argument: fn(lib, *tensors)."""
    return check(lambda *a: fn(zg, *a), lambda *a: fn(torch, *a), *arrays, **kw)


def t64(array, requires_grad=True):
    """A float64 zerograd tensor for gradcheck."""
    return zg.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


def dims_of(ndim):
    """Strategy: one valid (possibly negative) dim of a tensor with ``ndim`` dims."""
    n = max(ndim, 1)
    return st.integers(-n, n - 1)


def check_jvp(fn, *arrays, seed=0):
    """Forward mode: zerograd.func.jvp against torch.func.jvp (values and tangents)."""
    rng = np.random.default_rng(seed)
    tangents = [rng.standard_normal(a.shape).astype(a.dtype) for a in arrays]
    t_val, t_tan = torch.func.jvp(lambda *x: fn(torch, *x),
                                  tuple(torch.tensor(a) for a in arrays),
                                  tuple(torch.tensor(t) for t in tangents))
    z_val, z_tan = zg.func.jvp(lambda *x: fn(zg, *x), tuple(zg.tensor(a) for a in arrays),
                               tuple(zg.tensor(t) for t in tangents))
    from tests.oracle import assert_close
    assert_close(z_val, t_val, what="value")
    assert_close(z_tan, t_tan, what="tangent")
