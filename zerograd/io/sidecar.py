"""The readable JSON sidecar of a checkpoint, kept from ever describing the wrong save.

The safetensors file is the checkpoint: its header metadata holds the whole description,
and ``zerograd.load`` reads nothing else. The sidecar (``a.safetensors`` -> ``a.json``)
is a copy for people and tools. Two files cannot be replaced in one atomic step, so:

* ``save`` deletes the old sidecar *before* replacing the tensors file and writes the new
  one after it: a kill in between leaves no sidecar, never one of the previous save;
* the sidecar records ``metadata_sha256``, the SHA-256 of the metadata in the tensors
  file it describes; ``read_sidecar`` checks it against the tensors file's header and,
  when the sidecar is missing or stale, rebuilds the description from the tensors file.
"""
import hashlib
import json
import os
import warnings

from zerograd.io.atomic import atomic_write_text
from zerograd.io.errors import CheckpointError

__all__ = ["sidecar_path", "read_sidecar", "repair_sidecar", "sidecar_content",
           "remove_sidecar", "metadata_digest"]

# safetensors dtype codes -> NumPy dtype names (what the sidecar shows)
_DTYPE_NAMES = {"BOOL": "bool", "U8": "uint8", "I8": "int8", "U16": "uint16", "I16": "int16",
                "U32": "uint32", "I32": "int32", "U64": "uint64", "I64": "int64",
                "F16": "float16", "BF16": "bfloat16", "F32": "float32", "F64": "float64"}


def sidecar_path(path):
    """The JSON sidecar of a checkpoint: ``a.safetensors`` -> ``a.json``, ``a.pt`` ->
    ``a.pt.json``."""
    path = os.fspath(path)
    root, ext = os.path.splitext(path)
    return root + ".json" if ext == ".safetensors" else path + ".json"


def metadata_digest(metadata_json):
    return hashlib.sha256(metadata_json.encode("utf-8")).hexdigest()


def sidecar_content(metadata_json, tensors, tensors_file, saved_by=None):
    """The sidecar for a tensors file whose zerograd metadata is ``metadata_json``;
    ``tensors`` maps each tensor's name to ``(dtype name, shape)``."""
    content = dict(json.loads(metadata_json), tensors_file=tensors_file,
                   metadata_sha256=metadata_digest(metadata_json))
    if saved_by:
        content["saved_by"] = saved_by
    content["tensors"] = {k: {"dtype": d, "shape": list(s)} for k, (d, s) in tensors.items()}
    return content


def _read_header(path):
    """The JSON header of a safetensors file (reads only the header's bytes)."""
    try:
        with open(path, "rb") as handle:
            n = int.from_bytes(handle.read(8), "little")
            if n > 100 * 1024 * 1024:
                raise ValueError("implausible header length")
            header = json.loads(handle.read(n))
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise CheckpointError(f"cannot read the header of {path}: {err}") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} is corrupted: its header is not an object")
    return header


def _from_tensors_file(path, header):
    metadata = (header.get("__metadata__") or {}).get("zerograd")
    if not isinstance(metadata, str):
        raise CheckpointError(f"{path} is not a zerograd checkpoint (no zerograd metadata)")
    tensors = {k: (_DTYPE_NAMES.get(v["dtype"], str(v["dtype"]).lower()), v["shape"])
               for k, v in header.items() if k != "__metadata__"}
    return sidecar_content(metadata, tensors, os.path.basename(path))


def _paths(path):
    """``(sidecar, tensors file or None)`` for a checkpoint path or a sidecar path."""
    path = os.fspath(path)
    if not path.endswith(".json"):
        return sidecar_path(path), path
    try:
        with open(path, encoding="utf-8") as handle:
            name = json.load(handle).get("tensors_file")
    except (OSError, ValueError, AttributeError):
        name = None
    return path, (os.path.join(os.path.dirname(path), name) if name else None)


def _load_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise CheckpointError(f"cannot read checkpoint sidecar {path}: {err}") from None


def _current(side, tensors):
    """``(sidecar dict as it should be, whether the file on disk already says that)``."""
    on_disk = _load_json(side)
    if tensors is None or not os.path.isfile(tensors):
        if on_disk is None:
            raise CheckpointError(f"checkpoint sidecar not found: {side}")
        return on_disk, True  # nothing to check it against
    header = _read_header(tensors)
    metadata = (header.get("__metadata__") or {}).get("zerograd")
    if (isinstance(on_disk, dict) and isinstance(metadata, str)
            and on_disk.get("metadata_sha256") == metadata_digest(metadata)):
        return on_disk, True
    return _from_tensors_file(tensors, header), False


def read_sidecar(path):
    """The checkpoint's description as its sidecar gives it (``path``: the checkpoint or
    the sidecar). A missing or stale sidecar (a save killed between its two files) is
    not trusted: the description is rebuilt from the tensors file."""
    return _current(*_paths(path))[0]


def repair_sidecar(path):
    """Rewrite the sidecar of checkpoint ``path`` if it is missing or stale; True if it did."""
    side, tensors = _paths(path)
    content, fine = _current(side, tensors)
    if fine:
        return False
    atomic_write_text(side, json.dumps(content, indent=1) + "\n")
    return True


def _is_ours(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle).get("format") == "zerograd"
    except (OSError, ValueError, AttributeError):
        return False


def remove_sidecar(path):
    """Delete the sidecar of ``path`` before a save replaces it; False (and a warning) if
    that file is someone else's JSON, which ``save`` then leaves alone."""
    side = sidecar_path(path)
    if not os.path.exists(side):
        return True
    if not _is_ours(side):
        warnings.warn(f"zerograd.save: {side} is not a zerograd sidecar, so it is left as it "
                      "is and no sidecar is written; the checkpoint is complete without one",
                      UserWarning, stacklevel=3)
        return False
    os.unlink(side)
    return True
