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
from zerograd.ops.transfer import *  # noqa: F401,F403

import sys as _sys

# Export the ops only (each family's __all__), not the family modules themselves, so
# ``from zerograd.ops import *`` does not put ``zerograd.shape`` and friends on the top level.
__all__ = sorted({name for _family in ("zerograd.ops.elementwise", "zerograd.ops.reduce", "zerograd.ops.shape", "zerograd.ops.inplace", "zerograd.ops.indexing", "zerograd.ops.linalg", "zerograd.ops.creation", "zerograd.ops.activation", "zerograd.ops.conv", "zerograd.ops.pooling", "zerograd.ops.normalization", "zerograd.ops.transfer")
                  for name in _sys.modules[_family].__all__})
