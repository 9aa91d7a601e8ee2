"""``repr`` of a tensor in PyTorch's style: ``tensor([1.0000, 2.5000], requires_grad=True)``.

This follows torch's ``_tensor_str`` with its default print options: one formatter for
the whole tensor picks integer mode (``1.``), fixed point with 4 decimals, or scientific
notation, from the nonzero finite values; every element is right-aligned to one width;
more than 1000 elements are summarized with the 3 first and last items of each dim;
lines wrap at 80 characters. Printing happens on the host: a tensor of another device is
copied to a NumPy array first, and its device is named as torch does (``device='cuda:0'``).
"""
import math

import numpy as np

from zerograd import dtypes
from zerograd.backend import to_host

PRECISION = 4
THRESHOLD = 1000
EDGEITEMS = 3
LINEWIDTH = 80


class _Formatter:
    """One format for every element of a tensor, decided from all of its values."""

    def __init__(self, array):
        self.floating = array.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = array.reshape(-1)
        if not self.floating:
            for v in flat.tolist():
                self.max_width = max(self.max_width, len(str(v)))
            return
        values = flat.astype(np.float64)
        nonzero_finite = values[np.isfinite(values) & (values != 0)]
        if nonzero_finite.size == 0:
            return
        absval = np.abs(nonzero_finite)
        vmin, vmax = float(absval.min()), float(absval.max())
        self.int_mode = bool(np.all(nonzero_finite == np.ceil(nonzero_finite)))
        wide_range = vmax / vmin > 1000.0 or vmax > 1.0e8
        if self.int_mode:
            self.sci_mode = wide_range
            fmt = "{:.%de}" % PRECISION if self.sci_mode else "{:.0f}"
            extra = 0 if self.sci_mode else 1  # the trailing "." of integer-valued floats
        else:
            self.sci_mode = wide_range or vmin < 1.0e-4
            fmt = ("{:.%de}" if self.sci_mode else "{:.%df}") % PRECISION
            extra = 0
        for v in nonzero_finite.tolist():
            self.max_width = max(self.max_width, len(fmt.format(v)) + extra)

    def width(self):
        return self.max_width

    def format(self, value):
        if self.floating:
            if self.sci_mode:
                text = "{:{w}.{p}e}".format(value, w=self.max_width, p=PRECISION)
            elif self.int_mode:
                text = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    text += "."
            else:
                text = "{:.{p}f}".format(value, p=PRECISION)
        else:
            text = str(value)
        return (self.max_width - len(text)) * " " + text


def _summarized(array):
    """The first and last EDGEITEMS entries along every dim that has more than twice that."""
    for axis, n in enumerate(array.shape):
        if n > 2 * EDGEITEMS:
            keep = list(range(EDGEITEMS)) + list(range(n - EDGEITEMS, n))
            array = np.take(array, keep, axis=axis)
    return array


def _vector_str(array, indent, summarize, formatter):
    per_line = max(1, int(math.floor((LINEWIDTH - indent) / (formatter.width() + 2))))
    if summarize and array.shape[0] > 2 * EDGEITEMS:
        data = ([formatter.format(v) for v in array[:EDGEITEMS].tolist()] + [" ..."]
                + [formatter.format(v) for v in array[-EDGEITEMS:].tolist()])
    else:
        data = [formatter.format(v) for v in array.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _array_str(array, indent, summarize, formatter):
    if array.ndim == 0:
        return formatter.format(array.item())
    if array.ndim == 1:
        return _vector_str(array, indent, summarize, formatter)
    n = array.shape[0]
    if summarize and n > 2 * EDGEITEMS:
        rows = ([_array_str(array[i], indent + 1, summarize, formatter) for i in range(EDGEITEMS)]
                + ["..."]
                + [_array_str(array[i], indent + 1, summarize, formatter)
                   for i in range(n - EDGEITEMS, n)])
    else:
        rows = [_array_str(array[i], indent + 1, summarize, formatter) for i in range(n)]
    return "[" + ("," + "\n" * (array.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def _add_suffixes(text, suffixes, indent):
    parts = [text]
    last_line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > LINEWIDTH:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


def tensor_repr(t, prefix="tensor("):
    """The text torch prints for ``t``, with ``zerograd.`` in place of ``torch.``."""
    array = to_host(t._data)
    indent = len(prefix)
    dtype = dtypes.from_numpy_dtype(array.dtype)
    default = dtypes.get_default_dtype()
    suffixes = []
    if t.device.type != "cpu":
        suffixes.append(f"device='{t.device}'")
    if array.size == 0:
        if array.ndim != 1:
            suffixes.append(f"size={tuple(array.shape)}")
        if dtype is not default:  # no values to show the dtype: it is always printed
            suffixes.append(f"dtype={dtype!r}")
        body = "[]"
    else:
        if dtype not in (default, dtypes.int64, dtypes.bool_):
            suffixes.append(f"dtype={dtype!r}")
        if array.dtype == np.float16:
            array = array.astype(np.float32)  # as torch: format half through float
        summarize = array.size > THRESHOLD
        formatter = _Formatter(_summarized(array) if summarize else array)
        body = _array_str(array, indent, summarize, formatter)
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)
