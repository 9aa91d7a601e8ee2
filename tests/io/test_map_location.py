"""``zerograd.load(map_location=...)``: a checkpoint saved on one device, loaded on another.

The stand-in device (tests/standin_device.py) plays the GPU: tensors remember the device
they were saved from, come back there by default, and go wherever ``map_location`` says,
with torch's forms (a device, a string, a dict, a callable).
"""
import numpy as np
import pytest

import zerograd as zg
from zerograd.backend import _registry

STANDIN = "standin"


def _state():
    model = zg.nn.Linear(3, 2).to(STANDIN)
    opt = zg.optim.Adam(model.parameters())
    model(zg.ones(4, 3, device=STANDIN)).sum().backward()
    opt.step()
    return model, opt, {"model": model.state_dict(), "optimizer": opt.state_dict(),
                        "step": zg.tensor(3.0, device=STANDIN), "cpu": zg.arange(4)}


def _device(t):
    return str(t.device)


def test_tensors_come_back_on_the_device_they_were_saved_from(tmp_path):
    model, _, state = _state()
    zg.save(state, tmp_path / "ckpt.safetensors")
    back = zg.load(tmp_path / "ckpt.safetensors")
    assert _device(back["model"]["weight"]) == STANDIN and _device(back["step"]) == STANDIN
    assert _device(back["cpu"]) == "cpu"
    exp_avg = next(iter(back["optimizer"]["state"].values()))["exp_avg"]
    assert _device(exp_avg) == STANDIN
    np.testing.assert_array_equal(back["model"]["weight"].cpu().numpy(),
                                  model.weight.detach().cpu().numpy())


@pytest.mark.parametrize("where", ["cpu", zg.device("cpu"), {STANDIN: "cpu"},
                                   lambda tensor, location: tensor])
def test_map_location_moves_a_device_checkpoint_to_the_cpu(tmp_path, where):
    model, _, state = _state()
    zg.save(state, tmp_path / "ckpt.safetensors")
    back = zg.load(tmp_path / "ckpt.safetensors", map_location=where)
    assert {_device(t) for t in (back["model"]["weight"], back["model"]["bias"], back["step"],
                                 back["cpu"])} == {"cpu"}
    cpu_model = zg.nn.Linear(3, 2)
    cpu_model.load_state_dict(back["model"])
    np.testing.assert_array_equal(cpu_model.weight.detach().numpy(),
                                  model.weight.detach().cpu().numpy())


def test_a_cpu_checkpoint_goes_back_to_the_device(tmp_path):
    """GPU -> CPU -> GPU: saved on the CPU, loaded with map_location onto the device; a
    CPU state dict also loads into a model on the device (copied across)."""
    model, opt, state = _state()
    zg.save(zg.load(_saved(tmp_path, state), map_location="cpu"), tmp_path / "cpu.safetensors")
    back = zg.load(tmp_path / "cpu.safetensors", map_location=STANDIN)
    assert _device(back["model"]["weight"]) == STANDIN and _device(back["cpu"]) == STANDIN
    fresh = zg.nn.Linear(3, 2).to(STANDIN)
    fresh.load_state_dict(zg.load(tmp_path / "cpu.safetensors")["model"])
    assert _device(fresh.weight) == STANDIN
    np.testing.assert_array_equal(fresh.weight.detach().cpu().numpy(),
                                  model.weight.detach().cpu().numpy())
    fresh_opt = zg.optim.Adam(fresh.parameters())
    fresh_opt.load_state_dict(zg.load(tmp_path / "cpu.safetensors")["optimizer"])
    assert _device(next(iter(fresh_opt.state.values()))["exp_avg"]) == STANDIN


def _saved(tmp_path, state):
    path = tmp_path / "dev.safetensors"
    zg.save(state, path)
    return path


def test_a_callable_sees_each_tensor_and_its_saved_location(tmp_path):
    _, _, state = _state()
    seen = []

    def where(tensor, location):
        seen.append(location)
        return tensor.to(STANDIN) if location == "cpu" else None  # None: as saved

    back = zg.load(_saved(tmp_path, state), map_location=where)
    assert "cpu" in seen and STANDIN in seen
    assert _device(back["cpu"]) == STANDIN and _device(back["step"]) == STANDIN


def test_a_device_missing_here_is_one_line_naming_map_location(tmp_path, monkeypatch):
    _, _, state = _state()
    path = _saved(tmp_path, state)
    monkeypatch.delitem(_registry._BY_DEVICE_TYPE, STANDIN)  # this "machine" lacks it
    with pytest.raises(RuntimeError, match="map_location='cpu'") as err:
        zg.load(path)
    assert "\n" not in str(err.value) and "Attempting to deserialize" in str(err.value)
    assert _device(zg.load(path, map_location="cpu")["step"]) == "cpu"


def test_a_gpu_checkpoint_on_a_machine_without_cuda(tmp_path, monkeypatch):
    """What a CPU-only machine says about a checkpoint saved from cuda:0 (torch's words)."""
    if zg.cuda.is_available():
        pytest.skip("this machine has a GPU")
    monkeypatch.setattr(zg.Tensor, "is_cpu", property(lambda self: False))
    monkeypatch.setattr(zg.Tensor, "device", property(lambda self: zg.device("cuda", 0)))
    zg.save({"w": zg.ones(2)}, tmp_path / "gpu.safetensors")
    monkeypatch.undo()
    with pytest.raises(RuntimeError, match="CUDA device .*cuda.is_available\\(\\) is False"):
        zg.load(tmp_path / "gpu.safetensors")
    with pytest.raises(RuntimeError, match="device 'cuda' is not available"):
        zg.load(tmp_path / "gpu.safetensors", map_location="cuda")
    back = zg.load(tmp_path / "gpu.safetensors", map_location={"cuda:0": "cpu"})
    assert _device(back["w"]) == "cpu" and back["w"].tolist() == [1.0, 1.0]


def test_bad_map_location_is_refused():
    with pytest.raises(TypeError, match="map_location must be"):
        zg.load(b"", map_location=3)
