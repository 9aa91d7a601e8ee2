"""Reverse-mode execution of the backward graph.

One backward pass is a ``_GraphTask`` and runs in four phases:

1. discovery (``_discover``, ``_prune_to``): which nodes the outputs reach, how many
   edges point at each, and for ``autograd.grad`` which of them lead to the inputs asked;
2. the execution loop (``_execute``): iterative topological order (Kahn's algorithm over
   dependency counts, never recursion, so a chain of any length works); a node runs once,
   after every consumer of its output has sent its gradient;
3. delivery (``_deliver``): the gradients a node returns are summed back to each input's
   shape, cast to its dtype, checked to be on its device, and added into what the next
   node will receive; at a leaf, ``_accumulate_into_leaf`` adds them into ``.grad``;
4. the end (``_finish``): callbacks queued during the pass run once, in order.

Hooks (``autograd.graph``, which also runs them) are called around a node only where some
are registered: the loop tests ``node._hooks`` and otherwise does nothing extra.
"""
import threading

from zerograd.autograd.function import _FREED, AccumulateGrad
from zerograd.autograd.grad_mode import _state as _grad_mode
from zerograd.autograd.graph import call_post_hooks, call_pre_hooks, call_tensor_hooks
from zerograd.backend import array_module, backend_of, get as _get_backend, registered_types
from zerograd.dtypes import from_numpy_dtype
from zerograd.tensor import Tensor


class _State(threading.local):
    task = None  # the innermost backward pass running in this thread


_state = _State()
_HOST_XP = _get_backend("cpu").xp
_HOST_ARRAY = _get_backend("cpu").array_type


class _GraphTask:
    """One backward pass: its options, the gradients in flight, and where results go."""

    targets = None   # autograd.grad: node -> [(index in inputs, output_nr)]
    needed = expand = None
    captured = ()
    accumulate = True  # leaves reached accumulate into .grad
    callbacks = None   # what queue_callback asked to run at the end
    outer = None       # the pass this one runs inside (a backward called from a hook)

    def __init__(self, retain_graph, create_graph):
        self.retain_graph = retain_graph
        self.create_graph = create_graph
        self.pending = {}  # node -> its gradient (a list of them for a multi-output node)
        self.owned = {}    # node -> nobody else can see its pending gradient's memory


def run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs=None,
                 accumulate=False):
    """Propagate ``grad_outputs`` from ``outputs`` back through the graph.

    Without ``inputs`` the gradients land in the ``.grad`` of every leaf reached (and of
    non-leaves that called ``retain_grad()``). With ``inputs``, only the part of the graph
    leading to them runs and their gradients are returned (``autograd.grad``); with
    ``accumulate`` too, the leaves among ``inputs`` accumulate into ``.grad`` instead, hooks
    and all (``backward(inputs=...)``), and None is returned for them.
    """
    for i, out in enumerate(outputs):
        if not out._requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn. "
                "Create the inputs with requires_grad=True (or call .requires_grad_()) and "
                "compute the output outside no_grad().")
    task = _GraphTask(retain_graph, create_graph)
    grads = _make_root_grads(outputs, grad_outputs)
    if len(outputs) == 1:  # loss.backward(): the common case, kept short
        root = _edge_of(outputs[0])
        roots, root_nodes = (root,), {root[0]: None}
    else:
        roots = [_edge_of(o) for o in outputs]
        root_nodes = dict.fromkeys([node for node, _ in roots])
    task.deps = deps = _discover(root_nodes)
    if inputs is not None:
        _set_targets(task, root_nodes, inputs, accumulate)
    pending = task.pending
    for (node, nr), g in zip(roots, grads):
        if node._n_outputs != 1:
            _add_to_slot(pending, node, nr, g)
        else:  # the caller's gradient: never owned (accumulating must copy it)
            pending[node] = g if node not in pending else pending[node] + g
    task.ready = [n for n in root_nodes if n not in deps]
    task.outer, _state.task = _state.task, task
    try:
        _execute(task)
        if task.callbacks:
            _finish(task)
    finally:
        _state.task = task.outer
    if inputs is None or create_graph:
        return task.captured
    return [None if g is None else g.detach() for g in task.captured]


# -- phase 1: discovery ----------------------------------------------------------------------
def _edge_of(t):
    """(node, output_nr) where ``t``'s gradient enters the graph."""
    if t.grad_fn is None:
        return t._accumulator(), 0
    return t.grad_fn, t.output_nr


