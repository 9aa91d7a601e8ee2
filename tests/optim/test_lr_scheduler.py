"""LR schedulers against PyTorch: identical learning-rate (and momentum) sequences over 40
steps, closed forms, resuming, state_dict round trips, and schedulers driving training."""
import math
import warnings

import numpy as np
import pytest

from tests.optim._problems import assert_params_close, make_problem, torch, train, zg

STEPS = 40


def _params(lib, n_groups=2):
    """Params in ``n_groups`` groups with different learning rates."""
    groups = [{"params": [lib.zeros(2, requires_grad=True)], "lr": 0.1 * (i + 1)}
              for i in range(n_groups)]
    return groups


SCHEDULERS = {
    "step": lambda s, o: s.StepLR(o, step_size=7, gamma=0.5),
    "multistep": lambda s, o: s.MultiStepLR(o, milestones=[3, 10, 10, 25], gamma=0.3),
    "exponential": lambda s, o: s.ExponentialLR(o, gamma=0.93),
    "cosine": lambda s, o: s.CosineAnnealingLR(o, T_max=12, eta_min=0.001),
    "cosine_no_min": lambda s, o: s.CosineAnnealingLR(o, T_max=40),
    "lambda": lambda s, o: s.LambdaLR(o, lr_lambda=lambda e: 1 / (1 + 0.1 * e)),
    "lambda_list": lambda s, o: s.LambdaLR(o, lr_lambda=[lambda e: 0.95 ** e,
                                                         lambda e: 1.0 / (e + 1)]),
    "multiplicative": lambda s, o: s.MultiplicativeLR(o, lr_lambda=lambda e: 0.97),
    "linear": lambda s, o: s.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=10),
    "linear_decay": lambda s, o: s.LinearLR(o, start_factor=1.0, end_factor=0.1,
                                            total_iters=30),
    "constant": lambda s, o: s.ConstantLR(o, factor=0.5, total_iters=6),
    "polynomial": lambda s, o: s.PolynomialLR(o, total_iters=25, power=2.0),
    "onecycle": lambda s, o: s.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=STEPS + 1),
    "onecycle_linear_3phase": lambda s, o: s.OneCycleLR(
        o, max_lr=0.8, epochs=5, steps_per_epoch=9, pct_start=0.25, anneal_strategy="linear",
        three_phase=True, div_factor=10.0, final_div_factor=100.0),
    "sequential": lambda s, o: s.SequentialLR(
        o, [s.LinearLR(o, start_factor=0.1, total_iters=5), s.CosineAnnealingLR(o, T_max=20),
            s.ExponentialLR(o, gamma=0.9)], milestones=[5, 25]),
    "warm_restarts": lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=5, eta_min=0.01),
    "warm_restarts_mult": lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2),
    "chained": lambda s, o: s.ChainedScheduler(
        [s.ConstantLR(o, factor=0.5, total_iters=4), s.ExponentialLR(o, gamma=0.95)]),
}


def _optimizer(lib, kind, n_groups=2):
    groups = _params(lib, n_groups)
    if kind == "sgd":
        return lib.optim.SGD(groups, lr=0.1, momentum=0.9)
    return lib.optim.Adam(groups, lr=0.1, betas=(0.9, 0.99))


def _sequence(lib, name, kind="sgd", steps=STEPS):
    opt = _optimizer(lib, kind)
    sched = SCHEDULERS[name](lib.optim.lr_scheduler, opt)
    seen = [(sched.get_last_lr(), [(g["lr"], g.get("momentum"), g.get("betas"))
                                   for g in opt.param_groups])]
    for _ in range(steps):
        opt.step()
        sched.step()
        seen.append((list(sched.get_last_lr()),
                     [(g["lr"], g.get("momentum"), g.get("betas")) for g in opt.param_groups]))
    return seen, sched, opt


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_lr_sequence_matches_torch_exactly(name, kind):
    steps = 44 if name == "onecycle_linear_3phase" else STEPS
    z, z_sched, _ = _sequence(zg, name, kind, steps)
    t, t_sched, _ = _sequence(torch, name, kind, steps)
    assert z == t  # same formulas evaluated in the same order: bit-identical floats
    assert getattr(z_sched, "last_epoch", None) == getattr(t_sched, "last_epoch", None)
    assert sorted(z_sched.state_dict()) == sorted(t_sched.state_dict())


def test_onecycle_cycles_sgd_momentum_and_adam_beta1():
    z, _, _ = _sequence(zg, "onecycle", "sgd")
    momenta = [groups[0][1] for _, groups in z]
    assert momenta[0] == 0.95 and min(momenta) == pytest.approx(0.85, abs=1e-3)
    z, _, opt = _sequence(zg, "onecycle", "adam")
    beta1 = [groups[0][2][0] for _, groups in z]
    assert beta1[0] == 0.95 and min(beta1) == pytest.approx(0.85, abs=1e-3)
    assert all(groups[0][2][1] == 0.99 for _, groups in z)  # beta2 untouched
    assert opt.param_groups[0]["initial_lr"] == 1.0 / 25 and opt.param_groups[0]["max_lr"] == 1.0


