"""DataLoader, samplers, datasets and collation against torch.utils.data."""
import collections
import gc
import threading
import time

import numpy as np
import pytest
import torch
import torch.utils.data as tdata

import zerograd as zg
import zerograd.utils.data as zdata


def same(z, t, path="batch"):
    """Recursively: same container types and keys, same tensor shapes, dtypes and values."""
    if isinstance(t, torch.Tensor):
        assert isinstance(z, zg.Tensor), f"{path}: {type(z).__name__} where torch has a tensor"
        assert str(z.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], \
            f"{path}: dtype {z.dtype} != {t.dtype}"
        assert tuple(z.shape) == tuple(t.shape), \
            f"{path}: shape {tuple(z.shape)} != {tuple(t.shape)}"
        np.testing.assert_array_equal(z.numpy(), t.numpy(), err_msg=path)
    elif isinstance(t, dict):
        assert type(z) is type(t) and list(z) == list(t), f"{path}: {z!r} vs {t!r}"
        for k in t:
            same(z[k], t[k], f"{path}[{k!r}]")
    elif isinstance(t, (list, tuple)):
        assert type(z).__name__ == type(t).__name__ and len(z) == len(t), \
            f"{path}: {type(z).__name__}[{len(z)}] vs {type(t).__name__}[{len(t)}]"
        for i, (a, b) in enumerate(zip(z, t)):
            same(a, b, f"{path}[{i}]")
    else:
        assert z == t and type(z) is type(t), f"{path}: {z!r} vs {t!r}"


def pair(n=10, f=3):
    x = np.arange(n * f, dtype=np.float32).reshape(n, f)
    y = np.arange(n, dtype=np.int64) * 7
    return (zdata.TensorDataset(zg.tensor(x), zg.tensor(y)),
            tdata.TensorDataset(torch.tensor(x), torch.tensor(y)))


def labels_of(loader):
    return np.concatenate([b[1].numpy() for b in loader])


class Counting(zdata.Dataset):
    """A plain map-style dataset (no batch protocol) that records every access."""

    def __init__(self, n, fail_at=None, delay=None):
        self.n, self.fail_at, self.delay, self.calls = n, fail_at, delay, 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.calls += 1
        if i == self.fail_at:
            raise ValueError(f"bad sample {i}")
        if self.delay is not None:
            time.sleep(self.delay(i))
        return np.full(2, i, dtype=np.float32), i


def worker_threads():
    return [t for t in threading.enumerate() if t.name.startswith("zerograd-DataLoader")]


@pytest.fixture(autouse=True)
def no_leaked_threads():
    yield
    if worker_threads():
        gc.collect()  # an exception caught by pytest.raises keeps its iterator in a cycle
    alive = worker_threads()
    assert not alive, f"leaked {alive}"


# -- batching ---------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_size,drop_last", [(1, False), (3, False), (3, True), (4, False),
                                                  (10, True), (16, False), (16, True)])
def test_batches_match_torch(batch_size, drop_last):
    zds, tds = pair()
    z = list(zdata.DataLoader(zds, batch_size=batch_size, drop_last=drop_last))
    t = list(tdata.DataLoader(tds, batch_size=batch_size, drop_last=drop_last))
    same(z, t)
    assert len(zdata.DataLoader(zds, batch_size=batch_size, drop_last=drop_last)) == len(t)


def test_last_partial_batch():
    zds, _ = pair(n=10)
    sizes = [len(b[0]) for b in zdata.DataLoader(zds, batch_size=4)]
    assert sizes == [4, 4, 2]
    assert [len(b[0]) for b in zdata.DataLoader(zds, batch_size=4, drop_last=True)] == [4, 4]


def test_batch_size_none_converts_samples_like_torch():
    samples = [(np.arange(3.0) + i, i, {"k": np.float32(i)}) for i in range(4)]
    z = list(zdata.DataLoader(samples, batch_size=None))
    t = list(tdata.DataLoader(samples, batch_size=None))
    same(z, t)


