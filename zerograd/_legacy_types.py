"""torch's legacy per-dtype tensor types: ``FloatTensor``, ``LongTensor``...

Older textbook code builds tensors with them (``torch.FloatTensor([1, 2, 3])``, d2l 0.17),
converts with ``x.type(torch.FloatTensor)`` and tests ``isinstance(x, torch.FloatTensor)``.
As in torch they are not subclasses: calling one builds a plain Tensor of its dtype, and
``isinstance`` checks the dtype.
"""
from zerograd import dtypes
from zerograd.tensor import Tensor

__all__ = ["FloatTensor", "DoubleTensor", "HalfTensor", "ByteTensor", "CharTensor",
           "ShortTensor", "IntTensor", "LongTensor", "BoolTensor"]


class _TensorType(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype is cls.dtype

    def __call__(cls, *args, device=None, requires_grad=False):
        """``FloatTensor(data)`` converts data, ``FloatTensor(2, 3)`` allocates 2x3."""
        return Tensor(*args, dtype=cls.dtype, device=device, requires_grad=requires_grad)

    def __repr__(cls):
        return f"<class 'zerograd.{cls.__name__}'>"


def _legacy(name, dtype):
    return _TensorType(name, (), {"dtype": dtype, "__module__": "zerograd",
                                  "__doc__": f"Legacy constructor of {dtype} tensors."})


FloatTensor = _legacy("FloatTensor", dtypes.float32)
DoubleTensor = _legacy("DoubleTensor", dtypes.float64)
HalfTensor = _legacy("HalfTensor", dtypes.float16)
ByteTensor = _legacy("ByteTensor", dtypes.uint8)
CharTensor = _legacy("CharTensor", dtypes.int8)
ShortTensor = _legacy("ShortTensor", dtypes.int16)
IntTensor = _legacy("IntTensor", dtypes.int32)
LongTensor = _legacy("LongTensor", dtypes.int64)
BoolTensor = _legacy("BoolTensor", dtypes.bool_)
