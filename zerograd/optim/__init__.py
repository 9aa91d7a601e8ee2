"""``zerograd.optim``: optimizers that update parameters in place."""