def test_non_dataset_sequences_work_like_torch():
    data = [np.array([i, i + 1], dtype=np.int32) for i in range(5)]
    same(list(zdata.DataLoader(data, batch_size=2)), list(tdata.DataLoader(data, batch_size=2)))


# -- collation ---------------------------------------------------------------------------------
Point = collections.namedtuple("Point", ["x", "y"])


def _nested_samples(i):
    return {"image": np.full((2, 2), i, dtype=np.uint8), "label": i, "weight": 0.5 * i,
            "flag": i % 2 == 0, "name": f"s{i}", "pair": (i, np.float64(i) / 3),
            "point": Point(np.int16(i), [1.5 * i, 2]),
            "ordered": collections.OrderedDict(a=np.arange(3) * i)}


def test_default_collate_nested_matches_torch():
    batch = [_nested_samples(i) for i in range(3)]
    same(zdata.default_collate(batch), tdata.default_collate(batch))


def test_default_collate_tensors():
    z = zdata.default_collate([(zg.ones(2, 3) * i, zg.tensor(i)) for i in range(4)])
    t = tdata.default_collate([(torch.ones(2, 3) * i, torch.tensor(i)) for i in range(4)])
    same(z, t)


def test_default_convert_matches_torch():
    data = (np.zeros(2), 1, (np.float64(3.0), "s"), {"a": [np.ones(1, np.float32)]})
    same(zdata.default_convert(data), tdata.default_convert(data))


@pytest.mark.parametrize("batch,error", [([[1, 2], [1]], RuntimeError),
                                         ([object()], TypeError),
                                         ([np.array(["a"])], TypeError)])
def test_default_collate_errors_match_torch(batch, error):
    with pytest.raises(error) as expected:
        tdata.default_collate(batch)
    with pytest.raises(error) as got:
        zdata.default_collate(batch)
    assert str(got.value) == str(expected.value)


def test_collate_keeps_autograd():
    w = zg.ones(3, requires_grad=True)
    batch = zdata.default_collate([w * 2, w * 3])
    batch.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [5, 5, 5])


# -- argument validation -----------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [
    dict(sampler=[0, 1], shuffle=True),
    dict(batch_sampler=[[0]], batch_size=2), dict(batch_sampler=[[0]], shuffle=True),
    dict(batch_sampler=[[0]], sampler=[0]), dict(batch_sampler=[[0]], drop_last=True),
    dict(batch_size=None, drop_last=True), dict(num_workers=-1), dict(timeout=-1),
    dict(prefetch_factor=2), dict(persistent_workers=True),
    dict(num_workers=1, prefetch_factor=-1)])
def test_option_errors_match_torch(kwargs):
    zds, tds = pair()
    with pytest.raises(ValueError) as expected:
        tdata.DataLoader(tds, **kwargs)
    with pytest.raises(ValueError) as got:
        zdata.DataLoader(zds, **kwargs)
    assert str(got.value) == str(expected.value)


def test_attributes_frozen_after_init():
    loader = zdata.DataLoader(pair()[0], batch_size=2)
    with pytest.raises(ValueError, match="batch_size attribute should not be set after "
                                         "DataLoader is initialized"):
        loader.batch_size = 3
    loader.timeout = 1  # not one of the frozen ones, as in torch


# -- order, shuffling, reproducibility ---------------------------------------------------------
def test_manual_seed_makes_shuffling_repeatable():
    zds, _ = pair(n=50)
    loader = zdata.DataLoader(zds, batch_size=8, shuffle=True)
    zg.manual_seed(123)
    first, second = labels_of(loader), labels_of(loader)
    zg.manual_seed(123)
    np.testing.assert_array_equal(labels_of(loader), first)
    np.testing.assert_array_equal(labels_of(loader), second)
    assert not np.array_equal(first, second), "two epochs should differ"
    assert not np.array_equal(first, np.arange(50) * 7), "shuffle=True should shuffle"


