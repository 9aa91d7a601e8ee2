"""``zerograd.nn.functional`` (``F``): stateless versions of every layer and loss."""
from zerograd.nn.functional.activation import *  # noqa: F401,F403
from zerograd.nn.functional.linear import *  # noqa: F401,F403
from zerograd.nn.functional.loss import *  # noqa: F401,F403
from zerograd.nn.functional.dropout import *  # noqa: F401,F403
from zerograd.nn.functional.sparse import *  # noqa: F401,F403
from zerograd.nn.functional.padding import *  # noqa: F401,F403
from zerograd.nn.functional.upsampling import *  # noqa: F401,F403
from zerograd.nn.functional.attention import *  # noqa: F401,F403
from zerograd.ops.conv import *  # noqa: F401,F403
from zerograd.ops.pooling import *  # noqa: F401,F403
from zerograd.ops.normalization import *  # noqa: F401,F403
