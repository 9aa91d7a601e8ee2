"""Reverse-mode execution of the backward graph.

The graph is walked iteratively in topological order (Kahn's algorithm over dependency
counts), never recursively, so a chain of any length works. Each node runs once, after
every consumer of its output has sent its gradient; gradients arriving at the same node
are summed first. Broadcasting and dtype are settled here, once for all ops: a gradient
is summed back to its input's shape and cast to its input's dtype.
"""
from zerograd.autograd.function import _FREED, AccumulateGrad
from zerograd.autograd.grad_mode import is_grad_enabled, _set_enabled
from zerograd.backend import array_module
from zerograd.dtypes import from_numpy_dtype
from zerograd.tensor import Tensor


def _root_node(t):
    return t.grad_fn if t.grad_fn is not None else t._accumulator()


def _make_root_grads(outputs, grad_outputs):
    grads = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if g is None:
            if out._data.size != 1:
                raise RuntimeError(
                    "grad can be implicitly created only for scalar outputs; output "
                    f"{i} has shape {tuple(out.shape)}. Pass gradient= (a tensor of that shape) "
                    "to backward(), or reduce the output first, e.g. out.sum().backward().")
            xp = array_module(out._data)  # the root gradient lives on the output's device
            g = Tensor._make(xp.ones(out._data.shape, dtype=out._data.dtype), False, None)
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


def run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs=None):
    """Propagate ``grad_outputs`` from ``outputs`` back through the graph.

    Without ``inputs`` the gradients land in the ``.grad`` of every leaf reached (and of
    non-leaves that called ``retain_grad()``). With ``inputs`` nothing is accumulated: the
    gradients w.r.t. ``inputs`` are returned, and only the part of the graph leading to
    them runs (``autograd.grad``).
    """
    for i, out in enumerate(outputs):
        if not out._requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn. "
                "Create the inputs with requires_grad=True (or call .requires_grad_()) and "
                "compute the output outside no_grad().")
    grads = _make_root_grads(outputs, grad_outputs)
    roots = [_root_node(o) for o in outputs]
    deps = _discover(dict.fromkeys(roots))

    targets = {}
    if inputs is not None:
        for i, t in enumerate(inputs):
            if not t._requires_grad:
                raise RuntimeError(f"One of the differentiated Tensors (input {i}) does not "
                                   "require grad")
            targets.setdefault(_root_node(t), []).append(i)
        needed, expand = _prune_to(dict.fromkeys(roots), deps, targets)
    else:
        needed = expand = None

    pending = {}
    owned = {}  # node -> its pending gradient's memory belongs to nobody else
    for node, g in zip(roots, grads):
        old = pending.get(node)
        pending[node] = g if old is None else old + g
    ready = [n for n in dict.fromkeys(roots) if deps.get(n, 0) == 0]
    captured = [None] * (len(inputs) if inputs is not None else 0)

    prev_mode = is_grad_enabled()
    _set_enabled(create_graph)
    try:
        while ready:
            node = ready.pop()
            grad = pending.pop(node, None)
            if needed is not None:
                for i in targets.get(node, ()):
                    captured[i] = grad
                if node not in expand:
                    continue
            elif type(node) is AccumulateGrad:
                if grad is not None:
                    _accumulate_into_leaf(node, grad, create_graph, owned.get(node, False))
                continue
            if node._retains:
                _retain_grad_if_asked(node, grad, create_graph)
            if grad is None:
                in_grads = (None,) * len(node._next)
            else:
                in_grads = type(node).backward(node, grad)
                if not isinstance(in_grads, tuple):
                    in_grads = (in_grads,)
            if not retain_graph and node._saved:
                node._saved = _FREED
            # The same tensor sent to two inputs (x + x) is shared, so not owned by either.
            n = len(in_grads)
            shared = n > 1 and (
                (in_grads[0] is in_grads[1] and in_grads[0] is not None) if n == 2 else
                _has_repeats([x for x in in_grads if x is not None]))
            for nxt, g, meta in zip(node._next, in_grads, node._input_meta):
                if nxt is None:
                    continue
                if g is not None and (needed is None or nxt in needed):
                    shape, np_dtype = meta
                    if g._data.shape != shape:
                        g = g.sum_to_size(shape)
                    if g._data.dtype != np_dtype:
                        g = g.to(from_numpy_dtype(np_dtype))
                    old = pending.get(nxt)
                    if old is None:
                        pending[nxt] = g
                        # A gradient is "owned" when nothing else can see its memory: not
                        # the incoming gradient passed through, not a view, not sent twice.
                        owned[nxt] = not shared and g is not grad and g._data.base is None
                    else:
                        pending[nxt] = old + g
                        owned[nxt] = True
                deps[nxt] -= 1
                if deps[nxt] == 0:
                    ready.append(nxt)
    finally:
        _set_enabled(prev_mode)

    if not create_graph:
        captured = [None if g is None else g.detach() for g in captured]
    return captured


def _has_repeats(tensors):
    return len({id(t) for t in tensors}) < len(tensors)


def _accumulate_into_leaf(node, grad, create_graph, owned):
    leaf = node.variable_ref()
    if leaf is None:
        return
    if leaf.grad is None:
        # .grad is later changed in place (accumulation, clipping), so it must not share
        # memory with anything else: copy unless the engine knows the array is fresh.
        if create_graph:
            leaf.grad = grad
        else:
            leaf.grad = Tensor._make(grad._data if owned else grad._data.copy(), False, None)
    elif create_graph or leaf.grad._requires_grad:
        leaf.grad = leaf.grad + grad
    else:
        leaf.grad._data += grad._data
        leaf.grad._bump_version()


def _retain_grad_if_asked(node, grad, create_graph):
    ref = node._output_ref
    if ref is None or grad is None:
        return
    t = ref()
    if t is None or not t._retains_grad or t.grad_fn is not node:
        return
    g = grad if create_graph else grad.detach()
    t.grad = g if t.grad is None else t.grad + g
