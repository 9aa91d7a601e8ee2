"""``einsum``: Einstein summation with torch's equation rules, differentiable to any order.

The equation is first normalized (ellipses replaced by fresh letters, the implicit
output made explicit) so that the backward pass can write the gradient of each operand
as another einsum: contract the output gradient with every other operand. A letter
repeated within one operand (a diagonal, as in the trace ``'ii->'``) gets its gradient
spread back onto that diagonal by an identity matrix.
"""
import string

from zerograd.autograd.function import Function
from zerograd.backend import array_module
from zerograd.ops._util import const
from zerograd.tensor import Tensor

__all__ = ["einsum"]

_LETTERS = string.ascii_letters


class Einsum(Function):
    @staticmethod
    def forward(ctx, *arrays, equation):
        ctx.equation = equation
        ctx.save_for_backward(*arrays)
        return ctx.xp.einsum(equation, *arrays, optimize=len(arrays) > 1)

    @staticmethod
    def backward(ctx, grad_output):
        operands = ctx.saved_tensors
        inputs, output = ctx.equation.split("->")
        specs = inputs.split(",")
        grads = []
        for i, need in enumerate(ctx.needs_input_grad):
            grads.append(_operand_grad(grad_output, output, specs, operands, i) if need else None)
        return tuple(grads)

    @staticmethod
    def jvp(ctx, *tangents):
        # multilinear: the sum over operands of the einsum with that operand's tangent
        operands, out = list(ctx.fw_inputs), None
        for i, t in enumerate(tangents):
            if t is not None:
                term = Einsum.apply(*operands[:i], t, *operands[i + 1:], **ctx.fw_kwargs)
                out = term if out is None else out + term
        return out


def _operand_grad(grad_output, output, specs, operands, i):
    """d(sum of grad_output * einsum) / d(operand i), as one einsum."""
    target = specs[i]
    used = set(output).union(*specs)
    fresh = (c for c in _LETTERS if c not in used)
    shape = operands[i].shape
    xp, dtype = array_module(grad_output), grad_output._data.dtype
    extra_specs, extra_ops = [], []
    new_target = []
    for k, c in enumerate(target):
        if c in new_target:  # repeated letter: a diagonal; route it through an identity
            f = next(fresh)
            new_target.append(f)
            extra_specs.append(c + f)
            extra_ops.append(const(xp.eye(shape[k], dtype=dtype)))
        else:
            new_target.append(c)
    others = [s for j, s in enumerate(specs) if j != i]
    seen = set(output).union(*others, *extra_specs)
    for k, c in enumerate(target):
        if c not in seen:  # summed away inside this operand alone: the gradient is constant
            seen.add(c)  # along it, so broadcast it back with a vector of ones
            extra_specs.append(c)
            extra_ops.append(const(xp.ones(shape[k], dtype=dtype)))
    equation = ",".join([output] + others + extra_specs) + "->" + "".join(new_target)
    other_ops = [operands[j] for j in range(len(specs)) if j != i]
    return einsum(equation, grad_output, *other_ops, *extra_ops)


def _from_sublists(args):
    """torch's sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` -> an equation string."""
    def letters(sub):
        out = ""
        for s in sub:
            if s is Ellipsis:
                out += "..."
            elif isinstance(s, int) and 0 <= s < len(_LETTERS):
                out += _LETTERS[s]
            else:
                raise ValueError(f"einsum(): subscript in subscript list is not within the valid "
                                 f"range [0, 52), got {s!r}")
        return out
    n = len(args) // 2
    operands = list(args[0:2 * n:2])
    equation = ",".join(letters(s) for s in args[1:2 * n:2])
    if len(args) % 2:  # a trailing output sublist
        equation += "->" + letters(args[-1])
    return equation, operands


def _parse_args(args):
    if not args:
        raise TypeError("einsum(): must specify the equation string and at least one operand")
    if isinstance(args[0], str):
        equation, operands = args[0], list(args[1:])
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = list(operands[0])
    else:
        equation, operands = _from_sublists(args)
    for k, op in enumerate(operands):
        if not isinstance(op, Tensor):
            raise TypeError(f"einsum(): operand {k} must be a Tensor, got {type(op).__name__}")
    return equation.replace(" ", ""), operands


