"""In-place changes to tensors, with PyTorch's safety rules.

* A leaf that requires grad (or a view of one) may not be changed in place while grad
  mode is on: that would silently break the gradient of everything computed from it.
* Every in-place change bumps the version counter shared with the tensor's views, so a
  backward that needs the old values raises instead of returning a wrong gradient.
* When the change itself must be differentiated (the tensor or the new values require
  grad), the op runs out of place on a snapshot of the old values and the tensor is
  "rebased" onto the result: it takes the new node as its ``grad_fn``.
* Changing a view (``X.reshape(...)[mask] = v``, d2l's masked softmax) changes its base too:
  the base is rebased onto "old base with the view's elements replaced", and the view onto
  "those elements read back from the new base" (torch's CopySlices).
"""

from zerograd import dtypes
from zerograd.autograd import forward_ad
from zerograd.autograd.function import Function
from zerograd.autograd.grad_mode import is_grad_enabled, no_grad
from zerograd.backend import array_module, backend_of, device_of
from zerograd.ops._util import const
from zerograd.random import rng_of
from zerograd.tensor import Tensor

__all__ = ["inplace", "check_inplace", "fill_", "copy_", "random_fill_", "write_inplace",
           "rebase"]


def check_inplace(t):
    if not is_grad_enabled():
        return
    if t._requires_grad and t.grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation. Wrap the update in `with zerograd.no_grad():` (as "
                           "optimizers do), or use an out-of-place operation.")
    base = t._base
    if base is not None and base._requires_grad and base.grad_fn is None:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation. Wrap it in `with zerograd.no_grad():` or clone() "
                           "first.")


def _needs_graph(t, args):
    # forward-mode AD: the new values need a new tangent, from the op's JVP rule
    if t._fw_grad is not None or any(isinstance(a, Tensor) and a._fw_grad is not None
                                     for a in args):
        return True
    if not is_grad_enabled():
        return False
    if t._requires_grad:
        return True
    return any(isinstance(a, Tensor) and a._requires_grad for a in args)


def write_inplace(t, array):
    """Store ``array`` into ``t``'s memory with torch's cast and shape rules; bump the version."""
    out_dtype = dtypes.from_numpy_dtype(array.dtype)
    if out_dtype._category > t.dtype._category:
        raise RuntimeError(f"result type {out_dtype.name.capitalize()} can't be cast to the "
                           f"desired output type {t.dtype.name.capitalize()}")
    xp = array_module(t._data)
    if array.shape != t._data.shape:
        try:
            array = xp.broadcast_to(array, t._data.shape)
        except ValueError:
            raise RuntimeError(f"output with shape {list(t.shape)} doesn't match the broadcast "
                               f"shape {list(array.shape)}") from None
    try:
        xp.copyto(t._data, array, casting="unsafe")
    except ValueError:
        raise RuntimeError("unsupported operation: more than one element of the written-to "
                           "tensor refers to a single memory location (an expanded tensor). "
                           "Please clone() the tensor before performing the operation.") from None
    t._bump_version()


def _offsets(array, xp):
    """The byte offset of every element of ``array`` from its first one (on its device)."""
    int64 = dtypes.int64.np
    off = xp.zeros(array.shape, dtype=int64)
    for d, (n, stride) in enumerate(zip(array.shape, array.strides)):
        off = off + (xp.arange(n, dtype=int64) * stride).reshape(
            (1,) * d + (n,) + (1,) * (array.ndim - d - 1))
    return off


def _positions_in_base(view, base):
    """For each element of ``view``, the flat (C-order) index of the element of ``base`` it
    shares memory with; None when some element lies outside ``base``.

    Strides and the device's data addresses (``Backend.data_address``) locate the view's
    elements in the base's memory; the arithmetic runs on the arrays' device.
    """
    if view.dtype.itemsize != base.dtype.itemsize:
        return None
    backend = backend_of(base)
    xp = backend.xp
    base_off = _offsets(base, xp).reshape(-1)
    shift = backend.data_address(view) - backend.data_address(base)
    view_off = _offsets(view, xp) + shift
    order = xp.argsort(base_off, kind="stable")
    ordered = base_off[order]
    pos = xp.clip(xp.searchsorted(ordered, view_off), 0, max(ordered.size - 1, 0))
    if ordered.size == 0 or not (ordered[pos] == view_off).all():
        return None
    return order[pos]


def _take_place(t, result):
    """``t`` takes ``result``'s node in the graph (its values are already in ``t``)."""
    t.grad_fn = result.grad_fn
    t._requires_grad = result._requires_grad
    if result.grad_fn is not None and t._retains_grad:
        result.grad_fn._retain(0, t)  # retain_grad follows the tensor to its new node


