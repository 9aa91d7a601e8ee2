"""Optimizers against PyTorch: the same MLP, weights and batches trained 20 steps in both
frameworks must end at the same parameters and state, for every option of every optimizer,
in float32 (on every device) and float64; state_dict layout and round trips (across
devices and through a checkpoint file); a textbook nn.Module loop."""
import copy

import numpy as np
import pytest

from tests.optim._problems import (assert_params_close, host, leaves, make_problem, mlp_loss,
                                   tensor, torch, train, zg)

STEPS = 20


def _single(name, **kw):
    return lambda lib, params: (getattr(lib.optim, name)(params, **kw), None)


def _grouped(name, groups, **kw):
    """Params split in two groups [W1, b1] and [W2, b2], each with its own options."""
    def build(lib, params):
        g = [dict(params=params[:2], **groups[0]), dict(params=params[2:], **groups[1])]
        return getattr(lib.optim, name)(g, **kw), None
    return build


CONFIGS = {
    "sgd": _single("SGD", lr=0.1),
    "sgd_momentum": _single("SGD", lr=0.05, momentum=0.9),
    "sgd_dampening": _single("SGD", lr=0.05, momentum=0.9, dampening=0.3),
    "sgd_nesterov_wd": _single("SGD", lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01),
    "sgd_wd_maximize": _single("SGD", lr=0.05, weight_decay=0.05, maximize=True),
    "sgd_momentum_maximize": _single("SGD", lr=0.05, momentum=0.5, maximize=True),
    "sgd_groups": _grouped("SGD", [dict(lr=0.1, weight_decay=0.1), dict(momentum=0.9)], lr=0.02),
    "adagrad": _single("Adagrad", lr=0.1),
    "adagrad_all": _single("Adagrad", lr=0.1, lr_decay=0.05, weight_decay=0.01,
                           initial_accumulator_value=0.1, eps=1e-8),
    "adagrad_maximize": _single("Adagrad", lr=0.05, maximize=True),
    "rmsprop": _single("RMSprop", lr=0.01),
    "rmsprop_centered_momentum": _single("RMSprop", lr=0.01, alpha=0.9, momentum=0.5,
                                         centered=True, weight_decay=0.01),
    "rmsprop_momentum_maximize": _single("RMSprop", lr=0.005, momentum=0.9, maximize=True),
    "rmsprop_centered": _single("RMSprop", lr=0.01, centered=True, eps=1e-6),
    "adam": _single("Adam", lr=0.01),
    "adam_amsgrad_wd": _single("Adam", lr=0.01, betas=(0.8, 0.99), weight_decay=0.1,
                               amsgrad=True, eps=1e-6),
    "adam_maximize": _single("Adam", lr=0.01, maximize=True),
    "adam_decoupled": _single("Adam", lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
    "adam_groups": _grouped("Adam", [dict(lr=0.02, weight_decay=0.05), dict(amsgrad=True)],
                            lr=0.005),
    "adamw": _single("AdamW", lr=0.01),
    "adamw_amsgrad_maximize": _single("AdamW", lr=0.01, weight_decay=0.3, amsgrad=True,
                                      maximize=True),
    "adadelta": _single("Adadelta", lr=1.0),
    "adadelta_all": _single("Adadelta", lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.01),
    "adadelta_maximize": _single("Adadelta", maximize=True),
    "adamax": _single("Adamax", lr=0.01),
    "adamax_all": _single("Adamax", lr=0.02, betas=(0.7, 0.9), eps=1e-6, weight_decay=0.05,
                          maximize=True),
    "nadam": _single("NAdam", lr=0.01),
    "nadam_all": _single("NAdam", lr=0.01, betas=(0.85, 0.99), weight_decay=0.05,
                         momentum_decay=0.01),
    "nadam_decoupled_maximize": _single("NAdam", lr=0.01, weight_decay=0.1,
                                        decoupled_weight_decay=True, maximize=True),
}


def _compare(build, sign=1.0, dtype=np.float32, rtol=1e-5, atol=1e-6, steps=STEPS,
             device="cpu"):
    weights, batches = make_problem(steps, dtype)
    z, z_lrs, z_opt = train(zg, build, weights, batches, sign, device=device)
    t, t_lrs, t_opt = train(torch, build, weights, batches, sign)
    assert_params_close(z, t, rtol, atol)
    assert z_lrs == t_lrs
    return z_opt, t_opt


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_trajectory_matches_torch(name, device):
    sign = -1.0 if "maximize" in name else 1.0
    z_opt, t_opt = _compare(CONFIGS[name], sign, device=device)
    # the state is named like torch's, with the same values, on the parameter's device
    # (the 0-d step counters stay on the CPU, as torch keeps them)
    for zp, tp in zip((p for g in z_opt.param_groups for p in g["params"]),
                      (p for g in t_opt.param_groups for p in g["params"])):
        z_state, t_state = z_opt.state[zp], t_opt.state[tp]
        assert sorted(z_state) == sorted(t_state)
        for key, value in t_state.items():
            assert isinstance(z_state[key], zg.Tensor)
            assert z_state[key].dtype.name == str(value.dtype).split(".")[-1], key
            assert str(z_state[key].device) == (str(value.device) if value.ndim == 0
                                                else device), key
            np.testing.assert_allclose(host(z_state[key]), value.numpy(), rtol=1e-4,
                                       atol=1e-6, err_msg=key)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_trajectory_float64(name):
    """In float64 rounding differences vanish, so any deviation from torch's formulas shows."""
    sign = -1.0 if "maximize" in name else 1.0
    _compare(CONFIGS[name], sign, dtype=np.float64, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_blocked_and_strided_params_match_torch(name, monkeypatch, device):
    """Parameters spanning several update blocks (updated block by block, the last block
    partial) and a transposed, non-contiguous parameter (updated whole) follow torch too;
    the block is shrunk to 1 KiB so small arrays exercise it. Grads are set directly."""
    monkeypatch.setattr(zg.optim.optimizer, "_BLOCK_BYTES", 1024)  # 256 float32 elements
    rng = np.random.default_rng(5)
    shapes = [(37, 29), (300,), (4, 90), (19, 20)]
    weights = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(3)]

    def run(lib):
        params = [tensor(lib, w, device) for w in weights[:3]] + [
            tensor(lib, weights[3].T.copy(), device).T]
        for p in params:
            p.requires_grad_(True)
        opt, _ = CONFIGS[name](lib, params)
        for step_grads in grads:
            for p, g in zip(params, step_grads):
                p.grad = tensor(lib, g, device)
            opt.step()
        if lib is zg:
            assert not params[3]._data.flags.c_contiguous
            assert all(str(p.device) == device for p in params)
        return [host(p) for p in params]

    z, t = run(zg), run(torch)
    assert_params_close(z, t, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_param_groups_and_state_dict_keys_match_torch(name):
    weights, batches = make_problem(2)
    _, _, z_opt = train(zg, CONFIGS[name], weights, batches)
    _, _, t_opt = train(torch, CONFIGS[name], weights, batches)
    z_sd, t_sd = z_opt.state_dict(), t_opt.state_dict()
    assert [sorted(g) for g in z_sd["param_groups"]] == [sorted(g) for g in t_sd["param_groups"]]
    for zg_group, t_group in zip(z_sd["param_groups"], t_sd["param_groups"]):
        assert zg_group == t_group
    assert sorted(z_sd["state"]) == sorted(t_sd["state"])
    for k in t_sd["state"]:
        assert sorted(z_sd["state"][k]) == sorted(t_sd["state"][k])


@pytest.mark.parametrize("name", ["sgd_momentum", "adagrad_all", "rmsprop_centered_momentum",
                                  "adam_groups", "adamw_amsgrad_maximize", "adadelta_all",
                                  "adamax_all", "nadam_all"])
def test_state_dict_round_trip_resumes_training(name):
    """5 steps, save, fresh params + optimizer load it, 5 more == 10 uninterrupted steps."""
    build = CONFIGS[name]
    weights, batches = make_problem(10)
    straight, _, _ = train(zg, build, weights, batches)

    first, _, opt = train(zg, build, weights, batches[:5])
    snapshot = copy.deepcopy(opt.state_dict())
    params = leaves(zg, first)
    fresh, _ = build(zg, params)
    fresh.load_state_dict(opt.state_dict())
    for x, y in batches[5:]:
        fresh.zero_grad()
        mlp_loss(zg, params, zg.tensor(x), zg.tensor(y)).backward()
        fresh.step()
    assert_params_close([p.detach().numpy() for p in params], straight, 0, 0)
    # the loaded state is a copy: training the new optimizer left the old one's unchanged
    old = opt.state_dict()["state"]
    assert all(np.array_equal(snapshot["state"][k][key].numpy(), old[k][key].numpy())
               for k in snapshot["state"] for key in snapshot["state"][k])


@pytest.mark.parametrize("name", ["sgd_momentum", "adam_groups", "nadam_all", "adagrad_all",
                                  "rmsprop_centered_momentum"])
def test_state_dict_round_trip_across_devices_and_a_checkpoint_file(name, device, tmp_path):
    """5 steps on the CPU, the state saved to a file (as host arrays), loaded into an
    optimizer of parameters on ``device`` (state moved there, as torch's load_state_dict
    does), 5 more steps there == 10 uninterrupted steps."""
    build = CONFIGS[name]
    weights, batches = make_problem(10)
    straight, _, _ = train(zg, build, weights, batches, device=device)

    first, _, opt = train(zg, build, weights, batches[:5])
    zg.save({"optim": opt.state_dict()}, tmp_path / "optim.pt")
    saved = zg.load(tmp_path / "optim.pt")["optim"]
    assert all(str(v.device) == "cpu" for s in saved["state"].values() for v in s.values())
    params = leaves(zg, first, device)
    fresh, _ = build(zg, params)
    fresh.load_state_dict(saved)
    for p in params:
        for key, value in fresh.state[p].items():
            assert str(value.device) == ("cpu" if key == "step" else device), key
    for x, y in batches[5:]:
        fresh.zero_grad()
        mlp_loss(zg, params, tensor(zg, x, device), tensor(zg, y, device)).backward()
        fresh.step()
    assert_params_close([host(p) for p in params], straight, 1e-6, 1e-7)
    # and back: the device optimizer's state loads into a CPU one
    cpu_params = leaves(zg, first)
    back, _ = build(zg, cpu_params)
    back.load_state_dict(fresh.state_dict())
    assert all(str(v.device) == "cpu" for p in cpu_params for v in back.state[p].values())


@pytest.mark.parametrize("name", ["sgd_momentum", "adamw_amsgrad_maximize", "rmsprop_centered"])
def test_optimizer_built_before_model_to_device_follows_the_cpu_trajectory(name):
    """An optimizer made before ``model.to(device)`` still holds the (moved, same) parameters:
    its state is created on the device at the first step, and training there gives the
    CPU run's parameters."""
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((16, 5)).astype(np.float32), rng.standard_normal((16, 3))
    y = y.astype(np.float32)
    sign = -1.0 if "maximize" in name else 1.0

    def run(device):
        zg.manual_seed(0)
        net = zg.nn.Sequential(zg.nn.Linear(5, 8), zg.nn.Tanh(), zg.nn.Linear(8, 3))
        opt, _ = CONFIGS[name](zg, list(net.parameters()))
        net.to(device)
        for _ in range(5):
            opt.zero_grad()
            loss = zg.nn.functional.mse_loss(net(tensor(zg, x, device)), tensor(zg, y, device))
            (loss * sign).backward()
            opt.step()
        for p in net.parameters():
            assert all(str(v.device) == (device if v.ndim else "cpu")
                       for v in opt.state[p].values())
        return [host(p) for p in net.parameters()]

    assert_params_close(run("standin"), run("cpu"), 1e-6, 1e-7)


def test_state_dict_loads_into_torch_shaped_layout():
    """zerograd's state_dict has torch's layout: converted to torch tensors it loads there."""
    weights, batches = make_problem(3)
    z, _, z_opt = train(zg, CONFIGS["adam_groups"], weights, batches)
    sd = z_opt.state_dict()
    converted = {"state": {k: {n: torch.tensor(v.numpy()) for n, v in s.items()}
                           for k, s in sd["state"].items()},
                 "param_groups": sd["param_groups"]}
    params = leaves(torch, z)
    t_opt, _ = CONFIGS["adam_groups"](torch, params)
    t_opt.load_state_dict(converted)
    assert t_opt.state[params[0]]["step"].item() == 3.0



def test_textbook_loop_with_nn_modules():
    """model.parameters() / named_parameters(), nn.MSELoss, and a checkpoint of model +
    optimizer resumed in a fresh model: the same weights as PyTorch's run."""
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((32, 6)).astype(np.float32), rng.standard_normal((32, 2))
    y = y.astype(np.float32)

    def model(lib):
        lib.manual_seed(0)
        return lib.nn.Sequential(lib.nn.Linear(6, 16), lib.nn.ReLU(), lib.nn.Linear(16, 2))

    def run(lib, net, opt, steps):
        loss_fn = lib.nn.MSELoss()
        for _ in range(steps):
            opt.zero_grad()
            loss = loss_fn(net(lib.tensor(x)), lib.tensor(y))
            loss.backward()
            opt.step()

    t_net = model(torch)
    z_net = model(zg)
    z_net.load_state_dict({k: zg.tensor(v.detach().numpy()) for k, v in
                           t_net.state_dict().items()})
    t_opt = torch.optim.AdamW(t_net.parameters(), lr=0.01)
    z_opt = zg.optim.AdamW(z_net.named_parameters(), lr=0.01)
    run(torch, t_net, t_opt, 10)
    run(zg, z_net, z_opt, 5)
    checkpoint = copy.deepcopy({"model": z_net.state_dict(), "optim": z_opt.state_dict()})
    resumed = model(zg)
    resumed.load_state_dict(checkpoint["model"])
    opt = zg.optim.AdamW(resumed.named_parameters(), lr=0.01)
    opt.load_state_dict(checkpoint["optim"])
    run(zg, resumed, opt, 5)
    for (name, t), z in zip(t_net.state_dict().items(), resumed.state_dict().values()):
        np.testing.assert_allclose(z.numpy(), t.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)
