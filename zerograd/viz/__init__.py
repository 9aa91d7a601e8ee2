"""``zerograd.viz``: pictures of what is going on: the autograd graph and training plots.

``graph`` needs only autograd; ``plots`` needs matplotlib (imported when first used).
"""
from zerograd.viz.graph import draw_graph, render_graph  # noqa: F401
from zerograd.viz.plots import (  # noqa: F401
    plot_confusion, plot_curves, plot_decision_boundary, plot_descent_path)

__all__ = ["draw_graph", "render_graph", "plot_curves", "plot_confusion",
           "plot_decision_boundary", "plot_descent_path"]
