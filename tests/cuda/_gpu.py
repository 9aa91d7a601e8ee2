"""Skip a GPU test module where CuPy or a GPU is absent (CI, most laptops)."""
import pytest

import zerograd as zg


def require_gpu():
    """CuPy, after skipping the calling module unless CuPy imports and sees a GPU."""
    cupy = pytest.importorskip("cupy", reason="the GPU tests need CuPy (the 'gpu' extra)")
    if not zg.cuda.is_available():
        pytest.skip("no usable NVIDIA GPU (zerograd.cuda.is_available() is False)",
                    allow_module_level=True)
    return cupy
