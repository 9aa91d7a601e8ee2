import pytest


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Training tests run many small matmuls: with the 2 shared CI cores oversubscribed,
    a multi-threaded BLAS spends most of its time spinning (5x slower here)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn (a dev dependency) brings it
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
