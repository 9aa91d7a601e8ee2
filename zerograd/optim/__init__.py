"""``zerograd.optim``: optimizers that update parameters in place, and LR schedulers."""
from zerograd.optim.optimizer import Optimizer  # noqa: F401
from zerograd.optim.sgd import SGD  # noqa: F401
from zerograd.optim.adagrad import Adagrad  # noqa: F401
from zerograd.optim.rmsprop import RMSprop  # noqa: F401
from zerograd.optim.adam import Adam, AdamW  # noqa: F401
from zerograd.optim.adadelta import Adadelta  # noqa: F401
from zerograd.optim.adamax import Adamax  # noqa: F401
from zerograd.optim.nadam import NAdam  # noqa: F401
from zerograd.optim.lbfgs import LBFGS  # noqa: F401
from zerograd.optim import lr_scheduler  # noqa: F401

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Adadelta", "Adamax",
           "NAdam", "LBFGS", "lr_scheduler"]
