"""``zerograd.autograd.functional``: torch.autograd.functional's API (vjp, jvp, jacobian,
hessian, hvp, vhp).

Inputs may be one tensor or a tuple of tensors; results follow torch's nesting: a
Jacobian is a tensor for one input and one output, a tuple per input (or per output),
and a tuple of tuples (``J[i][j]``: output i, input j) for several of both. Results are
detached unless ``create_graph=True``; ``strict=True`` refuses an output that does not
depend on an input instead of returning zeros.

``jvp`` and ``hvp`` use true forward mode (dual tensors; hvp is forward-over-reverse),
where torch uses the double-backward trick: the values are the same. ``jacobian`` with
``strategy="forward-mode"`` builds the Jacobian column by column with forward passes
(``vectorize`` is accepted either way; nothing here is vectorized).
"""
from zerograd.autograd import forward_ad
from zerograd.autograd._transforms import assemble, basis, forward_jacobian, jvp_leaves
from zerograd.autograd import grad as _grad
from zerograd.autograd.grad_mode import enable_grad, is_grad_enabled, set_grad_enabled
from zerograd.tensor import Tensor

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


# -- helpers mirroring torch.autograd.functional's -------------------------------------------------
def _as_tuple(inp, arg_name, fn_name):
    """``(was_tuple, tuple_of_tensors)``, refusing anything but tensors."""
    is_tuple = isinstance(inp, tuple)
    items = inp if is_tuple else (inp,)
    for i, el in enumerate(items):
        if not isinstance(el, Tensor):
            where = f"value at index {i}" if is_tuple else f"given {arg_name}"
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a "
                            f"tuple of Tensors but the {where} has type {type(el)}.")
    return is_tuple, items


def _tuple_postprocess(res, to_unpack):
    """Undo ``_as_tuple``: drop the tuple levels the caller did not use."""
    if isinstance(to_unpack, tuple):
        if not to_unpack[1]:
            res = tuple(el[0] for el in res)
        if not to_unpack[0]:
            res = res[0]
    elif not to_unpack:
        res = res[0]
    return res


def _grad_preprocess(inputs, create_graph, need_graph):
    """Fresh tensors to differentiate against: views (kept in the caller's graph) when
    ``create_graph`` and the input requires grad, else detached copies."""
    from zerograd.ops.shape import Reshape
    res = []
    for inp in inputs:
        if create_graph and inp._requires_grad:
            res.append(Reshape.apply(inp, tuple(inp.shape)))
        else:
            t = forward_ad.copy_tangents(inp, inp.detach())
            res.append(t.requires_grad_(need_graph) if need_graph else t)
    return tuple(res)


def _grad_postprocess(items, create_graph):
    if create_graph:
        return items
    return tuple(_grad_postprocess(x, False) if isinstance(x, tuple) else x.detach()
                 for x in items)


def _validate_v(v, other, is_other_tuple):
    if len(other) != len(v):
        if is_other_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but got "
                               f"{len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for idx, (el_v, el_other) in enumerate(zip(v, other)):
        if el_v.shape != el_other.shape:
            prepend = f"Entry {idx} in " if is_other_tuple else ""
            raise RuntimeError(f"{prepend}v has invalid size: should be {el_other.shape} but got "
                               f"{el_v.shape}.")


def _check_outputs_require_grad(outputs, strict):
    if not strict:
        return
    for i, out in enumerate(outputs):
        if not out._requires_grad:
            raise RuntimeError(f"Output {i} of the user-provided function does not require "
                               "gradients. The outputs must be computed in a differentiable "
                               "manner from the input when running in strict mode.")


def _autograd_grad(outputs, inputs, grad_outputs=None, create_graph=False):
    """``autograd.grad`` that skips outputs without a graph and returns None for unused inputs."""
    grad_outputs = grad_outputs if grad_outputs is not None else (None,) * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o._requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return _grad([o for o, _ in pairs], inputs, [g for _, g in pairs], retain_graph=True,
                 create_graph=create_graph, allow_unused=True)


def _fill_in_zeros(grads, refs, strict, message):
    res = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(message.format(i=i))
            from zerograd.ops.creation import zeros_like
            g = zeros_like(ref)
        res.append(g)
    return tuple(res)


_INDEPENDENT = ("The output of the user-provided function is independent of input {i}. This "
                "is not allowed in strict mode.")


_V_OUTPUT = ("The vector v can only be None if the user-provided function returns a single "
             "Tensor with a single element.")
_V_INPUT = ("The vector v can only be None if the input to the user-provided function is a "
            "single Tensor with a single element.")


def _default_v(others, message):
    """torch's default ``v``: a single 1, allowed only for a single one-element tensor."""
    if len(others) != 1 or others[0].numel() != 1:
        raise RuntimeError(message)
    from zerograd.ops.creation import ones_like
    return (ones_like(others[0]),)


