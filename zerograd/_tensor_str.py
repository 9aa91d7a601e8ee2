"""``repr`` of a tensor in PyTorch's style: ``tensor([1.0000, 2.5000], requires_grad=True)``."""
from zerograd import dtypes
from zerograd.backend import xp

_PLAIN_DTYPES = ("float32", "int64", "bool")  # the dtypes torch leaves unprinted


def _float_formatter(array):
    finite = array[xp.isfinite(array)]
    if finite.size == 0:
        return lambda v: _special(v) or f"{v:.4f}"
    absval = xp.abs(finite.astype(xp.float64))
    nonzero = absval[absval > 0]
    if xp.all(finite == xp.round(finite)) and absval.max() < 1e8:
        width = max(len(f"{v:.0f}") for v in (finite.max(), finite.min()))
        return lambda v: _special(v) or f"{v:.0f}.".rjust(width + 1)
    sci = nonzero.size and (nonzero.max() / nonzero.min() > 1000 or nonzero.max() >= 1e8
                            or nonzero.min() < 1e-4)
    fmt = "{:.4e}" if sci else "{:.4f}"
    width = max(len(fmt.format(v)) for v in (finite.max(), finite.min()))
    return lambda v: _special(v) or fmt.format(v).rjust(width)


def _special(v):
    if v != v:
        return "nan"
    if v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf"
    return None


def tensor_repr(t, prefix="tensor("):
    array = t._data
    if array.dtype.kind == "f":
        formatter = {"float_kind": _float_formatter(array)}
    else:
        formatter = None
    if array.size == 0 and array.ndim > 0:
        body = "[]"
    else:
        body = xp.array2string(array, separator=", ", prefix=prefix, formatter=formatter,
                               threshold=1000, edgeitems=3, max_line_width=80)
    extras = []
    if array.size == 0 and array.shape != (0,):
        extras.append(f"size={tuple(array.shape)}")
    dtype = dtypes.from_numpy_dtype(array.dtype)
    if dtype.name not in _PLAIN_DTYPES or (dtype.is_floating_point
                                           and dtype is not dtypes.get_default_dtype()):
        if not (dtype is dtypes.get_default_dtype()):
            extras.append(f"dtype={dtype!r}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._requires_grad:
        extras.append("requires_grad=True")
    suffix = "".join(", " + e for e in extras)
    return f"{prefix}{body}{suffix})"
