"""SyncBatchNorm on one process against torch: the sync op with no group is batch norm
(values, input/weight/bias gradients, jvp, float64 gradcheck and gradgradcheck, array
backward == graph backward), the layer equals torch's SyncBatchNorm (which is BatchNorm
without a process group) in train and eval, and convert_sync_batchnorm mirrors torch's.
The multi-rank behaviour is tested under mpiexec in tests/distributed/test_mpi.py."""
import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd import nn
from zerograd.autograd import gradcheck, gradgradcheck
from zerograd.ops.sync_batch_norm import all_reduce_sum, sync_batch_norm
from tests.autograd.backward_array_check import check_backward_array
from tests.oracle import assert_close, check, check_jvp, check_module

# torch's SyncBatchNorm calls torch.jit.script internally, which warns in torch 2.13
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
RNG = np.random.default_rng(3)
TF = torch.nn.functional
TOL = dict(rtol=1e-4, atol=1e-4)


def randn(*shape, dtype=np.float32, loc=0.0, scale=1.0):
    return (RNG.standard_normal(shape) * scale + loc).astype(dtype)


def _ours(x, *p):
    return sync_batch_norm(x, None, None, *p)


def _torchs(x, *p):
    return TF.batch_norm(x, None, None, *p, training=True)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (4, 3, 5, 6), (2, 3, 2, 2, 3)])
@pytest.mark.parametrize("affine", [True, False])
def test_sync_op_without_group_is_batch_norm(shape, affine, device):
    x = randn(*shape, loc=2.0, scale=3.0)
    params = [randn(3), randn(3)] if affine else []
    check(_ours, _torchs, x, *params, **TOL, device=device)


def test_sync_op_keeps_float32_statistics_accurate_for_a_large_mean():
    x = randn(64, 4, 8, loc=1000.0, scale=0.5)
    check(_ours, _torchs, x, rtol=1e-3, atol=2e-3)


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 5)])
def test_sync_op_forward_mode_matches_torch(shape, device):
    check_jvp(_ours, _torchs, randn(*shape), randn(3), randn(3), **TOL, device=device)


def test_sync_op_gradcheck_and_gradgradcheck_float64():
    x = zg.tensor(randn(4, 3, 2, dtype=np.float64), requires_grad=True)
    w = zg.tensor(randn(3, dtype=np.float64), requires_grad=True)
    b = zg.tensor(randn(3, dtype=np.float64), requires_grad=True)
    assert gradcheck(_ours, (x, w, b))
    assert gradgradcheck(_ours, (x, w, b))
    a = zg.tensor(randn(3, 2, dtype=np.float64), requires_grad=True)
    assert gradcheck(lambda t: all_reduce_sum(t, None) * t, (a,))
    assert gradgradcheck(lambda t: all_reduce_sum(t, None) * t, (a,))


def test_sync_op_array_backward_equals_graph_backward():
    check_backward_array(_ours, randn(5, 3, 4, dtype=np.float64), randn(3, dtype=np.float64),
                         randn(3, dtype=np.float64))
    check_backward_array(_ours, randn(6, 2, dtype=np.float64))


def test_sync_op_updates_running_statistics_like_batch_norm():
    x = randn(8, 3, 4, loc=1.0, scale=2.0)
    ours = [zg.zeros(3), zg.ones(3)]
    theirs = [torch.zeros(3), torch.ones(3)]
    for _ in range(3):
        sync_batch_norm(zg.tensor(x), *ours, momentum=0.3)
        TF.batch_norm(torch.tensor(x), *theirs, training=True, momentum=0.3)
    for o, t in zip(ours, theirs):
        assert_close(o, t, **TOL)


def test_sync_op_rejects_one_value_per_channel():
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        sync_batch_norm(zg.ones(1, 3), zg.zeros(3), zg.ones(3))


@pytest.mark.parametrize("kwargs", [{}, {"affine": False}, {"momentum": None},
                                    {"track_running_stats": False}])
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5, 5)])
def test_layer_without_a_process_group_matches_torch(kwargs, shape, device):
    ours, theirs = nn.SyncBatchNorm(4, **kwargs), torch.nn.SyncBatchNorm(4, **kwargs)
    for _ in range(2):
        check_module(ours, theirs, randn(*shape, loc=1.0), **TOL, device=device)
    ours.eval(), theirs.eval()
    check_module(ours, theirs, randn(*shape), **TOL, device=device)


def test_layer_checks_its_input():
    with pytest.raises(ValueError, match="expected at least 2D input"):
        nn.SyncBatchNorm(3)(zg.ones(3))
    with pytest.raises(ValueError, match="number of input channels should be non-zero"):
        nn.SyncBatchNorm(0)(zg.ones(2, 0))


def _nets(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(
        lib.nn.Conv2d(1, 4, 3), lib.nn.BatchNorm2d(4, momentum=0.2),
        lib.nn.Sequential(lib.nn.Flatten(), lib.nn.Linear(4 * 4 * 4, 5),
                          lib.nn.BatchNorm1d(5, affine=False)), lib.nn.ReLU())


def test_convert_sync_batchnorm_replaces_every_batch_norm_like_torch():
    ours, theirs = _nets(zg), _nets(torch)
    ours[1].eval()
    before = {n: p for n, p in ours.named_parameters()}
    buffers = {n: b for n, b in ours.named_buffers()}
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(ours, process_group="pg")
    want = torch.nn.SyncBatchNorm.convert_sync_batchnorm(theirs)
    kinds = [type(m).__name__ for m in converted.modules()]
    assert kinds == [type(m).__name__ for m in want.modules()]
    assert kinds.count("SyncBatchNorm") == 2 and "BatchNorm2d" not in kinds
    assert converted is ours  # the root was no BatchNorm: converted in place
    assert all(p is before[n] for n, p in converted.named_parameters())
    assert all(b is buffers[n] for n, b in converted.named_buffers())
    assert list(converted.state_dict()) == list(want.state_dict())
    bn = converted[1]
    assert (bn.momentum, bn.process_group, bn.training) == (0.2, "pg", False)
    assert converted[2][2].affine is False and converted[2][2].weight is None


def test_convert_sync_batchnorm_of_a_bare_batch_norm_returns_a_new_module():
    bn = nn.BatchNorm1d(3, eps=1e-3)
    bn(zg.randn(4, 3))
    sync = nn.SyncBatchNorm.convert_sync_batchnorm(bn)
    assert type(sync) is nn.SyncBatchNorm and sync is not bn
    assert sync.eps == 1e-3 and sync.weight is bn.weight
    assert sync.running_mean is bn.running_mean and int(sync.num_batches_tracked) == 1
