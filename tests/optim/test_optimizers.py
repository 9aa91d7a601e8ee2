"""Optimizers against PyTorch: the same MLP, weights and batches trained 20 steps in both
frameworks must end at the same parameters, for every option of every optimizer; plus the
Optimizer API (param groups, zero_grad, state_dict round trips, closures, hooks, errors)."""
import copy
import warnings

import numpy as np
import pytest

from tests.optim._problems import (assert_params_close, leaves, make_problem, mlp_loss, torch,
                                   train, zg)

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


def _compare(build, sign=1.0, dtype=np.float32, rtol=1e-5, atol=1e-6, steps=STEPS):
    weights, batches = make_problem(steps, dtype)
    z, z_lrs, z_opt = train(zg, build, weights, batches, sign)
    t, t_lrs, t_opt = train(torch, build, weights, batches, sign)
    assert_params_close(z, t, rtol, atol)
    assert z_lrs == t_lrs
    return z_opt, t_opt


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_trajectory_matches_torch(name):
    sign = -1.0 if "maximize" in name else 1.0
    z_opt, t_opt = _compare(CONFIGS[name], sign)
    # the state is named like torch's, with the same values
    for zp, tp in zip((p for g in z_opt.param_groups for p in g["params"]),
                      (p for g in t_opt.param_groups for p in g["params"])):
        z_state, t_state = z_opt.state[zp], t_opt.state[tp]
        assert sorted(z_state) == sorted(t_state)
        for key, value in t_state.items():
            assert isinstance(z_state[key], zg.Tensor)
            assert z_state[key].dtype.name == str(value.dtype).split(".")[-1], key
            np.testing.assert_allclose(z_state[key].numpy(), value.numpy(), rtol=1e-4,
                                       atol=1e-6, err_msg=key)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_trajectory_float64(name):
    """In float64 rounding differences vanish, so any deviation from torch's formulas shows."""
    sign = -1.0 if "maximize" in name else 1.0
    _compare(CONFIGS[name], sign, dtype=np.float64, rtol=1e-10, atol=1e-12)


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


def test_generator_params_and_named_params():
    params = leaves(zg, make_problem(1)[0])
    opt = zg.optim.SGD((p for p in params), lr=0.1)
    assert opt.param_groups[0]["params"] == params or \
        all(a is b for a, b in zip(opt.param_groups[0]["params"], params))
    named = zg.optim.Adam([(f"p{i}", p) for i, p in enumerate(params)])
    assert named.param_groups[0]["param_names"] == ["p0", "p1", "p2", "p3"]
    assert named.state_dict()["param_groups"][0]["param_names"] == ["p0", "p1", "p2", "p3"]


def test_parameter_objects_and_frozen_params():
    w = zg.nn.Parameter(zg.ones(3))
    frozen = zg.nn.Parameter(zg.ones(3))
    opt = zg.optim.SGD([w, frozen], lr=0.5)
    (w * 2).sum().backward()
    opt.step()  # frozen has no grad: left alone
    np.testing.assert_allclose(w.detach().numpy(), [0.0, 0.0, 0.0])
    np.testing.assert_allclose(frozen.detach().numpy(), [1.0, 1.0, 1.0])
    assert frozen not in opt.state


def test_step_updates_in_place_and_bumps_version():
    w = zg.tensor([1.0, 2.0], requires_grad=True)
    data, version = w._data, w._version
    opt = zg.optim.Adam([w], lr=0.1)
    (w ** 2).sum().backward()
    opt.step()
    assert w._data is data and w._version > version
    assert w.grad_fn is None and w.requires_grad


def test_stale_graph_is_detected_after_step():
    w = zg.tensor([1.0, 2.0], requires_grad=True)
    opt = zg.optim.SGD([w], lr=0.1)
    loss = (w * w).sum()
    opt.zero_grad()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError):
        loss.backward()  # w was modified in place after being saved for backward


