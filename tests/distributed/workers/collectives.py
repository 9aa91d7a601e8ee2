"""Run under `mpiexec -n 2`: every collective and ReduceOp against NumPy, the errors, and
JSON object collectives. Prints `ALL OK` on each rank; any failed assert aborts the job."""
import numpy as np

import zerograd as torch
import zerograd.distributed as dist

try:
    dist.all_reduce(torch.ones(2))
    raise AssertionError("collective before init must fail")
except ValueError as e:
    assert "has not been initialized" in str(e)

dist.init_process_group("gloo")
try:
    dist.init_process_group("mpi")
    raise AssertionError("second init must fail")
except ValueError as e:
    assert "twice" in str(e)

rank, n = dist.get_rank(), dist.get_world_size()
assert n == 2 and dist.is_initialized() and dist.get_backend() == "gloo"


def value(r, shape, dtype):
    """Rank r's test array (deterministic, distinct per rank)."""
    rng = np.random.default_rng(100 + r)
    if np.dtype(dtype) == np.bool_:
        return np.asarray(rng.random(shape) > 0.5)
    if np.dtype(dtype).kind in "iu":
        return rng.integers(1, 5, shape).astype(dtype)
    return rng.uniform(0.5, 2, shape).astype(dtype)


REF = {dist.ReduceOp.SUM: np.sum, dist.ReduceOp.PRODUCT: np.prod, dist.ReduceOp.MIN: np.min,
       dist.ReduceOp.MAX: np.max, dist.ReduceOp.AVG: np.mean}
DTYPES = [np.float32, np.float64, np.int32, np.int64, np.uint8, np.float16, np.bool_]
SHAPES = [(), (5,), (3, 4), (2, 3, 5)]
checked = 0
for dtype in DTYPES:
    for shape in SHAPES:
        stack = np.stack([value(r, shape, dtype) for r in range(n)])
        for op, ref in REF.items():
            if op is dist.ReduceOp.AVG and np.dtype(dtype).kind not in "fc":
                continue
            if np.dtype(dtype) == np.bool_:
                want = stack.any(0) if op in (dist.ReduceOp.SUM, dist.ReduceOp.MAX) else stack.all(0)
            else:
                want = ref(stack, axis=0).astype(dtype)
            tol = 1e-3 if dtype == np.float16 else 1e-6
            for async_op in (False, True):
                t = torch.from_numpy(value(rank, shape, dtype).copy())
                work = dist.all_reduce(t, op=op, async_op=async_op)
                if async_op:
                    work.wait()
                    assert work.is_completed()
                np.testing.assert_allclose(t.numpy().astype(float), want.astype(float), rtol=tol)
                checked += 1
            t = torch.from_numpy(value(rank, shape, dtype).copy())
            dist.reduce(t, dst=1, op=op)
            mine = want if rank == 1 else value(rank, shape, dtype)
            np.testing.assert_allclose(t.numpy().astype(float), mine.astype(float), rtol=tol)
print(f"rank {rank}: all_reduce/reduce {checked} cases ok", flush=True)

# a strided (non-contiguous) tensor is reduced through a copy and written back
base = torch.arange(12, dtype=torch.float64).reshape(3, 4) + rank
view = base.t()
dist.all_reduce(view)
np.testing.assert_allclose(base.numpy(), 2 * np.arange(12).reshape(3, 4) + 1)

for dtype in (np.float32, np.int64, np.float16, np.bool_):
    shape = (3, 2)
    per_rank = [value(r, shape, dtype) for r in range(n)]
    t = torch.from_numpy(per_rank[rank].copy())
    dist.broadcast(t, src=1)
    np.testing.assert_array_equal(t.numpy(), per_rank[1])
    out = [torch.from_numpy(np.zeros(shape, dtype)) for _ in range(n)]
    dist.all_gather(out, torch.from_numpy(per_rank[rank]))
    for r in range(n):
        np.testing.assert_array_equal(out[r].numpy(), per_rank[r])
    big = torch.from_numpy(np.zeros((2 * 3, 2), dtype))
    dist.all_gather_into_tensor(big, torch.from_numpy(per_rank[rank]), async_op=True).wait()
    np.testing.assert_array_equal(big.numpy(), np.concatenate(per_rank))
    glist = [torch.from_numpy(np.zeros(shape, dtype)) for _ in range(n)] if rank == 0 else None
    dist.gather(torch.from_numpy(per_rank[rank]), glist, dst=0)
    if rank == 0:
        for r in range(n):
            np.testing.assert_array_equal(glist[r].numpy(), per_rank[r])
    recv = torch.from_numpy(np.zeros(shape, dtype))
    slist = [torch.from_numpy(value(10 + r, shape, dtype)) for r in range(n)] if rank == 1 else None
    dist.scatter(recv, slist, src=1)
    np.testing.assert_array_equal(recv.numpy(), value(10 + rank, shape, dtype))

