"""``zerograd.save`` / ``zerograd.load``: tensors in safetensors, structure in JSON, no pickle.

A saved object (a state dict, or any nesting of dicts, lists and tuples holding tensors,
numbers, strings, bools and None) becomes two files:

* ``PATH``: a standard safetensors file. Its tensors are the object's tensors, named by
  where they sit (``model.fc1.weight``); its header metadata holds the JSON description of
  everything else, a format version and a SHA-256 of the tensor bytes. This file alone is
  the checkpoint: loading reads nothing else, so it can never disagree with itself.
* ``PATH.json`` (or ``NAME.json`` for ``NAME.safetensors``): a readable copy of that
  description plus each tensor's dtype and shape, for people and tools (``cat``, ``jq``).
  It can never describe another save than the tensors file beside it (see
  ``zerograd.io.sidecar``).

Loading parses JSON and raw arrays only, so a checkpoint cannot run code (torch's
pickle-based files can); a PyTorch ``.pt`` file is recognized and refused with the way to
convert it. Both files are replaced atomically (see ``zerograd.io.atomic``).
"""
import base64
import hashlib
import io
import json
import math
import os

import numpy as np

from zerograd import dtypes
from zerograd.backend import is_array, to_host
from zerograd.device import check_device, device, resolve
from zerograd.io.atomic import atomic_write_bytes, atomic_write_text
from zerograd.io.formats import describe_foreign_file
from zerograd.io.errors import CheckpointError
from zerograd.io.sidecar import read_sidecar, remove_sidecar, sidecar_content, sidecar_path
from zerograd.size import Size
from zerograd.tensor import Tensor

__all__ = ["save", "load", "CheckpointError", "FORMAT_VERSION", "sidecar_path", "read_sidecar"]

FORMAT = "zerograd"
FORMAT_VERSION = 1
_HEADER_LIMIT = 100 * 1024 * 1024  # safetensors' own cap on the JSON header


