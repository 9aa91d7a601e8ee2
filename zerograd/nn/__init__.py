"""``zerograd.nn``: modules, layers, losses, initialization and the functional API."""
from zerograd.nn.parameter import (  # noqa: F401
    Buffer, Parameter, UninitializedBuffer, UninitializedParameter)
from zerograd.nn.modules import *  # noqa: F401,F403
from zerograd.nn import functional, init, utils  # noqa: F401
from zerograd.nn import parallel  # noqa: F401,E402
from zerograd.nn.parallel import DataParallel  # noqa: F401,E402
