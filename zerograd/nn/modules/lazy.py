"""Lazy layers whose input size comes from the first batch: ``LazyConv1d``, ``LazyConv2d``,
``LazyBatchNorm1d``, ``LazyBatchNorm2d`` (``LazyLinear`` lives with ``Linear``).

d2l's modern-CNN chapters write ``nn.LazyConv2d(96, kernel_size=11)`` and
``nn.LazyBatchNorm2d()`` throughout. Until the first forward the shape-dependent tensors
are uninitialized; the first call materializes and initializes them exactly as the eager
layer's constructor would, and the module then becomes that eager class (``Conv2d``...).
"""
from zerograd.nn.modules.conv import Conv1d, Conv2d
from zerograd.nn.modules.module import LazyModuleMixin
from zerograd.nn.modules.normalization import BatchNorm1d, BatchNorm2d
from zerograd.nn.parameter import UninitializedBuffer, UninitializedParameter

__all__ = ["LazyConv1d", "LazyConv2d", "LazyBatchNorm1d", "LazyBatchNorm2d"]


class _LazyConv(LazyModuleMixin):
    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        # the eager constructor with 0 channels, then shapeless parameters in their place
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False,
                         padding_mode, device, dtype)
        self.out_channels = out_channels
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args):
        if not self.has_uninitialized_params():  # load_state_dict fixed the shapes
            self.in_channels = self.weight.shape[1] * self.groups
            return
        # (C, *spatial) is an unbatched input, (N, C, *spatial) a batch
        self.in_channels = input.shape[0] if input.ndim == self._nd + 1 else input.shape[1]
        if self.in_channels % self.groups != 0:
            raise ValueError(f"in_channels ({self.in_channels}, from the input's shape "
                             f"{tuple(input.shape)}) must be divisible by groups "
                             f"({self.groups})")
        self.weight.materialize((self.out_channels, self.in_channels // self.groups)
                                + self.kernel_size)
        if self.bias is not None:
            self.bias.materialize((self.out_channels,))
        self.reset_parameters()


class LazyConv1d(_LazyConv, Conv1d):
    """A ``Conv1d`` whose ``in_channels`` is read from the first input."""

    cls_to_become = Conv1d


class LazyConv2d(_LazyConv, Conv2d):
    """A ``Conv2d`` whose ``in_channels`` is read from the first input."""

    cls_to_become = Conv2d


class _LazyBatchNorm(LazyModuleMixin):
    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None):
        super().__init__(0, eps, momentum, affine, track_running_stats, device, dtype)
        if self.affine:
            self.weight = UninitializedParameter(device=device, dtype=dtype)
            self.bias = UninitializedParameter(device=device, dtype=dtype)
        if self.track_running_stats:
            self.running_mean = UninitializedBuffer(device=device, dtype=dtype)
            self.running_var = UninitializedBuffer(device=device, dtype=dtype)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args):
        if not self.has_uninitialized_params():  # load_state_dict fixed the shapes
            fixed = self.weight if self.weight is not None else self.running_mean
            if fixed is not None:
                self.num_features = fixed.shape[0]
            return
        self.num_features = input.shape[1]
        for t in (self.weight, self.bias, self.running_mean, self.running_var):
            if t is not None:
                t.materialize((self.num_features,))
        self.reset_parameters()


class LazyBatchNorm1d(_LazyBatchNorm, BatchNorm1d):
    """A ``BatchNorm1d`` whose ``num_features`` is read from the first input."""

    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyBatchNorm, BatchNorm2d):
    """A ``BatchNorm2d`` whose ``num_features`` is read from the first input."""

    cls_to_become = BatchNorm2d
