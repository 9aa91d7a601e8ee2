"""Every op family; each op is a Function (forward + backward) plus a snake_case wrapper."""
from zerograd.ops.elementwise import *  # noqa: F401,F403
from zerograd.ops.reduce import *  # noqa: F401,F403
from zerograd.ops.shape import *  # noqa: F401,F403
from zerograd.ops.inplace import *  # noqa: F401,F403
from zerograd.ops.indexing import *  # noqa: F401,F403
from zerograd.ops.linalg import *  # noqa: F401,F403
from zerograd.ops.creation import *  # noqa: F401,F403
from zerograd.ops.activation import *  # noqa: F401,F403
from zerograd.ops.conv import *  # noqa: F401,F403
from zerograd.ops.pooling import *  # noqa: F401,F403
from zerograd.ops.normalization import *  # noqa: F401,F403
