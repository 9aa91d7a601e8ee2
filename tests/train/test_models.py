"""The model zoo: every model against the same architecture built with torch.nn.

Each zoo file imports ``nn`` (and ``cat``/``relu``) from zerograd; executing the same
source with torch's instead builds the torch twin of the model. With the weights copied
across, both must agree on outputs and on every parameter's gradient.
"""
import inspect
import re

import numpy as np
import pytest
import torch

import zerograd as zg
from zerograd import models
from tests.oracle import assert_close

ZOO = ["linear", "logistic", "softmax", "mlp", "lenet", "lenet-bn", "alexnet-small",
       "vgg-small", "nin", "googlenet-small", "resnet18"]


def _torch_twin(name, in_shape, num_classes):
    module = models.MODELS[name][0]
    source = inspect.getsource(module)
    source = source.replace("from zerograd import nn", "from torch import nn")
    source = re.sub(r"from zerograd\.ops import (\w+)", r"from torch import \1", source)
    namespace = {"__name__": f"torch_twin_{module.__name__}"}
    exec(compile(source, module.__file__, "exec"), namespace)
    return namespace["build"](name, in_shape, 1 if num_classes is None else num_classes)


def _copy_weights(zg_model, torch_model):
    state = {k: torch.from_numpy(np.array(v.numpy())) for k, v in zg_model.state_dict().items()}
    torch_model.load_state_dict(state)


@pytest.mark.parametrize("name", ZOO)
def test_zoo_model_matches_torch_twin(name):
    num_classes = None if name == "linear" else 2 if name == "logistic" else 10
    zg.manual_seed(0)
    model = models.get_model(name, (1, 28, 28), num_classes)
    twin = _torch_twin(name, (1, 28, 28), num_classes)
    zg_params = dict(model.named_parameters())
    assert list(zg_params) == [n for n, _ in twin.named_parameters()]
    assert [tuple(p.shape) for p in zg_params.values()] == \
        [tuple(p.shape) for p in twin.parameters()]
    _copy_weights(model, twin)
    model.eval()
    twin.eval()  # eval: dropout off, batch norm on running statistics, as in inference
    x = np.random.default_rng(1).standard_normal((3, 1, 28, 28)).astype(np.float32)
    out, ref = model(zg.tensor(x)), twin(torch.tensor(x))
    assert_close(out, ref, rtol=1e-4, atol=2e-5, what=f"{name} output")
    weights = np.random.default_rng(2).standard_normal(tuple(ref.shape)).astype(np.float32)
    (out * zg.tensor(weights)).sum().backward()
    (ref * torch.tensor(weights)).sum().backward()
    for (pname, p), q in zip(zg_params.items(), twin.parameters()):
        assert_close(p.grad, q.grad, rtol=2e-3, atol=2e-5, what=f"{name} grad {pname}")


def test_known_sizes_and_train_mode():
    # d2l's LeNet has 61,706 parameters; d2l's small ResNet-18 about 11.2 million.
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(models.get_model("lenet", (1, 28, 28), 10)) == 61706
    assert count(models.get_model("resnet18", (1, 28, 28), 10)) == 11175818
    model = models.get_model("lenet-bn", (1, 28, 28), 10)
    out = model(zg.randn(4, 1, 28, 28))  # train mode: batch statistics
    assert tuple(out.shape) == (4, 10)
    assert models.get_model("mlp", (1, 8, 8), None)(zg.randn(2, 1, 8, 8)).shape == (2, 1)


@pytest.mark.parametrize("name, in_shape, classes, message", [
    ("lenet", (4,), 3, "needs image input"),
    ("resnet18", (1, 4, 4), 10, "at least 8x8"),
    ("linear", (4,), 3, "linear regression"),
    ("logistic", (4,), 3, "binary logistic"),
    ("softmax", (4,), None, "is a classifier"),
    ("transformer", (4,), 3, "unknown model"),
])
def test_model_errors(name, in_shape, classes, message):
    with pytest.raises(ValueError, match=message):
        models.get_model(name, in_shape, classes)
