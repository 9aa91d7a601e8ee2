"""torch's path for the pytree helpers (``torch.utils._pytree``); they live in
``zerograd.autograd._pytree`` because the function transforms are built on them."""
from zerograd.autograd._pytree import (  # noqa: F401
    TreeSpec, tree_flatten, tree_leaves, tree_map, tree_unflatten)
