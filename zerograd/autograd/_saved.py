"""How a node keeps what ``save_for_backward`` saved, and gives it back in backward.

One entry per saved item; version numbers catch in-place changes made in between:

* ``("in", tensor, version)``: an input (or any tensor), kept as the tensor itself, so a
  derivative built with ``create_graph=True`` connects to the graph through it;
* ``("out", weakref, array, version box, version, tangent, output_nr)``: an output of the
  node itself, held weakly (a strong reference would be a cycle node -> output -> node)
  and rebuilt from its array when the tensor is gone;
* ``("const", array)``: an intermediate array of forward;
* ``("hooked", packed, unpack_hook, edge)``: anything saved under
  ``autograd.graph.saved_tensors_hooks``; ``edge`` rebuilds the tensor's place in the
  graph around what ``unpack_hook`` returns (no version check: the hooks own the values).
"""
import weakref

from zerograd.autograd.graph import saved_hooks
from zerograd.tensor import Tensor


def pack(item, args, arrays, outs, results):
    """The entry that keeps ``item`` (an array forward handled, or a tensor)."""
    if item is None:
        return None
    if isinstance(item, Tensor):
        return ("in", item, item._version)
    for a, arr in zip(args, arrays):
        if arr is item and isinstance(a, Tensor):
            return ("in", a, a._version)
    for nr, out in enumerate(outs):
        if item is out:
            result = results[nr]
            if not result._requires_grad:  # a non-differentiable output: no cycle to avoid
                return ("in", result, result._version)
            return ("out", weakref.ref(result), out, result._version_box, result._version,
                    result._fw_grad, nr)
    return ("const", item)


def with_hooks(entries):
    """``entries`` kept through the innermost ``saved_tensors_hooks``, if one is active."""
    hooks = saved_hooks()
    if hooks is None:
        return entries
    return tuple([None if e is None else _pack_with_hooks(e, hooks) for e in entries])


def _pack_with_hooks(entry, hooks):
    pack_hook, unpack_hook = hooks
    kind = entry[0]
    if kind == "in":
        t = entry[1]
        edge = ("in", t.grad_fn, t._output_nr, t._grad_accumulator, t._requires_grad)
    elif kind == "out":
        t = entry[1]()
        edge = ("out", entry[6], entry[5])
    else:
        t = Tensor._make(entry[1], False, None)
        edge = ("const",)
    packed = pack_hook(t)
    del t  # the hook decides what stays alive: keep no reference here
    return ("hooked", packed, unpack_hook, edge)


def unpack(node, entry):
    if entry is None:
        return None
    kind = entry[0]
    if kind == "in":
        tensor, version = entry[1], entry[2]
        if tensor._version != version:
            _raise_modified(node, tensor.shape, tensor.dtype, version, tensor._version)
        return tensor
    if kind == "out":
        _, ref, array, box, version, fw_grad, nr = entry
        if box[0] != version:
            _raise_modified(node, array.shape, array.dtype, version, box[0], output=nr)
        tensor = ref()
        if tensor is None or tensor.grad_fn is not node:
            # The output tensor is gone (or was rebased by an in-place op): rebuild it,
            # still pointing at this node so higher-order graphs connect through it,
            # and with the tangent it had in forward mode.
            tensor = _output_of(node, array, nr, fw_grad)
        return tensor
    if kind == "const":
        return Tensor._make(entry[1], False, None)
    return _unpack_hooked(node, entry)


def _output_of(node, array, nr, fw_grad):
    tensor = Tensor._make(array, True, node)
    if nr:
        tensor._output_nr = nr
    tensor._fw_grad = fw_grad
    return tensor


def _unpack_hooked(node, entry):
    _, packed, unpack_hook, edge = entry
    t = unpack_hook(packed)
    if not isinstance(t, Tensor):
        raise TypeError("Output of saved tensor unpack_hook expected to be a Tensor but got "
                        f"result of type {type(t).__name__}")
    kind = edge[0]
    if kind == "const":
        return t if not t._requires_grad else t.detach()
    # No version check here, as in torch: what the hooks kept is theirs to keep right (a
    # pack hook that copies makes later in-place changes harmless).
    if kind == "out":
        _, nr, fw_grad = edge
        if t.grad_fn is node and t._output_nr == nr:
            return t
        return _output_of(node, t._data, nr, fw_grad)
    _, grad_fn, nr, accumulator, requires_grad = edge
    if t.grad_fn is grad_fn and t._requires_grad == requires_grad and (
            grad_fn is not None or t._grad_accumulator is accumulator):
        return t  # the hook gave back the tensor that was saved (or one in its place)
    # A new tensor in the saved one's place in the graph, as torch's SavedVariable does.
    rebuilt = Tensor._make(t._data, requires_grad, grad_fn)
    if grad_fn is not None and nr:
        rebuilt._output_nr = nr
    elif accumulator is not None:
        rebuilt._grad_accumulator = accumulator
    return rebuilt


def _raise_modified(node, shape, dtype, expected, actual, output=None):
    role = f"saved by {node.name()}" if output is None else \
        f"which is output {output} of {node.name()}"
    raise RuntimeError(
        "one of the variables needed for gradient computation has been modified by an "
        f"inplace operation: [tensor of shape {list(shape)}, dtype {dtype}], {role}, is at "
        f"version {actual}; expected version {expected} instead. Hint: replace the "
        "in-place operation (x += ..., x.add_(...), x[i] = ...) with its out-of-place form, "
        "or clone() the tensor before changing it.")
