"""Extension points of the backward graph (``torch.autograd.graph``): node hooks, removable
handles, and hooks on the tensors a node saves.

Hooks are stored on the graph node (``Node._hooks``), created on the first registration:
a node nobody hooks carries only the class default ``None``, and the engine's whole cost
for hooks is one attribute test per node. Where each kind of hook runs, in torch's order:

1. tensor hooks (``Tensor.register_hook``), in registration order, each may replace the
   gradient; then ``retain_grad``'s store, so ``.grad`` sees the hooked gradient;
2. node pre-hooks (``grad_fn.register_prehook``): ``fn(grad_outputs)``;
3. the node's backward (for a leaf's ``AccumulateGrad``: the accumulation into ``.grad``,
   then its post-accumulate-grad hooks, ``fn(tensor)``);
4. node hooks (``grad_fn.register_hook``): ``fn(grad_inputs, grad_outputs)``.

``saved_tensors_hooks(pack, unpack)`` changes how ``save_for_backward`` keeps a tensor:
``pack(tensor)`` runs when the node is recorded and may return anything;
``unpack(packed)`` runs in backward and must return a tensor of the same value.
"""
import itertools
import threading
import weakref

from zerograd.autograd.grad_mode import is_grad_enabled

__all__ = ["Node", "RemovableHandle", "saved_tensors_hooks", "save_on_cpu",
           "disable_saved_tensors_hooks"]


class RemovableHandle:
    """What a ``register_*hook`` call returns: ``handle.remove()`` unregisters the hook.

    Also a context manager (the hook is removed on exit). The handle holds the hook table
    weakly, so it never keeps a graph or a module alive.
    """

    _next_id = itertools.count()

    def __init__(self, hooks_dict, *extra_dicts):
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.extra_dict_refs = tuple(weakref.ref(d) for d in extra_dicts)
        self.id = next(RemovableHandle._next_id)

    def remove(self):
        for ref in (self.hooks_dict_ref,) + self.extra_dict_refs:
            table = ref()
            if table is not None:
                table.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class _HookDict(dict):
    """A dict that a weak reference can point at (plain dicts cannot be weakly referenced)."""
    __slots__ = ("__weakref__",)


class _NodeHooks:
    """Every hook registered on one node; the engine reads it when ``node._hooks`` is set."""

    __slots__ = ("tensor", "retain", "pre", "post", "post_accumulate")

    def __init__(self):
        self.tensor = _HookDict()           # id -> (output_nr, fn(grad) -> grad | None)
        self.retain = {}                    # output_nr -> weakref to the retaining tensor
        self.pre = _HookDict()              # id -> fn(grad_outputs) -> grad_outputs | None
        self.post = _HookDict()             # id -> fn(grad_inputs, grad_outputs) -> ... | None
        self.post_accumulate = _HookDict()  # id -> fn(tensor), leaves only


class Node:
    """Base of every graph node (``Function`` instances and ``AccumulateGrad``)."""

    _hooks = None
    _next = ()         # the node of each input (None for inputs that need no gradient)
    _input_meta = ()   # per input: (shape, dtype, array type, output_nr of its edge) or None
    _n_outputs = 1
    # No hooks, one output, no array-level backward: the engine calls ``backward`` directly.
    _plain = True
    # No hooks, one output, and a ``backward_array``: called directly without a graph.
    _array_ready = False

    def _hook_table(self):
        hooks = self._hooks
        if hooks is None:
            hooks = self._hooks = _NodeHooks()
            self._plain = self._array_ready = False
        return hooks

    def register_hook(self, fn):
        """``fn(grad_inputs, grad_outputs)`` after this node's backward; a non-None result
        replaces ``grad_inputs`` (the gradients sent on to the node's inputs)."""
        table = self._hook_table().post
        handle = RemovableHandle(table)
        table[handle.id] = fn
        return handle

    def register_prehook(self, fn):
        """``fn(grad_outputs)`` before this node's backward; a non-None result replaces them."""
        table = self._hook_table().pre
        handle = RemovableHandle(table)
        table[handle.id] = fn
        return handle

    def _register_tensor_hook(self, output_nr, fn):
        table = self._hook_table().tensor
        handle = RemovableHandle(table)
        table[handle.id] = (output_nr, fn)
        return handle

    def _retain(self, output_nr, tensor):
        self._hook_table().retain[output_nr] = weakref.ref(tensor)

    @property
    def next_functions(self):
        """``(node, output_nr)`` for each input: where its gradient goes."""
        return tuple((n, m[3] if m and n._n_outputs != 1 else 0)
                      for n, m in zip(self._next, self._input_meta))

    @property
    def metadata(self):
        """A dict the user may store anything in (torch's ``Node.metadata``)."""
        meta = self.__dict__.get("_metadata")
        if meta is None:
            meta = self.__dict__["_metadata"] = {}
        return meta