for dtype in (np.float32, np.float64, np.int32, np.float16):
    for op in (dist.ReduceOp.SUM, dist.ReduceOp.MAX, dist.ReduceOp.AVG):
        if op is dist.ReduceOp.AVG and dtype == np.int32:
            continue
        inputs = [value(r, (4, 3), dtype) for r in range(n)]
        out = torch.from_numpy(np.zeros((2, 3), dtype))
        dist.reduce_scatter_tensor(out, torch.from_numpy(inputs[rank]), op=op)
        want = REF[op](np.stack(inputs), axis=0).astype(dtype)[2 * rank:2 * rank + 2]
        np.testing.assert_allclose(out.numpy().astype(float), want.astype(float), rtol=1e-3)

# all_to_all_single, equal and uneven splits
inp = torch.arange(4, dtype=torch.float32) + 10 * rank
out = torch.zeros(4)
dist.all_to_all_single(out, inp)
np.testing.assert_array_equal(out.numpy(), [2 * rank + 0, 2 * rank + 1, 2 * rank + 10, 2 * rank + 11])
in_splits = [1, 2] if rank == 0 else [3, 1]          # rank 0 sends 1 row to 0, 2 to 1
out_splits = [1, 3] if rank == 0 else [2, 1]
inp = torch.arange(sum(in_splits) * 2, dtype=torch.int64).reshape(-1, 2) + 100 * rank
out = torch.zeros((sum(out_splits), 2), dtype=torch.int64)
dist.all_to_all_single(out, inp, out_splits, in_splits)
if rank == 0:
    np.testing.assert_array_equal(out.numpy().ravel(), [0, 1, 100, 101, 102, 103, 104, 105])
else:
    np.testing.assert_array_equal(out.numpy().ravel(), [2, 3, 4, 5, 106, 107])

# point to point
t = torch.arange(5, dtype=torch.float64) * (rank + 1)
if rank == 0:
    dist.send(t, dst=1)
    w = dist.irecv(t, src=1)
    w.wait()
    np.testing.assert_array_equal(t.numpy(), np.arange(5) * 2)
else:
    got = torch.zeros(5, dtype=torch.float64)
    assert dist.recv(got) == 0
    np.testing.assert_array_equal(got.numpy(), np.arange(5))
    dist.isend(t, dst=0).wait()

# a recv whose tensor does not match what was sent: a clear error, the message stays queued
t = torch.arange(5, dtype=torch.float64)
if rank == 0:
    dist.send(t, dst=1)
else:
    try:
        dist.recv(torch.zeros(4, dtype=torch.float64), src=0)
        raise AssertionError("a recv of the wrong size must fail")
    except RuntimeError as e:
        assert "rank 0 sent 40 bytes" in str(e) and "holds 32" in str(e), e
    got = torch.zeros(5, dtype=torch.float64)
    dist.recv(got, src=0)
    np.testing.assert_array_equal(got.numpy(), np.arange(5))

# objects (JSON), groups, barrier
objs = [{"a": [1, 2]}, "x", 3] if rank == 0 else [None, None, None]
dist.broadcast_object_list(objs, src=0)
assert objs == [{"a": [1, 2]}, "x", 3]
everyone = [None] * n
dist.all_gather_object(everyone, {"rank": rank})
assert everyone == [{"rank": 0}, {"rank": 1}]
try:
    dist.all_gather_object(everyone, object() if rank == 1 else 1)
    raise AssertionError("non-JSON objects must be refused")
except TypeError as e:
    assert "JSON" in str(e)
solo = dist.new_group([1])
assert dist.get_world_size(solo) == 1 and dist.get_rank(solo) == (0 if rank == 1 else -1)
t = torch.ones(2)
dist.all_reduce(t, group=solo)  # a no-op on rank 0 (not a member)
assert t.tolist() == [1.0, 1.0]
dist.barrier()
dist.barrier(async_op=True).wait()

# mismatched shapes or dtypes: a clear error on every rank, not a hang; the message names
# what each rank passed (past 8 dims, the size of the rest must still agree)
nine = [1] * 8
for bad, said in ((torch.zeros(3 + rank), "rank 0 has float32 [3]; rank 1 has float32 [4]"),
                  (torch.zeros(3, dtype=torch.float64 if rank else torch.float32),
                   "rank 0 has float32 [3]; rank 1 has float64 [3]"),
                  (torch.zeros(2, 3) if rank else torch.zeros(3, 2), "[3, 2]; rank 1 has"),
                  (torch.zeros(*nine, 2, 3 + rank), "+ 3 more dims of 6 elements; rank 1")):
    for collective in (dist.all_reduce, dist.broadcast, dist.all_reduce):  # again: cached
        try:
            collective(bad)
            raise AssertionError("mismatch must fail")
        except RuntimeError as e:
            assert "differ across ranks" in str(e) and said in str(e), e
ok = torch.ones(*nine, 2, 3)  # the same 10-dim shape agrees
dist.all_reduce(ok)
assert ok.sum().item() == 2 * 6
dist.destroy_process_group()
assert not dist.is_initialized()
print(f"rank {rank}: ALL OK", flush=True)
