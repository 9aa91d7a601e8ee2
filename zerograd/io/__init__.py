"""``zerograd.io``: saving and loading tensors and state dicts without pickle.

``zerograd.save``/``zerograd.load`` write a safetensors file (the tensors, plus the
structure around them as JSON in its header) and a readable JSON sidecar next to it.
Every write is atomic, so an interrupted save never destroys the previous file, and the
temporary files of killed writers are cleaned up by the next write of the same file.
"""
from zerograd.io.atomic import (  # noqa: F401
    atomic_write_bytes, atomic_write_text, is_temp_file, remove_stale_temp_files)
from zerograd.io.checkpoint import (  # noqa: F401
    FORMAT_VERSION, CheckpointError, load, read_sidecar, save, sidecar_path)
from zerograd.io.sidecar import repair_sidecar  # noqa: F401

__all__ = ["save", "load", "CheckpointError", "FORMAT_VERSION", "sidecar_path", "read_sidecar",
           "repair_sidecar", "atomic_write_bytes", "atomic_write_text",
           "remove_stale_temp_files", "is_temp_file"]
