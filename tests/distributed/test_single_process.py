"""What runs without mpiexec: DistributedSampler against torch's own (no process group),
DataParallel as a pass-through, and the errors before init_process_group."""
import numpy as np
import pytest
import torch

import zerograd as zg
import zerograd.distributed as dist
from zerograd.utils.data import DistributedSampler


@pytest.mark.parametrize("size", [1, 2, 7, 10, 11, 64, 101])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_matches_torch_without_shuffle(size, replicas, drop_last):
    for rank in range(replicas):
        ours = DistributedSampler(range(size), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = torch.utils.data.DistributedSampler(range(size), replicas, rank, shuffle=False,
                                                     drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)


@pytest.mark.parametrize("size", [7, 11, 64])
@pytest.mark.parametrize("drop_last", [False, True])
def test_shuffled_shards_are_disjoint_complete_and_change_with_the_epoch(size, drop_last):
    def shards(epoch):
        out = []
        for rank in range(3):
            s = DistributedSampler(range(size), 3, rank, seed=5, drop_last=drop_last)
            s.set_epoch(epoch)
            out.append(list(s))
        return out

    first = shards(0)
    joined = sum(first, [])
    assert len({len(s) for s in first}) == 1
    if drop_last:
        assert len(set(joined)) == len(joined) == size - size % 3
    else:
        assert set(joined) == set(range(size)) and len(joined) == -(-size // 3) * 3
    assert shards(0) == first and shards(1) != first


def test_sampler_rejects_a_bad_rank_with_torchs_message():
    with pytest.raises(ValueError, match=r"Invalid rank 3, rank should be in the interval \[0, 2\]"):
        DistributedSampler(range(5), 3, 3)


def test_data_parallel_is_a_pass_through_with_the_module_prefix():
    inner = zg.nn.Linear(3, 2)
    model = zg.nn.DataParallel(inner)
    x = zg.randn(4, 3)
    np.testing.assert_array_equal(model(x).detach().numpy(), inner(x).detach().numpy())
    assert sorted(model.state_dict()) == ["module.bias", "module.weight"]


def test_calls_before_init_process_group_fail_with_torchs_message():
    assert not dist.is_initialized()
    for call in (lambda: dist.get_rank(), lambda: dist.all_reduce(zg.ones(2)),
                 lambda: zg.nn.parallel.DistributedDataParallel(zg.nn.Linear(2, 2))):
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            call()
    assert dist.ReduceOp.SUM is not dist.ReduceOp.AVG
    with pytest.raises(ValueError, match="Invalid backend"):
        dist.init_process_group("ucc")
