"""pytest plugin of tests/test_op_coverage.py: which Function classes do the op tests check?

Loaded with ``-p tests._op_recorder`` in the subprocess that test starts (never in a normal
run). It turns on ``tests.oracle.RECORDED``, so that ``check``, ``check_jvp`` and
``check_module`` add the class of every node of the backward graphs they compare with
torch; wraps ``zerograd.autograd.gradcheck`` / ``gradgradcheck`` (before any test module
imports them) to do the same for the functions they pass, gradgradcheck also for the graph
of the first derivative; registers the hypothesis profile ``op_record``; and at the end
writes the recorded classes, one ``module:qualname`` per line, to ``$ZEROGRAD_OP_RECORD``.
"""
import os

from hypothesis import settings

import tests.oracle as oracle
import zerograd
from zerograd import autograd

oracle.RECORDED = set()

# Which classes a table reaches depends on its ops, hardly on the number of examples: a few
# (derandomized, so every run records the same) keep the recording run short.
settings.register_profile("op_record", max_examples=3, deadline=None, derandomize=True)

_gradcheck, _gradgradcheck = autograd.gradcheck, autograd.gradgradcheck


def _record(func, inputs, second_order):
    """Run ``func`` once more with recording on and walk its graphs."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    with zerograd.enable_grad():
        outs = [o for o in oracle._flatten(func(*inputs)) if isinstance(o, zerograd.Tensor)]
        oracle.record_graph(*outs)
        if not second_order:
            return
        outs = [o for o in outs if o.requires_grad]
        wrt = [x for x in inputs if isinstance(x, zerograd.Tensor) and x.requires_grad]
        if outs and wrt:
            # upstream gradients that require grad, as gradgradcheck's: nodes applied to
            # them alone (a bias gradient's channel sum) are part of the derivative's graph
            ups = [zerograd.ones_like(o).requires_grad_() for o in outs]
            grads = autograd.grad(outs, wrt, ups, create_graph=True, allow_unused=True)
            oracle.record_graph(*[g for g in grads if g is not None])


def gradcheck(func, inputs, *args, **kwargs):
    passed = _gradcheck(func, inputs, *args, **kwargs)
    if passed:
        _record(func, inputs, second_order=False)
    return passed


def gradgradcheck(func, inputs, *args, **kwargs):
    passed = _gradgradcheck(func, inputs, *args, **kwargs)
    if passed:
        _record(func, inputs, second_order=True)
    return passed


autograd.gradcheck, autograd.gradgradcheck = gradcheck, gradgradcheck


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("ZEROGRAD_OP_RECORD")
    if path:
        names = sorted(f"{c.__module__}:{c.__qualname__}" for c in oracle.RECORDED)
        with open(path, "w") as f:
            f.write("\n".join(names) + "\n")