def _split_spec(spec, k):
    if spec.count("...") > 1 or spec.replace("...", "").count("."):
        raise RuntimeError(f"einsum(): found '.' for operand {k} that is not part of any "
                           "ellipsis")
    for c in spec.replace("...", ""):
        if c not in _LETTERS:
            raise RuntimeError(f"einsum(): invalid subscript given at index {spec.index(c)} in "
                               f"the equation string, subscripts must be in [a-zA-Z]")
    return spec


def _normalize(equation, operands):
    """The explicit, ellipsis-free equation; checks subscripts against the operand shapes."""
    lhs, arrow, rhs = equation.partition("->")
    specs = lhs.split(",")
    if len(specs) > len(operands):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the "
                           "equation")
    if len(specs) < len(operands):
        raise RuntimeError("einsum(): more operands were provided than specified in the "
                           "equation")
    specs = [_split_spec(s, k) for k, s in enumerate(specs)]
    ell_dims = 0
    for k, (s, op) in enumerate(zip(specs, operands)):
        n = len(s.replace("...", ""))
        if "..." not in s and n != op.ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({n}) does "
                               f"not match the number of dimensions ({op.ndim}) for operand {k} "
                               "and no ellipsis was given")
        if "..." in s:
            if n > op.ndim:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation ({n}) is "
                                   f"more than the number of dimensions ({op.ndim}) for operand "
                                   f"{k}")
            ell_dims = max(ell_dims, op.ndim - n)
    has_ellipsis = any("..." in s for s in specs)
    if not arrow:  # implicit output: the ellipsis, then letters seen once, in ASCII order
        letters = "".join(s.replace("...", "") for s in specs)
        rhs = ("..." if has_ellipsis else "") + "".join(
            sorted(c for c in set(letters) if letters.count(c) == 1))
    else:
        _split_spec(rhs, "output")
        out_letters = rhs.replace("...", "")
        for c in out_letters:
            if out_letters.count(c) > 1:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in "
                                   "the output")
            if not any(c in s for s in specs):
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the "
                                   "equation for any input operand")
    free = [c for c in _LETTERS if c not in equation][:ell_dims]
    if len(free) < ell_dims:
        raise RuntimeError("einsum(): too many dimensions for the available subscript letters")
    new_specs = []
    for s, op in zip(specs, operands):
        if "..." in s:
            n = op.ndim - len(s.replace("...", ""))
            s = s.replace("...", "".join(free[ell_dims - n:]))
        new_specs.append(s)
    rhs = rhs.replace("...", "".join(free))
    _check_sizes(new_specs, operands)
    return ",".join(new_specs) + "->" + rhs


def _check_sizes(specs, operands):
    sizes = {}
    for k, (s, op) in enumerate(zip(specs, operands)):
        own = {}
        for c, n in zip(s, op.shape):
            if c in own and own[c] != n:
                raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {k} but the "
                                   f"sizes don't match, {own[c]} != {n}")
            own[c] = n
        for c, n in own.items():
            seen = sizes.get(c)
            if seen is not None and n != seen and n != 1 and seen != 1:
                raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {k} which "
                                   f"does not broadcast with previously seen size {seen}")
            if seen is None or seen == 1:
                sizes[c] = n


def einsum(*args):
    """Sum of products over the subscripts the ``equation`` contracts, e.g.
    ``einsum('bij,bjk->bik', a, b)`` is a batched matmul; '...' stands for leading dims."""
    equation, operands = _parse_args(args)
    eq = _normalize(equation, operands)
    dtype = operands[0].dtype
    for op in operands[1:]:
        if op.dtype is not dtype:
            raise RuntimeError(f"einsum(): all operands must have the same dtype, but got "
                               f"{dtype.name} and {op.dtype.name}; convert one, e.g. "
                               "b.to(a.dtype)")
    return Einsum.apply(*operands, equation=eq)
