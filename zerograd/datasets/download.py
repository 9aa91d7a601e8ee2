"""Fetching dataset files over HTTP(S) with MD5 verification, and where to keep them.

Downloads go to a ``.part`` file that is renamed into place only after its checksum
matches, so an interrupted or corrupted download never looks like a good file.
"""
import hashlib
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

__all__ = ["cache_dir", "md5sum", "check_md5", "download_url"]


def cache_dir(name):
    """The user cache folder for dataset ``name``: ``$XDG_CACHE_HOME/zerograd/<name>``
    (``~/.cache/zerograd/<name>`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "zerograd" / name


def md5sum(path, chunk_size=1 << 20):
    """The hex MD5 digest of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def check_md5(path, md5):
    """True when the file exists and its MD5 digest is ``md5``."""
    return Path(path).is_file() and md5sum(path) == md5.lower()


def download_url(url, dest, md5=None, timeout=30):
    """Download ``url`` to ``dest``; verify ``md5`` before the file appears at ``dest``.

    Raises ``ConnectionError`` when the server cannot be reached and ``RuntimeError``
    when the checksum does not match (the partial file is removed in both cases).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as f:
            shutil.copyfileobj(response, f)
    except (urllib.error.URLError, OSError, ValueError) as err:
        part.unlink(missing_ok=True)
        reason = getattr(err, "reason", err)
        raise ConnectionError(f"could not download {url}: {reason}") from None
    if md5 is not None:
        actual = md5sum(part)
        if actual != md5.lower():
            part.unlink(missing_ok=True)
            raise RuntimeError(f"checksum mismatch for {url}: got MD5 {actual}, expected {md5}; "
                               f"the download is corrupt, try again")
    os.replace(part, dest)
    return dest
