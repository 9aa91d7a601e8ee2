"""dtype objects and PyTorch's type promotion: result_type and the dtypes ops actually return."""
import pickle

import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd import dtypes

NAMES = ["float16", "float32", "float64", "uint8", "int8", "int16", "int32", "int64", "bool"]


def _operand(lib, spec, device=None):
    """spec: ("t", name) tensor with dims, ("z", name) 0-d tensor, ("s", value) a number."""
    kind, what = spec
    if kind == "s":
        return what
    value = [1, 0] if kind == "t" else 1
    return lib.tensor(value, dtype=getattr(lib, what), device=device)


OPERANDS = ([("t", n) for n in NAMES] + [("z", n) for n in NAMES]
            + [("s", v) for v in (True, 2, 2.5, -3)]
            # NumPy scalars count as Python numbers. (torch takes np.bool_ for a float, a
            # quirk zerograd does not copy: it is a bool.)
            + [("s", v) for v in (np.float64(2.5), np.float32(1.5), np.int64(2), np.int32(3))])
PAIRS = [(a, b) for a in OPERANDS for b in OPERANDS if not (a[0] == "s" and b[0] == "s")]


def _name(d):
    return str(d).split(".")[-1]


def test_result_type_matches_torch_for_every_operand_pair():
    wrong = []
    for a, b in PAIRS:
        expected = torch.result_type(_operand(torch, a), _operand(torch, b))
        got = zg.result_type(_operand(zg, a), _operand(zg, b))
        if _name(got) != _name(expected):
            wrong.append((a, b, got, expected))
    assert not wrong, wrong[:10]


# ops whose output dtype follows promotion, and ops that always give bool or a float
OPS = {
    "add": lambda a, b: a + b, "mul": lambda a, b: a * b, "sub": lambda a, b: a - b,
    "div": lambda a, b: a / b, "floordiv": lambda a, b: a // b, "pow": lambda a, b: a ** b,
    "eq": lambda a, b: a == b, "lt": lambda a, b: a < b, "maximum": None, "where": None,
}


def _run_op(op, lib, a, b, device=None):
    x, y = _operand(lib, a, device), _operand(lib, b, device)
    if op == "maximum":
        x = x if lib.is_tensor(x) else lib.tensor(x, device=device)
        y = y if lib.is_tensor(y) else lib.tensor(y, device=device)
        return lib.maximum(x, y)
    if op == "where":
        return lib.where(lib.tensor([True, False], device=device), x, y)
    return OPS[op](x, y)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("op", list(OPS))
def test_op_output_dtypes_match_torch(op, device):
    # every pair of operand kinds on each device; where torch refuses a pair (bool - bool,
    # integer // 0), zerograd must raise the same exception type
    wrong = []
    for a, b in PAIRS:
        try:
            expected = _run_op(op, torch, a, b)
        except (RuntimeError, TypeError, ZeroDivisionError) as err:
            try:
                _run_op(op, zg, a, b, device)
            except type(err):
                continue
            wrong.append((a, b, "no error", type(err).__name__))
            continue
        got = _run_op(op, zg, a, b, device)
        if _name(got.dtype) != _name(expected.dtype) or tuple(got.shape) != tuple(
                expected.shape) or str(got.device) != device:
            wrong.append((a, b, got.dtype, expected.dtype, got.device))
    assert not wrong, wrong[:10]


@pytest.mark.parametrize("a,b,expected", [
    (("t", "int64"), ("s", 1.5), "float32"),  # int tensor + float scalar
    (("t", "int32"), ("t", "int64"), "int64"),
    (("t", "uint8"), ("t", "int8"), "int16"),
    (("t", "bool"), ("s", 3), "int64"),
    (("t", "bool"), ("t", "int8"), "int8"),
    (("t", "float32"), ("z", "float64"), "float32"),  # 0-d tensors don't lift the width
    (("t", "int32"), ("z", "int64"), "int32"),
    (("t", "int32"), ("z", "float64"), "float64"),  # ...but do lift the category
    (("t", "float16"), ("s", 1e10), "float16"),
    (("t", "int8"), ("s", 1000), "int8"),
    (("z", "int32"), ("s", 2.5), "float32"),
])
def test_promotion_examples_from_the_issue(a, b, expected):
    assert zg.result_type(_operand(zg, a), _operand(zg, b)) is getattr(zg, expected)
    assert _name(torch.result_type(_operand(torch, a), _operand(torch, b))) == expected


def test_integer_division_sums_and_comparisons():
    i = zg.tensor([1, 2, 3])
    assert (i / i).dtype is zg.float32
    assert (i / 2).dtype is zg.float32
    assert i.sum().dtype is zg.int64
    assert zg.tensor([1, 2], dtype=zg.int8).sum().dtype is zg.int64
    assert zg.tensor([True, True]).sum().item() == 2
    for out in (i == 2, i < 2.5, zg.logical_and(i, i), zg.isnan(i.float()), i.float() > i):
        assert out.dtype is zg.bool
    assert zg.exp(i).dtype is zg.float32 and zg.sqrt(zg.tensor([4])).dtype is zg.float32


def test_promote_types_matches_torch():
    for a in NAMES:
        for b in NAMES:
            got = zg.promote_types(getattr(zg, a), getattr(zg, b))
            assert _name(got) == _name(torch.promote_types(getattr(torch, a), getattr(torch, b)))


def test_set_default_dtype_changes_float_results():
    try:
        zg.set_default_dtype(zg.float64)
        assert zg.get_default_dtype() is zg.float64
        assert zg.tensor([1.5]).dtype is zg.float64
        assert (zg.tensor([1, 2]) + 0.5).dtype is zg.float64
        assert (zg.tensor([1, 2]) / 2).dtype is zg.float64
        assert repr(zg.tensor([1.5])) == "tensor([1.5000])"  # the default is not printed
        f32 = zg.tensor([1.5], dtype=zg.float32)
        assert repr(f32) == "tensor([1.5000], dtype=zerograd.float32)"
        with pytest.raises(TypeError):
            zg.set_default_dtype(zg.int64)
    finally:
        zg.set_default_dtype(zg.float32)
    assert zg.tensor([1.5]).dtype is zg.float32


def test_dtype_objects_behave_like_torchs():
    for name in NAMES:
        z, t = getattr(zg, name), getattr(torch, name)
        assert repr(z) == repr(t).replace("torch.", "zerograd.")
        assert z.is_floating_point == t.is_floating_point
        assert z.is_signed == t.is_signed
        assert z.itemsize == t.itemsize
        assert z.is_complex is False
        assert pickle.loads(pickle.dumps(z)) is z
    assert zg.float is zg.float32 and zg.double is zg.float64 and zg.half is zg.float16
    assert zg.long is zg.int64 and zg.int is zg.int32 and zg.short is zg.int16
    assert zg.bool is dtypes.bool_


def test_as_dtype_accepts_numpy_and_python_types():
    assert dtypes.as_dtype(np.float64) is zg.float64
    assert dtypes.as_dtype(np.dtype("int32")) is zg.int32
    assert dtypes.as_dtype(float) is zg.float32
    assert dtypes.as_dtype(int) is zg.int64
    assert dtypes.as_dtype(bool) is zg.bool
    assert dtypes.as_dtype("float16") is zg.float16
    with pytest.raises(TypeError, match="unsupported dtype"):
        dtypes.as_dtype(np.complex64)
    with pytest.raises(TypeError):
        dtypes.scalar_dtype("1.5")
    assert dtypes.scalar_type_name(zg.int64) == "Long"
