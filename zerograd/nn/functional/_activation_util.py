"""Small array helpers shared by the activation functions of ``nn.functional``."""
from zerograd.ops.inplace import inplace as _inplace


def _cast(array, like):
    return array.astype(like.dtype, copy=False)


def _maybe_inplace(fn, input, inplace, *args):
    if inplace:
        return _inplace(input, fn, *args)
    return fn(input, *args)
