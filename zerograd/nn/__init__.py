"""``zerograd.nn``: modules, layers, losses, initialization and the functional API."""
from zerograd.nn.parameter import Buffer, Parameter  # noqa: F401
from zerograd.nn.modules import *  # noqa: F401,F403
from zerograd.nn import functional, init, utils  # noqa: F401
