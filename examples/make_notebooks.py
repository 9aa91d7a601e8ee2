"""Turn each example script into a Jupyter notebook: examples/notebooks/NN_name.ipynb.

The scripts are the source; the notebooks are generated from them and committed, so they
open on GitHub and in Jupyter without a build step. A script is cut into cells at its
``# %%`` markers (the "percent" format that VS Code, Spyder and jupytext understand):

* the module docstring at the top becomes the first, markdown, cell;
* ``# %% [markdown]`` starts a markdown cell: its lines lose their leading ``# ``;
* ``# %%`` starts a code cell, copied as is.

The notebook JSON (nbformat 4) is written by hand with ``json`` so nothing beyond the
standard library is needed, and written deterministically (no outputs, no execution
counts) so ``--check`` can tell whether a notebook is stale.

    python examples/make_notebooks.py            # (re)write every notebook
    python examples/make_notebooks.py --check    # exit 1 if a notebook is out of date
"""
import argparse
import ast
import json
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent
NOTEBOOKS = EXAMPLES / "notebooks"
MARKER = "# %%"


def scripts(folder=EXAMPLES):
    """The example scripts, in order: files named ``NN_*.py``."""
    return sorted(p for p in folder.glob("[0-9][0-9]_*.py"))


def _docstring_end(source):
    """Line index just past the module docstring, or 0 if the script has none."""
    tree = ast.parse(source)
    first = tree.body[0] if tree.body else None
    if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)):
        return first.end_lineno, first.value.value
    return 0, None


def _trim(lines):
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def _markdown_line(line):
    if line.startswith("# "):
        return line[2:]
    return line[1:] if line.startswith("#") else line


def split_cells(source):
    """``[(kind, text)]`` with kind ``"markdown"`` or ``"code"``, in script order."""
    lines = source.splitlines()
    end, doc = _docstring_end(source)
    cells = []
    if doc is not None:
        cells.append(("markdown", _docstring_markdown(doc)))
        lines = lines[end:]
    kind, body = "code", []

    def flush():
        text = "\n".join(_trim(body))
        if text:
            cells.append((kind, text))

    for line in lines:
        if line.startswith(MARKER):
            flush()
            kind = "markdown" if "[markdown]" in line else "code"
            body = []
        else:
            body.append(_markdown_line(line) if kind == "markdown" else line)
    flush()
    return cells


def _docstring_markdown(doc):
    """The docstring's first line as a title; indented blocks stay code (four spaces)."""
    head, _, rest = doc.strip().partition("\n")
    return f"# {head.strip()}\n\n{rest.strip()}" if rest.strip() else f"# {head.strip()}"


def _source_lines(text):
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + [lines[-1]]


def notebook(source):
    """The nbformat-4 dict for one script's source text."""
    cells = []
    for kind, text in split_cells(source):
        cell = {"cell_type": kind, "metadata": {}, "source": _source_lines(text)}
        if kind == "code":
            cell["execution_count"] = None
            cell["outputs"] = []
        cells.append(cell)
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python", "pygments_lexer": "ipython3"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _add_ids(nb, stem):
    # nbformat 4.5 wants a unique id per cell; deterministic ids keep --check meaningful
    for i, cell in enumerate(nb["cells"]):
        cell["id"] = f"{stem.split('_')[0]}-{i:02d}"
    return nb


def render(script):
    """The notebook text for ``script`` (a Path), exactly as it is written to disk."""
    nb = _add_ids(notebook(script.read_text(encoding="utf-8")), script.stem)
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def notebook_path(script):
    return NOTEBOOKS / (script.stem + ".ipynb")


def stale(folder=EXAMPLES):
    """Scripts whose notebook is missing or differs from a fresh conversion."""
    out = []
    for script in scripts(folder):
        target = notebook_path(script)
        if not target.exists() or target.read_text(encoding="utf-8") != render(script):
            out.append(script)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description="Convert examples/NN_*.py to notebooks.")
    parser.add_argument("--check", action="store_true",
                        help="only report stale notebooks (exit status 1 if any)")
    args = parser.parse_args(argv)
    if args.check:
        bad = stale()
        for script in bad:
            print(f"stale: {notebook_path(script).relative_to(EXAMPLES)} "
                  f"(run python examples/make_notebooks.py)")
        return 1 if bad else 0
    NOTEBOOKS.mkdir(exist_ok=True)
    for script in scripts():
        notebook_path(script).write_text(render(script), encoding="utf-8")
        print(f"wrote {notebook_path(script).relative_to(EXAMPLES)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
