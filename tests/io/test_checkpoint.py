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
    zg.save({"w": zg.zeros(1), "epoch": 3}, path)  # a later save still works...
    assert zg.load(path)["epoch"] == 3
    # ...and removes what the killed writer left (issue 12.2: 745 MB after 25 kills)
    assert [n for n in os.listdir(tmp_path) if n.startswith(TEMP_PREFIX)] == []


def test_only_stale_temp_files_of_the_same_target_are_removed(tmp_path):
    from zerograd.io.atomic import remove_stale_temp_files
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    names = {
        "dead": f"{TEMP_PREFIX}a.safetensors.{dead.pid}.0123abcd",
        "running": f"{TEMP_PREFIX}a.safetensors.{os.getpid()}.0123abcd",
        "other target": f"{TEMP_PREFIX}a.safetensors.bak.{dead.pid}.0123abcd",
        "old, no pid": f"{TEMP_PREFIX}a.safetensors.x1y2z3",
        "not ours": "a.safetensors.tmp",
    }
    for name in names.values():
        (tmp_path / name).write_bytes(b"x")
    past = time.time() - 3600
    os.utime(tmp_path / names["old, no pid"], (past, past))
    removed = remove_stale_temp_files(tmp_path, "a.safetensors")
    assert sorted(removed) == sorted([names["dead"], names["old, no pid"]])
    assert sorted(os.listdir(tmp_path)) == sorted(
        [names["running"], names["other target"], names["not ours"]])


def test_a_save_cut_between_its_two_files_never_leaves_a_stale_sidecar(tmp_path, monkeypatch):
    """Issue 12.3: after a kill the .json sidecar described the previous save."""
    from zerograd.io import checkpoint, read_sidecar, repair_sidecar
    path = tmp_path / "ck.safetensors"
    zg.save({"w": zg.ones(3), "epoch": 1}, path)

    def killed(*args):
        raise KeyboardInterrupt  # the process dies after the tensors file is replaced
    monkeypatch.setattr(checkpoint, "atomic_write_text", killed)
    with pytest.raises(KeyboardInterrupt):
        zg.save({"w": zg.zeros(3), "epoch": 2}, path)
    monkeypatch.undo()
    assert zg.load(path)["epoch"] == 2
    assert not (tmp_path / "ck.json").exists()  # no sidecar rather than a wrong one
    assert read_sidecar(path)["object"]["epoch"] == 2  # rebuilt from the checkpoint
    assert repair_sidecar(path) and not repair_sidecar(path)
    side = json.loads((tmp_path / "ck.json").read_text())
    assert side["object"]["epoch"] == 2 and side["tensors"]["w"]["dtype"] == "float32"


def test_a_sidecar_from_another_save_is_detected(tmp_path):
    zg.save({"w": zg.ones(2), "epoch": 1}, tmp_path / "a.safetensors")
    zg.save({"w": zg.ones(2), "epoch": 2}, tmp_path / "b.safetensors")
    other = json.loads((tmp_path / "a.json").read_text())
    other["tensors_file"] = "b.safetensors"  # e.g. copied by hand, or an old save's
    (tmp_path / "b.json").write_text(json.dumps(other))
    assert zg.io.read_sidecar(tmp_path / "b.safetensors")["object"]["epoch"] == 2
    assert zg.io.read_sidecar(tmp_path / "b.json")["object"]["epoch"] == 2


def test_save_leaves_a_json_file_that_is_not_its_sidecar_alone(tmp_path):
    (tmp_path / "model.json").write_text('{"hidden_size": 64}')
    with pytest.warns(UserWarning, match="model.json is not a zerograd sidecar"):
        zg.save({"w": zg.ones(2)}, tmp_path / "model.safetensors")
    assert (tmp_path / "model.json").read_text() == '{"hidden_size": 64}'
    assert zg.load(tmp_path / "model.safetensors")["w"].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_saved_files_get_the_umask_and_keep_an_existing_mode(tmp_path, umask):
    """Issue 12.14: mkstemp made every checkpoint 0600 whatever the umask."""
    old = os.umask(umask)
    try:
        zg.save({"w": zg.ones(2)}, tmp_path / "a.safetensors")
        for name in ("a.safetensors", "a.json"):
            assert os.stat(tmp_path / name).st_mode & 0o777 == 0o666 & ~umask
        os.chmod(tmp_path / "a.safetensors", 0o640)
        zg.save({"w": zg.zeros(2)}, tmp_path / "a.safetensors")  # replacing keeps the mode
        assert os.stat(tmp_path / "a.safetensors").st_mode & 0o777 == 0o640
    finally:
        os.umask(old)


def _torch_files(folder):
    torch = pytest.importorskip("torch")
    state = {"weight": torch.ones(2, 2)}
    torch.save(state, folder / "zip.pt")
    torch.save(state, folder / "legacy.pt", _use_new_zipfile_serialization=False)
    np.save(folder / "array.npy", np.ones(3))
    np.savez(folder / "arrays.npz", a=np.ones(3))


@pytest.mark.parametrize("name, message", [
    ("zip.pt", "is a PyTorch checkpoint"), ("legacy.pt", "is a Python pickle"),
    ("array.npy", "is a NumPy .npy array"), ("arrays.npz", "is a NumPy .npz archive")])
def test_foreign_formats_are_named_and_never_unpickled(tmp_path, name, message):
    """Issue 12.12: a .pt file gave "header length 578712552184433488 is implausible"."""
    _torch_files(tmp_path)
    with pytest.raises(CheckpointError) as raised:
        zg.load(tmp_path / name)
    text = str(raised.value)
    assert message in text and "\n" not in text and "implausible" not in text
    if name.endswith(".pt"):
        assert "never unpickles" in text and "safetensors" in text and "torch.load" in text
