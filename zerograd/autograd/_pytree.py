"""Nested containers of tensors ("pytrees"): flatten to a list of leaves and rebuild.

The function transforms (``zerograd.func``, built on ``autograd._transforms``) accept
and return tuples, lists, dicts and named tuples of tensors, nested freely, as
``torch.utils._pytree`` does: a dict of parameters goes in, a dict of gradients comes out.
Anything else is a leaf. (``zerograd.utils._pytree`` is torch's path to the same names.)
"""

__all__ = ["TreeSpec", "tree_flatten", "tree_unflatten", "tree_map", "tree_leaves"]

LEAF = None  # the spec of a leaf


class TreeSpec:
    """The shape of a pytree without its leaves: a node type, its context, its children."""

    __slots__ = ("type", "context", "children")

    def __init__(self, type_, context, children):
        self.type, self.context, self.children = type_, context, children

    @property
    def num_leaves(self):
        return sum(1 if c is LEAF else c.num_leaves for c in self.children)

    def __eq__(self, other):
        return (isinstance(other, TreeSpec) and self.type is other.type
                and self.context == other.context and self.children == other.children)

    def __repr__(self):
        inner = ", ".join("*" if c is LEAF else repr(c) for c in self.children)
        if self.type is dict:
            inner = ", ".join(f"{k!r}: {'*' if c is LEAF else repr(c)}"
                              for k, c in zip(self.context, self.children))
            return "{" + inner + "}"
        if self.type is list:
            return f"[{inner}]"
        if self.type is tuple:
            return f"({inner}{',' if len(self.children) == 1 else ''})"
        return f"{self.type.__name__}({inner})"


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _children(node):
    """``(type, context, children)`` of a container node, or None for a leaf."""
    if type(node) in (tuple, list):
        return type(node), None, list(node)
    if _is_namedtuple(node):
        return type(node), None, list(node)
    if isinstance(node, dict):
        keys = list(node)
        return dict, keys, [node[k] for k in keys]
    return None


def tree_flatten(tree):
    """``(leaves, spec)``: the leaves left to right and what ``tree_unflatten`` needs back."""
    leaves = []

    def walk(node):
        parts = _children(node)
        if parts is None:
            leaves.append(node)
            return LEAF
        type_, context, children = parts
        return TreeSpec(type_, context, [walk(c) for c in children])

    spec = walk(tree)
    return leaves, spec


def tree_unflatten(leaves, spec):
    """The tree of ``spec`` with ``leaves`` put back in order."""
    it = iter(leaves)

    def build(s):
        if s is LEAF:
            return next(it)
        children = [build(c) for c in s.children]
        if s.type is dict:
            return dict(zip(s.context, children))
        if s.type in (tuple, list):
            return s.type(children)
        return s.type(*children)  # a named tuple

    return build(spec)


def tree_leaves(tree):
    return tree_flatten(tree)[0]


def tree_map(fn, tree):
    """The same tree with ``fn`` applied to every leaf."""
    leaves, spec = tree_flatten(tree)
    return tree_unflatten([fn(x) for x in leaves], spec)
