"""Finite-difference checks of analytic gradients (float64), as ``torch.autograd.gradcheck``.

The analytic Jacobian comes from backward passes (one per output element); the numerical
one from central differences of the forward function. ``gradgradcheck`` applies the same
test to the function that computes first derivatives with ``create_graph=True``.
Inputs may live on any device; the Jacobians are assembled on the host.
"""
from zerograd.backend import array_module, to_host
from zerograd.tensor import Tensor

_host = array_module()  # the host's array module (NumPy), for the Jacobian matrices


def _host64(t):
    """A tensor's values as a flat float64 host array."""
    return to_host(t._data).astype("float64").ravel()


class GradcheckError(RuntimeError):
    pass


def _flat_outputs(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _numerical_jacobian(fn, inputs, wrt, eps):
    """J[i][j]: d(flat output j) / d(flat input i), by central differences."""
    from zerograd.autograd.grad_mode import no_grad
    jac = []
    for i in wrt:
        x = inputs[i]
        flat = x._data.reshape(-1)
        cols = []
        for k in range(flat.size):
            orig = flat[k]
            with no_grad():
                flat[k] = orig + eps
                plus = [_host64(o) for o in _flat_outputs(fn(*inputs))]
                flat[k] = orig - eps
                minus = [_host64(o) for o in _flat_outputs(fn(*inputs))]
            flat[k] = orig
            cols.append(_host.concatenate([(p - m) / (2 * eps) for p, m in zip(plus, minus)]))
        if cols:
            jac.append(_host.stack(cols))
            continue
        with no_grad():  # an empty input: no rows, and a column per output entry
            n_out = sum(o._data.size for o in _flat_outputs(fn(*inputs)))
        jac.append(_host.zeros((0, n_out)))
    return jac


def _analytic_jacobian(fn, inputs, wrt):
    from zerograd.autograd import grad
    outputs = [o for o in _flat_outputs(fn(*inputs))]
    diff_inputs = [inputs[i] for i in wrt]
    n_out = sum(o.numel() for o in outputs)
    jac = [_host.zeros((inputs[i].numel(), n_out)) for i in wrt]
    col = 0
    for o in outputs:
        for k in range(o.numel()):
            if not o._requires_grad:
                col += 1
                continue
            g = array_module(o._data).zeros(o._data.size, dtype=o._data.dtype)
            g[k] = 1
            grads = grad(o, diff_inputs, grad_outputs=Tensor._make(g.reshape(o._data.shape)),
                         retain_graph=True, allow_unused=True)
            for j, gi in enumerate(grads):
                if gi is not None:
                    jac[j][:, col] = to_host(gi._data).reshape(-1)
            col += 1
    return jac


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              nondet_tol=0.0, check_undefined_grad=True, fast_mode=False):
    """True when backward agrees with finite differences for every input that requires grad."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x._requires_grad]
    for i in wrt:
        if inputs[i].dtype.name != "float64":
            import warnings
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating "
                          "point. gradcheck is only reliable in float64.", stacklevel=2)
    numerical = _numerical_jacobian(func, inputs, wrt, eps)
    analytical = _analytic_jacobian(func, inputs, wrt)
    for i, (n, a) in zip(wrt, zip(numerical, analytical)):
        if n.shape != a.shape or not _host.allclose(a, n, rtol=rtol, atol=atol):
            if not raise_exception:
                return False
            raise GradcheckError(
                f"Jacobian mismatch for output 0 with respect to input {i},\n"
                f"numerical:{n}\nanalytical:{a}\n")
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, **kwargs):
    """gradcheck of the first-derivative function (backward with create_graph=True)."""
    from zerograd.autograd import grad
    from zerograd.ops import randn
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    outputs = _flat_outputs(func(*inputs))
    if grad_outputs is None:
        grad_outputs = tuple(randn(tuple(o.shape), dtype=o.dtype, device=o.device,
                                   requires_grad=True) for o in outputs)
    grad_outputs = tuple(grad_outputs)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x._requires_grad]
    n_in = len(inputs)

    def first_derivatives(*args):
        from zerograd.autograd.grad_mode import enable_grad
        ins, gos = args[:n_in], args[n_in:]
        # the numerical Jacobian calls this under no_grad; the derivative needs a graph
        with enable_grad():
            outs = _flat_outputs(func(*ins))
            diff_in = [ins[i] for i in wrt]
            grads = grad(outs, diff_in, grad_outputs=gos, create_graph=True,
                         allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivatives, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
