"""``SyncBatchNorm``: batch norm whose training statistics span every rank of a process group.

With data parallelism each rank sees a slice of the batch; a small per-rank batch makes
BatchNorm's statistics noisy. ``SyncBatchNorm`` all-reduces them (zerograd/ops/
sync_batch_norm.py), so 2 ranks x 32 samples normalise exactly like 1 process x 64. Without
an initialised process group, with a group of one rank, or in ``eval()`` it is BatchNorm.
``convert_sync_batchnorm`` swaps every BatchNorm of a model for one, as torch's does.
"""
from zerograd import distributed as dist
from zerograd.nn.modules.normalization import _BatchNorm
from zerograd.ops.sync_batch_norm import sync_batch_norm

__all__ = ["SyncBatchNorm"]


class SyncBatchNorm(_BatchNorm):
    """Batch normalization of (N, C, *) input over the global batch of ``process_group``
    (the default group when None); torch 2.13's signature and behaviour."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats,
                         device=device, dtype=dtype)
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def _check_non_zero_input_channels(self, input):
        if input.size(1) == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")

    def forward(self, input):
        self._check_input_dim(input)
        self._check_non_zero_input_channels(input)
        group = self._sync_group()
        if group is None:
            return super().forward(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked._data += 1
            self.num_batches_tracked._bump_version()
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.item())
        running = self.track_running_stats
        return sync_batch_norm(input, self.running_mean if running else None,
                               self.running_var if running else None, self.weight, self.bias,
                               factor, self.eps, group)

    def _sync_group(self):
        """The group to synchronise over, or None when this forward is plain BatchNorm
        (evaluation, or no group of more than one rank)."""
        if not self.training or not dist.is_available() or not dist.is_initialized():
            return None
        group = self.process_group if self.process_group is not None else dist.group.WORLD
        return group if dist.get_world_size(group) > 1 else None

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every BatchNorm*d (recursively) replaced by a SyncBatchNorm that
        shares its parameters and buffers; returns the new root when ``module`` itself is a
        BatchNorm."""
        converted = module
        if isinstance(module, _BatchNorm):
            converted = cls(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats, process_group)
            if module.affine:
                converted.weight = module.weight
                converted.bias = module.bias
            converted.running_mean = module.running_mean
            converted.running_var = module.running_var
            converted.num_batches_tracked = module.num_batches_tracked
            converted.training = module.training
            if hasattr(module, "qconfig"):
                converted.qconfig = module.qconfig
        for name, child in module.named_children():
            converted.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return converted
