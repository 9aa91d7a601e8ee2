"""Function transforms (``torch.func``): grad, vjp, jvp, Jacobians, Hessians, vmap.

Each takes a plain Python function of tensors and returns a new function (or values):

* ``grad(f)(x)``: the gradient of a scalar ``f`` — reverse mode, one backward pass.
* ``vjp(f, x)``: ``f(x)`` and a function ``v -> v^T J`` — reverse mode.
* ``jvp(f, (x,), (v,))``: ``f(x)`` and ``J v`` — true forward mode (dual tensors).
* ``jacrev(f)``: the Jacobian row by row, one backward pass per output element.
* ``jacfwd(f)``: the Jacobian column by column, one forward pass per input element.
* ``hessian(f)``: ``jacfwd(jacrev(f))``, forward-over-reverse like torch.

Which of jacrev/jacfwd is cheaper is the textbook's claim made measurable: for
f: R^n -> R, jacrev needs 1 backward pass and jacfwd n forward passes; for f: R -> R^m
it is the other way round (see benchmarks/bench_autodiff_modes.py).

Arguments and results may be pytrees (tuples, lists, dicts of tensors), and transforms
compose: ``jacfwd(jacrev(f))``, ``jacfwd(jacfwd(f))``, ``grad(grad(f))``, ``jvp`` of
``grad``... A derivative stays differentiable exactly when an enclosing transform (or
ordinary autograd, for inputs that require grad) can see it; otherwise it comes back
detached, as torch.func's results do.

Layout: ``_grad`` (grad, grad_and_value, vjp, jvp), ``_jacobian`` (jacrev, jacfwd,
hessian), ``_vmap``, and ``_common`` (argument handling, the reverse-mode evaluation). The
forward-mode pass and the Jacobian assembly they share with ``autograd.functional`` live in
``zerograd.autograd._transforms``: ``func`` builds on ``autograd``, never the reverse.
"""
from zerograd.func._grad import grad, grad_and_value, jvp, vjp
from zerograd.func._jacobian import hessian, jacfwd, jacrev
from zerograd.func._vmap import vmap

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "vmap"]
