"""L-BFGS against PyTorch: the same iterates on smooth problems (float64, with and without
the strong Wolfe line search) and the same optimum for logistic regression."""
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from tests.optim._problems import host, leaves, make_problem, mlp_loss, tensor, torch, zg


def _logistic_data():
    x, y = load_breast_cancer(return_X_y=True)
    x = (x - x.mean(0)) / x.std(0)
    return x.astype(np.float64), y.astype(np.float64)


def _logistic_loss(lib, w, b, x, y):
    """Mean binary cross-entropy with logits z: log(1 + exp(z)) - y z, written stably."""
    z = x @ w + b
    return ((-z.abs()).exp().log1p() + z.relu() - y * z).mean() + 1e-3 * (w * w).sum()


def _run_logistic(lib, steps, **kw):
    x, y = _logistic_data()
    x, y = lib.tensor(x), lib.tensor(y)
    w, b = leaves(lib, [np.zeros(x.shape[1]), np.zeros(())])
    opt = lib.optim.LBFGS([w, b], **kw)

    def closure():
        opt.zero_grad()
        loss = _logistic_loss(lib, w, b, x, y)
        loss.backward()
        return loss

    first = [opt.step(closure).item() for _ in range(steps)]
    with lib.no_grad():
        final = float(_logistic_loss(lib, w, b, x, y))
    return first, final, w.detach().numpy().copy(), opt


def test_logistic_regression_strong_wolfe_converges_like_torch():
    z_first, z_final, z_w, z_opt = _run_logistic(zg, 5, line_search_fn="strong_wolfe",
                                                 max_iter=50, history_size=10)
    t_first, t_final, t_w, t_opt = _run_logistic(torch, 5, line_search_fn="strong_wolfe",
                                                 max_iter=50, history_size=10)
    assert z_final == pytest.approx(t_final, rel=1e-9)
    assert z_final < 0.1 < z_first[0]  # it actually optimized (log 2 at the start)
    np.testing.assert_allclose(z_first, t_first, rtol=1e-8)
    np.testing.assert_allclose(z_w, t_w, rtol=1e-5, atol=1e-7)
    z_state = z_opt.state[z_opt.param_groups[0]["params"][0]]
    t_state = t_opt.state[t_opt.param_groups[0]["params"][0]]
    assert z_state["func_evals"] == t_state["func_evals"]
    assert z_state["n_iter"] == t_state["n_iter"]
    assert len(z_state["old_dirs"]) == len(t_state["old_dirs"]) == 10  # history was trimmed


def test_logistic_regression_float32_reaches_torch_loss():
    x, y = _logistic_data()

    def run(lib):
        xs, ys = lib.tensor(x.astype(np.float32)), lib.tensor(y.astype(np.float32))
        w, b = leaves(lib, [np.zeros(x.shape[1], np.float32), np.zeros((), np.float32)])
        opt = lib.optim.LBFGS([w, b], line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = _logistic_loss(lib, w, b, xs, ys)
            loss.backward()
            return loss
        for _ in range(5):
            opt.step(closure)
        with lib.no_grad():
            return float(_logistic_loss(lib, w, b, xs, ys))

    assert run(zg) == pytest.approx(run(torch), rel=1e-4)


@pytest.mark.parametrize("kwargs", [
    dict(lr=0.5, max_iter=8),
    dict(lr=1.0, max_iter=6, history_size=3),
    dict(line_search_fn="strong_wolfe", max_iter=10, history_size=4),
    dict(line_search_fn="strong_wolfe", max_iter=12, max_eval=14, tolerance_change=1e-6),
])
def test_trajectory_matches_torch_on_mlp(kwargs, device):
    weights, batches = make_problem(1, np.float64)
    x, y = batches[0]

    def run(lib):
        params = leaves(lib, weights, device)
        opt = lib.optim.LBFGS(params, **kwargs)
        xs, ys = tensor(lib, x, device), tensor(lib, y, device)

        def closure():
            opt.zero_grad()
            loss = mlp_loss(lib, params, xs, ys)
            loss.backward()
            return loss
        losses = [opt.step(closure).item() for _ in range(4)]
        state = opt.state[params[0]]
        if lib is zg:  # the flat history vectors live with the parameters
            vectors = [state["d"], state["prev_flat_grad"]] + state["old_dirs"]
            assert {str(v.device) for v in vectors} == {device}
        return [host(p) for p in params], losses, state["func_evals"]

    (z, z_losses, z_evals), (t, t_losses, t_evals) = run(zg), run(torch)
    np.testing.assert_allclose(z_losses, t_losses, rtol=1e-9)
    assert z_losses[-1] < z_losses[0]
    assert z_evals == t_evals
    for a, b in zip(z, t):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9)


def test_stops_at_optimum_and_checks_arguments():
    w = zg.tensor([0.0, 0.0], requires_grad=True)
    opt = zg.optim.LBFGS([w])

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss
    assert opt.step(closure).item() == 0.0  # gradient already zero: returns at once
    assert opt.state[w]["func_evals"] == 1
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        zg.optim.LBFGS([{"params": [w]}, {"params": [zg.zeros(1, requires_grad=True)]}])
    with pytest.raises(ValueError, match="only 'strong_wolfe' is supported"):
        zg.optim.LBFGS([w], line_search_fn="armijo")
    with pytest.raises(TypeError, match="requires a closure"):
        opt.step()


def test_state_dict_round_trip(device):
    def make():
        w = zg.tensor([1.5, -0.5, 2.0], requires_grad=True, device=device)
        opt = zg.optim.LBFGS([w], max_iter=2, history_size=5)

        def closure():
            opt.zero_grad()
            loss = ((w - 1) ** 4).sum() + (w * w).sum()
            loss.backward()
            return loss
        return w, opt, closure

    w, opt, closure = make()
    for _ in range(6):
        opt.step(closure)
    expected = host(w)

    w1, opt1, closure1 = make()
    for _ in range(3):
        opt1.step(closure1)
    w2, opt2, closure2 = make()
    with zg.no_grad():
        w2.copy_(w1)
    opt2.load_state_dict(opt1.state_dict())
    for _ in range(3):
        opt2.step(closure2)
    np.testing.assert_array_equal(host(w2), expected)
    assert str(opt2.state[w2]["d"].device) == device
