"""The CPU's row reductions (cross-entropy's max and sum over each row of class scores)
equal NumPy's, for short rows (column passes / BLAS) and long ones (NumPy itself)."""
import numpy as np
import pytest

from zerograd.backend.cpu import rows

RNG = np.random.default_rng(5)


@pytest.mark.parametrize("shape", [(256, 10), (7, 3), (300, 1), (64, 33), (1000, 2), (0, 4)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_max_and_sum_match_numpy(shape, dtype):
    x = RNG.standard_normal(shape).astype(dtype)
    m = rows.row_max(x)
    assert m.shape == (shape[0], 1) and m.dtype == dtype
    np.testing.assert_array_equal(m, x.max(axis=1, keepdims=True) if x.size else m)
    s = rows.row_sum(x)
    assert s.shape == (shape[0],) and s.dtype == dtype
    np.testing.assert_allclose(s, x.sum(axis=1), rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-5)


def test_row_max_keeps_nan_and_inf():
    x = np.array([[1.0, np.nan, 2.0], [-np.inf, -np.inf, -np.inf], [np.inf, 0.0, 1.0]] * 30)
    np.testing.assert_array_equal(rows.row_max(x), x.max(axis=1, keepdims=True))


def test_row_sum_of_integers_is_numpys():
    x = RNG.integers(0, 5, (50, 4))
    np.testing.assert_array_equal(rows.row_sum(x), x.sum(axis=1))
