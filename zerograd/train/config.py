"""What a training run is asked to do: options, their defaults, TOML config files, checks.

Precedence, lowest first: built-in defaults, then defaults that depend on the dataset
(epochs, batch size) or optimizer (learning rate), then a ``--config`` TOML file, then
command-line flags. ``resolve`` turns the layers into one ``TrainConfig`` with every
field set, which is what config.json records and what a resume rebuilds from.
"""
import dataclasses
import math

__all__ = ["UsageError", "Interrupted", "TrainConfig", "MODEL_NAMES", "OPTIMIZERS", "SCHEDULERS",
           "DATASET_NAMES", "IDX_DATASETS", "TEXT_MODELS", "TRANSFORMER_MODELS", "TEXT_OPTIONS",
           "load_toml", "resolve"]


class UsageError(ValueError):
    """A problem with what the user asked for; the CLI prints it as one line, no traceback."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during training, with where the run stands: its last saved epoch, and for a
    new run stopped before its first checkpoint, what that left (``outcome``)."""

    def __init__(self, run_dir, saved_epoch, outcome=None):
        super().__init__(run_dir, saved_epoch, outcome)
        self.run_dir, self.saved_epoch, self.outcome = run_dir, saved_epoch, outcome


MODEL_NAMES = ("linear", "logistic", "softmax", "mlp", "lenet", "lenet-bn", "alexnet-small",
               "vgg-small", "nin", "googlenet-small", "resnet18", "rnn-lm", "gru-lm", "lstm-lm",
               "seq2seq-gru", "seq2seq-attn", "transformer-seq2seq", "transformer-lm",
               "bert-tiny")
TEXT_MODELS = ("rnn-lm", "gru-lm", "lstm-lm", "seq2seq-gru", "seq2seq-attn",
               "transformer-seq2seq", "transformer-lm", "bert-tiny")
TRANSFORMER_MODELS = ("transformer-seq2seq", "transformer-lm", "bert-tiny")
DATASET_NAMES = ("digits", "breast-cancer", "iris", "diabetes", "fashion-mnist",
                 "mnist", "csv:PATH:TARGET", "text:CORPUS", "text:PATH", "seq2seq:TASK",
                 "seq2seq:PATH")
# Options of sequence models only (None: the model's default, filled in by resolve).
TEXT_OPTIONS = ("num_steps", "embed_size", "hidden_size", "num_layers", "clip_grad",
                "num_heads", "positions")

# Learning rates that work out of the box for each optimizer on the bundled datasets.
OPTIMIZERS = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.05,
              "rmsprop": 1e-3, "adam": 1e-3, "adamw": 1e-3, "lbfgs": 1.0}
SCHEDULERS = ("none", "step", "exponential", "cosine", "onecycle", "plateau")

# Per dataset: (epochs, batch size) when the user gives none.
_DATA_DEFAULTS = {"digits": (20, 32), "breast-cancer": (50, 32), "iris": (100, 16),
                  "diabetes": (100, 32), "fashion-mnist": (10, 128), "mnist": (10, 128)}
_CSV_DEFAULTS = (50, 32)
# Small tabular sets give few steps per epoch: adaptive optimizers get a 10x larger
# default step there (parameters move by about lr per step, whatever the gradient scale).
_SMALL_TABULAR = ("breast-cancer", "iris", "diabetes")
_ADAPTIVE = ("adagrad", "rmsprop", "adam", "adamw")


@dataclasses.dataclass
class TrainConfig:
    """Every option of a run (None in a layer means "not given at this layer")."""
    model: str = "mlp"
    data: str = "digits"
    epochs: int = None
    batch_size: int = None
    lr: float = None
    optimizer: str = "adam"
    momentum: float = None
    weight_decay: float = 0.0
    scheduler: str = "none"
    seed: int = 0
    limit: int = None
    data_dir: str = None
    out: str = None
    keep_checkpoints: int = 2
    init_from: str = None
    num_steps: int = None
    embed_size: int = None
    hidden_size: int = None
    num_layers: int = None
    clip_grad: float = None
    num_heads: int = None       # the Transformer models only
    positions: str = None       # transformer-lm: "learned" or "sinusoidal"
    nproc: int = 1              # processes of a data-parallel run (train/distributed.py)
    device: str = "auto"        # cpu, cuda, cuda:N; auto: the GPU when there is one

    def to_dict(self):
        return dataclasses.asdict(self)


_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
_TYPES = {"model": str, "data": str, "epochs": int, "batch_size": int, "lr": float,
          "optimizer": str, "momentum": float, "weight_decay": float, "scheduler": str,
          "seed": int, "limit": int, "data_dir": str, "out": str, "keep_checkpoints": int,
          "init_from": str, "num_steps": int, "embed_size": int, "hidden_size": int,
          "num_layers": int, "clip_grad": float, "num_heads": int, "positions": str,
          "nproc": int, "device": str}


def _coerce(key, value, where):
    kind = _TYPES[key]
    if value is None:
        return None
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is str and isinstance(value, str):
        return value
    raise UsageError(f"{where}: '{key}' must be {'a number' if kind is float else kind.__name__}"
                     f", got {value!r}")


