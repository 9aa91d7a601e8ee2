"""``DistributedSampler``: each rank iterates its own shard of the dataset.

torch's rules: with ``drop_last=False`` the (shuffled) index list is padded by repeating its
start until it divides evenly, so every rank gets ``ceil(N / replicas)`` indices; with
``drop_last=True`` the tail is dropped to ``floor(N / replicas)`` each. Rank r takes every
``replicas``-th index starting at r. Every rank shuffles with the same seed (``seed +
epoch``), so the shards are disjoint and together cover the dataset; call ``set_epoch`` at
the start of each epoch for a new order.
"""
import math

from zerograd.random import Generator
from zerograd.utils.data.sampler import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler):
    """Yield this rank's indices of ``dataset`` (``num_replicas`` and ``rank`` default to the
    default process group's)."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            from zerograd import distributed as dist
            if not dist.is_available():
                raise RuntimeError("Requires distributed package to be available")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def _all_indices(self):
        """The padded (or truncated) index list that all ranks share before sharding."""
        n = len(self.dataset)
        if self.shuffle:
            from zerograd.ops import randperm
            g = Generator()
            g.manual_seed(self.seed + self.epoch)
            indices = randperm(n, generator=g).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            padding = self.total_size - len(indices)
            if padding <= len(indices):
                indices += indices[:padding]
            else:
                indices += (indices * math.ceil(padding / len(indices)))[:padding]
        else:
            indices = indices[:self.total_size]
        return indices

    def __iter__(self):
        indices = self._all_indices()[self.rank:self.total_size:self.num_replicas]
        assert len(indices) == self.num_samples
        return iter(indices)

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Use ``epoch`` in the shuffle's seed, so each epoch has its own order."""
        self.epoch = epoch