def _make_root_grads(outputs, grad_outputs):
    grads = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if g is None:
            data = out._data
            if data.size != 1:
                raise RuntimeError(
                    "grad can be implicitly created only for scalar outputs; output "
                    f"{i} has shape {tuple(out.shape)}. Pass gradient= (a tensor of that shape) "
                    "to backward(), or reduce the output first, e.g. out.sum().backward().")
            # the root gradient lives on the output's device; hooks may change theirs in place
            fn = out.grad_fn
            if type(data) is _HOST_ARRAY and fn is not None and fn._hooks is None:
                one = _host_one(data.dtype)
            else:
                with _device_guard_of(data):
                    one = array_module(data).array(1, dtype=data.dtype)
            g = Tensor._make(one if data.ndim == 0 else one.reshape(data.shape), False, None)
        else:
            if not isinstance(g, Tensor):
                g = Tensor._make(array_module(out._data).asarray(g, dtype=out._data.dtype), False,
                                 None)
            if g.shape != out.shape:
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[{i}] has a shape of {tuple(g.shape)} and "
                    f"output[{i}] has a shape of {tuple(out.shape)}.")
        grads.append(g)
    return grads


_HOST_ONES = {}


def _host_one(dtype):
    """A read-only 0-d host 1 of ``dtype``, made once: the implicit root gradient is never
    owned (nothing may write into it), so every backward can share it."""
    one = _HOST_ONES.get(dtype)
    if one is None:
        one = _HOST_ONES[dtype] = _HOST_XP.array(1, dtype=dtype)
        one.flags.writeable = False
    return one


def _discover(roots):
    """Every node reachable from ``roots``, with how many edges point at each."""
    deps = {}
    stack = list(roots)
    seen = set(roots)
    while stack:
        node = stack.pop()
        for nxt in node._next:
            if nxt is None:
                continue
            deps[nxt] = deps.get(nxt, 0) + 1
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return deps


def _topological(roots, deps):
    """Kahn's algorithm: every node comes after all nodes that send it a gradient."""
    remaining = dict(deps)
    ready = [r for r in roots if remaining.get(r, 0) == 0]
    order = []
    while ready:
        node = ready.pop()
        order.append(node)
        for nxt in node._next:
            if nxt is not None:
                remaining[nxt] -= 1
                if remaining[nxt] == 0:
                    ready.append(nxt)
    return order


def _prune_to(roots, deps, targets):
    """For autograd.grad: which nodes must run their backward to reach ``targets``.

    Returns ``(needed, expand)``: ``needed`` nodes lie on a path to a target; ``expand``
    nodes have a needed input, so their backward must run (a target with nothing
    needed upstream only captures its gradient).
    """
    needed, expand = {}, {}
    for node in reversed(_topological(roots, deps)):
        grow = any(n is not None and n in needed for n in node._next)
        if grow:
            expand[node] = True
        if grow or node in targets:
            needed[node] = True
    return needed, expand


def _set_targets(task, root_nodes, inputs, accumulate):
    targets = {}
    for i, t in enumerate(inputs):
        if not t._requires_grad:
            raise RuntimeError(f"One of the differentiated Tensors (input {i}) does not "
                               "require grad")
        node, nr = _edge_of(t)
        targets.setdefault(node, []).append((i, nr))
    task.targets = targets
    task.needed, task.expand = _prune_to(root_nodes, task.deps, targets)
    task.captured = [None] * len(inputs)
    task.accumulate = accumulate


# -- phase 2: the execution loop ---------------------------------------------------------------
def _execute(task):
    pending, owned, ready, targets = task.pending, task.owned, task.ready, task.targets
    create_graph, retain_graph = task.create_graph, task.retain_graph
    needed, deps = task.needed, task.deps
    prev_mode = _grad_mode.enabled
    _grad_mode.enabled = bool(create_graph)
    device = None  # the device guard entered for the nodes now running (several GPUs)
    try:
        while ready:
            node = ready.pop()
            grad = pending.pop(node, None)
            if grad is not None and (grad.__class__ is not Tensor
                                     or type(grad._data) is not _HOST_ARRAY):
                device = _switch_device(grad, device)
            if targets is not None and not _at_target(task, node, grad):
                continue
            if type(node) is AccumulateGrad:
                if grad is None:
                    continue
                if node._hooks is None:
                    _accumulate_into_leaf(node, grad, create_graph, owned.get(node, False))
                else:
                    _accumulate_at_leaf(task, node, grad)
                continue
            if node._plain:
                in_grads = None if grad is None else type(node).backward(node, grad)
            elif node._array_ready and not create_graph:  # no graph of the derivative
                # backward_array may write into a gradient nobody else sees (ReLU's mask)
                node.grad_owned = owned.get(node, False)
                node.keeps_saved = retain_graph
                in_grads = None if grad is None else _call_backward_array(
                    node, node.backward_array, (grad,))
            else:  # hooks, several outputs, or a backward_array while recording
                in_grads = _run_node(task, node, grad)
            if not retain_graph and node._saved:
                node._saved = _FREED
            _deliver(node, in_grads, grad, pending, owned, needed, deps, ready)
    finally:
        _grad_mode.enabled = prev_mode
        if device is not None:
            device.__exit__(None, None, None)


