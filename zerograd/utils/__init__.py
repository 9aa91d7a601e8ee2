"""``zerograd.utils``: data loading, activation checkpointing, hook handles."""
from zerograd.utils import data  # noqa: F401,E402  (torch.utils.data works after import torch)
from zerograd.utils import checkpoint, hooks  # noqa: F401,E402
