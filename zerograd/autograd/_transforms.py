"""The forward-mode pass and the Jacobian assembly that function transforms build on.

``autograd.functional`` (torch.autograd.functional's API) and ``zerograd.func`` (torch.func's)
both compute Jacobian-vector products and Jacobians; the machinery they share lives here, in
``autograd``, so that ``func`` builds on ``autograd`` and never the other way round:

* ``jvp_leaves``: one forward-mode pass of a function of a list of tensors at a new level;
* ``forward_jacobian``: a Jacobian column by column, one such pass per input element;
* ``basis`` / ``assemble`` / ``zeros_like_shape``: the one-hot seeds and the stacking of
  per-element pieces into Jacobian blocks, on the device of the tensors involved.
"""
from zerograd.autograd import forward_ad
from zerograd.backend import array_module
from zerograd.tensor import Tensor
from zerograd.autograd._pytree import tree_flatten, tree_map

__all__ = ["jvp_leaves", "forward_jacobian", "basis", "assemble", "zeros_like_shape",
           "split_aux"]


def zeros_like_shape(shape, like):
    """Zeros of ``shape`` with ``like``'s dtype, on ``like``'s device (no graph)."""
    data = like._data
    return Tensor._make(array_module(data).zeros(tuple(shape), dtype=data.dtype))


def basis(like, k):
    """The ``k``-th one-hot tensor of ``like``'s shape, dtype and device (row-major order)."""
    e = zeros_like_shape((max(like.numel(), 1),), like)
    e._data[k] = 1
    return Tensor._make(e._data.reshape(tuple(like.shape)))


def assemble(parts, out, x, dim, like):
    """The Jacobian block of shape ``out.shape + x.shape`` from one piece per element: rows
    (reverse mode, ``dim=0``) or columns (forward mode, ``dim=-1``); zeros (of ``like``'s
    dtype and device) when there are no pieces."""
    from zerograd.ops.join import stack
    shape = tuple(out.shape) + tuple(x.shape)
    if not parts:
        return zeros_like_shape(shape, like)
    return stack(parts, dim=dim).reshape(shape)


def split_aux(out, has_aux, api):
    """``(output, aux)`` of a function called with ``has_aux`` (torch's message otherwise)."""
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError(f"{api}: output of function f should be a tuple: (output, aux) if "
                           "has_aux is True")
    return out


def jvp_leaves(fn, flat_p, flat_t, strict, has_aux, api):
    """One forward pass of ``fn(list_of_leaves)`` at a new level, perturbing each leaf by
    its tangent (None: not perturbed).

    Returns ``(values, tangents, out_spec)`` (flat lists and the pytree structure of the
    output), plus ``aux`` with ``has_aux``. An output that does not depend on the tangents
    gets a zero tangent, or an error with ``strict``.
    """
    with forward_ad._nested_level() as level:
        duals = [p if t is None else forward_ad.make_dual(p, t, level=level)
                 for p, t in zip(flat_p, flat_t)]
        out, aux = split_aux(fn(duals), has_aux, api)
        flat_out, out_spec = tree_flatten(out)
        if not flat_out:
            raise RuntimeError(f"{api}: Expected f to be a function that has non-empty output "
                               f"(got output = {out})")
        values, jvps = [], []
        for o in flat_out:
            if not isinstance(o, Tensor):
                raise RuntimeError(f"{api}: expected f(*args) to return only tensors, got "
                                   f"unsupported type {type(o)}")
            primal, tangent = forward_ad.unpack_dual(o, level=level)
            if tangent is None:
                if strict:
                    raise RuntimeError("jvp(f, primals, tangents, strict=True): The output of f "
                                       "is independent of the inputs. This is not allowed with "
                                       "strict=True.")
                tangent = zeros_like_shape(o.shape, o)
            values.append(primal)
            jvps.append(tangent)
        if has_aux:
            aux = tree_map(lambda a: forward_ad.unpack_dual(a, level=level).primal
                           if isinstance(a, Tensor) else a, aux)
    result = (values, jvps, out_spec)
    return result + (aux,) if has_aux else result


def forward_jacobian(fn, flat_p, has_aux, api):
    """The Jacobian of ``fn(list_of_leaves)`` by forward mode: one pass per input element.

    Returns ``(blocks, out_spec)`` (plus ``aux`` with ``has_aux``): ``blocks[i][j]`` is
    d output_i / d input_j, of shape ``output_i.shape + input_j.shape``; ``out_spec`` is the
    pytree structure of the output.
    """
    columns = [None] * len(flat_p)  # columns[j][i]: tangents of output i along input j
    values = out_spec = aux = None
    for j, x in enumerate(flat_p):
        cols = None
        for k in range(x.numel()):
            tangents = [None] * len(flat_p)
            tangents[j] = basis(x, k)
            res = jvp_leaves(fn, flat_p, tangents, False, has_aux, api)
            values, tans, out_spec = res[:3]
            aux = res[3] if has_aux else None
            cols = [[] for _ in tans] if cols is None else cols
            for i, t in enumerate(tans):
                cols[i].append(t)
        columns[j] = cols
    if values is None:  # every input is empty: evaluate once for the output's shape
        out, aux = split_aux(fn(flat_p), has_aux, api)
        values, out_spec = tree_flatten(out)
    blocks = [[assemble(columns[j][i] if columns[j] is not None else [], o, x, -1, o)
               for j, x in enumerate(flat_p)] for i, o in enumerate(values)]
    return (blocks, out_spec, aux) if has_aux else (blocks, out_spec)