def _device_guard_of(array):
    """The context that makes ``array``'s device current (a no-op on the host)."""
    backend = backend_of(array)
    return backend.device_guard(backend.device_index(array) or 0)


def _switch_device(grad, entered):
    """Make the device of the gradient a node receives current while the node runs, as
    torch's engine does per device: on a type with several devices (CUDA GPUs), arrays
    are allocated on, and kernels run at, the current device. Returns the entered guard
    (``entered``, the previous one, is left first); host gradients change nothing."""
    g = grad
    while isinstance(g, (tuple, list)):
        g = next((x for x in g if x is not None), None)
    if g is None or type(g._data) is _HOST_ARRAY:
        return entered
    backend = backend_of(g._data)
    if backend.device_count() < 2:
        return entered
    if entered is not None:
        entered.__exit__(None, None, None)
    guard = _device_guard_of(g._data)
    guard.__enter__()
    return guard


def _at_target(task, node, grad):
    """``autograd.grad``: capture the gradient of a node the inputs hang on. True when the
    node must still run its backward (something needed lies beyond it)."""
    expand = node in task.expand
    places = task.targets.get(node)
    if places is not None:
        if task.accumulate and type(node) is AccumulateGrad:  # backward(inputs=[leaf])
            if grad is not None:
                _accumulate_at_leaf(task, node, grad)
            return False
        if not expand and node._hooks is not None:
            grad = call_tensor_hooks(node, node._hooks, grad)  # torch: hooked when not expanded
        for i, nr in places:
            task.captured[i] = grad if node._n_outputs == 1 or grad is None else grad[nr]
    return expand


def _run_node(task, node, grad):
    """A node with hooks, several outputs or a ``backward_array``: the gradients it sends
    to its inputs."""
    hooks = node._hooks
    node.grad_owned = False  # hooks have seen the gradient
    node.keeps_saved = task.retain_graph
    if hooks is not None:
        grad = call_tensor_hooks(node, hooks, grad)
        if hooks.pre:
            grad = call_pre_hooks(node, hooks, grad)
    multi = node._n_outputs != 1
    grad_outputs = tuple(grad) if multi else (grad,)
    if grad is None or all(g is None for g in grad_outputs):
        return None
    grads = grad_outputs
    if multi and node._materialize_grads:  # zeros for outputs that received no gradient
        xp = node._backend.xp
        grads = [Tensor._make(xp.zeros(shape, dtype=dtype), False, None) if g is None else g
                 for g, (shape, dtype) in zip(grads, node._output_meta)]
    if node.backward_array is not None and not task.create_graph:
        in_grads = _call_backward_array(node, node.backward_array, grads)
    else:
        in_grads = type(node).backward(node, *grads)
    if hooks is not None and hooks.post:  # hooks see None where backward saw zeros (torch)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        in_grads = call_post_hooks(node, hooks, in_grads, grad_outputs)
    return in_grads


def _call_backward_array(node, backward_array, grads):
    """``backward_array`` on the gradients' arrays; its arrays wrapped as tensors."""
    results = backward_array(node, *[None if g is None else g._data for g in grads])
    make = Tensor._make
    if type(results) is not tuple:
        results = (results,)
    backend = node._backend
    array_type = backend.array_type
    return tuple([None if r is None else
                  make(r if type(r) is array_type else backend.xp.asarray(r), False, None)
                  for r in results])