def load_toml(path):
    """Options from a TOML file: top-level keys or a ``[train]`` table; dashes or underscores."""
    import tomllib
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise UsageError(f"config file not found: {path}") from None
    except OSError as err:
        raise UsageError(f"cannot read config file {path}: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f"config file {path} is not valid TOML: {err}") from None
    except UnicodeDecodeError:
        raise UsageError(f"config file {path} is not valid TOML: it is not UTF-8 text "
                         "(a binary file?)") from None
    if isinstance(data.get("train"), dict):
        data = data["train"]
    options = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in _FIELDS:
            known = ", ".join(k.replace("_", "-") for k in _FIELDS)
            raise UsageError(f"unknown option '{key}' in {path}; known options: {known}")
        options[name] = _coerce(name, value, path)
    return options


def _check_choice(value, choices, what, hint=""):
    if value not in choices:
        raise UsageError(f"unknown {what} '{value}'; choose one of: {', '.join(choices)}{hint}")


def resolve(file_options=None, cli_options=None):
    """Merge defaults < config file < CLI flags into a checked, fully specified TrainConfig."""
    merged = {}
    for layer in (file_options or {}, cli_options or {}):
        merged.update({k: v for k, v in layer.items() if v is not None})
    for name, value in merged.items():
        if value == "" and _TYPES.get(name) is str:  # would read as "not given" further on
            raise UsageError(f"--{name.replace('_', '-')} must not be empty")
    cfg = TrainConfig(**merged)
    _check_choice(cfg.model, MODEL_NAMES, "model")
    if cfg.data.startswith(("text:", "seq2seq:")) or cfg.model in TEXT_MODELS:
        from zerograd.train.text_data import resolve_text
        resolve_text(cfg, merged)
        _check_numbers(cfg)
        return cfg
    if not (cfg.data in _DATA_DEFAULTS or cfg.data.startswith("csv:")):
        raise UsageError(f"unknown dataset '{cfg.data}'; choose one of: "
                         f"{', '.join(DATASET_NAMES)}")
    _check_choice(cfg.optimizer, tuple(OPTIMIZERS), "optimizer")
    _check_choice(cfg.scheduler, SCHEDULERS, "scheduler")
    epochs, batch = _DATA_DEFAULTS.get(cfg.data, _CSV_DEFAULTS)
    cfg.epochs = epochs if cfg.epochs is None else cfg.epochs
    cfg.batch_size = batch if cfg.batch_size is None else cfg.batch_size
    if cfg.lr is None:
        small = cfg.data in _SMALL_TABULAR or cfg.data.startswith("csv:")
        cfg.lr = OPTIMIZERS[cfg.optimizer] * (10 if small and cfg.optimizer in _ADAPTIVE else 1)
    if cfg.momentum is None:
        cfg.momentum = 0.9 if cfg.optimizer in ("momentum", "nesterov") else 0.0
    _check_numbers(cfg)
    _check_applies(cfg, merged)
    return cfg


def _check_numbers(cfg):
    for name, low in (("epochs", 1), ("batch_size", 1), ("limit", 1), ("keep_checkpoints", 1),
                      ("num_steps", 1), ("embed_size", 1), ("hidden_size", 1),
                      ("num_layers", 1), ("num_heads", 1), ("nproc", 1)):
        value = getattr(cfg, name)
        if value is not None and value < low:
            raise UsageError(f"--{name.replace('_', '-')} must be at least {low}, got {value}")
    if not -2**63 <= cfg.seed < 2**64:  # torch.manual_seed's range
        raise UsageError(f"--seed must be between -2**63 and 2**64 - 1, got {cfg.seed}")
    # `not x > 0` and friends are also true for NaN; inf is refused on its own, as it
    # passes every comparison and then poisons the run and config.json ("Infinity")
    for name in ("lr", "momentum", "weight_decay"):
        value = getattr(cfg, name)
        if not math.isfinite(value):
            raise UsageError(f"--{name.replace('_', '-')} must be a finite number, got {value}")
    if cfg.clip_grad is not None and not (math.isfinite(cfg.clip_grad) and cfg.clip_grad >= 0):
        raise UsageError(f"--clip-grad must be a finite number >= 0 (0: no clipping), got "
                         f"{cfg.clip_grad}")
    if not cfg.lr > 0:
        raise UsageError(f"--lr must be positive, got {cfg.lr}")
    if not cfg.weight_decay >= 0:
        raise UsageError(f"--weight-decay must be >= 0, got {cfg.weight_decay}")
    if not 0 <= cfg.momentum < 1:
        raise UsageError(f"--momentum must be in [0, 1), got {cfg.momentum}")


# Options that only some choices use; given with another choice they would do nothing.
_MOMENTUM_OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop")
IDX_DATASETS = ("fashion-mnist", "mnist")


def _check_applies(cfg, given):
    for name in TEXT_OPTIONS:
        if given.get(name) is not None:
            raise UsageError(f"--{name.replace('_', '-')} applies to the sequence models "
                             f"({', '.join(TEXT_MODELS)}), not {cfg.model}; drop it")
    if given.get("momentum") is not None and cfg.optimizer not in _MOMENTUM_OPTIMIZERS:
        raise UsageError(f"--momentum applies to the optimizers {', '.join(_MOMENTUM_OPTIMIZERS)}"
                         f", not {cfg.optimizer}; drop it or choose one of those")
    if cfg.data_dir is not None and cfg.data not in IDX_DATASETS:
        raise UsageError(f"--data-dir applies to {' and '.join(IDX_DATASETS)}, not "
                         f"'{cfg.data}'; drop it")