# -- vjp, jvp -------------------------------------------------------------------------------
def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T J)``; ``v`` may be omitted for a single-element output."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function",
                                              "vjp")
        _check_outputs_require_grad(outputs, strict)
        if v is not None:
            v = _grad_preprocess(_as_tuple(v, "v", "vjp")[1], create_graph, need_graph=False)
            _validate_v(v, outputs, is_outputs_tuple)
        else:
            v = _default_v(outputs, _V_OUTPUT)
    with set_grad_enabled(create_graph or is_grad_enabled()):
        grads = _autograd_grad(outputs, inputs, v, create_graph=create_graph)
        result = _fill_in_zeros(grads, inputs, strict, _INDEPENDENT)
    return (_tuple_postprocess(_grad_postprocess(outputs, create_graph), is_outputs_tuple),
            _tuple_postprocess(_grad_postprocess(result, create_graph), is_inputs_tuple))


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J v)``, computed in forward mode (one pass with dual tensors)."""
    with enable_grad():
        is_inputs_tuple, inputs, v = _inputs_and_v(inputs, v, create_graph, create_graph, "jvp")
        is_outputs_tuple = []

        def call(leaves):
            out = func(*leaves)
            is_tuple, outs = _as_tuple(out, "outputs of the user-provided function", "jvp")
            is_outputs_tuple.append(is_tuple)
            return outs

        # strict: an output that depends on none of the inputs is refused
        outputs, tangents, _ = jvp_leaves(call, list(inputs), list(v), strict, False, "jvp")
        outputs, tangents = tuple(outputs), tuple(tangents)
    return (_tuple_postprocess(_grad_postprocess(outputs, create_graph), is_outputs_tuple[0]),
            _tuple_postprocess(_grad_postprocess(tangents, create_graph), is_outputs_tuple[0]))


# -- Jacobian and Hessian ---------------------------------------------------------------------
def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: block ``[i][j]`` has shape
    ``outputs[i].shape + inputs[j].shape``.

    ``strategy="reverse-mode"``: one backward pass per output element;
    ``"forward-mode"``: one forward pass per input element (cheaper when the function has
    fewer inputs than outputs).
    """
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". '
                             'Hint: If your function has more outputs than inputs, '
                             '"forward-mode" tends to be more performant. Otherwise, prefer to '
                             'use "reverse-mode".')
    if strategy == "forward-mode":
        return _jacobian_forward(func, inputs, create_graph, strict)
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function",
                                              "jacobian")
        _check_outputs_require_grad(outputs, strict)
        jac = []
        for i, out in enumerate(outputs):
            rows = [[] for _ in inputs]
            for k in range(out.numel()):
                e = basis(out, k)
                for j, g in enumerate(_autograd_grad((out,), inputs, (e,), create_graph)):
                    if g is None:
                        if strict:
                            raise RuntimeError(f"Output {i} of the user-provided function is "
                                               f"independent of input {j}. This is not allowed "
                                               "in strict mode.")
                    elif strict and create_graph and not g._requires_grad:
                        raise RuntimeError(f"The jacobian of the user-provided function is "
                                           f"independent of input {i}. This is not allowed in "
                                           "strict mode when create_graph=True.")
                    rows[j].append(g)
            jac.append(tuple(_stack_rows(r, out, x) for r, x in zip(rows, inputs)))
        jac = _grad_postprocess(tuple(jac), create_graph)
    return _tuple_postprocess(jac, (is_outputs_tuple, is_inputs_tuple))


def _stack_rows(rows, out, x):
    from zerograd.ops.creation import zeros_like
    rows = [r if r is not None else zeros_like(x) for r in rows]
    return assemble(rows, out, x, 0, x)