def test_generator_makes_shuffling_repeatable_and_independent_of_default():
    zds, _ = pair(n=50)
    runs = []
    for noise in (0, 1):
        zg.manual_seed(noise)  # the default generator must not matter
        loader = zdata.DataLoader(zds, batch_size=8, shuffle=True,
                                  generator=zg.Generator().manual_seed(7))
        runs.append(labels_of(loader))
    np.testing.assert_array_equal(*runs)


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
def test_every_sample_exactly_once_per_epoch(shuffle, drop_last):
    zds, _ = pair(n=37)
    seen = labels_of(zdata.DataLoader(zds, batch_size=5, shuffle=shuffle, drop_last=drop_last))
    expected_count = 35 if drop_last else 37
    assert len(seen) == len(set(seen.tolist())) == expected_count
    assert set(seen.tolist()) <= set((np.arange(37) * 7).tolist())


def test_two_concurrent_iterators_are_independent():
    zds, _ = pair(n=9)
    loader = zdata.DataLoader(zds, batch_size=2)
    assert iter(loader) is not iter(loader)
    a, b = iter(loader), iter(loader)
    got_a, got_b = [next(a)[1]], []
    for batch in b:
        got_b.append(batch[1])
    got_a += [batch[1] for batch in a]
    for got in (got_a, got_b):
        np.testing.assert_array_equal(np.concatenate([g.numpy() for g in got]),
                                      np.arange(9) * 7)


# -- the fast path -----------------------------------------------------------------------------
class CountingTensorDataset(zdata.TensorDataset):
    calls = 0

    def __getitem__(self, index):
        CountingTensorDataset.calls += 1
        return super().__getitem__(index)


def test_tensor_dataset_batches_without_per_sample_calls():
    x = zg.randn(20, 3)
    ds = CountingTensorDataset(x, zg.arange(20))
    CountingTensorDataset.calls = 0
    batches = list(zdata.DataLoader(ds, batch_size=6, shuffle=True))
    assert CountingTensorDataset.calls == 0
    assert [len(b[0]) for b in batches] == [6, 6, 6, 2]
    # a custom collate_fn needs the samples, so it takes the per-sample path
    list(zdata.DataLoader(ds, batch_size=6, collate_fn=lambda b: zdata.default_collate(b)))
    assert CountingTensorDataset.calls == 20


@pytest.mark.parametrize("indices", [[3, 0, 7], [5], np.array([9, 9, 1])])
def test_getbatch_equals_collated_samples(indices):
    ds = zdata.TensorDataset(zg.randn(10, 2, 3), zg.arange(10), zg.randn(10))
    samples = zdata.default_collate([ds[int(i)] for i in indices])
    for got, want in zip(ds.__getbatch__(indices), samples):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    sub = zdata.Subset(ds, [9, 8, 7, 6, 5, 4, 3, 2, 1, 0])
    from_sub = sub.__getbatch__([0, 2])
    np.testing.assert_array_equal(from_sub[1].numpy(), [9, 7])


def test_subset_has_batch_protocol_only_when_inner_has_it():
    assert callable(getattr(zdata.Subset(pair()[0], [1, 2]), "__getbatch__", None))
    assert getattr(zdata.Subset(Counting(5), [1, 2]), "__getbatch__", None) is None
    same(list(zdata.DataLoader(zdata.Subset(Counting(5), [4, 1, 2]), batch_size=2)),
         list(tdata.DataLoader(tdata.Subset(Counting(5), [4, 1, 2]), batch_size=2)))


def test_getitems_protocol_is_used_once_per_batch():
    class Items(Counting):
        batches = 0

        def __getitems__(self, indices):
            Items.batches += 1
            return [self[i] for i in indices]

    ds = Items(7)
    assert len(list(zdata.DataLoader(ds, batch_size=3))) == Items.batches == 3


