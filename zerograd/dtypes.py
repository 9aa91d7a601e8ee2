"""zerograd's dtypes and PyTorch's type-promotion rules.

A dtype is a thin named wrapper around a backend dtype, printed like torch's
(``zerograd.float32``). Promotion follows PyTorch, not NumPy: int + float gives the
float type (NumPy would widen to float64), and Python scalars and 0-dim tensors only
lift the category (bool < integer < floating), never the width.
"""
import builtins

import numpy as np  # for dtype objects and scalar types only (every backend uses NumPy's dtypes)


class dtype:
    __slots__ = ("name", "np", "itemsize", "is_floating_point", "is_signed", "_category")

    def __init__(self, name, np_dtype, category):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.itemsize = self.np.itemsize
        self.is_floating_point = category == 2
        self.is_signed = self.np.kind in "fi"
        self._category = category  # 0 bool, 1 integer, 2 floating

    def __repr__(self):
        return f"zerograd.{self.name}"

    def __reduce__(self):
        return (_from_name, (self.name,))

    @property
    def is_complex(self):
        return False


float16 = dtype("float16", "float16", 2)
float32 = dtype("float32", "float32", 2)
float64 = dtype("float64", "float64", 2)
uint8 = dtype("uint8", "uint8", 1)
int8 = dtype("int8", "int8", 1)
int16 = dtype("int16", "int16", 1)
int32 = dtype("int32", "int32", 1)
int64 = dtype("int64", "int64", 1)
bool_ = dtype("bool", "bool", 0)

half, float, double = float16, float32, float64  # noqa: A001 (torch's aliases)
short, int, long = int16, int32, int64  # noqa: A001

ALL = (float16, float32, float64, uint8, int8, int16, int32, int64, bool_)
_BY_NP = {d.np: d for d in ALL}
_BY_NAME = {d.name: d for d in ALL}


def _from_name(name):
    return _BY_NAME[name]


_SCALAR_TYPE_NAMES = {"float16": "Half", "float32": "Float", "float64": "Double",
                      "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
                      "int64": "Long", "bool": "Bool"}


def scalar_type_name(d) -> str:
    """The name torch's error messages use for a dtype ("Long" for int64, "Float"...)."""
    return _SCALAR_TYPE_NAMES[d.name]


def legacy_type_dtype(name: str) -> dtype:
    """The dtype of a legacy tensor type name: "torch.FloatTensor" / "LongTensor" -> dtype."""
    short = name.rsplit(".", 1)[-1]
    for dtype_name, scalar_name in _SCALAR_TYPE_NAMES.items():
        if short == scalar_name + "Tensor":
            return _BY_NAME[dtype_name]
    raise ValueError(f"invalid type: '{name}'; expected e.g. 'torch.FloatTensor' or "
                     "'torch.LongTensor', or pass a dtype such as zerograd.float32")


_default_float = [float32]


def get_default_dtype() -> dtype:
    return _default_float[0]


def set_default_dtype(d) -> None:
    d = as_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype only supports floating point dtypes, got {d}")
    _default_float[0] = d


def as_dtype(obj) -> dtype:
    """Accept a zerograd dtype, a NumPy dtype/type, a name, or Python's float/int/bool."""
    if isinstance(obj, dtype):
        return obj
    if obj is bool:
        return bool_
    if obj is builtins.int:
        return int64
    if obj is builtins.float:
        return get_default_dtype()
    try:
        return _BY_NP[np.dtype(obj)]
    except (TypeError, KeyError):
        raise TypeError(f"unsupported dtype {obj!r}; use one of "
                        + ", ".join(d.name for d in ALL)) from None


def from_numpy_dtype(np_dtype) -> dtype:
    try:
        return _BY_NP[np_dtype]
    except KeyError:
        raise TypeError(f"can't convert array of dtype {np_dtype}; zerograd supports "
                        + ", ".join(d.name for d in ALL)) from None


def promote_types(a: dtype, b: dtype) -> dtype:
    """Promotion of two tensor dtypes of equal priority (torch.promote_types)."""
    if a is b:
        return a
    if a._category != b._category:
        # bool < int < float: the higher category wins and keeps its own width
        return a if a._category > b._category else b
    return _BY_NP[np.promote_types(a.np, b.np)]


def scalar_dtype(value) -> dtype:
    """The dtype a Python number takes when it stands alone (torch.tensor(value)).

    NumPy scalars count as Python numbers of their kind, as in torch (``np.float64(1.5)``
    is a float scalar, not a float64 tensor).
    """
    if isinstance(value, (bool, np.bool_)):
        return bool_
    if isinstance(value, (builtins.int, np.integer)):
        return int64
    if isinstance(value, (builtins.float, np.floating)):
        return get_default_dtype()
    raise TypeError(f"expected a Tensor or a Python number, got {type(value).__name__}")


def _combine(higher, lower):
    # torch's combine_categories: a lower-priority operand only matters if it is of a
    # higher category than everything above it.
    if higher is None:
        return lower
    if lower is None or higher.is_floating_point:
        return higher
    if higher is bool_ or lower.is_floating_point:
        return promote_types(higher, lower)
    return higher


def result_type(*operands) -> dtype:
    """PyTorch's result dtype for tensors (dims > 0, then 0-dim) and Python scalars.

    Arrays (of any device) are treated as tensors of their dtype; NumPy scalars as Python
    numbers.
    """
    dim_result = zero_result = scalar_result = None
    for op in operands:
        d = getattr(op, "dtype", None)
        if d is not None and not isinstance(d, dtype) and not isinstance(op, np.generic):
            # an array, of whatever device (Python numbers have no dtype)
            d = from_numpy_dtype(op.dtype)
        if isinstance(d, dtype):
            if op.ndim > 0:
                dim_result = d if dim_result is None else promote_types(dim_result, d)
            else:
                zero_result = d if zero_result is None else promote_types(zero_result, d)
        else:
            d = scalar_dtype(op)
            scalar_result = d if scalar_result is None else promote_types(scalar_result, d)
    return _combine(dim_result, _combine(zero_result, scalar_result))
