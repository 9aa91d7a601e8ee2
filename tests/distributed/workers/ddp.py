"""Run under `mpiexec -n 2`: DDP with 2 ranks x batch 32 ends with the weights of 1 process x
batch 64 (20 SGD and 20 Adam steps, MLP); no_sync accumulation; unused-parameter errors;
state_dict prefix; DistributedSampler shards. Prints `ALL OK` on each rank."""
import numpy as np

import zerograd as torch
import zerograd.distributed as dist
from zerograd import nn
from zerograd.nn.parallel import DistributedDataParallel as DDP
from zerograd.utils.data import DistributedSampler

dist.init_process_group("mpi")
rank, n = dist.get_rank(), dist.get_world_size()


def mlp(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 32), nn.ReLU(),
                         nn.Linear(32, 3))


g = torch.Generator().manual_seed(7)
X = torch.randn(20, 64, 10, generator=g)
Y = torch.randint(0, 3, (20, 64), generator=g)
loss_fn = nn.CrossEntropyLoss()

for make_opt in (lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
                 lambda ps: torch.optim.Adam(ps, lr=0.01)):
    reference = mlp(0)
    model = DDP(mlp(rank + 1), bucket_cap_mb=0.001)  # rank 0's weights win; several buckets
    reference.load_state_dict(model.module.state_dict())
    opt_ref, opt = make_opt(reference.parameters()), make_opt(model.parameters())
    for step in range(20):
        opt_ref.zero_grad()
        loss_fn(reference(X[step]), Y[step]).backward()
        opt_ref.step()
        opt.zero_grad()
        mine = slice(32 * rank, 32 * rank + 32)
        loss_fn(model(X[step][mine]), Y[step][mine]).backward()
        opt.step()
    for (name, p), q in zip(model.module.named_parameters(), reference.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-4,
                                   atol=1e-5, err_msg=name)
print(f"rank {rank}: DDP == single process (SGD, Adam)", flush=True)

assert all(k.startswith("module.") for k in model.state_dict())
assert isinstance(model.module, nn.Sequential)

# no_sync: two micro-batches per rank, the first without communication
reference, model = mlp(3), DDP(mlp(3))
loss_fn(reference(X[0]), Y[0]).backward()
with model.no_sync():
    part = slice(32 * rank, 32 * rank + 16)
    (loss_fn(model(X[0][part]), Y[0][part]) / 2).backward()
    local = [p.grad.numpy().copy() for p in model.parameters()]
part = slice(32 * rank + 16, 32 * rank + 32)
(loss_fn(model(X[0][part]), Y[0][part]) / 2).backward()
for p, q, before in zip(model.parameters(), reference.parameters(), local):
    np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-6)
other = [None] * n
dist.all_gather_object(other, float(local[0].sum()))
assert other[0] != other[1], "no_sync must not have averaged"
print(f"rank {rank}: no_sync ok", flush=True)


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.used, self.unused = nn.Linear(4, 2), nn.Linear(4, 2)

    def forward(self, x):
        return self.used(x)


model = DDP(TwoHeads())
try:
    model(torch.ones(3, 4)).sum().backward()
    raise AssertionError("an unused parameter must fail without find_unused_parameters")
except RuntimeError as e:
    assert "find_unused_parameters=True" in str(e) and "rank" in str(e), e
model = DDP(TwoHeads(), find_unused_parameters=True)
for _ in range(2):
    model.zero_grad()
    model(torch.ones(3, 4) * (rank + 1)).sum().backward()
    assert model.module.unused.weight.grad is None
    np.testing.assert_allclose(model.module.used.weight.grad.numpy(), np.full((2, 4), 1.5 * 3))
print(f"rank {rank}: unused parameters ok", flush=True)

# the sampler under the process group: shards disjoint and complete
for size in (11, 64, 7):
    for drop_last in (False, True):
        s = DistributedSampler(range(size), drop_last=drop_last, seed=3)
        s.set_epoch(2)
        shards = [None] * n
        dist.all_gather_object(shards, list(s))
        joined = shards[0] + shards[1]
        if drop_last:
            assert len(set(joined)) == len(joined) == size - size % n
        else:
            assert set(joined) == set(range(size)) and len(joined) == size + size % n
print(f"rank {rank}: ALL OK", flush=True)
