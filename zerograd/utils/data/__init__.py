"""``zerograd.utils.data``: datasets, samplers, collation and the DataLoader (torch's API).

Fast path: a dataset that implements ``__getbatch__(indices)`` (``TensorDataset``,
``Subset`` of one, ``zerograd.datasets.MNIST``...) has each batch gathered with one
vectorized indexing call instead of a Python loop over samples; see ``dataset.py``.
"""
from zerograd.utils.data.collate import *  # noqa: F401,F403
from zerograd.utils.data.dataset import *  # noqa: F401,F403
from zerograd.utils.data.sampler import *  # noqa: F401,F403
from zerograd.utils.data.worker import *  # noqa: F401,F403
from zerograd.utils.data.dataloader import *  # noqa: F401,F403
from zerograd.utils.data.distributed import DistributedSampler  # noqa: F401
