"""zerograd: a deep learning framework written from zero on NumPy, with PyTorch's API.

Data flows through the package in this order: ``backend`` (the array library) ->
``tensor`` and ``autograd`` (graph and engine) -> ``ops`` (each op's forward and backward)
-> ``nn`` -> ``optim`` -> ``utils.data`` -> training, CLI and visualisation.
"""
from zerograd import _fp_warnings  # noqa: F401  (torch computes inf/nan without warnings)
from zerograd.dtypes import (  # noqa: F401
    bool_ as bool, double, dtype, float, float16, float32, float64, get_default_dtype, half,
    int, int8, int16, int32, int64, long, set_default_dtype, short, uint8, promote_types)
from zerograd.device import device  # noqa: F401
from zerograd.size import Size  # noqa: F401
from zerograd.tensor import Tensor  # noqa: F401
from zerograd._legacy_types import *  # noqa: F401,F403
from zerograd.autograd.grad_mode import (  # noqa: F401
    enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled)
from zerograd.random import (  # noqa: F401
    Generator, default_generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state)
from zerograd.ops import *  # noqa: F401,F403
from zerograd import autograd, cuda, distributions, func, nn, optim, utils, viz  # noqa: F401
from zerograd import multiprocessing  # noqa: F401,E402  (torch.multiprocessing.spawn)
# Not `from zerograd import linalg`: the ops star-import already bound the name to ops.linalg.
import zerograd.linalg as linalg  # noqa: E402,F401
from zerograd.dtypes import result_type as _result_type

__version__ = "0.1.0"


def result_type(tensor1, tensor2):
    return _result_type(tensor1, tensor2)


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(input):
    return input.numel()


def is_floating_point(input):
    return input.is_floating_point()


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """Accepted for compatibility with torch code; zerograd's repr uses fixed settings."""


from zerograd.io.checkpoint import save, load  # noqa: E402,F401  (no pickle: safetensors + JSON)
from zerograd.backend.cpu.threads import get_num_threads, set_num_threads  # noqa: E402,F401
