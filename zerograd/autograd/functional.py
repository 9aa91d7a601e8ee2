"""``zerograd.autograd.functional``: jacobian, hessian, vjp, jvp, hvp on plain functions."""
