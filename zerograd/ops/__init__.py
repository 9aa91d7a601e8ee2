"""Every op family, one file each; each op is a Function (forward + backward) plus a
snake_case wrapper.

Each family file exports its own ops (its ``__all__``); this package imports every family
file directly and exports the union of those names (the ops, not the modules, so
``from zerograd.ops import *`` does not put ``zerograd.shape`` and friends on the top level).
"""
from zerograd.ops.elementwise import *  # noqa: F401,F403
from zerograd.ops.unary import *  # noqa: F401,F403
from zerograd.ops.compare import *  # noqa: F401,F403
from zerograd.ops.rounding import *  # noqa: F401,F403
from zerograd.ops.selection import *  # noqa: F401,F403
from zerograd.ops._promote import *  # noqa: F401,F403
from zerograd.ops.reduce import *  # noqa: F401,F403
from zerograd.ops.extrema import *  # noqa: F401,F403
from zerograd.ops.cumulative import *  # noqa: F401,F403
from zerograd.ops.shape import *  # noqa: F401,F403
from zerograd.ops.copying import *  # noqa: F401,F403
from zerograd.ops.join import *  # noqa: F401,F403
from zerograd.ops.inplace import *  # noqa: F401,F403
from zerograd.ops.indexing import *  # noqa: F401,F403
from zerograd.ops.scatter import *  # noqa: F401,F403
from zerograd.ops.sorting import *  # noqa: F401,F403
from zerograd.ops.linalg import *  # noqa: F401,F403
from zerograd.ops.einsum import *  # noqa: F401,F403
from zerograd.ops.decompositions import *  # noqa: F401,F403
from zerograd.ops.creation import *  # noqa: F401,F403
from zerograd.ops.random_sampling import *  # noqa: F401,F403
from zerograd.ops.activation import *  # noqa: F401,F403
from zerograd.ops.conv import *  # noqa: F401,F403
from zerograd.ops.pooling import *  # noqa: F401,F403
from zerograd.ops.normalization import *  # noqa: F401,F403
from zerograd.ops.transfer import *  # noqa: F401,F403
from zerograd.ops.affine import *  # noqa: F401,F403
from zerograd.ops.activation_piecewise import *  # noqa: F401,F403
from zerograd.ops.activation_smooth import *  # noqa: F401,F403
from zerograd.ops.loss import *  # noqa: F401,F403
from zerograd.ops.padding import *  # noqa: F401,F403
from zerograd.ops.sparse import *  # noqa: F401,F403
from zerograd.ops.recurrent import *  # noqa: F401,F403
from zerograd.ops.attention import *  # noqa: F401,F403
from zerograd.ops.identity import *  # noqa: F401,F403
from zerograd.ops.recompute import *  # noqa: F401,F403

import sys as _sys

_FAMILIES = ("elementwise", "unary", "compare", "rounding", "selection", "_promote",
             "reduce", "extrema", "cumulative", "shape", "copying", "join",
             "inplace", "indexing", "scatter", "sorting", "linalg", "einsum", "decompositions",
             "creation", "random_sampling", "activation", "conv", "pooling", "normalization", "transfer",
             "affine", "activation_piecewise", "activation_smooth", "loss", "padding", "sparse",
             "recurrent", "attention", "identity", "recompute")
__all__ = sorted({name for _family in _FAMILIES
                  for name in _sys.modules["zerograd.ops." + _family].__all__})
