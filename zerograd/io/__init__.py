"""``zerograd.io``: saving and loading tensors and state dicts without pickle.

``zerograd.save``/``zerograd.load`` write a safetensors file (the tensors, plus the
structure around them as JSON in its header) and a readable JSON sidecar next to it.
Every write is atomic, so an interrupted save never destroys the previous file.
"""
from zerograd.io.atomic import atomic_write_bytes, atomic_write_text  # noqa: F401
from zerograd.io.checkpoint import (  # noqa: F401
    FORMAT_VERSION, CheckpointError, load, read_sidecar, save, sidecar_path)

__all__ = ["save", "load", "CheckpointError", "FORMAT_VERSION", "sidecar_path", "read_sidecar",
           "atomic_write_bytes", "atomic_write_text"]
