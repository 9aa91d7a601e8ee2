"""Crash-safe file replacement: write a temporary file beside the target, then rename.

``os.replace`` is atomic on POSIX and Windows, so a reader sees either the old file or
the complete new one, never a half-written mix. The data is fsync'ed before the rename
(otherwise the rename can reach the disk before the bytes do, and a power cut leaves an
empty file under the final name), and the directory is fsync'ed after it (so the rename
itself survives a crash).

A process killed mid-write leaves its temporary file behind. Each one is named
``.zerograd-tmp-<target>.<pid>.<token>``, so the next write of the same target (and
``remove_stale_temp_files``, which ``zerograd resume`` runs on the whole run folder)
can tell which ones belong to a writer that no longer runs and delete exactly those.
The new file gets the permissions an ordinary ``open(path, "w")`` would give it: the
existing file's mode when replacing one, else 0666 less the user's umask.
"""
import os
import re
import secrets
import stat
import time

__all__ = ["atomic_write_bytes", "atomic_write_text", "remove_stale_temp_files",
           "is_temp_file", "process_running", "TEMP_PREFIX"]

TEMP_PREFIX = ".zerograd-tmp-"
# <target>.<pid>.<token>; names from older versions had no pid: <target>.<random>
_TEMP_NAME = re.compile(r"^" + re.escape(TEMP_PREFIX) + r"(?P<target>.+)\.(?P<pid>\d+)\."
                        r"(?P<token>[0-9a-f]{8})$")
# Temp files without a pid are judged by age: older than this process, so not its own.
_PROCESS_START = time.time()


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


def is_temp_file(name):
    """True for the name of a temporary file that ``atomic_write_bytes`` writes."""
    return os.path.basename(name).startswith(TEMP_PREFIX)


def process_running(pid):
    """Whether process ``pid`` still runs: True, False, or None where that cannot be asked."""
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but belongs to someone else (PermissionError), or unknown
        return True
    return True


def _is_stale(directory, name):
    match = _TEMP_NAME.match(name)
    running = process_running(int(match.group("pid"))) if match else None
    if running is not None:
        return not running
    try:  # no pid to ask about (older name, or Windows): by age
        return os.stat(os.path.join(directory, name)).st_mtime < _PROCESS_START
    except OSError:
        return False


def remove_stale_temp_files(directory, target=None):
    """Delete the temporary files that killed writers left in ``directory`` (only those of
    ``target``, a file name, if given); returns the names removed."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    prefix = TEMP_PREFIX + (target + "." if target is not None else "")
    removed = []
    for name in names:
        if not name.startswith(prefix) or not _is_stale(directory, name):
            continue
        if target is not None:  # "a.json." must not claim the temp files of "a.json.bak"
            match = _TEMP_NAME.match(name)
            if match and match.group("target") != target:
                continue
        try:
            os.unlink(os.path.join(directory, name))
            removed.append(name)
        except OSError:
            pass
    return removed


def _open_temp(path):
    """Create the temporary file for ``path``: exclusive, with an ordinary file's mode."""
    directory, base = os.path.split(os.path.abspath(path))
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)  # replacing: keep the file's permissions
    except OSError:
        mode = None
    while True:
        tmp = os.path.join(directory, f"{TEMP_PREFIX}{base}.{os.getpid()}.{secrets.token_hex(4)}")
        try:
            # 0o666 is filtered by the umask, as for any new file (mkstemp would force 0600)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                         0o666)
        except FileExistsError:
            continue
        if mode is not None:
            os.chmod(tmp, mode)
        return fd, tmp


def atomic_write_bytes(path, data):
    """Replace ``path`` with ``data`` so that a crash at any point leaves the old or new file."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    remove_stale_temp_files(directory, os.path.basename(path))
    fd, tmp = _open_temp(path)
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
