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


@pytest.fixture
def rng():
    return np.random.default_rng(0)
