import os

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True)
settings.register_profile("dev", max_examples=15, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

try:
    import torch
    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - the dev extra always installs it
    torch = None

# NumPy's OpenBLAS spins one thread per core; on a busy shared machine that made small
# matmuls 20x slower. pytest plugins import numpy before this file runs, so the env var
# OPENBLAS_NUM_THREADS is too late; threadpoolctl (a scikit-learn dependency) limits it live.
try:
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)
except ImportError:  # pragma: no cover
    pass


# The NumPy kernels are the default-tested path: the optional compiled ones (numba, when
# installed) are switched off here, for subprocesses too, and tested against them in
# test_cpu_compiled.py. `ZEROGRAD_NUMBA=1 pytest` runs the whole suite with them on.
os.environ.setdefault("ZEROGRAD_NUMBA", "0")
from zerograd.backend.cpu import compiled as _compiled  # noqa: E402

_compiled.enable(os.environ["ZEROGRAD_NUMBA"] != "0")


@pytest.fixture
def restore_threads():
    """Puts zerograd's thread count back after a test that sets it."""
    import zerograd
    before = zerograd.get_num_threads()
    yield
    zerograd.set_num_threads(before)


# The stand-in device: a second backend that runs on the CPU with its own array type, so
# the oracle tests can rerun on "another device" without a GPU (tests/standin_device.py).
from tests import standin_device  # noqa: E402

standin_device.register()


def _devices():
    """The CPU, the stand-in device, and the GPU where CuPy sees one: the oracle tables
    rerun on each. On a machine without CuPy this costs one failed import."""
    import zerograd
    # "cuda:0", not "cuda": tensors report their index, and the oracle compares names
    return ["cpu", standin_device.DEVICE] + (["cuda:0"] if zerograd.cuda.is_available() else [])


@pytest.fixture(params=_devices())
def device(request):
    """Run a test on the CPU, again on the stand-in device, and on the GPU if there is one."""
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(0)
