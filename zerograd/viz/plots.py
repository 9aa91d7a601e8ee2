"""Training and teaching plots with matplotlib, drawn off-screen (Agg), no pyplot state.

Each function builds a ``matplotlib.figure.Figure`` directly (so it never touches the
user's interactive backend or pyplot's global figure list), saves it when ``path`` is
given, and returns it.
"""
import numpy as np

from zerograd.autograd.grad_mode import no_grad
from zerograd.tensor import Tensor

__all__ = ["plot_curves", "plot_confusion", "plot_decision_boundary", "plot_descent_path"]


def _figure(width=6.4, height=4.0):
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - matplotlib is in the train extra
        raise ImportError("plotting needs matplotlib: pip install 'zerograd[plot]'") from None
    return Figure(figsize=(width, height), layout="constrained")


def _finish(fig, path):
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


def _array(x):
    """Plot data as a NumPy array, whatever device a tensor lives on."""
    if isinstance(x, Tensor):
        return x.detach()._host()
    return np.asarray(x)


def _column(rows, key):
    """Values of ``key`` as floats (None where missing or blank, as in a metrics.csv)."""
    values = []
    for row in rows:
        v = row.get(key)
        values.append(None if v in (None, "") else float(v))
    return values


def plot_curves(rows, path=None, title=None):
    """Loss (left) and accuracy (right, when present) per epoch for train and test.

    ``rows`` are dicts with ``epoch``, ``train_loss``, ``test_loss``, ``train_acc``,
    ``test_acc`` (the rows of a run's metrics.csv).
    """
    epochs = [int(float(r["epoch"])) for r in rows]
    has_acc = any(v is not None for v in _column(rows, "test_acc") + _column(rows, "train_acc"))
    fig = _figure(10 if has_acc else 5.5, 3.8)
    axes = fig.subplots(1, 2 if has_acc else 1, squeeze=False)[0]
    panels = [("loss", axes[0])] + ([("acc", axes[1])] if has_acc else [])
    for metric, ax in panels:
        for split, style in (("train", "-o"), ("test", "--s")):
            ys = _column(rows, f"{split}_{metric}")
            pts = [(e, y) for e, y in zip(epochs, ys) if y is not None]
            if pts:
                ax.plot(*zip(*pts), style, markersize=3, label=split)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel("accuracy" if metric == "acc" else "loss")
        ax.grid(True, alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def plot_confusion(matrix, class_names=None, path=None, title="confusion matrix (test)"):
    """A confusion matrix as a heat map: rows are true classes, columns predictions."""
    m = _array(matrix)
    k = m.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    size = min(max(4.0, 0.45 * k + 2.0), 14.0)
    fig = _figure(size + 1.5, size)
    ax = fig.subplots()
    image = ax.imshow(m, cmap="Blues")
    fig.colorbar(image, ax=ax)
    ax.set_xticks(range(k), names, rotation=45 if k > 3 else 0, ha="right" if k > 3 else "center")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if k <= 20:  # counts are unreadable beyond that
        top = m.max() if m.size else 0
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(int(m[i, j])), ha="center", va="center", fontsize=8,
                        color="white" if m[i, j] > top / 2 else "black")
    return _finish(fig, path)


def _predict_classes(model, points):
    # the grid goes to the model's device (plots are drawn on the host)
    params = list(model.parameters()) if hasattr(model, "parameters") else []
    grid = Tensor._make(points)
    if params:
        grid = grid.to(params[0].device)
    with no_grad():
        out = model(grid)
    out = _array(out)
    if out.ndim == 1 or out.shape[-1] == 1:
        return (out.reshape(-1) > 0).astype(int)  # one logit: binary classifier
    return out.argmax(axis=-1)


def plot_decision_boundary(model, X, y, path=None, resolution=200, margin=0.5, title=None):
    """The regions a 2-D classifier assigns to each class, with the data points on top.

    ``model`` maps an (N, 2) float tensor to logits (N, C), or to one logit (N,)/(N, 1)
    for a binary classifier.
    """
    X, y = _array(X), _array(y).reshape(-1)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary needs 2-D points, shape (N, 2); got "
                         f"{tuple(X.shape)}")
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(X.dtype if X.dtype.kind == "f"
                                                               else np.float32)
    zz = np.asarray(_predict_classes(model, grid)).reshape(gx.shape)
    fig = _figure(5.5, 4.5)
    ax = fig.subplots()
    ax.contourf(np.asarray(gx), np.asarray(gy), zz, alpha=0.3, cmap="coolwarm")
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", edgecolors="k", s=18)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    return _finish(fig, path)


def plot_descent_path(loss_fn, points, path=None, xlim=None, ylim=None, resolution=200,
                      levels=30, title=None):
    """Gradient-descent iterates on a contour plot of a 2-D loss ``loss_fn(x1, x2)``.

    ``loss_fn`` is called on two grids (as zerograd tensors, so it may use arithmetic or
    zerograd functions, like d2l's ``f_2d``); ``points`` is the sequence of (x1, x2).
    """
    pts = _array([[float(a), float(b)] for a, b in points])
    if pts.ndim != 2 or pts.shape[0] == 0:
        raise ValueError("plot_descent_path needs at least one (x1, x2) point")
    span = np.maximum(pts.max(axis=0) - pts.min(axis=0), 1.0)
    xlim = xlim or (pts[:, 0].min() - 0.2 * span[0], pts[:, 0].max() + 0.2 * span[0])
    ylim = ylim or (pts[:, 1].min() - 0.2 * span[1], pts[:, 1].max() + 0.2 * span[1])
    gx, gy = np.meshgrid(np.linspace(*xlim, resolution), np.linspace(*ylim, resolution))
    with no_grad():
        zz = _array(loss_fn(Tensor._make(gx), Tensor._make(gy)))
    fig = _figure(5.5, 4.5)
    ax = fig.subplots()
    contour = ax.contour(np.asarray(gx), np.asarray(gy), zz, levels=levels, cmap="viridis")
    fig.colorbar(contour, ax=ax)
    ax.plot(pts[:, 0], pts[:, 1], "-o", color="#ff7f0e", markersize=3)
    ax.plot(pts[-1, 0], pts[-1, 1], "*", color="red", markersize=10)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    return _finish(fig, path)