# -- worker threads ----------------------------------------------------------------------------
@pytest.mark.parametrize("num_workers", [1, 3])
def test_workers_keep_the_order_of_num_workers_0(num_workers):
    rng = np.random.default_rng(0)
    delays = rng.uniform(0, 0.003, size=40)  # scramble which batch finishes first
    ds = Counting(40, delay=lambda i: delays[i])
    zg.manual_seed(5)
    serial = [b[1].numpy() for b in zdata.DataLoader(ds, batch_size=3, shuffle=True)]
    zg.manual_seed(5)
    threaded = [b[1].numpy() for b in zdata.DataLoader(ds, batch_size=3, shuffle=True,
                                                       num_workers=num_workers)]
    assert len(serial) == len(threaded) == 14
    for a, b in zip(serial, threaded):
        np.testing.assert_array_equal(a, b)


def test_workers_fast_path_same_batches():
    zds, tds = pair(n=30)
    same(list(zdata.DataLoader(zds, batch_size=4, num_workers=2, prefetch_factor=3)),
         list(tdata.DataLoader(tds, batch_size=4)))


def test_in_order_false_yields_every_batch():
    ds = Counting(20, delay=lambda i: 0.004 if i < 4 else 0)
    got = [b[1].numpy() for b in zdata.DataLoader(ds, batch_size=4, num_workers=2,
                                                  in_order=False)]
    assert sorted(np.concatenate(got).tolist()) == list(range(20))


@pytest.mark.parametrize("num_workers", [0, 2])
def test_worker_exception_propagates_with_original_message(num_workers):
    loader = zdata.DataLoader(Counting(12, fail_at=7), batch_size=3, num_workers=num_workers)
    it = iter(loader)
    next(it), next(it)
    with pytest.raises(ValueError, match="bad sample 7"):
        next(it)
    np.testing.assert_array_equal(next(it)[1].numpy(), [9, 10, 11])  # like torch, it goes on
    if num_workers:
        it.close()  # pytest's exception info keeps `it` alive in a reference cycle


def test_worker_init_fn_and_worker_info():
    seen = []
    lock = threading.Lock()

    class Info(Counting):
        def __getitem__(self, i):
            info = zdata.get_worker_info()
            with lock:
                seen.append((info.id, info.num_workers, info.dataset is self))
            return super().__getitem__(i)

    started = []
    loader = zdata.DataLoader(Info(8), batch_size=2, num_workers=2,
                              worker_init_fn=lambda wid: started.append(wid))
    list(loader)
    assert sorted(started) == [0, 1]
    assert {s[1:] for s in seen} == {(2, True)} and {s[0] for s in seen} <= {0, 1}
    assert zdata.get_worker_info() is None


def test_worker_init_fn_error_propagates():
    def init(worker_id):
        raise RuntimeError("init failed")
    it = iter(zdata.DataLoader(Counting(4), num_workers=1, worker_init_fn=init))
    with pytest.raises(RuntimeError, match="init failed"):
        next(it)
    with pytest.raises(RuntimeError, match="init failed"):  # every batch of that worker fails
        next(it)
    it.close()


def test_threads_end_when_exhausted_or_dropped():
    before = len(worker_threads())
    loader = zdata.DataLoader(Counting(10), batch_size=2, num_workers=3)
    list(loader)
    assert len(worker_threads()) == before
    it = iter(loader)
    next(it)
    assert len(worker_threads()) == before + 3
    del it  # no reference cycle: dropping the iterator stops its threads at once
    assert len(worker_threads()) == before


def test_persistent_workers_reuse_threads():
    calls = []
    loader = zdata.DataLoader(Counting(6), batch_size=2, num_workers=2, persistent_workers=True,
                              worker_init_fn=calls.append)
    for _ in range(3):
        assert len(list(loader)) == 3
    assert sorted(calls) == [0, 1]  # initialised once, not every epoch
    threads = set(worker_threads())
    list(loader)
    assert set(worker_threads()) == threads and len(threads) == 2
    del loader
    assert not any(t.is_alive() for t in threads)


def test_timeout():
    loader = zdata.DataLoader(Counting(2, delay=lambda i: 0.2), num_workers=1, timeout=0.02)
    with pytest.raises(RuntimeError, match="timed out after 0.02 seconds"):
        next(iter(loader))


