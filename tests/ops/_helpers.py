"""Input generators of tests/ops/test_elementwise.py and tests/ops/test_reduce.py (the
comparison with torch is tests/oracle.py)."""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

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