def test_onecycle_errors():
    opt = _optimizer(zg, "sgd")
    s = zg.optim.lr_scheduler
    with pytest.raises(ValueError, match="total_steps OR"):
        s.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(ValueError, match="positive integer total_steps"):
        s.OneCycleLR(opt, max_lr=0.1, total_steps=0)
    with pytest.raises(ValueError, match="pct_start"):
        s.OneCycleLR(opt, max_lr=0.1, total_steps=10, pct_start=1.5)
    with pytest.raises(ValueError, match="anneal_strategy"):
        s.OneCycleLR(opt, max_lr=0.1, total_steps=10, anneal_strategy="exp")
    with pytest.raises(ValueError, match="max_lr must have the same length"):
        s.OneCycleLR(opt, max_lr=[0.1], total_steps=10)
    no_momentum = zg.optim.Adagrad([zg.zeros(1, requires_grad=True)])
    with pytest.raises(ValueError, match="must support momentum or beta1"):
        s.OneCycleLR(no_momentum, max_lr=0.1, total_steps=10)
    sched = s.OneCycleLR(opt, max_lr=0.1, total_steps=3)
    for _ in range(3):
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        sched.step()


PLATEAU = {
    "min_rel": dict(),
    "min_abs_cooldown": dict(threshold_mode="abs", threshold=0.05, patience=2, cooldown=3),
    "max_rel": dict(mode="max", patience=1, factor=0.5, threshold=0.01),
    "max_abs_min_lr": dict(mode="max", threshold_mode="abs", patience=0, factor=0.3,
                           min_lr=[0.02, 0.05]),
    "min_lr_eps": dict(patience=1, factor=0.5, min_lr=0.03, eps=1e-3),
}


@pytest.mark.parametrize("name", sorted(PLATEAU))
def test_reduce_lr_on_plateau_matches_torch(name):
    rng = np.random.default_rng(1)
    # a metric that improves, plateaus with noise, then improves again
    metrics = np.concatenate([np.linspace(1.0, 0.5, 8), 0.5 + 0.01 * rng.standard_normal(20),
                              np.linspace(0.5, 0.2, 6), np.full(10, 0.2)])
    if PLATEAU[name].get("mode") == "max":
        metrics = -metrics

    def run(lib):
        opt = _optimizer(lib, "sgd")
        sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, **PLATEAU[name])
        lrs = []
        for m in metrics:
            opt.step()
            sched.step(float(m))
            lrs.append((sched.get_last_lr(), sched.num_bad_epochs, sched.cooldown_counter,
                        sched.best))
        return lrs, sched

    (z, z_sched), (t, t_sched) = run(zg), run(torch)
    assert z == t
    assert z[-1][0] != z[0][0]  # the rate was actually reduced
    assert z_sched.state_dict() == t_sched.state_dict()


def test_reduce_lr_on_plateau_accepts_tensor_metric_and_validates():
    opt = _optimizer(zg, "sgd")
    s = zg.optim.lr_scheduler
    sched = s.ReduceLROnPlateau(opt, patience=0)
    sched.step(zg.tensor(1.0))
    sched.step(zg.tensor(2.0))
    assert sched.get_last_lr() == pytest.approx([0.01, 0.02])
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        s.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode avg is unknown"):
        s.ReduceLROnPlateau(opt, mode="avg")
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 1"):
        s.ReduceLROnPlateau(opt, min_lr=[0.1])


@pytest.mark.parametrize("name", ["step", "multistep", "exponential", "cosine", "linear",
                                  "constant", "polynomial", "warm_restarts_mult"])
def test_step_with_epoch_uses_closed_form(name):
    def run(lib):
        opt = _optimizer(lib, "sgd")
        sched = SCHEDULERS[name](lib.optim.lr_scheduler, opt)
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for epoch in [3, 9, 4, 17, 30, 12.5]:
                opt.step()
                sched.step(epoch)
                out.append(sched.get_last_lr())
        return out
    assert run(zg) == run(torch)


@pytest.mark.parametrize("name", ["step", "cosine", "onecycle", "sequential", "lambda"])
def test_state_dict_round_trip_resumes_schedule(name):
    full, _, _ = _sequence(zg, name, "sgd", steps=20)
    _, sched, opt = _sequence(zg, name, "sgd", steps=8)
    saved_sched, saved_opt = sched.state_dict(), opt.state_dict()
    opt2 = _optimizer(zg, "sgd")
    sched2 = SCHEDULERS[name](zg.optim.lr_scheduler, opt2)
    sched2.load_state_dict(saved_sched)
    opt2.load_state_dict(saved_opt)  # after the scheduler, as torch's docs say
    rest = []
    for _ in range(12):
        opt2.step()
        sched2.step()
        rest.append(list(sched2.get_last_lr()))
    assert rest == [lrs for lrs, _ in full[9:]]


