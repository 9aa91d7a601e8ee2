"""Run under `mpiexec -n 2`: DDP with 2 ranks x batch 32 ends with the weights of 1 process x
batch 64 (20 SGD and 20 Adam steps, an MLP and a LeNet with SyncBatchNorm, whose running
statistics must match too); no_sync accumulation; unused-parameter errors; state_dict prefix;
DistributedSampler shards. Prints `ALL OK` on each rank."""
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


def lenet(seed):
    """d2l's LeNet with batch norm (sigmoid, average pooling), in float64. In float32 the two
    runs agree to ~1e-7 at first, then part: Adam divides by sqrt(v) + 1e-8 and so turns
    rounding noise in near-zero gradients into steps of up to lr (with max pooling and ReLU,
    a tie or kink also lets rounding switch a gradient's path). The layers before BatchNorm
    have no bias: BatchNorm cancels it and its gradient is pure rounding noise."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, bias=False), nn.BatchNorm2d(6), nn.Sigmoid(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5, bias=False), nn.BatchNorm2d(16), nn.Sigmoid(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 120, bias=False), nn.BatchNorm1d(120), nn.Sigmoid(),
        nn.Linear(120, 84, bias=False), nn.BatchNorm1d(84), nn.Sigmoid(),
        nn.Linear(84, 10)).double()


def sync_lenet(seed):
    return nn.SyncBatchNorm.convert_sync_batchnorm(lenet(seed))


g = torch.Generator().manual_seed(7)
loss_fn = nn.CrossEntropyLoss()
CASES = [("MLP", mlp, mlp, torch.randn(20, 64, 10, generator=g),
          torch.randint(0, 3, (20, 64), generator=g), dict(rtol=1e-4, atol=1e-5)),
         ("LeNet+SyncBatchNorm", lenet, sync_lenet,
          torch.randn(20, 64, 1, 28, 28, generator=g, dtype=torch.float64),
          torch.randint(0, 10, (20, 64), generator=g), dict(rtol=1e-9, atol=1e-11))]
X, Y = CASES[0][3], CASES[0][4]

for label, make_reference, make_model, inputs, labels, tol in CASES:
    for make_opt in (lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
                     lambda ps: torch.optim.Adam(ps, lr=0.01)):
        reference = make_reference(0)  # one process, plain BatchNorm over the whole batch
        model = DDP(make_model(rank + 1), bucket_cap_mb=0.001)  # rank 0's weights win
        reference.load_state_dict(model.module.state_dict())
        opt_ref, opt = make_opt(reference.parameters()), make_opt(model.parameters())
        for step in range(20):
            opt_ref.zero_grad()
            loss_fn(reference(inputs[step]), labels[step]).backward()
            opt_ref.step()
            opt.zero_grad()
            mine = slice(32 * rank, 32 * rank + 32)
            loss_fn(model(inputs[step][mine]), labels[step][mine]).backward()
            opt.step()
        ours, theirs = model.module.state_dict(), reference.state_dict()
        assert list(ours) == list(theirs)
        for name in theirs:  # parameters and the running statistics
            np.testing.assert_allclose(ours[name].numpy(), theirs[name].numpy(), **tol,
                                       err_msg=f"{label} {name} {type(opt).__name__}")
    print(f"rank {rank}: DDP == single process (SGD, Adam) for the {label}", flush=True)

assert all(k.startswith("module.") for k in model.state_dict())
assert isinstance(model.module, nn.Sequential)

# gradient_as_bucket_view: the gradients become views of the (in-place) bucket buffers, and
# training matches the default reducer's (separate send and result buffers), also when
# zero_grad keeps the gradients (zeroed in place, so backward accumulates into the bucket)
for set_to_none in (True, False):
    runs = []
    for as_view in (False, True):
        model = DDP(mlp(5), bucket_cap_mb=0.001, gradient_as_bucket_view=as_view)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        for step in range(5):
            opt.zero_grad(set_to_none=set_to_none)
            mine = slice(32 * rank, 32 * rank + 32)
            loss_fn(model(X[step][mine]), Y[step][mine]).backward()
            opt.step()
        shares = [any(np.may_share_memory(p.grad.numpy(), b.buffer) for b in model._buckets)
                  for p in model.parameters()]
        assert all(shares) if as_view else not any(shares), (as_view, shares)
        runs.append([p.detach().numpy().copy() for p in model.parameters()])
    for a, b in zip(*runs):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
print(f"rank {rank}: gradient_as_bucket_view ok", flush=True)

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

# SyncBatchNorm alone: each rank's half of one batch is normalised with the whole batch's
# statistics; its input gradient (array backward), its second derivative (create_graph,
# through the differentiable all-reduce) and the summed weight gradients equal BatchNorm's on
# the whole batch; eval and one-rank groups do not communicate; mismatches fail everywhere
gen = torch.Generator().manual_seed(1)
full = torch.randn(8, 3, 5, generator=gen, dtype=torch.float64)
upstream = torch.randn(8, 3, 5, generator=gen, dtype=torch.float64)
half = slice(4 * rank, 4 * rank + 4)
sync, plain = nn.SyncBatchNorm(3).double(), nn.BatchNorm1d(3).double()
whole, mine = full.clone().requires_grad_(), full[half].clone().requires_grad_()
want, out = plain(whole), sync(mine)
np.testing.assert_allclose(out.detach().numpy(), want.detach().numpy()[half], rtol=1e-10)
np.testing.assert_allclose(sync.running_var.numpy(), plain.running_var.numpy(), rtol=1e-12)
(want * upstream).sum().backward()
(out * upstream[half]).sum().backward()
np.testing.assert_allclose(mine.grad.numpy(), whole.grad.numpy()[half], rtol=1e-9, atol=1e-12)
for p, q in zip(sync.parameters(), plain.parameters()):
    dist.all_reduce(p.grad)  # local sums, as torch's: DDP averages them
    np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10)
(g_whole,) = torch.autograd.grad((plain(whole) * upstream).sum(), whole, create_graph=True)
(g_mine,) = torch.autograd.grad((sync(mine) * upstream[half]).sum(), mine, create_graph=True)
np.testing.assert_allclose(g_mine.detach().numpy(), whole.grad.numpy()[half], rtol=1e-9,
                           atol=1e-12)
(gg_whole,) = torch.autograd.grad((g_whole ** 2).sum(), whole)
(gg_mine,) = torch.autograd.grad((g_mine ** 2).sum(), mine)
np.testing.assert_allclose(gg_mine.numpy(), gg_whole.numpy()[half], rtol=1e-8, atol=1e-10)
sync.eval()
if rank == 0:  # would hang if evaluation communicated
    sync(mine)
alone = nn.SyncBatchNorm(3, process_group=dist.new_group([1])).double()
np.testing.assert_allclose(alone(mine).detach().numpy(), nn.functional.batch_norm(
    mine, None, None, training=True).detach().numpy(), rtol=1e-12)
try:
    nn.SyncBatchNorm(3 + rank)(torch.ones(4, 3 + rank))
    raise AssertionError("SyncBatchNorm with different channel counts must fail")
except RuntimeError as e:
    assert "differ across ranks" in str(e), e
dist.barrier()
print(f"rank {rank}: SyncBatchNorm ok", flush=True)

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