# -- running the hooks (the engine calls these) ----------------------------------------------
def call_tensor_hooks(node, hooks, grad):
    """Tensor hooks of the node's outputs, then retain_grad's store (it sees their result)."""
    multi = node._n_outputs != 1
    if grad is None:
        return None
    if multi:
        grad = list(grad)
    for nr, fn in list(hooks.tensor.values()):
        g = grad[nr] if multi else grad
        if g is None:
            continue
        new = fn(g)
        if new is not None:
            if multi:
                grad[nr] = new
            else:
                grad = new
    for nr, ref in hooks.retain.items():
        g = grad[nr] if multi else grad
        t = ref()
        if g is None or t is None or not t._retains_grad or t.grad_fn is not node:
            continue
        g = g if is_grad_enabled() else g.detach()
        t._grad = g if t._grad is None else t._grad + g
    return grad


def call_pre_hooks(node, hooks, grad):
    """Node pre-hooks: ``fn(grad_outputs)``, each may replace them."""
    multi = node._n_outputs != 1
    grads = tuple(grad) if multi else (grad,)
    for fn in list(hooks.pre.values()):
        new = fn(grads)
        if new is not None:
            grads = tuple(new)
    return list(grads) if multi else grads[0]


def call_post_hooks(node, hooks, grad_inputs, grad_outputs):
    """Node hooks: ``fn(grad_inputs, grad_outputs)``, each may replace ``grad_inputs``."""
    for fn in list(hooks.post.values()):
        new = fn(grad_inputs, grad_outputs)
        if new is not None:
            grad_inputs = tuple(new)
    return grad_inputs


# -- saved tensors hooks ---------------------------------------------------------------------
_state = threading.local()
# How many saved_tensors_hooks contexts are open in any thread: Function reads this one
# number to skip the thread-local lookup while none is (nearly always).
any_active = [0]


def saved_hooks():
    """The innermost active ``(pack, unpack)`` pair, or None (the common case)."""
    stack = getattr(_state, "stack", None)
    if not stack or getattr(_state, "disabled", None):
        return None
    return stack[-1]


class saved_tensors_hooks:
    """Within it, every tensor a node saves for backward is kept as ``pack_hook(tensor)``
    and restored in backward with ``unpack_hook(packed)``.

    The hooks apply to what ``save_for_backward`` saves while the context is active (inputs,
    outputs and intermediates alike), whenever backward later runs. ``pack_hook`` must not
    change its argument in place; ``unpack_hook`` must return a tensor with the saved
    values (it may be a copy, e.g. read back from disk or another device).
    """

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        disabled = getattr(_state, "disabled", None)
        if disabled:
            raise RuntimeError(disabled[-1])
        stack = getattr(_state, "stack", None)
        if stack is None:
            stack = _state.stack = []
        stack.append((self.pack_hook, self.unpack_hook))
        any_active[0] += 1
        return self

    def __exit__(self, *exc):
        _state.stack.pop()
        any_active[0] -= 1
        return False


class save_on_cpu(saved_tensors_hooks):
    """Keep saved tensors in host memory; each goes back to its device when backward reads it.

    On tensors already on the CPU this costs nothing. ``pin_memory`` is accepted for
    torch's signature (host memory here is what the array library gives).
    """

    def __init__(self, pin_memory=False, device_type="cuda"):
        def pack_to_cpu(tensor):
            return tensor.device, tensor.cpu()

        def unpack_from_cpu(packed):
            device, tensor = packed
            return tensor.to(device)

        super().__init__(pack_to_cpu, unpack_from_cpu)


class disable_saved_tensors_hooks:
    """Within it, saved tensors are kept as they are, and entering ``saved_tensors_hooks``
    raises ``RuntimeError(error_message)``: for code that cannot work with such hooks."""

    def __init__(self, error_message):
        self.error_message = error_message

    def __enter__(self):
        disabled = getattr(_state, "disabled", None)
        if disabled is None:
            disabled = _state.disabled = []
        disabled.append(self.error_message)
        return self

    def __exit__(self, *exc):
        _state.disabled.pop()
        return False