# -- encoding: object -> (JSON-able description, {name: array}) ------------------------------
class _Encoder:
    def __init__(self):
        self.arrays = {}

    def _name(self, path):
        name = ".".join(path) or "tensor"
        base, n = name, 2
        while name in self.arrays:
            name, n = f"{base}#{n}", n + 1
        return name

    def _store(self, array, path):
        if array.dtype.kind == "c":
            raise TypeError(f"zerograd.save cannot store complex arrays (at '{'.'.join(path)}'); "
                            "safetensors has no complex dtype")
        name = self._name(path)
        self.arrays[name] = _contiguous(to_host(array))
        return name

    def encode(self, obj, path=()):
        if isinstance(obj, Tensor):
            entry = {"__tensor__": self._store(obj._data, path)}
            if not obj.is_cpu:  # where load puts it back unless map_location says otherwise
                entry["device"] = str(obj.device)
            if obj.requires_grad:
                entry["requires_grad"] = True
            if type(obj).__name__ == "Parameter":
                entry["parameter"] = True
            return entry
        if is_array(obj) and getattr(obj, "ndim", 0) > 0:
            return {"__ndarray__": self._store(obj, path)}
        if is_array(obj):  # a backend scalar: store as the Python number it holds
            obj = obj.item()
        if obj is None or isinstance(obj, (bool, int, str)):
            return obj
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"__float__": repr(obj)}
        if isinstance(obj, bytes):
            return {"__bytes__": base64.b64encode(obj).decode("ascii")}
        if isinstance(obj, dtypes.dtype):
            return {"__dtype__": obj.name}
        if isinstance(obj, (tuple, Size)):
            return {"__tuple__": [self.encode(v, path + (str(i),)) for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [self.encode(v, path + (str(i),)) for i, v in enumerate(obj)]
        if isinstance(obj, dict):
            plain = all(isinstance(k, str) and not k.startswith("__") for k in obj)
            if plain:
                return {k: self.encode(v, path + (k,)) for k, v in obj.items()}
            return {"__dict__": [[self.encode(k), self.encode(v, path + (str(k),))]
                                 for k, v in obj.items()]}
        where = ".".join(path) or "the top level"
        raise TypeError(
            f"zerograd.save cannot store an object of type {type(obj).__name__} (at {where}). "
            "It stores tensors, arrays, numbers, strings, bools, None, bytes and dicts/lists/"
            "tuples of them, and never pickles; save the object's state_dict() instead.")


def _decode(obj, arrays, place=None):
    if isinstance(obj, list):
        return [_decode(v, arrays, place) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        array = np.asarray(arrays[obj["__tensor__"]])
        if place is not None:
            array = place(array, obj.get("device", "cpu"))
        if obj.get("parameter"):
            from zerograd.nn.parameter import Parameter
            return Parameter(Tensor._make(array), requires_grad=obj.get("requires_grad", False))
        return Tensor._make(array, bool(obj.get("requires_grad", False)))
    if "__ndarray__" in obj:
        return np.asarray(arrays[obj["__ndarray__"]])
    if "__float__" in obj:
        return float(obj["__float__"])
    if "__bytes__" in obj:
        return base64.b64decode(obj["__bytes__"])
    if "__dtype__" in obj:
        return dtypes.as_dtype(obj["__dtype__"])
    if "__tuple__" in obj:
        return tuple(_decode(v, arrays, place) for v in obj["__tuple__"])
    if "__dict__" in obj:
        return {_hashable(_decode(k, arrays)): _decode(v, arrays, place)
                for k, v in obj["__dict__"]}
    return {k: _decode(v, arrays, place) for k, v in obj.items()}


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key


def _contiguous(array):
    # A view (transpose, slice) has no contiguous bytes of its own: copy it out. (Not
    # ascontiguousarray, which turns 0-d arrays into 1-d ones.)
    return array if array.flags.c_contiguous else array.copy(order="C")


def _digest(arrays):
    h = hashlib.sha256()
    for name in sorted(arrays):
        h.update(name.encode())
        h.update(memoryview(_contiguous(arrays[name])).cast("B"))
    return h.hexdigest()


# -- save ---------------------------------------------------------------------------------------
def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True):
    """Save ``obj`` (e.g. ``model.state_dict()``) to ``f``: a path, or a binary file object.

    Writing to a path is atomic: a crash or kill during ``save`` leaves any previous file at
    that path intact and loadable. A JSON sidecar (see ``sidecar_path``) is written beside it.
    ``pickle_module`` and ``pickle_protocol`` exist for torch compatibility and must be None:
    zerograd never pickles.
    """
    if pickle_module is not None or pickle_protocol is not None:
        raise ValueError("zerograd.save never pickles; drop pickle_module/pickle_protocol")
    from safetensors.numpy import save as st_save
    encoder = _Encoder()
    description = encoder.encode(obj)
    arrays = encoder.arrays
    header = {"format": FORMAT, "format_version": FORMAT_VERSION,
              "sha256": _digest(arrays), "object": description}
    header_json = json.dumps(header, separators=(",", ":"))
    data = st_save(arrays, metadata={"zerograd": header_json})
    if hasattr(f, "write"):
        f.write(data)
        return
    path = os.fspath(f)
    # The old sidecar goes first: a kill before the new one is written leaves none, never
    # one that describes the previous save.
    write_sidecar = remove_sidecar(path)
    atomic_write_bytes(path, data)
    if write_sidecar:
        sidecar = sidecar_content(header_json, {k: (str(a.dtype), a.shape)
                                                for k, a in arrays.items()},
                                  os.path.basename(path), saved_by=_version())
        atomic_write_text(sidecar_path(path), json.dumps(sidecar, indent=1) + "\n")


def _version():
    from zerograd import __version__
    return f"zerograd {__version__}"


# -- load ---------------------------------------------------------------------------------------
def _read(f):
    if hasattr(f, "read"):
        return f.read(), getattr(f, "name", "<file object>")
    path = os.fspath(f)
    if path.endswith(".json") and not _looks_like_safetensors(path):
        path = _tensors_file_of_sidecar(path)
    try:
        with open(path, "rb") as handle:
            return handle.read(), path
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint not found: {path}") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path} is a directory, not a checkpoint file") from None
    except OSError as err:
        raise CheckpointError(f"cannot read checkpoint {path}: {err.strerror}") from None


def _looks_like_safetensors(path):
    try:
        with open(path, "rb") as handle:
            return handle.read(1) not in (b"{", b"")
    except OSError:
        return False


def _tensors_file_of_sidecar(path):
    side = read_sidecar(path)
    name = side.get("tensors_file") if isinstance(side, dict) else None
    if not name:
        raise CheckpointError(f"{path} is not a zerograd checkpoint sidecar (no tensors_file)")
    return os.path.join(os.path.dirname(path), name)


def _parse_header(data, where):
    size = len(data)
    if size < 8:
        raise CheckpointError(f"{where} is truncated or not a checkpoint: {size} bytes, too "
                              "short for a safetensors header")
    foreign = describe_foreign_file(data, where)
    if foreign:
        raise CheckpointError(foreign)
    n = int.from_bytes(data[:8], "little")
    if n > _HEADER_LIMIT:
        raise CheckpointError(f"{where} is not a safetensors checkpoint (header length {n} "
                              "is implausible); the file is corrupted or of another format")
    if 8 + n > size:
        raise CheckpointError(f"{where} is truncated: the header needs {8 + n} bytes but the "
                              f"file has {size}")
    try:
        header = json.loads(bytes(data[8:8 + n]))
    except (ValueError, UnicodeDecodeError):
        raise CheckpointError(f"{where} is corrupted: its safetensors header is not valid "
                              "JSON") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{where} is corrupted: its safetensors header is not an object")
    end = 0
    for name, info in header.items():
        if name != "__metadata__":
            try:
                end = max(end, int(info["data_offsets"][1]))
            except (TypeError, KeyError, IndexError, ValueError):
                raise CheckpointError(f"{where} is corrupted: bad entry for tensor "
                                      f"'{name}' in the header") from None
    if 8 + n + end > size:
        raise CheckpointError(f"{where} is truncated: expected {8 + n + end} bytes, found "
                              f"{size}. If a save was interrupted, use an older checkpoint.")
    return header.get("__metadata__") or {}


def load(f, map_location=None, pickle_module=None, weights_only=True, mmap=None, **kwargs):
    """Load what ``zerograd.save`` wrote (or any plain safetensors file, as a dict of tensors).

    Never executes code from the file. Raises ``CheckpointError`` with one clear sentence
    for missing, truncated, corrupted or too-new files. ``weights_only`` and ``mmap`` are
    accepted for torch compatibility.

    ``map_location`` is torch's: None puts each tensor back on the device it was saved
    from; a device (``"cpu"``, ``"cuda:0"``) puts them all there; a dict maps saved
    devices to new ones (``{"cuda:0": "cpu"}``); a callable ``f(tensor, location)``
    receives each tensor (on the CPU) and its saved location and returns the tensor to
    use (None: the saved location).
    """
    place = _placement(map_location)
    from safetensors import SafetensorError
    from safetensors.numpy import load as st_load
    data, where = _read(f)
    meta = _parse_header(data, where)
    try:
        arrays = st_load(data)
    except SafetensorError as err:
        raise CheckpointError(f"{where} is corrupted: {err}") from None
    if "zerograd" not in meta:  # a safetensors file from elsewhere: a flat dict of tensors
        return {k: Tensor._make(np.asarray(v)) for k, v in arrays.items()}
    try:
        header = json.loads(meta["zerograd"])
        version = int(header["format_version"])
        description = header["object"]
    except (ValueError, KeyError, TypeError):
        raise CheckpointError(f"{where} is corrupted: its zerograd metadata is "
                              "unreadable") from None
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{where} uses checkpoint format {version}, newer than this "
                              f"zerograd understands ({FORMAT_VERSION}); upgrade zerograd")
    if header.get("sha256") != _digest(arrays):
        raise CheckpointError(f"{where} is corrupted: the tensor data does not match the "
                              "checksum stored when it was saved")
    try:
        return _decode(description, arrays, place)
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{where} is corrupted: bad object description ({err})") from None


