"""zerograd.save / zerograd.load: round trips, the sidecar, clear errors, atomic writes."""
import io
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import zerograd as zg
from zerograd.io import CheckpointError, sidecar_path
from zerograd.io.atomic import TEMP_PREFIX

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _same(a, b):
    assert type(a) is type(b), (a, b)
    if isinstance(a, zg.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.requires_grad == b.requires_grad
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


def _sample():
    w = zg.randn(3, 4)
    return {
        "model": {"fc.weight": w, "fc.bias": zg.zeros(4, dtype=zg.float16),
                  "steps": zg.tensor([1, 2], dtype=zg.int64), "scalar": zg.tensor(3.5),
                  "mask": zg.tensor([True, False]),
                  "view": w.t()},  # a non-contiguous view must be stored correctly
        "optimizer": {"state": {0: {"step": 3, "exp_avg": zg.ones(2, 2)}},
                      "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0]}]},
        "epoch": 7, "best": float("nan"), "inf": float("-inf"), "name": "run", "none": None,
        "blob": b"\x00\x01", "dtype": zg.float64, "empty": {}, "odd": {"__x": [], 5: "int key"},
        "param": zg.nn.Parameter(zg.ones(2)), "grad_leaf": zg.ones(1, requires_grad=True),
    }


def test_round_trip_and_sidecar(tmp_path):
    obj = _sample()
    path = tmp_path / "ck.safetensors"
    zg.save(obj, path)
    back = zg.load(path)
    _same(obj, back)
    assert type(back["param"]).__name__ == "Parameter"
    side = json.loads((tmp_path / "ck.json").read_text())
    assert side["format"] == "zerograd" and side["format_version"] == 1
    assert side["tensors"]["model.fc.weight"] == {"dtype": "float32", "shape": [3, 4]}
    assert side["object"]["epoch"] == 7
    _same(obj, zg.load(tmp_path / "ck.json"))  # the sidecar's path works as well
    assert sidecar_path("a/b.pt") == "a/b.pt.json"


def test_file_is_standard_safetensors(tmp_path):
    from safetensors.numpy import load_file, save_file
    zg.save({"w": zg.arange(6.0).reshape(2, 3)}, tmp_path / "a.safetensors")
    np.testing.assert_array_equal(load_file(str(tmp_path / "a.safetensors"))["w"],
                                  np.arange(6.0).reshape(2, 3))
    save_file({"x": np.ones(3, np.float32)}, str(tmp_path / "plain.safetensors"))
    plain = zg.load(tmp_path / "plain.safetensors")
    assert list(plain) == ["x"] and plain["x"].dtype == zg.float32


def test_file_objects():
    buffer = io.BytesIO()
    zg.save({"a": zg.ones(2)}, buffer)
    buffer.seek(0)
    assert zg.load(buffer)["a"].tolist() == [1.0, 1.0]


def test_unsupported_objects_are_refused(tmp_path):
    with pytest.raises(TypeError, match="never pickles"):
        zg.save({"f": lambda x: x}, tmp_path / "x.safetensors")
    with pytest.raises(ValueError, match="never pickles"):
        zg.save({}, tmp_path / "x.safetensors", pickle_protocol=2)
    assert not os.listdir(tmp_path)


def test_clear_errors(tmp_path):
    path = tmp_path / "ck.safetensors"
    zg.save({"w": zg.randn(50, 50)}, path)
    data = path.read_bytes()
    cases = {
        "missing": (None, "not found"),
        "short": (data[:5], "too short"),
        "truncated": (data[:-100], "truncated"),
        "header": (data[:300], "truncated"),
        "garbage": (b"hello world, this is not a checkpoint" * 4, "not a safetensors"),
        "badjson": (len(b"{oops").to_bytes(8, "little") + b"{oops", "not valid JSON"),
    }
    flipped = bytearray(data)
    flipped[-7] ^= 0xFF
    cases["flipped"] = (bytes(flipped), "checksum")
    for name, (content, message) in cases.items():
        target = tmp_path / f"{name}.safetensors"
        if content is not None:
            target.write_bytes(content)
        with pytest.raises(CheckpointError, match=message):
            zg.load(target)
    with pytest.raises(CheckpointError, match="directory"):
        zg.load(tmp_path)


def test_newer_format_version_is_refused(tmp_path):
    from safetensors.numpy import save_file
    meta = {"zerograd": json.dumps({"format": "zerograd", "format_version": 99, "sha256": "",
                                    "object": {}})}
    save_file({}, str(tmp_path / "new.safetensors"), metadata=meta)
    with pytest.raises(CheckpointError, match="newer"):
        zg.load(tmp_path / "new.safetensors")


_CHILD = r"""
import sys, time
import zerograd as zg
from zerograd.io import atomic
path = sys.argv[1]

def slow_write(handle, data):
    handle.write(data[: len(data) // 2])
    handle.flush()
    print("writing", flush=True)
    time.sleep(60)  # killed here, half-way through the new file
    handle.write(data[len(data) // 2:])

atomic._write_all = slow_write
zg.save({"w": zg.full((1000,), 2.0), "epoch": 2}, path)
"""


def test_kill_during_save_keeps_previous_checkpoint(tmp_path):
    path = tmp_path / "last.safetensors"
    zg.save({"w": zg.full((1000,), 1.0), "epoch": 1}, path)
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(path)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
        time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    back = zg.load(path)
    assert back["epoch"] == 1 and back["w"].tolist() == [1.0] * 1000
    leftovers = [n for n in os.listdir(tmp_path) if n.startswith(TEMP_PREFIX)]
    assert leftovers, "the half-written temporary file should be beside the checkpoint"
    zg.save({"w": zg.zeros(1), "epoch": 3}, path)  # a later save still works
    assert zg.load(path)["epoch"] == 3
