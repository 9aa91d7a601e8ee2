"""From option names to objects: the model, its loss, the optimizer and the LR scheduler."""
import warnings

from zerograd import nn, optim
from zerograd.models import MODELS, get_model
from zerograd.train.config import UsageError

__all__ = ["build_model", "output_kind", "make_loss", "make_optimizer", "make_scheduler",
           "rebuild_scheduler", "count_parameters", "LENGTH_DEPENDENT_SCHEDULERS"]

# Schedules whose shape is defined on the run's length (so more epochs change every lr)
LENGTH_DEPENDENT_SCHEDULERS = ("step", "cosine", "onecycle")


def output_kind(model_name, task):
    """What the model's outputs are: "classes" (logits), "binary" (one logit), "regression"."""
    kind = MODELS[model_name][1]
    if kind == "any":
        return "regression" if task == "regression" else "classes"
    return kind


def build_model(model_name, info):
    """The model for dataset ``info`` (a ``DataInfo``); a clear UsageError if they don't fit."""
    try:
        return get_model(model_name, info.in_shape, info.num_classes)
    except ValueError as err:
        raise UsageError(f"{err} (dataset '{info.name}')") from None


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())


class _FlatLoss:
    """A loss on one output per sample: (N, 1) outputs are compared with (N,) targets."""

    def __init__(self, loss):
        self.loss = loss

    def __call__(self, output, target):
        return self.loss(output.reshape(-1), target.to(output.dtype))


def make_loss(kind):
    if kind == "classes":
        return nn.CrossEntropyLoss()
    if kind == "binary":
        return _FlatLoss(nn.BCEWithLogitsLoss())
    return _FlatLoss(nn.MSELoss())


def make_optimizer(name, params, lr, momentum=0.0, weight_decay=0.0):
    params = list(params)
    if name in ("sgd", "momentum", "nesterov"):
        return optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                         nesterov=name == "nesterov")
    if name == "adagrad":
        return optim.Adagrad(params, lr=lr, weight_decay=weight_decay)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "lbfgs":
        if weight_decay:
            raise UsageError("--optimizer lbfgs has no weight decay; drop --weight-decay")
        return optim.LBFGS(params, lr=lr, max_iter=5, history_size=10,
                           line_search_fn="strong_wolfe")
    raise UsageError(f"unknown optimizer '{name}'")


def make_scheduler(name, optimizer, epochs, steps_per_epoch, lr):
    """``(scheduler, when)`` with ``when`` one of "epoch", "batch", "plateau" (or None)."""
    sched = optim.lr_scheduler
    if name == "none":
        return None, None
    if name == "step":
        return sched.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1), "epoch"
    if name == "exponential":
        return sched.ExponentialLR(optimizer, gamma=0.9), "epoch"
    if name == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=epochs), "epoch"
    if name == "onecycle":
        return sched.OneCycleLR(optimizer, max_lr=lr,
                                total_steps=epochs * max(steps_per_epoch, 1)), "batch"
    if name == "plateau":
        return sched.ReduceLROnPlateau(optimizer, mode="min", factor=0.1, patience=2), "plateau"
    raise UsageError(f"unknown scheduler '{name}'")


def rebuild_scheduler(name, optimizer, epochs, steps_per_epoch, lr, done_epochs):
    """The schedule ``name`` for an ``epochs``-epoch run, advanced past ``done_epochs``:
    the learning rates (and OneCycle's momentum) the remaining epochs would get had the
    run been planned that long from the start."""
    for group in optimizer.param_groups:  # the schedules start from the initial rate
        group["lr"] = group.get("initial_lr", lr)
    scheduler, when = make_scheduler(name, optimizer, epochs, steps_per_epoch, lr)
    steps = done_epochs * (max(steps_per_epoch, 1) if when == "batch" else 1)
    with warnings.catch_warnings():  # stepping without optimizer steps is the point here
        warnings.simplefilter("ignore")
        for _ in range(steps):
            scheduler.step()
    return scheduler, when