def _jacobian_forward(func, inputs, create_graph, strict):
    if strict:
        raise RuntimeError('torch.autograd.functional.jacobian: `strict=True` and `strategy='
                           '"forward-mode"` are not supported together (yet). Please either set '
                           '`strict=False` or `strategy="reverse-mode"`.')
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    if not create_graph:
        inputs = tuple(forward_ad.copy_tangents(x, x.detach()) for x in inputs)
    is_outputs_tuple = []

    def call(leaves):
        is_tuple, outs = _as_tuple(func(*leaves), "outputs of the user-provided function",
                                   "jacobian")
        is_outputs_tuple.append(is_tuple)
        return outs

    with enable_grad():
        blocks, _ = forward_jacobian(call, list(inputs), False, "jvp(f, primals, tangents)")
    jac = _grad_postprocess(tuple(tuple(row) for row in blocks), create_graph)
    return _tuple_postprocess(jac, (is_outputs_tuple[0], is_inputs_tuple))


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar ``func``: block ``[i][j]`` has shape
    ``inputs[i].shape + inputs[j].shape``.

    The inner Jacobian (the gradient) is always reverse mode; the outer one follows
    ``outer_jacobian_strategy`` ("forward-mode": forward-over-reverse).
    """
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def ensure_single_output_function(*inp):
        out = func(*inp)
        is_out_tuple, t_out = _as_tuple(out, "outputs of the user-provided function", "hessian")
        _check_outputs_require_grad(t_out, strict)
        if is_out_tuple:
            raise RuntimeError("The function given to hessian should return a single Tensor")
        if out.numel() != 1:
            raise RuntimeError("The Tensor returned by the function given to hessian should "
                               "contain a single element")
        return out.squeeze()

    def jac_func(*inp):
        if outer_jacobian_strategy == "forward-mode":
            inp = tuple(t.requires_grad_(True) if t.grad_fn is None else t for t in inp)
        jac = jacobian(ensure_single_output_function, inp, create_graph=True)
        if strict:
            for i, j in enumerate(jac if isinstance(jac, tuple) else (jac,)):
                if not j._requires_grad:
                    raise RuntimeError(f"While computing the hessian, found that the jacobian "
                                       f"of the user-provided function with respect to input "
                                       f"{i} is independent of the input. This is not allowed "
                                       "in strict mode. You should ensure that your function is "
                                       "twice differentiable and that the jacobian depends on "
                                       "the inputs.")
        return jac

    res = jacobian(jac_func, inputs, create_graph=create_graph,
                   strict=strict,
                   vectorize=vectorize, strategy=outer_jacobian_strategy)
    return _tuple_postprocess(res, (is_inputs_tuple, is_inputs_tuple))


# -- Hessian products ------------------------------------------------------------------------------
def _single_scalar(outputs, is_outputs_tuple, name):
    if is_outputs_tuple:
        raise RuntimeError(f"The function given to {name} should return a single Tensor")
    if outputs[0].numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {name} should contain "
                           "a single element")


def _inputs_and_v(inputs, v, create_graph, need_graph, fn_name):
    """The checked inputs of a Jacobian-vector product and the vector ``v`` matched to them
    (ones when omitted, allowed only for a single one-element input)."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", fn_name)
    inputs = _grad_preprocess(inputs, create_graph, need_graph=need_graph)
    if v is None:
        return is_inputs_tuple, inputs, _default_v(inputs, _V_INPUT)
    v = _grad_preprocess(_as_tuple(v, "v", fn_name)[1], create_graph, need_graph=False)
    _validate_v(v, inputs, is_inputs_tuple)
    return is_inputs_tuple, inputs, v


def _check_jacobian(jac, strict):
    if not strict:
        return
    for i, j in enumerate(jac):
        if j is None:
            raise RuntimeError(_INDEPENDENT.format(i=i))
        if not j._requires_grad:
            raise RuntimeError(f"The gradient with respect to input {i} is independent of the "
                               "inputs of the user-provided function. This is not allowed in "
                               "strict mode.")


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T H)`` by reverse-over-reverse."""
    with enable_grad():
        is_inputs_tuple, inputs, v = _inputs_and_v(inputs, v, create_graph, True, "vhp")
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function",
                                              "vhp")
        _check_outputs_require_grad(outputs, strict)
        _single_scalar(outputs, is_outputs_tuple, "vhp")
        jac = _autograd_grad(outputs, inputs, create_graph=True)
        _check_jacobian(jac, strict)
        used = [(j, vi) for j, vi in zip(jac, v) if j is not None]
    with set_grad_enabled(create_graph or is_grad_enabled()):
        grads = _autograd_grad([j for j, _ in used], inputs, [vi for _, vi in used],
                               create_graph=create_graph)
        result = _fill_in_zeros(grads, inputs, strict, "The hessian of the user-provided "
                                "function is independent of input {i}. This is not allowed in "
                                "strict mode.")
    return (_tuple_postprocess(_grad_postprocess(outputs, create_graph), is_outputs_tuple),
            _tuple_postprocess(_grad_postprocess(result, create_graph), is_inputs_tuple))


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), H v)`` by forward-over-reverse: the gradient computed in reverse mode
    while a forward-mode tangent ``v`` rides along (one pass each way)."""
    with enable_grad():
        is_inputs_tuple, inputs, v = _inputs_and_v(inputs, v, create_graph, True, "hvp")
        with forward_ad._nested_level() as level:
            duals = [forward_ad.make_dual(x, vi, level=level) for x, vi in zip(inputs, v)]
            outputs = func(*duals)
            is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided "
                                                  "function", "hvp")
            _check_outputs_require_grad(outputs, strict)
            _single_scalar(outputs, is_outputs_tuple, "hvp")
            jac = _autograd_grad(outputs, duals, create_graph=True)
            _check_jacobian(jac, strict)
            hv = [None if j is None else forward_ad.unpack_dual(j, level=level).tangent
                  for j in jac]
            outputs = tuple(forward_ad.unpack_dual(o, level=level).primal for o in outputs)
        result = _fill_in_zeros(hv, inputs, strict, "The hessian of the user-provided function "
                                "is independent of input {i}. This is not allowed in strict "
                                "mode.")
    return (_tuple_postprocess(_grad_postprocess(outputs, create_graph), is_outputs_tuple),
            _tuple_postprocess(_grad_postprocess(result, create_graph), is_inputs_tuple))
