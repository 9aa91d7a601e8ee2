"""The device seam holds: device-side code never reaches a global array library.

An op, layer, optimizer or autograd module takes the array module of its inputs
(``ctx.xp``, ``backend.array_module``); only the backend package imports NumPy as an
array library. Host-side code (datasets, loaders, training loop, checkpoints, plots,
CLI) uses NumPy directly by design.
"""
import ast
import pathlib

import zerograd

ROOT = pathlib.Path(zerograd.__file__).parent
HOST_SIDE = ("datasets", "utils/data", "train", "io", "viz", "models", "cli.py", "backend",
             # MPI exchanges host memory: the communication buffers (DDP's buckets too)
             # are NumPy arrays, and device tensors go through backend.to_host/from_host
             "distributed", "nn/parallel")

# Device-side modules allowed to import NumPy, and why.
NUMPY_ALLOWED = {
    "dtypes.py": "dtype objects and scalar types: every backend (CuPy too) uses NumPy's dtypes",
    "_tensor_str.py": "printing copies the values to the host first",
    "nn/utils/rnn.py": "sequence lengths and batch sizes live on the host, as in torch",
}

TRANSITIONAL = {"xp", "ndarray", "generic", "asarray", "to_numpy", "lib_version"}


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        yield rel, ast.parse(path.read_text(encoding="utf-8"))


def _is_host_side(rel):
    return any(rel == h or rel.startswith(h + "/") for h in HOST_SIDE)


def test_device_side_code_does_not_import_numpy():
    offenders = []
    for rel, tree in _modules():
        if _is_host_side(rel) or rel in NUMPY_ALLOWED:
            continue
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            if any(n == "numpy" or n.startswith("numpy.") for n in names):
                offenders.append(f"{rel}:{node.lineno}")
    assert not offenders, ("device-side modules import numpy (use ctx.xp or "
                           f"zerograd.backend.array_module): {offenders}")


def test_nobody_imports_a_global_array_module_from_the_backend():
    offenders = []
    for rel, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "zerograd.backend":
                bad = TRANSITIONAL & {a.name for a in node.names}
                if bad:
                    offenders.append(f"{rel}:{node.lineno} {sorted(bad)}")
    assert not offenders, offenders
    import zerograd.backend as backend
    assert not TRANSITIONAL & set(vars(backend)), "the backend package exports a global module"


def test_every_function_lives_under_ops():
    """One home for differentiable ops: a Function subclass outside zerograd/ops is misplaced."""
    from tests.test_op_coverage import function_classes
    outside = sorted(f"{c.__module__}.{c.__name__}" for c in function_classes().values()
                     if not c.__module__.startswith("zerograd.ops."))
    assert not outside, f"Functions outside zerograd/ops: {outside}"
