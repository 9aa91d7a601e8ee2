"""``zerograd.utils``: data loading."""
from zerograd.utils import data  # noqa: F401,E402  (torch.utils.data works after import torch)
