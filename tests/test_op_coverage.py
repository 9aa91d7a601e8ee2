"""Every differentiable op is checked: each ``Function`` subclass of zerograd appears in a
backward graph that the oracle (tests/oracle.py: ``check``, ``check_jvp``, ``check_module``)
compared with torch, or that ``gradcheck`` / ``gradgradcheck`` verified.

How: the test files that call one of those helpers run again in one subprocess (on the
CPU, with few hypothesis examples) with tests/_op_recorder.py as a plugin, which
records the class of every node in the graphs the helpers check. Those classes are compared
with every Function subclass found by importing zerograd's packages, so a new op file, a
new Function and a new test file are all picked up without editing this one. Running the
tables here, in one process, keeps the test correct under pytest-xdist, where the tables'
own runs are spread over several workers.
"""
import importlib
import os
import pathlib
import pkgutil
import re
import subprocess
import sys

import zerograd
from zerograd.autograd.function import Function

ROOT = pathlib.Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"

# Function subclasses allowed in no table: only non-differentiable internals (a node whose
# backward refuses), each as "module:qualname" -> why. None today. Anything with a
# derivative gets an oracle or gradcheck case instead (tests/ops/test_coverage_gaps.py holds
# those no op table reaches). Abstract bases need no entry: a base counts as checked when
# a checked subclass runs the forward, backward or jvp it inherits.
ALLOW = {}

# A test file takes part when it calls one of the recording helpers.
_HELPERS = re.compile(r"\b(check|both|check_jvp|both_jvp|check_module|check_like_torch"
                      r"|gradcheck|gradgradcheck)\(")


def function_classes():
    """Every Function subclass defined in zerograd, found after importing all its modules."""
    for info in pkgutil.walk_packages(zerograd.__path__, "zerograd."):
        if not info.name.endswith("__main__"):  # (that one runs the CLI)
            importlib.import_module(info.name)
    found, stack = set(), [Function]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                stack.append(sub)
    return {f"{c.__module__}:{c.__qualname__}": c for c in found
            if c.__module__.split(".")[0] == "zerograd"}


def table_files():
    """The test files whose oracle and gradcheck calls count (all but this one)."""
    here = pathlib.Path(__file__).resolve()
    return sorted(str(p.relative_to(ROOT)) for p in TESTS.rglob("test_*.py")
                  if p.resolve() != here and _HELPERS.search(p.read_text()))


def _covered(recorded, classes):
    """The recorded classes, and the bases whose op code they ran: a subclass that only
    renames a node (``_named``) or sets a parameter (``ZeroGrad``'s ``fn``) exercises the
    ``forward``, ``backward`` or ``jvp`` it inherits."""
    covered = set()
    for name in recorded & set(classes):
        covered.add(name)
        cls = classes[name]
        for attr in ("forward", "backward", "backward_array", "jvp"):
            owner = next((k for k in cls.__mro__ if attr in vars(k)), Function)
            if owner is not Function and issubclass(owner, Function):
                covered.add(f"{owner.__module__}:{owner.__qualname__}")
    return covered


def _record(tmp_path):
    """Run the table files with the recorder; the recorded class names and pytest's tail."""
    out = tmp_path / "recorded.txt"
    env = dict(os.environ, ZEROGRAD_OP_RECORD=str(out), PYTHONPATH=str(ROOT),
               HYPOTHESIS_PROFILE="op_record")
    cmd = [sys.executable, "-m", "pytest", "-p", "tests._op_recorder", "-p", "no:xdist",
           "-p", "no:cacheprovider", "-q", "-W", "ignore", "-k", "not standin",
           *table_files()]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
    tail = "\n".join(done.stdout.splitlines()[-15:])
    assert done.returncode in (0, 1), f"the recording run did not complete:\n{tail}\n" \
                                      f"{done.stderr[-2000:]}"
    assert out.exists(), f"the recorder wrote nothing:\n{tail}"
    return set(out.read_text().split()), done.returncode, tail


def test_the_tables_are_found():
    files = table_files()
    assert "tests/ops/test_elementwise.py" in files and "tests/nn/test_conv.py" in files
    classes = function_classes()
    assert len(classes) > 100  # the walk sees every op family
    assert set(ALLOW) <= set(classes), \
        f"ALLOW names classes that do not exist: {sorted(set(ALLOW) - set(classes))}"


def test_every_function_is_checked_by_the_oracle_or_gradcheck(tmp_path):
    classes = function_classes()
    recorded, returncode, tail = _record(tmp_path)
    assert len(recorded) > 50, f"the recorder saw almost nothing:\n{tail}"
    covered = _covered(recorded, classes)
    uncovered = sorted(set(classes) - covered - set(ALLOW))
    note = "" if returncode == 0 else \
        f"\n(some tests failed in the recording run; their ops may be missing)\n{tail}"
    assert not uncovered, \
        f"Functions in no oracle or gradcheck table: {uncovered}{note}"
    stale = sorted(set(ALLOW) & covered)
    assert not stale, f"ALLOW lists classes that are checked after all: remove {stale}"