def test_initial_lr_and_resuming_with_last_epoch():
    opt = _optimizer(zg, "sgd")
    with pytest.raises(KeyError, match="initial_lr"):
        zg.optim.lr_scheduler.StepLR(opt, 3, last_epoch=5)
    opt.param_groups[0]["lr"] = 0.7
    sched = zg.optim.lr_scheduler.ExponentialLR(opt, 0.5)
    assert opt.param_groups[0]["initial_lr"] == 0.7 and sched.base_lrs == [0.7, 0.2]
    # a second scheduler keeps the first initial_lr (setdefault), as torch does
    zg.optim.lr_scheduler.StepLR(opt, 3)
    assert opt.param_groups[0]["initial_lr"] == 0.7

    def resumed(lib):  # resume a cosine schedule at epoch 10
        o = _optimizer(lib, "sgd")
        for g in o.param_groups:
            g["initial_lr"] = g["lr"]
        s = lib.optim.lr_scheduler.CosineAnnealingLR(o, T_max=15, last_epoch=10)
        out = [s.get_last_lr()]
        for _ in range(10):
            o.step()
            s.step()
            out.append(s.get_last_lr())
        return out
    assert resumed(zg) == resumed(torch)


def test_scheduler_order_warning():
    opt = _optimizer(zg, "sgd")
    sched = zg.optim.lr_scheduler.StepLR(opt, 2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    opt2 = _optimizer(zg, "sgd")
    sched2 = zg.optim.lr_scheduler.StepLR(opt2, 2)
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched2.step()
        sched2.get_last_lr()
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched2.get_lr()


def test_sequential_and_chained_validate():
    s = zg.optim.lr_scheduler
    opt, other = _optimizer(zg, "sgd"), _optimizer(zg, "sgd")
    a, b = s.StepLR(opt, 2), s.StepLR(other, 2)
    with pytest.raises(ValueError, match="same optimizer"):
        s.SequentialLR(opt, [a, b], milestones=[3])
    with pytest.raises(ValueError, match="number of milestones"):
        s.SequentialLR(opt, [a], milestones=[3])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        s.ChainedScheduler([a, s.ReduceLROnPlateau(opt)])
    with pytest.raises(TypeError, match="is not an Optimizer"):
        s.StepLR(object(), 2)


TRAINING = {
    "sgd_momentum_steplr": lambda lib, p: _with(lib, lib.optim.SGD(p, lr=0.1, momentum=0.9),
                                                 lambda s, o: s.StepLR(o, 5, gamma=0.5)),
    "sgd_onecycle_momentum": lambda lib, p: _with(
        lib, lib.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
        lambda s, o: s.OneCycleLR(o, max_lr=0.3, total_steps=20)),
    "adam_onecycle_betas": lambda lib, p: _with(
        lib, lib.optim.Adam(p, lr=0.01), lambda s, o: s.OneCycleLR(o, max_lr=0.05,
                                                                    total_steps=20)),
    "adamw_cosine_groups": lambda lib, p: _with(
        lib, lib.optim.AdamW([{"params": p[:2], "lr": 0.03, "weight_decay": 0.1},
                              {"params": p[2:]}], lr=0.01),
        lambda s, o: s.CosineAnnealingLR(o, T_max=8, eta_min=1e-3)),
    "rmsprop_warmup_sequential": lambda lib, p: _with(
        lib, lib.optim.RMSprop(p, lr=0.01, momentum=0.5),
        lambda s, o: s.SequentialLR(o, [s.LinearLR(o, 0.1, total_iters=5),
                                        s.ExponentialLR(o, 0.9)], milestones=[5])),
}


def _with(lib, opt, make_sched):
    return opt, make_sched(lib.optim.lr_scheduler, opt)


@pytest.mark.parametrize("name", sorted(TRAINING))
def test_training_with_scheduler_matches_torch(name):
    weights, batches = make_problem(20)
    z, z_lrs, _ = train(zg, TRAINING[name], weights, batches)
    t, t_lrs, _ = train(torch, TRAINING[name], weights, batches)
    assert z_lrs == t_lrs and len({tuple(lr) for lr in z_lrs}) > 3
    assert_params_close(z, t, rtol=1e-5, atol=1e-6)


def test_cosine_reaches_eta_min_and_returns():
    opt = _optimizer(zg, "sgd", n_groups=1)
    sched = zg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.01)
    lrs = []
    for _ in range(20):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    assert math.isclose(lrs[9], 0.01) and math.isclose(lrs[19], 0.1)
