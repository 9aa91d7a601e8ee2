"""``zerograd.func`` builds on ``zerograd.autograd``, never the other way round.

autograd.functional and the func transforms share their forward-mode pass and Jacobian
assembly through ``zerograd.autograd._transforms``; these tests keep the cycle from coming
back: statically (no module under zerograd/autograd imports zerograd.func) and at import
time (nothing imports zerograd.func while zerograd.autograd is being imported).
"""
import ast
import os
import pathlib
import subprocess
import sys

import zerograd

ROOT = pathlib.Path(zerograd.__file__).resolve().parent
AUTOGRAD = ROOT / "autograd"


def _func_references(path):
    """``(line, text)`` of every import of zerograd.func in the module at ``path``, and of
    every string naming it outside docstrings (``importlib.import_module("zerograd.func")``)."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    package = "zerograd.autograd"  # every module here is zerograd.autograd.<name>
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against zerograd.autograd
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and id(node) not in docstrings):
            names = [node.value]
        if any(n == "zerograd.func" or n.startswith("zerograd.func.") for n in names):
            found.append((node.lineno, ast.unparse(node)))
    return found


def test_no_module_under_autograd_references_func():
    modules = sorted(AUTOGRAD.rglob("*.py"))
    assert len(modules) > 5  # the walk sees the package
    offenders = {str(p.relative_to(ROOT.parent)): refs for p in modules
                 if (refs := _func_references(p))}
    assert not offenders, f"zerograd.autograd must not import zerograd.func: {offenders}"


def test_the_static_check_catches_each_way_of_importing_func(tmp_path):
    # the check above would pass vacuously if it could not see an import; show it can
    for line in ("from zerograd import func", "import zerograd.func",
                 "from zerograd.func import jacfwd", "from .. import func",
                 "from ..func._grad import vjp", "from zerograd.func._common import _Reverse",
                 "importlib.import_module('zerograd.func')"):
        path = tmp_path / "m.py"
        path.write_text(f'"""zerograd.func in a docstring is fine."""\n{line}\n')
        assert _func_references(path), line
    path.write_text('"""Built like ``zerograd.func``."""\nfrom zerograd.autograd import grad\n')
    assert not _func_references(path)


# Run in a fresh interpreter: a finder on sys.meta_path sees every import of zerograd.func
# and records the zerograd/autograd frames on the stack at that moment.
_PROBE = r"""
import os, sys, traceback
autograd_dir = os.path.join(sys.argv[1], "zerograd", "autograd") + os.sep
culprits = []

class Probe:
    def find_spec(self, name, path=None, target=None):
        if name == "zerograd.func" or name.startswith("zerograd.func."):
            culprits.extend(f"{f.filename}:{f.lineno}" for f in traceback.extract_stack()
                            if f.filename.startswith(autograd_dir))
        return None

sys.meta_path.insert(0, Probe())
import zerograd.autograd
assert "zerograd.autograd.functional" in sys.modules
assert "zerograd.func" in sys.modules  # zerograd/__init__ imports it, after autograd
print("CULPRITS", culprits)
"""


def test_importing_autograd_never_imports_func():
    root = str(ROOT.parent)
    env = dict(os.environ, PYTHONPATH=root)
    done = subprocess.run([sys.executable, "-c", _PROBE, root], capture_output=True,
                          text=True, cwd=root, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "CULPRITS []" in done.stdout, done.stdout
