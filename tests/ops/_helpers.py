"""Input generators and a torch-or-raise oracle shared by tests/ops/test_elementwise.py and
tests/ops/test_reduce.py."""
import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.oracle import check

SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
SEEDS = st.integers(0, 2 ** 16)
FLOATS = st.sampled_from([np.float32, np.float64])


def values(domain, shape, dtype=np.float64, seed=0):
    """Random inputs inside an op's smooth domain (away from kinks, poles and branch cuts):
    'any', 'pos' (0.2..3), 'nonzero' (0.2 <= |x| <= 2), 'small' (|x| <= 1.2), 'int', 'bool'."""
    rng = np.random.default_rng(seed)
    if domain == "any":
        x = rng.standard_normal(shape)
    elif domain == "pos":
        x = rng.uniform(0.2, 3.0, shape)
    elif domain == "nonzero":
        x = rng.uniform(0.2, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    elif domain == "small":
        x = rng.uniform(-1.2, 1.2, shape)
    elif domain == "int":
        return rng.integers(-5, 6, shape).astype(np.int64)
    elif domain == "bool":
        return rng.random(shape) < 0.5
    else:
        raise ValueError(f"unknown domain {domain!r}")
    return np.asarray(x, dtype=dtype)


def check_like_torch(zg_fn, torch_fn, *arrays, **kwargs):
    """``check`` when torch accepts the inputs; otherwise zerograd must raise the same type."""
    try:
        torch_fn(*[torch.tensor(a) for a in arrays])
    except (RuntimeError, IndexError, ValueError, TypeError) as err:
        import zerograd as zg
        try:
            zg_fn(*[zg.tensor(a) for a in arrays])
        except type(err):
            return
        raise AssertionError(f"torch raised {type(err).__name__}({err}) but zerograd did not")
    check(zg_fn, torch_fn, *arrays, **kwargs)


def check_jvp(zg_fn, torch_fn, *arrays, seed=0):
    """Forward mode: zerograd.func.jvp against torch.func.jvp (values and tangents)."""
    import zerograd as zg
    from tests.oracle import assert_close
    rng = np.random.default_rng(seed)
    tangents = [rng.standard_normal(a.shape).astype(a.dtype) for a in arrays]
    t_val, t_tan = torch.func.jvp(torch_fn, tuple(torch.tensor(a) for a in arrays),
                                  tuple(torch.tensor(t) for t in tangents))
    z_val, z_tan = zg.func.jvp(zg_fn, tuple(zg.tensor(a) for a in arrays),
                               tuple(zg.tensor(t) for t in tangents))
    assert_close(z_val, t_val, what="value")
    assert_close(z_tan, t_tan, what="tangent")
