"""nn.utils.rnn against torch: pad_sequence, pack_padded_sequence (sorted or not),
pad_packed_sequence, pack_sequence, unpad_sequence, unpack_sequence and PackedSequence;
values, index tensors, gradients through packing and padding, and error messages."""
import itertools

import numpy as np
import pytest
import torch
from torch.nn.utils import rnn as trnn

import zerograd as zg
from zerograd.nn.utils import rnn as zrnn
from tests.oracle import assert_same, check

RNG = np.random.default_rng(2)
LENGTH_ORDERS = [[4, 3, 1], [1, 3, 4], [3, 4, 1], [2, 2, 2], [4, 1, 4], [1]]


def randn(*shape):
    return RNG.standard_normal(shape)


def packed_fields(packed):
    """The four fields, with index tensors as lists (None stays None)."""
    return [packed.data] + [None if t is None else t.tolist() for t in packed[1:]]


@pytest.mark.parametrize("batch_first,padding_side,padding_value",
                         list(itertools.product([False, True], ["right", "left"], [0.0, -2.5])))
def test_pad_sequence_matches_torch(batch_first, padding_side, padding_value, device):
    lengths = [3, 1, 4, 4]
    arrays = [randn(n, 2) for n in lengths]
    check(lambda *s: zrnn.pad_sequence(s, batch_first, padding_value, padding_side),
          lambda *s: trnn.pad_sequence(s, batch_first, padding_value, padding_side),
          *arrays, device=device)


def test_pad_sequence_of_a_tensor_and_of_1d_sequences():
    x = randn(3, 2, 5)
    assert_same(zrnn.pad_sequence(zg.tensor(x)), trnn.pad_sequence(torch.tensor(x)))
    seqs = [np.arange(n, dtype=np.int64) for n in (2, 5, 1)]
    assert_same(zrnn.pad_sequence([zg.tensor(s) for s in seqs], True, -1),
                trnn.pad_sequence([torch.tensor(s) for s in seqs], True, -1))


@pytest.mark.parametrize("lengths", LENGTH_ORDERS)
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_then_pad_matches_torch_for_lengths_in_any_order(lengths, batch_first, device):
    steps, batch = max(lengths) + 1, len(lengths)
    x = randn(*((batch, steps, 3) if batch_first else (steps, batch, 3)))
    sorted_ = lengths == sorted(lengths, reverse=True)
    for enforce in ([True, False] if sorted_ else [False]):
        def run(lib_rnn):
            def fn(x):
                packed = lib_rnn.pack_padded_sequence(x, lengths, batch_first, enforce)
                padded, out_lengths = lib_rnn.pad_packed_sequence(
                    packed, batch_first, padding_value=7.0, total_length=steps + 1)
                return packed_fields(packed) + [padded, out_lengths.tolist()]
            return fn
        z_res, t_res = run(zrnn)(zg.tensor(x, device=device)), run(trnn)(torch.tensor(x))
        assert z_res[1:4] == t_res[1:4]  # batch_sizes, sorted and unsorted indices
        assert z_res[5] == t_res[5] == lengths
        # the packed data and the padded result, with gradients through both
        check(lambda x: run(zrnn)(x)[0:5:4], lambda x: run(trnn)(x)[0:5:4], x, device=device)


def test_packed_sequence_is_a_namedtuple_with_torch_fields_and_conversions():
    lengths = [3, 1, 2]
    x = randn(3, 3, 2).astype(np.float32)
    z = zrnn.pack_padded_sequence(zg.tensor(x), lengths, enforce_sorted=False)
    t = trnn.pack_padded_sequence(torch.tensor(x), lengths, enforce_sorted=False)
    assert z._fields == t._fields and isinstance(z, tuple)
    data, batch_sizes, sorted_indices, unsorted_indices = z
    assert_same(data, t.data)
    for a, b in zip((batch_sizes, sorted_indices, unsorted_indices), t[1:]):
        assert_same(a, b)
    assert batch_sizes.device.type == "cpu" and not z.is_cuda
    assert z.to(zg.float32) is z and z.to("cpu") is z
    assert z.double().data.dtype is zg.float64 and z.double().batch_sizes is batch_sizes
    assert repr(z).startswith("PackedSequence(data=tensor(")
    rebuilt = zrnn.PackedSequence(data, batch_sizes)
    assert rebuilt.sorted_indices is None and rebuilt.unsorted_indices is None
    assert zrnn.PackedSequence((data, batch_sizes)).batch_sizes is batch_sizes
    assert zrnn.PackedSequence(data, batch_sizes, sorted_indices).unsorted_indices.tolist() == \
        t.unsorted_indices.tolist()
    with pytest.raises(AssertionError, match="list or tuple of length 2"):
        zrnn.PackedSequence(data)
    assert zrnn.invert_permutation(None) is None
    assert zrnn.invert_permutation(zg.tensor([2, 0, 3, 1])).tolist() == \
        trnn.invert_permutation(torch.tensor([2, 0, 3, 1])).tolist()


def test_pack_sequence_unpack_sequence_unpad_sequence_match_torch(device):
    arrays = [randn(n, 2) for n in (2, 4, 1)]
    check(lambda *s: zrnn.pack_sequence(list(s), False).data,
          lambda *s: trnn.pack_sequence(list(s), False).data, *arrays, device=device)
    check(lambda *s: zrnn.unpack_sequence(zrnn.pack_sequence(list(s), False)),
          lambda *s: trnn.unpack_sequence(trnn.pack_sequence(list(s), False)),
          *arrays, device=device)
    sorted_arrays = sorted(arrays, key=len, reverse=True)
    check(lambda *s: zrnn.pack_sequence(list(s)).data,
          lambda *s: trnn.pack_sequence(list(s)).data, *sorted_arrays, device=device)
    for batch_first in (False, True):
        check(lambda p: zrnn.unpad_sequence(p, zg.tensor([2, 4, 1]), batch_first),
              lambda p: trnn.unpad_sequence(p.clone(), torch.tensor([2, 4, 1]), batch_first),
              randn(*((3, 4, 2) if batch_first else (4, 3, 2))), device=device)


def _same_error(z_call, t_call):
    with pytest.raises(Exception) as expected:
        t_call()
    with pytest.raises(expected.type) as got:
        z_call()
    assert str(got.value) == str(expected.value)


def test_errors_match_torch():
    x = np.zeros((5, 3, 2))

    def calls(lib, rnn):
        t = lib.tensor(x)
        return [
            lambda: rnn.pack_padded_sequence(t, [2, 5, 3]),  # not sorted
            lambda: rnn.pack_padded_sequence(t, [5, 3, 0]),  # an empty sequence
            lambda: rnn.pack_padded_sequence(t, [5, 3]),  # too few lengths
            lambda: rnn.pad_sequence([lib.zeros(2, 3), lib.zeros(3, 4)]),
            lambda: rnn.pad_sequence([lib.zeros(2, 3)], padding_side="middle"),
            lambda: rnn.pad_sequence([]),
            lambda: rnn.pad_packed_sequence(rnn.pack_padded_sequence(t, [5, 3, 1]),
                                            total_length=3),
        ]
    for z_call, t_call in zip(calls(zg, zrnn), calls(torch, trnn)):
        _same_error(z_call, t_call)
    with pytest.raises(RuntimeError, match="1D"):
        zrnn.pack_padded_sequence(zg.tensor(x), zg.tensor([[5, 3, 1]]))
    with pytest.raises(RuntimeError, match="length of 6 exceeds the padded length 5"):
        zrnn.pack_padded_sequence(zg.tensor(x), [6, 3, 1])  # torch reads out of bounds
