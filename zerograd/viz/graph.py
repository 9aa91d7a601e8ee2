"""The autograd graph as Graphviz DOT text, and rendering it when Graphviz is installed.

Backward nodes (``grad_fn``) are boxes named like PyTorch's (``MulBackward0``); leaves
that require grad are ellipses with their shape (and name, when ``params`` says it);
the tensor the graph was drawn from is the green root. Edges point the way gradients
flow, from the output towards the leaves, as in torchviz.
"""
import os
import shutil
import subprocess

from zerograd.io.atomic import atomic_write_text
from zerograd.tensor import Tensor

__all__ = ["draw_graph", "render_graph"]


def _quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _shape(t):
    return "(" + ", ".join(str(s) for s in t.shape) + ")"


def _leaf_of(node):
    """The leaf tensor behind an AccumulateGrad node (None if it was freed)."""
    ref = getattr(node, "variable_ref", None)
    return ref() if ref is not None else None


def draw_graph(tensor, params=None, graph_name="autograd"):
    """Return the DOT source of the backward graph that produced ``tensor``.

    ``tensor`` may be one tensor or a list/tuple of them. ``params`` maps names to tensors
    (e.g. ``dict(model.named_parameters())``) to label those leaves by name. Only tensors
    that require grad are part of the graph; constants are not drawn.
    """
    roots = list(tensor) if isinstance(tensor, (list, tuple)) else [tensor]
    for r in roots:
        if not isinstance(r, Tensor):
            raise TypeError(f"draw_graph expects Tensors, got {type(r).__name__}")
    names = {id(p): n for n, p in (params or {}).items()}
    ids = {}
    lines = [f"digraph {graph_name} {{",
             '  graph [rankdir=TB, fontname="Helvetica"];',
             '  node [fontname="Helvetica", fontsize=10, style=filled];']

    def node_id(node):
        if node not in ids:
            ids[node] = f"n{len(ids)}"
        return ids[node]

    def leaf_label(t):
        name = names.get(id(t))
        head = f"{name}\n" if name else ""
        return f"{head}{_shape(t)}\nrequires_grad"

    stack = []
    for i, r in enumerate(roots):
        out = f"out{i}"
        lines.append(f"  {out} [label={_quote('output ' + _shape(r))}, shape=ellipse, "
                     f"fillcolor=darkolivegreen1];")
        if r.grad_fn is not None:
            lines.append(f"  {out} -> {node_id(r.grad_fn)};")
            stack.append(r.grad_fn)
        elif r.requires_grad:
            lines[-1] = (f"  {out} [label={_quote('leaf ' + leaf_label(r))}, shape=ellipse, "
                         f"fillcolor=lightblue];")
    seen = set()
    while stack:  # iterative: deep graphs (long RNN chains) must not hit the recursion limit
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        nid = node_id(node)
        leaf = _leaf_of(node)
        if leaf is not None:
            lines.append(f"  {nid} [label={_quote(leaf_label(leaf))}, shape=ellipse, "
                         f"fillcolor=lightblue];")
            continue
        lines.append(f"  {nid} [label={_quote(node.name())}, shape=box, fillcolor=lightgrey];")
        for nxt in getattr(node, "_next", ()):
            if nxt is None:
                continue
            lines.append(f"  {nid} -> {node_id(nxt)};")
            stack.append(nxt)
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_graph(dot_source, path, format="svg"):
    """Write ``path`` + ``.dot`` and, if Graphviz's ``dot`` program exists, ``path.<format>``.

    Returns ``(written_path, message)``: the rendered picture when ``dot`` is available,
    otherwise the ``.dot`` file and a sentence saying how to render it.
    """
    path = os.fspath(path)
    root, ext = os.path.splitext(path)
    if ext.lstrip(".") in ("svg", "png", "pdf", "dot"):
        format = ext.lstrip(".") if ext != ".dot" else format
        path = root
    dot_file = path + ".dot"
    atomic_write_text(dot_file, dot_source)  # a killed run never leaves half a file
    exe = shutil.which("dot")
    if exe is None:
        return dot_file, (f"Graphviz 'dot' is not installed; wrote {dot_file} (render it with "
                          f"`dot -T{format} {dot_file} -o {path}.{format}`)")
    out = f"{path}.{format}"
    result = subprocess.run([exe, f"-T{format}", dot_file, "-o", out],
                            capture_output=True, text=True)
    if result.returncode != 0:
        return dot_file, f"Graphviz failed ({result.stderr.strip()}); wrote {dot_file}"
    return out, f"wrote {out} (and {dot_file})"