def test_zero_grad():
    w = zg.tensor([1.0, 2.0], requires_grad=True)
    opt = zg.optim.SGD([w], lr=0.1)
    (w * 3).sum().backward()
    grad = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is grad and not grad.numpy().any()
    opt.zero_grad()
    assert w.grad is None


def test_closure_runs_with_grad_enabled_and_returns_loss():
    w = zg.tensor([1.0, -2.0], requires_grad=True)
    opt = zg.optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w ** 2).sum()
        loss.backward()
        return loss

    with zg.no_grad():
        loss = opt.step(closure)
    assert float(loss) == 5.0
    np.testing.assert_allclose(w.detach().numpy(), [0.5, -1.0])
    assert zg.is_grad_enabled()


def test_add_param_group_and_defaults():
    a, b = zg.zeros(2, requires_grad=True), zg.zeros(3, requires_grad=True)
    opt = zg.optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["momentum"] == 0.9
    assert opt.param_groups[1]["params"][0] is b
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter "
                                         "group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter "
                                         "group"):
        zg.optim.Adam([{"params": [a]}, {"params": [a, b]}])
    with pytest.raises(TypeError, match="ordered collections"):
        opt.add_param_group({"params": {b}})
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors"):
        zg.optim.SGD([a, 3.0], lr=0.1)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        zg.optim.SGD([a * 2], lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        zg.optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        zg.optim.SGD(a, lr=0.1)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        zg.optim.SGD([a, a], lr=0.1)


BAD_ARGUMENTS = [
    ("SGD", dict(lr=-0.1), "Invalid learning rate: -0.1"),
    ("SGD", dict(lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5"),
    ("SGD", dict(lr=0.1, weight_decay=-1), "Invalid weight_decay value: -1"),
    ("SGD", dict(lr=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero "
                                         "dampening"),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
     "Nesterov momentum requires a momentum and zero dampening"),
    ("Adam", dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    ("Adam", dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    ("Adam", dict(betas=(0, 0.9)), "betas must be either both floats or both Tensors"),
    ("Adam", dict(lr=-1.0), "Invalid learning rate: -1.0"),
    ("AdamW", dict(eps=-1e-8), "Invalid epsilon value: -1e-08"),
    ("AdamW", dict(weight_decay=-0.01), "Invalid weight_decay value: -0.01"),
    ("Adagrad", dict(lr_decay=-1), "Invalid lr_decay value: -1"),
    ("Adagrad", dict(eps=-1), "Invalid epsilon value: -1"),
    ("Adagrad", dict(initial_accumulator_value=-1), "Invalid initial_accumulator_value value: -1"),
    ("RMSprop", dict(alpha=-0.1), "Invalid alpha value: -0.1"),
    ("RMSprop", dict(momentum=-0.1), "Invalid momentum value: -0.1"),
    ("Adadelta", dict(rho=1.5), "Invalid rho value: 1.5"),
    ("Adamax", dict(betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
    ("NAdam", dict(momentum_decay=-1), "Invalid momentum_decay value: -1"),
    ("LBFGS", dict(lr=-1), "Invalid learning rate: -1"),
]


@pytest.mark.parametrize("name, kwargs, message", BAD_ARGUMENTS)
def test_bad_arguments_raise_like_torch(name, kwargs, message):
    for lib in (zg, torch):  # the same error and message as torch
        with pytest.raises(ValueError) as info:
            getattr(lib.optim, name)([lib.zeros(2, requires_grad=True)], **kwargs)
        assert str(info.value) == message


def test_differentiable_is_refused_clearly():
    with pytest.raises(ValueError, match="differentiable=True is not supported"):
        zg.optim.Adam([zg.zeros(2, requires_grad=True)], differentiable=True)


@pytest.mark.parametrize("name", ["sgd_momentum", "adagrad_all", "rmsprop_centered_momentum",
                                  "adam_groups", "adamw_amsgrad_maximize", "adadelta_all",
                                  "adamax_all", "nadam_all"])
def test_state_dict_round_trip_resumes_training(name):
    """5 steps, save, fresh params + optimizer load it, 5 more == 10 uninterrupted steps."""
    build = CONFIGS[name]
    weights, batches = make_problem(10)
    straight, _, _ = train(zg, build, weights, batches)

    first, _, opt = train(zg, build, weights, batches[:5])
    saved = copy.deepcopy(opt.state_dict())
    params = leaves(zg, first)
    fresh, _ = build(zg, params)
    fresh.load_state_dict(saved)
    for x, y in batches[5:]:
        fresh.zero_grad()
        mlp_loss(zg, params, zg.tensor(x), zg.tensor(y)).backward()
        fresh.step()
    assert_params_close([p.detach().numpy() for p in params], straight, 0, 0)
    # loaded state is a copy: training the new optimizer left the saved dict unchanged
    assert all(np.array_equal(saved["state"][k][key].numpy(),
                              opt.state_dict()["state"][k][key].numpy())
               for k in saved["state"] for key in saved["state"][k])


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


def test_load_state_dict_errors():
    a, b = zg.zeros(2, requires_grad=True), zg.zeros(3, requires_grad=True)
    one_group = zg.optim.SGD([a, b], lr=0.1).state_dict()
    two_groups = zg.optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        two_groups.load_state_dict(one_group)
    with pytest.raises(ValueError, match="loaded state dict contains a parameter group that "
                                         "doesn't match the size of optimizer's group"):
        zg.optim.SGD([a], lr=0.1).load_state_dict(one_group)


def test_load_state_dict_casts_to_param_dtype_and_keeps_step():
    w = zg.zeros(2, dtype=zg.float64, requires_grad=True)
    src = zg.optim.Adam([zg.zeros(2, requires_grad=True)])
    src.param_groups[0]["params"][0].grad = zg.ones(2)
    src.step()
    dst = zg.optim.Adam([w])
    dst.load_state_dict(src.state_dict())
    assert dst.state[w]["exp_avg"].dtype == zg.float64
    assert dst.state[w]["step"].dtype == zg.float32


def test_tensor_lr_and_repr():
    w = zg.tensor([1.0], requires_grad=True)
    opt = zg.optim.SGD([w], lr=zg.tensor(0.5))
    (w * 2).sum().backward()
    opt.step()
    np.testing.assert_allclose(w.detach().numpy(), [0.0])
    text = repr(zg.optim.Adam([w]))
    assert text.startswith("Adam (\nParameter Group 0\n") and "    lr: 0.001" in text


def test_step_hooks_and_pickle():
    import pickle
    w = zg.tensor([1.0], requires_grad=True)
    opt = zg.optim.SGD([w], lr=0.5, momentum=0.9)
    calls = []
    pre = opt.register_step_pre_hook(lambda o, args, kwargs: calls.append("pre"))
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append("post"))
    (w * 2).sum().backward()
    opt.step()
    pre.remove()
    opt.step()
    assert calls == ["pre", "post", "post"]
    clone = pickle.loads(pickle.dumps(opt))
    assert clone.state_dict()["param_groups"] == opt.state_dict()["param_groups"]


def test_custom_optimizer_subclass():
    """A textbook custom optimizer built on the base class works like torch's."""
    class PlainSGD(zg.optim.Optimizer):
        def __init__(self, params, lr=0.1):
            super().__init__(params, dict(lr=lr))

        @zg.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    p.sub_(group["lr"] * p.grad)

    w = zg.tensor([1.0, 2.0], requires_grad=True)
    opt = PlainSGD([w])
    (w ** 2).sum().backward()
    opt.step()
    np.testing.assert_allclose(w.detach().numpy(), [0.8, 1.6], rtol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zg.optim.lr_scheduler.StepLR(opt, 2).step()  # step() was called: no order warning