# -- iterable datasets --------------------------------------------------------------------------
class ZStream(zdata.IterableDataset):
    def __init__(self, n, fail_at=None):
        self.n, self.fail_at = n, fail_at

    def __iter__(self):
        for i in range(self.n):
            if i == self.fail_at:
                raise KeyError(f"stream broke at {i}")
            yield {"x": np.full(2, i, np.float32), "y": i}

    def __len__(self):
        return self.n


class TStream(tdata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(ZStream(self.n))

    def __len__(self):
        return self.n


@pytest.mark.parametrize("batch_size,drop_last", [(3, False), (3, True), (None, False)])
def test_iterable_dataset_matches_torch(batch_size, drop_last):
    z = zdata.DataLoader(ZStream(8), batch_size=batch_size, drop_last=drop_last)
    t = tdata.DataLoader(TStream(8), batch_size=batch_size, drop_last=drop_last)
    same(list(z), list(t))
    assert len(z) == len(t)
    threaded = zdata.DataLoader(ZStream(8), batch_size=batch_size, drop_last=drop_last,
                                num_workers=2)
    same(list(threaded), list(t))


def test_iterable_dataset_options_and_errors():
    for kwargs in (dict(shuffle=True), dict(sampler=[1]), dict(batch_sampler=[[1]])):
        with pytest.raises(ValueError) as expected:
            tdata.DataLoader(TStream(3), **kwargs)
        with pytest.raises(ValueError) as got:
            zdata.DataLoader(ZStream(3), **kwargs)
        assert str(got.value) == str(expected.value)
    with pytest.raises(KeyError, match="stream broke at 4"):
        list(zdata.DataLoader(ZStream(8, fail_at=4), batch_size=2, num_workers=1))


def test_chain_dataset():
    chained = ZStream(2) + ZStream(3)
    assert isinstance(chained, zdata.ChainDataset) and len(chained) == 5
    assert [s["y"] for s in chained] == [0, 1, 0, 1, 2]


# -- samplers ----------------------------------------------------------------------------------
def test_sequential_and_batch_sampler_match_torch():
    assert list(zdata.SequentialSampler(range(5))) == list(tdata.SequentialSampler(range(5)))
    for bs in (1, 3, 5, 7):
        for drop_last in (False, True):
            for sampler in ([4, 0, 3, 1, 2], zdata.SequentialSampler(range(5))):
                z = zdata.BatchSampler(sampler, bs, drop_last)
                t = tdata.BatchSampler(list(sampler), bs, drop_last)
                assert list(z) == list(t) and len(z) == len(t)


@pytest.mark.parametrize("cls,args", [(zdata.BatchSampler, (range(3), 0, False)),
                                      (zdata.BatchSampler, (range(3), 2, 1)),
                                      (zdata.RandomSampler, (range(3), 1)),
                                      (zdata.RandomSampler, (range(3), False, 0))])
def test_sampler_argument_errors_match_torch(cls, args):
    tcls = getattr(tdata, cls.__name__)
    with pytest.raises((TypeError, ValueError)) as expected:
        tcls(*args)
    with pytest.raises(expected.type) as got:
        cls(*args)
    assert str(got.value) == str(expected.value)


def test_random_sampler_variants():
    g = zg.Generator().manual_seed(0)
    perm = list(zdata.RandomSampler(range(10), generator=g))
    assert sorted(perm) == list(range(10))
    more = list(zdata.RandomSampler(range(4), num_samples=10, generator=g))
    assert len(more) == 10 and sorted(more[:4]) == [0, 1, 2, 3]
    drawn = list(zdata.RandomSampler(range(3), replacement=True, num_samples=50, generator=g))
    assert len(drawn) == 50 and set(drawn) == {0, 1, 2}
    assert len(zdata.RandomSampler(range(3), replacement=True, num_samples=50)) == 50


def test_subset_random_and_weighted_samplers():
    g = zg.Generator().manual_seed(1)
    got = list(zdata.SubsetRandomSampler([10, 20, 30, 40], generator=g))
    assert sorted(got) == [10, 20, 30, 40] and len(zdata.SubsetRandomSampler([1, 2])) == 2
    w = zdata.WeightedRandomSampler([0.0, 1.0, 3.0], 400, generator=g)
    draws = np.array(list(w))
    assert len(w) == 400 and 0 not in draws
    assert 0.65 < (draws == 2).mean() < 0.85
    assert sorted(zdata.WeightedRandomSampler([1, 1, 1, 0], 3, replacement=False)) == [0, 1, 2]
    with pytest.raises(ValueError, match="weights should be a 1d sequence"):
        zdata.WeightedRandomSampler([[1.0]], 2)
    with pytest.raises(ValueError, match="non-negative"):
        zdata.WeightedRandomSampler([1.0, -1.0], 2)


def test_custom_sampler_and_batch_sampler_in_loader():
    zds, tds = pair()
    same(list(zdata.DataLoader(zds, sampler=[9, 1, 4], batch_size=2)),
         list(tdata.DataLoader(tds, sampler=[9, 1, 4], batch_size=2)))
    same(list(zdata.DataLoader(zds, batch_sampler=[[0, 5], [2]])),
         list(tdata.DataLoader(tds, batch_sampler=[[0, 5], [2]])))


# -- datasets and splits ------------------------------------------------------------------------
def test_tensor_dataset_indexing_and_errors():
    zds, tds = pair()
    same(zds[3], tds[3])
    assert len(zds) == 10
    with pytest.raises(ValueError, match=r"Size mismatch between tensors.*\[3, 4\]"):
        zdata.TensorDataset(zg.zeros(3), zg.zeros(4))


@pytest.mark.parametrize("lengths", [[3, 7], [0.3, 0.7], [0.33, 0.33, 0.34], [1 / 3] * 3])
def test_random_split_lengths_match_torch(lengths):
    z = zdata.random_split(range(10), lengths, generator=zg.Generator().manual_seed(0))
    t = tdata.random_split(range(10), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in z] == [len(s) for s in t]
    everything = [i for s in z for i in s]
    assert sorted(everything) == list(range(10))


def test_random_split_reproducible_and_errors():
    a = zdata.random_split(range(20), [5, 15], generator=zg.Generator().manual_seed(3))
    b = zdata.random_split(range(20), [5, 15], generator=zg.Generator().manual_seed(3))
    assert list(a[0]) == list(b[0])
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        zdata.random_split(range(10), [3, 3])
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        zdata.random_split(range(10), [0.5, 0.6])


def test_concat_dataset_matches_torch():
    z = zdata.ConcatDataset([range(3), range(10, 14)])
    t = tdata.ConcatDataset([range(3), range(10, 14)])
    assert len(z) == len(t) and [z[i] for i in range(-7, 7)] == [t[i] for i in range(-7, 7)]
    assert z.cumulative_sizes == t.cumulative_sizes
    with pytest.raises(ValueError, match="absolute value of index should not exceed"):
        z[-8]
    with pytest.raises(IndexError):
        z[7]
    with pytest.raises(ValueError, match="should not be an empty iterable"):
        zdata.ConcatDataset([])
    both = pair()[0] + pair()[0]
    assert isinstance(both, zdata.ConcatDataset) and len(both) == 20
    assert len(list(zdata.DataLoader(both, batch_size=6))) == 4



def test_stack_dataset_matches_torch():
    zx, tx = pair(n=7)
    labels = list(range(7))
    for z, t in ((zdata.StackDataset(zx, labels), tdata.StackDataset(tx, labels)),
                 (zdata.StackDataset(a=zx, b=labels), tdata.StackDataset(a=tx, b=labels))):
        same(z[2], t[2])
        same(list(zdata.DataLoader(z, batch_size=3)), list(tdata.DataLoader(t, batch_size=3)))
    fast = zdata.StackDataset(x=zx, again=zx)
    same(list(zdata.DataLoader(fast, batch_size=3)),
         list(tdata.DataLoader(tdata.StackDataset(x=tx, again=tx), batch_size=3)))
    assert callable(fast.__getbatch__)
    with pytest.raises(ValueError, match="Size mismatch between datasets"):
        zdata.StackDataset(zx, [1, 2])
