"""Layers. Each file is one family; this package re-exports every public class."""
from zerograd.nn.modules.module import *  # noqa: F401,F403
from zerograd.nn.modules.container import *  # noqa: F401,F403
from zerograd.nn.modules.linear import *  # noqa: F401,F403
from zerograd.nn.modules.flatten import *  # noqa: F401,F403
from zerograd.nn.modules.activation import *  # noqa: F401,F403
from zerograd.nn.modules.dropout import *  # noqa: F401,F403
from zerograd.nn.modules.loss import *  # noqa: F401,F403
from zerograd.nn.modules.sparse import *  # noqa: F401,F403
from zerograd.nn.modules.conv import *  # noqa: F401,F403
from zerograd.nn.modules.pooling import *  # noqa: F401,F403
from zerograd.nn.modules.normalization import *  # noqa: F401,F403
from zerograd.nn.modules.sync_batchnorm import *  # noqa: F401,F403
from zerograd.nn.modules.lazy import *  # noqa: F401,F403
from zerograd.nn.modules.upsampling import *  # noqa: F401,F403
from zerograd.nn.modules.rnn import *  # noqa: F401,F403
from zerograd.nn.modules.attention import *  # noqa: F401,F403
from zerograd.nn.modules.transformer import *  # noqa: F401,F403