# -- phase 3: delivery -------------------------------------------------------------------------
def _deliver(node, in_grads, grad, pending, owned, needed, deps, ready):
    """Send each input's gradient on to the node that made that input (``pending``); a
    node whose consumers have all delivered becomes ready."""
    if in_grads is None:
        in_grads = (None,) * len(node._next)
    elif not isinstance(in_grads, tuple):
        in_grads = (in_grads,)
    # The same tensor sent to two inputs (x + x) is shared, so not owned by either.
    n = len(in_grads)
    shared = n > 1 and (
        (in_grads[0] is in_grads[1] and in_grads[0] is not None) if n == 2 else
        _has_repeats([x for x in in_grads if x is not None]))
    leaves = []
    for nxt, g, meta in zip(node._next, in_grads, node._input_meta):
        if nxt is None:
            continue
        if g is not None and (needed is None or nxt in needed):
            data = g._data
            if data.shape != meta[0] or data.dtype != meta[1] or type(data) is not meta[2]:
                g = _fit(node, g, meta)
            if nxt._n_outputs != 1:
                _add_to_slot(pending, nxt, meta[3], g)
            elif nxt in pending:
                current = pending[nxt]
                if owned.get(nxt) and not current._requires_grad and not g._requires_grad:
                    current._data += g._data  # ours alone: add in place, no new array
                else:
                    pending[nxt] = current + g
                    owned[nxt] = True
            else:
                pending[nxt] = g
                # A gradient is "owned" when nothing else can see its memory: not the
                # incoming gradient passed through (or rewrapped), not a view, not sent twice,
                # not shown to a post hook (which may keep it).
                # An owned incoming gradient written in place and passed on stays owned.
                owned[nxt] = (not shared and g is not grad and g._data.base is None
                              and node._hooks is None
                              and (type(grad) is not Tensor or g._data is not grad._data
                                   or node.grad_owned))
        deps[nxt] -= 1
        if deps[nxt] == 0:
            if type(nxt) is AccumulateGrad:
                leaves.append(nxt)
            else:
                ready.append(nxt)
    if leaves:  # leaves go first, in input order (torch gives them the highest priority)
        leaves.reverse()
        ready.extend(leaves)


def _fit(node, g, meta):
    """A gradient made to match its input: same device, shape (broadcasting summed back)
    and dtype."""
    shape, np_dtype, array_type, _ = meta
    if type(g._data) is not array_type:
        g = _on_input_device(node, g, array_type)
    if g._data.shape != shape:
        g = g.sum_to_size(shape)
    if g._data.dtype != np_dtype:
        g = g.to(from_numpy_dtype(np_dtype))
    return g


def _add_to_slot(pending, node, nr, g):
    """Add ``g`` to what the multi-output ``node`` will receive for its output ``nr``."""
    slots = pending.get(node)
    if slots is None:
        slots = pending[node] = [None] * node._n_outputs
    slots[nr] = g if slots[nr] is None else slots[nr] + g


def _has_repeats(tensors):
    return len({id(t) for t in tensors}) < len(tensors)


def _on_input_device(node, g, array_type):
    """A gradient whose array type differs from its input's: another type of the same
    device (a NumPy scalar) passes; another device is a bug in ``node``'s backward."""
    got = backend_of(g._data)
    if array_type is got.array_type or array_type in got.array_types:
        return g
    expected = next((b.type for b in map(_get_backend, registered_types())
                     if array_type is b.array_type or array_type in b.array_types), "?")
    raise RuntimeError(
        f"internal error: {node.name()} returned a gradient on device '{got.type}' for an "
        f"input on device '{expected}' (a backward must compute on its inputs' device)")


def _accumulate_at_leaf(task, node, grad):
    """A leaf's ``AccumulateGrad``: its hooks around the accumulation into ``.grad``."""
    hooks = node._hooks
    owned = task.owned.get(node, False)
    if hooks is None:
        _accumulate_into_leaf(node, grad, task.create_graph, owned)
        return
    incoming = grad
    grad = call_tensor_hooks(node, hooks, grad)
    if hooks.pre:
        grad = call_pre_hooks(node, hooks, grad)
    _accumulate_into_leaf(node, grad, task.create_graph, owned and grad is incoming)
    leaf = node.variable_ref()
    for fn in list(hooks.post_accumulate.values()):
        if leaf is not None:
            fn(leaf)
    if hooks.post:
        call_post_hooks(node, hooks, (), (grad,))


def _accumulate_into_leaf(node, grad, create_graph, owned):
    leaf = node.variable_ref()
    if leaf is None:
        return
    current = leaf._grad  # (``.grad`` itself is a property that warns on non-leaves)
    if current is None:
        # .grad is later changed in place (accumulation, clipping), so it must not share
        # memory with anything else: copy unless the engine knows the array is fresh.
        if create_graph or owned and not grad._requires_grad:
            leaf._grad = grad
        else:
            leaf._grad = Tensor._make(grad._data if owned else grad._data.copy(), False, None)
    elif create_graph or current._requires_grad:
        leaf._grad = current + grad
    else:
        current._data += grad._data
        current._bump_version()


# -- phase 4: the end of the pass --------------------------------------------------------------
def queue_callback(callback):
    """Run ``callback()`` once the backward pass now running is done (from a hook)."""
    task = _state.task
    if task is None:
        raise RuntimeError("Final callbacks can only be installed during backward pass.")
    if task.callbacks is None:
        task.callbacks = []
    task.callbacks.append(callback)


def _finish(task):
    callbacks = task.callbacks
    i = 0
    while i < len(callbacks):  # a callback may queue more
        callbacks[i]()
        i += 1
