"""viz.plots: every plot writes a PNG without a display (Agg, no pyplot)."""
import numpy as np

import zerograd as zg
from zerograd.viz import plot_confusion, plot_curves, plot_decision_boundary, plot_descent_path

PNG = b"\x89PNG"


def test_curves_and_confusion(tmp_path):
    rows = [{"epoch": e, "train_loss": 1 / e, "test_loss": 1.2 / e, "train_acc": 0.5 + e / 10,
             "test_acc": "" if e == 1 else 0.4 + e / 10} for e in range(1, 4)]
    plot_curves(rows, tmp_path / "c.png")
    regression = [{k: v for k, v in r.items() if "acc" not in k} for r in rows]
    plot_curves(regression, tmp_path / "r.png")
    plot_confusion(np.array([[5, 1], [0, 4]]), ["cat", "dog"], tmp_path / "m.png")
    for name in ("c.png", "r.png", "m.png"):
        assert (tmp_path / name).read_bytes()[:4] == PNG


def test_decision_boundary_and_descent_path(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    w = zg.tensor([[1.0], [1.0]])
    plot_decision_boundary(lambda t: t @ w, X, y, tmp_path / "b.png", resolution=50)

    def f_2d(x1, x2):
        return x1 ** 2 + 2 * x2 ** 2

    x1, x2, trace = -5.0, -2.0, []
    for _ in range(10):  # plain gradient descent, as in d2l's show_trace_2d
        trace.append((x1, x2))
        x1, x2 = x1 - 0.2 * 2 * x1, x2 - 0.2 * 4 * x2
    plot_descent_path(f_2d, trace, tmp_path / "d.png", resolution=50)
    for name in ("b.png", "d.png"):
        assert (tmp_path / name).read_bytes()[:4] == PNG
