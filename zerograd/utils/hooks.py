"""``zerograd.utils.hooks``: the handle every ``register_*hook`` returns (as torch's)."""
from zerograd.autograd.graph import RemovableHandle  # noqa: F401

__all__ = ["RemovableHandle"]