def _placement(map_location):
    """``place(array, saved_device) -> array`` for ``load``'s ``map_location``."""
    if map_location is None or isinstance(map_location, (dict, str, device)):
        fixed = map_location if isinstance(map_location, (str, device)) else None
        table = {str(device(k)): v for k, v in map_location.items()} \
            if isinstance(map_location, dict) else {}
        if fixed is not None:
            check_device(fixed)
        for target in table.values():
            check_device(target)

        def place(array, saved):
            target = fixed if fixed is not None else table.get(saved, saved)
            return _on_device(array, target, saved, map_location is None)
        return place
    if callable(map_location):
        def place(array, saved):
            moved = map_location(Tensor._make(array), saved)
            if moved is None:
                return _on_device(array, saved, saved, True)
            if not isinstance(moved, Tensor):
                raise TypeError(f"map_location returned {type(moved).__name__}; it must "
                                "return a tensor or None")
            return moved._data
        return place
    raise TypeError(f"map_location must be None, a device, a str, a dict or a callable, "
                    f"got {type(map_location).__name__}")


def _on_device(array, target, saved, as_saved):
    if str(target) == "cpu":
        return array
    try:
        backend, index = resolve(target)
    except RuntimeError:
        if not as_saved:
            raise  # the device named in map_location: its own one-line error
        kind = str(saved).partition(":")[0]
        raise RuntimeError(
            f"Attempting to deserialize object on a {kind.upper()} device ({saved}) but "
            f"zerograd.{kind}.is_available() is False. If you are running on a CPU-only "
            "machine, please use zerograd.load with map_location='cpu' to map your tensors "
            "to the CPU.") from None
    return backend.from_host(array, index)


def dumps(obj):
    """The bytes ``save`` would write (handy for tests and in-memory copies)."""
    buffer = io.BytesIO()
    save(obj, buffer)
    return buffer.getvalue()
