"""The Optimizer API: parameter groups, zero_grad, closures, in-place updates and version
counters, state_dict loading rules, hooks, pickling, custom subclasses, and the errors for
bad arguments (same messages as torch)."""
import warnings

import numpy as np
import pytest

from tests.optim._problems import leaves, make_problem, torch, zg


def test_generator_params_and_named_params():
    params = leaves(zg, make_problem(1)[0])
    opt = zg.optim.SGD((p for p in params), lr=0.1)
    group_params = opt.param_groups[0]["params"]
    assert len(group_params) == 4 and all(a is b for a, b in zip(group_params, params))
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
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
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


def test_subclass_calling_super_step_runs_hooks_once():
    class LoggedSGD(zg.optim.SGD):
        def step(self, closure=None):
            return super().step(closure)

    w = zg.tensor([1.0], requires_grad=True)
    opt = LoggedSGD([w], lr=0.5)
    calls = []
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append(1))
    w.grad = zg.ones(1)
    opt.step()
    assert calls == [1]
    np.testing.assert_allclose(w.detach().numpy(), [0.5])


def test_step_pre_hook_can_replace_arguments():
    w = zg.tensor([1.0], requires_grad=True)
    opt = zg.optim.SGD([w], lr=0.5)
    seen = []

    def closure():
        seen.append("closure")
        opt.zero_grad()
        (w * 1.0).sum().backward()
        return 3.0

    with opt.register_step_pre_hook(lambda o, args, kwargs: ((closure,), {})):
        assert opt.step() == 3.0
    assert seen == ["closure"] and not opt._optimizer_step_pre_hooks