def _rebase_view(t, base, result):
    from zerograd.ops.indexing import Index, IndexPut  # indexing builds on this module
    positions = _positions_in_base(t._data, base._data)
    if positions is None or t._fw_grad is not None or result._fw_grad is not None \
            or base._fw_grad is not None:
        raise RuntimeError("an in-place operation that needs autograd was applied to a view "
                           "that zerograd cannot map back onto its base tensor (or under "
                           "forward-mode AD). Use an out-of-place operation, or clone() the "
                           "view first.")
    flat = (positions.reshape(-1),)
    old_base = _snapshot(base).reshape(-1)
    new_values = result.reshape(-1).to(base.dtype)
    new_base = IndexPut.apply(old_base, new_values, flat, False).reshape(base.shape)
    # other live views of base still point at its old node: they too are re-read below
    others = [v for v in base.__dict__.get("_views", ()) if v is not t]
    write_inplace(t, result._data)  # through the shared memory: base sees it too
    _take_place(base, new_base)
    base_flat = base.reshape(-1)
    _take_place(t, Index.apply(base_flat, flat).reshape(t.shape))
    for view in others:
        where = _positions_in_base(view._data, base._data)
        if where is not None:
            _take_place(view, Index.apply(base_flat, (where.reshape(-1),)).reshape(view.shape))


def rebase(t, result):
    """Make ``t`` hold ``result``'s values and take ``result``'s place in the graph."""
    base = t._base
    if base is not None and (base._requires_grad or result._requires_grad
                             or result._fw_grad is not None):
        _rebase_view(t, base, result)
        return
    write_inplace(t, result._data)
    t._fw_grad = None  # the old tangent described the old values
    _take_place(t, result)
    forward_ad.copy_tangents(result, t)


def _snapshot(t):
    """The old value of ``t`` as a separate tensor at the same place in the graph."""
    if t.grad_fn is None and not t._requires_grad:
        return t
    snap = Tensor._make(t._data.copy(), t._requires_grad, t.grad_fn)
    return forward_ad.copy_tangents(t, snap)  # and with its forward-mode tangent


def inplace(t, op, *args, **kwargs):
    """``t.<op>_(*args)``: compute ``op(t, *args)`` and store it into ``t``."""
    check_inplace(t)
    if _needs_graph(t, args):
        rebase(t, op(_snapshot(t), *args, **kwargs))
        return t
    with no_grad():
        result = op(t, *args, **kwargs)
    write_inplace(t, result._data)
    return t


class CopyFrom(Function):
    """``dst.copy_(src)`` seen by autograd: the old values get no gradient, ``src`` gets it all."""

    jvp_linear = True  # the output is src (broadcast and cast): linear in the inputs

    @staticmethod
    def forward(ctx, dst, src):
        return ctx.xp.broadcast_to(src, dst.shape).astype(dst.dtype, copy=True)

    @staticmethod
    def backward(ctx, grad_output):
        return None, grad_output


def copy_(t, src):
    """``t``'s values replaced by ``src``'s (broadcast, cast, and moved from its device)."""
    check_inplace(t)
    if not isinstance(src, Tensor):
        src = const(array_module(t._data).asarray(src))
    elif type(src._data) is not type(t._data) and src.device != t.device:
        src = src.to(t.device)  # differentiable: the gradient goes back to src's device
    if _needs_graph(t, (src,)):
        rebase(t, CopyFrom.apply(_snapshot(t), src))
        return t
    write_inplace(t, src._data)
    return t


def fill_(t, value):
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor "
                               f"with {value.ndim} dimensions.")
        return copy_(t, value)
    check_inplace(t)
    if _needs_graph(t, ()):
        return copy_(t, const(array_module(t._data).asarray(value, dtype=t._data.dtype)))
    t._data.fill(value)
    t._bump_version()
    return t


def random_fill_(t, kind, *params, generator=None):
    """Fill ``t`` with draws from ``generator`` (uniform, normal, bernoulli, exponential,
    integers), made on ``t``'s device (its default generator unless one is given)."""
    rng = rng_of(generator, device_of(t._data))
    xp = array_module(t._data)
    shape = t._data.shape
    if kind == "uniform":
        values = rng.uniform(params[0], params[1], shape)
    elif kind == "normal":
        values = rng.normal(params[0], params[1], shape) if params[1] > 0 else \
            xp.full(shape, params[0])
    elif kind == "bernoulli":
        p = params[0]._data if isinstance(params[0], Tensor) else params[0]
        values = rng.random(shape) < p
    elif kind == "exponential":
        values = rng.exponential(1.0 / params[0], shape)
    elif kind == "integers":
        low, high = params
        if high is None:
            low, high = 0, low if low else 2 ** 24
        values = rng.integers(low, high, shape)
    else:
        raise ValueError(f"unknown random fill {kind!r}")
    return copy_(t, const(xp.asarray(values).astype(t._data.dtype, copy=False)))
