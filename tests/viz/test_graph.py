"""viz.draw_graph: DOT text of the autograd graph; render_graph without Graphviz."""
import re
import shutil

import pytest

import zerograd as zg
from zerograd.viz import draw_graph, render_graph
from zerograd.viz import graph as graph_module


def _edges(dot):
    return re.findall(r"^\s+(\w+) -> (\w+);$", dot, flags=re.M)


def _labels(dot):
    return dict(re.findall(r'^\s+(\w+) \[label="((?:[^"\\]|\\.)*)"', dot, flags=re.M))


def test_graph_of_a_small_expression():
    w = zg.randn(3, 2, requires_grad=True)
    b = zg.zeros(2, requires_grad=True)
    x = zg.randn(4, 3)  # a constant: not part of the graph
    loss = (x @ w + b).relu().sum()
    dot = draw_graph(loss, params={"weight": w, "bias": b})
    assert dot.startswith("digraph autograd {") and dot.rstrip().endswith("}")
    labels = _labels(dot)
    names = sorted(labels.values())
    ops = [n for n in names if n.endswith("Backward0")]
    assert ops == ["AddBackward0", "MatmulBackward0", "ReluBackward0", "SumBackward0"]
    assert any(v.startswith("weight\\n(3, 2)\\nrequires_grad") for v in names)
    assert any(v.startswith("bias\\n(2)") for v in names)
    assert any(v == "output ()" for v in names)
    edges = _edges(dot)
    # output -> sum -> relu -> add -> {matmul -> weight, bias}: 6 edges, no node twice
    assert len(edges) == 6 and len(set(edges)) == 6
    assert len(labels) == 7


def test_shared_leaf_is_one_node_and_unnamed_leaves_show_shapes():
    x = zg.ones(5, requires_grad=True)
    y = x * x + x
    dot = draw_graph(y)
    labels = _labels(dot)
    leaves = [v for v in labels.values() if "requires_grad" in v]
    assert leaves == ["(5)\\nrequires_grad"]


def test_deep_chain_is_not_recursive():
    x = zg.ones(1, requires_grad=True)
    y = x
    for _ in range(3000):
        y = y + 1
    dot = draw_graph(y)
    assert len(_edges(dot)) == 3001


def test_render_without_graphviz_writes_dot(tmp_path, monkeypatch):
    monkeypatch.setattr(graph_module.shutil, "which", lambda name: None)
    x = zg.ones(2, requires_grad=True)
    written, message = render_graph(draw_graph((x * 2).sum()), tmp_path / "g.svg")
    assert written.endswith("g.dot") and "not installed" in message
    assert (tmp_path / "g.dot").read_text().startswith("digraph")


needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz 'dot' missing (`make test` installs it)")


@needs_dot
def test_render_svg_and_png_with_graphviz(tmp_path):
    w = zg.ones(3, requires_grad=True)
    dot = draw_graph((w * 2).sum(), params={"w": w})
    written, message = render_graph(dot, tmp_path / "g.svg")
    assert written == str(tmp_path / "g.svg") and "wrote" in message
    svg = (tmp_path / "g.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert ">MulBackward0</text>" in svg and ">w</text>" in svg and ">requires_grad</text>" in svg
    written, _ = render_graph(dot, tmp_path / "g.png")
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_dot
def test_render_reports_graphviz_errors(tmp_path):
    written, message = render_graph("digraph { a -> }", tmp_path / "bad.svg")
    assert written.endswith("bad.dot") and message.startswith("Graphviz failed")
