"""Crash-safe file replacement: write a temporary file beside the target, then rename.

``os.replace`` is atomic on POSIX and Windows, so a reader sees either the old file or
the complete new one, never a half-written mix. The data is fsync'ed before the rename
(otherwise the rename can reach the disk before the bytes do, and a power cut leaves an
empty file under the final name), and the directory is fsync'ed after it (so the rename
itself survives a crash).
"""
import os
import tempfile

__all__ = ["atomic_write_bytes", "atomic_write_text"]

TEMP_PREFIX = ".zerograd-tmp-"


def _write_all(handle, data):
    """Write ``data`` to an open binary file (one place, so tests can interrupt it)."""
    handle.write(data)


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # some platforms (Windows) cannot open directories; rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path, data):
    """Replace ``path`` with ``data`` so that a crash at any point leaves the old or new file."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX + os.path.basename(path) + ".",
                               dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            _write_all(handle, data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


def atomic_write_text(path, text):
    atomic_write_bytes(path, text.encode("utf-8"))
