"""Fused optimizer updates on the CPU: one compiled pass per parameter (numba, optional).

NumPy runs an update as a chain of passes over the parameter and its state (momentum SGD
4, Adam about 10), cache-blocked by ``Optimizer._apply_update``. With numba installed and
the compiled kernels on (``compiled.enabled()``), ``_apply_update`` finds the update's
name in ``FUSED`` and runs it as one loop instead (``compiled.sgd_update``,
``compiled.adam_update``): the same arithmetic in the same order, so the same bits as the
NumPy passes. SGD with momentum, weight decay or maximize, Adam, AdamW and amsgrad are
fused; plain SGD is not (see ``sgd``). Measured (``python benchmarks/bench_optim.py
[--kernels numpy]``, 1.07M float32 parameters, 1 thread): momentum SGD 0.69 ms -> 0.56,
Nesterov with weight decay 1.09-1.13 -> 0.57, Adam 1.84-1.91 -> 0.77-0.79, AdamW
1.94-2.04 -> 0.78-0.82; one 4M-element parameter: momentum SGD 2.58 -> 1.80 ms, Adam
7.7 -> 2.6, amsgrad 9.6 -> 3.4. A fused update answers False where it does not apply
(kernels off or missing, fewer than ``compiled.MIN_POINTWISE`` elements, not
float32/float64, non-contiguous): the NumPy passes run.
"""
from zerograd.backend.cpu import compiled


def sgd(param, grad, buf, **options):
    if options["momentum"] == 0 and options["weight_decay"] == 0 and not options["maximize"]:
        # plain SGD is two NumPy passes, cache-blocked: one pass measured 0.60x on a
        # cache-resident 200K-element parameter but 0.85-0.88x from 800K elements on and
        # 0.80-0.89x inside the MLP's training step -- short of the 20% a compiled kernel
        # must win
        return False
    if not compiled.update_applies(param, grad, buf):
        return False
    compiled.sgd_update(param, grad, buf, **options)
    return True


def adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, **options):
    if not compiled.update_applies(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq):
        return False
    compiled.adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, **options)
    return True


FUSED = {"_sgd_update": sgd, "_adam_update": adam}
